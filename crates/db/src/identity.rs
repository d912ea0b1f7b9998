//! Users, role grants and API tokens: the data behind authentication and authorization.
//!
//! Authentication runs before the caller's tenant is known, so these functions take a
//! transaction opened in platform scope by the authentication code path only.

use chrono::{DateTime, Utc};
use modernize_domain::access::{Grant, Role, Scope};
use modernize_domain::ids::{ClientAccountId, EngagementId, UserId};
use sqlx::PgConnection;
use uuid::Uuid;

/// The owner of a presented API token, as found by its digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenOwner {
    pub token_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub user_active: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Creates a user; local users get `auth0_user_id = "local|<id>"` (the column is mandatory and
/// unique, and an identity-provider subject can never start with `local|`).
pub async fn create_user(
    conn: &mut PgConnection,
    email: &str,
    full_name: Option<&str>,
    subject: Option<&str>,
) -> Result<UserId, sqlx::Error> {
    let id = Uuid::new_v4();
    let subject = subject.map_or_else(|| format!("local|{id}"), str::to_string);
    sqlx::query(
        "INSERT INTO migration.users (id, auth0_user_id, email, full_name) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(subject)
    .bind(email)
    .bind(full_name)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO migration.user_profiles (user_id) VALUES ($1)")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(UserId(id))
}

/// Grants `role` at `scope`.
pub async fn grant_role(
    conn: &mut PgConnection,
    user: UserId,
    role: Role,
    scope: Scope,
    granted_by: Option<UserId>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Uuid, sqlx::Error> {
    let (client, engagement) = match scope {
        Scope::Platform => (None, None),
        Scope::Client { client_account_id } => (Some(client_account_id.0), None),
        Scope::Engagement {
            client_account_id,
            engagement_id,
        } => (Some(client_account_id.0), Some(engagement_id.0)),
    };
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.user_roles \
             (user_id, role, client_account_id, engagement_id, granted_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(user.0)
    .bind(role.as_str())
    .bind(client)
    .bind(engagement)
    .bind(granted_by.map(|u| u.0))
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Number of active platform administrators (active users holding an unexpired global admin).
pub async fn count_platform_admins(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT r.user_id) FROM migration.user_roles r \
           JOIN migration.users u ON u.id = r.user_id \
          WHERE r.role = 'admin' AND r.client_account_id IS NULL AND r.engagement_id IS NULL \
            AND r.is_active AND (r.expires_at IS NULL OR r.expires_at > now()) AND u.is_active",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// The user's effective grants: active, unexpired roles whose client account is active.
/// Roles on inactive clients or expired roles simply do not count.
pub async fn effective_grants(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Vec<Grant>, sqlx::Error> {
    let rows: Vec<(String, Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "SELECT r.role, r.client_account_id, r.engagement_id \
           FROM migration.user_roles r \
           LEFT JOIN migration.client_accounts c ON c.id = r.client_account_id \
          WHERE r.user_id = $1 AND r.is_active \
            AND (r.expires_at IS NULL OR r.expires_at > now()) \
            AND (r.client_account_id IS NULL OR c.is_active)",
    )
    .bind(user.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(role, client, engagement)| {
            let role = Role::parse(&role)?;
            let scope = match (client, engagement) {
                (None, None) => Scope::Platform,
                (Some(c), None) => Scope::Client {
                    client_account_id: ClientAccountId(c),
                },
                (Some(c), Some(e)) => Scope::Engagement {
                    client_account_id: ClientAccountId(c),
                    engagement_id: EngagementId(e),
                },
                // The user_roles trigger always fills the client of an engagement role.
                (None, Some(_)) => return None,
            };
            Some(Grant { role, scope })
        })
        .collect())
}

/// Stores a new API token's digest.
pub async fn insert_api_token(
    conn: &mut PgConnection,
    user: UserId,
    name: &str,
    prefix: &str,
    digest: &[u8],
    expires_at: Option<DateTime<Utc>>,
) -> Result<Uuid, sqlx::Error> {
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.api_tokens (user_id, name, token_prefix, token_hash, expires_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user.0)
    .bind(name)
    .bind(prefix)
    .bind(digest)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Finds a token by digest, with its owner.
pub async fn find_api_token(
    conn: &mut PgConnection,
    digest: &[u8],
) -> Result<Option<TokenOwner>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id AS token_id, u.id AS user_id, u.email, coalesce(u.is_active, false) AS user_active, \
                t.expires_at, t.revoked_at, t.last_used_at \
           FROM migration.api_tokens t JOIN migration.users u ON u.id = t.user_id \
          WHERE t.token_hash = $1",
    )
    .bind(digest)
    .fetch_optional(&mut *conn)
    .await
}

/// Records a token's use (at most once a minute per token, to spare writes).
pub async fn touch_api_token(
    conn: &mut PgConnection,
    token: Uuid,
    ip: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE migration.api_tokens SET last_used_at = now(), last_used_ip = $2 \
          WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    )
    .bind(token)
    .bind(ip)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
