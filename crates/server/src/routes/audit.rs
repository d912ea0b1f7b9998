//! Searching the security audit log: platform administrators across the platform, client
//! administrators (`ReadAudit`) within their client; marking events reviewed.
//!
//! Rows are append-only in the database (a trigger allows changing the review columns only).

use super::user_common;
use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiPath, ApiQuery};
use crate::pagination;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use modernize_domain::access::{Action, Target};
use modernize_domain::ids::ClientAccountId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_events))
        .routes(routes!(list_client_audit_events))
        .routes(routes!(review_audit_event))
}

const CATEGORIES: &[&str] = &["auth", "access", "data", "config"];
const SEVERITIES: &[&str] = &["INFO", "WARNING", "ERROR", "CRITICAL"];

/// One security audit event.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: Uuid,
    pub client_account_id: Option<Uuid>,
    pub event_type: String,
    /// auth, access, data or config.
    pub event_category: String,
    /// INFO, WARNING, ERROR or CRITICAL.
    pub severity: Option<String>,
    /// A user id, `system` or `anonymous`.
    pub actor_user_id: String,
    pub actor_email: Option<String>,
    pub actor_role: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_details: Option<Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    /// success, failure or error.
    pub result: String,
    pub error_code: Option<String>,
    pub details: Option<Value>,
    pub requires_review: Option<bool>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewed_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, client_account_id, event_type, event_category, severity, actor_user_id, \
    actor_email, actor_role, target_type, target_id, target_details, ip_address, user_agent, request_id, \
    action, result, error_code, details, requires_review, reviewed_at, reviewed_by, created_at";

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `after` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Search filters; all optional and combined with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub event_type: Option<String>,
    /// auth, access, data or config.
    pub event_category: Option<String>,
    /// INFO, WARNING, ERROR or CRITICAL.
    pub severity: Option<String>,
    /// A user id (or `system`, `anonymous`) or an e-mail address.
    pub actor: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// RFC 3339; events at or after this instant.
    pub from: Option<String>,
    /// RFC 3339; events at or before this instant.
    pub to: Option<String>,
    /// true or false.
    pub requires_review: Option<String>,
    /// true: reviewed events only; false: not yet reviewed.
    pub reviewed: Option<String>,
    /// Platform search only: events of this client account.
    pub client_account_id: Option<String>,
    /// 1..200, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

fn flag(c: &mut Checks, field: &str, value: Option<&str>) -> Option<bool> {
    match value? {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            c.fail(field, "must be true or false");
            None
        }
    }
}

/// Validated filters.
struct Search {
    client: Option<Uuid>,
    actor_id: Option<String>,
    actor_email: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    requires_review: Option<bool>,
    reviewed: Option<bool>,
    limit: i64,
    after: Option<(DateTime<Utc>, Uuid)>,
}

fn parse(q: &AuditQuery, client: Option<Uuid>) -> Result<Search, ApiError> {
    let mut c = Checks::new();
    c.one_of("event_category", q.event_category.as_deref(), CATEGORIES);
    c.one_of("severity", q.severity.as_deref(), SEVERITIES);
    c.text("event_type", q.event_type.as_deref(), 100, false);
    c.text("target_type", q.target_type.as_deref(), 50, false);
    c.text("target_id", q.target_id.as_deref(), 36, false);
    c.text("actor", q.actor.as_deref(), 255, false);
    let from = user_common::timestamp(&mut c, "from", q.from.as_deref());
    let to = user_common::timestamp(&mut c, "to", q.to.as_deref());
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        c.fail("to", "must not be before from");
    }
    let requires_review = flag(&mut c, "requires_review", q.requires_review.as_deref());
    let reviewed = flag(&mut c, "reviewed", q.reviewed.as_deref());
    let client = client
        .or_else(|| user_common::uuid(&mut c, "client_account_id", q.client_account_id.as_deref()));
    let limit = pagination::limit(&mut c, q.limit.as_deref());
    let cursor: Option<(i64, Uuid)> = pagination::decode(&mut c, q.after.as_deref());
    let after = match cursor {
        Some((micros, id)) => match DateTime::from_timestamp_micros(micros) {
            Some(at) => Some((at, id)),
            None => {
                c.fail("after", "is not a valid cursor");
                None
            }
        },
        None => None,
    };
    c.finish()?;
    let (actor_id, actor_email) = match q.actor.as_deref().map(str::trim) {
        Some(a) if a.contains('@') => (None, Some(a.to_lowercase())),
        Some(a) => (Some(a.to_lowercase()), None),
        None => (None, None),
    };
    Ok(Search {
        client,
        actor_id,
        actor_email,
        from,
        to,
        requires_review,
        reviewed,
        limit,
        after,
    })
}

