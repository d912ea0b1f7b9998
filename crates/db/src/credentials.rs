//! Local credentials (password hashes, failed-login counters, TOTP secrets) and the refresh
//! tokens of local sessions.
//!
//! Like `identity`, these functions run before the caller's tenant is known (or on the
//! caller's own user row), in a transaction opened in platform scope by the authentication code
//! paths only. Secrets never appear here in clear: passwords are argon2id PHC strings, refresh
//! tokens SHA-256 digests, TOTP secrets sealed blobs.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A user as seen by bearer-token authentication.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: Uuid,
    pub email: String,
    pub is_active: bool,
}

/// Everything local login needs about one user.
#[derive(Clone, sqlx::FromRow)]
pub struct LoginAccount {
    pub user_id: Uuid,
    pub email: String,
    pub is_active: bool,
    pub password_hash: Option<String>,
    pub failed_attempts: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub mfa_enabled: bool,
    pub totp_secret_encrypted: Option<Vec<u8>>,
    pub totp_encryption_key_id: Option<String>,
    pub totp_confirmed_at: Option<DateTime<Utc>>,
    pub totp_last_used_step: Option<i64>,
    pub password_changed_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for LoginAccount {
    // Neither the hash nor the sealed secret belongs in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAccount")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("is_active", &self.is_active)
            .field("has_password", &self.password_hash.is_some())
            .field("failed_attempts", &self.failed_attempts)
            .field("locked_until", &self.locked_until)
            .field("mfa_enabled", &self.mfa_enabled)
            .field("totp_confirmed_at", &self.totp_confirmed_at)
            .finish()
    }
}

const LOGIN_COLUMNS: &str = "u.id AS user_id, u.email, coalesce(u.is_active, false) AS is_active, \
    c.password_hash, coalesce(c.failed_attempts, 0) AS failed_attempts, c.locked_until, \
    coalesce(p.mfa_enabled, false) AS mfa_enabled, c.totp_secret_encrypted, \
    c.totp_encryption_key_id, c.totp_confirmed_at, c.totp_last_used_step, p.password_changed_at";

const LOGIN_FROM: &str = "migration.users u \
    LEFT JOIN migration.user_credentials c ON c.user_id = u.id \
    LEFT JOIN migration.user_profiles p ON p.user_id = u.id";

/// The login account with this (normalised, lower-case) e-mail address.
pub async fn find_login_account_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<LoginAccount>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LOGIN_COLUMNS} FROM {LOGIN_FROM} WHERE u.email = $1"
    ))
    .bind(email)
    .fetch_optional(&mut *conn)
    .await
}

/// The login account of a user.
pub async fn find_login_account(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<LoginAccount>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LOGIN_COLUMNS} FROM {LOGIN_FROM} WHERE u.id = $1"
    ))
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await
}

/// A user by id.
pub async fn find_user(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<UserRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email, coalesce(is_active, false) AS is_active FROM migration.users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await
}

/// A user by identity-provider subject (`users.auth0_user_id`).
pub async fn find_user_by_subject(
    conn: &mut PgConnection,
    subject: &str,
) -> Result<Option<UserRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, email, coalesce(is_active, false) AS is_active FROM migration.users \
          WHERE auth0_user_id = $1",
    )
    .bind(subject)
    .fetch_optional(&mut *conn)
    .await
}

