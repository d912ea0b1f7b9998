//! The steps of the discovery flow's phases.

use super::{FLOW_TYPE, ImportSettings};
use crate::flows::registry::{FlowRegistry, Step, StepContext, StepError};
use crate::flows::tracking::{TaskHandle, TaskOutcome, TaskSpec};
use crate::import::{self, ApplyOptions, FailedImport, ImportOptions};
use modernize_domain::ids::{ClientAccountId, UserId};
use modernize_domain::tenancy::TenantScope;
use modernize_ingest::layout;
use modernize_ingest::source::{self, Limits};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

/// The `import` object of a discovery flow's config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportConfig {
    /// The uploaded file on the server: inside `imports.upload_dir`, in the flow client's
    /// directory (anything else is refused).
    pub path: PathBuf,
    /// The name the file was uploaded with.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Compute the report, write no asset.
    #[serde(default)]
    pub dry_run: bool,
    /// Mapping confidence for automatic approval (0..1); `imports.threshold` when absent.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Qualifies source ids (default: from the layout).
    #[serde(default)]
    pub source_system: Option<String>,
}

impl ImportConfig {
    /// The `import` object of a flow config.
    pub fn from_flow(config: &Value) -> Result<ImportConfig, StepError> {
        let Some(import) = config.get("import") else {
            return Err(StepError::permanent(
                "invalid_config: the discovery flow's config has no \"import\" object",
            ));
        };
        let cfg: ImportConfig = serde_json::from_value(import.clone()).map_err(|e| {
            StepError::permanent(format!("invalid_config: config.import is invalid: {e}"))
        })?;
        if let Some(t) = cfg.threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(StepError::permanent(
                "invalid_config: config.import.threshold must be between 0 and 1",
            ));
        }
        if cfg.source_system.as_ref().is_some_and(|s| s.len() > 100) {
            return Err(StepError::permanent(
                "invalid_config: config.import.source_system is longer than 100 characters",
            ));
        }
        Ok(cfg)
    }
}

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
                Phase::Analysis => analysis(ctx).await,
                Phase::Reporting => reporting(ctx, s).await,
            }
        })
    }
}

// ---- helpers ----------------------------------------------------------------------------

fn scope(ctx: &StepContext, user: Option<Uuid>) -> TenantScope {
    TenantScope::Client {
        client_account_id: ClientAccountId(ctx.client_account_id),
        user_id: user.map(UserId),
    }
}

fn db(e: impl std::fmt::Display) -> StepError {
    StepError::retryable(format!("database_error: {e}"))
}

fn failed_import(e: &FailedImport) -> StepError {
    let message = format!("{}: {}", e.code(), e.error);
    if e.code() == "database_error" {
        StepError::retryable(message)
    } else {
        StepError::permanent(message)
    }
}

