//! Test-only job kinds and helpers shared by the engine's integration tests.
#![allow(dead_code)]

use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use modernize_engine::queue::{Job, JobContext, JobError, RetryPolicy};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Does nothing.
#[derive(Debug)]
pub struct Noop;

impl Job for Noop {
    type Input = serde_json::Value;
    const KIND: &'static str = "test.noop";
    async fn run(&self, _input: Self::Input, _ctx: &mut JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// Sleeps `sleep_ms`, then writes one row into `public.effects` in the job's transaction
/// (committed together with the job's success).
#[derive(Debug)]
pub struct Record;

#[derive(Debug, Serialize, Deserialize)]
pub struct RecordInput {
    pub sleep_ms: u64,
}

impl Job for Record {
    type Input = RecordInput;
    const KIND: &'static str = "test.record";
    async fn run(&self, input: RecordInput, ctx: &mut JobContext) -> Result<(), JobError> {
        tokio::time::sleep(Duration::from_millis(input.sleep_ms)).await;
        let (id, attempt) = (ctx.id(), ctx.attempt());
        sqlx::query("INSERT INTO public.effects (job_id, attempt) VALUES ($1, $2)")
            .bind(id)
            .bind(attempt)
            .execute(&mut **ctx.transaction().await?)
            .await?;
        Ok(())
    }
}

/// Always fails (retryable), with a quick backoff.
#[derive(Debug)]
pub struct Failing;

impl Job for Failing {
    type Input = serde_json::Value;
    const KIND: &'static str = "test.failing";
    const MAX_ATTEMPTS: i32 = 3;
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(50),
            max: Duration::from_secs(1),
            jitter: 0.25,
        }
    }
    async fn run(&self, _input: Self::Input, ctx: &mut JobContext) -> Result<(), JobError> {
        Err(JobError::retryable(format!(
            "boom in attempt {}",
            ctx.attempt()
        )))
    }
}

/// Creates `public.effects`, writable by the runtime role.
pub async fn create_effects_table(owner: &PgPool) {
    sqlx::raw_sql(
        "CREATE TABLE public.effects (seq bigserial PRIMARY KEY, job_id uuid NOT NULL, attempt int NOT NULL);
         GRANT SELECT, INSERT ON public.effects TO modernize_app;
         GRANT USAGE ON SEQUENCE public.effects_seq_seq TO modernize_app;",
    )
    .execute(owner)
    .await
    .unwrap();
}

pub async fn platform(pool: &PgPool) -> Transaction<'static, Postgres> {
    modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None })
        .await
        .unwrap()
}

pub async fn tenant(pool: &PgPool, client: ClientAccountId) -> Transaction<'static, Postgres> {
    modernize_db::tenant::begin(
        pool,
        TenantScope::Client {
            client_account_id: client,
            user_id: None,
        },
    )
    .await
    .unwrap()
}

pub async fn create_client(owner: &PgPool, slug: &str) -> ClientAccountId {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.client_accounts (name, slug) VALUES ($1, $1) RETURNING id",
    )
    .bind(slug)
    .fetch_one(owner)
    .await
    .unwrap();
    ClientAccountId(id)
}

/// (status, attempts) of a job, read as the owner.
pub async fn job_state(owner: &PgPool, id: Uuid) -> (String, i32) {
    sqlx::query_as("SELECT status::text, attempts FROM migration.jobs WHERE id = $1")
        .bind(id)
        .fetch_one(owner)
        .await
        .unwrap()
}

/// Polls until the job has `status` or `limit` passes; returns the final state.
pub async fn wait_for_status(
    owner: &PgPool,
    id: Uuid,
    status: &str,
    limit: Duration,
) -> (String, i32) {
    let start = Instant::now();
    loop {
        let state = job_state(owner, id).await;
        if state.0 == status || start.elapsed() > limit {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
