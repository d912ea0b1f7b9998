//! The steps of the discovery flow's phases.

use super::config::checked_config;
use super::{FLOW_TYPE, ImportConfig, ImportSettings};
use crate::flows::registry::{FlowRegistry, Step, StepContext, StepError};
use crate::flows::tracking::{TaskHandle, TaskOutcome, TaskSpec};
use crate::import::{self, FailedImport, ImportOptions};
use modernize_domain::ids::{ClientAccountId, UserId};
use modernize_domain::tenancy::TenantScope;
use modernize_ingest::layout;
use modernize_ingest::source::{self, Limits};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
enum Phase {
    Initialization,
    AgentLoading,
    EnvironmentScanning,
    DataCollection,
    Analysis,
    Reporting,
}

const PHASES: [(&str, Phase); 6] = [
    ("initialization", Phase::Initialization),
    ("agent_loading", Phase::AgentLoading),
    ("environment_scanning", Phase::EnvironmentScanning),
    ("data_collection", Phase::DataCollection),
    ("analysis", Phase::Analysis),
    ("reporting", Phase::Reporting),
];

/// Registers the steps of every phase of flow type `discovery` (declared by
/// [`FlowRegistry::product`]).
pub fn register(registry: &mut FlowRegistry, settings: ImportSettings) {
    let settings = Arc::new(settings);
    for (name, phase) in PHASES {
        registry.set_step(
            FLOW_TYPE,
            name,
            DiscoveryStep {
                phase,
                settings: settings.clone(),
            },
            false,
        );
    }
}

struct DiscoveryStep {
    phase: Phase,
    settings: Arc<ImportSettings>,
}

impl Step for DiscoveryStep {
    fn run<'a>(
        &'a self,
        ctx: &'a mut StepContext,
    ) -> Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 'a>> {
        Box::pin(async move {
            let s = &self.settings;
            match self.phase {
                Phase::Initialization => initialization(ctx, s).await,
                Phase::AgentLoading => agent_loading(ctx, s).await,
                Phase::EnvironmentScanning => environment_scanning(ctx, s).await,
                Phase::DataCollection => data_collection(ctx, s).await,
                Phase::Analysis => super::analysis::analysis(ctx).await,
                Phase::Reporting => reporting(ctx, s).await,
            }
        })
    }
}

// ---- helpers ----------------------------------------------------------------------------

pub(super) fn scope(ctx: &StepContext, user: Option<Uuid>) -> TenantScope {
    TenantScope::Client {
        client_account_id: ClientAccountId(ctx.client_account_id),
        user_id: user.map(UserId),
    }
}

pub(super) fn db(e: impl std::fmt::Display) -> StepError {
    StepError::retryable(format!("database_error: {e}"))
}

pub(super) fn failed_import(e: &FailedImport) -> StepError {
    let message = format!("{}: {}", e.code(), e.error);
    if e.code() == "database_error" {
        StepError::retryable(message)
    } else {
        StepError::permanent(message)
    }
}

pub(super) async fn start(
    ctx: &mut StepContext,
    agent: &str,
    task_type: &str,
    input: Value,
) -> Result<TaskHandle, StepError> {
    ctx.tasks
        .start(TaskSpec {
            agent_name: agent.into(),
            agent_type: Some("discovery".into()),
            agent_version: Some(env!("CARGO_PKG_VERSION").into()),
            task_type: task_type.into(),
            description: None,
            input,
        })
        .await
        .map_err(db)
}

/// Records the task's outcome and passes the result on.
pub(super) fn finish(
    ctx: &mut StepContext,
    task: TaskHandle,
    result: Result<Value, StepError>,
) -> Result<Value, StepError> {
    match &result {
        Ok(output) => ctx.tasks.succeed(
            task,
            TaskOutcome {
                output: output.clone(),
                ..TaskOutcome::default()
            },
        ),
        Err(e) => ctx
            .tasks
            .fail(task, e.message.clone(), TaskOutcome::default()),
    }
    result
}

