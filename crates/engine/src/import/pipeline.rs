//! The three ways through an import: one-shot ([`super::run_import`]: read, process and write
//! in one transaction), staging ([`super::stage_import`]: raw rows and the proposed mapping,
//! for review) and applying a staged import ([`super::apply_import`]: the staged rows with the
//! decided mapping).

use std::path::Path;

use modernize_domain::tenancy::TenantScope;
use modernize_ingest::layout::DetectionKind;
use modernize_ingest::mapping::LearnedCorrection;
use modernize_ingest::source::Limits;
use serde_json::{Value as Json, json};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::companion::Lookup;
use super::plan::{Plan, Processor, ReadRow};
use super::read::{self, Message, Mode, ReadSpec};
use super::reconcile::{self, Reconciler, Target};
use super::store::{self, FileMeta, Tx};
use super::tables::{self, TableReport};
use super::{
    ApplyOptions, ImportError, ImportOptions, ImportReport, Progress, StagedImport, begin,
};

/// Staged rows read back per query when applying.
const APPLY_PAGE: i64 = 2000;

fn client_of(scope: TenantScope) -> Result<Uuid, ImportError> {
    scope
        .client_account_id()
        .map(|c| c.0)
        .ok_or_else(|| ImportError::Internal("no client scope".into()))
}

/// The source system qualifying source ids: the one given, else the layout's.
fn source_system_of(plan: &Plan, given: Option<&str>) -> String {
    given
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| reconcile::default_source_system(plan.layout()).to_string())
}

/// The report of an import before its rows.
fn new_report(
    import_id: Uuid,
    file_name: &str,
    file_size: u64,
    plan: &Plan,
    source_system: Option<&str>,
    dry_run: bool,
) -> ImportReport {
    let source_system = source_system_of(plan, source_system);
    ImportReport {
        import_id,
        file_name: file_name.to_string(),
        file_size_bytes: file_size,
        format: plan.format.clone(),
        table: plan.table().to_string(),
        layout: plan.layout().as_str().to_string(),
        layout_confidence: plan.detection.confidence,
        table_kind: match plan.kind() {
            DetectionKind::Dependencies => "dependencies".into(),
            _ => "assets".into(),
        },
        dry_run,
        status: if dry_run {
            "dry_run_completed".into()
        } else {
            "committed".into()
        },
        source_system,
        rows_read: 0,
        rows_accepted: 0,
        rows_fixed: 0,
        rows_rejected: 0,
        rejected_by_code: Default::default(),
        warnings_by_code: Default::default(),
        assets_created: 0,
        assets_updated: 0,
        assets_unchanged: 0,
        dependencies_created: 0,
        dependencies_skipped: 0,
        column_mappings: plan.mappings.clone(),
        notes: plan.notes.clone(),
        tables: tables::reports(plan),
        skipped_tables: plan.skipped.clone(),
    }
}

/// Starts the file reader on a blocking thread and waits for its plan.
async fn start_reader(
    path: &Path,
    options: &ImportOptions,
    learned: Vec<LearnedCorrection>,
    mode: Mode,
) -> Result<(Plan, mpsc::Receiver<Message>, tokio::task::JoinHandle<()>), ImportError> {
    let (tx_rows, mut rx) = mpsc::channel(4);
    let spec = ReadSpec {
        path: path.to_path_buf(),
        limits: Limits {
            max_bytes: options.max_bytes,
            ..Limits::default()
        },
        threshold: options.threshold,
        learned,
        mode,
    };
    let reader = tokio::task::spawn_blocking(move || read::read(spec, tx_rows));
    match rx.recv().await {
        Some(Message::Header(plan)) => Ok((*plan, rx, reader)),
        Some(Message::Failed(e)) => Err(e.into()),
        _ => Err(ImportError::Internal("the reader stopped".into())),
    }
}

/// The next batch of rows from the reader, with its table (`None` when it is done).
async fn next_batch(
    rx: &mut mpsc::Receiver<Message>,
) -> Result<Option<(usize, Vec<ReadRow>)>, ImportError> {
    match rx.recv().await {
        Some(Message::Rows(table, b)) => Ok(Some((table, b))),
        Some(Message::Done) => Ok(None),
        Some(Message::Failed(e)) => Err(e.into()),
        Some(Message::Header(_)) | None => Err(ImportError::Internal("the reader stopped".into())),
    }
}

