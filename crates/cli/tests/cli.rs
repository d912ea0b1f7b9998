//! The `modernize` binary end to end: configuration errors, `db` subcommands against a real
//! database, and `serve` / `worker` processes started, probed and stopped with SIGTERM.

use modernize_testkit::TestDb;
use modernize_testkit::process::ChildGuard;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn modernize() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modernize"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("MODERNIZE_CONFIG")
        .env("MODERNIZE_LOG__FILTER", "warn")
        .current_dir(std::env::temp_dir());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn invalid_configuration_stops_with_a_clear_message_and_status_2() {
    let out = run(modernize()
        .env("MODERNIZE_SERVER__BIND", "not-an-address")
        .args(["db", "status"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("server.bind"), "{}", stderr(&out));

    let out = run(modernize()
        .env("MODERNIZE_EMBEDDED__PORT", "seventy")
        .args(["db", "status"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).to_lowercase().contains("port"),
        "{}",
        stderr(&out)
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("modernize.toml");
    std::fs::write(
        &file,
        "[server]\nbind = \"127.0.0.1:0\"\nspeed = \"fast\"\n",
    )
    .unwrap();
    let out = run(modernize()
        .arg("--config")
        .arg(&file)
        .args(["db", "status"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("speed"),
        "unknown keys are named: {}",
        stderr(&out)
    );

    let out = run(modernize().args(["--config", "/nonexistent/modernize.toml", "db", "status"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    let out = run(modernize()
        .env("DATABASE_URL", "mysql://x/y")
        .args(["db", "status"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("DATABASE_URL"), "{}", stderr(&out));
}

#[test]
fn unreachable_database_url_is_a_clear_error() {
    let out = run(modernize()
        .env(
            "DATABASE_URL",
            "postgresql:///nowhere?host=%2Fnonexistent-dir&user=x",
        )
        .args(["db", "migrate"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot connect to the database"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn db_migrate_applies_everything_once_and_status_reports_it() {
    let db = TestDb::empty().await;
    let url = db.owner_url();
    let out = run(modernize()
        .env("DATABASE_URL", &url)
        .args(["db", "migrate"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let total = modernize_db::migrate::MIGRATOR.iter().count();
    assert!(
        stdout(&out).starts_with(&format!("{total} migration(s) applied")),
        "{}",
        stdout(&out)
    );
    let out = run(modernize()
        .env("DATABASE_URL", &url)
        .args(["db", "migrate"]));
    assert!(
        stdout(&out).starts_with("0 migration(s) applied"),
        "{}",
        stdout(&out)
    );

    let out = run(modernize()
        .env("DATABASE_URL", &url)
        .args(["db", "status", "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["database"], "external");
    assert!(status["server_version"].as_str().unwrap().starts_with("18"));
    assert!(
        status["pgvector_version"]
            .as_str()
            .unwrap()
            .starts_with("0.8")
    );
    let migrations = status["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), total);
    assert!(
        migrations
            .iter()
            .all(|m| m["applied"] == true && m["checksum_ok"] == true)
    );
    let partitions = status["partitions"].as_array().unwrap();
    for table in ["agent_task_history", "llm_usage_log", "security_audit_logs"] {
        assert!(
            partitions.iter().filter(|p| p["parent"] == table).count() > 2,
            "{table} has partitions ahead"
        );
    }

    let out = run(modernize().env("DATABASE_URL", &url).args(["db", "status"]));
    assert!(
        stdout(&out).contains(&format!("migrations: {total} applied, 0 pending")),
        "{}",
        stdout(&out)
    );
}

#[tokio::test]
async fn db_prune_applies_the_configured_retention() {
    let db = TestDb::new().await;
    sqlx::query(
        "INSERT INTO migration.jobs (kind, status, finished_at) \
         VALUES ('old', 'succeeded', now() - interval '3 days'), \
                ('new', 'succeeded', now() - interval '1 hour'), \
                ('dead', 'dead', now() - interval '3 days')",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let out = run(modernize()
        .env("DATABASE_URL", db.owner_url())
        .env("MODERNIZE_RETENTION__SUCCEEDED_JOBS_DAYS", "2")
        .args(["db", "prune", "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"succeeded_jobs": 1, "dead_jobs": 0, "partitions": []})
    );
    let (kinds,): (Vec<String>,) =
        sqlx::query_as("SELECT array_agg(kind ORDER BY kind) FROM migration.jobs")
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(kinds, ["dead", "new"]);
    // A bad value stops the command with a message naming the key.
    let out = run(modernize()
        .env("DATABASE_URL", db.owner_url())
        .env("MODERNIZE_RETENTION__DEAD_JOBS_DAYS", "-1")
        .args(["db", "prune"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("dead_jobs_days"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn db_url_prints_the_configured_database_and_the_runtime_role() {
    let db = TestDb::empty().await;
    let url = db.owner_url();
    let out = run(modernize().env("DATABASE_URL", &url).args(["db", "url"]));
    assert_eq!(stdout(&out).trim(), url);
    let out = run(modernize()
        .env("DATABASE_URL", &url)
        .args(["db", "url", "--app"]));
    let app = stdout(&out);
    assert!(app.contains("user=modernize_app"), "{app}");
    assert!(!app.contains("user=modernize&"), "{app}");
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "process did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `serve` on a free port; returns the process and its base URL once it listens.
fn start_serve(db: &TestDb) -> (ChildGuard, String) {
    let mut process = ChildGuard(
        modernize()
            .env("DATABASE_URL", db.owner_url())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(process.0.stdout.take().unwrap()).lines();
    let line = lines.next().expect("a line").unwrap();
    let base = line.strip_prefix("listening on ").expect(&line).to_string();
    (process, base)
}

/// (demo clients, engagements, assets, dependencies, import sessions), as the owner sees them.
async fn demo_counts(db: &TestDb) -> (i64, i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM migration.client_accounts WHERE slug = 'demo'), \
                (SELECT count(*) FROM migration.engagements), \
                (SELECT count(*) FROM migration.assets WHERE source_system = 'demo_cmdb'), \
                (SELECT count(*) FROM migration.asset_dependencies), \
                (SELECT count(*) FROM migration.import_sessions WHERE status = 'committed')",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn serve_migrates_seeds_the_demo_answers_and_stops_on_sigterm() {
    let db = TestDb::empty().await;
    let (mut process, base) = start_serve(&db);

    let client = reqwest::Client::new();
    let resp = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // The demo inventory: 240 generated servers, every tenth (from the tenth on) depending on
    // an earlier one, imported through the product's import.
    assert_eq!(
        demo_counts(&db).await,
        (1, 1, 240, 23, 1),
        "demo client, engagement and imported inventory on first start"
    );
    let (named, scored): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE hostname LIKE 'srv%' AND fqdn LIKE '%.corp.example.com' \
                                   AND environment IS NOT NULL AND os_type IS NOT NULL), \
                count(*) FILTER (WHERE completeness_score > 0) \
           FROM migration.assets",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!((named, scored), (240, 240), "mapped and scored demo assets");
    // Every column is mapped with confidence; the OS version column is named by its product.
    let (review, bare_versions): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM migration.import_column_mappings \
                  WHERE status <> 'approved' OR target_kind <> 'attribute'), \
                (SELECT count(*) FROM migration.assets WHERE os_version !~ '^[A-Z].* [0-9]')",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!((review, bare_versions), (0, 0));

    process.signal(nix::sys::signal::Signal::SIGTERM);
    let status = wait_exit(&mut process.0, Duration::from_secs(15));
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    // A second start seeds nothing more.
    let (mut process, _) = start_serve(&db);
    assert_eq!(demo_counts(&db).await, (1, 1, 240, 23, 1));
    process.signal(nix::sys::signal::Signal::SIGTERM);
    let status = wait_exit(&mut process.0, Duration::from_secs(15));
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn serve_refuses_an_address_in_use() {
    let db = TestDb::new().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(modernize().env("DATABASE_URL", db.owner_url()).args([
        "serve",
        "--no-demo",
        "--bind",
        &addr,
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("cannot listen on {addr}")),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn worker_runs_until_sigterm() {
    let db = TestDb::new().await;
    let mut process = ChildGuard(
        modernize()
            .env("DATABASE_URL", db.owner_url())
            .env("MODERNIZE_LOG__FILTER", "info")
            .arg("worker")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(process.0.stderr.take().unwrap()).lines();
    let running = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("worker running"));
    assert!(running.is_some(), "the worker reports it runs");
    process.signal(nix::sys::signal::Signal::SIGTERM);
    let status = wait_exit(&mut process.0, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
}

/// As a normal user the server runs as that user, with data under a home it owns. When the
/// suite runs as root this test runs the binary as `nobody`; otherwise as ourselves.
#[test]
fn the_embedded_database_works_for_a_normal_user() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let root = nix::unistd::geteuid().is_root();
    // Provision the shared installation (as the suite's own user) so the run below only reads it.
    let shared = modernize_testkit::test_config();
    modernize_db::embedded::EmbeddedPostgres::new(shared.clone())
        .ensure_running()
        .unwrap();

    let base = if root {
        std::path::PathBuf::from("/var/tmp")
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("modernize-user-")
        .tempdir_in(base)
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // A copy of the binary that `nobody` can execute wherever the checkout lives.
    let binary = dir.path().join("modernize");
    std::fs::copy(env!("CARGO_BIN_EXE_modernize"), &binary).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = dir.path().join("home");

    let as_user = |args: &[&str]| -> Output {
        let mut cmd = Command::new(&binary);
        cmd.args(args)
            .env_remove("DATABASE_URL")
            .env("HOME", dir.path())
            .env("MODERNIZE_EMBEDDED__HOME", &home)
            .env("MODERNIZE_EMBEDDED__CACHE_DIR", &shared.cache_dir)
            .env("MODERNIZE_LOG__FILTER", "warn")
            .current_dir(dir.path());
        if root {
            cmd.uid(65534).gid(65534);
        }
        cmd.output().unwrap()
    };
    let out = as_user(&["db", "start"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = as_user(&["db", "url"]);
    let url = stdout(&out).trim().to_string();
    assert!(url.contains("user=modernize"), "{url}");
    let out = as_user(&["db", "migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = as_user(&["db", "status"]);
    assert!(
        stdout(&out).contains("embedded (running"),
        "{}",
        stdout(&out)
    );
    if root {
        let owner = std::fs::metadata(home.join("data/PG_VERSION")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(owner.uid(), 65534, "data belongs to the user who ran it");
    }
    let out = as_user(&["db", "stop"]);
    assert!(
        stdout(&out).contains("embedded database stopped"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = as_user(&["db", "status"]);
    assert!(stdout(&out).contains("stopped"), "{}", stdout(&out));
}

#[tokio::test]
async fn admin_bootstrap_creates_one_platform_admin_with_a_token_shown_once() {
    let db = TestDb::new().await;
    let url = db.owner_url();
    let out = run(modernize().env("DATABASE_URL", &url).args([
        "admin",
        "bootstrap",
        "--email",
        "Root@Example.com",
        "--json",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let user_id = printed["user_id"].as_str().unwrap().to_string();
    let token = printed["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("mdz_") && token.len() == 47, "{token}");

    let (email, role, global): (String, String, bool) = sqlx::query_as(
        "SELECT u.email, r.role, r.client_account_id IS NULL AND r.engagement_id IS NULL \
           FROM migration.users u JOIN migration.user_roles r ON r.user_id = u.id WHERE u.id = $1::uuid",
    )
    .bind(&user_id)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(
        (email.as_str(), role.as_str(), global),
        ("root@example.com", "admin", true)
    );

    // Only the digest is stored; the clear token appears in no column.
    let (stored,): (Vec<u8>,) = sqlx::query_as("SELECT token_hash FROM migration.api_tokens")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    use sha2::Digest;
    assert_eq!(stored, sha2::Sha256::digest(token.as_bytes()).to_vec());
    let (leaks,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.api_tokens t WHERE to_jsonb(t)::text LIKE '%' || $1 || '%'",
    )
    .bind(&token[4..])
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(leaks, 0);

    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs \
          WHERE event_type IN ('user.created', 'role.granted', 'token.created') AND target_id IS NOT NULL",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(audited, 3);

    let out = run(modernize().env("DATABASE_URL", &url).args([
        "admin",
        "bootstrap",
        "--email",
        "second@example.com",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));

    let out = run(modernize().env("DATABASE_URL", &url).args([
        "admin",
        "bootstrap",
        "--email",
        "not-an-email",
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a valid e-mail address"),
        "{}",
        stderr(&out)
    );
}
