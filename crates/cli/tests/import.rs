//! `modernize import` end to end: the JSON report, re-imports, dry runs and clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use modernize_testkit::TestDb;
use uuid::Uuid;

fn modernize(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modernize"));
    cmd.env_remove("MODERNIZE_CONFIG")
        .env("DATABASE_URL", db.owner_url())
        .env("MODERNIZE_LOG__FILTER", "warn")
        .current_dir(std::env::temp_dir());
    cmd
}

fn sample(rel: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples");
    assert!(
        dir.is_dir(),
        "the sample files are missing: expected them in {} (beside the repository)",
        dir.display()
    );
    dir.join(rel)
}

async fn engagement(db: &TestDb) -> Uuid {
    let (client,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.client_accounts (name, slug) VALUES ('Acme', 'acme') RETURNING id",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    let (engagement,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.engagements (client_account_id, name) VALUES ($1, 'E') RETURNING id",
    )
    .bind(client)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    engagement
}

fn import(db: &TestDb, file: &Path, engagement: Uuid, extra: &[&str]) -> Output {
    modernize(db)
        .arg("import")
        .arg(file)
        .args(["--engagement", &engagement.to_string(), "--json"])
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn report(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim().lines().count(), 1, "one JSON object: {text}");
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

async fn assets(db: &TestDb, engagement: Uuid) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM migration.assets WHERE engagement_id = $1")
            .bind(engagement)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    n
}

#[tokio::test]
async fn import_prints_one_json_report_and_reimports_without_duplicates() {
    let db = TestDb::new().await;
    let engagement = engagement(&db).await;
    let file = sample("rvtools/migration-planner__example1.xlsx");

    let out = import(&db, &file, engagement, &["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dry = report(&out);
    assert_eq!(dry["status"], "dry_run_completed");
    assert_eq!(assets(&db, engagement).await, 0);

    let out = import(&db, &file, engagement, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    for key in [
        "layout",
        "layout_confidence",
        "rows_read",
        "assets_created",
        "assets_updated",
        "assets_unchanged",
        "dependencies_created",
        "rows_rejected",
        "rejected_codes",
        "column_mappings",
        "tables",
        "skipped_tables",
    ] {
        assert!(r.get(key).is_some(), "{key} missing from {r}");
    }
    assert_eq!(r["layout"], "rvtools");
    assert_eq!(r["tables"][0]["table"], "vInfo");
    assert_eq!(r["tables"][0]["assets_created"], 9);
    assert_eq!(r["skipped_tables"][0]["table"], "vHost");
    assert_eq!(r["rows_read"], 9);
    assert_eq!(r["assets_created"], 9);
    assert_eq!(dry["assets_created"], r["assets_created"]);
    let mapping = r["column_mappings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["source_column"] == "Memory")
        .expect("the Memory column is reported");
    assert_eq!(mapping["target"], "memory_gb");
    assert_eq!(mapping["status"], "approved");
    assert!(mapping["confidence"].as_f64().unwrap() > 0.8);

    let again = report(&import(&db, &file, engagement, &[]));
    assert_eq!(again["assets_created"], 0);
    assert_eq!(again["assets_unchanged"], 9);
    assert_eq!(assets(&db, engagement).await, 9);
}

#[tokio::test]
async fn unreadable_files_and_unknown_engagements_fail_with_a_code() {
    let db = TestDb::new().await;
    let engagement = engagement(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, b"").unwrap();

    let out = import(&db, &empty, engagement, &[]);
    assert!(!out.status.success());
    let r = report(&out);
    assert_eq!(r["error"]["code"], "empty_file", "{r}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("empty_file"), "{stderr}");

    let out = import(
        &db,
        &sample("konveyor/tackle2-ui__sample-applications.csv"),
        Uuid::new_v4(),
        &[],
    );
    assert!(!out.status.success());
    assert_eq!(report(&out)["error"]["code"], "engagement_not_found");
    assert_eq!(assets(&db, engagement).await, 0);
}
