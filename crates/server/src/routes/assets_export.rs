//! Exporting the (filtered) inventory as CSV or XLSX, safe against spreadsheet formula
//! injection: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! prefixed with a single quote, and XLSX cells are always written as strings or numbers,
//! never as formulas.

use super::assets::{Asset, AssetFilterQuery, COLUMNS, filter_sql, require_engagement};
use crate::auth::Caller;
use crate::bind_filters;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use crate::validate::Checks;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use modernize_domain::access::Action;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// The most rows one export holds.
pub const MAX_ROWS: i64 = 200_000;

/// The file format.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// csv (default) or xlsx.
    pub format: Option<String>,
}

/// One exported cell.
enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

const HEADERS: &[&str] = &[
    "id",
    "asset_name",
    "asset_type",
    "asset_subtype",
    "hostname",
    "fqdn",
    "ip_address",
    "os_type",
    "os_version",
    "environment",
    "datacenter",
    "region",
    "application_name",
    "application_version",
    "business_unit",
    "business_owner",
    "technical_owner",
    "business_criticality",
    "cpu_cores",
    "memory_gb",
    "storage_gb",
    "six_r_strategy",
    "migration_complexity",
    "migration_priority",
    "migration_wave",
    "source_system",
    "source_id",
    "created_at",
    "updated_at",
];

fn text(v: &Option<String>) -> Cell {
    v.as_ref().map_or(Cell::Empty, |s| Cell::Text(s.clone()))
}

fn number<T: Into<f64> + Copy>(v: Option<T>) -> Cell {
    v.map_or(Cell::Empty, |n| Cell::Number(n.into()))
}

fn row(a: &Asset) -> Vec<Cell> {
    vec![
        Cell::Text(a.id.to_string()),
        Cell::Text(a.asset_name.clone()),
        text(&a.asset_type),
        text(&a.asset_subtype),
        text(&a.hostname),
        text(&a.fqdn),
        text(&a.ip_address),
        text(&a.os_type),
        text(&a.os_version),
        text(&a.environment),
        text(&a.datacenter),
        text(&a.region),
        text(&a.application_name),
        text(&a.application_version),
        text(&a.business_unit),
        text(&a.business_owner),
        text(&a.technical_owner),
        text(&a.business_criticality),
        number(a.cpu_cores),
        number(a.memory_gb),
        number(a.storage_gb),
        text(&a.six_r_strategy),
        text(&a.migration_complexity),
        number(a.migration_priority),
        number(a.migration_wave),
        text(&a.source_system),
        text(&a.source_id),
        text(&a.created_at.map(|t| t.to_rfc3339())),
        text(&a.updated_at.map(|t| t.to_rfc3339())),
    ]
}

/// Neutralises text a spreadsheet would evaluate as a formula.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn csv_bytes(rows: &[Asset]) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADERS).map_err(ApiError::internal)?;
    for a in rows {
        let record: Vec<String> = row(a)
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) => neutralise(&s).into_owned(),
                Cell::Number(n) => n.to_string(),
                Cell::Empty => String::new(),
            })
            .collect();
        w.write_record(&record).map_err(ApiError::internal)?;
    }
    w.into_inner().map_err(ApiError::internal)
}

fn xlsx_bytes(rows: &[Asset]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Assets")?;
    for (col, h) in HEADERS.iter().enumerate() {
        sheet.write_string(0, col as u16, *h)?;
    }
    for (i, a) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (col, cell) in row(a).into_iter().enumerate() {
            match cell {
                Cell::Text(s) => {
                    sheet.write_string(r, col as u16, neutralise(&s).as_ref())?;
                }
                Cell::Number(n) => {
                    sheet.write_number(r, col as u16, n)?;
                }
                Cell::Empty => {}
            }
        }
    }
    book.save_to_buffer()
}

/// Export the assets of an engagement matching the filters, ordered by name.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/assets/export",
    tag = "assets",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), AssetFilterQuery,
           ExportQuery),
    responses((status = 200, description = "The file, as an attachment",
               content((String = "text/csv"),
                       (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn export_assets(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(filter_query): ApiQuery<AssetFilterQuery>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut c = Checks::new();
    let filters = filter_query.parse(&mut c);
    let format = query.format.as_deref().unwrap_or("csv");
    c.one_of("format", Some(format), &["csv", "xlsx"]);
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    require_engagement(&mut tx, client_id, engagement_id).await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM migration.assets a WHERE {} \
          ORDER BY a.asset_name, a.id LIMIT {MAX_ROWS}",
        filter_sql()
    );
    let rows: Vec<Asset> = bind_filters!(sqlx::query_as(&sql), client_id, engagement_id, filters)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let (bytes, content_type) = if format == "xlsx" {
        let bytes = tokio::task::spawn_blocking(move || xlsx_bytes(&rows))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        (
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    } else {
        (csv_bytes(&rows)?, "text/csv; charset=utf-8")
    };
    let disposition = format!("attachment; filename=\"assets-{engagement_id}.{format}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_like_text_is_neutralised() {
        for s in [
            "=HYPERLINK(\"http://x\")",
            "+1+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(neutralise(s), format!("'{s}"));
        }
        assert_eq!(neutralise("web-01"), "web-01");
        assert_eq!(neutralise(""), "");
    }
}