/// The user who created the flow (the acting user of its import).
pub(super) async fn flow_creator(ctx: &StepContext) -> Result<Option<Uuid>, StepError> {
    let mut tx = modernize_db::tenant::begin(ctx.pool(), scope(ctx, None))
        .await
        .map_err(db)?;
    let row: Option<(Option<Uuid>,)> = sqlx::query_as(
        "SELECT created_by FROM migration.crewai_flow_state_extensions \
          WHERE flow_id = $1 AND client_account_id = $2",
    )
    .bind(ctx.flow_id)
    .bind(ctx.client_account_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(row.and_then(|r| r.0))
}

/// Serialises the import work of one flow across concurrent runs of its phases (a run made
/// obsolete by a pause may still be working): a transaction-scoped advisory lock on a
/// connection of its own, released when the returned transaction ends (also when dropped).
pub(super) async fn flow_lock(
    pool: &PgPool,
    flow_id: Uuid,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StepError> {
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("discovery.import:{flow_id}"))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    Ok(tx)
}

/// The flow's import session (the latest that did not fail).
#[derive(Debug)]
pub(super) struct Session {
    pub(super) id: Uuid,
    pub(super) status: String,
    pub(super) summary: Value,
    pub(super) error: Option<String>,
}

pub(super) async fn flow_session(
    ctx: &StepContext,
    failed_too: bool,
) -> Result<Option<Session>, StepError> {
    let mut tx = modernize_db::tenant::begin(ctx.pool(), scope(ctx, None))
        .await
        .map_err(db)?;
    type Row = (Uuid, String, Value, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, status, summary, error_code, error_message FROM migration.import_sessions \
          WHERE flow_id = $1 AND client_account_id = $2 AND ($3 OR status <> 'failed') \
          ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(ctx.flow_id)
    .bind(ctx.client_account_id)
    .bind(failed_too)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(row.map(|r| Session {
        id: r.0,
        status: r.1,
        summary: r.2,
        error: r
            .3
            .map(|code| format!("{code}: {}", r.4.unwrap_or_default())),
    }))
}

/// The session's staged state: layout, row count, the mappings waiting for review.
pub(super) async fn describe_staged(
    ctx: &StepContext,
    import_id: Uuid,
) -> Result<Value, StepError> {
    let mut tx = modernize_db::tenant::begin(ctx.pool(), scope(ctx, None))
        .await
        .map_err(db)?;
    // A staged session's rows_read is the number of rows staged.
    let (status, layout, confidence, rows): (String, Option<String>, Option<f64>, i64) =
        sqlx::query_as(
            "SELECT status, layout, layout_confidence, rows_read FROM migration.import_sessions \
              WHERE id = $1 AND client_account_id = $2",
        )
        .bind(import_id)
        .bind(ctx.client_account_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    let review = pending_review(&mut tx, ctx.client_account_id, import_id).await?;
    tx.commit().await.map_err(db)?;
    Ok(json!({
        "import_id": import_id,
        "status": status,
        "layout": layout,
        "layout_confidence": confidence,
        "rows_staged": rows,
        "needs_review": review.len(),
        "review": review,
    }))
}

/// The column mappings of an import that still need review.
async fn pending_review(
    conn: &mut sqlx::PgConnection,
    client: Uuid,
    import_id: Uuid,
) -> Result<Vec<Value>, StepError> {
    type Row = (String, String, Option<String>, String, f64, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT table_name, source_column, target, target_kind, confidence, reason \
               FROM migration.import_column_mappings \
              WHERE import_session_id = $1 AND client_account_id = $2 \
                AND status = 'needs_review' \
              ORDER BY table_name, column_index, source_column",
    )
    .bind(import_id)
    .bind(client)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            json!({"table": r.0, "source_column": r.1, "proposed_target": r.2,
                   "target_kind": r.3, "confidence": r.4, "reason": r.5})
        })
        .collect())
}

// ---- phases -----------------------------------------------------------------------------

