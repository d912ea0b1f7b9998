//! Imports of an engagement: the sessions, the review of their column mappings (decisions,
//! single or bulk, all or nothing, learned as corrections) and the row-level report (JSON pages
//! or a CSV download safe against spreadsheet formula injection).
//!
//! This module holds the router, the sessions and their mappings; the decisions are in
//! `imports_decisions`, the report in `imports_report`. The database side lives in
//! `modernize_engine::import_review`.

use super::assets::require_engagement;
use super::{imports_decisions, imports_report};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, ErrorEnvelope, FieldError};
use crate::extract::{ApiPath, ApiQuery};
use crate::pagination;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use modernize_domain::access::Action;
use modernize_engine::import_review::{
    self as review, MappingView, Problem, ReviewError, SessionView,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_imports))
        .routes(routes!(get_import))
        .routes(routes!(list_import_mappings))
        .routes(routes!(imports_decisions::decide_import_mappings))
        .routes(routes!(imports_report::list_import_rows))
        .routes(routes!(imports_report::export_import_report))
}

fn details(problems: Vec<Problem>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|p| FieldError {
            field: p.field,
            message: p.message,
        })
        .collect()
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::NotFound => ApiError::not_found("import"),
            ReviewError::NotReviewable(status) => ApiError::new(
                ErrorCode::ImportNotReviewable,
                format!(
                    "the import is {status}; mappings can only be decided while it is staged \
                     or in mapping review"
                ),
            ),
            ReviewError::Invalid(p) => ApiError::validation(details(p)),
            ReviewError::Conflict(p) => {
                let mut e = ApiError::new(
                    ErrorCode::MappingTargetConflict,
                    "two columns of a table would have the same target; nothing was changed",
                );
                e.details = details(p);
                e
            }
            ReviewError::InvalidRole(p) => {
                let mut e = ApiError::new(
                    ErrorCode::InvalidRelationRole,
                    "a column of the relationship file would get a role the import cannot use; \
                     nothing was changed",
                );
                e.details = details(p);
                e
            }
            ReviewError::Database(e) => e.into(),
            ReviewError::Flow(e) => e.into(),
        }
    }
}

/// An import of a file into the engagement.
#[derive(Debug, Serialize, ToSchema)]
pub struct Import {
    pub id: Uuid,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    /// The discovery flow the import belongs to, if any.
    pub flow_id: Option<Uuid>,
    pub file_name: String,
    pub file_size_bytes: Option<i64>,
    pub file_sha256: Option<String>,
    /// csv, xlsx, json or ndjson.
    pub format: Option<String>,
    /// The table imported (sheet name, or the file name).
    pub table_name: Option<String>,
    /// assets or dependencies.
    pub table_kind: Option<String>,
    /// The detected layout (rvtools, servicenow_cmdb_ci_server, generic...).
    pub layout: Option<String>,
    pub layout_confidence: Option<f64>,
    pub source_system: Option<String>,
    pub dry_run: bool,
    /// staged, mapping_review, committed, dry_run_completed or failed.
    pub status: String,
    pub rows_read: i64,
    pub rows_rejected: i64,
    pub assets_created: i64,
    pub assets_updated: i64,
    pub assets_unchanged: i64,
    pub dependencies_created: i64,
    pub mappings_total: i64,
    /// Columns whose mapping waits for a person.
    pub mappings_needing_review: i64,
    /// The import report once applied (counts by issue code, mappings, notes).
    #[schema(value_type = Object)]
    pub summary: Value,
    /// Why the import failed (status failed), or why its last apply failed (status staged or
    /// mapping_review: nothing was written, it can be applied again); cleared once applied.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<SessionView> for Import {
    fn from(s: SessionView) -> Self {
        Import {
            id: s.id,
            client_account_id: s.client_account_id,
            engagement_id: s.engagement_id,
            flow_id: s.flow_id,
            file_name: s.file_name,
            file_size_bytes: s.file_size_bytes,
            file_sha256: s.file_sha256,
            format: s.format,
            table_name: s.table_name,
            table_kind: s.table_kind,
            layout: s.layout,
            layout_confidence: s.layout_confidence,
            source_system: s.source_system,
            dry_run: s.dry_run,
            status: s.status,
            rows_read: s.rows_read,
            rows_rejected: s.rows_rejected,
            assets_created: s.assets_created,
            assets_updated: s.assets_updated,
            assets_unchanged: s.assets_unchanged,
            dependencies_created: s.dependencies_created,
            mappings_total: s.mappings_total,
            mappings_needing_review: s.mappings_needing_review,
            summary: s.summary,
            error_code: s.error_code,
            error_message: s.error_message,
            created_by: s.created_by,
            created_at: s.created_at,
            updated_at: s.updated_at,
            completed_at: s.completed_at,
        }
    }
}

