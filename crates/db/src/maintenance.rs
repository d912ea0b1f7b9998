//! The hourly maintenance of every `serve` and `worker` process: partitions created ahead of
//! time ([`crate::partitions::ensure`]), then what has outlived its retention removed
//! ([`crate::retention::apply`]). Both are safe to run from several processes at once.

use crate::retention::{self, RetentionSettings};
use sqlx::PgPool;
use std::time::Duration;

/// Runs the maintenance now and then every `every` until the task is dropped or aborted.
pub async fn run(pool: PgPool, every: Duration, retention: RetentionSettings) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(error) = crate::partitions::ensure(&pool).await {
            tracing::error!(%error, "partition maintenance failed");
        }
        if let Err(error) = retention::apply(&pool, &retention).await {
            tracing::error!(%error, "applying the retention failed");
        }
    }
}
