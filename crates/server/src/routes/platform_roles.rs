//! Platform-level role grants (global administrators), and revocation of any role of a user:
//! platform administrators only.

use super::user_common::{self, RoleGrant};
use super::users::{authorize, keep_an_admin};
use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modernize_db::{identity, users};
use modernize_domain::access::{Role, Scope};
use modernize_domain::ids::UserId;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A platform-level grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformRoleFields {
    /// Only `admin` exists at platform level.
    pub role: Option<String>,
    /// RFC 3339, in the future.
    pub expires_at: Option<String>,
}

/// Grant a platform-level role (global administrator).
#[utoipa::path(post, path = "/api/v1/users/{user_id}/roles", tag = "users",
    params(("user_id" = Uuid, Path)), request_body = PlatformRoleFields,
    responses((status = 201, body = RoleGrant), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_user_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<Uuid>,
    ApiJson(fields): ApiJson<PlatformRoleFields>,
) -> Result<(StatusCode, Json<RoleGrant>), ApiError> {
    let scope = authorize(&state, &caller).await?;
    let mut c = Checks::new();
    let role = user_common::role(&mut c, "role", fields.role.as_deref());
    if role.is_some_and(|r| r != Role::Admin) {
        c.fail("role", "only admin can be granted at platform level");
    }
    let expires_at = user_common::future(&mut c, "expires_at", fields.expires_at.as_deref());
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    if !users::exists(&mut tx, user_id).await? {
        return Err(ApiError::not_found("user"));
    }
    let (held,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.user_roles WHERE user_id = $1 AND role = 'admin' \
            AND client_account_id IS NULL AND engagement_id IS NULL AND is_active \
            AND (expires_at IS NULL OR expires_at > now()))",
    )
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    if held {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the user already holds this role here",
        ));
    }
    let role_id = identity::grant_role(
        &mut tx,
        UserId(user_id),
        Role::Admin,
        Scope::Platform,
        Some(caller.user_id),
        expires_at,
    )
    .await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "role.granted",
        "access",
        "user_role",
        role_id.to_string(),
        json!({"user_id": user_id, "role": "admin", "level": "platform", "expires_at": expires_at}),
    )
    .await?;
    let grant = user_common::fetch_role(&mut tx, role_id, None)
        .await?
        .ok_or_else(|| ApiError::internal("granted role vanished"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

/// Revoke any role of a user (platform, client or engagement level).
#[utoipa::path(delete, path = "/api/v1/users/{user_id}/roles/{role_id}", tag = "users",
    params(("user_id" = Uuid, Path), ("role_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_user_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((user_id, role_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let scope = authorize(&state, &caller).await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let role = user_common::fetch_role(&mut tx, role_id, None)
        .await?
        .filter(|r| r.user_id == user_id)
        .ok_or_else(|| ApiError::not_found("role"))?;
    if role.is_active {
        sqlx::query(
            "UPDATE migration.user_roles SET is_active = false WHERE id = $1 AND user_id = $2",
        )
        .bind(role_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        keep_an_admin(&mut tx).await?;
        audit::record_change(
            &mut tx,
            &caller,
            role.client_account_id,
            "role.revoked",
            "access",
            "user_role",
            role_id.to_string(),
            json!({"user_id": user_id, "role": role.role, "engagement_id": role.engagement_id}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
