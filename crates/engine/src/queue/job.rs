//! The typed job trait, the context a handler runs in, and the registry of job kinds a worker
//! knows.

use super::{JobId, QueueError, RetryPolicy};
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A kind of background job: its name in the table, its input type and its handler.
///
/// The value implementing `Job` is the handler and carries what it needs (pools, clients);
/// [`Job::Input`] is what is stored per job. Handlers run **at least once**: a worker may die
/// after the effect and before recording success, and the job then runs again. Write handlers
/// to be idempotent, and put database effects into [`JobContext::transaction`], which commits
/// together with the job's success, so they happen exactly once.
pub trait Job: Send + Sync + 'static {
    /// What is stored per job (as JSON in `jobs.input`).
    type Input: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The stable name in `jobs.kind`; never reuse a name for a different input.
    const KIND: &'static str;
    /// Attempts before the job is dead (stored per job at enqueue time).
    const MAX_ATTEMPTS: i32 = 5;

    /// Delays between attempts.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }

    /// Does the work of one job.
    fn run(
        &self,
        input: Self::Input,
        ctx: &mut JobContext,
    ) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Why an attempt failed. Retryable errors are retried until the job's `max_attempts`; a
/// permanent error makes the job dead at once.
#[derive(Debug, Clone)]
pub struct JobError {
    message: String,
    retryable: bool,
}

impl JobError {
    /// A failure that may go away (network, timeouts, a busy service).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that another attempt cannot fix (invalid input).
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: false,
        }
    }

    /// The text kept in `jobs.last_error`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::retryable(format!("database error: {e}"))
    }
}

impl From<QueueError> for JobError {
    fn from(e: QueueError) -> Self {
        JobError::retryable(e.to_string())
    }
}

impl From<modernize_db::DbError> for JobError {
    fn from(e: modernize_db::DbError) -> Self {
        JobError::retryable(e.to_string())
    }
}

/// What a handler knows about the job it runs, and its way to the database.
#[derive(Debug)]
pub struct JobContext {
    id: JobId,
    client_account_id: Option<ClientAccountId>,
    attempt: i32,
    pool: PgPool,
    tx: Option<Transaction<'static, Postgres>>,
}

impl JobContext {
    pub(crate) fn new(
        id: JobId,
        client_account_id: Option<ClientAccountId>,
        attempt: i32,
        pool: PgPool,
    ) -> Self {
        JobContext {
            id,
            client_account_id,
            attempt,
            pool,
            tx: None,
        }
    }

    /// The job's id (stable across attempts: a natural idempotency key).
    pub fn id(&self) -> JobId {
        self.id
    }

    /// The client the job belongs to; `None` for platform jobs.
    pub fn client_account_id(&self) -> Option<ClientAccountId> {
        self.client_account_id
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> i32 {
        self.attempt
    }

    /// The tenant scope of the job: its client, or platform scope for platform jobs.
    pub fn scope(&self) -> TenantScope {
        match self.client_account_id {
            Some(client_account_id) => TenantScope::Client {
                client_account_id,
                user_id: None,
            },
            None => TenantScope::Platform { user_id: None },
        }
    }

    /// The runtime pool, for work outside the job's transaction.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The job's transaction, begun on first use in the job's tenant scope. When the handler
    /// returns `Ok`, the worker marks the job succeeded in this same transaction and commits
    /// it: the effects written here and the job's completion are one atomic unit. If the
    /// handler fails, or the worker lost its lease, the transaction is rolled back.
    pub async fn transaction(&mut self) -> Result<&mut Transaction<'static, Postgres>, JobError> {
        if self.tx.is_none() {
            self.tx = Some(modernize_db::tenant::begin(&self.pool, self.scope()).await?);
        }
        Ok(self.tx.as_mut().expect("just begun"))
    }

    pub(crate) fn take_transaction(&mut self) -> Option<Transaction<'static, Postgres>> {
        self.tx.take()
    }
}

type BoxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send + 'a>>;

/// A job kind with its input type erased, as the worker holds it.
pub(crate) trait ErasedJob: Send + Sync {
    fn run<'a>(&'a self, input: serde_json::Value, ctx: &'a mut JobContext) -> BoxFuture<'a>;
    fn retry_policy(&self) -> RetryPolicy;
}

struct Typed<J>(J);

impl<J: Job> ErasedJob for Typed<J> {
    fn run<'a>(&'a self, input: serde_json::Value, ctx: &'a mut JobContext) -> BoxFuture<'a> {
        Box::pin(async move {
            let input: J::Input = serde_json::from_value(input).map_err(|e| {
                JobError::permanent(format!("cannot decode the input of {}: {e}", J::KIND))
            })?;
            self.0.run(input, ctx).await
        })
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.0.retry_policy()
    }
}

/// The job kinds a worker runs. A worker claims only jobs of kinds it has registered, so a
/// worker of an older build leaves newer kinds to workers that know them.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn ErasedJob>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers `job` as the handler of `J::KIND`.
    ///
    /// # Panics
    /// When the kind is already registered (two handlers for one kind is a programming error).
    pub fn register<J: Job>(&mut self, job: J) -> &mut Self {
        let previous = self.kinds.insert(J::KIND, Arc::new(Typed(job)));
        assert!(previous.is_none(), "job kind {} registered twice", J::KIND);
        self
    }

    /// The registered kinds.
    pub fn kinds(&self) -> Vec<String> {
        self.kinds.keys().map(|k| k.to_string()).collect()
    }

    pub(crate) fn get(&self, kind: &str) -> Option<Arc<dyn ErasedJob>> {
        self.kinds.get(kind).cloned()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .finish()
    }
}
