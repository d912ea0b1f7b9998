//! The row-level report of an import: its rows, page by page, and its source columns.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// One row of the row-level report.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReportRow {
    pub table_name: String,
    pub row_number: i64,
    /// `staged`, `accepted`, `fixed` or `rejected`.
    pub status: String,
    /// `created`, `updated` or `unchanged` (absent for rejected and staged rows).
    pub action: Option<String>,
    pub asset_id: Option<Uuid>,
    /// The asset's current name.
    pub asset_name: Option<String>,
    /// `[{code, message, severity}]`.
    pub issues: Value,
    /// The row as read: header → value.
    pub raw: Value,
}

/// A page of the report: rows after `after` (table, row number), in order, optionally of one
/// status.
pub async fn report_rows(
    conn: &mut PgConnection,
    client: Uuid,
    import_id: Uuid,
    status: Option<&str>,
    after: Option<(String, i64)>,
    limit: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let (table, number) = match after {
        Some((t, n)) => (Some(t), n),
        None => (None, 0),
    };
    sqlx::query_as(
        "SELECT r.table_name, r.row_number, r.status, r.action, r.asset_id, \
                a.asset_name, r.issues, r.raw \
           FROM migration.import_rows r \
           LEFT JOIN migration.assets a \
             ON a.id = r.asset_id AND a.client_account_id = r.client_account_id \
          WHERE r.import_session_id = $1 AND r.client_account_id = $2 \
            AND ($3::text IS NULL OR r.status = $3) \
            AND ($4::text IS NULL OR (r.table_name, r.row_number) > ($4, $5)) \
          ORDER BY r.table_name, r.row_number LIMIT $6",
    )
    .bind(import_id)
    .bind(client)
    .bind(status)
    .bind(table)
    .bind(number)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// The source columns of an import, in table and column order, each once: the raw columns
/// of the report.
pub async fn report_columns(
    conn: &mut PgConnection,
    client: Uuid,
    import_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT source_column FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND client_account_id = $2 \
          ORDER BY table_name, column_index, source_column",
    )
    .bind(import_id)
    .bind(client)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<String> = Vec::with_capacity(rows.len());
    for (c,) in rows {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}
