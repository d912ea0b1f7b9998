//! Editing assets: one at a time, or many at once in one transaction.

use super::assets::{ASSET_TYPES, Asset, CRITICALITIES, ENVIRONMENTS, SIX_R, require_engagement};
use super::assets_query::fetch;
use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use modernize_domain::access::Action;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

/// The most assets one bulk edit may change.
pub const MAX_BULK: usize = 1000;

/// Editable fields; absent (or null) fields stay unchanged.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetChanges {
    pub asset_name: Option<String>,
    /// server, application, database, service, network or storage.
    pub asset_type: Option<String>,
    pub asset_subtype: Option<String>,
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    pub ip_address: Option<String>,
    pub mac_address: Option<String>,
    pub os_type: Option<String>,
    pub os_version: Option<String>,
    /// production, staging, development, test or dr.
    pub environment: Option<String>,
    pub datacenter: Option<String>,
    pub region: Option<String>,
    pub availability_zone: Option<String>,
    pub rack_location: Option<String>,
    pub application_name: Option<String>,
    pub application_version: Option<String>,
    pub business_unit: Option<String>,
    pub business_owner: Option<String>,
    pub technical_owner: Option<String>,
    /// critical, high, medium or low.
    pub business_criticality: Option<String>,
    pub cpu_cores: Option<i32>,
    pub memory_gb: Option<f64>,
    pub storage_gb: Option<f64>,
    /// 0..100.
    pub cpu_utilization_percent: Option<f64>,
    /// 0..100.
    pub memory_utilization_percent: Option<f64>,
    /// rehost, replatform, refactor, repurchase, retire or retain.
    pub six_r_strategy: Option<String>,
    pub migration_complexity: Option<String>,
    pub migration_priority: Option<i32>,
    pub migration_wave: Option<i32>,
}

/// Text fields with their column lengths.
const TEXTS: &[(&str, usize)] = &[
    ("asset_name", 255),
    ("asset_subtype", 100),
    ("hostname", 255),
    ("fqdn", 255),
    ("ip_address", 45),
    ("mac_address", 17),
    ("os_type", 50),
    ("os_version", 50),
    ("datacenter", 100),
    ("region", 50),
    ("availability_zone", 50),
    ("rack_location", 50),
    ("application_name", 255),
    ("application_version", 50),
    ("business_unit", 100),
    ("business_owner", 255),
    ("technical_owner", 255),
    ("migration_complexity", 20),
];

impl AssetChanges {
    fn text(&self, name: &str) -> Option<&str> {
        match name {
            "asset_name" => self.asset_name.as_deref(),
            "asset_subtype" => self.asset_subtype.as_deref(),
            "hostname" => self.hostname.as_deref(),
            "fqdn" => self.fqdn.as_deref(),
            "ip_address" => self.ip_address.as_deref(),
            "mac_address" => self.mac_address.as_deref(),
            "os_type" => self.os_type.as_deref(),
            "os_version" => self.os_version.as_deref(),
            "datacenter" => self.datacenter.as_deref(),
            "region" => self.region.as_deref(),
            "availability_zone" => self.availability_zone.as_deref(),
            "rack_location" => self.rack_location.as_deref(),
            "application_name" => self.application_name.as_deref(),
            "application_version" => self.application_version.as_deref(),
            "business_unit" => self.business_unit.as_deref(),
            "business_owner" => self.business_owner.as_deref(),
            "technical_owner" => self.technical_owner.as_deref(),
            "migration_complexity" => self.migration_complexity.as_deref(),
            _ => None,
        }
    }

    /// The names of the fields present, for the audit trail.
    fn changed(&self) -> Vec<&'static str> {
        let v = self.mirror();
        let mut out = Vec::new();
        for (name, _) in TEXTS {
            if v.get(name).is_some_and(|x| !x.is_null()) {
                out.push(*name);
            }
        }
        for name in NON_TEXT {
            if v.get(name).is_some_and(|x| !x.is_null()) {
                out.push(*name);
            }
        }
        out
    }

    fn mirror(&self) -> serde_json::Value {
        json!({
            "asset_name": self.asset_name, "asset_subtype": self.asset_subtype,
            "hostname": self.hostname, "fqdn": self.fqdn, "ip_address": self.ip_address,
            "mac_address": self.mac_address, "os_type": self.os_type, "os_version": self.os_version,
            "datacenter": self.datacenter, "region": self.region,
            "availability_zone": self.availability_zone, "rack_location": self.rack_location,
            "application_name": self.application_name,
            "application_version": self.application_version, "business_unit": self.business_unit,
            "business_owner": self.business_owner, "technical_owner": self.technical_owner,
            "migration_complexity": self.migration_complexity, "asset_type": self.asset_type,
            "environment": self.environment, "business_criticality": self.business_criticality,
            "six_r_strategy": self.six_r_strategy, "cpu_cores": self.cpu_cores,
            "memory_gb": self.memory_gb, "storage_gb": self.storage_gb,
            "cpu_utilization_percent": self.cpu_utilization_percent,
            "memory_utilization_percent": self.memory_utilization_percent,
            "migration_priority": self.migration_priority, "migration_wave": self.migration_wave,
        })
    }

    /// Validates into `c` (field names prefixed with `prefix`).
    fn check(&self, c: &mut Checks, prefix: &str) {
        let f = |name: &str| format!("{prefix}{name}");
        for (name, max) in TEXTS {
            c.text(&f(name), self.text(name), *max, false);
        }
        if self
            .asset_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            c.fail(&f("asset_name"), "must not be blank");
        }
        c.one_of(&f("asset_type"), self.asset_type.as_deref(), ASSET_TYPES);
        c.one_of(&f("environment"), self.environment.as_deref(), ENVIRONMENTS);
        c.one_of(
            &f("business_criticality"),
            self.business_criticality.as_deref(),
            CRITICALITIES,
        );
        c.one_of(&f("six_r_strategy"), self.six_r_strategy.as_deref(), SIX_R);
        for (name, v) in [
            ("cpu_cores", self.cpu_cores),
            ("migration_priority", self.migration_priority),
            ("migration_wave", self.migration_wave),
        ] {
            c.non_negative(&f(name), v.map(i64::from));
        }
        for (name, v) in [
            ("memory_gb", self.memory_gb),
            ("storage_gb", self.storage_gb),
        ] {
            if v.is_some_and(|x| !x.is_finite() || x < 0.0) {
                c.fail(&f(name), "must be a number, 0 or more");
            }
        }
        for (name, v) in [
            ("cpu_utilization_percent", self.cpu_utilization_percent),
            (
                "memory_utilization_percent",
                self.memory_utilization_percent,
            ),
        ] {
            if v.is_some_and(|x| !(0.0..=100.0).contains(&x)) {
                c.fail(&f(name), "must be a number from 0 to 100");
            }
        }
        if self.changed().is_empty() {
            let field = if prefix.is_empty() { "body" } else { "changes" };
            c.fail(field, "at least one field must change");
        }
    }
}

