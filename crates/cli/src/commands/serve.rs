//! `modernize serve`: the HTTP API, plus in-process background work unless `--no-worker`.

use crate::cli::ServeArgs;
use crate::config::Settings;
use anyhow::Context;
use modernize_server::AppState;
use std::time::Duration;
use tokio::net::TcpListener;

pub async fn run(args: ServeArgs, settings: Settings) -> anyhow::Result<()> {
    let db = super::open_migrated(&settings).await?;
    // Invalid vault keys stop the server before it listens.
    let keyring = super::rotate_keys::keyring(&settings)?;
    // So do invalid authentication settings (signing key, OIDC provider).
    modernize_server::auth::session::check_settings(&settings.auth)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    if !args.no_demo {
        super::demo::seed(&db).await?;
    }
    let listener = TcpListener::bind(&settings.server.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
    let address = listener.local_addr()?;
    let background = (!args.no_worker).then(|| {
        tokio::spawn(modernize_db::maintenance::run(
            db.app.clone(),
            super::worker::MAINTENANCE_EVERY,
            settings.retention.clone(),
        ))
    });
    let (jobs_stop_tx, jobs_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let jobs = (!args.no_worker).then(|| {
        tokio::spawn(super::worker::job_worker(&db, &settings).run(async {
            let _ = jobs_stop_rx.await;
        }))
    });
    let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
    let mut state = AppState::new(db.clone(), settings.server.clone())
        .with_auth(settings.auth.clone())
        .with_imports(settings.imports.clone());
    if let Some(keyring) = keyring {
        state = state.with_keyring(keyring);
    }
    tracing::info!(%address, "listening");
    // Machines and scripts read the address from this line (useful with port 0).
    println!("listening on http://{address}");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(modernize_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    super::shutdown_signal().await;
    let _ = stop_tx.send(());
    // The job worker stops claiming at once; its running jobs finish or are released within
    // worker.shutdown_grace_secs, concurrently with the requests' grace period.
    let _ = jobs_stop_tx.send(());
    // In-flight requests may finish within the grace period; after it we stop regardless.
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result??,
        Err(_) => tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still running after the grace period"
        ),
    }
    if let Some(task) = jobs {
        task.await??;
    }
    if let Some(task) = background {
        task.abort();
    }
    db.app.close().await;
    db.owner.close().await;
    tracing::info!("server stopped");
    Ok(())
}
