//! The asset inventory of an engagement: shared types, enumerations and filters.
//!
//! Handlers live in [`super::assets_query`] (list, detail), [`super::assets_edit`] (edit, bulk
//! edit), [`super::assets_export`] (CSV/XLSX) and [`super::dependency_graph`].

use super::{assets_edit, assets_export, assets_query, dependency_graph};
use crate::error::ApiError;
use crate::state::AppState;
use crate::validate::Checks;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(assets_query::list_assets))
        .routes(routes!(assets_query::get_asset, assets_edit::update_asset))
        .routes(routes!(assets_edit::bulk_edit_assets))
        .routes(routes!(assets_export::export_assets))
        .routes(routes!(dependency_graph::get_dependency_graph))
}

pub const ASSET_TYPES: &[&str] = &[
    "server",
    "application",
    "database",
    "service",
    "network",
    "storage",
];
pub const ENVIRONMENTS: &[&str] = &["production", "staging", "development", "test", "dr"];
pub const CRITICALITIES: &[&str] = &["critical", "high", "medium", "low"];
pub const SIX_R: &[&str] = &[
    "rehost",
    "replatform",
    "refactor",
    "repurchase",
    "retire",
    "retain",
];

/// An asset of the inventory (the raw imported record is in the detail's provenance).
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Asset {
    pub id: Uuid,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub asset_name: String,
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
    #[schema(value_type = Object)]
    pub technology_stack: Option<serde_json::Value>,
    pub business_unit: Option<String>,
    pub business_owner: Option<String>,
    pub technical_owner: Option<String>,
    /// critical, high, medium or low.
    pub business_criticality: Option<String>,
    pub cpu_cores: Option<i32>,
    pub memory_gb: Option<f64>,
    pub storage_gb: Option<f64>,
    pub cpu_utilization_percent: Option<f64>,
    pub memory_utilization_percent: Option<f64>,
    /// rehost, replatform, refactor, repurchase, retire or retain.
    pub six_r_strategy: Option<String>,
    pub migration_complexity: Option<String>,
    pub migration_priority: Option<i32>,
    pub migration_wave: Option<i32>,
    #[schema(value_type = Object)]
    pub blockers: Option<serde_json::Value>,
    pub completeness_score: Option<f64>,
    pub confidence_score: Option<f64>,
    pub discovery_flow_id: Option<Uuid>,
    pub source_system: Option<String>,
    pub source_id: Option<String>,
    pub import_session_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The columns of [`Asset`], qualified by the alias `a`.
pub const COLUMNS: &str = "a.id, a.client_account_id, a.engagement_id, a.asset_name, a.asset_type, \
    a.asset_subtype, a.hostname, a.fqdn, a.ip_address, a.mac_address, a.os_type, a.os_version, \
    a.environment, a.datacenter, a.region, a.availability_zone, a.rack_location, a.application_name, \
    a.application_version, a.technology_stack, a.business_unit, a.business_owner, a.technical_owner, \
    a.business_criticality, a.cpu_cores, a.memory_gb, a.storage_gb, a.cpu_utilization_percent, \
    a.memory_utilization_percent, a.six_r_strategy, a.migration_complexity, a.migration_priority, \
    a.migration_wave, a.blockers, a.completeness_score, a.confidence_score, a.discovery_flow_id, \
    a.source_system, a.source_id, a.import_session_id, a.created_by, a.created_at, a.updated_at";

/// The text searched by `q`; the same expression as the trigram index `ix_assets_search_text`
/// (migration 0023), so that `ILIKE '%…%'` can use it.
pub const SEARCH_TEXT: &str = "(coalesce(a.asset_name, '') || E'\\n' || coalesce(a.hostname, '') \
    || E'\\n' || coalesce(a.fqdn, '') || E'\\n' || coalesce(a.ip_address, '') || E'\\n' \
    || coalesce(a.application_name, ''))";

/// Inventory filters; all optional and combined with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetFilterQuery {
    /// server, application, database, service, network or storage.
    pub asset_type: Option<String>,
    /// production, staging, development, test or dr.
    pub environment: Option<String>,
    /// critical, high, medium or low.
    pub business_criticality: Option<String>,
    /// rehost, replatform, refactor, repurchase, retire or retain.
    pub six_r_strategy: Option<String>,
    /// A wave number (0 or more).
    pub migration_wave: Option<String>,
    /// Free text, case-insensitive, found anywhere in the name, hostname, FQDN, IP address or
    /// application name.
    pub q: Option<String>,
}

