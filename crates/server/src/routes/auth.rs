//! Local login for installations without an identity provider: login with e-mail, password and
//! (when enabled) a TOTP code; refresh-token rotation with theft detection; logout; password
//! changes by the user and initial/temporary passwords set by platform administrators.
//!
//! Failed logins are counted per account; after `auth.lockout_threshold` consecutive failures
//! the account locks with exponential backoff and login answers 429 `account_locked` with a
//! `Retry-After` header until the lock expires.

use crate::auth::request_meta::RequestMeta;
use crate::auth::{Caller, audit, lockout, password, session, totp};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use modernize_db::audit::AuditRecord;
use modernize_db::credentials::{self, LoginAccount};
use modernize_domain::access::{Action, Target};
use modernize_domain::tenancy::TenantScope;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_login))
        .routes(routes!(create_refresh))
        .routes(routes!(create_logout))
        .routes(routes!(update_my_password))
        .routes(routes!(update_user_password))
}

/// Longest password accepted as input to verification (longer ones cannot match: the policy
/// caps passwords at 256 characters). Bounds the hashing work an anonymous request can cause.
const MAX_PASSWORD_INPUT: usize = 1024;

/// Login with e-mail and password (and a TOTP code when the second factor is on).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: Option<String>,
    pub password: Option<String>,
    /// The current 6-digit code of the authenticator app; required when MFA is enabled.
    pub totp_code: Option<String>,
}

/// Tokens of a local session.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Short-lived bearer token for the API.
    pub access_token: String,
    /// Exchanged at `/api/v1/auth/refresh` for a new pair; usable once.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token, in seconds.
    pub expires_in: u64,
    /// Lifetime of the refresh token, in seconds.
    pub refresh_expires_in: u64,
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

/// A new password; the current one is required when one is set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: Option<String>,
    /// 12 to 256 characters, not the e-mail address.
    pub new_password: Option<String>,
}

/// A password set by an administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSet {
    /// 12 to 256 characters, not the e-mail address.
    pub new_password: Option<String>,
}

/// The outcome of a password change.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    pub password_changed_at: DateTime<Utc>,
    /// Refresh tokens revoked: every session of the user ends and must log in again.
    pub sessions_revoked: u64,
}

/// An API error, or a lock (answered 429 `account_locked` with `Retry-After`).
#[derive(Debug)]
pub enum AuthError {
    Api(ApiError),
    Locked { until: DateTime<Utc> },
}

impl From<ApiError> for AuthError {
    fn from(error: ApiError) -> Self {
        AuthError::Api(error)
    }
}

impl From<sqlx::Error> for AuthError {
    fn from(error: sqlx::Error) -> Self {
        AuthError::Api(error.into())
    }
}

impl From<modernize_db::DbError> for AuthError {
    fn from(error: modernize_db::DbError) -> Self {
        AuthError::Api(error.into())
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            AuthError::Api(error) => error.into_response(),
            AuthError::Locked { until } => {
                let secs = retry_after_secs(until);
                let mut response = ApiError::new(
                    ErrorCode::AccountLocked,
                    format!("too many failed attempts: the account is locked; retry in {secs} s"),
                )
                .into_response();
                response.headers_mut().insert(RETRY_AFTER, secs.into());
                response
            }
        }
    }
}

fn retry_after_secs(until: DateTime<Utc>) -> u64 {
    let ms = (until - Utc::now()).num_milliseconds().max(0);
    u64::try_from((ms + 999) / 1000).unwrap_or(0).max(1)
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredentials,
        "the e-mail address or the password is wrong",
    )
}

fn invalid_refresh_token() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthenticated,
        "the refresh token is invalid, expired or revoked; log in again",
    )
}

fn platform() -> TenantScope {
    TenantScope::Platform { user_id: None }
}

/// An authentication event about `account` (or an unknown e-mail address).
#[allow(clippy::too_many_arguments)]
fn event(
    meta: &RequestMeta,
    event_type: &str,
    action: &str,
    severity: &'static str,
    account: Option<(Uuid, &str)>,
    attempted_email: Option<&str>,
    error_code: Option<&str>,
    details: serde_json::Value,
) -> AuditRecord {
    AuditRecord {
        event_type: event_type.into(),
        event_category: "auth",
        severity,
        actor_user_id: account.map_or_else(|| "anonymous".into(), |(id, _)| id.to_string()),
        actor_email: account
            .map(|(_, email)| email.to_string())
            .or_else(|| attempted_email.map(|e| e.chars().take(255).collect())),
        target_type: account.map(|_| "user".into()),
        target_id: account.map(|(id, _)| id.to_string()),
        ip_address: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
        action: action.into(),
        result: if error_code.is_some() {
            "failure"
        } else {
            "success"
        },
        error_code: error_code.map(str::to_string),
        requires_review: severity == "CRITICAL",
        details,
        ..AuditRecord::default()
    }
}

