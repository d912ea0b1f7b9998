//! Membership of users in client accounts, as the user-administration routes need it.
//!
//! A user is a *member* of a client while they hold at least one active role row there
//! (client- or engagement-scoped, expired or not: an administrator must still see and renew an
//! expired grant). A member *uses a seat* (`client_accounts.max_users`) while one of those roles
//! is also unexpired. `user_roles` is under row-level security: call these in a transaction
//! scoped to the client (or platform scope).

use sqlx::PgConnection;
use uuid::Uuid;

/// The id of the user with this (normalised) e-mail address.
pub async fn find_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    let row: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM migration.users WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.0))
}

/// Whether the user exists.
pub async fn exists(conn: &mut PgConnection, user: Uuid) -> Result<bool, sqlx::Error> {
    let (found,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM migration.users WHERE id = $1)")
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
    Ok(found)
}

/// Number of distinct users using a seat of the client.
pub async fn seats_used(conn: &mut PgConnection, client: Uuid) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT user_id) FROM migration.user_roles \
          WHERE client_account_id = $1 AND is_active \
            AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(client)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// Whether the user already uses a seat of the client.
pub async fn uses_seat(
    conn: &mut PgConnection,
    client: Uuid,
    user: Uuid,
) -> Result<bool, sqlx::Error> {
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.user_roles \
          WHERE client_account_id = $1 AND user_id = $2 AND is_active \
            AND (expires_at IS NULL OR expires_at > now()))",
    )
    .bind(client)
    .bind(user)
    .fetch_one(&mut *conn)
    .await?;
    Ok(found)
}

/// Whether the user is a member of the client (holds an active role row there).
pub async fn is_member(
    conn: &mut PgConnection,
    client: Uuid,
    user: Uuid,
) -> Result<bool, sqlx::Error> {
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.user_roles \
          WHERE client_account_id = $1 AND user_id = $2 AND is_active)",
    )
    .bind(client)
    .bind(user)
    .fetch_one(&mut *conn)
    .await?;
    Ok(found)
}

/// Whether the user has ever held a role in the client (active or revoked).
pub async fn has_history_in(
    conn: &mut PgConnection,
    client: Uuid,
    user: Uuid,
) -> Result<bool, sqlx::Error> {
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.user_roles \
          WHERE client_account_id = $1 AND user_id = $2)",
    )
    .bind(client)
    .bind(user)
    .fetch_one(&mut *conn)
    .await?;
    Ok(found)
}

/// Whether the user already holds this exact active, unexpired grant.
pub async fn holds_grant(
    conn: &mut PgConnection,
    user: Uuid,
    role: &str,
    client: Uuid,
    engagement: Option<Uuid>,
) -> Result<bool, sqlx::Error> {
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM migration.user_roles \
          WHERE user_id = $1 AND role = $2 AND client_account_id = $3 \
            AND engagement_id IS NOT DISTINCT FROM $4 AND is_active \
            AND (expires_at IS NULL OR expires_at > now()))",
    )
    .bind(user)
    .bind(role)
    .bind(client)
    .bind(engagement)
    .fetch_one(&mut *conn)
    .await?;
    Ok(found)
}

/// Revokes every active role of the user in the client; returns the revoked role ids.
pub async fn revoke_client_roles(
    conn: &mut PgConnection,
    client: Uuid,
    user: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "UPDATE migration.user_roles SET is_active = false \
          WHERE client_account_id = $1 AND user_id = $2 AND is_active RETURNING id",
    )
    .bind(client)
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Ends the user's local sessions (refresh tokens). API tokens are not touched: they stop
/// working while the user is inactive because authentication checks the user on every request.
pub async fn end_sessions(conn: &mut PgConnection, user: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE migration.refresh_tokens SET revoked_at = now() \
          WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}
