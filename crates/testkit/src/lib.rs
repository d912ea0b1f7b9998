//! Test support: one embedded PostgreSQL for the whole test run (started on first use, shared by
//! every test process through the embedded server's lock), and a fresh database per test,
//! copied from a template database that holds the migrated schema.

pub mod process;

use modernize_db::embedded::{EmbeddedConfig, EmbeddedPostgres, SUPERUSER};
use modernize_db::{Database, RUNTIME_ROLE};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, PgPool};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The embedded server configuration used by tests.
///
/// `MODERNIZE_TEST_HOME` chooses the home directory; by default it is `/var/tmp/modernize-test`
/// for root (the unprivileged server user must be able to reach it) and `target/modernize-test`
/// otherwise. The PostgreSQL installation cache is the normal one, shared with the product.
pub fn test_config() -> EmbeddedConfig {
    let mut cfg = EmbeddedConfig::default_for_current_user();
    cfg.home = match std::env::var_os("MODERNIZE_TEST_HOME") {
        Some(home) => PathBuf::from(home),
        None if nix::unistd::geteuid().is_root() => PathBuf::from("/var/tmp/modernize-test"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/modernize-test"),
    };
    cfg.database = "postgres".into();
    cfg.ephemeral = true;
    cfg
}

struct Shared {
    config: EmbeddedConfig,
    template: String,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Result<Shared, String>> = OnceLock::new();
    let result = SHARED.get_or_init(|| {
        // Runs on its own thread with its own runtime: callers are usually inside a runtime.
        std::thread::spawn(|| -> Result<Shared, String> {
            let config = test_config();
            EmbeddedPostgres::new(config.clone())
                .ensure_running()
                .map_err(|e| e.to_string())?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let template = runtime
                .block_on(ensure_template(&config))
                .map_err(|e| e.to_string())?;
            Ok(Shared { config, template })
        })
        .join()
        .unwrap_or_else(|_| Err("test database setup panicked".into()))
    });
    match result {
        Ok(shared) => shared,
        Err(message) => panic!("cannot set up the test database: {message}"),
    }
}

/// Name of the template database for the current migrations: a new set of migrations gets a
/// new template, so a stale schema is never reused.
fn template_name() -> String {
    let mut hasher = Sha256::new();
    for migration in modernize_db::migrate::MIGRATOR.iter() {
        hasher.update(migration.version.to_le_bytes());
        hasher.update(&*migration.checksum);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("tmpl_{hex}")
}

async fn ensure_template(cfg: &EmbeddedConfig) -> Result<String, Box<dyn std::error::Error>> {
    let name = template_name();
    let admin_url = cfg.url_for(SUPERUSER, "postgres");
    let mut admin = PgConnection::connect(&admin_url).await?;
    // Several test processes may get here at once; a session-level advisory lock serialises them.
    sqlx::query("SELECT pg_advisory_lock(727274)")
        .execute(&mut admin)
        .await?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        let building = format!("{name}_build");
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await?;
        let pool = PgPool::connect(&cfg.url_for(SUPERUSER, &building)).await?;
        modernize_db::migrate::migrate(&pool, None).await?;
        pool.close().await;
        execute_retrying(
            &mut admin,
            &format!(
                "ALTER DATABASE {building} RENAME TO {name}; ALTER DATABASE {name} IS_TEMPLATE true"
            ),
        )
        .await?;
    }
    sqlx::query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut admin)
        .await?;
    Ok(name)
}

/// Executes `sql`, again while PostgreSQL answers "database is being accessed by other users"
/// (a connection that is just closing), for up to ten seconds.
async fn execute_retrying(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    let mut attempts = 0;
    loop {
        match sqlx::raw_sql(sql).execute(&mut *conn).await {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("55006") && attempts < 50 =>
            {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other.map(|_| ()),
        }
    }
}

/// A database of its own for one test. Dropped (with its connections) when the value is.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    /// The schema owner (superuser in the embedded server): bypasses row-level security.
    pub owner: PgPool,
    /// The runtime role: what the application uses, subject to row-level security.
    pub app: PgPool,
}

impl TestDb {
    /// A fresh database with every migration applied.
    pub async fn new() -> TestDb {
        let shared = shared();
        Self::create(Some(&shared.template)).await
    }

    /// A fresh, empty database (no schema at all).
    pub async fn empty() -> TestDb {
        Self::create(None).await
    }

    async fn create(template: Option<&str>) -> TestDb {
        let shared = shared();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let template = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        let mut admin = PgConnection::connect(&shared.config.url_for(SUPERUSER, "postgres"))
            .await
            .expect("connect to the test server");
        let create = format!("CREATE DATABASE {name}{template}");
        execute_retrying(&mut admin, &create)
            .await
            .expect("create the test database");
        let owner = PgPool::connect(&shared.config.url_for(SUPERUSER, &name))
            .await
            .expect("connect as owner");
        let app = PgPool::connect_lazy(&shared.config.url_for(RUNTIME_ROLE, &name))
            .expect("runtime role URL");
        TestDb { name, owner, app }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Owner URL (libpq form), e.g. for `DATABASE_URL` of a spawned binary.
    pub fn owner_url(&self) -> String {
        shared().config.url_for(SUPERUSER, &self.name)
    }

    /// Runtime role URL.
    pub fn app_url(&self) -> String {
        shared().config.url_for(RUNTIME_ROLE, &self.name)
    }

    /// Both pools as the application holds them.
    pub fn database(&self) -> Database {
        Database {
            owner: self.owner.clone(),
            app: self.app.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = shared().config.url_for(SUPERUSER, "postgres");
        // Drop runs inside the test's runtime, which may be shutting down: use a thread of our own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&url).await {
                    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}