/// Counts a failed attempt (wrong password or code) and locks the account once the threshold
/// is reached. Returns the answer: `code` below the threshold, `account_locked` from it on.
async fn register_failure(
    state: &AppState,
    meta: &RequestMeta,
    account: &LoginAccount,
    action: &str,
    code: ErrorCode,
) -> AuthError {
    let result = async {
        let mut tx = modernize_db::tenant::begin(&state.db.app, platform()).await?;
        let failures = credentials::record_failure(&mut tx, account.user_id).await?;
        let lock = lockout::lock_duration(
            u32::try_from(failures).unwrap_or(0),
            state.auth.lockout_threshold,
            state.auth.lockout_base_secs,
        )
        .map(|d| Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1)));
        if let Some(until) = lock {
            credentials::lock_until(&mut tx, account.user_id, until).await?;
        }
        tx.commit().await?;
        Ok::<_, modernize_db::DbError>((failures, lock))
    }
    .await;
    let (failures, lock) = match result {
        Ok(outcome) => outcome,
        Err(error) => return AuthError::Api(error.into()),
    };
    let who = Some((account.user_id, account.email.as_str()));
    let failed = event(
        meta,
        "login.failed",
        action,
        "WARNING",
        who,
        None,
        Some(code.as_str()),
        json!({"consecutive_failures": failures}),
    );
    audit::record_detached(state, failed).await;
    match lock {
        Some(until) => {
            let locked = event(
                meta,
                "account.locked",
                action,
                "WARNING",
                who,
                None,
                Some(ErrorCode::AccountLocked.as_str()),
                json!({"consecutive_failures": failures, "locked_until": until}),
            );
            audit::record_detached(state, locked).await;
            AuthError::Locked { until }
        }
        None => AuthError::Api(match code {
            ErrorCode::InvalidCredentials => invalid_credentials(),
            ErrorCode::InvalidMfaCode => {
                ApiError::new(code, "the authentication code is wrong or was already used")
            }
            _ => ApiError::new(code, "authentication failed"),
        }),
    }
}

/// The account's lock, if it is locked now.
fn active_lock(account: &LoginAccount) -> Option<DateTime<Utc>> {
    account.locked_until.filter(|until| *until > Utc::now())
}

/// Opens the account's TOTP secret.
pub(crate) fn open_totp_secret(
    state: &AppState,
    account: &LoginAccount,
) -> Result<Vec<u8>, ApiError> {
    let keyring = state.keyring.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::VaultNotConfigured,
            "no vault master key is configured: second factors cannot be checked",
        )
    })?;
    let (Some(blob), Some(key_id)) = (
        account.totp_secret_encrypted.clone(),
        account.totp_encryption_key_id.clone(),
    ) else {
        return Err(ApiError::new(
            ErrorCode::MfaRequired,
            "a second factor is required but none is set up; ask an administrator",
        ));
    };
    keyring
        .open(
            &crate::vault::Sealed { key_id, blob },
            totp_aad(account.user_id).as_bytes(),
        )
        .map_err(ApiError::internal)
}

/// Associated data binding a sealed TOTP secret to its user.
pub(crate) fn totp_aad(user_id: Uuid) -> String {
    format!("user_credentials.totp:{user_id}")
}

/// Starts a session: a new refresh-token family and an access token.
async fn start_session(
    state: &AppState,
    conn: &mut PgConnection,
    meta: &RequestMeta,
    user_id: Uuid,
    family: Uuid,
) -> Result<TokenPair, sqlx::Error> {
    let refresh = session::mint_refresh_token();
    let ttl = state.auth.refresh_token_ttl_secs;
    let expires_at = Utc::now()
        + chrono::Duration::seconds(
            i64::try_from(ttl)
                .unwrap_or(i64::MAX / 1000)
                .min(i64::MAX / 1000),
        );
    credentials::insert_refresh_token(
        conn,
        user_id,
        family,
        &refresh.digest,
        expires_at,
        meta.ip.as_deref(),
        meta.user_agent.as_deref(),
    )
    .await?;
    let (access_token, expires_in) = state.authn.issue_access_token(user_id, family);
    Ok(TokenPair {
        access_token,
        refresh_token: refresh.token,
        token_type: "Bearer".into(),
        expires_in,
        refresh_expires_in: ttl,
    })
}

