//! Migrations apply on an empty database, a second run is a no-op, and concurrent runs agree.

use modernize_db::migrate::{self, MIGRATOR};
use modernize_testkit::TestDb;

#[tokio::test]
async fn migrations_apply_on_an_empty_database_and_a_second_run_is_a_no_op() {
    let db = TestDb::empty().await;
    let total = MIGRATOR.iter().count();
    let applied = migrate::migrate(&db.owner, None).await.expect("first run");
    assert_eq!(applied, total);
    let again = migrate::migrate(&db.owner, None).await.expect("second run");
    assert_eq!(again, 0, "a second run applies nothing");
    let (status, unknown) = migrate::status(&db.owner).await.unwrap();
    assert!(status.iter().all(|m| m.applied && m.checksum_ok));
    assert!(unknown.is_empty());
    let (tables,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_tables WHERE schemaname = 'migration'")
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert!(tables >= 18, "found {tables} tables");
}

#[tokio::test]
async fn concurrent_migrations_serialise_under_the_advisory_lock() {
    let db = TestDb::empty().await;
    let runs = (0..4).map(|_| {
        let pool = db.owner.clone();
        tokio::spawn(async move { migrate::migrate(&pool, None).await })
    });
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().expect("every concurrent run succeeds"));
    }
    assert_eq!(applied.iter().sum::<usize>(), MIGRATOR.iter().count());
}

#[tokio::test]
async fn status_reports_pending_migrations_on_an_empty_database() {
    let db = TestDb::empty().await;
    let (status, _) = migrate::status(&db.owner).await.unwrap();
    assert_eq!(status.len(), MIGRATOR.iter().count());
    assert!(status.iter().all(|m| !m.applied));
}
