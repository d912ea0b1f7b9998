//! Platform credentials of a client: secrets for an adapter (API keys, OAuth2 clients, basic
//! authentication), encrypted with envelope encryption. The API stores, replaces and describes
//! them; it never returns a secret or its ciphertext. Components that need a secret use
//! [`crate::vault::credentials::reveal`], which audits every read.

use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use crate::vault::{Keyring, credentials as vault};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use modernize_domain::access::{Action, Target};
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_credential, list_credentials))
        .routes(routes!(
            get_credential,
            update_credential,
            delete_credential
        ))
        .routes(routes!(rotate_credential_secret))
}

pub const CREDENTIAL_TYPES: [&str; 3] = ["api_key", "oauth2", "basic_auth"];
pub const CREDENTIAL_STATUSES: [&str; 2] = ["active", "revoked"];
/// Largest accepted secret: its JSON text, in bytes.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// A stored credential, described without its secret.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Credential {
    pub id: Uuid,
    pub client_account_id: Uuid,
    pub platform_adapter_id: Uuid,
    pub adapter_name: String,
    pub credential_name: String,
    /// api_key, oauth2 or basic_auth.
    pub credential_type: Option<String>,
    /// The master key wrapping the secret's data key.
    pub encryption_key_id: Option<String>,
    /// Reference to the secret in an external vault, when there is one.
    pub vault_path: Option<String>,
    /// active or revoked.
    pub status: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_rotated_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub updated_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT c.id, c.client_account_id, c.platform_adapter_id, a.adapter_name, \
    c.credential_name, c.credential_type, c.encryption_key_id, c.vault_path, c.status, \
    c.expires_at, c.last_rotated_at, c.created_at, c.created_by, c.updated_at \
    FROM migration.platform_credentials c \
    JOIN migration.platform_adapters a ON a.id = c.platform_adapter_id";

/// A secret as submitted: a JSON object or a string. Never printed.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct SecretInput(Value);

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl SecretInput {
    fn check(&self, c: &mut Checks) {
        match &self.0 {
            Value::String(s) if s.is_empty() => c.fail("secret", "must not be empty"),
            Value::Object(o) if o.is_empty() => c.fail("secret", "must not be empty"),
            Value::String(_) | Value::Object(_) => {
                if self.0.to_string().len() > MAX_SECRET_BYTES {
                    c.fail("secret", "must be at most 64 KiB");
                }
            }
            _ => c.fail("secret", "must be a JSON object or a string"),
        }
    }
}

/// A new credential.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    pub platform_adapter_id: Option<Uuid>,
    /// 1 to 255 characters, unique per adapter within the client.
    pub credential_name: Option<String>,
    /// api_key, oauth2 or basic_auth.
    pub credential_type: Option<String>,
    /// The secret: a JSON object (e.g. `{"client_id": ..., "client_secret": ...}`) or a string,
    /// at most 64 KiB. Stored encrypted; never returned.
    #[schema(value_type = Object)]
    pub secret: Option<SecretInput>,
    /// When the secret stops being usable (must be in the future).
    pub expires_at: Option<DateTime<Utc>>,
    /// Reference to the secret in an external vault (at most 500 characters).
    pub vault_path: Option<String>,
}

/// A replacement secret.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSecret {
    /// A JSON object or a string, at most 64 KiB.
    #[schema(value_type = Object)]
    pub secret: Option<SecretInput>,
}

/// Changes to a credential's description. Absent fields are left unchanged; `expires_at: null`
/// removes the expiry.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialChanges {
    pub credential_name: Option<String>,
    /// active or revoked.
    pub status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// Distinguishes an explicit `null` (Some(None)) from an absent field (None).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn check_name(c: &mut Checks, name: Option<&str>, required: bool) {
    c.text("credential_name", name, 255, required);
    if !required && name.is_some_and(|n| n.trim().is_empty()) {
        c.fail("credential_name", "must not be blank");
    }
}

fn check_future(c: &mut Checks, at: Option<DateTime<Utc>>) {
    if at.is_some_and(|at| at <= Utc::now()) {
        c.fail("expires_at", "must be in the future");
    }
}

/// The keyring, or 503 `vault_not_configured`.
fn keyring(state: &AppState) -> Result<Arc<Keyring>, ApiError> {
    state.keyring.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::VaultNotConfigured,
            "the credential vault has no master key: set vault.keys (id = base64 of 32 random \
             bytes) and vault.active_key_id, or vault.key_file, then restart",
        )
    })
}

