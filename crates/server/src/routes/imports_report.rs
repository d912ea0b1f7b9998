//! The row-level report of an import: JSON pages, or a CSV download streamed page by page
//! with every text cell neutralised against spreadsheet formula injection.

use super::assets_export::neutralise;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiPath, ApiQuery};
use crate::pagination;
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use modernize_domain::access::Action;
use modernize_engine::import_review::{self as review, ReportRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Rows per page of the CSV report read from the database.
const REPORT_PAGE: i64 = 1000;

/// One row of an import's report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRow {
    pub table: String,
    /// 1-based data row number in the table.
    pub row_number: i64,
    /// staged, accepted, fixed or rejected.
    pub status: String,
    /// created, updated or unchanged.
    pub action: Option<String>,
    pub asset_id: Option<Uuid>,
    pub asset_name: Option<String>,
    /// `[{code, message, severity}]`.
    #[schema(value_type = Vec<Object>)]
    pub issues: Value,
    /// The row as read: header → value.
    #[schema(value_type = Object)]
    pub raw: Value,
}

impl From<ReportRow> for ImportRow {
    fn from(r: ReportRow) -> Self {
        ImportRow {
            table: r.table_name,
            row_number: r.row_number,
            status: r.status,
            action: r.action,
            asset_id: r.asset_id,
            asset_name: r.asset_name,
            issues: r.issues,
            raw: r.raw,
        }
    }
}

/// A page of report rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRowPage {
    pub items: Vec<ImportRow>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Filter and page of the report rows.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportRowQuery {
    /// staged, accepted, fixed or rejected.
    pub status: Option<String>,
    /// 1..200, default 50.
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

/// Filter of the CSV report.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportReportQuery {
    /// staged, accepted, fixed or rejected.
    pub status: Option<String>,
}

/// The row-level report of an import: every row with its status, action, asset and issues.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/imports/{import_id}/rows",
    tag = "imports",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("import_id" = Uuid, Path),
           ImportRowQuery),
    responses((status = 200, body = ImportRowPage), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_import_rows(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, import_id)): ApiPath<(Uuid, Uuid, Uuid)>,
    ApiQuery(query): ApiQuery<ImportRowQuery>,
) -> Result<Json<ImportRowPage>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut c = Checks::new();
    c.one_of("status", query.status.as_deref(), review::ROW_STATUSES);
    let limit = pagination::limit(&mut c, query.limit.as_deref());
    let after: Option<(String, i64)> = pagination::decode(&mut c, query.after.as_deref());
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    if !review::session_exists(&mut tx, client_id, engagement_id, import_id).await? {
        return Err(ApiError::not_found("import"));
    }
    let mut rows = review::report_rows(
        &mut tx,
        client_id,
        import_id,
        query.status.as_deref(),
        after,
        limit + 1,
    )
    .await?;
    tx.commit().await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| pagination::encode(&(r.table_name.clone(), r.row_number)))
    } else {
        None
    };
    Ok(Json(ImportRowPage {
        items: rows.into_iter().map(ImportRow::from).collect(),
        next_cursor,
    }))
}

/// The fixed columns of the CSV report; the source columns follow, by their headers.
const REPORT_HEADERS: &[&str] = &[
    "table",
    "row_number",
    "status",
    "action",
    "asset_id",
    "asset_name",
    "issue_codes",
    "issue_messages",
];

