//! The users of one client account: invitation by e-mail with an initial role, the member list
//! (with their roles in this client only), and removal from the client.
//!
//! Users are global, so an invitation either creates the user or grants the role to the
//! existing one. Nothing the user does or holds in other clients is ever shown here.

use super::roles::{self, GrantSpec};
use super::user_common::{self, ROLE_SELECT, RoleGrant};
use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::clients::require_active_locked;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modernize_db::{identity, users};
use modernize_domain::access::{Action, Target};
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
        .routes(routes!(invite_client_user, list_client_users))
        .routes(routes!(get_client_user))
        .routes(routes!(deactivate_client_user))
}

/// A member of a client account, with their active roles in this client.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    /// False when the user is deactivated on the whole platform.
    pub is_active: bool,
    pub roles: Vec<RoleGrant>,
}

/// An invitation: the person's e-mail and their first role in the client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteFields {
    pub email: Option<String>,
    /// Used only when the user is new.
    pub full_name: Option<String>,
    /// admin, analyst or viewer.
    pub role: Option<String>,
    pub engagement_id: Option<String>,
    /// RFC 3339, in the future.
    pub expires_at: Option<String>,
}

async fn members(
    conn: &mut PgConnection,
    client_id: Uuid,
    only: Option<Uuid>,
) -> Result<Vec<Member>, ApiError> {
    let roles: Vec<RoleGrant> = sqlx::query_as(&format!(
        "{ROLE_SELECT} WHERE r.client_account_id = $1 AND r.is_active \
            AND ($2::uuid IS NULL OR r.user_id = $2) ORDER BY u.email, r.granted_at, r.id"
    ))
    .bind(client_id)
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let mut ids: Vec<Uuid> = roles.iter().map(|r| r.user_id).collect();
    ids.dedup();
    let people: Vec<user_common::User> = sqlx::query_as(&format!(
        "SELECT {} FROM migration.users WHERE id = ANY($1) ORDER BY email",
        user_common::USER_COLUMNS
    ))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut roles = roles.into_iter().peekable();
    let mut out = Vec::with_capacity(people.len());
    for person in people {
        let mut mine = Vec::new();
        while let Some(r) = roles.next_if(|r| r.user_id == person.id) {
            mine.push(r);
        }
        out.push(Member {
            id: person.id,
            email: person.email,
            full_name: person.full_name,
            avatar_url: person.avatar_url,
            is_active: person.is_active,
            roles: mine,
        });
    }
    Ok(out)
}

/// Invite a person to the client by e-mail with an initial role: creates the user when the
/// address is new, else grants the role to the existing user. Refused beyond `max_users`.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/users", tag = "users",
    params(("client_id" = Uuid, Path)), request_body = InviteFields,
    responses((status = 201, body = Member), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn invite_client_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(fields): ApiJson<InviteFields>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    let mut c = Checks::new();
    let email = user_common::email(&mut c, fields.email.as_deref());
    user_common::full_name(&mut c, fields.full_name.as_deref());
    let (role, engagement, expires_at) = roles::parse_grant(
        &mut c,
        fields.role.as_deref(),
        fields.engagement_id.as_deref(),
        fields.expires_at.as_deref(),
    );
    let scope = roles::authorize_grant(&state, &caller, client_id, engagement).await?;
    c.finish()?;
    let (Some(email), Some(role)) = (email, role) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    // Lock the client first: two invitations racing for the last seat are serialised here.
    require_active_locked(&mut tx, client_id).await?;
    let (user_id, new_user) = match users::find_by_email(&mut tx, &email).await? {
        Some(id) => (id, false),
        None => {
            let name = fields.full_name.as_deref().map(str::trim);
            (
                identity::create_user(&mut tx, &email, name, None).await?.0,
                true,
            )
        }
    };
    let spec = GrantSpec {
        role,
        engagement,
        expires_at,
    };
    let grant = roles::grant_in_client(&mut tx, &caller, client_id, user_id, spec).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "user.invited",
        "access",
        "user",
        user_id.to_string(),
        json!({"email": email, "new_user": new_user, "role_id": grant.id}),
    )
    .await?;
    let member = members(&mut tx, client_id, Some(user_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("invited member vanished"))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// List the members of the client with their roles in it.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/users", tag = "users",
    params(("client_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Member>), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_client_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let scope = caller
        .authorize(
            &state,
            Action::ManageUsers,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let list = members(&mut tx, client_id, None).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Read one member of the client (404 unless the user holds an active role in it).
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/users/{user_id}", tag = "users",
    params(("client_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = Member), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_client_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, user_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Member>, ApiError> {
    let scope = caller
        .authorize(
            &state,
            Action::ManageUsers,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let member = members(&mut tx, client_id, Some(user_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("user"))?;
    tx.commit().await?;
    Ok(Json(member))
}

/// Remove a member's access to this client: every role they hold in it is revoked. The user
/// stays active on the platform (they may work for other clients).
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/users/{user_id}/deactivate", tag = "users",
    params(("client_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn deactivate_client_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, user_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let scope = caller
        .authorize(
            &state,
            Action::ManageUsers,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let revoked = users::revoke_client_roles(&mut tx, client_id, user_id).await?;
    if revoked.is_empty() {
        return Err(ApiError::not_found("user"));
    }
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "member.deactivated",
        "access",
        "user",
        user_id.to_string(),
        json!({"revoked_role_ids": revoked}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