/// Validated filters.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub asset_type: Option<String>,
    pub environment: Option<String>,
    pub business_criticality: Option<String>,
    pub six_r_strategy: Option<String>,
    pub migration_wave: Option<i32>,
    /// The `ILIKE` pattern of `q`.
    pub pattern: Option<String>,
}

/// The WHERE clause of the filters: `$1` client, `$2` engagement, `$3..$8` the filters, in the
/// order bound by [`bind_filters!`].
pub const FILTER_SQL: &str = "a.client_account_id = $1 AND a.engagement_id = $2 \
    AND ($3::text IS NULL OR a.asset_type = $3) AND ($4::text IS NULL OR a.environment = $4) \
    AND ($5::text IS NULL OR a.business_criticality = $5) \
    AND ($6::text IS NULL OR a.six_r_strategy = $6) \
    AND ($7::integer IS NULL OR a.migration_wave = $7)";

/// [`FILTER_SQL`] plus the free-text condition on `$8`.
pub fn filter_sql() -> String {
    format!("{FILTER_SQL} AND ($8::text IS NULL OR {SEARCH_TEXT} ILIKE $8)")
}

/// Binds `$1..$8` of [`filter_sql`].
#[macro_export]
macro_rules! bind_filters {
    ($query:expr, $client:expr, $engagement:expr, $f:expr) => {
        $query
            .bind($client)
            .bind($engagement)
            .bind($f.asset_type.clone())
            .bind($f.environment.clone())
            .bind($f.business_criticality.clone())
            .bind($f.six_r_strategy.clone())
            .bind($f.migration_wave)
            .bind($f.pattern.clone())
    };
}

impl AssetFilterQuery {
    /// Validates every filter into `c`.
    pub fn parse(&self, c: &mut Checks) -> Filters {
        let blank = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        c.one_of("asset_type", self.asset_type.as_deref(), ASSET_TYPES);
        c.one_of("environment", self.environment.as_deref(), ENVIRONMENTS);
        c.one_of(
            "business_criticality",
            self.business_criticality.as_deref(),
            CRITICALITIES,
        );
        c.one_of("six_r_strategy", self.six_r_strategy.as_deref(), SIX_R);
        let migration_wave = match self.migration_wave.as_deref() {
            None => None,
            Some(v) => match v.parse::<i32>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    c.fail("migration_wave", "must be a whole number, 0 or more");
                    None
                }
            },
        };
        let q = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        c.text("q", q, 255, false);
        if q.is_some_and(|q| q.chars().any(char::is_control)) {
            c.fail("q", "must not contain control characters");
        }
        Filters {
            asset_type: blank(&self.asset_type),
            environment: blank(&self.environment),
            business_criticality: blank(&self.business_criticality),
            six_r_strategy: blank(&self.six_r_strategy),
            migration_wave,
            pattern: q.map(like_pattern),
        }
    }
}

/// `%text%` with the LIKE wildcards of `text` escaped.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// 404 unless the engagement exists under this client.
pub async fn require_engagement(
    conn: &mut PgConnection,
    client_id: Uuid,
    engagement_id: Uuid,
) -> Result<(), ApiError> {
    let found: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM migration.engagements WHERE id = $1 AND client_account_id = $2",
    )
    .bind(engagement_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?;
    found
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("engagement"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    #[test]
    fn filters_are_validated() {
        let mut c = Checks::new();
        let q = AssetFilterQuery {
            asset_type: Some("mainframe".into()),
            migration_wave: Some("-1".into()),
            ..Default::default()
        };
        q.parse(&mut c);
        assert!(c.finish().is_err());
    }
}
