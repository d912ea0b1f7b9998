//! Platform credentials at rest, and the one internal path that decrypts them.
//!
//! A credential's secret is sealed with associated data
//! `platform_credentials:<credential_id>:<client_account_id>`, so a ciphertext copied into
//! another row, or another client's row, does not open. No API returns a secret: components
//! that need one call [`reveal`], which reads it in the client's row-level-security scope and
//! writes a `credential.read` audit event in the same transaction.

use super::envelope::{Keyring, Sealed, VaultError};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use modernize_db::audit::{self, AuditRecord};
use modernize_domain::ids::{ClientAccountId, UserId};
use modernize_domain::tenancy::TenantScope;
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

/// The associated data binding a sealed secret to its row and client.
pub fn aad(credential_id: Uuid, client_account_id: Uuid) -> Vec<u8> {
    format!("platform_credentials:{credential_id}:{client_account_id}").into_bytes()
}

/// Seals a secret (its JSON text) for one credential row.
pub fn seal(
    keyring: &Keyring,
    credential_id: Uuid,
    client_account_id: Uuid,
    secret: &serde_json::Value,
) -> Sealed {
    let plain = Zeroizing::new(secret.to_string().into_bytes());
    keyring.seal(&plain, &aad(credential_id, client_account_id))
}

/// A decrypted secret. Its `Debug` never shows the value, and its memory is zeroed on drop.
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl SecretValue {
    /// The secret as stored: the JSON text of what was submitted.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as submitted: a JSON object, or a string.
    pub fn expose_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.0)
    }
}

/// Who reads a secret, for the audit row.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `security_audit_logs.actor_user_id`: a user id, or `system`.
    pub id: String,
    pub email: Option<String>,
    /// The component or role acting (e.g. `discovery-adapter`).
    pub role: Option<String>,
}

impl Actor {
    /// A component of the platform acting on its own (a job, an adapter run).
    pub fn component(name: &str) -> Actor {
        Actor {
            id: "system".into(),
            email: None,
            role: Some(name.chars().take(50).collect()),
        }
    }

    /// A user on whose behalf a component acts.
    pub fn user(user_id: UserId, email: Option<String>, component: &str) -> Actor {
        Actor {
            id: user_id.to_string(),
            email,
            role: Some(component.chars().take(50).collect()),
        }
    }
}

/// Why a secret was not revealed.
#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    #[error("the credential vault has no master keys configured")]
    NotConfigured,
    #[error("a purpose of 1 to 200 characters is required to read a secret")]
    BadPurpose,
    #[error("credential not found")]
    NotFound,
    #[error("credential {0} is revoked")]
    Revoked(Uuid),
    #[error("credential {0} expired at {1}")]
    Expired(Uuid, DateTime<Utc>),
    #[error("credential {id} cannot be decrypted: {source}")]
    Undecryptable { id: Uuid, source: VaultError },
    #[error(transparent)]
    Database(#[from] modernize_db::DbError),
}

impl From<sqlx::Error> for RevealError {
    fn from(e: sqlx::Error) -> Self {
        RevealError::Database(e.into())
    }
}