/// Log in with e-mail and password. Unknown e-mail addresses and wrong passwords get the same
/// answer. With MFA enabled, a missing code answers `mfa_required`, a wrong or reused one
/// `invalid_mfa_code` (counted as a failure).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair),
              (status = 401, body = ErrorEnvelope, description = "invalid_credentials, mfa_required, invalid_mfa_code or user_inactive"),
              (status = 422, body = ErrorEnvelope),
              (status = 429, body = ErrorEnvelope, description = "account_locked",
               headers(("Retry-After" = u64, description = "seconds until the lock expires")))))]
pub async fn create_login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, AuthError> {
    let mut c = Checks::new();
    c.text("email", body.email.as_deref(), 255, true);
    c.text(
        "password",
        body.password.as_deref(),
        MAX_PASSWORD_INPUT,
        true,
    );
    c.text("totp_code", body.totp_code.as_deref(), 16, false);
    c.finish()?;
    let email = body.email.unwrap_or_default().trim().to_lowercase();
    let given_password = body.password.unwrap_or_default();

    let mut tx = modernize_db::tenant::begin(&state.db.app, platform()).await?;
    let account = credentials::find_login_account_by_email(&mut tx, &email).await?;
    tx.commit().await?;

    let Some(account) = account else {
        // The same work and the same answer as a wrong password.
        password::verify_blocking(given_password, None).await;
        let failed = event(
            &meta,
            "login.failed",
            "login",
            "WARNING",
            None,
            Some(&email),
            Some("invalid_credentials"),
            json!({"reason": "unknown_email"}),
        );
        audit::record_detached(&state, failed).await;
        return Err(invalid_credentials().into());
    };
    let who = Some((account.user_id, account.email.as_str()));
    if let Some(until) = active_lock(&account) {
        let failed = event(
            &meta,
            "login.failed",
            "login",
            "WARNING",
            who,
            None,
            Some("account_locked"),
            json!({"locked_until": until}),
        );
        audit::record_detached(&state, failed).await;
        return Err(AuthError::Locked { until });
    }
    let has_password = account.password_hash.is_some();
    if !password::verify_blocking(given_password, account.password_hash.clone()).await {
        if has_password {
            return Err(register_failure(
                &state,
                &meta,
                &account,
                "login",
                ErrorCode::InvalidCredentials,
            )
            .await);
        }
        // No local password (e.g. a user of the identity provider): nothing to guess.
        let failed = event(
            &meta,
            "login.failed",
            "login",
            "WARNING",
            who,
            None,
            Some("invalid_credentials"),
            json!({"reason": "no_local_password"}),
        );
        audit::record_detached(&state, failed).await;
        return Err(invalid_credentials().into());
    }
    if !account.is_active {
        let failed = event(
            &meta,
            "login.failed",
            "login",
            "WARNING",
            who,
            None,
            Some("user_inactive"),
            json!({}),
        );
        audit::record_detached(&state, failed).await;
        return Err(ApiError::new(ErrorCode::UserInactive, "the account is deactivated").into());
    }

    let mut tx = modernize_db::tenant::begin(&state.db.app, platform()).await?;
    let mut details = json!({"mfa": account.mfa_enabled});
    if account.mfa_enabled {
        let Some(code) = body.totp_code.filter(|c| !c.trim().is_empty()) else {
            tx.rollback().await?;
            let failed = event(
                &meta,
                "login.failed",
                "login",
                "INFO",
                who,
                None,
                Some("mfa_required"),
                json!({}),
            );
            audit::record_detached(&state, failed).await;
            return Err(ApiError::new(
                ErrorCode::MfaRequired,
                "a code from the authenticator app is required (totp_code)",
            )
            .into());
        };
        let secret = open_totp_secret(&state, &account)?;
        let fresh = match totp::matching_step(&secret, &code, totp::now_unix()) {
            Some(step) => {
                credentials::use_totp_step(
                    &mut tx,
                    account.user_id,
                    i64::try_from(step).unwrap_or(i64::MAX),
                )
                .await?
            }
            None => false,
        };
        if !fresh {
            tx.rollback().await?;
            return Err(register_failure(
                &state,
                &meta,
                &account,
                "login",
                ErrorCode::InvalidMfaCode,
            )
            .await);
        }
        details["mfa_method"] = "totp".into();
    }
    credentials::record_success(&mut tx, account.user_id).await?;
    let family = Uuid::new_v4();
    let pair = start_session(&state, &mut tx, &meta, account.user_id, family).await?;
    details["session_id"] = family.to_string().into();
    let succeeded = event(
        &meta,
        "login.succeeded",
        "login",
        "INFO",
        who,
        None,
        None,
        details,
    );
    modernize_db::audit::record(&mut tx, &succeeded).await?;
    tx.commit().await?;
    Ok(Json(pair))
}

