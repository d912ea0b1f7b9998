//! Importing an inventory file into an engagement's assets.
//!
//! [`run_import`] reads the file on a blocking thread ([`read`]: source, layout detection,
//! RVTools join, mapping proposal, cleansing), streams the rows in bounded batches, stages them
//! in `import_rows`, reconciles each row with the engagement's assets by the ordered identity
//! keys (source id, FQDN, host name, IP, MAC, name; the key index is loaded once), and writes
//! assets and dependencies. Everything of one import happens in one transaction in the
//! tenant's scope: an error rolls it back (no partial assets) and the session is then marked
//! `failed` with the error in a separate transaction. A dry run computes the same report and
//! writes no asset or dependency.

mod read;
mod reconcile;
mod store;

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

pub use read::MappingRow;

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
    /// The table imported (sheet name, or the file name for CSV and JSON).
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

/// Imports `path` into the engagement. `pool` is the runtime pool (row-level security).
pub async fn run_import(
    pool: &PgPool,
    client_account_id: Uuid,
    engagement_id: Uuid,
    path: &Path,
    options: &ImportOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ImportReport, FailedImport> {
    let scope = TenantScope::Client {
        client_account_id: ClientAccountId::from(client_account_id),
        user_id: options.user_id.map(UserId::from),
    };
    let fail = |import_id, error| FailedImport { import_id, error };
    let meta = store::file_meta(path, options.max_bytes)
        .await
        .map_err(|e| fail(None, e))?;
    let import_id = store::create_session(pool, scope, engagement_id, path, &meta, options)
        .await
        .map_err(|e| fail(None, e))?;
    match reconcile::import(
        pool,
        scope,
        import_id,
        engagement_id,
        path,
        &meta,
        options,
        progress,
    )
    .await
    {
        Ok(report) => Ok(report),
        Err(error) => {
            if let Err(e) = store::mark_failed(pool, scope, import_id, &error).await {
                tracing::error!(%import_id, error = %e, "could not mark the import failed");
            }
            Err(fail(Some(import_id), error))
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
