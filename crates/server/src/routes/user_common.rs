//! Views and input checks shared by the user, member, role, profile and token routes.

use crate::validate::Checks;
use chrono::{DateTime, Utc};
use modernize_domain::access::{Grant, Role, Scope};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user account (global: one person may work for several client accounts).
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    /// Subject at the identity provider; `local|<id>` for users without one.
    pub auth0_user_id: String,
    pub is_active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub const USER_COLUMNS: &str = "id, email, full_name, avatar_url, auth0_user_id, coalesce(is_active, false) AS is_active, \
    last_login_at, created_at, updated_at";

/// One role row: a role granted to a user at the platform, a client or an engagement.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct RoleGrant {
    pub id: Uuid,
    pub user_id: Uuid,
    pub user_email: String,
    /// admin, analyst or viewer.
    pub role: String,
    /// None for a platform-level grant.
    pub client_account_id: Option<Uuid>,
    /// Set for an engagement-scoped grant.
    pub engagement_id: Option<Uuid>,
    /// False once revoked.
    pub is_active: bool,
    pub granted_at: Option<DateTime<Utc>>,
    pub granted_by: Option<Uuid>,
    /// The grant counts for nothing from this instant on.
    pub expires_at: Option<DateTime<Utc>>,
}

pub const ROLE_SELECT: &str = "SELECT r.id, r.user_id, u.email AS user_email, r.role, r.client_account_id, \
    r.engagement_id, coalesce(r.is_active, false) AS is_active, r.granted_at, r.granted_by, r.expires_at \
    FROM migration.user_roles r JOIN migration.users u ON u.id = r.user_id";

/// One effective grant of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub role: String,
    /// platform, client or engagement.
    pub level: String,
    pub client_account_id: Option<Uuid>,
    pub engagement_id: Option<Uuid>,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> Self {
        let (level, client, engagement) = match g.scope {
            Scope::Platform => ("platform", None, None),
            Scope::Client { client_account_id } => ("client", Some(client_account_id.0), None),
            Scope::Engagement {
                client_account_id,
                engagement_id,
            } => (
                "engagement",
                Some(client_account_id.0),
                Some(engagement_id.0),
            ),
        };
        GrantView {
            role: g.role.as_str().into(),
            level: level.into(),
            client_account_id: client,
            engagement_id: engagement,
        }
    }
}

pub async fn fetch_user(conn: &mut PgConnection, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM migration.users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

/// A role row by id (only its client's when `client` is given).
pub async fn fetch_role(
    conn: &mut PgConnection,
    id: Uuid,
    client: Option<Uuid>,
) -> Result<Option<RoleGrant>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{ROLE_SELECT} WHERE r.id = $1 AND ($2::uuid IS NULL OR r.client_account_id = $2)"
    ))
    .bind(id)
    .bind(client)
    .fetch_optional(&mut *conn)
    .await
}

/// A role name: admin, analyst or viewer.
pub fn role(c: &mut Checks, field: &str, value: Option<&str>) -> Option<Role> {
    match value {
        None => {
            c.fail(field, "is required");
            None
        }
        Some(v) => {
            let role = Role::parse(v);
            if role.is_none() {
                c.fail(field, "must be one of: admin, analyst, viewer");
            }
            role
        }
    }
}

/// An optional UUID.
pub fn uuid(c: &mut Checks, field: &str, value: Option<&str>) -> Option<Uuid> {
    let value = value?;
    let parsed = Uuid::parse_str(value.trim()).ok();
    if parsed.is_none() {
        c.fail(field, "must be a UUID");
    }
    parsed
}

/// An optional RFC 3339 timestamp.
pub fn timestamp(c: &mut Checks, field: &str, value: Option<&str>) -> Option<DateTime<Utc>> {
    let value = value?;
    let parsed = DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc));
    if parsed.is_none() {
        c.fail(
            field,
            "must be an RFC 3339 timestamp, e.g. 2030-01-31T12:00:00Z",
        );
    }
    parsed
}

/// An optional RFC 3339 timestamp that must lie in the future.
pub fn future(c: &mut Checks, field: &str, value: Option<&str>) -> Option<DateTime<Utc>> {
    let at = timestamp(c, field, value)?;
    if at <= Utc::now() {
        c.fail(field, "must be in the future");
        return None;
    }
    Some(at)
}

/// A full name: at most 255 characters, not blank when given.
pub fn full_name(c: &mut Checks, value: Option<&str>) {
    c.text("full_name", value, 255, false);
    if value.is_some_and(|v| v.trim().is_empty()) {
        c.fail("full_name", "must not be blank");
    }
}

/// An avatar URL: http(s), at most 500 characters, no spaces.
pub fn avatar_url(c: &mut Checks, value: Option<&str>) {
    let Some(v) = value else { return };
    c.text("avatar_url", Some(v), 500, false);
    let lower = v.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty()
    });
    if !host_ok || v.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        c.fail("avatar_url", "must be an http:// or https:// URL");
    }
}

/// An e-mail address, normalised (trimmed, lower-cased).
pub fn email(c: &mut Checks, value: Option<&str>) -> Option<String> {
    match value {
        None => {
            c.fail("email", "is required");
            None
        }
        Some(v) => c.with("email", modernize_domain::validate::email(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_urls() {
        for ok in ["https://x.example/a.png", "http://cdn.example"] {
            let mut c = Checks::new();
            avatar_url(&mut c, Some(ok));
            assert!(c.finish().is_ok(), "{ok}");
        }
        for bad in ["ftp://x", "https://", "javascript:alert(1)", "https://a b"] {
            let mut c = Checks::new();
            avatar_url(&mut c, Some(bad));
            assert!(c.finish().is_err(), "{bad}");
        }
        let mut c = Checks::new();
        avatar_url(
            &mut c,
            Some(&format!("https://x.example/{}", "a".repeat(500))),
        );
        assert!(c.finish().is_err());
    }

    #[test]
    fn timestamps_must_parse_and_lie_ahead() {
        let mut c = Checks::new();
        assert!(future(&mut c, "expires_at", Some("2999-01-01T00:00:00Z")).is_some());
        assert!(c.finish().is_ok());
        let mut c = Checks::new();
        assert!(future(&mut c, "expires_at", Some("2000-01-01T00:00:00Z")).is_none());
        assert!(timestamp(&mut c, "from", Some("yesterday")).is_none());
        assert!(c.finish().is_err());
    }
}
