//! Retention of uploaded files: an hourly job removes the uploads nothing needs any more.
//!
//! A discovery flow's reporting phase removes its upload when the flow completes. The sweep
//! removes the others: uploads of cancelled (or completed) flows, of flows failed longer ago
//! than `imports.failed_retention_hours` (until then the failed phase can be retried), and
//! upload directories no flow refers to that are older than a day (an upload interrupted by a
//! crash of the server).

use super::ImportSettings;
use crate::queue::{self, EnqueueOptions, Job, JobContext, JobError};
use chrono::{DateTime, Utc};
use modernize_domain::tenancy::TenantScope;
use sqlx::PgPool;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// The `discovery.sweep_uploads` job kind.
#[derive(Debug, Clone)]
pub struct SweepUploads {
    settings: Arc<ImportSettings>,
}

impl SweepUploads {
    pub fn new(settings: ImportSettings) -> Self {
        SweepUploads {
            settings: Arc::new(settings),
        }
    }
}

impl Job for SweepUploads {
    type Input = serde_json::Value;
    const KIND: &'static str = "discovery.sweep_uploads";

    async fn run(&self, _input: Self::Input, ctx: &mut JobContext) -> Result<(), JobError> {
        sweep_uploads(ctx.pool(), &self.settings)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let tx = ctx.transaction().await?;
        queue::enqueue_with::<SweepUploads>(
            tx,
            None,
            &serde_json::json!({}),
            EnqueueOptions {
                run_at: Some(Utc::now() + chrono::Duration::hours(1)),
                max_attempts: None,
            },
        )
        .await?;
        Ok(())
    }
}

/// Ensures one sweep job is scheduled (call at worker start; idempotent across workers).
pub async fn ensure_sweep_scheduled(pool: &PgPool) -> Result<(), crate::flows::FlowError> {
    let mut tx = modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('discovery.sweep_uploads'))")
        .execute(&mut *tx)
        .await?;
    let (exists,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.jobs WHERE kind = $1 \
                          AND status IN ('queued', 'running'))",
    )
    .bind(SweepUploads::KIND)
    .fetch_one(&mut *tx)
    .await?;
    if !exists {
        queue::enqueue::<SweepUploads>(&mut tx, None, &serde_json::json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes the uploads nothing needs any more; returns how many were removed.
pub async fn sweep_uploads(
    pool: &PgPool,
    settings: &ImportSettings,
) -> Result<u64, crate::flows::FlowError> {
    let mut removed = 0;
    let Ok(mut clients) = tokio::fs::read_dir(&settings.upload_dir).await else {
        return Ok(0);
    };
    // None: kept for ever (a retention too long to compute).
    let retention = i64::try_from(settings.failed_retention_hours)
        .ok()
        .and_then(chrono::Duration::try_hours);
    while let Ok(Some(client)) = clients.next_entry().await {
        let Some(client_id) = uuid_name(&client.path()) else {
            continue;
        };
        let Ok(mut uploads) = tokio::fs::read_dir(client.path()).await else {
            continue;
        };
        while let Ok(Some(upload)) = uploads.next_entry().await {
            let dir = upload.path();
            if uuid_name(&dir).is_none() {
                continue;
            }
            let prefix = format!("{}/", dir.display());
            let mut tx =
                modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
            let flow: Option<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
                "SELECT status, updated_at FROM migration.crewai_flow_state_extensions \
                  WHERE client_account_id = $1 AND flow_type = 'discovery' \
                    AND left(config->'import'->>'path', length($2)) = $2 \
                  ORDER BY created_at DESC LIMIT 1",
            )
            .bind(client_id)
            .bind(&prefix)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            let remove = match flow {
                Some((status, _)) if status == "completed" || status == "cancelled" => true,
                Some((status, updated)) if status == "failed" => match (updated, retention) {
                    (None, _) => true,
                    (Some(u), Some(r)) => u.checked_add_signed(r).is_some_and(|t| t < Utc::now()),
                    (Some(_), None) => false,
                },
                Some(_) => false,
                None => older_than(&dir, Duration::from_secs(24 * 3600)).await,
            };
            if remove && tokio::fs::remove_dir_all(&dir).await.is_ok() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

fn uuid_name(path: &Path) -> Option<Uuid> {
    path.file_name()?.to_str()?.parse().ok()
}

async fn older_than(path: &Path, age: Duration) -> bool {
    let Ok(meta) = tokio::fs::metadata(path).await else {
        return false;
    };
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|d| d > age)
}
