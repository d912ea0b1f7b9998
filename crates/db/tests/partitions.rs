//! Time partitioning: rows land in their dated partition, rows beyond the look-ahead wait in
//! the default partition and are moved (not lost) when `migration.ensure_partitions` creates
//! their partition, task ids stay globally unique across partitions, and concurrent
//! maintenance runs agree.

use modernize_db::tenant;
use modernize_domain::tenancy::TenantScope;
use modernize_testkit::TestDb;
use sqlx::PgPool;
use uuid::Uuid;

/// (table, period format of the partition name suffix).
const PARTITIONED: &[(&str, &str)] = &[
    ("llm_usage_log", "YYYY_MM"),
    ("security_audit_logs", "YYYY_MM"),
    ("agent_task_history", "IYYY\"_w\"IW"),
];

/// Inserts one row dated `now() + offset` into `table`; returns its id.
async fn insert_at(pool: &PgPool, table: &str, offset: &str, task_id: &str) -> Uuid {
    let id = Uuid::new_v4();
    let sql = match table {
        "llm_usage_log" => {
            "INSERT INTO migration.llm_usage_log \
                (id, created_at, provider, model, prompt_tokens, completion_tokens, total_tokens) \
             VALUES ($1, now() + $2::interval, 'openai', $3, 1, 2, 3)"
        }
        "security_audit_logs" => {
            "INSERT INTO migration.security_audit_logs \
                (id, created_at, event_type, event_category, actor_user_id, action, result) \
             VALUES ($1, now() + $2::interval, $3, 'auth', 'system', 'login', 'success')"
        }
        "agent_task_history" => {
            "INSERT INTO migration.agent_task_history (id, created_at, task_id, agent_name) \
             VALUES ($1, now() + $2::interval, $3, 'agent')"
        }
        other => panic!("not partitioned: {other}"),
    };
    sqlx::query(sql)
        .bind(id)
        .bind(offset)
        .bind(task_id)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("insert into {table} at now() + {offset}: {e}"));
    id
}

