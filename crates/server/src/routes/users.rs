//! Platform user administration (platform administrators only): create users without a client,
//! list and change them, deactivate them everywhere, and grant or revoke platform-level
//! (global administrator) roles.

use super::platform_roles;
use super::user_common::{self, ROLE_SELECT, RoleGrant, USER_COLUMNS, User};
use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::pagination;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modernize_db::{identity, users};
use modernize_domain::access::{Action, Target};
use modernize_domain::tenancy::TenantScope;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user))
        .routes(routes!(deactivate_user))
        .routes(routes!(activate_user))
        .routes(routes!(platform_roles::create_user_role))
        .routes(routes!(platform_roles::delete_user_role))
}

/// A user with every role they hold (platform administrators' view).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub roles: Vec<RoleGrant>,
}

/// Settable fields of a user; on update, absent fields stay unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserFields {
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// http(s) URL, at most 500 characters.
    pub avatar_url: Option<String>,
    /// The user's subject (`sub`) at the OpenID Connect provider, for users who sign in there
    /// (stored in `auth0_user_id`). Users without one sign in locally or with API tokens.
    pub subject: Option<String>,
}

impl UserFields {
    fn check(&mut self, creating: bool) -> Result<(), ApiError> {
        let mut c = Checks::new();
        if creating || self.email.is_some() {
            self.email = user_common::email(&mut c, self.email.as_deref());
        }
        user_common::full_name(&mut c, self.full_name.as_deref());
        user_common::avatar_url(&mut c, self.avatar_url.as_deref());
        c.text("subject", self.subject.as_deref(), 255, false);
        if let Some(subject) = &self.subject {
            if subject.trim().is_empty() {
                c.fail("subject", "must not be blank");
            } else if subject.starts_with("local|") {
                // `local|` marks users without an identity provider.
                c.fail("subject", "must not start with local|");
            }
        }
        c.finish()
    }
}

/// Authorizes platform user administration; returns the platform scope it runs in.
pub async fn authorize(state: &AppState, caller: &Caller) -> Result<TenantScope, ApiError> {
    caller
        .authorize(state, Action::ManagePlatform, Target::Platform)
        .await
}

async fn detail(conn: &mut PgConnection, id: Uuid) -> Result<UserDetail, ApiError> {
    let user = user_common::fetch_user(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let roles = sqlx::query_as(&format!(
        "{ROLE_SELECT} WHERE r.user_id = $1 ORDER BY r.granted_at, r.id"
    ))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(UserDetail { user, roles })
}

/// Create a user who belongs to no client yet.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserFields,
    responses((status = 201, body = UserDetail), (status = 403, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut fields): ApiJson<UserFields>,
) -> Result<(StatusCode, Json<UserDetail>), ApiError> {
    let scope = authorize(&state, &caller).await?;
    fields.check(true)?;
    let email = fields.email.clone().unwrap_or_default();
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let id = identity::create_user(
        &mut tx,
        &email,
        fields.full_name.as_deref().map(str::trim),
        fields.subject.as_deref(),
    )
    .await?
    .0;
    if fields.avatar_url.is_some() {
        sqlx::query("UPDATE migration.users SET avatar_url = $2 WHERE id = $1")
            .bind(id)
            .bind(&fields.avatar_url)
            .execute(&mut *tx)
            .await?;
    }
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "user.created",
        "config",
        "user",
        id.to_string(),
        json!({"email": email}),
    )
    .await?;
    let user = detail(&mut tx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Number of users matching the filters.
    pub total: i64,
}

/// Listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// 1..200, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// Case-insensitive substring of the e-mail address or name.
    pub q: Option<String>,
    /// Only active (true) or deactivated (false) users.
    pub is_active: Option<bool>,
}

