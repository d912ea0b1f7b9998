//! Platform adapters: the global catalogue of integrations (discovery, assessment, migration,
//! collection) that client credentials are stored for. Platform administrators maintain it;
//! every authenticated user can read it.

use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use modernize_domain::access::{Action, Target};
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
        .routes(routes!(create_adapter))
        .routes(routes!(update_adapter, delete_adapter))
        .routes(routes!(list_adapters))
        .routes(routes!(get_adapter))
}

pub const ADAPTER_TYPES: [&str; 4] = ["discovery", "assessment", "migration", "collection"];
pub const ADAPTER_STATUSES: [&str; 3] = ["active", "inactive", "deprecated"];

/// An integration adapter.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Adapter {
    pub id: Uuid,
    pub adapter_name: String,
    /// discovery, assessment, migration or collection.
    pub adapter_type: String,
    pub version: String,
    /// JSON array of the platforms it supports.
    pub supported_platforms: Option<Value>,
    /// JSON array of its capabilities.
    pub capabilities: Option<Value>,
    /// JSON object: the schema of its configuration.
    pub configuration_schema: Option<Value>,
    /// active, inactive or deprecated.
    pub status: Option<String>,
    pub health_check_url: Option<String>,
    pub last_health_check_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, adapter_name, adapter_type, version, supported_platforms, capabilities, \
    configuration_schema, status, health_check_url, last_health_check_at, created_at, updated_at";

/// Fields of an adapter. On update, absent fields are left unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdapterFields {
    /// At most 100 characters; unique together with `version`.
    pub adapter_name: Option<String>,
    /// discovery, assessment, migration or collection.
    pub adapter_type: Option<String>,
    /// At most 20 characters.
    pub version: Option<String>,
    /// A JSON array.
    pub supported_platforms: Option<Value>,
    /// A JSON array.
    pub capabilities: Option<Value>,
    /// A JSON object.
    pub configuration_schema: Option<Value>,
    /// active (default), inactive or deprecated.
    pub status: Option<String>,
    /// An http(s) URL of at most 500 characters.
    pub health_check_url: Option<String>,
}

impl AdapterFields {
    fn check(&mut self, creating: bool) -> Result<(), ApiError> {
        let mut c = Checks::new();
        for v in [&mut self.adapter_name, &mut self.version]
            .into_iter()
            .flatten()
        {
            *v = v.trim().to_string();
        }
        c.text("adapter_name", self.adapter_name.as_deref(), 100, creating);
        c.text("version", self.version.as_deref(), 20, creating);
        for (field, value) in [
            ("adapter_name", &self.adapter_name),
            ("version", &self.version),
        ] {
            if !creating && value.as_deref().is_some_and(str::is_empty) {
                c.fail(field, "must not be blank");
            }
        }
        if creating && self.adapter_type.is_none() {
            c.fail("adapter_type", "is required");
        }
        c.one_of("adapter_type", self.adapter_type.as_deref(), &ADAPTER_TYPES);
        c.one_of("status", self.status.as_deref(), &ADAPTER_STATUSES);
        for (field, value) in [
            ("supported_platforms", &self.supported_platforms),
            ("capabilities", &self.capabilities),
        ] {
            if value.as_ref().is_some_and(|v| !v.is_array()) {
                c.fail(field, "must be a JSON array");
            }
        }
        c.object("configuration_schema", self.configuration_schema.as_ref());
        if let Some(url) = &self.health_check_url {
            if url.chars().count() > 500 {
                c.fail("health_check_url", "must be at most 500 characters");
            } else if !is_http_url(url) {
                c.fail("health_check_url", "must be an http:// or https:// URL");
            }
        }
        c.finish()
    }
}

fn is_http_url(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

async fn fetch(conn: &mut PgConnection, id: Uuid) -> Result<Adapter, ApiError> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.platform_adapters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("adapter"))
}