/// Exchange a refresh token for a new access and refresh token. Each refresh token is usable
/// once: presenting a used one again revokes its whole session (theft detection).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)))]
pub async fn create_refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let mut c = Checks::new();
    c.text("refresh_token", body.refresh_token.as_deref(), 256, true);
    c.finish()?;
    let token = body.refresh_token.unwrap_or_default();
    let failed = |reason: &str, who: Option<(Uuid, &str)>, details: serde_json::Value| {
        event(
            &meta,
            "auth.failed",
            "refresh",
            "WARNING",
            who,
            None,
            Some(reason),
            details,
        )
    };
    if !session::looks_like_refresh_token(token.trim()) {
        audit::record_detached(&state, failed("unknown_token", None, json!({}))).await;
        return Err(invalid_refresh_token());
    }
    let digest = session::refresh_digest(token.trim());
    let mut tx = modernize_db::tenant::begin(&state.db.app, platform()).await?;
    let Some(row) = credentials::find_refresh_token_for_update(&mut tx, &digest).await? else {
        tx.rollback().await?;
        audit::record_detached(&state, failed("unknown_token", None, json!({}))).await;
        return Err(invalid_refresh_token());
    };
    let who = Some((row.user_id, row.email.as_str()));
    let session_details = json!({"session_id": row.family_id});
    if row.revoked_at.is_some() {
        tx.rollback().await?;
        audit::record_detached(&state, failed("token_revoked", who, session_details)).await;
        return Err(invalid_refresh_token());
    }
    if row.used_at.is_some() {
        // A token that was already exchanged comes back: either the client or a thief holds
        // a copy. End the whole session so that neither can go on.
        let revoked = credentials::revoke_refresh_family(&mut tx, row.family_id).await?;
        let reuse = event(
            &meta,
            "refresh.reuse_detected",
            "refresh",
            "CRITICAL",
            who,
            None,
            Some("token_reused"),
            json!({"session_id": row.family_id, "tokens_revoked": revoked}),
        );
        modernize_db::audit::record(&mut tx, &reuse).await?;
        tx.commit().await?;
        return Err(invalid_refresh_token());
    }
    let refusal = if row.expires_at <= Utc::now() {
        Some("token_expired")
    } else if !row.user_active {
        Some("user_inactive")
    } else {
        None
    };
    if let Some(reason) = refusal {
        tx.rollback().await?;
        audit::record_detached(&state, failed(reason, who, session_details)).await;
        return Err(invalid_refresh_token());
    }
    credentials::mark_refresh_token_used(&mut tx, row.id).await?;
    let pair = start_session(&state, &mut tx, &meta, row.user_id, row.family_id).await?;
    let refreshed = event(
        &meta,
        "token.refreshed",
        "refresh",
        "INFO",
        who,
        None,
        None,
        session_details,
    );
    modernize_db::audit::record(&mut tx, &refreshed).await?;
    tx.commit().await?;
    Ok(Json(pair))
}

