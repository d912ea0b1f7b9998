//! `modernize worker`: background work outside the API process.

use crate::config::Settings;
use std::time::Duration;

/// How often time partitions are checked (creation is idempotent and cheap).
pub const PARTITION_CHECK_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let db = super::open_migrated(&settings).await?;
    tracing::info!("worker running");
    let maintenance = tokio::spawn(modernize_db::partitions::maintain(
        db.app.clone(),
        PARTITION_CHECK_EVERY,
    ));
    super::shutdown_signal().await;
    maintenance.abort();
    db.app.close().await;
    db.owner.close().await;
    tracing::info!("worker stopped");
    Ok(())
}