/// Counts one more failed login and returns the number of consecutive failures.
pub async fn record_failure(conn: &mut PgConnection, user_id: Uuid) -> Result<i32, sqlx::Error> {
    let (n,): (i32,) = sqlx::query_as(
        "INSERT INTO migration.user_credentials (user_id, failed_attempts, last_failed_at) \
         VALUES ($1, 1, now()) \
         ON CONFLICT (user_id) DO UPDATE \
            SET failed_attempts = migration.user_credentials.failed_attempts + 1, last_failed_at = now() \
         RETURNING failed_attempts",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// Locks the account until `until`.
pub async fn lock_until(
    conn: &mut PgConnection,
    user_id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE migration.user_credentials SET locked_until = $2 WHERE user_id = $1")
        .bind(user_id)
        .bind(until)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A successful login: clears the failure counter and any lock, records the login time.
pub async fn record_success(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE migration.user_credentials SET failed_attempts = 0, locked_until = NULL \
          WHERE user_id = $1 AND (failed_attempts <> 0 OR locked_until IS NOT NULL)",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE migration.users SET last_login_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Stores a new password hash, clears failures and locks, and records the change time in the
/// user's profile (created if missing). Returns the change time.
pub async fn set_password(
    conn: &mut PgConnection,
    user_id: Uuid,
    phc: &str,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query(
        "INSERT INTO migration.user_credentials (user_id, password_hash) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE \
            SET password_hash = EXCLUDED.password_hash, failed_attempts = 0, locked_until = NULL",
    )
    .bind(user_id)
    .bind(phc)
    .execute(&mut *conn)
    .await?;
    let (at,): (DateTime<Utc>,) = sqlx::query_as(
        "INSERT INTO migration.user_profiles (user_id, password_changed_at) VALUES ($1, now()) \
         ON CONFLICT (user_id) DO UPDATE SET password_changed_at = EXCLUDED.password_changed_at \
         RETURNING password_changed_at",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(at)
}

/// Stores a new, unconfirmed TOTP secret (sealed), replacing any earlier unconfirmed one.
pub async fn store_totp_secret(
    conn: &mut PgConnection,
    user_id: Uuid,
    sealed: &[u8],
    key_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO migration.user_credentials \
             (user_id, totp_secret_encrypted, totp_encryption_key_id) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE \
            SET totp_secret_encrypted = EXCLUDED.totp_secret_encrypted, \
                totp_encryption_key_id = EXCLUDED.totp_encryption_key_id, \
                totp_confirmed_at = NULL, totp_last_used_step = NULL",
    )
    .bind(user_id)
    .bind(sealed)
    .bind(key_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Consumes a TOTP time step: succeeds only if it is later than the last one used, so that a
/// code is accepted once.
pub async fn use_totp_step(
    conn: &mut PgConnection,
    user_id: Uuid,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE migration.user_credentials SET totp_last_used_step = $2 \
          WHERE user_id = $1 AND (totp_last_used_step IS NULL OR totp_last_used_step < $2)",
    )
    .bind(user_id)
    .bind(step)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Confirms the pending TOTP secret and turns the second factor on.
pub async fn enable_totp(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE migration.user_credentials SET totp_confirmed_at = now() WHERE user_id = $1",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    set_mfa_enabled(conn, user_id, true).await
}

/// Removes the TOTP secret and turns the second factor off.
pub async fn disable_totp(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE migration.user_credentials \
            SET totp_secret_encrypted = NULL, totp_encryption_key_id = NULL, \
                totp_confirmed_at = NULL, totp_last_used_step = NULL \
          WHERE user_id = $1",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    set_mfa_enabled(conn, user_id, false).await
}

async fn set_mfa_enabled(
    conn: &mut PgConnection,
    user_id: Uuid,
    enabled: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO migration.user_profiles (user_id, mfa_enabled) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET mfa_enabled = EXCLUDED.mfa_enabled",
    )
    .bind(user_id)
    .bind(enabled)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A refresh token found by its digest, with its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub email: String,
    pub user_active: bool,
}

/// Stores a refresh token's digest.
#[allow(clippy::too_many_arguments)]
pub async fn insert_refresh_token(
    conn: &mut PgConnection,
    user_id: Uuid,
    family_id: Uuid,
    digest: &[u8],
    expires_at: DateTime<Utc>,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Uuid, sqlx::Error> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.refresh_tokens \
             (user_id, family_id, token_hash, expires_at, ip_address, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(user_id)
    .bind(family_id)
    .bind(digest)
    .bind(expires_at)
    .bind(ip.map(|ip| ip.chars().take(45).collect::<String>()))
    .bind(user_agent)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Finds a refresh token by digest and locks its row, so that two concurrent uses of one token
/// are serialised (the second one sees it used).
pub async fn find_refresh_token_for_update(
    conn: &mut PgConnection,
    digest: &[u8],
) -> Result<Option<RefreshTokenRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.user_id, t.family_id, t.expires_at, t.used_at, t.revoked_at, u.email, \
                coalesce(u.is_active, false) AS user_active \
           FROM migration.refresh_tokens t JOIN migration.users u ON u.id = t.user_id \
          WHERE t.token_hash = $1 \
          FOR UPDATE OF t",
    )
    .bind(digest)
    .fetch_optional(&mut *conn)
    .await
}

/// Marks a refresh token used (it has been exchanged for a new one).
pub async fn mark_refresh_token_used(conn: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE migration.refresh_tokens SET used_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Revokes every token of a family; returns how many were still unrevoked.
pub async fn revoke_refresh_family(
    conn: &mut PgConnection,
    family_id: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE migration.refresh_tokens SET revoked_at = now() \
          WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Revokes every refresh token of a user (all sessions); returns how many were unrevoked.
pub async fn revoke_user_refresh_tokens(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE migration.refresh_tokens SET revoked_at = now() \
          WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Whether a session (refresh-token family) has been revoked: logout, password change, or
/// detected token theft. Access tokens of a revoked session stop working at once.
pub async fn refresh_family_revoked(
    conn: &mut PgConnection,
    family_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let (revoked,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.refresh_tokens \
                         WHERE family_id = $1 AND revoked_at IS NOT NULL)",
    )
    .bind(family_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(revoked)
}
