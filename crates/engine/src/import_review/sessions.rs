//! Import sessions: listing and getting them, whether one exists, and their rows counted by
//! status.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

/// An import session as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SessionView {
    pub id: Uuid,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub flow_id: Option<Uuid>,
    pub file_name: String,
    pub file_size_bytes: Option<i64>,
    pub file_sha256: Option<String>,
    pub format: Option<String>,
    /// The table imported (sheet name, or the file name for CSV and JSON).
    pub table_name: Option<String>,
    /// `assets` or `dependencies` (from the plan of a staged import).
    pub table_kind: Option<String>,
    pub layout: Option<String>,
    pub layout_confidence: Option<f64>,
    pub source_system: Option<String>,
    pub dry_run: bool,
    pub status: String,
    pub rows_read: i64,
    pub rows_rejected: i64,
    pub assets_created: i64,
    pub assets_updated: i64,
    pub assets_unchanged: i64,
    pub dependencies_created: i64,
    pub mappings_total: i64,
    pub mappings_needing_review: i64,
    pub summary: Value,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

const SESSION_SELECT: &str = "SELECT s.id, s.client_account_id, s.engagement_id, s.flow_id, \
    s.file_name, s.file_size_bytes, s.file_sha256, \
    coalesce(s.format, s.plan->>'format') AS format, \
    coalesce(s.plan->'detection'->>'table', s.summary->>'table') AS table_name, \
    CASE WHEN s.plan IS NOT NULL THEN \
        CASE s.plan->'detection'->>'kind' WHEN 'dependencies' THEN 'dependencies' ELSE 'assets' END \
    ELSE s.summary->>'table_kind' END AS table_kind, \
    coalesce(s.layout, s.plan->'detection'->>'layout') AS layout, \
    coalesce(s.layout_confidence, (s.plan->'detection'->>'confidence')::float8) AS layout_confidence, \
    s.source_system, s.dry_run, s.status, s.rows_read, s.rows_rejected, s.assets_created, \
    s.assets_updated, s.assets_unchanged, s.dependencies_created, \
    (SELECT count(*) FROM migration.import_column_mappings m \
      WHERE m.import_session_id = s.id AND m.client_account_id = s.client_account_id) \
      AS mappings_total, \
    (SELECT count(*) FROM migration.import_column_mappings m \
      WHERE m.import_session_id = s.id AND m.client_account_id = s.client_account_id \
        AND m.status = 'needs_review') AS mappings_needing_review, \
    s.summary, s.error_code, s.error_message, s.created_by, s.created_at, s.updated_at, \
    s.completed_at \
    FROM migration.import_sessions s";

/// The sessions of an engagement, newest first, after the keyset `after` (created_at, id).
pub async fn list_sessions(
    conn: &mut PgConnection,
    client: Uuid,
    engagement: Uuid,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<SessionView>, sqlx::Error> {
    let sql = format!(
        "{SESSION_SELECT} WHERE s.client_account_id = $1 AND s.engagement_id = $2 \
           AND ($3::text IS NULL OR s.status = $3) \
           AND ($4::timestamptz IS NULL OR (s.created_at, s.id) < ($4, $5)) \
         ORDER BY s.created_at DESC, s.id DESC LIMIT $6"
    );
    sqlx::query_as(&sql)
        .bind(client)
        .bind(engagement)
        .bind(status)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// One session of the engagement.
pub async fn get_session(
    conn: &mut PgConnection,
    client: Uuid,
    engagement: Uuid,
    import_id: Uuid,
) -> Result<Option<SessionView>, sqlx::Error> {
    let sql = format!(
        "{SESSION_SELECT} WHERE s.client_account_id = $1 AND s.engagement_id = $2 AND s.id = $3"
    );
    sqlx::query_as(&sql)
        .bind(client)
        .bind(engagement)
        .bind(import_id)
        .fetch_optional(&mut *conn)
        .await
}

/// Rows of a session by status (`staged`, `accepted`, `fixed`, `rejected`).
pub async fn row_counts(
    conn: &mut PgConnection,
    client: Uuid,
    import_id: Uuid,
) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM migration.import_rows \
          WHERE import_session_id = $1 AND client_account_id = $2 GROUP BY status ORDER BY 1",
    )
    .bind(import_id)
    .bind(client)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Whether the import exists in this engagement.
pub async fn session_exists(
    conn: &mut PgConnection,
    client: Uuid,
    engagement: Uuid,
    import_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let found: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM migration.import_sessions \
          WHERE id = $1 AND client_account_id = $2 AND engagement_id = $3",
    )
    .bind(import_id)
    .bind(client)
    .bind(engagement)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}
