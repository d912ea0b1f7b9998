//! Role grants within a client account: client administrators grant and revoke roles on their
//! client and its engagements; engagement administrators on their engagement only. Nothing here
//! can create a platform-level grant (those are in `routes::users`, for platform administrators).

use super::user_common::{self, ROLE_SELECT, RoleGrant};
use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::clients::require_active_locked;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use modernize_db::{identity, users};
use modernize_domain::access::{self, Action, Decision, Role, Scope, Target};
use modernize_domain::ids::{ClientAccountId, EngagementId, UserId};
use modernize_domain::tenancy::TenantScope;
use serde::Deserialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_role, list_roles))
        .routes(routes!(delete_role))
}

/// A role to grant within a client account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleFields {
    /// The user: a member of the client (platform administrators: any user).
    pub user_id: Option<String>,
    /// admin, analyst or viewer.
    pub role: Option<String>,
    /// Grant on this engagement of the client only.
    pub engagement_id: Option<String>,
    /// RFC 3339, in the future; the grant lapses then.
    pub expires_at: Option<String>,
}

/// A validated grant within a client.
#[derive(Debug, Clone, Copy)]
pub struct GrantSpec {
    pub role: Role,
    pub engagement: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Parses the grant part of a request, recording field errors in `c`. Returns what parsed, so
/// that authorization can run on the right target before the errors are answered.
pub fn parse_grant(
    c: &mut Checks,
    role: Option<&str>,
    engagement_id: Option<&str>,
    expires_at: Option<&str>,
) -> (Option<Role>, Option<Uuid>, Option<DateTime<Utc>>) {
    let role = user_common::role(c, "role", role);
    let engagement = user_common::uuid(c, "engagement_id", engagement_id);
    let expires = user_common::future(c, "expires_at", expires_at);
    (role, engagement, expires)
}

/// Authorizes managing users of the client, or of one engagement of it when `engagement` is
/// given (so engagement administrators may act on their engagement only).
pub async fn authorize_grant(
    state: &AppState,
    caller: &Caller,
    client_id: Uuid,
    engagement: Option<Uuid>,
) -> Result<TenantScope, ApiError> {
    let client = ClientAccountId(client_id);
    let target = match engagement {
        Some(e) => Target::Engagement(client, EngagementId(e)),
        None => Target::Client(client),
    };
    caller.authorize(state, Action::ManageUsers, target).await
}

/// Grants `spec` to `user_id` in the client, inside the caller's transaction: refuses on an
/// inactive client, an engagement of another client, a duplicate grant, or a full client
/// (`max_users`, counted under the lock of the client row). Audited as `role.granted`.
pub async fn grant_in_client(
    conn: &mut PgConnection,
    caller: &Caller,
    client_id: Uuid,
    user_id: Uuid,
    spec: GrantSpec,
) -> Result<RoleGrant, ApiError> {
    let client = require_active_locked(conn, client_id).await?;
    if let Some(engagement) = spec.engagement {
        // Both ids: an engagement of another client is simply not found.
        let (found,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM migration.engagements WHERE id = $1 AND client_account_id = $2)",
        )
        .bind(engagement)
        .bind(client_id)
        .fetch_one(&mut *conn)
        .await?;
        if !found {
            return Err(ApiError::not_found("engagement"));
        }
    }
    if users::holds_grant(
        conn,
        user_id,
        spec.role.as_str(),
        client_id,
        spec.engagement,
    )
    .await?
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the user already holds this role here",
        ));
    }
    if let Some(max) = client.max_users
        && !users::uses_seat(conn, client_id, user_id).await?
        && users::seats_used(conn, client_id).await? >= i64::from(max)
    {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!("the client account allows at most {max} users"),
        ));
    }
    let scope = match spec.engagement {
        Some(e) => Scope::Engagement {
            client_account_id: ClientAccountId(client_id),
            engagement_id: EngagementId(e),
        },
        None => Scope::Client {
            client_account_id: ClientAccountId(client_id),
        },
    };
    let role_id = identity::grant_role(
        conn,
        UserId(user_id),
        spec.role,
        scope,
        Some(caller.user_id),
        spec.expires_at,
    )
    .await?;
    audit::record_change(
        conn,
        caller,
        Some(client_id),
        "role.granted",
        "access",
        "user_role",
        role_id.to_string(),
        json!({"user_id": user_id, "role": spec.role.as_str(),
               "engagement_id": spec.engagement, "expires_at": spec.expires_at}),
    )
    .await?;
    user_common::fetch_role(conn, role_id, Some(client_id))
        .await?
        .ok_or_else(|| ApiError::internal("granted role vanished"))
}

