//! Importing an inventory file into an engagement's assets.
//!
//! The file is read on a blocking thread ([`read`]: source, the tables to import with their
//! layouts, joins such as RVTools', the [`plan`] with each table's mapping proposal) and
//! streamed table after table in bounded batches. Rows are staged in `import_rows`, reconciled
//! with the engagement's assets by the ordered identity keys (source id, FQDN, host name, IP,
//! MAC, name; the key index is a temporary table of the transaction, [`reconcile`]), and
//! written as assets and dependencies; rows of asset details imported on their own enrich the
//! stored assets ([`companion`]). Each table is reported on its own ([`tables`]).
//!
//! - [`run_import`]: one shot (the CLI): approved proposals are applied, needs-review columns
//!   are not.
//! - [`stage_import`] then [`apply_import`] (the discovery flow): the raw rows and the proposal
//!   are stored; once every column is decided, the staged rows are processed with the
//!   decided mapping.
//!
//! Each write phase is one transaction in the tenant's scope: an error rolls it back (no
//! partial assets) and the session is then marked `failed` with the error in a separate
//! transaction, except a failed apply of a staged import: its session returns to review with
//! the error, its staged rows kept, so that it can be applied again ([`apply_failure`]). A dry
//! run computes the same report and writes no asset or dependency.

mod apply_failure;
mod companion;
mod pipeline;
mod plan;
mod process;
mod read;
mod reconcile;
mod relations;
mod store;
mod tables;

use std::collections::BTreeMap;
use std::path::Path;

use modernize_db::tenant;
use modernize_domain::ids::{ClientAccountId, UserId};
use modernize_domain::tenancy::TenantScope;
use modernize_ingest::SourceError;
use modernize_ingest::source::Limits;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

pub use modernize_ingest::layout::SkippedTable;
pub use plan::MappingRow;
pub use relations::{RELATION_ROLES, editable_role_names, is_editable_role};
pub use tables::{StagedTable, TableReport};

/// Options of one import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Compute everything, write no asset or dependency.
    pub dry_run: bool,
    /// Qualifies source ids (default: from the layout, e.g. `servicenow`, `rvtools`).
    pub source_system: Option<String>,
    /// Mapping confidence needed for a column to be applied without review (0..1).
    pub threshold: f64,
    /// Largest accepted file.
    pub max_bytes: u64,
    /// The acting user (stored as `created_by`), if any.
    pub user_id: Option<Uuid>,
    /// The master flow the import belongs to, if any.
    pub flow_id: Option<Uuid>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            source_system: None,
            threshold: 0.8,
            max_bytes: Limits::default().max_bytes,
            user_id: None,
            flow_id: None,
        }
    }
}

/// Progress of an import, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Rows read, cleansed and reconciled so far; total bytes of the file.
    Rows { rows: u64, file_bytes: u64 },
    /// Writing dependencies.
    Dependencies,
    /// Committing.
    Committing,
}

/// The report of one import (also stored in `import_sessions.summary`).
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub import_id: Uuid,
    pub file_name: String,
    pub file_size_bytes: u64,
    pub format: String,
    /// The (first) table imported (sheet name, or the file name for CSV and JSON).
    pub table: String,
    pub layout: String,
    pub layout_confidence: f64,
    /// `assets` or `dependencies`.
    pub table_kind: String,
    pub dry_run: bool,
    /// `committed` or `dry_run_completed`.
    pub status: String,
    pub source_system: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_fixed: u64,
    pub rows_rejected: u64,
    /// Rejected rows by issue code.
    pub rejected_by_code: BTreeMap<String, u64>,
    /// Warnings by issue code (rows kept).
    pub warnings_by_code: BTreeMap<String, u64>,
    pub assets_created: u64,
    pub assets_updated: u64,
    pub assets_unchanged: u64,
    pub dependencies_created: u64,
    /// Dependencies not created: unresolved targets, self references (with a warning).
    pub dependencies_skipped: u64,
    pub column_mappings: Vec<MappingRow>,
    pub notes: Vec<String>,
    /// Every table imported, with its own layout and counts (dependencies are counted for
    /// the import as a whole).
    pub tables: Vec<TableReport>,
    /// The tables of the file that were not imported, with the reason.
    pub skipped_tables: Vec<SkippedTable>,
}

/// Why an import failed. Nothing was written to the inventory.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("engagement {0} not found")]
    EngagementNotFound(Uuid),
    #[error("{0}")]
    Source(#[from] SourceError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Db(#[from] modernize_db::DbError),
    #[error("import {0} not found")]
    ImportNotFound(Uuid),
    #[error("the import cannot be applied: it is {0}")]
    NotApplicable(String),
    #[error("the mapping of {} column(s) still needs review: {}", .0.len(), .0.join(", "))]
    MappingReviewPending(Vec<String>),
    #[error("import failed: {0}")]
    Internal(String),
}

impl ImportError {
    /// Stable code (the source error's code for unreadable files).
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::EngagementNotFound(_) => "engagement_not_found",
            ImportError::Source(e) => e.code(),
            ImportError::Database(_) | ImportError::Db(_) => "database_error",
            ImportError::ImportNotFound(_) => "import_not_found",
            ImportError::NotApplicable(_) => "import_not_applicable",
            ImportError::MappingReviewPending(_) => "mapping_review_pending",
            ImportError::Internal(_) => "import_failed",
        }
    }
}

/// An import that failed after its session was recorded.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct FailedImport {
    /// The `import_sessions` row (status `failed`), when one was created.
    pub import_id: Option<Uuid>,
    pub error: ImportError,
}