const NON_TEXT: &[&str] = &[
    "asset_type",
    "environment",
    "business_criticality",
    "six_r_strategy",
    "cpu_cores",
    "memory_gb",
    "storage_gb",
    "cpu_utilization_percent",
    "memory_utilization_percent",
    "migration_priority",
    "migration_wave",
];

/// Applies `changes` to the given assets of the engagement; returns the number changed.
async fn apply(
    conn: &mut PgConnection,
    client_id: Uuid,
    engagement_id: Uuid,
    ids: &[Uuid],
    ch: &AssetChanges,
) -> Result<u64, ApiError> {
    let mut sets: Vec<String> = Vec::new();
    let mut n = 4;
    for (name, _) in TEXTS {
        sets.push(format!("{name} = coalesce(${n}, {name})"));
        n += 1;
    }
    for name in NON_TEXT {
        sets.push(format!("{name} = coalesce(${n}, {name})"));
        n += 1;
    }
    let sql = format!(
        "UPDATE migration.assets SET {} \
          WHERE client_account_id = $1 AND engagement_id = $2 AND id = ANY($3)",
        sets.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(client_id)
        .bind(engagement_id)
        .bind(ids);
    for (name, _) in TEXTS {
        let v = ch.text(name).map(str::trim).map(str::to_owned);
        q = q.bind(v);
    }
    let done = q
        .bind(&ch.asset_type)
        .bind(&ch.environment)
        .bind(&ch.business_criticality)
        .bind(&ch.six_r_strategy)
        .bind(ch.cpu_cores)
        .bind(ch.memory_gb)
        .bind(ch.storage_gb)
        .bind(ch.cpu_utilization_percent)
        .bind(ch.memory_utilization_percent)
        .bind(ch.migration_priority)
        .bind(ch.migration_wave)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

/// Change an asset of the engagement.
#[utoipa::path(patch,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/assets/{asset_id}",
    tag = "assets",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("asset_id" = Uuid, Path)),
    request_body = AssetChanges,
    responses((status = 200, body = Asset), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn update_asset(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, asset_id)): ApiPath<(Uuid, Uuid, Uuid)>,
    ApiJson(changes): ApiJson<AssetChanges>,
) -> Result<Json<Asset>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::WriteEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    fetch(&mut tx, client_id, engagement_id, asset_id).await?;
    let mut c = Checks::new();
    changes.check(&mut c, "");
    c.finish()?;
    apply(&mut tx, client_id, engagement_id, &[asset_id], &changes).await?;
    let asset = fetch(&mut tx, client_id, engagement_id, asset_id).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "asset.updated",
        "data",
        "asset",
        asset_id.to_string(),
        json!({"engagement_id": engagement_id, "fields": changes.changed()}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(asset))
}

/// The same changes for many assets.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkEdit {
    /// 1..1000 asset ids of this engagement.
    #[serde(default)]
    pub asset_ids: Vec<Uuid>,
    #[serde(default)]
    pub changes: AssetChanges,
}

/// Outcome of a bulk edit.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkEditResult {
    pub updated: u64,
}

/// Apply the same changes to many assets: all or nothing.
#[utoipa::path(post,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/assets/bulk-edit",
    tag = "assets",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path)),
    request_body = BulkEdit,
    responses((status = 200, body = BulkEditResult), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn bulk_edit_assets(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<BulkEdit>,
) -> Result<Json<BulkEditResult>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::WriteEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    require_engagement(&mut tx, client_id, engagement_id).await?;
    let mut ids = body.asset_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let mut c = Checks::new();
    if ids.is_empty() || ids.len() > MAX_BULK {
        c.fail("asset_ids", format!("must list 1 to {MAX_BULK} asset ids"));
    }
    body.changes.check(&mut c, "changes.");
    c.finish()?;
    // Locks the rows: the count and the update see the same set.
    let found: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM migration.assets \
          WHERE client_account_id = $1 AND engagement_id = $2 AND id = ANY($3) FOR UPDATE",
    )
    .bind(client_id)
    .bind(engagement_id)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    if found.len() < ids.len() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "{} of the {} assets were not found in this engagement; nothing was changed",
                ids.len() - found.len(),
                ids.len()
            ),
        ));
    }
    let updated = apply(&mut tx, client_id, engagement_id, &ids, &body.changes).await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "asset.bulk_updated",
        "data",
        "engagement",
        engagement_id.to_string(),
        json!({"count": updated, "fields": body.changes.changed()}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(BulkEditResult { updated }))
}
