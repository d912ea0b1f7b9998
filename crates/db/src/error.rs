//! Errors of the persistence layer. Each variant's message is written for the operator who
//! reads it at startup: it says what went wrong and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "cannot run pip ({command}): {source}. The embedded database is installed from PyPI with pip; \
         install Python 3 with pip (Debian: apt-get install python3-pip) or set DATABASE_URL to an existing \
         PostgreSQL >= 15 with pgvector"
    )]
    PipMissing {
        command: String,
        source: std::io::Error,
    },
    #[error(
        "pip could not download {package} (exit status {status}); is the package registry reachable? \
         pip said:\n{stderr}"
    )]
    PipFailed {
        package: String,
        status: String,
        stderr: String,
    },
    #[error("the downloaded package {0} is not a usable PostgreSQL distribution: {1}")]
    BadPackage(String, String),
    #[error("{action} failed ({program}): {detail}")]
    Command {
        action: &'static str,
        program: String,
        detail: String,
    },
    #[error("cannot prepare the embedded database directory {path}: {detail}")]
    Directory { path: PathBuf, detail: String },
    #[error("{0}")]
    OsUser(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error(
        "the PostgreSQL server at {url} is version {found}; Modernize needs PostgreSQL 15 or newer"
    )]
    ServerTooOld { url: String, found: String },
    #[error(
        "the PostgreSQL server at {url} does not have the pgvector extension (\"vector\") available; \
         install pgvector on it (https://github.com/pgvector/pgvector) or unset DATABASE_URL to use the embedded database"
    )]
    PgvectorMissing { url: String },
    #[error("cannot connect to the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error(
        "cannot connect as the runtime role {role} at {url}: {source}. Run `modernize db migrate` first; on an \
         external server set database.app_url (MODERNIZE_DATABASE__APP_URL) or database.app_password"
    )]
    ConnectRuntime {
        role: String,
        url: String,
        source: sqlx::Error,
    },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl DbError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DbError {
        let path = path.into();
        move |source| DbError::Io { path, source }
    }
}
