//! The TOTP second factor of local login: set up (the secret is shown once and stored sealed
//! with the vault's master key), confirm with a first code (which turns MFA on), disable with a
//! current code.

use super::auth::{open_totp_secret, totp_aad};
use crate::auth::{Caller, audit, totp};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use modernize_db::credentials::{self, LoginAccount};
use modernize_domain::tenancy::TenantScope;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_totp, delete_totp))
        .routes(routes!(confirm_totp))
}

/// A new TOTP secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret in base32, for manual entry in an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` URL, for a QR code.
    pub otpauth_url: String,
}

/// A code of the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// 6 digits.
    pub code: Option<String>,
}

/// Whether the second factor is on.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaStatus {
    pub mfa_enabled: bool,
}

fn scope(caller: &Caller) -> TenantScope {
    TenantScope::Platform {
        user_id: Some(caller.user_id),
    }
}

async fn load(state: &AppState, caller: &Caller) -> Result<LoginAccount, ApiError> {
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope(caller)).await?;
    let account = credentials::find_login_account(&mut tx, caller.user_id.0)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    tx.commit().await?;
    Ok(account)
}

fn code_of(body: TotpCode) -> Result<String, ApiError> {
    let mut c = Checks::new();
    c.text("code", body.code.as_deref(), 16, true);
    c.finish()?;
    Ok(body.code.unwrap_or_default())
}

fn wrong_code() -> ApiError {
    ApiError::validation(vec![crate::error::FieldError {
        field: "code".into(),
        message: "is wrong, expired or already used".into(),
    }])
}

/// Checks `code` against the account's secret and consumes its time step; `false` for a wrong
/// or replayed code.
async fn consume_code(
    state: &AppState,
    caller: &Caller,
    account: &LoginAccount,
    code: &str,
) -> Result<bool, ApiError> {
    let secret = open_totp_secret(state, account)?;
    let Some(step) = totp::matching_step(&secret, code, totp::now_unix()) else {
        return Ok(false);
    };
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope(caller)).await?;
    let fresh = credentials::use_totp_step(
        &mut tx,
        account.user_id,
        i64::try_from(step).unwrap_or(i64::MAX),
    )
    .await?;
    tx.commit().await?;
    Ok(fresh)
}

/// Start setting up TOTP: a new secret, shown once, stored encrypted and unconfirmed until a
/// first code is confirmed. Replaces an unconfirmed secret; refused while MFA is on.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", tag = "auth",
    responses((status = 201, body = TotpSetup),
              (status = 409, body = ErrorEnvelope, description = "MFA is already enabled"),
              (status = 503, body = ErrorEnvelope, description = "vault_not_configured")),
    security(("bearer" = [])))]
pub async fn create_totp(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<TotpSetup>), ApiError> {
    let keyring = state.keyring.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::VaultNotConfigured,
            "no vault master key is configured: TOTP secrets cannot be stored",
        )
    })?;
    let account = load(&state, &caller).await?;
    if account.mfa_enabled && account.totp_confirmed_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "MFA is already enabled; disable it first to set up a new authenticator",
        ));
    }
    let secret = totp::generate_secret();
    let sealed = keyring.seal(&secret, totp_aad(account.user_id).as_bytes());
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope(&caller)).await?;
    credentials::store_totp_secret(&mut tx, account.user_id, &sealed.blob, &sealed.key_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "mfa.setup_started",
        "auth",
        "user",
        account.user_id.to_string(),
        json!({"method": "totp"}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(TotpSetup {
            secret: totp::secret_base32(&secret),
            otpauth_url: totp::otpauth_url(&secret, &account.email),
        }),
    ))
}

/// Confirm TOTP with a first code: MFA is on from now on, and local login asks for a code.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/confirm", tag = "auth", request_body = TotpCode,
    responses((status = 200, body = MfaStatus),
              (status = 409, body = ErrorEnvelope, description = "no setup pending, or already enabled"),
              (status = 422, body = ErrorEnvelope, description = "the code is wrong")),
    security(("bearer" = [])))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<Json<MfaStatus>, ApiError> {
    let code = code_of(body)?;
    let account = load(&state, &caller).await?;
    if account.mfa_enabled && account.totp_confirmed_at.is_some() {
        return Err(ApiError::new(ErrorCode::Conflict, "MFA is already enabled"));
    }
    if account.totp_secret_encrypted.is_none() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "no TOTP setup is pending; start one with POST /api/v1/me/mfa/totp",
        ));
    }
    if !consume_code(&state, &caller, &account, &code).await? {
        return Err(wrong_code());
    }
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope(&caller)).await?;
    credentials::enable_totp(&mut tx, account.user_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "mfa.enabled",
        "auth",
        "user",
        account.user_id.to_string(),
        json!({"method": "totp"}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(MfaStatus { mfa_enabled: true }))
}

/// Turn TOTP off, proving possession with a current code.
#[utoipa::path(delete, path = "/api/v1/me/mfa/totp", tag = "auth", request_body = TotpCode,
    responses((status = 200, body = MfaStatus),
              (status = 409, body = ErrorEnvelope, description = "MFA is not enabled"),
              (status = 422, body = ErrorEnvelope, description = "the code is wrong")),
    security(("bearer" = [])))]
pub async fn delete_totp(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<Json<MfaStatus>, ApiError> {
    let code = code_of(body)?;
    let account = load(&state, &caller).await?;
    if !account.mfa_enabled || account.totp_confirmed_at.is_none() {
        return Err(ApiError::new(ErrorCode::Conflict, "MFA is not enabled"));
    }
    if !consume_code(&state, &caller, &account, &code).await? {
        return Err(wrong_code());
    }
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope(&caller)).await?;
    credentials::disable_totp(&mut tx, account.user_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "mfa.disabled",
        "auth",
        "user",
        account.user_id.to_string(),
        json!({"method": "totp"}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(MfaStatus { mfa_enabled: false }))
}