/// End a session: its refresh tokens are revoked and its access tokens stop working. Answers
/// 204 whether or not the token was known.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 422, body = ErrorEnvelope)))]
pub async fn create_logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let mut c = Checks::new();
    c.text("refresh_token", body.refresh_token.as_deref(), 256, true);
    c.finish()?;
    let token = body.refresh_token.unwrap_or_default();
    if !session::looks_like_refresh_token(token.trim()) {
        return Ok(StatusCode::NO_CONTENT);
    }
    let digest = session::refresh_digest(token.trim());
    let mut tx = modernize_db::tenant::begin(&state.db.app, platform()).await?;
    if let Some(row) = credentials::find_refresh_token_for_update(&mut tx, &digest).await? {
        let revoked = credentials::revoke_refresh_family(&mut tx, row.family_id).await?;
        let logout = event(
            &meta,
            "logout",
            "logout",
            "INFO",
            Some((row.user_id, row.email.as_str())),
            None,
            None,
            json!({"session_id": row.family_id, "tokens_revoked": revoked}),
        );
        modernize_db::audit::record(&mut tx, &logout).await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_new_password(new_password: Option<&str>, email: &str) -> Result<String, ApiError> {
    let mut c = Checks::new();
    match new_password {
        None => c.fail("new_password", "is required"),
        Some(p) => {
            c.with("new_password", password::check_policy(p, email));
        }
    }
    c.finish()?;
    Ok(new_password.unwrap_or_default().to_string())
}

/// Stores a new password, revokes the user's sessions, records the event.
async fn store_password(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
    new_password: String,
    by_admin: bool,
) -> Result<PasswordChanged, ApiError> {
    let phc = password::hash_blocking(new_password).await;
    let mut tx = modernize_db::tenant::begin(
        &state.db.app,
        TenantScope::Platform {
            user_id: Some(caller.user_id),
        },
    )
    .await?;
    let changed_at = credentials::set_password(&mut tx, user_id, &phc).await?;
    let revoked = credentials::revoke_user_refresh_tokens(&mut tx, user_id).await?;
    audit::record_change(
        &mut tx,
        caller,
        None,
        "password.changed",
        "auth",
        "user",
        user_id.to_string(),
        json!({"by_admin": by_admin, "sessions_revoked": revoked}),
    )
    .await?;
    tx.commit().await?;
    Ok(PasswordChanged {
        password_changed_at: changed_at,
        sessions_revoked: revoked,
    })
}

/// Change your own password. The current password is required when one is set (a wrong one
/// counts as a failed login). Every session of the user ends.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 200, body = PasswordChanged),
              (status = 401, body = ErrorEnvelope, description = "invalid_credentials: the current password is wrong"),
              (status = 422, body = ErrorEnvelope),
              (status = 429, body = ErrorEnvelope, description = "account_locked")),
    security(("bearer" = [])))]
pub async fn update_my_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<PasswordChanged>, AuthError> {
    let mut tx = modernize_db::tenant::begin(&state.db.app, platform()).await?;
    let account = credentials::find_login_account(&mut tx, caller.user_id.0)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    tx.commit().await?;
    let mut c = Checks::new();
    c.text(
        "current_password",
        body.current_password.as_deref(),
        MAX_PASSWORD_INPUT,
        account.password_hash.is_some(),
    );
    c.finish()?;
    let new_password = check_new_password(body.new_password.as_deref(), &account.email)?;
    if let Some(phc) = account.password_hash.clone() {
        if let Some(until) = active_lock(&account) {
            return Err(AuthError::Locked { until });
        }
        let current = body.current_password.unwrap_or_default();
        if !password::verify_blocking(current, Some(phc)).await {
            return Err(register_failure(
                &state,
                &caller.meta,
                &account,
                "change_password",
                ErrorCode::InvalidCredentials,
            )
            .await);
        }
    }
    let changed = store_password(&state, &caller, caller.user_id.0, new_password, false).await?;
    Ok(Json(changed))
}

/// Set a user's password (platform administrators): an initial or temporary password, e.g.
/// for a user who cannot log in any more. Clears a lock; every session of the user ends.
#[utoipa::path(put, path = "/api/v1/users/{user_id}/password", tag = "auth",
    params(("user_id" = Uuid, Path)), request_body = PasswordSet,
    responses((status = 200, body = PasswordChanged), (status = 403, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_user_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PasswordSet>,
) -> Result<Json<PasswordChanged>, ApiError> {
    caller
        .authorize(&state, Action::ManagePlatform, Target::Platform)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, platform()).await?;
    let user = credentials::find_user(&mut tx, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    tx.commit().await?;
    let new_password = check_new_password(body.new_password.as_deref(), &user.email)?;
    Ok(Json(
        store_password(&state, &caller, user_id, new_password, true).await?,
    ))
}
