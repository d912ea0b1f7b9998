//! `modernize import FILE --engagement ID`: imports an inventory file in-process, as the
//! system (no user), against the configured or embedded database.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use modernize_domain::tenancy::TenantScope;
use modernize_engine::import::{ImportOptions, ImportReport, Progress, run_import};
use serde_json::json;
use uuid::Uuid;

use crate::cli::ImportArgs;
use crate::config::Settings;

pub async fn run(args: ImportArgs, settings: Settings) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.threshold) {
        bail!("--threshold must be between 0 and 1");
    }
    let db = super::open_migrated(&settings).await?;
    let result = import(&db, &args).await;
    db.app.close().await;
    db.owner.close().await;
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", report_json(&report));
            } else {
                print_text(&report);
            }
            Ok(())
        }
        Err((code, message, import_id)) => {
            if args.json {
                println!(
                    "{}",
                    json!({"error": {"code": code, "message": message, "import_id": import_id}})
                );
            }
            bail!("import failed [{code}]: {message}")
        }
    }
}

type Failure = (String, String, Option<Uuid>);

async fn import(db: &modernize_db::Database, args: &ImportArgs) -> Result<ImportReport, Failure> {
    let client = engagement_client(db, args.engagement)
        .await
        .map_err(|e| ("database_error".to_string(), e.to_string(), None))?;
    let client = match (client, args.client) {
        (Some(found), Some(given)) if found != given => None,
        (found, _) => found,
    };
    let Some(client) = client else {
        return Err((
            "engagement_not_found".into(),
            format!("engagement {} not found", args.engagement),
            None,
        ));
    };
    let options = ImportOptions {
        dry_run: args.dry_run,
        source_system: args.source_system.clone(),
        threshold: args.threshold,
        max_bytes: args.max_bytes,
        user_id: None,
        flow_id: None,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("reading");
        bar
    });
    let mut on_progress = |p: Progress| {
        if let Some(bar) = &bar {
            match p {
                Progress::Rows { rows, .. } => bar.set_message(format!("{rows} rows")),
                Progress::Dependencies => bar.set_message("dependencies"),
                Progress::Committing => bar.set_message("committing"),
            }
        }
    };
    let result = run_import(
        &db.app,
        client,
        args.engagement,
        &args.file,
        &options,
        &mut on_progress,
    )
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result.map_err(|e| (e.code().to_string(), e.to_string(), e.import_id))
}

/// The client of an engagement (platform scope: the command runs as the system).
async fn engagement_client(
    db: &modernize_db::Database,
    engagement: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    let mut tx =
        modernize_db::tenant::begin(&db.app, TenantScope::Platform { user_id: None }).await?;
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT client_account_id FROM migration.engagements WHERE id = $1")
            .bind(engagement)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(row.map(|r| r.0))
}

fn report_json(r: &ImportReport) -> serde_json::Value {
    json!({
        "import_id": r.import_id,
        "file": r.file_name,
        "format": r.format,
        "layout": r.layout,
        "layout_confidence": r.layout_confidence,
        "table": r.table,
        "dry_run": r.dry_run,
        "status": r.status,
        "source_system": r.source_system,
        "rows_read": r.rows_read,
        "rows_accepted": r.rows_accepted,
        "rows_fixed": r.rows_fixed,
        "rows_rejected": r.rows_rejected,
        "rejected_codes": r.rejected_by_code,
        "warning_codes": r.warnings_by_code,
        "assets_created": r.assets_created,
        "assets_updated": r.assets_updated,
        "assets_unchanged": r.assets_unchanged,
        "dependencies_created": r.dependencies_created,
        "dependencies_skipped": r.dependencies_skipped,
        "column_mappings": r.column_mappings.iter().map(|m| json!({
            "table": m.table,
            "source_column": m.source_column,
            "target": m.target,
            "target_kind": m.target_kind,
            "confidence": m.confidence,
            "status": m.status,
            "reason": m.reason,
        })).collect::<Vec<_>>(),
        "notes": r.notes,
        "tables": r.tables.iter().map(|t| json!({
            "table": t.table,
            "layout": t.layout,
            "layout_confidence": t.layout_confidence,
            "kind": t.kind,
            "joined_tables": t.joined_tables,
            "rows_read": t.rows_read,
            "rows_accepted": t.rows_accepted,
            "rows_fixed": t.rows_fixed,
            "rows_rejected": t.rows_rejected,
            "rejected_codes": t.rejected_by_code,
            "assets_created": t.assets_created,
            "assets_updated": t.assets_updated,
            "assets_unchanged": t.assets_unchanged,
        })).collect::<Vec<_>>(),
        "skipped_tables": r.skipped_tables.iter().map(|t| json!({
            "table": t.table,
            "reason": t.reason,
        })).collect::<Vec<_>>(),
    })
}

fn print_text(r: &ImportReport) {
    let mode = if r.dry_run { " (dry run)" } else { "" };
    println!("import {}{mode}: {}", r.import_id, r.file_name);
    println!(
        "layout {} (confidence {:.2}), format {}, table {}",
        r.layout, r.layout_confidence, r.format, r.table
    );
    println!(
        "rows: {} read, {} accepted, {} fixed, {} rejected",
        r.rows_read, r.rows_accepted, r.rows_fixed, r.rows_rejected
    );
    for (code, n) in &r.rejected_by_code {
        println!("  rejected {code}: {n}");
    }
    println!(
        "assets: {} created, {} updated, {} unchanged; dependencies: {} created, {} skipped",
        r.assets_created,
        r.assets_updated,
        r.assets_unchanged,
        r.dependencies_created,
        r.dependencies_skipped
    );
    if r.tables.len() > 1 {
        for t in &r.tables {
            println!(
                "  table {} ({} {}, confidence {:.2}): {} rows read, {} rejected; assets {} \
                 created, {} updated, {} unchanged",
                t.table,
                t.layout,
                t.kind,
                t.layout_confidence,
                t.rows_read,
                t.rows_rejected,
                t.assets_created,
                t.assets_updated,
                t.assets_unchanged
            );
        }
    }
    for t in &r.skipped_tables {
        println!("  table {} not imported: {}", t.table, t.reason);
    }
    let review = r
        .column_mappings
        .iter()
        .filter(|m| m.status == "needs_review")
        .count();
    if review > 0 {
        println!("{review} column mapping(s) need review and were not applied");
    }
    for n in &r.notes {
        println!("note: {n}");
    }
}