/// One-shot import: read, process, reconcile and write in one transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn one_shot(
    pool: &PgPool,
    scope: TenantScope,
    import_id: Uuid,
    engagement: Uuid,
    path: &Path,
    meta: &FileMeta,
    options: &ImportOptions,
    learned: Vec<LearnedCorrection>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ImportReport, ImportError> {
    let client = client_of(scope)?;
    let (plan, mut rx, reader) = start_reader(path, options, learned, Mode::Process).await?;
    let mut report = new_report(
        import_id,
        &meta.name,
        meta.size,
        &plan,
        options.source_system.as_deref(),
        options.dry_run,
    );
    if plan.needs_review() > 0 {
        report.notes.push(
            "columns whose mapping needs review were not applied (their values are kept in \
             raw_data); approve them in the discovery flow's mapping review"
                .into(),
        );
    }
    let mut tx = begin(pool, scope).await?;
    store::write_mappings(&mut tx, import_id, client, &plan).await?;
    crate::learning::record_applied(&mut tx, client, &plan.proposed()).await?;
    let target = Target {
        client,
        engagement,
        import_id,
        dry_run: options.dry_run,
        flow_id: options.flow_id,
        user_id: options.user_id,
    };
    let source_system = report.source_system.clone();
    let lookup = Lookup {
        client,
        engagement,
        source_system: &source_system,
    };
    // Rows of asset details come raw: they are completed from the stored assets here.
    let detail_processors: Vec<Option<Processor>> = plan
        .tables
        .iter()
        .map(|t| t.kind().is_asset_detail().then(|| t.processor()))
        .collect();
    let mut counts = tables::reports(&plan);
    let mut rec = Reconciler::new(&mut tx, target, plan.layout(), report).await?;
    while let Some((t, batch)) = next_batch(&mut rx).await? {
        let (rows, raws): (Vec<ReadRow>, Vec<Option<Json>>) = match &detail_processors[t] {
            Some(p) => lookup
                .prepare_batch(&mut tx, &plan.tables[t], p, batch)
                .await?
                .into_iter()
                .map(|(row, raw)| (row, Some(raw)))
                .unzip(),
            None => batch.into_iter().map(|row| (row, None)).unzip(),
        };
        let records = rec.rows(&mut tx, &rows).await?;
        let staged: Vec<Json> = records
            .into_iter()
            .zip(rows.into_iter().zip(raws))
            .map(|(mut record, (row, raw))| {
                counts[t].count(&record);
                record["raw"] = raw.unwrap_or(row.raw);
                record
            })
            .collect();
        store::stage_rows(&mut tx, import_id, client, staged).await?;
        progress(Progress::Rows {
            rows: rec.report.rows_read,
            file_bytes: meta.size,
        });
    }
    reader
        .await
        .map_err(|e| ImportError::Internal(format!("reader: {e}")))?;
    let mut report = rec.finish(&mut tx, progress).await?;
    report.tables = counts;
    progress(Progress::Committing);
    store::finish_session(&mut tx, import_id, client, &report).await?;
    tx.commit().await?;
    Ok(report)
}

/// The `import_rows` record of a row staged as read.
fn staged_record(row: ReadRow) -> Json {
    json!({
        "table_name": row.table.chars().take(255).collect::<String>(),
        "row_number": row.row,
        "issues": row.read_issues(),
        "raw": row.raw,
        "status": "staged",
        "asset_id": null,
        "action": null,
    })
}

/// Staging: every raw row and the proposed mapping, in one transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn stage(
    pool: &PgPool,
    scope: TenantScope,
    import_id: Uuid,
    path: &Path,
    meta: &FileMeta,
    options: &ImportOptions,
    learned: Vec<LearnedCorrection>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<StagedImport, ImportError> {
    let client = client_of(scope)?;
    let (plan, mut rx, reader) = start_reader(path, options, learned, Mode::Stage).await?;
    let mut tx = begin(pool, scope).await?;
    store::write_mappings(&mut tx, import_id, client, &plan).await?;
    crate::learning::record_applied(&mut tx, client, &plan.proposed()).await?;
    let mut rows = 0u64;
    let mut per_table = vec![0u64; plan.tables.len()];
    while let Some((t, batch)) = next_batch(&mut rx).await? {
        rows += batch.len() as u64;
        per_table[t] += batch.len() as u64;
        let staged: Vec<Json> = batch.into_iter().map(staged_record).collect();
        store::stage_rows(&mut tx, import_id, client, staged).await?;
        progress(Progress::Rows {
            rows,
            file_bytes: meta.size,
        });
    }
    reader
        .await
        .map_err(|e| ImportError::Internal(format!("reader: {e}")))?;
    let source_system = source_system_of(&plan, options.source_system.as_deref());
    store::finish_staging(&mut tx, import_id, &plan, rows, &source_system).await?;
    tx.commit().await?;
    Ok(StagedImport {
        import_id,
        rows_staged: rows,
        layout: plan.layout().as_str().to_string(),
        layout_confidence: plan.detection.confidence,
        table_kind: match plan.kind() {
            DetectionKind::Dependencies => "dependencies".into(),
            _ => "assets".into(),
        },
        needs_review: plan.needs_review() as u64,
        tables: tables::staged(&plan, &per_table),
        skipped_tables: plan.skipped.clone(),
        mappings: plan.mappings,
    })
}

