//! Client accounts: the tenants. Platform administrators create them and change their limits;
//! client administrators edit their profile; every member can read their own.

use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use modernize_domain::access::{Action, Scope, Target};
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_client, list_clients))
        .routes(routes!(get_client, update_client))
        .routes(routes!(deactivate_client))
        .routes(routes!(activate_client))
}

/// A client account.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ClientAccount {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub company_size: Option<String>,
    pub headquarters_location: Option<String>,
    pub primary_contact_name: Option<String>,
    pub primary_contact_email: Option<String>,
    pub primary_contact_phone: Option<String>,
    pub subscription_tier: Option<String>,
    pub max_users: Option<i32>,
    pub max_engagements: Option<i32>,
    pub storage_quota_gb: Option<i32>,
    pub api_quota_monthly: Option<i32>,
    pub settings: Option<Value>,
    pub branding: Option<Value>,
    pub agent_preferences: Option<Value>,
    pub is_active: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, slug, description, industry, company_size, headquarters_location, \
    primary_contact_name, primary_contact_email, primary_contact_phone, subscription_tier, max_users, \
    max_engagements, storage_quota_gb, api_quota_monthly, settings, branding, agent_preferences, \
    is_active, created_at, updated_at";

/// Fields of a client account that can be set. On update, absent fields are left unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientFields {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub industry: Option<String>,
    pub company_size: Option<String>,
    pub headquarters_location: Option<String>,
    pub primary_contact_name: Option<String>,
    pub primary_contact_email: Option<String>,
    pub primary_contact_phone: Option<String>,
    pub subscription_tier: Option<String>,
    /// Limits: only platform administrators may set them.
    pub max_users: Option<i32>,
    pub max_engagements: Option<i32>,
    pub storage_quota_gb: Option<i32>,
    pub api_quota_monthly: Option<i32>,
    pub settings: Option<Value>,
    pub branding: Option<Value>,
    pub agent_preferences: Option<Value>,
}

impl ClientFields {
    fn check(&mut self, creating: bool) -> Result<(), ApiError> {
        let mut c = Checks::new();
        c.text("name", self.name.as_deref(), 255, creating);
        if let Some(name) = &self.name
            && name.trim().is_empty()
        {
            c.fail("name", "must not be blank");
        }
        match &self.slug {
            Some(slug) => {
                c.with("slug", modernize_domain::validate::slug(slug));
            }
            None if creating => c.fail("slug", "is required"),
            None => {}
        }
        c.text("industry", self.industry.as_deref(), 100, false);
        c.text("company_size", self.company_size.as_deref(), 50, false);
        c.text(
            "headquarters_location",
            self.headquarters_location.as_deref(),
            255,
            false,
        );
        c.text(
            "primary_contact_name",
            self.primary_contact_name.as_deref(),
            255,
            false,
        );
        c.text(
            "primary_contact_phone",
            self.primary_contact_phone.as_deref(),
            50,
            false,
        );
        c.text(
            "subscription_tier",
            self.subscription_tier.as_deref(),
            50,
            false,
        );
        if let Some(email) = &self.primary_contact_email
            && let Some(normalised) = c.with(
                "primary_contact_email",
                modernize_domain::validate::email(email),
            )
        {
            self.primary_contact_email = Some(normalised);
        }
        for (field, value) in [
            ("max_users", self.max_users),
            ("max_engagements", self.max_engagements),
            ("storage_quota_gb", self.storage_quota_gb),
            ("api_quota_monthly", self.api_quota_monthly),
        ] {
            c.non_negative(field, value.map(i64::from));
        }
        c.object("settings", self.settings.as_ref());
        c.object("branding", self.branding.as_ref());
        c.object("agent_preferences", self.agent_preferences.as_ref());
        c.finish()
    }

