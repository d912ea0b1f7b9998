//! One module per subcommand.

mod admin;
mod agents;
mod bench;
mod bench_import;
mod db;
mod demo;
mod import;
mod rotate_keys;
mod sample_cmdb;
mod serve;
mod worker;

use crate::cli::Command;
use crate::config::Settings;
use modernize_db::connect::DatabaseSource;

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve::run(args, settings).await,
        Command::Worker => worker::run(settings).await,
        Command::Db(cmd) => db::run(cmd, settings).await,
        Command::Bench(cmd) => bench::run(cmd, settings).await,
        Command::Admin(cmd) => admin::run(cmd, settings).await,
        Command::Agents(cmd) => agents::run(cmd, settings).await,
        Command::Import(args) => import::run(args, settings).await,
    }
}

fn source(settings: &Settings) -> DatabaseSource {
    DatabaseSource::from_settings(&settings.database, settings.embedded.to_config())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}

/// Opens the database, applies pending migrations and checks the runtime role: what every
/// long-running process does before it starts working.
async fn open_migrated(settings: &Settings) -> anyhow::Result<modernize_db::Database> {
    let source = source(settings);
    let db = modernize_db::Database::open(&source, &settings.database).await?;
    let applied =
        modernize_db::migrate::migrate(&db.owner, settings.database.app_password.as_deref())
            .await?;
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    db.verify_runtime_role(&source.app_url(&settings.database)?)
        .await?;
    Ok(db)
}
