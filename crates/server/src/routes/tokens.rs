//! API tokens of the caller (and their revocation by platform administrators). A token
//! authenticates as its creator, so it acts with exactly the creator's current rights.

use super::me::begin_self;
use crate::auth::{Caller, api_token, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use modernize_db::identity;
use modernize_domain::access::{Action, Target};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Unrevoked, unexpired tokens a user may hold at once.
pub const MAX_ACTIVE_TOKENS: i64 = 50;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(delete_token))
        .routes(routes!(delete_user_token))
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenFields {
    /// 1..100 characters.
    pub name: Option<String>,
    /// Lifetime in days, 1..3650. Give this or `expires_at`, not both; neither: no expiry.
    pub expires_in_days: Option<i64>,
    /// RFC 3339, in the future.
    pub expires_at: Option<String>,
}

/// A token as created: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: Uuid,
    pub name: String,
    /// The secret. Store it now: it cannot be shown again.
    pub token: String,
    pub token_prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as listed: never its secret or digest.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TokenSummary {
    pub id: Uuid,
    pub name: String,
    pub token_prefix: String,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Create an API token for myself. The response is the only place its secret appears.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "me", request_body = TokenFields,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(fields): ApiJson<TokenFields>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let mut c = Checks::new();
    c.text("name", fields.name.as_deref(), 100, true);
    let name = fields.name.as_deref().map(str::trim).unwrap_or_default();
    let mut expires_at =
        super::user_common::future(&mut c, "expires_at", fields.expires_at.as_deref());
    if let Some(days) = fields.expires_in_days {
        if fields.expires_at.is_some() {
            c.fail(
                "expires_in_days",
                "give expires_in_days or expires_at, not both",
            );
        } else if !(1..=3650).contains(&days) {
            c.fail("expires_in_days", "must be from 1 to 3650");
        } else {
            expires_at = Some(Utc::now() + Duration::days(days));
        }
    }
    c.finish()?;
    let minted = api_token::mint();
    let mut tx = begin_self(&state, &caller).await?;
    let (active,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.api_tokens WHERE user_id = $1 AND revoked_at IS NULL \
            AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(caller.user_id.0)
    .fetch_one(&mut *tx)
    .await?;
    if active >= MAX_ACTIVE_TOKENS {
        return Err(ApiError::new(
            ErrorCode::LimitExceeded,
            format!("at most {MAX_ACTIVE_TOKENS} active API tokens per user: revoke one first"),
        ));
    }
    let id = identity::insert_api_token(
        &mut tx,
        caller.user_id,
        name,
        &minted.display_prefix,
        &minted.digest,
        expires_at,
    )
    .await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "token.created",
        "auth",
        "api_token",
        id.to_string(),
        json!({"name": name, "token_prefix": minted.display_prefix, "expires_at": expires_at}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id,
            name: name.to_string(),
            token: minted.token,
            token_prefix: minted.display_prefix,
            expires_at,
        }),
    ))
}

/// List my API tokens (without their secrets), newest first.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "me",
    responses((status = 200, body = Vec<TokenSummary>), (status = 401, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenSummary>>, ApiError> {
    let mut tx = begin_self(&state, &caller).await?;
    let rows = sqlx::query_as(
        "SELECT id, name, token_prefix, created_at, expires_at, last_used_at, revoked_at \
           FROM migration.api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(caller.user_id.0)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(rows))
}

/// Revokes the token of `owner`; 404 when it is not theirs. Revoking twice is harmless.
async fn revoke(
    conn: &mut PgConnection,
    caller: &Caller,
    owner: Uuid,
    token_id: Uuid,
) -> Result<(), ApiError> {
    let found: Option<(Option<DateTime<Utc>>,)> = sqlx::query_as(
        "SELECT revoked_at FROM migration.api_tokens WHERE id = $1 AND user_id = $2",
    )
    .bind(token_id)
    .bind(owner)
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        None => Err(ApiError::not_found("token")),
        Some((Some(_),)) => Ok(()),
        Some((None,)) => {
            sqlx::query(
                "UPDATE migration.api_tokens SET revoked_at = now(), revoked_by = $3 \
                  WHERE id = $1 AND user_id = $2",
            )
            .bind(token_id)
            .bind(owner)
            .bind(caller.user_id.0)
            .execute(&mut *conn)
            .await?;
            audit::record_change(
                conn,
                caller,
                None,
                "token.revoked",
                "auth",
                "api_token",
                token_id.to_string(),
                json!({"owner_user_id": owner}),
            )
            .await?;
            Ok(())
        }
    }
}

/// Revoke one of my API tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{token_id}", tag = "me",
    params(("token_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(token_id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let mut tx = begin_self(&state, &caller).await?;
    revoke(&mut tx, &caller, caller.user_id.0, token_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke any user's API token (platform administrators).
#[utoipa::path(delete, path = "/api/v1/users/{user_id}/tokens/{token_id}", tag = "users",
    params(("user_id" = Uuid, Path), ("token_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_user_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((user_id, token_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let scope = caller
        .authorize(&state, Action::ManagePlatform, Target::Platform)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    revoke(&mut tx, &caller, user_id, token_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