/// Add an adapter to the catalogue (platform administrators).
#[utoipa::path(post, path = "/api/v1/admin/adapters", tag = "adapters", request_body = AdapterFields,
    responses((status = 201, body = Adapter), (status = 409, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_adapter(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut fields): ApiJson<AdapterFields>,
) -> Result<(StatusCode, Json<Adapter>), ApiError> {
    let scope = caller
        .authorize(&state, Action::ManagePlatform, Target::Platform)
        .await?;
    fields.check(true)?;
    let id = Uuid::new_v4();
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    sqlx::query(
        "INSERT INTO migration.platform_adapters (id, adapter_name, adapter_type, version, \
             supported_platforms, capabilities, configuration_schema, status, health_check_url) \
         VALUES ($1, $2, $3, $4, coalesce($5, '[]'::jsonb), coalesce($6, '[]'::jsonb), \
                 coalesce($7, '{}'::jsonb), coalesce($8, 'active'), $9)",
    )
    .bind(id)
    .bind(&fields.adapter_name)
    .bind(&fields.adapter_type)
    .bind(&fields.version)
    .bind(&fields.supported_platforms)
    .bind(&fields.capabilities)
    .bind(&fields.configuration_schema)
    .bind(&fields.status)
    .bind(&fields.health_check_url)
    .execute(&mut *tx)
    .await?;
    let adapter = fetch(&mut tx, id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "adapter.created",
        "config",
        "platform_adapter",
        id.to_string(),
        json!({"adapter_name": adapter.adapter_name, "version": adapter.version,
               "adapter_type": adapter.adapter_type}),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(adapter)))
}

/// Change an adapter (platform administrators).
#[utoipa::path(patch, path = "/api/v1/admin/adapters/{adapter_id}", tag = "adapters",
    params(("adapter_id" = Uuid, Path)), request_body = AdapterFields,
    responses((status = 200, body = Adapter), (status = 404, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_adapter(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(adapter_id): ApiPath<Uuid>,
    ApiJson(mut fields): ApiJson<AdapterFields>,
) -> Result<Json<Adapter>, ApiError> {
    let scope = caller
        .authorize(&state, Action::ManagePlatform, Target::Platform)
        .await?;
    fields.check(false)?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let updated = sqlx::query(
        "UPDATE migration.platform_adapters SET \
            adapter_name = coalesce($2, adapter_name), adapter_type = coalesce($3, adapter_type), \
            version = coalesce($4, version), \
            supported_platforms = coalesce($5, supported_platforms), \
            capabilities = coalesce($6, capabilities), \
            configuration_schema = coalesce($7, configuration_schema), \
            status = coalesce($8, status), health_check_url = coalesce($9, health_check_url) \
         WHERE id = $1",
    )
    .bind(adapter_id)
    .bind(&fields.adapter_name)
    .bind(&fields.adapter_type)
    .bind(&fields.version)
    .bind(&fields.supported_platforms)
    .bind(&fields.capabilities)
    .bind(&fields.configuration_schema)
    .bind(&fields.status)
    .bind(&fields.health_check_url)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(ApiError::not_found("adapter"));
    }
    let adapter = fetch(&mut tx, adapter_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "adapter.updated",
        "config",
        "platform_adapter",
        adapter_id.to_string(),
        json!({"adapter_name": adapter.adapter_name, "version": adapter.version,
               "status": adapter.status}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(adapter))
}

/// Remove an adapter (platform administrators). Refused with 409 `conflict` while credentials
/// are stored for it.
#[utoipa::path(delete, path = "/api/v1/admin/adapters/{adapter_id}", tag = "adapters",
    params(("adapter_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn delete_adapter(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(adapter_id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let scope = caller
        .authorize(&state, Action::ManagePlatform, Target::Platform)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let adapter = fetch(&mut tx, adapter_id).await?;
    // A credential still referencing it makes this fail on the RESTRICT foreign key (409).
    sqlx::query("DELETE FROM migration.platform_adapters WHERE id = $1")
        .bind(adapter_id)
        .execute(&mut *tx)
        .await?;
    audit::record_change(
        &mut tx,
        &caller,
        None,
        "adapter.deleted",
        "config",
        "platform_adapter",
        adapter_id.to_string(),
        json!({"adapter_name": adapter.adapter_name, "version": adapter.version}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The adapter catalogue (every authenticated user).
#[utoipa::path(get, path = "/api/v1/adapters", tag = "adapters",
    responses((status = 200, body = Vec<Adapter>)), security(("bearer" = [])))]
pub async fn list_adapters(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Adapter>>, ApiError> {
    // A global table: no tenant is needed, and none is granted.
    let mut tx = modernize_db::tenant::begin(&state.db.app, TenantScope::None).await?;
    let all = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.platform_adapters ORDER BY adapter_name, version, id"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(all))
}

/// One adapter (every authenticated user).
#[utoipa::path(get, path = "/api/v1/adapters/{adapter_id}", tag = "adapters",
    params(("adapter_id" = Uuid, Path)),
    responses((status = 200, body = Adapter), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_adapter(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(adapter_id): ApiPath<Uuid>,
) -> Result<Json<Adapter>, ApiError> {
    let mut tx = modernize_db::tenant::begin(&state.db.app, TenantScope::None).await?;
    let adapter = fetch(&mut tx, adapter_id).await?;
    tx.commit().await?;
    Ok(Json(adapter))
}