#[derive(sqlx::FromRow)]
struct SealedRow {
    credential_name: String,
    platform_adapter_id: Uuid,
    encrypted_credentials: Vec<u8>,
    encryption_key_id: Option<String>,
    status: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// Decrypts a credential's secret for internal use, with the actor taken from `scope` (its user,
/// or `system`). See [`reveal_as`].
pub async fn reveal(
    state: &AppState,
    scope: TenantScope,
    client_id: ClientAccountId,
    credential_id: Uuid,
    purpose: &str,
) -> Result<SecretValue, RevealError> {
    let actor = match scope.user_id() {
        Some(user) => Actor::user(user, None, "internal"),
        None => Actor::component("internal"),
    };
    reveal_as(state, scope, client_id, credential_id, &actor, purpose).await
}

/// Decrypts a credential's secret for internal use. Not exposed over HTTP.
///
/// Reads the row within `scope` (the client's own scope, or platform scope), refuses revoked
/// and expired credentials, and writes a `credential.read` audit event (with `purpose`) in the
/// same transaction — refusals are audited too.
pub async fn reveal_as(
    state: &AppState,
    scope: TenantScope,
    client_id: ClientAccountId,
    credential_id: Uuid,
    actor: &Actor,
    purpose: &str,
) -> Result<SecretValue, RevealError> {
    let purpose = purpose.trim();
    if purpose.is_empty() || purpose.chars().count() > 200 {
        return Err(RevealError::BadPurpose);
    }
    let keyring = state.keyring.as_deref().ok_or(RevealError::NotConfigured)?;
    match scope {
        TenantScope::Platform { .. } => {}
        TenantScope::Client {
            client_account_id, ..
        } if client_account_id == client_id => {}
        _ => return Err(RevealError::NotFound),
    }
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let row: Option<SealedRow> = sqlx::query_as(
        "SELECT credential_name, platform_adapter_id, encrypted_credentials, encryption_key_id, \
                status, expires_at \
         FROM migration.platform_credentials WHERE id = $1 AND client_account_id = $2",
    )
    .bind(credential_id)
    .bind(client_id.0)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Err(RevealError::NotFound);
    };
    let outcome = if row.status.as_deref() != Some("active") {
        Err(RevealError::Revoked(credential_id))
    } else if let Some(at) = row.expires_at.filter(|at| *at <= Utc::now()) {
        Err(RevealError::Expired(credential_id, at))
    } else {
        let sealed = Sealed {
            key_id: row.encryption_key_id.clone().unwrap_or_default(),
            blob: row.encrypted_credentials,
        };
        keyring
            .open(&sealed, &aad(credential_id, client_id.0))
            .map(|plain| SecretValue(Zeroizing::new(plain)))
            .map_err(|source| RevealError::Undecryptable {
                id: credential_id,
                source,
            })
    };
    let (result, severity, error_code) = match &outcome {
        Ok(_) => ("success", "INFO", None),
        Err(RevealError::Revoked(_)) => ("failure", "WARNING", Some("credential_revoked")),
        Err(RevealError::Expired(..)) => ("failure", "WARNING", Some("credential_expired")),
        Err(_) => ("error", "ERROR", Some("credential_undecryptable")),
    };
    audit::record(
        &mut tx,
        &AuditRecord {
            client_account_id: Some(client_id.0),
            event_type: "credential.read".into(),
            event_category: "access",
            severity,
            actor_user_id: actor.id.clone(),
            actor_email: actor.email.clone(),
            actor_role: actor.role.clone(),
            target_type: Some("platform_credential".into()),
            target_id: Some(credential_id.to_string()),
            action: "reveal".into(),
            result,
            error_code: error_code.map(String::from),
            details: json!({
                "purpose": purpose,
                "credential_name": row.credential_name,
                "platform_adapter_id": row.platform_adapter_id,
                "encryption_key_id": row.encryption_key_id,
            }),
            requires_review: outcome.is_err(),
            ..AuditRecord::default()
        },
    )
    .await?;
    tx.commit().await?;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_bound_to_row_and_client_and_never_printed() {
        let keys = [("k".to_string(), Keyring::generate_key())]
            .into_iter()
            .collect();
        let ring = Keyring::new("k", &keys).unwrap();
        let (id, client) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = seal(&ring, id, client, &json!({"password": "hunter2"}));
        assert!(ring.open(&sealed, &aad(id, client)).is_ok());
        assert!(ring.open(&sealed, &aad(Uuid::new_v4(), client)).is_err());
        assert!(ring.open(&sealed, &aad(id, Uuid::new_v4())).is_err());
        let value = SecretValue(Zeroizing::new(b"\"hunter2\"".to_vec()));
        assert_eq!(format!("{value:?}"), "***");
        assert_eq!(value.expose_json().unwrap(), json!("hunter2"));
    }
}