    fn sets_limits(&self) -> bool {
        self.max_users.is_some()
            || self.max_engagements.is_some()
            || self.storage_quota_gb.is_some()
            || self.api_quota_monthly.is_some()
            || self.subscription_tier.is_some()
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds the settable fields as parameters $2..$18, in declaration order: the INSERT of
/// `create_client` and the UPDATE of `update_client` both number them so.
fn bind_fields<'q>(query: PgQuery<'q>, fields: &'q ClientFields) -> PgQuery<'q> {
    query
        .bind(fields.name.as_deref().map(str::trim))
        .bind(&fields.slug)
        .bind(&fields.description)
        .bind(&fields.industry)
        .bind(&fields.company_size)
        .bind(&fields.headquarters_location)
        .bind(&fields.primary_contact_name)
        .bind(&fields.primary_contact_email)
        .bind(&fields.primary_contact_phone)
        .bind(&fields.subscription_tier)
        .bind(fields.max_users)
        .bind(fields.max_engagements)
        .bind(fields.storage_quota_gb)
        .bind(fields.api_quota_monthly)
        .bind(&fields.settings)
        .bind(&fields.branding)
        .bind(&fields.agent_preferences)
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<ClientAccount, ApiError> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.client_accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("client account"))
}

/// Create a client account (platform administrators).
#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", request_body = ClientFields,
    responses((status = 201, body = ClientAccount), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut fields): ApiJson<ClientFields>,
) -> Result<(StatusCode, Json<ClientAccount>), ApiError> {
    let scope = caller
        .authorize(&state, Action::ManageClients, Target::Platform)
        .await?;
    fields.check(true)?;
    let id = Uuid::new_v4();
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    bind_fields(sqlx::query(
        "INSERT INTO migration.client_accounts (id, name, slug, description, industry, company_size, \
             headquarters_location, primary_contact_name, primary_contact_email, primary_contact_phone, \
             subscription_tier, max_users, max_engagements, storage_quota_gb, api_quota_monthly, \
             settings, branding, agent_preferences) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, 'standard'), $12, $13, $14, $15, \
                 coalesce($16, '{}'::jsonb), coalesce($17, '{}'::jsonb), \
                 coalesce($18, '{\"discovery_depth\": \"comprehensive\", \"automation_level\": \"assisted\", \"risk_tolerance\": \"moderate\"}'::jsonb))",
    )
    .bind(id), &fields)
    .execute(&mut *tx)
    .await?;
    let client = fetch(&mut tx, id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(id),
        "client.created",
        "config",
        "client_account",
        id.to_string(),
        json!({"slug": client.slug, "name": client.name}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(client)))
}

/// List the client accounts the caller belongs to (all of them for platform administrators).
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients",
    responses((status = 200, body = Vec<ClientAccount>)), security(("bearer" = [])))]
