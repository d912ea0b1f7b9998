//! `modernize db ...`: migrations, status and the embedded server's lifecycle.

use super::source;
use crate::cli::DbCommand;
use crate::config::Settings;
use anyhow::Context;
use modernize_db::connect::{DatabaseSource, redact};
use modernize_db::embedded::ServerState;
use modernize_db::{Database, migrate, partitions};
use serde_json::json;

pub async fn run(cmd: DbCommand, settings: Settings) -> anyhow::Result<()> {
    let source = source(&settings);
    match cmd {
        DbCommand::Migrate => {
            let db = Database::open(&source, &settings.database).await?;
            let applied =
                migrate::migrate(&db.owner, settings.database.app_password.as_deref()).await?;
            let total = migrate::MIGRATOR.iter().count();
            println!("{applied} migration(s) applied; schema at {total}/{total}");
        }
        DbCommand::Status { json } => status(&source, &settings, json).await?,
        DbCommand::Start => match &source {
            DatabaseSource::Embedded(embedded) => {
                let handle = embedded.clone();
                tokio::task::spawn_blocking(move || handle.ensure_running()).await??;
                println!(
                    "embedded database running at {}",
                    embedded.config().owner_url()
                );
            }
            DatabaseSource::External { url } => {
                println!("DATABASE_URL is set ({}); nothing to start", redact(url));
            }
        },
        DbCommand::Stop => match &source {
            DatabaseSource::Embedded(embedded) => {
                let handle = embedded.clone();
                let stopped = tokio::task::spawn_blocking(move || handle.stop()).await??;
                println!(
                    "{}",
                    if stopped {
                        "embedded database stopped"
                    } else {
                        "embedded database was not running"
                    }
                );
            }
            DatabaseSource::External { url } => {
                println!("DATABASE_URL is set ({}); nothing to stop", redact(url));
            }
        },
        DbCommand::Prune { json } => {
            // As `serve` and `worker` do hourly: migrated, through the runtime role.
            let db = super::open_migrated(&settings).await?;
            let pruned = modernize_db::retention::apply(&db.app, &settings.retention).await;
            db.app.close().await;
            db.owner.close().await;
            let pruned = pruned?;
            if json {
                println!("{}", serde_json::to_string(&pruned)?);
            } else {
                println!(
                    "removed {} succeeded job(s), {} dead job(s), {} partition(s){}",
                    pruned.succeeded_jobs,
                    pruned.dead_jobs,
                    pruned.partitions.len(),
                    if pruned.partitions.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", pruned.partitions.join(", "))
                    }
                );
            }
        }
        DbCommand::Url { app } => {
            let owner_url = source.ensure_available().await?;
            let url = if app {
                source.app_url(&settings.database)?
            } else {
                owner_url
            };
            println!("{url}");
        }
    }
    Ok(())
}

async fn status(source: &DatabaseSource, settings: &Settings, as_json: bool) -> anyhow::Result<()> {
    let (kind, location, state) = match source {
        DatabaseSource::Embedded(embedded) => {
            let handle = embedded.clone();
            let state = tokio::task::spawn_blocking(move || handle.state()).await??;
            let state = match state {
                ServerState::NotInitialised => "not initialised".to_string(),
                ServerState::Stopped => "stopped".to_string(),
                ServerState::Running { pid: Some(pid) } => format!("running (pid {pid})"),
                ServerState::Running { pid: None } => "running".to_string(),
            };
            ("embedded", embedded.config().owner_url(), state)
        }
        DatabaseSource::External { url } => ("external", redact(url), "configured".to_string()),
    };
    if kind == "embedded" && !state.starts_with("running") {
        if as_json {
            println!(
                "{}",
                json!({"database": kind, "url": location, "state": state})
            );
        } else {
            println!("database:   {kind} ({state})\nurl:        {location}");
            println!("start it with `modernize db start` (or any command that needs it)");
        }
        return Ok(());
    }
    let db = Database::open(source, &settings.database)
        .await
        .context("cannot open the database")?;
    let (version, vector): (String, Option<String>) = sqlx::query_as(
        "SELECT current_setting('server_version'), \
                (SELECT extversion FROM pg_extension WHERE extname = 'vector')",
    )
    .fetch_one(&db.owner)
    .await?;
    let (migrations, unknown) = migrate::status(&db.owner).await?;
    let parts = if migrations.iter().all(|m| m.applied) {
        partitions::list(&db.owner).await?
    } else {
        Vec::new()
    };
    if as_json {
        println!(
            "{}",
            json!({
                "database": kind, "url": location, "state": state,
                "server_version": version, "pgvector_version": vector,
                "migrations": migrations, "unknown_applied_versions": unknown,
                "partitions": parts,
            })
        );
        return Ok(());
    }
    let applied = migrations.iter().filter(|m| m.applied).count();
    println!("database:   {kind} ({state})");
    println!("url:        {location}");
    println!(
        "server:     PostgreSQL {version}, pgvector {}",
        vector
            .as_deref()
            .unwrap_or("not installed in this database")
    );
    println!(
        "migrations: {applied} applied, {} pending",
        migrations.len() - applied
    );
    for m in &migrations {
        let mark = match (m.applied, m.checksum_ok) {
            (true, true) => "applied",
            (true, false) => "applied, but CHANGED since (checksum differs)",
            (false, _) => "pending",
        };
        println!("  {:04} {:<28} {mark}", m.version, m.description);
    }
    if !unknown.is_empty() {
        println!("  applied by a newer version of modernize: {unknown:?}");
    }
    let mut tables: Vec<&str> = parts.iter().map(|p| p.parent.as_str()).collect();
    tables.dedup();
    for table in tables {
        let of_table: Vec<_> = parts.iter().filter(|p| p.parent == table).collect();
        let last = of_table
            .iter()
            .filter(|p| !p.bounds.eq_ignore_ascii_case("DEFAULT"))
            .map(|p| p.partition.as_str())
            .max()
            .unwrap_or("-");
        println!("partitions: {table}: {} (latest {last})", of_table.len());
    }
    Ok(())
}
