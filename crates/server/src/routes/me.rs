//! The caller's own account: identity, profile and effective grants.

use super::user_common::{self, GrantView, User};
use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use modernize_domain::tenancy::TenantScope;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, Postgres, Transaction};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, update_me))
}

/// Profile of a user. Security answers and similar are never returned.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Profile {
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub notification_preferences: Option<Value>,
    pub ui_preferences: Option<Value>,
    pub mfa_enabled: Option<bool>,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The caller: account, profile and the grants that count right now (active, unexpired roles
/// on active clients).
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub profile: Profile,
    pub grants: Vec<GrantView>,
}

/// What a user may change about themselves; absent fields stay unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeFields {
    pub full_name: Option<String>,
    /// http(s) URL, at most 500 characters.
    pub avatar_url: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    /// A JSON object; replaces the stored one.
    pub notification_preferences: Option<Value>,
    /// A JSON object; replaces the stored one.
    pub ui_preferences: Option<Value>,
}

impl MeFields {
    fn check(&self) -> Result<(), ApiError> {
        let mut c = Checks::new();
        user_common::full_name(&mut c, self.full_name.as_deref());
        user_common::avatar_url(&mut c, self.avatar_url.as_deref());
        c.text("department", self.department.as_deref(), 100, false);
        c.text("job_title", self.job_title.as_deref(), 100, false);
        c.text("phone", self.phone.as_deref(), 50, false);
        c.text("timezone", self.timezone.as_deref(), 50, false);
        if self
            .timezone
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            c.fail("timezone", "must not be blank");
        }
        c.object(
            "notification_preferences",
            self.notification_preferences.as_ref(),
        );
        c.object("ui_preferences", self.ui_preferences.as_ref());
        c.finish()
    }
}

/// Self-service work touches only the caller's own rows (users, user_profiles: tables without
/// row-level security), selected by the caller's id. It runs in platform scope only because
/// its audit rows belong to no client, and such rows are writable in platform scope alone.
pub async fn begin_self(
    state: &AppState,
    caller: &Caller,
) -> Result<Transaction<'static, Postgres>, ApiError> {
    Ok(modernize_db::tenant::begin(
        &state.db.app,
        TenantScope::Platform {
            user_id: Some(caller.user_id),
        },
    )
    .await?)
}

async fn load(conn: &mut PgConnection, caller: &Caller) -> Result<Me, ApiError> {
    let id: Uuid = caller.user_id.0;
    let user = user_common::fetch_user(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    // Users created outside the API may have no profile row: answer the column defaults.
    let profile = sqlx::query_as(
        "SELECT p.department, p.job_title, p.phone, p.timezone, p.notification_preferences, \
                p.ui_preferences, p.mfa_enabled, p.password_changed_at, p.updated_at \
           FROM migration.users u LEFT JOIN migration.user_profiles p ON p.user_id = u.id \
          WHERE u.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Me {
        user,
        profile,
        grants: caller.grants.iter().map(GrantView::from).collect(),
    })
}

/// Who am I: account, profile and effective grants.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = Me), (status = 401, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let mut tx = begin_self(&state, &caller).await?;
    let me = load(&mut tx, &caller).await?;
    tx.commit().await?;
    Ok(Json(me))
}

/// Change my name, avatar and profile.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", request_body = MeFields,
    responses((status = 200, body = Me), (status = 401, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(fields): ApiJson<MeFields>,
) -> Result<Json<Me>, ApiError> {
    fields.check()?;
    let id = caller.user_id.0;
    let mut tx = begin_self(&state, &caller).await?;
    sqlx::query(
        "UPDATE migration.users SET full_name = coalesce($2, full_name), \
            avatar_url = coalesce($3, avatar_url) WHERE id = $1",
    )
    .bind(id)
    .bind(fields.full_name.as_deref().map(str::trim))
    .bind(&fields.avatar_url)
    .execute(&mut *tx)
    .await?;
    // Upsert: the profile row may be missing; created with the column defaults first.
    sqlx::query(
        "INSERT INTO migration.user_profiles (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE migration.user_profiles SET department = coalesce($2, department), \
            job_title = coalesce($3, job_title), phone = coalesce($4, phone), \
            timezone = coalesce($5, timezone), \
            notification_preferences = coalesce($6, notification_preferences), \
            ui_preferences = coalesce($7, ui_preferences) \
          WHERE user_id = $1",
    )
    .bind(id)
    .bind(&fields.department)
    .bind(&fields.job_title)
    .bind(&fields.phone)
    .bind(fields.timezone.as_deref().map(str::trim))
    .bind(&fields.notification_preferences)
    .bind(&fields.ui_preferences)
    .execute(&mut *tx)
    .await?;
    let changed: Vec<&str> = [
        ("full_name", fields.full_name.is_some()),
        ("avatar_url", fields.avatar_url.is_some()),
        ("department", fields.department.is_some()),
        ("job_title", fields.job_title.is_some()),
        ("phone", fields.phone.is_some()),
        ("timezone", fields.timezone.is_some()),
        (
            "notification_preferences",
            fields.notification_preferences.is_some(),
        ),
        ("ui_preferences", fields.ui_preferences.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "profile.updated",
        "data",
        "user",
        id.to_string(),
        json!({"fields": changed}),
    )
    .await?;
    let me = load(&mut tx, &caller).await?;
    tx.commit().await?;
    Ok(Json(me))
}
