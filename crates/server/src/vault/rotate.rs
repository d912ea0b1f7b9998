//! Master key rotation: re-wraps every stored secret's data key under the active master key.
//!
//! Covers `platform_credentials.encrypted_credentials` (associated data
//! `platform_credentials:<id>:<client_account_id>`) and `user_credentials.totp_secret_encrypted`
//! (associated data `user_credentials.totp:<user_id>`). Secrets already under the active key are
//! left alone, so a second run changes nothing. Work proceeds in batches, each in one
//! platform-scope transaction; a secret that cannot be unwrapped (its key is not configured, or
//! it is corrupt) is reported and skipped.

use super::credentials;
use super::envelope::{Keyring, Sealed};
use modernize_db::audit::{self, AuditRecord};
use modernize_domain::tenancy::TenantScope;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// The associated data of a user's TOTP secret.
pub fn totp_aad(user_id: Uuid) -> Vec<u8> {
    format!("user_credentials.totp:{user_id}").into_bytes()
}

/// One secret that could not be re-wrapped.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub table: &'static str,
    pub id: Uuid,
    pub error: String,
}

/// What a rotation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RotationReport {
    pub active_key_id: String,
    /// Secrets now wrapped by the active key that were not before.
    pub rewrapped: u64,
    /// Secrets that were already wrapped by the active key.
    pub already_current: u64,
    pub failed: Vec<Failure>,
}

/// id, client id (platform credentials), sealed blob, key id.
type SealedRow = (Uuid, Option<Uuid>, Vec<u8>, Option<String>);

struct Table {
    name: &'static str,
    id_column: &'static str,
    blob_column: &'static str,
    key_column: &'static str,
    aad: fn(Uuid, Option<Uuid>) -> Vec<u8>,
    client_column: Option<&'static str>,
}

const TABLES: [Table; 2] = [
    Table {
        name: "platform_credentials",
        id_column: "id",
        blob_column: "encrypted_credentials",
        key_column: "encryption_key_id",
        aad: |id, client| credentials::aad(id, client.unwrap_or_default()),
        client_column: Some("client_account_id"),
    },
    Table {
        name: "user_credentials",
        id_column: "user_id",
        blob_column: "totp_secret_encrypted",
        key_column: "totp_encryption_key_id",
        aad: |id, _| totp_aad(id),
        client_column: None,
    },
];

/// Re-wraps every secret not under `keyring`'s active key, `batch` rows per transaction, on
/// the runtime pool in platform scope; then records a `vault.keys_rotated` audit event.
pub async fn rewrap_all(
    pool: &PgPool,
    keyring: &Keyring,
    batch: i64,
    actor_role: &str,
) -> Result<RotationReport, modernize_db::DbError> {
    let active = keyring.active_key_id().to_string();
    let mut report = RotationReport {
        active_key_id: active.clone(),
        ..RotationReport::default()
    };
    for table in &TABLES {
        rewrap_table(pool, keyring, table, batch.max(1), &mut report).await?;
    }
    let mut tx = modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
    audit::record(
        &mut tx,
        &AuditRecord {
            event_type: "vault.keys_rotated".into(),
            event_category: "config",
            severity: if report.failed.is_empty() {
                "WARNING"
            } else {
                "ERROR"
            },
            actor_user_id: "system".into(),
            actor_role: Some(actor_role.chars().take(50).collect()),
            target_type: Some("vault".into()),
            action: "rotate keys".into(),
            result: if report.failed.is_empty() {
                "success"
            } else {
                "failure"
            },
            details: json!({
                "active_key_id": report.active_key_id,
                "rewrapped": report.rewrapped,
                "already_current": report.already_current,
                "failed": report.failed.iter().take(100).collect::<Vec<_>>(),
                "failed_count": report.failed.len(),
            }),
            requires_review: !report.failed.is_empty(),
            ..AuditRecord::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

async fn rewrap_table(
    pool: &PgPool,
    keyring: &Keyring,
    table: &Table,
    batch: i64,
    report: &mut RotationReport,
) -> Result<(), modernize_db::DbError> {
    let active = keyring.active_key_id();
    let Table {
        name,
        id_column: idc,
        blob_column: blob,
        key_column: key,
        ..
    } = table;
    let client = table.client_column.unwrap_or("NULL::uuid");
    let mut tx = modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
    let (current,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM migration.{name} WHERE {blob} IS NOT NULL AND {key} = $1"
    ))
    .bind(active)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    report.already_current += current as u64;
    // Ids move forward only, so rows that fail are not retried within this run.
    let mut after = Uuid::nil();
    loop {
        let mut tx =
            modernize_db::tenant::begin(pool, TenantScope::Platform { user_id: None }).await?;
        let rows: Vec<SealedRow> = sqlx::query_as(&format!(
            "SELECT {idc}, {client}, {blob}, {key} FROM migration.{name} \
             WHERE {blob} IS NOT NULL AND {key} IS DISTINCT FROM $1 AND {idc} > $2 \
             ORDER BY {idc} LIMIT $3 FOR UPDATE"
        ))
        .bind(active)
        .bind(after)
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(());
        }
        for (id, client_id, blob_value, key_id) in rows {
            after = id;
            let sealed = Sealed {
                key_id: key_id.unwrap_or_default(),
                blob: blob_value,
            };
            match keyring.rewrap(&sealed, &(table.aad)(id, client_id)) {
                Ok(new) => {
                    sqlx::query(&format!(
                        "UPDATE migration.{name} SET {blob} = $2, {key} = $3 WHERE {idc} = $1"
                    ))
                    .bind(id)
                    .bind(&new.blob)
                    .bind(&new.key_id)
                    .execute(&mut *tx)
                    .await?;
                    report.rewrapped += 1;
                }
                Err(e) => report.failed.push(Failure {
                    table: name,
                    id,
                    error: e.to_string(),
                }),
            }
        }
        tx.commit().await?;
    }
}
