//! `modernize worker`: background work outside the API process.

use crate::config::Settings;
use modernize_engine::discovery::{self, SweepUploads};
use modernize_engine::flows::rollup::{self, RollupDaily};
use modernize_engine::flows::{FlowRegistry, RunPhase};
use modernize_engine::queue::{Registry, Worker};
use std::time::Duration;

/// How often partitions are created ahead and the retention applied (both idempotent and
/// cheap when nothing is due).
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

/// The job kinds this build runs. Each feature that defines a job kind registers its handler
/// here.
///
/// - `flow.run_phase`: the flow runner with the product flow types. Discovery runs its steps
///   (`modernize_engine::discovery`); the phases of the other types have no steps yet (the
///   steps arrive with the features that implement them), so such a flow starts and waits at
///   its first phase with a `waiting_reason`, rather than pretending to work.
/// - `agents.rollup_daily`: the hourly recomputation of `agent_performance_daily` for
///   yesterday and today.
/// - `discovery.sweep_uploads`: the hourly removal of uploads no flow needs any more.
pub fn job_registry(_db: &modernize_db::Database, settings: &Settings) -> Registry {
    let mut flows = FlowRegistry::product();
    discovery::register(&mut flows, settings.imports.clone());
    let mut registry = Registry::new();
    registry.register(RunPhase::new(flows));
    registry.register(RollupDaily);
    registry.register(SweepUploads::new(settings.imports.clone()));
    registry
}

/// The job queue worker of this process (of `worker`, or inside `serve`). Also makes sure the
/// hourly agent performance rollup is scheduled (idempotent across processes). Must be called
/// inside the Tokio runtime.
pub fn job_worker(db: &modernize_db::Database, settings: &Settings) -> Worker {
    let pool = db.app.clone();
    tokio::spawn(async move {
        if let Err(e) = rollup::ensure_scheduled(&pool).await {
            tracing::warn!(error = %e, "cannot schedule the agent performance rollup");
        }
        if let Err(e) = discovery::ensure_sweep_scheduled(&pool).await {
            tracing::warn!(error = %e, "cannot schedule the sweep of uploads");
        }
    });
    Worker::new(
        db.app.clone(),
        job_registry(db, settings),
        settings.worker.to_config(),
    )
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let db = super::open_migrated(&settings).await?;
    // Signal handlers are installed before the process reports that it runs, so a SIGTERM
    // sent right after that line is handled (gracefully) rather than killing the process.
    let shutdown = stop_signals()?;
    tracing::info!("worker running");
    let maintenance = tokio::spawn(modernize_db::maintenance::run(
        db.app.clone(),
        MAINTENANCE_EVERY,
        settings.retention.clone(),
    ));
    // Returns after SIGINT/SIGTERM once running jobs finished or were released.
    job_worker(&db, &settings).run(shutdown).await?;
    maintenance.abort();
    db.app.close().await;
    db.owner.close().await;
    tracing::info!("worker stopped");
    Ok(())
}

/// SIGINT/SIGTERM, registered now; the returned future resolves on the first of them.
fn stop_signals() -> std::io::Result<impl std::future::Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutdown requested");
    })
}
