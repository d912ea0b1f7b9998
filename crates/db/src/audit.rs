//! Writing `security_audit_logs`. Rows are append-only (a trigger refuses changes other than
//! the review columns, and deletes).

use sqlx::PgConnection;
use uuid::Uuid;

/// One audit event. `actor_user_id` is the acting user's id, or `system` / `anonymous`.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub client_account_id: Option<Uuid>,
    pub event_type: String,
    pub event_category: &'static str,
    pub severity: &'static str,
    pub actor_user_id: String,
    pub actor_email: Option<String>,
    pub actor_role: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_details: serde_json::Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub session_id: Option<String>,
    pub action: String,
    pub result: &'static str,
    pub error_code: Option<String>,
    pub details: serde_json::Value,
    pub requires_review: bool,
}

/// Inserts the event. Must run in a transaction whose scope may write the row: the client's
/// own, or platform scope (always so for events without a client).
pub async fn record(conn: &mut PgConnection, event: &AuditRecord) -> Result<Uuid, sqlx::Error> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.security_audit_logs \
            (client_account_id, event_type, event_category, severity, actor_user_id, actor_email, \
             actor_role, target_type, target_id, target_details, ip_address, user_agent, request_id, \
             session_id, action, result, error_code, details, requires_review) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         RETURNING id",
    )
    .bind(event.client_account_id)
    .bind(&event.event_type)
    .bind(event.event_category)
    .bind(event.severity)
    .bind(&event.actor_user_id)
    .bind(&event.actor_email)
    .bind(&event.actor_role)
    .bind(&event.target_type)
    .bind(&event.target_id)
    .bind(if event.target_details.is_null() { serde_json::json!({}) } else { event.target_details.clone() })
    .bind(&event.ip_address)
    .bind(&event.user_agent)
    .bind(&event.request_id)
    .bind(&event.session_id)
    .bind(&event.action)
    .bind(event.result)
    .bind(&event.error_code)
    .bind(if event.details.is_null() { serde_json::json!({}) } else { event.details.clone() })
    .bind(event.requires_review)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}
