//! Audit events raised by the HTTP layer. Events about a request's own changes are written in
//! that request's transaction (they commit or roll back with the change); failures and denials
//! are written in a transaction of their own, because the request itself fails.

use super::caller::Caller;
use super::request_meta::RequestMeta;
use crate::error::ErrorCode;
use crate::state::AppState;
use modernize_db::audit::{self, AuditRecord};
use modernize_domain::access::{Action, Target};
use modernize_domain::tenancy::TenantScope;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

/// Writes `event` in its own platform-scope transaction; a failure to audit is logged, never
/// hidden, but does not change the answer to the client.
pub async fn record_detached(state: &AppState, event: AuditRecord) {
    let result = async {
        let mut tx =
            modernize_db::tenant::begin(&state.db.app, TenantScope::Platform { user_id: None })
                .await?;
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok::<_, modernize_db::DbError>(())
    }
    .await;
    if let Err(error) = result {
        tracing::error!(%error, event_type = %event.event_type, "cannot write audit event");
    }
}

/// A change made by `caller`, recorded in the request's transaction.
#[allow(clippy::too_many_arguments)]
pub async fn record_change(
    conn: &mut PgConnection,
    caller: &Caller,
    client_account_id: Option<Uuid>,
    event_type: &str,
    category: &'static str,
    target_type: &str,
    target_id: String,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    audit::record(
        conn,
        &AuditRecord {
            client_account_id,
            event_type: event_type.into(),
            event_category: category,
            severity: "INFO",
            actor_user_id: caller.user_id.to_string(),
            actor_email: Some(caller.email.clone()),
            actor_role: Some(caller.role_label()),
            target_type: Some(target_type.into()),
            target_id: Some(target_id),
            ip_address: caller.meta.ip.clone(),
            user_agent: caller.meta.user_agent.clone(),
            request_id: caller.meta.request_id.clone(),
            action: event_type.into(),
            result: "success",
            details,
            ..AuditRecord::default()
        },
    )
    .await?;
    Ok(())
}

pub async fn authentication_failed(
    state: &AppState,
    meta: &RequestMeta,
    reason: &str,
    user: Option<(Uuid, &str)>,
) {
    record_detached(
        state,
        AuditRecord {
            event_type: "auth.failed".into(),
            event_category: "auth",
            severity: "WARNING",
            actor_user_id: user.map_or_else(|| "anonymous".into(), |(id, _)| id.to_string()),
            actor_email: user.map(|(_, email)| email.to_string()),
            ip_address: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            request_id: meta.request_id.clone(),
            action: "authenticate".into(),
            result: "failure",
            error_code: Some(reason.into()),
            ..AuditRecord::default()
        },
    )
    .await;
}

pub async fn access_denied(
    state: &AppState,
    caller: &Caller,
    action: Action,
    target: Target,
    code: ErrorCode,
) {
    let (client, target_type, target_id) = match target {
        Target::Platform => (None, "platform", None),
        Target::Client(c) => (Some(c.0), "client_account", Some(c.to_string())),
        Target::Engagement(c, e) => (Some(c.0), "engagement", Some(e.to_string())),
    };
    record_detached(
        state,
        AuditRecord {
            // Recorded under the caller's own view, not the probed client's: the probed
            // client's administrators would otherwise learn of probes against ids that do not
            // exist for them; platform administrators see every denial.
            client_account_id: None,
            event_type: "access.denied".into(),
            event_category: "access",
            severity: "WARNING",
            actor_user_id: caller.user_id.to_string(),
            actor_email: Some(caller.email.clone()),
            actor_role: Some(caller.role_label()),
            target_type: Some(target_type.into()),
            target_id,
            target_details: json!({"client_account_id": client}),
            ip_address: caller.meta.ip.clone(),
            user_agent: caller.meta.user_agent.clone(),
            request_id: caller.meta.request_id.clone(),
            action: format!("{action:?}"),
            result: "failure",
            error_code: Some(code.as_str().into()),
            requires_review: true,
            ..AuditRecord::default()
        },
    )
    .await;
}
