//! Durable job queue on PostgreSQL (tables `migration.jobs` and `migration.job_lanes`,
//! migration 0020).
//!
//! - **Typed jobs.** A [`Job`] names its kind and input type; [`enqueue`] stores the input as
//!   JSON on the caller's connection, so the job exists exactly when the caller's transaction
//!   commits. A `pg_notify` in the same transaction wakes idle workers at commit.
//! - **Claims under a lease.** [`claim_next`] takes the next due job with
//!   `FOR UPDATE SKIP LOCKED`, gives it a fresh lease token and an expiry. The running worker
//!   extends the lease with heartbeats; every later update is guarded by the token, so a
//!   worker that lost its lease cannot complete or fail the job any more.
//! - **At-least-once.** A job whose worker died is requeued by [`reap_expired`] once its lease
//!   expired and runs again. Handlers must therefore be idempotent. Effects in the database
//!   happen exactly once when they are written through [`JobContext::transaction`]: the job is
//!   marked succeeded in that same transaction.
//! - **Retries** with exponential backoff and jitter ([`RetryPolicy`]); after the last attempt
//!   the job is `dead`, with `last_error` and the per-attempt `error_history` kept
//!   ([`list_dead`]).
//! - **Fairness.** Claims serve clients round-robin (least recently served lane first), so one
//!   client's backlog does not starve another client.
//! - **Workers** ([`Worker`]) wake on NOTIFY with polling as fallback and shut down gracefully:
//!   running jobs finish within a grace period or are released back to the queue.

mod backoff;
mod claim;
mod complete;
mod enqueue;
mod job;
mod lease;
mod pool;
mod worker;

pub use backoff::RetryPolicy;
pub use claim::{ClaimedJob, claim_next};
pub use complete::{DeadJob, complete, fail, list_dead};
pub use enqueue::{EnqueueOptions, enqueue, enqueue_many, enqueue_with};
pub use job::{Job, JobContext, JobError, Registry};
pub use lease::{heartbeat, reap_expired, release};
pub use pool::QueuePool;
pub use worker::{Worker, WorkerConfig};

use uuid::Uuid;

/// The channel `enqueue` notifies and workers listen on.
pub const NOTIFY_CHANNEL: &str = "modernize_jobs";

/// `migration.jobs.id`.
pub type JobId = Uuid;

/// What can go wrong in queue operations.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Db(#[from] modernize_db::DbError),
    #[error("cannot encode the job input: {0}")]
    Encode(#[from] serde_json::Error),
    /// The worker no longer holds the job: its lease expired and the job was requeued or
    /// claimed by another worker. Whatever it was about to write is discarded.
    #[error("job {0}: lease lost")]
    LeaseLost(JobId),
}