/// Authorizes credential management in the client, then requires the vault.
async fn authorize(
    state: &AppState,
    caller: &Caller,
    client_id: Uuid,
) -> Result<(TenantScope, Arc<Keyring>), ApiError> {
    let scope = caller
        .authorize(
            state,
            Action::ManageCredentials,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    Ok((scope, keyring(state)?))
}

async fn fetch(conn: &mut PgConnection, client_id: Uuid, id: Uuid) -> Result<Credential, ApiError> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE c.id = $1 AND c.client_account_id = $2"
    ))
    .bind(id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("credential"))
}

/// Store a credential for an adapter (client and platform administrators). The answer
/// describes it; the secret is never returned.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/credentials", tag = "credentials",
    params(("client_id" = Uuid, Path)), request_body = NewCredential,
    responses((status = 201, body = Credential), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_credential(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(fields): ApiJson<NewCredential>,
) -> Result<(StatusCode, Json<Credential>), ApiError> {
    let (scope, keyring) = authorize(&state, &caller, client_id).await?;
    let mut c = Checks::new();
    if fields.platform_adapter_id.is_none() {
        c.fail("platform_adapter_id", "is required");
    }
    check_name(&mut c, fields.credential_name.as_deref(), true);
    if fields.credential_type.is_none() {
        c.fail("credential_type", "is required");
    }
    c.one_of(
        "credential_type",
        fields.credential_type.as_deref(),
        &CREDENTIAL_TYPES,
    );
    match &fields.secret {
        Some(secret) => secret.check(&mut c),
        None => c.fail("secret", "is required"),
    }
    check_future(&mut c, fields.expires_at);
    c.text("vault_path", fields.vault_path.as_deref(), 500, false);
    c.finish()?;
    let (Some(adapter_id), Some(name), Some(secret)) = (
        fields.platform_adapter_id,
        fields.credential_name.as_deref().map(str::trim),
        &fields.secret,
    ) else {
        return Err(ApiError::internal("validated fields are missing"));
    };
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    crate::routes::clients::require_active_locked(&mut tx, client_id).await?;
    let adapter: Option<(Option<String>,)> =
        sqlx::query_as("SELECT status FROM migration.platform_adapters WHERE id = $1 FOR SHARE")
            .bind(adapter_id)
            .fetch_optional(&mut *tx)
            .await?;
    match adapter {
        None => {
            let mut c = Checks::new();
            c.fail("platform_adapter_id", "no such adapter");
            return Err(c.finish().unwrap_err());
        }
        Some((Some(status),)) if status != "active" => {
            let mut c = Checks::new();
            c.fail(
                "platform_adapter_id",
                format!("the adapter is {status}; credentials are stored for active adapters"),
            );
            return Err(c.finish().unwrap_err());
        }
        Some(_) => {}
    }
    let id = Uuid::new_v4();
    let sealed = vault::seal(&keyring, id, client_id, &secret.0);
    sqlx::query(
        "INSERT INTO migration.platform_credentials (id, client_account_id, platform_adapter_id, \
             credential_name, credential_type, encrypted_credentials, encryption_key_id, vault_path, \
             status, expires_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10)",
    )
    .bind(id)
    .bind(client_id)
    .bind(adapter_id)
    .bind(name)
    .bind(&fields.credential_type)
    .bind(&sealed.blob)
    .bind(&sealed.key_id)
    .bind(&fields.vault_path)
    .bind(fields.expires_at)
    .bind(caller.user_id.0)
    .execute(&mut *tx)
    .await?;
    let credential = fetch(&mut tx, client_id, id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "credential.stored",
        "config",
        "platform_credential",
        id.to_string(),
        json!({"credential_name": credential.credential_name,
               "credential_type": credential.credential_type,
               "platform_adapter_id": adapter_id,
               "encryption_key_id": credential.encryption_key_id}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(credential)))
}

/// The client's credentials (descriptions only).
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/credentials", tag = "credentials",
    params(("client_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Credential>), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<Credential>>, ApiError> {
    let (scope, _) = authorize(&state, &caller, client_id).await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let all = sqlx::query_as(&format!(
        "{SELECT} WHERE c.client_account_id = $1 ORDER BY c.credential_name, c.id"
    ))
    .bind(client_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(all))
}

/// One credential (description only).
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/credentials/{credential_id}",
    tag = "credentials",
    params(("client_id" = Uuid, Path), ("credential_id" = Uuid, Path)),
    responses((status = 200, body = Credential), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_credential(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, credential_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Credential>, ApiError> {
    let (scope, _) = authorize(&state, &caller, client_id).await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let credential = fetch(&mut tx, client_id, credential_id).await?;
    tx.commit().await?;
    Ok(Json(credential))
}

/// Replace a credential's secret: sealed anew with a fresh data key under the active master
/// key; `last_rotated_at` is set.
#[utoipa::path(put, path = "/api/v1/clients/{client_id}/credentials/{credential_id}/secret",
    tag = "credentials",
    params(("client_id" = Uuid, Path), ("credential_id" = Uuid, Path)), request_body = NewSecret,
    responses((status = 200, body = Credential), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
              (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn rotate_credential_secret(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, credential_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<NewSecret>,
) -> Result<Json<Credential>, ApiError> {
    let (scope, keyring) = authorize(&state, &caller, client_id).await?;
    let mut c = Checks::new();
    match &body.secret {
        Some(secret) => secret.check(&mut c),
        None => c.fail("secret", "is required"),
    }
    c.finish()?;
    let Some(secret) = &body.secret else {
        return Err(ApiError::internal("validated fields are missing"));
    };
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    crate::routes::clients::require_active_locked(&mut tx, client_id).await?;
    let sealed = vault::seal(&keyring, credential_id, client_id, &secret.0);
    let updated = sqlx::query(
        "UPDATE migration.platform_credentials SET encrypted_credentials = $3, \
             encryption_key_id = $4, last_rotated_at = now() \
         WHERE id = $1 AND client_account_id = $2",
    )
    .bind(credential_id)
    .bind(client_id)
    .bind(&sealed.blob)
    .bind(&sealed.key_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("credential"));
    }
    let credential = fetch(&mut tx, client_id, credential_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "credential.rotated",
        "config",
        "platform_credential",
        credential_id.to_string(),
        json!({"credential_name": credential.credential_name,
               "encryption_key_id": credential.encryption_key_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(credential))
}

/// Change a credential's name, status (active / revoked) or expiry.
#[utoipa::path(patch, path = "/api/v1/clients/{client_id}/credentials/{credential_id}",
    tag = "credentials",
    params(("client_id" = Uuid, Path), ("credential_id" = Uuid, Path)),
    request_body = CredentialChanges,
    responses((status = 200, body = Credential), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_credential(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, credential_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(changes): ApiJson<CredentialChanges>,
) -> Result<Json<Credential>, ApiError> {
    let (scope, _) = authorize(&state, &caller, client_id).await?;
    let mut c = Checks::new();
    check_name(&mut c, changes.credential_name.as_deref(), false);
    c.one_of("status", changes.status.as_deref(), &CREDENTIAL_STATUSES);
    check_future(&mut c, changes.expires_at.flatten());
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let updated = sqlx::query(
        "UPDATE migration.platform_credentials SET \
             credential_name = coalesce($3, credential_name), status = coalesce($4, status), \
             expires_at = CASE WHEN $5 THEN $6 ELSE expires_at END \
         WHERE id = $1 AND client_account_id = $2",
    )
    .bind(credential_id)
    .bind(client_id)
    .bind(changes.credential_name.as_deref().map(str::trim))
    .bind(&changes.status)
    .bind(changes.expires_at.is_some())
    .bind(changes.expires_at.flatten())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("credential"));
    }
    let credential = fetch(&mut tx, client_id, credential_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "credential.updated",
        "config",
        "platform_credential",
        credential_id.to_string(),
        json!({"credential_name": credential.credential_name, "status": credential.status,
               "expires_at": credential.expires_at}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(credential))
}

/// Delete a credential and its secret.
#[utoipa::path(delete, path = "/api/v1/clients/{client_id}/credentials/{credential_id}",
    tag = "credentials",
    params(("client_id" = Uuid, Path), ("credential_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_credential(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, credential_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let (scope, _) = authorize(&state, &caller, client_id).await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let deleted: Option<(String,)> = sqlx::query_as(
        "DELETE FROM migration.platform_credentials WHERE id = $1 AND client_account_id = $2 \
         RETURNING credential_name",
    )
    .bind(credential_id)
    .bind(client_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((name,)) = deleted else {
        return Err(ApiError::not_found("credential"));
    };
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "credential.deleted",
        "config",
        "platform_credential",
        credential_id.to_string(),
        json!({"credential_name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