/// Why a staged import cannot be applied now (nothing was changed, the session stays as it
/// is), or the error of the apply itself.
pub(super) enum ApplyFailure {
    Refused(ImportError),
    Failed(ImportError),
}

impl<E: Into<ImportError>> From<E> for ApplyFailure {
    fn from(e: E) -> Self {
        ApplyFailure::Failed(e.into())
    }
}

/// Applies a staged import with the decided mapping, in one transaction.
pub(super) async fn apply(
    pool: &PgPool,
    scope: TenantScope,
    import_id: Uuid,
    options: &ApplyOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ImportReport, ApplyFailure> {
    let client = client_of(scope)?;
    let mut tx = begin(pool, scope).await?;
    let Some(session) = store::lock_session(&mut tx, client, import_id).await? else {
        return Err(ApplyFailure::Refused(ImportError::ImportNotFound(
            import_id,
        )));
    };
    if !matches!(session.status.as_str(), "staged" | "mapping_review") {
        return Err(ApplyFailure::Refused(ImportError::NotApplicable(
            session.status,
        )));
    }
    let Some(plan) = session.plan else {
        return Err(ApplyFailure::Refused(ImportError::NotApplicable(
            "one-shot".into(),
        )));
    };
    let decisions = tables::decisions(&mut tx, import_id, &plan).await?;
    let processors = tables::processors(&plan, &decisions).map_err(ApplyFailure::Refused)?;
    let mut report = new_report(
        import_id,
        &session.file_name,
        session.file_size,
        &plan,
        session.source_system.as_deref(),
        options.dry_run,
    );
    report.column_mappings = tables::decided_rows(&plan, &decisions);
    let target = Target {
        client,
        engagement: session.engagement_id,
        import_id,
        dry_run: options.dry_run,
        flow_id: session.flow_id,
        user_id: options.user_id,
    };
    let source_system = report.source_system.clone();
    let lookup = Lookup {
        client,
        engagement: session.engagement_id,
        source_system: &source_system,
    };
    let mut rec = Reconciler::new(&mut tx, target, plan.layout(), report).await?;
    let applying = Applying {
        plan: &plan,
        processors: &processors,
        lookup: &lookup,
        import_id,
        file_size: session.file_size,
    };
    let counts = applying.rows(&mut tx, &mut rec, progress).await?;
    let mut report = rec.finish(&mut tx, progress).await?;
    report.tables = counts;
    progress(Progress::Committing);
    store::finish_session(&mut tx, import_id, client, &report).await?;
    super::apply_failure::clear(&mut tx, import_id).await?;
    tx.commit().await?;
    Ok(report)
}

/// What applying the staged rows needs.
struct Applying<'a> {
    plan: &'a Plan,
    processors: &'a [Processor],
    lookup: &'a Lookup<'a>,
    import_id: Uuid,
    file_size: u64,
}

impl Applying<'_> {
    /// Processes and reconciles every staged row, page by page; returns the count per table.
    async fn rows(
        &self,
        tx: &mut Tx,
        rec: &mut Reconciler,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Vec<TableReport>, ImportError> {
        let plan = self.plan;
        let mut counts = tables::reports(plan);
        let mut after: Option<(String, i64)> = None;
        loop {
            let page = store::staged_rows(tx, self.import_id, after.clone(), APPLY_PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(counts);
            };
            after = Some((last.table.clone(), last.row as i64));
            let of = |row: &ReadRow| plan.table_of(&row.table);
            // The machines the page's rows of asset details refer to.
            let ids: Vec<String> = page
                .iter()
                .filter_map(|r| {
                    let t = &plan.tables[of(r)?];
                    t.kind()
                        .is_asset_detail()
                        .then(|| super::companion::machine_id(t, &r.raw))
                        .flatten()
                })
                .collect();
            let machines = self.lookup.machines(tx, ids).await?;
            let (mut rows, mut tables) = (Vec::with_capacity(page.len()), Vec::new());
            for row in page {
                let t = of(&row);
                let row = match t {
                    Some(t) if plan.tables[t].kind().is_asset_detail() => {
                        machines
                            .prepare(&plan.tables[t], &self.processors[t], row)
                            .0
                    }
                    Some(t) => self.processors[t].process_staged(&plan.tables[t].headers, row),
                    // Not a table of the plan: reported as not processed.
                    None => row,
                };
                tables.push(t);
                rows.push(row);
            }
            let outcomes = rec.rows(tx, &rows).await?;
            for (outcome, t) in outcomes.iter().zip(tables) {
                if let Some(t) = t {
                    counts[t].count(outcome);
                }
            }
            store::update_rows(tx, self.import_id, outcomes).await?;
            progress(Progress::Rows {
                rows: rec.report.rows_read,
                file_bytes: self.file_size,
            });
        }
    }
}