pub async fn list_clients(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ClientAccount>>, ApiError> {
    if caller.is_platform_admin() {
        let mut tx = modernize_db::tenant::begin(
            &state.db.app,
            TenantScope::Platform {
                user_id: Some(caller.user_id),
            },
        )
        .await?;
        let all = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM migration.client_accounts ORDER BY name, id"
        ))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Json(all));
    }
    // Each client is read in its own tenant scope: no query ever spans tenants for them.
    let mut ids: Vec<ClientAccountId> = caller
        .grants
        .iter()
        .filter_map(|g| match g.scope {
            Scope::Client { client_account_id }
            | Scope::Engagement {
                client_account_id, ..
            } => Some(client_account_id),
            Scope::Platform => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut tx = modernize_db::tenant::begin(
            &state.db.app,
            TenantScope::Client {
                client_account_id: id,
                user_id: Some(caller.user_id),
            },
        )
        .await?;
        out.push(fetch(&mut tx, id.0).await?);
        tx.commit().await?;
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(Json(out))
}

/// Read one client account.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = Uuid, Path)),
    responses((status = 200, body = ClientAccount), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<ClientAccount>, ApiError> {
    let scope = caller
        .authorize(
            &state,
            Action::ReadClient,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let client = fetch(&mut tx, client_id).await?;
    tx.commit().await?;
    Ok(Json(client))
}

/// Change a client account. Limits and the subscription tier are for platform administrators;
/// client administrators may change the profile fields.
#[utoipa::path(patch, path = "/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = Uuid, Path)), request_body = ClientFields,
    responses((status = 200, body = ClientAccount), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(mut fields): ApiJson<ClientFields>,
) -> Result<Json<ClientAccount>, ApiError> {
    let target = Target::Client(ClientAccountId(client_id));
    let action = if fields.sets_limits() || fields.slug.is_some() {
        Action::ManageClients
    } else {
        Action::UpdateClient
    };
    let scope = caller.authorize(&state, action, target).await?;
    fields.check(false)?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let updated = bind_fields(sqlx::query(
        "UPDATE migration.client_accounts SET \
            name = coalesce($2, name), slug = coalesce($3, slug), description = coalesce($4, description), \
            industry = coalesce($5, industry), company_size = coalesce($6, company_size), \
            headquarters_location = coalesce($7, headquarters_location), \
            primary_contact_name = coalesce($8, primary_contact_name), \
            primary_contact_email = coalesce($9, primary_contact_email), \
            primary_contact_phone = coalesce($10, primary_contact_phone), \
            subscription_tier = coalesce($11, subscription_tier), max_users = coalesce($12, max_users), \
            max_engagements = coalesce($13, max_engagements), storage_quota_gb = coalesce($14, storage_quota_gb), \
            api_quota_monthly = coalesce($15, api_quota_monthly), settings = coalesce($16, settings), \
            branding = coalesce($17, branding), agent_preferences = coalesce($18, agent_preferences) \
         WHERE id = $1",
    )
    .bind(client_id), &fields)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("client account"));
    }
    let client = fetch(&mut tx, client_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "client.updated",
        "config",
        "client_account",
        client_id.to_string(),
        json!({"limits_changed": fields.sets_limits()}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(client))
}

async fn set_active(
    state: &AppState,
    caller: &Caller,
    client_id: Uuid,
    active: bool,
) -> Result<Json<ClientAccount>, ApiError> {
    let scope = caller
        .authorize(
            state,
            Action::ManageClients,
            Target::Client(ClientAccountId(client_id)),
        )
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let updated = sqlx::query("UPDATE migration.client_accounts SET is_active = $2 WHERE id = $1")
        .bind(client_id)
        .bind(active)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("client account"));
    }
    let client = fetch(&mut tx, client_id).await?;
    let event = if active {
        "client.activated"
    } else {
        "client.deactivated"
    };
    audit::record_change(
        &mut tx,
        caller,
        Some(client_id),
        event,
        "config",
        "client_account",
        client_id.to_string(),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(client))
}

/// Deactivate a client account: its members lose access at once (platform administrators).
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/deactivate", tag = "clients",
    params(("client_id" = Uuid, Path)),
    responses((status = 200, body = ClientAccount), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn deactivate_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<ClientAccount>, ApiError> {
    set_active(&state, &caller, client_id, false).await
}

/// Reactivate a client account (platform administrators).
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/activate", tag = "clients",
    params(("client_id" = Uuid, Path)),
    responses((status = 200, body = ClientAccount), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn activate_client(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<ClientAccount>, ApiError> {
    set_active(&state, &caller, client_id, true).await
}

/// Fails with `client_inactive` unless the client account is active. Call inside the work's
/// transaction; locks the client row so that limit checks that follow are not raced.
pub async fn require_active_locked(
    conn: &mut PgConnection,
    client_id: Uuid,
) -> Result<ClientAccount, ApiError> {
    let client: ClientAccount = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.client_accounts WHERE id = $1 FOR UPDATE"
    ))
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("client account"))?;
    if client.is_active != Some(true) {
        return Err(ApiError::new(
            ErrorCode::ClientInactive,
            "the client account is deactivated",
        ));
    }
    Ok(client)
}