/// Grant a role in a client account to one of its members.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/roles", tag = "users",
    params(("client_id" = Uuid, Path)), request_body = RoleFields,
    responses((status = 201, body = RoleGrant), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(fields): ApiJson<RoleFields>,
) -> Result<(StatusCode, Json<RoleGrant>), ApiError> {
    let mut c = Checks::new();
    let user_id = user_common::uuid(&mut c, "user_id", fields.user_id.as_deref());
    if fields.user_id.is_none() {
        c.fail("user_id", "is required");
    }
    let (role, engagement, expires_at) = parse_grant(
        &mut c,
        fields.role.as_deref(),
        fields.engagement_id.as_deref(),
        fields.expires_at.as_deref(),
    );
    let scope = authorize_grant(&state, &caller, client_id, engagement).await?;
    c.finish()?;
    let (Some(user_id), Some(role)) = (user_id, role) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    // Only members (past or present) of this client can be named by id; anyone else is "not
    // found", so user ids of other clients cannot be probed or pulled in.
    let known = if caller.is_platform_admin() {
        users::exists(&mut tx, user_id).await?
    } else {
        users::has_history_in(&mut tx, client_id, user_id).await?
    };
    if !known {
        return Err(ApiError::not_found("user"));
    }
    let spec = GrantSpec {
        role,
        engagement,
        expires_at,
    };
    let grant = grant_in_client(&mut tx, &caller, client_id, user_id, spec).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

/// Filters of the role listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleQuery {
    /// Only grants on this engagement (engagement administrators must give it).
    pub engagement_id: Option<String>,
    /// Only this user's grants.
    pub user_id: Option<String>,
    /// Also revoked grants (default false).
    pub include_inactive: Option<bool>,
}

/// List the role grants of a client account.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/roles", tag = "users",
    params(("client_id" = Uuid, Path), RoleQuery),
    responses((status = 200, body = Vec<RoleGrant>), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_roles(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<RoleQuery>,
) -> Result<Json<Vec<RoleGrant>>, ApiError> {
    let mut c = Checks::new();
    let engagement = user_common::uuid(&mut c, "engagement_id", query.engagement_id.as_deref());
    let user = user_common::uuid(&mut c, "user_id", query.user_id.as_deref());
    let scope = authorize_grant(&state, &caller, client_id, engagement).await?;
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let rows = sqlx::query_as(&format!(
        "{ROLE_SELECT} WHERE r.client_account_id = $1 \
            AND ($2::uuid IS NULL OR r.engagement_id = $2) \
            AND ($3::uuid IS NULL OR r.user_id = $3) AND ($4 OR r.is_active) \
          ORDER BY u.email, r.granted_at, r.id"
    ))
    .bind(client_id)
    .bind(engagement)
    .bind(user)
    .bind(query.include_inactive.unwrap_or(false))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Revoke a role grant of a client account (it stops counting at once).
#[utoipa::path(delete, path = "/api/v1/clients/{client_id}/roles/{role_id}", tag = "users",
    params(("client_id" = Uuid, Path), ("role_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_role(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, role_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let client = ClientAccountId(client_id);
    let whole_client = access::decide(&caller.grants, Action::ManageUsers, Target::Client(client))
        == Decision::Allowed;
    // An engagement administrator of this client may revoke grants on their engagement: find
    // which engagement the role is on. Only done for callers who already work in this client.
    let mut engagement = None;
    if !whole_client && administers_an_engagement_of(&caller, client) {
        let mut tx = modernize_db::tenant::begin(
            &state.db.app,
            TenantScope::Client {
                client_account_id: client,
                user_id: Some(caller.user_id),
            },
        )
        .await?;
        let role = user_common::fetch_role(&mut tx, role_id, Some(client_id))
            .await?
            .ok_or_else(|| ApiError::not_found("role"))?;
        tx.commit().await?;
        engagement = role.engagement_id;
    }
    let scope = authorize_grant(&state, &caller, client_id, engagement).await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let role = user_common::fetch_role(&mut tx, role_id, Some(client_id))
        .await?
        .filter(|r| engagement.is_none() || r.engagement_id == engagement)
        .ok_or_else(|| ApiError::not_found("role"))?;
    if role.is_active {
        sqlx::query(
            "UPDATE migration.user_roles SET is_active = false WHERE id = $1 AND client_account_id = $2",
        )
        .bind(role_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        audit::record_change(
            &mut tx,
            &caller,
            Some(client_id),
            "role.revoked",
            "access",
            "user_role",
            role_id.to_string(),
            json!({"user_id": role.user_id, "role": role.role, "engagement_id": role.engagement_id}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn administers_an_engagement_of(caller: &Caller, client: ClientAccountId) -> bool {
    caller.grants.iter().any(|g| {
        g.role == Role::Admin
            && matches!(g.scope, Scope::Engagement { client_account_id, .. } if client_account_id == client)
    })
}