async fn start(
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
fn finish(
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

/// The import config, with the file checked: a regular, non-empty file within the size
/// limit, inside the client's upload directory.
async fn checked_config(
    ctx: &StepContext,
    settings: &ImportSettings,
) -> Result<(ImportConfig, u64), StepError> {
    let cfg = ImportConfig::from_flow(&ctx.config)?;
    let size = check_file(settings, ctx.client_account_id, &cfg.path).await?;
    Ok((cfg, size))
}

async fn check_file(
    settings: &ImportSettings,
    client: Uuid,
    path: &Path,
) -> Result<u64, StepError> {
    let io = |what: &str, e: std::io::Error| {
        StepError::permanent(format!("io_error: cannot {what} the uploaded file: {e}"))
    };
    let real = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| io("find", e))?;
    let allowed = tokio::fs::canonicalize(settings.client_dir(client))
        .await
        .map_err(|e| io("find the upload directory of", e))?;
    if !real.starts_with(&allowed) {
        return Err(StepError::permanent(
            "invalid_config: config.import.path is not an upload of this client",
        ));
    }
    let meta = tokio::fs::metadata(&real)
        .await
        .map_err(|e| io("read", e))?;
    if !meta.is_file() {
        return Err(StepError::permanent(
            "invalid_config: config.import.path is not a file",
        ));
    }
    if meta.len() == 0 {
        return Err(StepError::permanent("empty_file: the file is empty"));
    }
    if meta.len() > settings.max_upload_bytes {
        return Err(StepError::permanent(format!(
            "file_too_large: the file exceeds the limit of {} bytes",
            settings.max_upload_bytes
        )));
    }
    tokio::fs::File::open(&real)
        .await
        .map_err(|e| io("open", e))?;
    Ok(meta.len())
}

/// The user who created the flow (the acting user of its import).
async fn flow_creator(ctx: &StepContext) -> Result<Option<Uuid>, StepError> {
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
async fn flow_lock(
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
struct Session {
    id: Uuid,
    status: String,
    summary: Value,
    error: Option<String>,
}

async fn flow_session(ctx: &StepContext, failed_too: bool) -> Result<Option<Session>, StepError> {
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
async fn describe_staged(ctx: &StepContext, import_id: Uuid) -> Result<Value, StepError> {
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

async fn analysis(ctx: &mut StepContext) -> Result<(), StepError> {
    let cfg = ImportConfig::from_flow(&ctx.config)?;
    let lock = flow_lock(ctx.pool(), ctx.flow_id).await?;
    let Some(session) = flow_session(ctx, true).await? else {
        return Err(StepError::permanent(
            "import_not_found: the flow has no staged import",
        ));
    };
    match session.status.as_str() {
        // Applied by an earlier run whose phase did not complete (e.g. its worker died).
        "committed" | "dry_run_completed" => {
            ctx.set_output(outcome_of(session.id, &session.summary));
            lock.commit().await.map_err(db)?;
            return Ok(());
        }
        "failed" => {
            return Err(StepError::permanent(
                session.error.unwrap_or_else(|| "import_failed".into()),
            ));
        }
        _ => {}
    }
    let import_id = session.id;

    // The field-mapping agent: every column must be decided before the import is applied.
    let task = start(
        ctx,
        "field_mapping_agent",
        "review_mappings",
        json!({"import_id": import_id}),
    )
    .await?;
    let reviewed = review_mappings(ctx, import_id).await;
    let review = finish(ctx, task, reviewed)?;
    let pending = review["needs_review"].as_u64().unwrap_or(0);
    if pending > 0 {
        let columns: Vec<&str> = review["review"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["source_column"].as_str())
            .collect();
        ctx.await_decision(format!(
            "{pending} column mapping(s) of import {import_id} need review: {}",
            columns.join(", ")
        ));
        ctx.set_output(review);
        lock.commit().await.map_err(db)?;
        return Ok(());
    }

    // Cleansing, identity reconciliation and dependencies: one all-or-nothing apply.
    let input = json!({"import_id": import_id, "dry_run": cfg.dry_run});
    let cleansing = start(ctx, "cleansing_agent", "cleanse_rows", input.clone()).await?;
    let identity = start(
        ctx,
        "identity_reconciliation_agent",
        "reconcile_identities",
        input.clone(),
    )
    .await?;
    let dependencies = start(ctx, "dependency_agent", "extract_dependencies", input).await?;
    let applied = import::apply_import(
        ctx.pool(),
        ctx.client_account_id,
        import_id,
        &ApplyOptions {
            dry_run: cfg.dry_run,
            user_id: flow_creator(ctx).await?,
        },
        &mut |_| {},
    )
    .await;
    lock.commit().await.map_err(db)?;
    let report = match applied {
        Ok(report) => report,
        Err(e) => {
            let err = failed_import(&e);
            // The session is failed now (nothing was written): a retry cannot apply it again.
            let err = StepError::permanent(err.message);
            for t in [cleansing, identity, dependencies] {
                ctx.tasks
                    .fail(t, err.message.clone(), TaskOutcome::default());
            }
            return Err(err);
        }
    };
    let r = serde_json::to_value(&report).unwrap_or(Value::Null);
    let part = |keys: &[&str]| {
        Value::Object(
            keys.iter()
                .map(|k| (k.to_string(), r.get(*k).cloned().unwrap_or(Value::Null)))
                .collect(),
        )
    };
    let outputs = [
        (
            cleansing,
            part(&[
                "rows_read",
                "rows_accepted",
                "rows_fixed",
                "rows_rejected",
                "rejected_by_code",
                "warnings_by_code",
            ]),
        ),
        (
            identity,
            part(&["assets_created", "assets_updated", "assets_unchanged"]),
        ),
        (
            dependencies,
            part(&["dependencies_created", "dependencies_skipped"]),
        ),
    ];
    for (task, output) in outputs {
        ctx.tasks.succeed(
            task,
            TaskOutcome {
                output,
                ..TaskOutcome::default()
            },
        );
    }
    ctx.set_output(outcome_of(import_id, &r));
    Ok(())
}

/// Decides what can be decided: after the flow's decision gate was approved directly, the
/// mappings still pending are approved as proposed, decided by the approving user.
async fn review_mappings(ctx: &StepContext, import_id: Uuid) -> Result<Value, StepError> {
    if let Some(user) = ctx.approved_by {
        let mut tx = modernize_db::tenant::begin(ctx.pool(), scope(ctx, Some(user)))
            .await
            .map_err(db)?;
        let done = sqlx::query(
            "UPDATE migration.import_column_mappings \
                SET status = 'approved', decided_by = $3, decided_at = now() \
              WHERE import_session_id = $1 AND client_account_id = $2 \
                AND status = 'needs_review'",
        )
        .bind(import_id)
        .bind(ctx.client_account_id)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut v = describe_staged(ctx, import_id).await?;
        v["approved_by_flow_decision"] = json!(done.rows_affected());
        return Ok(v);
    }
    describe_staged(ctx, import_id).await
}

fn outcome_of(import_id: Uuid, report: &Value) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("import_id".into(), json!(import_id));
    for k in [
        "status",
        "dry_run",
        "layout",
        "rows_read",
        "rows_accepted",
        "rows_fixed",
        "rows_rejected",
        "assets_created",
        "assets_updated",
        "assets_unchanged",
        "dependencies_created",
        "dependencies_skipped",
    ] {
        o.insert(k.into(), report.get(k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(o)
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
