//! `modernize agents rollup`: recomputes one day of agent_performance_daily, identically when
//! run again; a malformed date is refused.

use modernize_testkit::TestDb;
use serde_json::Value;
use std::process::{Command, Output};

fn modernize(url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modernize"));
    cmd.env_remove("MODERNIZE_CONFIG")
        .env("MODERNIZE_LOG__FILTER", "error")
        .env("DATABASE_URL", url)
        .current_dir(std::env::temp_dir());
    cmd
}

fn rollup(url: &str, date: &str) -> Output {
    modernize(url)
        .args(["agents", "rollup", "--date", date, "--json"])
        .output()
        .expect("the binary runs")
}

async fn rows(db: &TestDb) -> Vec<Value> {
    let rows: Vec<(Value,)> = sqlx::query_as(
        "SELECT to_jsonb(d) FROM migration.agent_performance_daily d ORDER BY agent_name",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test]
async fn rollup_recomputes_a_day_identically() {
    let db = TestDb::new().await;
    sqlx::query(
        "INSERT INTO migration.agent_task_history (task_id, agent_name, flow_type, status, \
             duration_seconds, created_at) \
         VALUES ('t1', 'scanner', 'discovery', 'completed', 1, '2026-03-10T10:00:00Z'), \
                ('t2', 'scanner', 'discovery', 'completed', 3, '2026-03-10T11:00:00Z'), \
                ('t3', 'scanner', 'discovery', 'failed', 5, '2026-03-10T12:00:00Z')",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let url = db.owner_url();
    let out = rollup(&url, "2026-03-10");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        serde_json::json!({"date": "2026-03-10", "rows": 1})
    );
    let first = rows(&db).await;
    assert_eq!(first[0]["total_tasks"], 3);
    assert_eq!(first[0]["p50_duration_seconds"], 3.0);
    assert!(rollup(&url, "2026-03-10").status.success());
    assert_eq!(rows(&db).await, first, "the same rows again");

    let bad = rollup(&url, "10.03.2026");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("YYYY-MM-DD"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