async fn search(conn: &mut PgConnection, q: &AuditQuery, s: Search) -> Result<AuditPage, ApiError> {
    let mut items: Vec<AuditEvent> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.security_audit_logs \
          WHERE ($1::uuid IS NULL OR client_account_id = $1) \
            AND ($2::text IS NULL OR event_type = $2) \
            AND ($3::text IS NULL OR event_category = $3) \
            AND ($4::text IS NULL OR severity = $4) \
            AND ($5::text IS NULL OR actor_user_id = $5) \
            AND ($6::text IS NULL OR lower(actor_email) = $6) \
            AND ($7::text IS NULL OR target_type = $7) \
            AND ($8::text IS NULL OR target_id = $8) \
            AND ($9::timestamptz IS NULL OR created_at >= $9) \
            AND ($10::timestamptz IS NULL OR created_at <= $10) \
            AND ($11::boolean IS NULL OR coalesce(requires_review, false) = $11) \
            AND ($12::boolean IS NULL OR (reviewed_at IS NOT NULL) = $12) \
            AND ($13::timestamptz IS NULL OR (created_at, id) < ($13, $14::uuid)) \
          ORDER BY created_at DESC, id DESC LIMIT $15"
    ))
    .bind(s.client)
    .bind(&q.event_type)
    .bind(&q.event_category)
    .bind(&q.severity)
    .bind(&s.actor_id)
    .bind(&s.actor_email)
    .bind(&q.target_type)
    .bind(&q.target_id)
    .bind(s.from)
    .bind(s.to)
    .bind(s.requires_review)
    .bind(s.reviewed)
    .bind(s.after.map(|a| a.0))
    .bind(s.after.map(|a| a.1))
    .bind(s.limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let next_cursor = if items.len() as i64 > s.limit {
        items.truncate(s.limit as usize);
        items
            .last()
            .map(|e| pagination::encode(&(e.created_at.timestamp_micros(), e.id)))
    } else {
        None
    };
    Ok(AuditPage { items, next_cursor })
}

/// Search the whole security audit log (platform administrators), newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit-events", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let scope = caller
        .authorize(&state, Action::ReadAudit, Target::Platform)
        .await?;
    let filters = parse(&query, None)?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let page = search(&mut tx, &query, filters).await?;
    tx.commit().await?;
    Ok(Json(page))
}

/// Search the audit events of one client account, newest first.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/audit-events", tag = "audit",
    params(("client_id" = Uuid, Path), AuditQuery),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_client_audit_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let scope = caller
        .authorize(
            &state,
            Action::ReadAudit,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    if query.client_account_id.is_some() {
        let mut c = Checks::new();
        c.fail(
            "client_account_id",
            "not allowed here: the path names the client",
        );
        c.finish()?;
    }
    // The client's own rows: filtered here, and row-level security of the client scope
    // guarantees it.
    let filters = parse(&query, Some(client_id))?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let page = search(&mut tx, &query, filters).await?;
    tx.commit().await?;
    Ok(Json(page))
}

/// Mark an audit event reviewed (platform administrators). An event is reviewed once.
#[utoipa::path(post, path = "/api/v1/admin/audit-events/{event_id}/review", tag = "audit",
    params(("event_id" = Uuid, Path)),
    responses((status = 200, body = AuditEvent), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn review_audit_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(event_id): ApiPath<Uuid>,
) -> Result<Json<AuditEvent>, ApiError> {
    let scope = caller
        .authorize(&state, Action::ManagePlatform, Target::Platform)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    // The key is (id, created_at); ids are random UUIDs, so the id alone names one row.
    let reviewed: Option<AuditEvent> = sqlx::query_as(&format!(
        "UPDATE migration.security_audit_logs SET reviewed_at = now(), reviewed_by = $2 \
          WHERE id = $1 AND reviewed_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(event_id)
    .bind(caller.user_id.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(event) = reviewed else {
        let (exists,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM migration.security_audit_logs WHERE id = $1)",
        )
        .bind(event_id)
        .fetch_one(&mut *tx)
        .await?;
        return Err(if exists {
            ApiError::new(ErrorCode::Conflict, "the event is already reviewed")
        } else {
            ApiError::not_found("audit event")
        });
    };
    audit::record_change(
        &mut tx,
        &caller,
        event.client_account_id,
        "audit.reviewed",
        "access",
        "audit_event",
        event_id.to_string(),
        json!({"event_type": event.event_type}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(event))
}
