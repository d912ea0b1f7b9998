//! Reconciliation across the batches of one import: the import's key index and edges live in
//! the database, so a row must find an asset created by a row of an earlier batch, and a
//! dependency may name an asset of a later batch.

mod import_support;

use std::fmt::Write as _;
use std::path::Path;

use import_support::*;

/// Rows per generated file: several reader batches (1,000 rows each).
const HOSTS: usize = 2500;
/// Rows at the end repeating the first hosts (with another environment).
const REPEATS: usize = 100;

/// A CMDB CSV of `HOSTS` (+ `extra_hosts`) hosts followed by `REPEATS` rows for hosts 0.. again,
/// in environment `env` (the first rows say Production). Host 10 depends on host 2400 (a later
/// batch), host 2400 on host 10 (an earlier one), host 20 on a host that does not exist.
fn cmdb(path: &Path, env: &str, extra_hosts: usize) {
    let mut csv = String::from("Host Name,IP Address,Environment,CPU Cores,Depends On\n");
    let dep = |i: usize| match i {
        10 => "host02400".to_string(),
        2400 => "host00010".to_string(),
        20 => "nowhere99".to_string(),
        _ => String::new(),
    };
    for i in 0..HOSTS + extra_hosts {
        let ip = format!("10.1.{}.{}", i / 250, i % 250 + 1);
        writeln!(csv, "host{i:05},{ip},Production,4,{}", dep(i)).unwrap();
    }
    for i in 0..REPEATS {
        let ip = format!("10.1.{}.{}", i / 250, i % 250 + 1);
        writeln!(csv, "host{i:05},{ip},{env},4,{}", dep(i)).unwrap();
    }
    std::fs::write(path, csv).unwrap();
}

/// Assets of the engagement in that environment.
async fn environments(w: &World, env: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.assets WHERE engagement_id = $1 AND environment = $2",
    )
    .bind(w.engagement)
    .bind(env)
    .fetch_one(&w.db.owner)
    .await
    .unwrap();
    n
}

#[tokio::test]
async fn rows_find_assets_of_earlier_batches_and_references_of_later_ones() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cmdb.csv");
    cmdb(&file, "Production", 0);

    let r = w.import(&file, false).await;
    assert_eq!(r.rows_read, (HOSTS + REPEATS) as u64);
    assert_eq!(r.assets_created, HOSTS as u64, "{r:#?}");
    // The repeats match assets created by this import, in the first batch.
    assert_eq!(r.assets_unchanged, REPEATS as u64, "{r:#?}");
    assert_eq!(
        w.assets().await,
        HOSTS as i64,
        "no duplicate across batches"
    );
    assert_eq!(environments(&w, "production").await, HOSTS as i64);
    // Both directions across batches resolve; the unknown host is counted, not invented.
    assert_eq!(r.dependencies_created, 2, "{r:#?}");
    assert_eq!(
        w.edges().await,
        vec![
            ("host00010".to_string(), "host02400".to_string()),
            ("host02400".to_string(), "host00010".to_string()),
        ]
    );
    // Host 20 names the unknown host twice (its row is repeated); host 10's repeated edge
    // is written once.
    assert_eq!(r.dependencies_skipped, 2);
    assert_eq!(r.warnings_by_code.get("unresolved_dependency"), Some(&2));

    // The same file again: everything is found in the stored assets, nothing changes.
    let again = w.import(&file, false).await;
    assert_eq!(again.assets_created, 0, "{again:#?}");
    assert_eq!(again.assets_updated, 0, "{again:#?}");
    assert_eq!(again.assets_unchanged, (HOSTS + REPEATS) as u64);
    assert_eq!(again.dependencies_created, 0);
    assert_eq!(w.assets().await, HOSTS as i64);
    assert_eq!(w.edges().await.len(), 2);
}

#[tokio::test]
async fn a_dry_run_across_batches_reports_what_the_import_then_does_and_writes_nothing() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.csv");
    cmdb(&first, "Production", 0);
    w.import(&first, false).await;
    let stored_edges = w.edges().await;

    // 300 new hosts, and the repeated hosts move to development.
    let second = dir.path().join("second.csv");
    cmdb(&second, "Development", 300);
    let dry = w.import(&second, true).await;
    assert_eq!(dry.status, "dry_run_completed");
    assert_eq!(w.assets().await, HOSTS as i64, "a dry run creates nothing");
    assert_eq!(
        environments(&w, "development").await,
        0,
        "nor changes anything"
    );
    assert_eq!(w.edges().await, stored_edges);

    let real = w.import(&second, false).await;
    assert_eq!(real.status, "committed");
    assert_eq!(
        (
            dry.assets_created,
            dry.assets_updated,
            dry.assets_unchanged,
            dry.dependencies_created,
            dry.dependencies_skipped,
        ),
        (
            real.assets_created,
            real.assets_updated,
            real.assets_unchanged,
            real.dependencies_created,
            real.dependencies_skipped,
        ),
        "the dry run reports what the import does: {dry:#?} {real:#?}"
    );
    assert_eq!(real.assets_created, 300);
    // The later rows' values win: the repeated hosts end in development.
    assert_eq!(real.assets_updated, REPEATS as u64, "{real:#?}");
    assert_eq!(w.assets().await, (HOSTS + 300) as i64);
    assert_eq!(environments(&w, "development").await, REPEATS as i64);
    assert_eq!(
        environments(&w, "production").await,
        (HOSTS + 300 - REPEATS) as i64
    );
}
