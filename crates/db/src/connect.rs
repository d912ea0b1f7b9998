//! Where the database is and how we connect to it.
//!
//! Two pools: the owner's (migrations, partition maintenance, administration commands) and the
//! runtime role's (everything a request or job does), so row-level security always applies to
//! application work.

use crate::RUNTIME_ROLE;
use crate::embedded::{EmbeddedConfig, EmbeddedPostgres};
use crate::error::DbError;
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// Database configuration (section `[database]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Owner connection URL (`DATABASE_URL`). Without it, the embedded database is used.
    pub url: Option<String>,
    /// Connection URL of the runtime role; derived from `url` when absent.
    pub app_url: Option<String>,
    /// Password given to the runtime role by `db migrate` on an external server.
    pub app_password: Option<String>,
    /// Size of the runtime role's pool.
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            app_url: None,
            app_password: None,
            max_connections: 16,
        }
    }
}

/// The database in use: embedded (started on demand) or external.
#[derive(Debug, Clone)]
pub enum DatabaseSource {
    Embedded(EmbeddedPostgres),
    External { url: String },
}

impl DatabaseSource {
    pub fn from_settings(settings: &DatabaseSettings, embedded: EmbeddedConfig) -> Self {
        match &settings.url {
            Some(url) if !url.trim().is_empty() => DatabaseSource::External { url: url.clone() },
            _ => DatabaseSource::Embedded(EmbeddedPostgres::new(embedded)),
        }
    }

    /// The owner URL, starting the embedded server first if needed.
    pub async fn ensure_available(&self) -> Result<String, DbError> {
        match self {
            DatabaseSource::Embedded(embedded) => {
                let handle = embedded.clone();
                tokio::task::spawn_blocking(move || handle.ensure_running())
                    .await
                    .map_err(|e| DbError::OsUser(format!("embedded start task failed: {e}")))??;
                Ok(embedded.config().owner_url())
            }
            DatabaseSource::External { url } => Ok(url.clone()),
        }
    }

    /// URL of the runtime role.
    pub fn app_url(&self, settings: &DatabaseSettings) -> Result<String, DbError> {
        match (self, &settings.app_url) {
            (_, Some(url)) => Ok(url.clone()),
            (DatabaseSource::Embedded(e), None) => {
                Ok(e.config().url_for(RUNTIME_ROLE, &e.config().database))
            }
            (DatabaseSource::External { url }, None) => {
                with_user(url, RUNTIME_ROLE, settings.app_password.as_deref())
            }
        }
    }
}

/// `url` with its user (and password) replaced. Works on socket URLs such as
/// `postgresql://owner@/db?host=/run/pg`, which have no host and which general URL parsers
/// refuse to give a user.
pub fn with_user(url: &str, user: &str, password: Option<&str>) -> Result<String, DbError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| DbError::BadUrl(redact(url)))?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let encode =
        |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("user=") && !p.starts_with("password="))
        .collect();
    if host.is_empty() {
        // Socket URL: the user travels as a parameter.
        let user_param = format!("user={}", encode(user));
        let password_param = password.map(|p| format!("password={}", encode(p)));
        params.push(&user_param);
        if let Some(p) = &password_param {
            params.push(p);
        }
        return Ok(format!("{scheme}://{path}?{}", params.join("&")));
    }
    let userinfo = match password {
        Some(password) => format!("{}:{}", encode(user), encode(password)),
        None => encode(user),
    };
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    Ok(format!("{scheme}://{userinfo}@{host}{path}{query}"))
}

/// Both pools, connected and checked.
#[derive(Debug, Clone)]
pub struct Database {
    /// Owner of the schema: migrations and maintenance only.
    pub owner: PgPool,
    /// The runtime role: subject to row-level security.
    pub app: PgPool,
}

