//! Listing the inventory (filters, sort, keyset pagination) and reading one asset with its
//! dependencies and provenance.

use super::assets::{Asset, AssetFilterQuery, COLUMNS, Filters, filter_sql, require_engagement};
use crate::auth::Caller;
use crate::bind_filters;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiPath, ApiQuery};
use crate::pagination;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use modernize_domain::access::Action;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Sort keys: name, SQL expression (never NULL, so that keyset comparison is exact), SQL type.
/// Absent values sort last in ascending order.
const SORTS: &[(&str, &str, &str)] = &[
    ("asset_name", "a.asset_name", "text"),
    ("asset_type", "coalesce(a.asset_type, '~')", "text"),
    ("environment", "coalesce(a.environment, '~')", "text"),
    (
        "business_criticality",
        "CASE a.business_criticality WHEN 'critical' THEN 0 WHEN 'high' THEN 1 \
         WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END",
        "integer",
    ),
    ("six_r_strategy", "coalesce(a.six_r_strategy, '~')", "text"),
    (
        "migration_wave",
        "coalesce(a.migration_wave, 2147483647)",
        "integer",
    ),
    (
        "migration_priority",
        "coalesce(a.migration_priority, 2147483647)",
        "integer",
    ),
    ("hostname", "coalesce(a.hostname, '~')", "text"),
    (
        "created_at",
        "coalesce(a.created_at, 'infinity')",
        "timestamptz",
    ),
    (
        "updated_at",
        "coalesce(a.updated_at, a.created_at, 'infinity')",
        "timestamptz",
    ),
];

/// Sort and page of the inventory listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetListQuery {
    /// asset_name (default), asset_type, environment, business_criticality (most critical
    /// first), six_r_strategy, migration_wave, migration_priority, hostname, created_at or
    /// updated_at; prefix with `-` for descending order.
    pub sort: Option<String>,
    /// 1..200, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// A page of assets.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetPage {
    pub items: Vec<Asset>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Number of assets matching the filters (all pages).
    pub total: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    asset: Asset,
    sort_key: String,
}

/// Cursor: sort name, sort key of the last row as text, id of the last row.
type Cursor = (String, String, Uuid);

/// List the assets of an engagement.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/assets",
    tag = "assets",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), AssetFilterQuery,
           AssetListQuery),
    responses((status = 200, body = AssetPage), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_assets(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(filter_query): ApiQuery<AssetFilterQuery>,
    ApiQuery(query): ApiQuery<AssetListQuery>,
) -> Result<Json<AssetPage>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut c = Checks::new();
    let filters = filter_query.parse(&mut c);
    let sort_param = query.sort.as_deref().unwrap_or("asset_name");
    let (descending, sort_name) = match sort_param.strip_prefix('-') {
        Some(name) => (true, name),
        None => (false, sort_param),
    };
    let sort = SORTS.iter().find(|s| s.0 == sort_name);
    if sort.is_none() {
        let names: Vec<&str> = SORTS.iter().map(|s| s.0).collect();
        c.fail(
            "sort",
            format!(
                "must be one of: {} (with - for descending order)",
                names.join(", ")
            ),
        );
    }
    let limit = pagination::limit(&mut c, query.limit.as_deref());
    let cursor: Option<Cursor> = pagination::decode(&mut c, query.after.as_deref());
    if cursor.as_ref().is_some_and(|k| k.0 != sort_param) {
        c.fail("after", "is a cursor of another sort order");
    }
    c.finish()?;
    let sort = sort.copied().unwrap_or(SORTS[0]);
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    require_engagement(&mut tx, client_id, engagement_id).await?;
    let page = page(
        &mut tx,
        client_id,
        engagement_id,
        &filters,
        sort,
        descending,
        sort_param,
        limit,
        cursor,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(page))
}

