//! Decisions on the column mappings of an import (approve, edit, reject, approve all), all or
//! nothing, audited; the database side is `modernize_engine::import_review::decide`.

use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use modernize_domain::access::Action;
use modernize_engine::import_review::{
    self as review, DecisionInput, DecisionOutcome, DecisionRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

/// A decision on one column.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingDecision {
    /// The column's table; may be omitted when the column name is unique in the import.
    pub table: Option<String>,
    pub source_column: Option<String>,
    /// approve (take the agent's proposal), edit (take `target_kind`/`target`) or reject (do
    /// not import the column).
    pub action: Option<String>,
    /// For edit: attribute, custom or ignore; for a column of a relationship file, relation
    /// or ignore.
    pub target_kind: Option<String>,
    /// For edit: an asset attribute name (attribute), a custom attribute name (custom, at
    /// most 255 characters) or a relation role (relation: source, target, target_ip, type,
    /// strength or port); absent for ignore.
    pub target: Option<String>,
}

/// Decisions on the mappings of an import: a list, and/or approve every column still needing
/// review.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingDecisions {
    /// At most 1000 decisions, one per column.
    #[serde(default)]
    pub decisions: Vec<MappingDecision>,
    /// Approve every column still needing review (after `decisions`).
    #[serde(default)]
    pub approve_all: bool,
}

/// What a decision did to a column.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecidedMapping {
    pub table: String,
    pub source_column: String,
    /// approved, edited or rejected.
    pub status: String,
    /// attribute, custom, relation (a column of a relationship file) or ignore.
    pub target_kind: String,
    pub target: Option<String>,
    /// False when the column already had this status and target.
    pub changed: bool,
    /// The learning pattern the correction was recorded in (edits and rejections).
    pub learning_pattern_id: Option<Uuid>,
}

/// The outcome of decisions.
#[derive(Debug, Serialize, ToSchema)]
pub struct MappingDecisionResult {
    pub import_id: Uuid,
    /// The import's status afterwards: staged (ready to apply) or mapping_review.
    pub status: String,
    pub approved: u64,
    pub edited: u64,
    pub rejected: u64,
    pub unchanged: u64,
    /// Columns still needing review.
    pub needs_review: u64,
    pub columns: Vec<DecidedMapping>,
    /// The import's flow, when these decisions approved its waiting analysis phase.
    pub flow_resumed: Option<Uuid>,
}

impl From<DecisionOutcome> for MappingDecisionResult {
    fn from(o: DecisionOutcome) -> Self {
        MappingDecisionResult {
            import_id: o.import_id,
            status: o.status,
            approved: o.approved,
            edited: o.edited,
            rejected: o.rejected,
            unchanged: o.unchanged,
            needs_review: o.needs_review,
            columns: o
                .columns
                .into_iter()
                .map(|c| DecidedMapping {
                    table: c.table,
                    source_column: c.source_column,
                    status: c.status,
                    target_kind: c.target_kind,
                    target: c.target,
                    changed: c.changed,
                    learning_pattern_id: c.learning_pattern_id,
                })
                .collect(),
            flow_resumed: o.flow_resumed,
        }
    }
}

/// Decide column mappings of a staged import: approve, edit or reject columns, one or many,
/// or approve every column still needing review. The columns of a relationship file take a
/// relation role (source, target, target_ip, type, strength, port) or are ignored. All or
/// nothing: one invalid entry answers 422 with a detail per entry (`invalid_relation_role`
/// for a role the import cannot use, or a relationship file left without its source or
/// target column), a target given to two columns of a table answers 409
/// `mapping_target_conflict`, and nothing changes. Only while the import is staged or in
/// mapping review (else 409 `import_not_reviewable`). Edits and rejections of asset columns
/// are learned for the client's next imports.
#[utoipa::path(post,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/imports/{import_id}/mappings/decisions",
    tag = "imports",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("import_id" = Uuid, Path)),
    request_body = MappingDecisions,
    responses((status = 200, body = MappingDecisionResult), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn decide_import_mappings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, import_id)): ApiPath<(Uuid, Uuid, Uuid)>,
    ApiJson(body): ApiJson<MappingDecisions>,
) -> Result<Json<MappingDecisionResult>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::WriteEngagement, client_id, engagement_id)
        .await?;
    let inputs: Vec<DecisionInput> = body
        .decisions
        .into_iter()
        .map(|d| DecisionInput {
            table: d.table,
            source_column: d.source_column,
            action: d.action,
            target_kind: d.target_kind,
            target: d.target,
        })
        .collect();
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let outcome = review::decide(
        &mut tx,
        &DecisionRequest {
            client_account_id: client_id,
            engagement_id,
            import_id,
            user_id: caller.user_id.0,
            decisions: &inputs,
            approve_all: body.approve_all,
        },
    )
    .await?;
    let changed: Vec<Value> = outcome
        .columns
        .iter()
        .filter(|c| c.changed)
        .map(|c| {
            json!({"table": c.table, "source_column": c.source_column, "status": c.status,
                   "target_kind": c.target_kind, "target": c.target})
        })
        .collect();
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "import.mappings_decided",
        "data",
        "import",
        import_id.to_string(),
        json!({
            "engagement_id": engagement_id,
            "approve_all": body.approve_all,
            "approved": outcome.approved, "edited": outcome.edited,
            "rejected": outcome.rejected, "unchanged": outcome.unchanged,
            "needs_review": outcome.needs_review, "status": outcome.status,
            "flow_resumed": outcome.flow_resumed,
            "columns": changed,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(outcome.into()))
}