impl Database {
    /// Connects the owner pool, checks the server (version, pgvector) and prepares the runtime
    /// pool, which connects lazily (the role exists only after the first migration).
    pub async fn open(
        source: &DatabaseSource,
        settings: &DatabaseSettings,
    ) -> Result<Self, DbError> {
        let owner_url = source.ensure_available().await?;
        let owner = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options(&owner_url)?)
            .await
            .map_err(|source| DbError::Connect {
                url: redact(&owner_url),
                source,
            })?;
        check_server(&owner, &owner_url).await?;
        let app_url = source.app_url(settings)?;
        let app = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(options(&app_url)?);
        Ok(Database { owner, app })
    }

    /// Fails unless the runtime pool connects as a role that is neither superuser nor exempt
    /// from row-level security. Call after migrating.
    pub async fn verify_runtime_role(&self, app_url: &str) -> Result<(), DbError> {
        let row: (String, bool, bool) =
            sqlx::query_as("SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&self.app)
                .await
                .map_err(|source| DbError::ConnectRuntime {
                    role: RUNTIME_ROLE.into(),
                    url: redact(app_url),
                    source,
                })?;
        if row.1 || row.2 {
            return Err(DbError::BadUrl(format!(
                "the runtime connection logs in as {}, which is a superuser or has BYPASSRLS; \
                 row-level security would not apply",
                row.0
            )));
        }
        Ok(())
    }
}

/// Parses a URL into connection options with statement logging tuned down.
pub fn options(url: &str) -> Result<PgConnectOptions, DbError> {
    let opts = PgConnectOptions::from_str(url)
        .map_err(|e| DbError::BadUrl(format!("{}: {e}", redact(url))))?;
    Ok(opts
        // An import keeps its identity-key index in a temporary table; the default 8 MB of
        // session buffers would spill it to temporary files. Allocated only when used.
        .options([("temp_buffers", "256MB")])
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(2))
        .log_statements(log::LevelFilter::Trace))
}

/// Refuses servers older than 15 and servers without pgvector.
async fn check_server(pool: &PgPool, url: &str) -> Result<(), DbError> {
    let (num, text, vector): (String, String, bool) = sqlx::query_as(
        "SELECT current_setting('server_version_num'), current_setting('server_version'), \
                EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector')",
    )
    .fetch_one(pool)
    .await?;
    check_server_facts(url, &num, &text, vector)
}

/// The decision of `check_server`, on the facts it reads.
pub fn check_server_facts(
    url: &str,
    version_num: &str,
    version: &str,
    has_vector: bool,
) -> Result<(), DbError> {
    if version_num.parse::<u32>().unwrap_or(0) < 150000 {
        return Err(DbError::ServerTooOld {
            url: redact(url),
            found: version.to_string(),
        });
    }
    if !has_vector {
        return Err(DbError::PgvectorMissing { url: redact(url) });
    }
    Ok(())
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable URL>".into();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{user}:***@{host}")
        }
        _ => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("password=") {
                        "password=***".to_string()
                    } else {
                        p.to_string()
                    }
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_user_of_socket_and_tcp_urls() {
        assert_eq!(
            with_user(
                "postgresql:///db?host=%2Frun&port=5432&user=modernize",
                "app",
                None
            )
            .unwrap(),
            "postgresql:///db?host=%2Frun&port=5432&user=app"
        );
        assert_eq!(
            with_user(
                "postgres://owner:secret@db.example:5433/prod",
                "app",
                Some("p@ss word")
            )
            .unwrap(),
            "postgres://app:p%40ss+word@db.example:5433/prod"
        );
        assert_eq!(
            with_user("postgres://localhost/prod", "app", None).unwrap(),
            "postgres://app@localhost/prod"
        );
        assert!(with_user("not a url", "app", None).is_err());
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            redact("postgresql:///db?host=%2Frun&user=u&password=pw"),
            "postgresql:///db?host=%2Frun&user=u&password=***"
        );
        assert_eq!(
            redact("postgresql:///db?host=%2Frun&user=u"),
            "postgresql:///db?host=%2Frun&user=u"
        );
    }

    #[test]
    fn refuses_old_servers_and_servers_without_pgvector() {
        let old = check_server_facts("postgres://h/db", "140011", "14.11", true).unwrap_err();
        assert!(old.to_string().contains("version 14.11"), "{old}");
        assert!(old.to_string().contains("PostgreSQL 15 or newer"), "{old}");
        let novector = check_server_facts("postgres://h/db", "160002", "16.2", false).unwrap_err();
        assert!(novector.to_string().contains("pgvector"), "{novector}");
        assert!(check_server_facts("postgres://h/db", "150000", "15.0", true).is_ok());
    }
}