impl FailedImport {
    pub fn code(&self) -> &'static str {
        self.error.code()
    }
}

/// A staged import, waiting for its mapping to be decided and applied.
#[derive(Debug, Clone, Serialize)]
pub struct StagedImport {
    pub import_id: Uuid,
    pub rows_staged: u64,
    pub layout: String,
    pub layout_confidence: f64,
    /// `assets` or `dependencies`.
    pub table_kind: String,
    /// Columns whose mapping waits for a person.
    pub needs_review: u64,
    pub mappings: Vec<MappingRow>,
    /// Every table staged, with its layout and counts.
    pub tables: Vec<StagedTable>,
    /// The tables of the file that were not staged, with the reason.
    pub skipped_tables: Vec<SkippedTable>,
}

/// Options of applying a staged import.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub dry_run: bool,
    /// The acting user (stored as `created_by` of new assets), if any.
    pub user_id: Option<Uuid>,
}

fn client_scope(client_account_id: Uuid, user_id: Option<Uuid>) -> TenantScope {
    TenantScope::Client {
        client_account_id: ClientAccountId::from(client_account_id),
        user_id: user_id.map(UserId::from),
    }
}

/// The learned mapping corrections of the client (for the proposal).
async fn learned(
    pool: &PgPool,
    scope: TenantScope,
    client: Uuid,
) -> Result<Vec<modernize_ingest::mapping::LearnedCorrection>, ImportError> {
    let mut tx = begin(pool, scope).await?;
    let hints = crate::learning::mapping_hints(&mut tx, client).await?;
    tx.commit().await?;
    Ok(hints)
}

/// Imports `path` into the engagement in one go. `pool` is the runtime pool (row-level
/// security).
pub async fn run_import(
    pool: &PgPool,
    client_account_id: Uuid,
    engagement_id: Uuid,
    path: &Path,
    options: &ImportOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ImportReport, FailedImport> {
    let scope = client_scope(client_account_id, options.user_id);
    let fail = |import_id, error| FailedImport { import_id, error };
    let meta = store::file_meta(path, options.max_bytes)
        .await
        .map_err(|e| fail(None, e))?;
    let import_id = store::create_session(pool, scope, engagement_id, path, &meta, options)
        .await
        .map_err(|e| fail(None, e))?;
    let result = match learned(pool, scope, client_account_id).await {
        Ok(hints) => {
            pipeline::one_shot(
                pool,
                scope,
                import_id,
                engagement_id,
                path,
                &meta,
                options,
                hints,
                progress,
            )
            .await
        }
        Err(e) => Err(e),
    };
    settle(pool, scope, import_id, result).await
}

/// Marks the session failed when the import failed.
async fn settle<T>(
    pool: &PgPool,
    scope: TenantScope,
    import_id: Uuid,
    result: Result<T, ImportError>,
) -> Result<T, FailedImport> {
    match result {
        Ok(v) => Ok(v),
        Err(error) => {
            if let Err(e) = store::mark_failed(pool, scope, import_id, &error).await {
                tracing::error!(%import_id, error = %e, "could not mark the import failed");
            }
            Err(FailedImport {
                import_id: Some(import_id),
                error,
            })
        }
    }
}

/// Reads `path`, stages its raw rows and the proposed mapping for review (nothing is written
/// to the inventory). The session is `mapping_review` when a column needs review, else
/// `staged`.
pub async fn stage_import(
    pool: &PgPool,
    client_account_id: Uuid,
    engagement_id: Uuid,
    path: &Path,
    options: &ImportOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<StagedImport, FailedImport> {
    let scope = client_scope(client_account_id, options.user_id);
    let meta = store::file_meta(path, options.max_bytes)
        .await
        .map_err(|error| FailedImport {
            import_id: None,
            error,
        })?;
    let import_id = store::create_session(pool, scope, engagement_id, path, &meta, options)
        .await
        .map_err(|error| FailedImport {
            import_id: None,
            error,
        })?;
    let result = match learned(pool, scope, client_account_id).await {
        Ok(hints) => {
            pipeline::stage(
                pool, scope, import_id, path, &meta, options, hints, progress,
            )
            .await
        }
        Err(e) => Err(e),
    };
    settle(pool, scope, import_id, result).await
}

/// Applies a staged import with the decided mapping: cleansing, reconciliation, assets,
/// dependencies and the row outcomes, all or nothing. Refused without any change
/// (`import_not_found`, `import_not_applicable`, `mapping_review_pending`) when the import
/// cannot be applied now; after a failure while applying nothing is written, the session is
/// back in review with the error and may be applied again.
pub async fn apply_import(
    pool: &PgPool,
    client_account_id: Uuid,
    import_id: Uuid,
    options: &ApplyOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ImportReport, FailedImport> {
    let scope = client_scope(client_account_id, options.user_id);
    match pipeline::apply(pool, scope, import_id, options, progress).await {
        Ok(report) => Ok(report),
        Err(pipeline::ApplyFailure::Refused(error)) => Err(FailedImport {
            import_id: Some(import_id),
            error,
        }),
        Err(pipeline::ApplyFailure::Failed(error)) => {
            if let Err(e) = apply_failure::back_to_review(pool, scope, import_id, &error).await {
                tracing::error!(%import_id, error = %e, "could not record the failed apply");
            }
            Err(FailedImport {
                import_id: Some(import_id),
                error,
            })
        }
    }
}

/// Opens a tenant transaction (helper for the submodules).
async fn begin(
    pool: &PgPool,
    scope: TenantScope,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, ImportError> {
    Ok(tenant::begin(pool, scope).await?)
}