fn issue_field(issues: &Value, field: &str) -> String {
    issues
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.get(field).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One CSV record, every text cell neutralised.
fn report_record(r: &ReportRow, columns: &[String]) -> Vec<String> {
    let mut out = vec![
        neutralise(&r.table_name).into_owned(),
        r.row_number.to_string(),
        neutralise(&r.status).into_owned(),
        neutralise(r.action.as_deref().unwrap_or_default()).into_owned(),
        r.asset_id.map(|a| a.to_string()).unwrap_or_default(),
        neutralise(r.asset_name.as_deref().unwrap_or_default()).into_owned(),
        neutralise(&issue_field(&r.issues, "code")).into_owned(),
        neutralise(&issue_field(&r.issues, "message")).into_owned(),
    ];
    if columns.is_empty() {
        out.push(neutralise(&r.raw.to_string()).into_owned());
    }
    for c in columns {
        let v = r.raw.get(c).and_then(review::raw_text).unwrap_or_default();
        out.push(neutralise(&v).into_owned());
    }
    out
}

fn csv_chunk<I, S>(records: I) -> Result<Vec<u8>, String>
where
    I: IntoIterator<Item = Vec<S>>,
    S: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in records {
        w.write_record(r).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// Download the row-level report of an import as CSV: table, row number, status, action,
/// asset id and name, issue codes and messages, then the row's values by source column. Text
/// that a spreadsheet would evaluate as a formula is prefixed with a single quote.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/imports/{import_id}/report.csv",
    tag = "imports",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("import_id" = Uuid, Path),
           ImportReportQuery),
    responses((status = 200, description = "The report, as an attachment",
               content((String = "text/csv"))),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn export_import_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, import_id)): ApiPath<(Uuid, Uuid, Uuid)>,
    ApiQuery(query): ApiQuery<ImportReportQuery>,
) -> Result<Response, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut c = Checks::new();
    c.one_of("status", query.status.as_deref(), review::ROW_STATUSES);
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    if !review::session_exists(&mut tx, client_id, engagement_id, import_id).await? {
        return Err(ApiError::not_found("import"));
    }
    let columns = review::report_columns(&mut tx, client_id, import_id).await?;
    let mut headers: Vec<String> = REPORT_HEADERS.iter().map(|h| h.to_string()).collect();
    if columns.is_empty() {
        headers.push("raw".into());
    }
    headers.extend(columns.iter().map(|c| neutralise(c).into_owned()));
    let first = csv_chunk([headers]).map_err(ApiError::internal)?;
    // The rows are read page by page in the request's transaction and written as they come.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let status = query.status.clone();
    tokio::spawn(async move {
        if sender.send(Ok(first)).await.is_err() {
            return;
        }
        let mut after: Option<(String, i64)> = None;
        let result: Result<(), String> = async {
            loop {
                let rows = review::report_rows(
                    &mut tx,
                    client_id,
                    import_id,
                    status.as_deref(),
                    after.clone(),
                    REPORT_PAGE,
                )
                .await
                .map_err(|e| e.to_string())?;
                let Some(last) = rows.last() else {
                    break;
                };
                after = Some((last.table_name.clone(), last.row_number));
                let chunk = csv_chunk(rows.iter().map(|r| report_record(r, &columns)))?;
                if sender.send(Ok(chunk)).await.is_err() {
                    return Ok(());
                }
                if (rows.len() as i64) < REPORT_PAGE {
                    break;
                }
            }
            tx.commit().await.map_err(|e| e.to_string())
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, %import_id, "import report stream failed");
            let _ = sender
                .send(Err(std::io::Error::other("the report could not be read")))
                .await;
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let disposition = format!("attachment; filename=\"import-{import_id}-report.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn report_records_are_neutralised() {
        let r = ReportRow {
            table_name: "servers".into(),
            row_number: 3,
            status: "rejected".into(),
            action: None,
            asset_id: None,
            asset_name: None,
            issues: json!([{"code": "missing_asset_name", "message": "=no name", "severity": "error"},
                           {"code": "bad_ip", "message": "ip", "severity": "warning"}]),
            raw: json!({"Name": "=HYPERLINK(\"http://x\")", "CPU": 4, "Empty": null}),
        };
        let cols = vec!["Name".to_string(), "CPU".to_string(), "Empty".to_string()];
        assert_eq!(
            report_record(&r, &cols),
            vec![
                "servers",
                "3",
                "rejected",
                "",
                "",
                "",
                "missing_asset_name; bad_ip",
                "'=no name; ip",
                "'=HYPERLINK(\"http://x\")",
                "4",
                ""
            ]
        );
    }
}
