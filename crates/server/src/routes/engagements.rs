//! Engagements: the projects of a client account.

use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::clients::require_active_locked;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use modernize_domain::access::{Action, Scope, Target};
use modernize_domain::ids::ClientAccountId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_engagement, list_engagements))
        .routes(routes!(get_engagement, update_engagement))
}

pub const TYPES: &[&str] = &["assessment", "migration", "modernization"];
pub const COMPLEXITIES: &[&str] = &["low", "medium", "high", "very_high"];
pub const STATUSES: &[&str] = &[
    "planning",
    "active",
    "on_hold",
    "completed",
    "cancelled",
    "archived",
];

/// An engagement.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Engagement {
    pub id: Uuid,
    pub client_account_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub engagement_type: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub status: Option<String>,
    pub target_applications: Option<i32>,
    pub target_infrastructure_units: Option<i32>,
    pub estimated_complexity: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
}

const COLUMNS: &str = "id, client_account_id, name, description, engagement_type, start_date, end_date, \
    status, target_applications, target_infrastructure_units, estimated_complexity, created_at, \
    updated_at, created_by";

/// Settable fields; on update, absent fields stay unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngagementFields {
    pub name: Option<String>,
    pub description: Option<String>,
    /// assessment, migration or modernization.
    pub engagement_type: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// planning, active, on_hold, completed, cancelled or archived.
    pub status: Option<String>,
    pub target_applications: Option<i32>,
    pub target_infrastructure_units: Option<i32>,
    /// low, medium, high or very_high.
    pub estimated_complexity: Option<String>,
}

impl EngagementFields {
    fn check(&self, creating: bool) -> Result<(), ApiError> {
        let mut c = Checks::new();
        c.text("name", self.name.as_deref(), 255, creating);
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            c.fail("name", "must not be blank");
        }
        c.one_of("engagement_type", self.engagement_type.as_deref(), TYPES);
        c.one_of("status", self.status.as_deref(), STATUSES);
        c.one_of(
            "estimated_complexity",
            self.estimated_complexity.as_deref(),
            COMPLEXITIES,
        );
        c.non_negative(
            "target_applications",
            self.target_applications.map(i64::from),
        );
        c.non_negative(
            "target_infrastructure_units",
            self.target_infrastructure_units.map(i64::from),
        );
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            c.fail("end_date", "must not be before start_date");
        }
        c.finish()
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds the settable fields as parameters $3..$11, in declaration order: the INSERT of
/// `create_engagement` and the UPDATE of `update_engagement` both number them so.
fn bind_fields<'q>(query: PgQuery<'q>, fields: &'q EngagementFields) -> PgQuery<'q> {
    query
        .bind(fields.name.as_deref().map(str::trim))
        .bind(&fields.description)
        .bind(&fields.engagement_type)
        .bind(fields.start_date)
        .bind(fields.end_date)
        .bind(&fields.status)
        .bind(fields.target_applications)
        .bind(fields.target_infrastructure_units)
        .bind(&fields.estimated_complexity)
}

async fn fetch(conn: &mut PgConnection, client_id: Uuid, id: Uuid) -> Result<Engagement, ApiError> {
    // Both ids, always: an engagement id under another client's path is simply not found.
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.engagements WHERE id = $1 AND client_account_id = $2"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("engagement"))
}

/// Create an engagement (client administrators). Refused beyond the client's `max_engagements`.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements", tag = "engagements",
    params(("client_id" = Uuid, Path)), request_body = EngagementFields,
    responses((status = 201, body = Engagement), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_engagement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(fields): ApiJson<EngagementFields>,
) -> Result<(StatusCode, Json<Engagement>), ApiError> {
    let scope = caller
        .authorize(
            &state,
            Action::CreateEngagement,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    fields.check(true)?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let client = require_active_locked(&mut tx, client_id).await?;
    if let Some(max) = client.max_engagements {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM migration.engagements WHERE client_account_id = $1",
        )
        .bind(client_id)
        .fetch_one(&mut *tx)
        .await?;
        if count >= i64::from(max) {
            return Err(ApiError::new(
                ErrorCode::LimitExceeded,
                format!("the client account allows at most {max} engagements"),
            ));
        }
    }
    let id = Uuid::new_v4();
    bind_fields(sqlx::query(
        "INSERT INTO migration.engagements (id, client_account_id, name, description, engagement_type, \
             start_date, end_date, status, target_applications, target_infrastructure_units, \
             estimated_complexity, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 'planning'), $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(client_id), &fields)
    .bind(caller.user_id.0)
    .execute(&mut *tx)
    .await?;
    let engagement = fetch(&mut tx, client_id, id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "engagement.created",
        "config",
        "engagement",
        id.to_string(),
        json!({"name": engagement.name}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(engagement)))
}

/// List the engagements of a client the caller may see: all of them with a client-level role,
/// else only those they hold a role on.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/engagements", tag = "engagements",
    params(("client_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Engagement>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_engagements(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Engagement>>, ApiError> {
    let client = ClientAccountId(client_id);
    let scope = caller
        .authorize(&state, Action::ReadClient, Target::Client(client))
        .await?;
    let whole_client = caller.is_platform_admin()
        || caller.grants.iter().any(|g| {
            g.scope
                == Scope::Client {
                    client_account_id: client,
                }
        });
    let only: Vec<Uuid> = caller
        .grants
        .iter()
        .filter_map(|g| match g.scope {
            Scope::Engagement {
                client_account_id,
                engagement_id,
            } if client_account_id == client => Some(engagement_id.0),
            _ => None,
        })
        .collect();
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.engagements \
          WHERE client_account_id = $1 AND ($2 OR id = ANY($3)) ORDER BY created_at, id"
    ))
    .bind(client_id)
    .bind(whole_client)
    .bind(&only)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Read one engagement.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}", tag = "engagements",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path)),
    responses((status = 200, body = Engagement), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_engagement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Engagement>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let engagement = fetch(&mut tx, client_id, engagement_id).await?;
    tx.commit().await?;
    Ok(Json(engagement))
}

/// Change an engagement (its administrators and the client's).
#[utoipa::path(patch, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}", tag = "engagements",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path)), request_body = EngagementFields,
    responses((status = 200, body = Engagement), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_engagement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(fields): ApiJson<EngagementFields>,
) -> Result<Json<Engagement>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ManageEngagement, client_id, engagement_id)
        .await?;
    fields.check(false)?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let current = fetch(&mut tx, client_id, engagement_id).await?;
    let start = fields.start_date.or(current.start_date);
    let end = fields.end_date.or(current.end_date);
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        let mut c = Checks::new();
        c.fail("end_date", "must not be before start_date");
        c.finish()?;
    }
    bind_fields(sqlx::query(
        "UPDATE migration.engagements SET name = coalesce($3, name), description = coalesce($4, description), \
            engagement_type = coalesce($5, engagement_type), start_date = coalesce($6, start_date), \
            end_date = coalesce($7, end_date), status = coalesce($8, status), \
            target_applications = coalesce($9, target_applications), \
            target_infrastructure_units = coalesce($10, target_infrastructure_units), \
            estimated_complexity = coalesce($11, estimated_complexity) \
         WHERE id = $1 AND client_account_id = $2",
    )
    .bind(engagement_id)
    .bind(client_id), &fields)
    .execute(&mut *tx)
    .await?;
    let engagement = fetch(&mut tx, client_id, engagement_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "engagement.updated",
        "config",
        "engagement",
        engagement_id.to_string(),
        json!({"status": engagement.status}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(engagement))
}
