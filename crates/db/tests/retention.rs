//! Retention: finished jobs past their period are deleted (queued, running and recent ones
//! stay), dated partitions past their period are dropped whole (current ones, the default
//! partition and tables without a retention stay), and the task ids of dropped task history
//! can be used again.

use modernize_db::retention::{self, RetentionSettings};
use modernize_testkit::TestDb;
use sqlx::PgPool;
use uuid::Uuid;

/// Inserts a job of `status` that finished `age` ago (queued/running: created then).
async fn job(owner: &PgPool, status: &str, age: &str) -> Uuid {
    let id = Uuid::new_v4();
    let running = status == "running";
    sqlx::query(
        "INSERT INTO migration.jobs (id, kind, status, finished_at, created_at, lease_token, \
                                     lease_expires_at) \
         VALUES ($1, 'test', $2, CASE WHEN $2 IN ('succeeded', 'dead') THEN now() - $3::interval END, \
                 now() - $3::interval, CASE WHEN $4 THEN gen_random_uuid() END, \
                 CASE WHEN $4 THEN now() + interval '1 minute' END)",
    )
    .bind(id)
    .bind(status)
    .bind(age)
    .bind(running)
    .execute(owner)
    .await
    .unwrap();
    id
}

async fn remaining_jobs(owner: &PgPool, ids: &[Uuid]) -> Vec<Uuid> {
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT id FROM migration.jobs WHERE id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(owner)
            .await
            .unwrap();
    let mut kept: Vec<Uuid> = rows.into_iter().map(|r| r.0).collect();
    kept.sort();
    kept
}

#[tokio::test]
async fn finished_jobs_are_deleted_after_their_period_only() {
    let db = TestDb::new().await;
    let old_succeeded = job(&db.owner, "succeeded", "8 days").await;
    let new_succeeded = job(&db.owner, "succeeded", "6 days").await;
    let old_dead = job(&db.owner, "dead", "31 days").await;
    let new_dead = job(&db.owner, "dead", "20 days").await;
    let old_queued = job(&db.owner, "queued", "90 days").await;
    let old_running = job(&db.owner, "running", "90 days").await;
    let all = [
        old_succeeded,
        new_succeeded,
        old_dead,
        new_dead,
        old_queued,
        old_running,
    ];

    let pruned = retention::apply(&db.app, &RetentionSettings::default())
        .await
        .unwrap();
    assert_eq!((pruned.succeeded_jobs, pruned.dead_jobs), (1, 1));
    let mut expected = vec![new_succeeded, new_dead, old_queued, old_running];
    expected.sort();
    assert_eq!(remaining_jobs(&db.owner, &all).await, expected);

    // Again: nothing more. Zero keeps for ever.
    let pruned = retention::apply(&db.app, &RetentionSettings::default())
        .await
        .unwrap();
    assert!(pruned.is_empty(), "{pruned:?}");
    let forever = RetentionSettings {
        succeeded_jobs_days: 0,
        dead_jobs_days: 0,
        ..RetentionSettings::default()
    };
    job(&db.owner, "succeeded", "400 days").await;
    assert!(
        retention::apply(&db.app, &forever)
            .await
            .unwrap()
            .is_empty()
    );
    // Shorter periods reach the younger ones.
    let short = RetentionSettings {
        succeeded_jobs_days: 1,
        dead_jobs_days: 1,
        ..RetentionSettings::default()
    };
    let pruned = retention::apply(&db.app, &short).await.unwrap();
    assert_eq!((pruned.succeeded_jobs, pruned.dead_jobs), (2, 1));
}

