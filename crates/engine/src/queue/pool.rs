//! The connections the queue does its bookkeeping on.

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// A pool of runtime-role connections whose *sessions* are in platform scope, for the queue's
/// own bookkeeping statements (claim, heartbeat, fail, release, reap, complete without effects).
///
/// Why session scope here, when the rest of the application sets its tenant per transaction:
/// each bookkeeping step is then one autocommit statement, one round trip, instead of
/// BEGIN + set_config + statement + COMMIT. The pool is private to the queue (only this type
/// holds it and it is never handed to handlers, which get the ordinary runtime pool), so no
/// request or handler can inherit its platform scope.
///
/// The sessions also run with `synchronous_commit = off`: if the database server crashes, the
/// last few hundred milliseconds of bookkeeping may be lost, which only means a job runs once
/// more (a lost claim or completion) or is reclaimed after its lease; handlers already run at
/// least once. The job's own transaction ([`JobContext::transaction`](super::JobContext)),
/// which carries its effects and its completion together, runs on the ordinary pool with
/// durable commits.
#[derive(Debug, Clone)]
pub struct QueuePool {
    pool: PgPool,
}

impl QueuePool {
    /// A platform-scope pool of at most `max_connections`, connecting lazily with the options
    /// of the runtime pool `app`.
    pub fn new(app: &PgPool, max_connections: u32) -> Self {
        let options = (*app.connect_options()).clone();
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::query(
                        "SELECT set_config('app.platform', 'on', false), \
                                set_config('synchronous_commit', 'off', false)",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        QueuePool { pool }
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
