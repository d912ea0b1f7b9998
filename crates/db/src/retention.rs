//! Retention: what has outlived its configured period is removed (section `[retention]`).
//!
//! - Finished jobs: `succeeded` jobs after `succeeded_jobs_days`, `dead` jobs (kept for
//!   inspection) after `dead_jobs_days`, deleted in platform scope in batches. Queued and
//!   running jobs are never touched.
//! - Dated partitions of `llm_usage_log`, `security_audit_logs` (months) and
//!   `agent_task_history` (weeks): whole partitions whose range ended more than the period
//!   before the current one are dropped by `migration.drop_expired_partitions` (migration
//!   0028). The daily agent performance figures stay.
//!
//! A period of 0 keeps for ever; the tables of records (audit, LLM usage, task history) are
//! kept for ever unless configured.

use crate::error::DbError;
use modernize_domain::tenancy::TenantScope;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// Jobs deleted per statement (short transactions, bounded locks).
const JOB_BATCH: i64 = 5000;
/// The longest retention accepted, in any unit (a mistake rather than a policy beyond this).
const MAX_PERIOD: u32 = 100_000;

/// Section `[retention]` of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Succeeded jobs are deleted this many days after they finished (0: kept for ever).
    pub succeeded_jobs_days: u32,
    /// Dead jobs (all attempts failed, error history kept) are deleted this many days after
    /// they died (0: kept for ever).
    pub dead_jobs_days: u32,
    /// Months of `llm_usage_log` partitions kept before the current month (0: for ever).
    pub llm_usage_log_months: u32,
    /// Months of `security_audit_logs` partitions kept before the current month (0: for ever).
    pub security_audit_logs_months: u32,
    /// Weeks of `agent_task_history` partitions kept before the current week (0: for ever).
    pub agent_task_history_weeks: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            succeeded_jobs_days: 7,
            dead_jobs_days: 30,
            llm_usage_log_months: 0,
            security_audit_logs_months: 0,
            agent_task_history_weeks: 0,
        }
    }
}

impl RetentionSettings {
    /// Rejects values beyond any sensible policy; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("succeeded_jobs_days", self.succeeded_jobs_days),
            ("dead_jobs_days", self.dead_jobs_days),
            ("llm_usage_log_months", self.llm_usage_log_months),
            (
                "security_audit_logs_months",
                self.security_audit_logs_months,
            ),
            ("agent_task_history_weeks", self.agent_task_history_weeks),
        ] {
            if value > MAX_PERIOD {
                return Err(format!(
                    "retention.{key} = {value} is too large (at most {MAX_PERIOD}; 0 keeps for ever)"
                ));
            }
        }
        Ok(())
    }
}

/// What one application of the retention removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub succeeded_jobs: u64,
    pub dead_jobs: u64,
    /// Dropped partitions, e.g. `llm_usage_log_p2024_01`.
    pub partitions: Vec<String>,
}

impl Pruned {
    pub fn is_empty(&self) -> bool {
        self.succeeded_jobs == 0 && self.dead_jobs == 0 && self.partitions.is_empty()
    }
}

/// Applies the retention once (as the runtime role: platform scope for the jobs, the
/// security-definer function for the partitions).
pub async fn apply(pool: &PgPool, settings: &RetentionSettings) -> Result<Pruned, DbError> {
    let succeeded_jobs = purge_jobs(pool, "succeeded", settings.succeeded_jobs_days).await?;
    let dead_jobs = purge_jobs(pool, "dead", settings.dead_jobs_days).await?;
    let keep = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let partitions: Vec<(String,)> =
        sqlx::query_as("SELECT migration.drop_expired_partitions($1, $2, $3)")
            .bind(keep(settings.llm_usage_log_months))
            .bind(keep(settings.security_audit_logs_months))
            .bind(keep(settings.agent_task_history_weeks))
            .fetch_all(pool)
            .await?;
    let pruned = Pruned {
        succeeded_jobs,
        dead_jobs,
        partitions: partitions.into_iter().map(|p| p.0).collect(),
    };
    if !pruned.is_empty() {
        tracing::info!(
            succeeded_jobs = pruned.succeeded_jobs,
            dead_jobs = pruned.dead_jobs,
            partitions = ?pruned.partitions,
            "removed data past its retention"
        );
    }
    Ok(pruned)
}

/// Deletes the jobs of `status` that finished more than `days` days ago, in batches.
async fn purge_jobs(pool: &PgPool, status: &str, days: u32) -> Result<u64, DbError> {
    if days == 0 {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let mut tx = crate::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
        let deleted = sqlx::query(
            "DELETE FROM migration.jobs WHERE id IN ( \
                 SELECT id FROM migration.jobs \
                  WHERE status = $1 AND finished_at < now() - make_interval(days => $2) \
                  LIMIT $3 FOR UPDATE SKIP LOCKED)",
        )
        .bind(status)
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .bind(JOB_BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        total += deleted;
        if deleted < JOB_BATCH as u64 {
            return Ok(total);
        }
    }
}
