//! Partition maintenance for the time-partitioned tables (`llm_usage_log`,
//! `security_audit_logs` monthly, `agent_task_history` weekly).
//!
//! The SQL function `migration.ensure_partitions` creates every partition from the current
//! period through the look-ahead and moves rows that had landed in the default partition; it
//! takes an advisory lock, so every process may call it.

use crate::error::DbError;
use sqlx::PgPool;

/// Creates the partitions due; returns how many were created.
pub async fn ensure(pool: &PgPool) -> Result<i32, DbError> {
    let (created,): (i32,) = sqlx::query_as("SELECT migration.ensure_partitions()")
        .fetch_one(pool)
        .await?;
    if created > 0 {
        tracing::info!(created, "created table partitions");
    }
    Ok(created)
}

/// One partition as reported by `db status`.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct PartitionInfo {
    pub parent: String,
    pub partition: String,
    pub bounds: String,
}

/// Every partition of the partitioned tables, in order.
pub async fn list(pool: &PgPool) -> Result<Vec<PartitionInfo>, DbError> {
    Ok(sqlx::query_as(
        "SELECT p.relname::text AS parent, c.relname::text AS partition, \
                pg_get_expr(c.relpartbound, c.oid) AS bounds \
           FROM pg_inherits i \
           JOIN pg_class c ON c.oid = i.inhrelid \
           JOIN pg_class p ON p.oid = i.inhparent \
           JOIN pg_namespace n ON n.oid = p.relnamespace \
          WHERE n.nspname = 'migration' AND p.relkind = 'p' \
          ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await?)
}