/// The partition holding row `id` of `table`, and the dated partition its created_at belongs to.
async fn placement(pool: &PgPool, table: &str, format: &str, id: Uuid) -> (String, String) {
    sqlx::query_as(&format!(
        "SELECT tableoid::regclass::text, \
                'migration_partitions.{table}_p' || to_char(created_at AT TIME ZONE 'UTC', '{format}') \
         FROM migration.{table} WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn ensure(pool: &PgPool, months: i32, weeks: i32) -> i32 {
    let (created,): (i32,) = sqlx::query_as("SELECT migration.ensure_partitions($1, $2)")
        .bind(months)
        .bind(weeks)
        .fetch_one(pool)
        .await
        .expect("ensure_partitions");
    created
}

async fn partition_count(pool: &PgPool) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_inherits \
         WHERE inhparent IN ('migration.llm_usage_log'::regclass, \
                             'migration.security_audit_logs'::regclass, \
                             'migration.agent_task_history'::regclass)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    n
}

fn sqlstate<T: std::fmt::Debug>(result: Result<T, sqlx::Error>) -> (String, Option<String>) {
    match result {
        Err(sqlx::Error::Database(e)) => (
            e.code().map(|c| c.into_owned()).unwrap_or_default(),
            e.constraint().map(str::to_owned),
        ),
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[tokio::test]
async fn rows_within_the_look_ahead_land_in_their_dated_partition() {
    let db = TestDb::new().await;
    // As the platform does at start-up (the migration's own call may be from an older build).
    ensure(&db.owner, 6, 13).await;
    for (table, format) in PARTITIONED {
        let offset = if *table == "agent_task_history" {
            "40 days"
        } else {
            "2 months"
        };
        let id = insert_at(&db.owner, table, offset, &Uuid::new_v4().to_string()).await;
        let (partition, dated) = placement(&db.owner, table, format, id).await;
        assert_eq!(partition, dated, "{table}: row at now() + {offset}");
        assert!(!partition.ends_with("_default"));
    }
}

#[tokio::test]
async fn ensure_partitions_moves_rows_out_of_the_default_partition_without_losing_any() {
    let db = TestDb::new().await;
    ensure(&db.owner, 6, 13).await;

    // 8 months ahead: beyond the look-ahead, so in the default partition for now.
    // 5 years ahead: beyond every look-ahead used here, stays there.
    let mut rows = Vec::new();
    for (table, format) in PARTITIONED {
        let soon_task = format!("moved-{}", Uuid::new_v4());
        let soon = insert_at(&db.owner, table, "8 months", &soon_task).await;
        let later = insert_at(&db.owner, table, "5 years", &Uuid::new_v4().to_string()).await;
        for id in [soon, later] {
            let (partition, _) = placement(&db.owner, table, format, id).await;
            assert_eq!(partition, format!("migration_partitions.{table}_default"));
        }
        rows.push((*table, *format, soon, soon_task, later));
    }
    let snapshot = |table: &str| {
        format!(
            "SELECT coalesce(string_agg(row_to_json(t)::text, '|' ORDER BY id), '') \
             FROM (SELECT * FROM migration.{table}) AS t"
        )
    };
    let mut before = Vec::new();
    for (table, ..) in &rows {
        let (data,): (String,) = sqlx::query_as(&snapshot(table))
            .fetch_one(&db.owner)
            .await
            .unwrap();
        before.push(data);
    }

    let created = ensure(&db.owner, 12, 60).await;
    assert!(created >= 2 * 6 + 47, "created {created} partitions");

    for ((table, format, soon, soon_task, later), before) in rows.iter().zip(&before) {
        let (partition, dated) = placement(&db.owner, table, format, *soon).await;
        assert_eq!(
            partition, dated,
            "{table}: row moved into its new partition"
        );
        let (partition, _) = placement(&db.owner, table, format, *later).await;
        assert_eq!(
            partition,
            format!("migration_partitions.{table}_default"),
            "{table}: row beyond the look-ahead stays in the default partition"
        );
        let (after,): (String,) = sqlx::query_as(&snapshot(table))
            .fetch_one(&db.owner)
            .await
            .unwrap();
        assert_eq!(&after, before, "{table}: rows unchanged by the move");

        if *table == "agent_task_history" {
            // The moved task's id is still taken.
            let (code, constraint) = sqlstate(
                sqlx::query(
                    "INSERT INTO migration.agent_task_history (task_id, agent_name) \
                     VALUES ($1, 'agent')",
                )
                .bind(soon_task)
                .execute(&db.owner)
                .await,
            );
            assert_eq!(code, "23505");
            assert_eq!(
                constraint.as_deref(),
                Some("agent_task_history_task_ids_pkey")
            );
        }
    }

    assert_eq!(
        ensure(&db.owner, 12, 60).await,
        0,
        "second call creates nothing"
    );
}

/// Inserts a platform-level task as the runtime role; returns the partition it landed in.
async fn insert_task(app: &PgPool, task: &str, offset: &str) -> Result<String, sqlx::Error> {
    let mut tx = tenant::begin(app, TenantScope::Platform { user_id: None })
        .await
        .unwrap();
    let (partition,): (String,) = sqlx::query_as(
        "INSERT INTO migration.agent_task_history (task_id, agent_name, created_at) \
         VALUES ($1, 'agent', now() + $2::interval) RETURNING tableoid::regclass::text",
    )
    .bind(task)
    .bind(offset)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(partition)
}

#[tokio::test]
async fn a_task_id_is_unique_across_weekly_partitions() {
    let db = TestDb::new().await;
    ensure(&db.owner, 6, 13).await;
    // As the application writes platform-level tasks: runtime role, platform scope.
    let insert = |task: &'static str, offset: &'static str| insert_task(&db.app, task, offset);
    let first = insert("task-42", "0 days").await.expect("first task");
    let (code, constraint) = sqlstate(insert("task-42", "7 days").await);
    assert_eq!(code, "23505", "duplicate task id in another week");
    assert_eq!(
        constraint.as_deref(),
        Some("agent_task_history_task_ids_pkey")
    );
    // A different id in that week is fine, and it is a different partition.
    let second = insert("task-43", "7 days").await.expect("other task id");
    assert_ne!(first, second, "the two weeks are different partitions");
}

#[tokio::test]
async fn concurrent_ensure_partitions_calls_all_succeed_and_agree() {
    let db = TestDb::new().await;
    let before = partition_count(&db.owner).await;
    let calls = (0..4).map(|_| {
        let pool = db.app.clone();
        tokio::spawn(async move { ensure(&pool, 24, 104).await })
    });
    let mut created = Vec::new();
    for call in calls {
        created.push(call.await.expect("every concurrent call succeeds"));
    }
    let after = partition_count(&db.owner).await;
    assert!(after > before, "partitions were created");
    assert_eq!(
        created.iter().map(|&n| i64::from(n)).sum::<i64>(),
        after - before,
        "each partition created exactly once: {created:?}"
    );
    assert_eq!(ensure(&db.owner, 24, 104).await, 0);
}