#[allow(clippy::too_many_arguments)]
async fn page(
    conn: &mut PgConnection,
    client_id: Uuid,
    engagement_id: Uuid,
    filters: &Filters,
    (_, expr, ty): (&str, &str, &str),
    descending: bool,
    sort_param: &str,
    limit: i64,
    cursor: Option<Cursor>,
) -> Result<AssetPage, ApiError> {
    let (op, dir) = if descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let sql = format!(
        "SELECT {COLUMNS}, ({expr})::text AS sort_key FROM migration.assets a \
          WHERE {} AND ($9::text IS NULL OR ({expr}, a.id) {op} ($9::{ty}, $10::uuid)) \
          ORDER BY {expr} {dir}, a.id {dir} LIMIT $11",
        filter_sql()
    );
    let (key, after_id) = match cursor {
        Some((_, key, id)) => (Some(key), Some(id)),
        None => (None, None),
    };
    let mut rows: Vec<Row> = bind_filters!(sqlx::query_as(&sql), client_id, engagement_id, filters)
        .bind(key)
        .bind(after_id)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| pagination::encode(&(sort_param, r.sort_key.as_str(), r.asset.id)))
    } else {
        None
    };
    let count_sql = format!(
        "SELECT count(*) FROM migration.assets a WHERE {}",
        filter_sql()
    );
    let (total,): (i64,) = bind_filters!(
        sqlx::query_as(&count_sql),
        client_id,
        engagement_id,
        filters
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(AssetPage {
        items: rows.into_iter().map(|r| r.asset).collect(),
        next_cursor,
        total,
    })
}

/// A dependency seen from one asset, with the asset at its other end.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AssetDependency {
    pub id: Uuid,
    /// runtime, compile, network, data, ...
    pub dependency_type: Option<String>,
    /// inbound, outbound or bidirectional.
    pub direction: Option<String>,
    /// weak, strong or critical.
    pub strength: Option<String>,
    /// agent, manual or import.
    pub discovered_by: Option<String>,
    pub confidence_score: Option<f64>,
    pub asset_id: Uuid,
    pub asset_name: String,
    pub asset_type: Option<String>,
    /// The engagement of the other asset (dependencies may cross engagements of a client).
    pub engagement_id: Uuid,
}

/// Where an asset came from.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Provenance {
    pub source_system: Option<String>,
    pub source_id: Option<String>,
    pub import_session_id: Option<Uuid>,
    /// The record as imported.
    #[schema(value_type = Option<Object>)]
    pub raw_data: Option<serde_json::Value>,
    pub created_by: Option<Uuid>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// An asset with its dependencies and provenance.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetDetail {
    #[serde(flatten)]
    pub asset: Asset,
    /// Dependencies of this asset (it is the source).
    pub outgoing: Vec<AssetDependency>,
    /// Dependencies on this asset (it is the target).
    pub incoming: Vec<AssetDependency>,
    pub provenance: Provenance,
}

/// One asset of this engagement, or 404.
pub async fn fetch(
    conn: &mut PgConnection,
    client_id: Uuid,
    engagement_id: Uuid,
    asset_id: Uuid,
) -> Result<Asset, ApiError> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM migration.assets a \
          WHERE a.id = $1 AND a.client_account_id = $2 AND a.engagement_id = $3"
    ))
    .bind(asset_id)
    .bind(client_id)
    .bind(engagement_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("asset"))
}

async fn dependencies(
    conn: &mut PgConnection,
    client_id: Uuid,
    asset_id: Uuid,
    outgoing: bool,
) -> Result<Vec<AssetDependency>, ApiError> {
    let (this, other) = if outgoing {
        ("source_asset_id", "target_asset_id")
    } else {
        ("target_asset_id", "source_asset_id")
    };
    Ok(sqlx::query_as(&format!(
        "SELECT d.id, d.dependency_type, d.direction, d.strength, d.discovered_by, \
                d.confidence_score, o.id AS asset_id, o.asset_name, o.asset_type, o.engagement_id \
           FROM migration.asset_dependencies d \
           JOIN migration.assets o ON o.id = d.{other} AND o.client_account_id = d.client_account_id \
          WHERE d.{this} = $1 AND d.client_account_id = $2 \
          ORDER BY o.asset_name, d.id"
    ))
    .bind(asset_id)
    .bind(client_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Read one asset with its outgoing and incoming dependencies and its provenance.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/assets/{asset_id}",
    tag = "assets",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("asset_id" = Uuid, Path)),
    responses((status = 200, body = AssetDetail), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_asset(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, asset_id)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<AssetDetail>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let asset = fetch(&mut tx, client_id, engagement_id, asset_id).await?;
    let provenance: Provenance = sqlx::query_as(
        "SELECT source_system, source_id, import_session_id, raw_data, created_by, created_at, \
                updated_at FROM migration.assets WHERE id = $1 AND client_account_id = $2",
    )
    .bind(asset_id)
    .bind(client_id)
    .fetch_one(&mut *tx)
    .await?;
    let outgoing = dependencies(&mut tx, client_id, asset_id, true).await?;
    let incoming = dependencies(&mut tx, client_id, asset_id, false).await?;
    tx.commit().await?;
    Ok(Json(AssetDetail {
        asset,
        outgoing,
        incoming,
        provenance,
    }))
}