/// An import with its rows counted by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportDetail {
    #[serde(flatten)]
    pub import: Import,
    /// Rows by status: staged, accepted, fixed, rejected.
    pub row_counts: BTreeMap<String, i64>,
}

/// A page of imports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportPage {
    pub items: Vec<Import>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filter and page of the import listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportListQuery {
    /// staged, mapping_review, committed, dry_run_completed or failed.
    pub status: Option<String>,
    /// 1..200, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// List the imports of an engagement, newest first.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/imports",
    tag = "imports",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ImportListQuery),
    responses((status = 200, body = ImportPage), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_imports(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(query): ApiQuery<ImportListQuery>,
) -> Result<Json<ImportPage>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut c = Checks::new();
    c.one_of("status", query.status.as_deref(), review::SESSION_STATUSES);
    let limit = pagination::limit(&mut c, query.limit.as_deref());
    let after: Option<(DateTime<Utc>, Uuid)> = pagination::decode(&mut c, query.after.as_deref());
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    require_engagement(&mut tx, client_id, engagement_id).await?;
    let mut rows = review::list_sessions(
        &mut tx,
        client_id,
        engagement_id,
        query.status.as_deref(),
        after,
        limit + 1,
    )
    .await?;
    tx.commit().await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|s| pagination::encode(&(s.created_at, s.id)))
    } else {
        None
    };
    Ok(Json(ImportPage {
        items: rows.into_iter().map(Import::from).collect(),
        next_cursor,
    }))
}

/// An import of the engagement: status, layout, counts, summary, error, rows by status.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/imports/{import_id}",
    tag = "imports",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("import_id" = Uuid, Path)),
    responses((status = 200, body = ImportDetail), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_import(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, import_id)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<ImportDetail>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let session = review::get_session(&mut tx, client_id, engagement_id, import_id)
        .await?
        .ok_or_else(|| ApiError::not_found("import"))?;
    let row_counts = review::row_counts(&mut tx, client_id, import_id).await?;
    tx.commit().await?;
    Ok(Json(ImportDetail {
        import: session.into(),
        row_counts,
    }))
}

/// The mapping of one source column.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportMapping {
    pub table: String,
    pub source_column: String,
    /// 0-based position of the column.
    pub column_index: i32,
    /// Asset attribute, custom attribute name or relation role; absent for ignore.
    pub target: Option<String>,
    /// attribute, custom or ignore; relation or ignore for the columns of a relationship
    /// file.
    pub target_kind: String,
    /// The agent's confidence, 0..1.
    pub confidence: f64,
    /// approved, needs_review, edited or rejected.
    pub status: String,
    /// Why the agent proposed it.
    pub reason: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The agent's proposal, when it differs from the current target after an edit.
    pub proposed_target: Option<String>,
    pub proposed_target_kind: Option<String>,
    /// Values of the column in the first rows.
    pub sample_values: Vec<String>,
}

impl From<MappingView> for ImportMapping {
    fn from(m: MappingView) -> Self {
        ImportMapping {
            table: m.table,
            source_column: m.source_column,
            column_index: m.column_index,
            target: m.target,
            target_kind: m.target_kind,
            confidence: m.confidence,
            status: m.status,
            reason: m.reason,
            decided_by: m.decided_by,
            decided_at: m.decided_at,
            proposed_target: m.proposed_target,
            proposed_target_kind: m.proposed_target_kind,
            sample_values: m.sample_values,
        }
    }
}

/// Every column mapping of an import, with confidence, reason, status and who decided.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/imports/{import_id}/mappings",
    tag = "imports",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("import_id" = Uuid, Path)),
    responses((status = 200, body = Vec<ImportMapping>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_import_mappings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, import_id)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<Vec<ImportMapping>>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let mappings = review::list_mappings(&mut tx, client_id, engagement_id, import_id)
        .await?
        .ok_or_else(|| ApiError::not_found("import"))?;
    tx.commit().await?;
    Ok(Json(
        mappings.into_iter().map(ImportMapping::from).collect(),
    ))
}