async fn initialization(ctx: &mut StepContext, settings: &ImportSettings) -> Result<(), StepError> {
    let input = ctx.config.get("import").cloned().unwrap_or(Value::Null);
    let task = start(ctx, "discovery_orchestrator", "validate_config", input).await?;
    let result = checked_config(ctx, settings).await.map(|(cfg, size)| {
        json!({
            "file_name": cfg.file_name.clone().or_else(|| file_name(&cfg.path)),
            "size_bytes": size,
            "dry_run": cfg.dry_run,
            "threshold": cfg.threshold.unwrap_or(settings.threshold),
            "source_system": cfg.source_system,
        })
    });
    let output = finish(ctx, task, result)?;
    ctx.set_output(output);
    Ok(())
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

async fn agent_loading(ctx: &mut StepContext, settings: &ImportSettings) -> Result<(), StepError> {
    let task = start(
        ctx,
        "field_mapping_agent",
        "load_learned_patterns",
        json!({"insight_type": "field_mapping_suggestion"}),
    )
    .await?;
    let result = async {
        let mut tx = modernize_db::tenant::begin(ctx.pool(), scope(ctx, None))
            .await
            .map_err(db)?;
        // The corrections the field-mapping agent will apply to this client's imports.
        let n = crate::learning::mapping_hints(&mut tx, ctx.client_account_id)
            .await
            .map_err(db)?
            .len();
        tx.commit().await.map_err(db)?;
        let threshold = ImportConfig::from_flow(&ctx.config)?
            .threshold
            .unwrap_or(settings.threshold);
        Ok(
            json!({"agent": "field_mapping_agent", "learned_patterns": n,
                  "threshold": threshold}),
        )
    }
    .await;
    let output = finish(ctx, task, result)?;
    ctx.set_output(output);
    Ok(())
}

async fn environment_scanning(
    ctx: &mut StepContext,
    settings: &ImportSettings,
) -> Result<(), StepError> {
    let (cfg, _) = checked_config(ctx, settings).await?;
    let task = start(
        ctx,
        "data_source_agent",
        "detect_layout",
        json!({"file_name": cfg.file_name}),
    )
    .await?;
    let limits = Limits {
        max_bytes: settings.max_upload_bytes,
        ..Limits::default()
    };
    let path = cfg.path.clone();
    let scanned = tokio::task::spawn_blocking(move || scan(&path, &limits))
        .await
        .map_err(|e| StepError::permanent(format!("import_failed: scanning failed: {e}")));
    let result = match scanned {
        Ok(r) => r,
        Err(e) => Err(e),
    };
    let output = finish(ctx, task, result)?;
    ctx.set_output(output);
    Ok(())
}

/// Opens the file, lists its tables and detects their layout.
fn scan(path: &Path, limits: &Limits) -> Result<Value, StepError> {
    let source_error =
        |e: modernize_ingest::SourceError| StepError::permanent(format!("{}: {e}", e.code()));
    let src = source::open_path(path, limits).map_err(source_error)?;
    let tables = src.table_headers();
    let detections = layout::detect(&tables);
    let best = detections
        .first()
        .ok_or_else(|| StepError::permanent("no_header: no table with a header row was found"))?;
    Ok(json!({
        "format": src.format().as_str(),
        "size_bytes": src.size(),
        "tables": tables.iter().map(|t| json!({"name": t.name, "columns": t.headers.len()}))
            .collect::<Vec<_>>(),
        "layout": best.layout.as_str(),
        "kind": best.kind,
        "confidence": best.confidence,
        "table": best.table,
        "related_tables": best.related_tables,
        "candidates": detections.iter().take(3)
            .map(|d| json!({"layout": d.layout.as_str(), "table": d.table,
                            "confidence": d.confidence}))
            .collect::<Vec<_>>(),
    }))
}

async fn data_collection(
    ctx: &mut StepContext,
    settings: &ImportSettings,
) -> Result<(), StepError> {
    let (cfg, _) = checked_config(ctx, settings).await?;
    let task = start(
        ctx,
        "data_import_agent",
        "stage_rows",
        json!({"file_name": cfg.file_name}),
    )
    .await?;
    let result = async {
        let lock = flow_lock(ctx.pool(), ctx.flow_id).await?;
        // A run repeated after a crash (or a concurrent obsolete run) finds the staged import.
        let import_id = match flow_session(ctx, false).await? {
            Some(s) => s.id,
            None => {
                let options = ImportOptions {
                    dry_run: cfg.dry_run,
                    source_system: cfg.source_system.clone(),
                    threshold: cfg.threshold.unwrap_or(settings.threshold),
                    max_bytes: settings.max_upload_bytes,
                    user_id: flow_creator(ctx).await?,
                    flow_id: Some(ctx.flow_id),
                };
                import::stage_import(
                    ctx.pool(),
                    ctx.client_account_id,
                    ctx.engagement_id,
                    &cfg.path,
                    &options,
                    &mut |_| {},
                )
                .await
                .map_err(|e| failed_import(&e))?
                .import_id
            }
        };
        let described = describe_staged(ctx, import_id).await;
        lock.commit().await.map_err(db)?;
        described
    }
    .await;
    let output = finish(ctx, task, result)?;
    ctx.set_output(output);
    Ok(())
}

async fn reporting(ctx: &mut StepContext, settings: &ImportSettings) -> Result<(), StepError> {
    let task = start(ctx, "reporting_agent", "summarize_import", json!({})).await?;
    let result = async {
        let session = flow_session(ctx, true).await?.ok_or_else(|| {
            StepError::permanent("import_not_found: the flow has no import to report on")
        })?;
        if !matches!(session.status.as_str(), "committed" | "dry_run_completed") {
            return Err(StepError::permanent(format!(
                "import_not_applicable: the import is {}, not applied",
                session.status
            )));
        }
        let s = &session.summary;
        let count = |k: &str| s.get(k).and_then(Value::as_i64).unwrap_or(0);
        let discovered = if session.status == "committed" {
            count("assets_created") + count("assets_updated") + count("assets_unchanged")
        } else {
            0
        };
        let mut tx = modernize_db::tenant::begin(ctx.pool(), scope(ctx, None))
            .await
            .map_err(db)?;
        sqlx::query(
            "UPDATE migration.discovery_flows SET discovered_assets_count = $3 \
              WHERE master_flow_id = $1 AND client_account_id = $2",
        )
        .bind(ctx.flow_id)
        .bind(ctx.client_account_id)
        .bind(i32::try_from(discovered).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(json!({
            "import_id": session.id,
            "status": session.status,
            "discovered_assets": discovered,
            "report": session.summary,
            "report_csv": format!(
                "/api/v1/clients/{}/engagements/{}/imports/{}/report.csv",
                ctx.client_account_id, ctx.engagement_id, session.id
            ),
        }))
    }
    .await;
    let output = finish(ctx, task, result)?;
    ctx.set_output(output);
    // The upload is no longer needed: the rows are stored with the import.
    if let Ok(cfg) = ImportConfig::from_flow(&ctx.config) {
        settings
            .remove_upload(ctx.client_account_id, &cfg.path)
            .await;
    }
    Ok(())
}
