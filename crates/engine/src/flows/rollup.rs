//! `agent_performance_daily`: per day, agent and flow type, computed from `agent_task_history`
//! (and cost from `llm_usage_log` by task id). Recomputing a day replaces its rows with the
//! same values: an upsert on (date, agent_name, flow_type) plus removal of groups that no
//! longer exist.
//!
//! - `total_tasks`: executions (rows); `successful_tasks`: `completed`; `failed_tasks`:
//!   `failed` or `interrupted`.
//! - Durations: average and exact percentiles (`percentile_cont`, linear interpolation
//!   between the two nearest ranks) over the rows that have a duration.
//! - `error_rate` = failed_tasks / total_tasks; `retry_rate` = share of executions that
//!   repeated a task already executed (same parent_task_id, task_type, agent) that day.
//! - Days are UTC days of `created_at`.

use crate::queue::{self, EnqueueOptions, Job, JobContext, JobError};
use chrono::{Duration as Days, NaiveDate, Utc};
use modernize_domain::tenancy::TenantScope;
use sqlx::PgPool;

const RECOMPUTE: &str = "
WITH t AS (
    SELECT h.*,
           (SELECT coalesce(sum(l.total_cost), 0) FROM migration.llm_usage_log l
             WHERE l.task_id = h.task_id) AS cost
      FROM migration.agent_task_history h
     WHERE h.created_at >= ($1::date)::timestamp AT TIME ZONE 'UTC'
       AND h.created_at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'
), g AS (
    SELECT $1::date AS date, agent_name, flow_type,
           count(*)::int AS total_tasks,
           count(*) FILTER (WHERE status = 'completed')::int AS successful_tasks,
           count(*) FILTER (WHERE status IN ('failed', 'interrupted'))::int AS failed_tasks,
           avg(duration_seconds) AS avg_duration_seconds,
           percentile_cont(0.50) WITHIN GROUP (ORDER BY duration_seconds) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_seconds) AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_seconds) AS p99,
           coalesce(sum(tokens_used), 0)::int AS total_tokens_used,
           coalesce(sum(api_calls_made), 0)::int AS total_api_calls,
           round(coalesce(sum(cost), 0), 4) AS total_cost,
           (count(*) FILTER (WHERE status IN ('failed', 'interrupted')))::float8 / count(*) AS error_rate,
           1.0::float8 - (count(DISTINCT (coalesce(parent_task_id, task_id), coalesce(task_type, ''))))::float8
                         / count(*) AS retry_rate
      FROM t GROUP BY agent_name, flow_type
), gone AS (
    DELETE FROM migration.agent_performance_daily d
     WHERE d.date = $1::date
       AND NOT EXISTS (SELECT 1 FROM g WHERE g.agent_name = d.agent_name
                                         AND g.flow_type IS NOT DISTINCT FROM d.flow_type)
), up AS (
    INSERT INTO migration.agent_performance_daily AS d
        (date, agent_name, flow_type, total_tasks, successful_tasks, failed_tasks,
         avg_duration_seconds, p50_duration_seconds, p95_duration_seconds, p99_duration_seconds,
         total_tokens_used, total_api_calls, total_cost, error_rate, retry_rate)
    SELECT date, agent_name, flow_type, total_tasks, successful_tasks, failed_tasks,
           avg_duration_seconds, p50, p95, p99, total_tokens_used, total_api_calls, total_cost,
           error_rate, retry_rate
      FROM g
    ON CONFLICT ON CONSTRAINT uq_agent_performance_daily_date_agent_name_flow_type DO UPDATE SET
        total_tasks = EXCLUDED.total_tasks, successful_tasks = EXCLUDED.successful_tasks,
        failed_tasks = EXCLUDED.failed_tasks, avg_duration_seconds = EXCLUDED.avg_duration_seconds,
        p50_duration_seconds = EXCLUDED.p50_duration_seconds,
        p95_duration_seconds = EXCLUDED.p95_duration_seconds,
        p99_duration_seconds = EXCLUDED.p99_duration_seconds,
        total_tokens_used = EXCLUDED.total_tokens_used, total_api_calls = EXCLUDED.total_api_calls,
        total_cost = EXCLUDED.total_cost, error_rate = EXCLUDED.error_rate,
        retry_rate = EXCLUDED.retry_rate
    RETURNING 1
)
SELECT count(*) FROM up";

/// Recomputes the rows of `date`; returns how many groups it has. Runs in platform scope
/// (tasks of every client).
pub async fn recompute_day(pool: &PgPool, date: NaiveDate) -> Result<i64, super::FlowError> {
    let mut tx = modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
    // Two recomputations of one day at once would race on the delete/upsert.
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtext('agent_performance_daily'), hashtext($1::text))",
    )
    .bind(date)
    .execute(&mut *tx)
    .await?;
    let (count,): (i64,) = sqlx::query_as(RECOMPUTE)
        .bind(date)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(count)
}

/// The scheduled rollup: recomputes yesterday and today, then schedules itself an hour later
/// (in its own transaction, so exactly one next run exists).
#[derive(Debug, Clone)]
pub struct RollupDaily;

impl Job for RollupDaily {
    type Input = serde_json::Value;
    const KIND: &'static str = "agents.rollup_daily";

    async fn run(&self, _input: Self::Input, ctx: &mut JobContext) -> Result<(), JobError> {
        let today = Utc::now().date_naive();
        for date in [today - Days::days(1), today] {
            recompute_day(ctx.pool(), date)
                .await
                .map_err(|e| JobError::retryable(e.to_string()))?;
        }
        let tx = ctx.transaction().await?;
        queue::enqueue_with::<RollupDaily>(
            tx,
            None,
            &serde_json::json!({}),
            EnqueueOptions {
                run_at: Some(Utc::now() + Days::hours(1)),
                max_attempts: None,
            },
        )
        .await?;
        Ok(())
    }
}

/// Ensures one rollup job is scheduled (call at worker start; idempotent across workers).
pub async fn ensure_scheduled(pool: &PgPool) -> Result<(), super::FlowError> {
    let mut tx = modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('agents.rollup_daily'))")
        .execute(&mut *tx)
        .await?;
    let (exists,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.jobs WHERE kind = $1 AND status IN ('queued', 'running'))",
    )
    .bind(RollupDaily::KIND)
    .fetch_one(&mut *tx)
    .await?;
    if !exists {
        queue::enqueue::<RollupDaily>(&mut tx, None, &serde_json::json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}