#[tokio::test]
async fn more_jobs_than_a_batch_are_all_deleted() {
    let db = TestDb::new().await;
    sqlx::query(
        "INSERT INTO migration.jobs (kind, status, finished_at) \
         SELECT 'test', 'succeeded', now() - interval '30 days' FROM generate_series(1, 12001)",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let pruned = retention::apply(&db.app, &RetentionSettings::default())
        .await
        .unwrap();
    assert_eq!(pruned.succeeded_jobs, 12001);
}

/// Creates and attaches the dated partition of `table` for [`lo`, `hi`) as the owner, the way
/// ensure_partitions names them, and puts one row in it; returns the partition's name.
async fn old_partition(owner: &PgPool, table: &str, name: &str, lo: &str, hi: &str) -> String {
    sqlx::raw_sql(&format!(
        "CREATE TABLE migration_partitions.{name} (LIKE migration.{table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS); \
         ALTER TABLE migration.{table} ATTACH PARTITION migration_partitions.{name} \
               FOR VALUES FROM ('{lo} 00:00:00+00') TO ('{hi} 00:00:00+00');"
    ))
    .execute(owner)
    .await
    .unwrap();
    name.to_string()
}

async fn partitions_of(owner: &PgPool, table: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
          WHERE i.inhparent = format('migration.%I', $1::text)::regclass ORDER BY 1",
    )
    .bind(table)
    .fetch_all(owner)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

async fn count(owner: &PgPool, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(owner).await.unwrap();
    n
}

#[tokio::test]
async fn partitions_past_their_period_are_dropped_whole() {
    let db = TestDb::new().await;
    let old_llm = old_partition(
        &db.owner,
        "llm_usage_log",
        "llm_usage_log_p2020_01",
        "2020-01-01",
        "2020-02-01",
    )
    .await;
    old_partition(
        &db.owner,
        "security_audit_logs",
        "security_audit_logs_p2020_01",
        "2020-01-01",
        "2020-02-01",
    )
    .await;
    let old_tasks = old_partition(
        &db.owner,
        "agent_task_history",
        "agent_task_history_p2020_w02",
        "2020-01-06",
        "2020-01-13",
    )
    .await;
    sqlx::raw_sql(
        "INSERT INTO migration.llm_usage_log (created_at, provider, model, prompt_tokens, \
                                              completion_tokens, total_tokens) \
         VALUES ('2020-01-15', 'openai', 'old', 1, 1, 2), (now(), 'openai', 'new', 1, 1, 2), \
                ('2019-06-01', 'openai', 'in-default', 1, 1, 2); \
         INSERT INTO migration.security_audit_logs (created_at, event_type, event_category, \
                                                    actor_user_id, action, result) \
         VALUES ('2020-01-15', 'login', 'auth', 'system', 'login', 'success'); \
         INSERT INTO migration.agent_task_history (created_at, task_id, agent_name) \
         VALUES ('2020-01-07', 'task-old', 'agent'), (now(), 'task-new', 'agent');",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let current_llm = partitions_of(&db.owner, "llm_usage_log").await;

    let settings = RetentionSettings {
        llm_usage_log_months: 12,
        agent_task_history_weeks: 52,
        ..RetentionSettings::default()
    };
    let pruned = retention::apply(&db.app, &settings).await.unwrap();
    assert_eq!(pruned.partitions, vec![old_llm.clone(), old_tasks.clone()]);

    // The old partitions and their rows are gone; current partitions, the default partition's
    // rows and the audit log (no retention configured) stay.
    let llm = partitions_of(&db.owner, "llm_usage_log").await;
    assert!(!llm.contains(&old_llm));
    assert_eq!(llm.len(), current_llm.len() - 1);
    assert!(llm.contains(&"llm_usage_log_default".to_string()));
    assert_eq!(
        count(
            &db.owner,
            "SELECT count(*) FROM migration.llm_usage_log WHERE model IN ('new', 'in-default')"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db.owner,
            "SELECT count(*) FROM migration.llm_usage_log WHERE model = 'old'"
        )
        .await,
        0
    );
    assert!(
        partitions_of(&db.owner, "security_audit_logs")
            .await
            .contains(&"security_audit_logs_p2020_01".to_string())
    );
    assert_eq!(
        count(
            &db.owner,
            "SELECT count(*) FROM migration.security_audit_logs"
        )
        .await,
        1
    );
    // The dropped task's id is free again; the current one is still unique.
    assert_eq!(
        count(
            &db.owner,
            "SELECT count(*) FROM migration.agent_task_history_task_ids WHERE task_id = 'task-old'"
        )
        .await,
        0
    );
    sqlx::query(
        "INSERT INTO migration.agent_task_history (created_at, task_id, agent_name) \
         VALUES (now(), 'task-old', 'agent')",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let duplicate = sqlx::query(
        "INSERT INTO migration.agent_task_history (created_at, task_id, agent_name) \
         VALUES (now(), 'task-new', 'agent')",
    )
    .execute(&db.owner)
    .await;
    assert!(duplicate.is_err(), "task ids stay unique");

    // Nothing more to drop; the audit log's partition goes once it has a retention.
    assert!(
        retention::apply(&db.app, &settings)
            .await
            .unwrap()
            .is_empty()
    );
    let audit = RetentionSettings {
        security_audit_logs_months: 24,
        ..RetentionSettings::default()
    };
    let pruned = retention::apply(&db.app, &audit).await.unwrap();
    assert_eq!(pruned.partitions, vec!["security_audit_logs_p2020_01"]);
}

#[test]
fn settings_name_the_key_of_a_bad_value() {
    assert!(RetentionSettings::default().validate().is_ok());
    let bad = RetentionSettings {
        dead_jobs_days: 1_000_000,
        ..RetentionSettings::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .contains("retention.dead_jobs_days")
    );
}