/// List users, ordered by e-mail address, with keyset pagination.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserQuery),
    responses((status = 200, body = UserPage), (status = 403, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let scope = authorize(&state, &caller).await?;
    let mut c = Checks::new();
    let limit = pagination::limit(&mut c, query.limit.as_deref());
    // E-mail addresses are unique: the last one seen is the whole cursor.
    let after: Option<String> = pagination::decode(&mut c, query.after.as_deref());
    c.text("q", query.q.as_deref(), 255, false);
    c.finish()?;
    let pattern = query.q.as_deref().map(|q| {
        format!(
            "%{}%",
            q.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let filter = "($1::text IS NULL OR lower(email) LIKE $1 OR lower(coalesce(full_name, '')) LIKE $1) \
                  AND ($2::boolean IS NULL OR coalesce(is_active, false) = $2)";
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let mut items: Vec<User> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM migration.users WHERE {filter} \
            AND ($3::text IS NULL OR email > $3) ORDER BY email LIMIT $4"
    ))
    .bind(&pattern)
    .bind(query.is_active)
    .bind(&after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM migration.users WHERE {filter}"
    ))
    .bind(&pattern)
    .bind(query.is_active)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|u| pagination::encode(&u.email))
    } else {
        None
    };
    Ok(Json(UserPage {
        items,
        next_cursor,
        total,
    }))
}

/// Read one user with all their roles.
#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path)),
    responses((status = 200, body = UserDetail), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<Uuid>,
) -> Result<Json<UserDetail>, ApiError> {
    let scope = authorize(&state, &caller).await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let user = detail(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Change a user's e-mail address, name or avatar.
#[utoipa::path(patch, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path)), request_body = UserFields,
    responses((status = 200, body = UserDetail), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<Uuid>,
    ApiJson(mut fields): ApiJson<UserFields>,
) -> Result<Json<UserDetail>, ApiError> {
    let scope = authorize(&state, &caller).await?;
    fields.check(false)?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let updated = sqlx::query(
        "UPDATE migration.users SET email = coalesce($2, email), full_name = coalesce($3, full_name), \
            avatar_url = coalesce($4, avatar_url), auth0_user_id = coalesce($5, auth0_user_id) WHERE id = $1",
    )
    .bind(user_id)
    .bind(&fields.email)
    .bind(fields.full_name.as_deref().map(str::trim))
    .bind(&fields.avatar_url)
    .bind(&fields.subject)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("user"));
    }
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "user.updated",
        "config",
        "user",
        user_id.to_string(),
        json!({"email_changed": fields.email.is_some()}),
    )
    .await?;
    let user = detail(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Refuses a change that would leave the platform without an active administrator.
pub async fn keep_an_admin(conn: &mut PgConnection) -> Result<(), ApiError> {
    if identity::count_platform_admins(conn).await? == 0 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the platform must keep at least one active platform administrator",
        ));
    }
    Ok(())
}

async fn set_active(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    active: bool,
) -> Result<Json<UserDetail>, ApiError> {
    let scope = authorize(state, caller).await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let updated = sqlx::query("UPDATE migration.users SET is_active = $2 WHERE id = $1")
        .bind(user_id)
        .bind(active)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("user"));
    }
    let mut details = json!({});
    if !active {
        keep_an_admin(&mut tx).await?;
        // API tokens stop working by themselves (authentication checks the user on every
        // request); local sessions are ended so that reactivation needs a new login.
        details = json!({"sessions_ended": users::end_sessions(&mut tx, user_id).await?});
    }
    let event = if active {
        "user.activated"
    } else {
        "user.deactivated"
    };
    audit::record_change(
        &mut tx,
        caller,
        None,
        event,
        "access",
        "user",
        user_id.to_string(),
        details,
    )
    .await?;
    let user = detail(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// Deactivate a user on the whole platform: their tokens and sessions stop working at once.
#[utoipa::path(post, path = "/api/v1/users/{user_id}/deactivate", tag = "users",
    params(("user_id" = Uuid, Path)),
    responses((status = 200, body = UserDetail), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn deactivate_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<Uuid>,
) -> Result<Json<UserDetail>, ApiError> {
    set_active(&state, &caller, user_id, false).await
}

/// Reactivate a user.
#[utoipa::path(post, path = "/api/v1/users/{user_id}/activate", tag = "users",
    params(("user_id" = Uuid, Path)),
    responses((status = 200, body = UserDetail), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn activate_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<Uuid>,
) -> Result<Json<UserDetail>, ApiError> {
    set_active(&state, &caller, user_id, true).await
}
