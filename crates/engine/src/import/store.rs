//! SQL of imports. Bulk writes pass JSON arrays expanded by `jsonb_to_recordset` /
//! `jsonb_populate_recordset` (COPY FROM is refused on tables with row-level security).

use std::path::Path;

use modernize_domain::tenancy::TenantScope;
use modernize_ingest::attributes::AssetAttribute;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::plan::{Decision, MappingRow, Plan, ReadRow};
use super::{ImportError, ImportOptions, ImportReport, begin};

pub(super) type Tx = Transaction<'static, Postgres>;

/// Size and SHA-256 of the file (the digest only when within the size limit).
#[derive(Debug, Clone)]
pub(super) struct FileMeta {
    pub name: String,
    pub size: u64,
    pub sha256: Option<String>,
}

pub(super) async fn file_meta(path: &Path, max_bytes: u64) -> Result<FileMeta, ImportError> {
    let io = |e: std::io::Error| {
        ImportError::Source(modernize_ingest::SourceError::Io(format!(
            "{}: {e}",
            path.display()
        )))
    };
    let size = tokio::fs::metadata(path).await.map_err(io)?.len();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let sha256 = if size <= max_bytes {
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Some(
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    } else {
        None
    };
    Ok(FileMeta { name, size, sha256 })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

pub(super) async fn create_session(
    pool: &PgPool,
    scope: TenantScope,
    engagement_id: Uuid,
    _path: &Path,
    meta: &FileMeta,
    options: &ImportOptions,
) -> Result<Uuid, ImportError> {
    let client = scope
        .client_account_id()
        .map(|c| c.0)
        .ok_or_else(|| ImportError::Internal("no client scope".into()))?;
    let mut tx = begin(pool, scope).await?;
    let found: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM migration.engagements WHERE id = $1 AND client_account_id = $2",
    )
    .bind(engagement_id)
    .bind(client)
    .fetch_optional(&mut *tx)
    .await?;
    if found.is_none() {
        return Err(ImportError::EngagementNotFound(engagement_id));
    }
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.import_sessions \
            (client_account_id, engagement_id, flow_id, file_name, file_size_bytes, file_sha256, \
             dry_run, status, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'staged', $8) RETURNING id",
    )
    .bind(client)
    .bind(engagement_id)
    .bind(options.flow_id)
    .bind(truncate(&meta.name, 255))
    .bind(meta.size as i64)
    .bind(&meta.sha256)
    .bind(options.dry_run)
    .bind(options.user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub(super) async fn mark_failed(
    pool: &PgPool,
    scope: TenantScope,
    import_id: Uuid,
    error: &ImportError,
) -> Result<(), ImportError> {
    let mut tx = begin(pool, scope).await?;
    sqlx::query(
        "UPDATE migration.import_sessions \
         SET status = 'failed', error_code = $2, error_message = $3, completed_at = now() \
         WHERE id = $1",
    )
    .bind(import_id)
    .bind(error.code())
    .bind(error.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn stage_rows(
    tx: &mut Tx,
    import_id: Uuid,
    client: Uuid,
    rows: Vec<Json>,
) -> Result<(), ImportError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO migration.import_rows \
            (import_session_id, client_account_id, table_name, row_number, raw, status, issues, \
             asset_id, action) \
         SELECT $1, $2, r.table_name, r.row_number, r.raw, r.status, r.issues, r.asset_id, \
                r.action \
         FROM jsonb_to_recordset($3) AS r(table_name text, row_number bigint, raw jsonb, \
              status text, issues jsonb, asset_id uuid, action text)",
    )
    .bind(import_id)
    .bind(client)
    .bind(Json::Array(rows))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the proposed column mappings of `plan`, each with the learned pattern it applies.
pub(super) async fn write_mappings(
    tx: &mut Tx,
    import_id: Uuid,
    client: Uuid,
    plan: &Plan,
) -> Result<(), ImportError> {
    let learned = plan.learned_patterns();
    let pattern_of = |m: &MappingRow| {
        learned
            .iter()
            .find(|(t, c, _)| *t == m.table && *c == m.source_column)
            .map(|l| l.2)
    };
    let rows: Vec<Json> = plan
        .mappings
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({
                "learned_pattern_id": pattern_of(m),
                "table_name": truncate(&m.table, 255),
                "source_column": truncate(&m.source_column, 255),
                "column_index": i,
                "target": m.target.as_deref().map(|t| truncate(t, 255)),
                "target_kind": m.stored_kind(),
                "confidence": m.confidence.clamp(0.0, 1.0),
                "status": m.status,
                "reason": m.reason,
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO migration.import_column_mappings \
            (import_session_id, client_account_id, table_name, source_column, column_index, \
             target, target_kind, confidence, status, reason, learned_pattern_id) \
         SELECT $1, $2, r.table_name, r.source_column, r.column_index, r.target, r.target_kind, \
                r.confidence, r.status, r.reason, r.learned_pattern_id \
         FROM jsonb_to_recordset($3) AS r(table_name text, source_column text, \
              column_index integer, target text, target_kind text, confidence float8, \
              status text, reason text, learned_pattern_id uuid) \
         ON CONFLICT DO NOTHING",
    )
    .bind(import_id)
    .bind(client)
    .bind(Json::Array(rows))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const META: &[&str] = &[
    "completeness_score",
    "confidence_score",
    "source_system",
    "import_session_id",
    "raw_data",
];

/// Inserts asset documents into `table` (the inventory, or a dry run's private copy).
pub(super) async fn insert_assets(
    tx: &mut Tx,
    table: &str,
    client: Uuid,
    engagement: Uuid,
    flow: Option<Uuid>,
    user: Option<Uuid>,
    docs: Vec<Json>,
) -> Result<(), ImportError> {
    if docs.is_empty() {
        return Ok(());
    }
    let mut cols: Vec<&str> = AssetAttribute::ALL.iter().map(|a| a.as_str()).collect();
    cols.extend_from_slice(META);
    let select: Vec<String> = cols
        .iter()
        .map(|c| match *c {
            "technology_stack" | "dependencies" => format!("COALESCE(r.{c}, '[]'::jsonb)"),
            _ => format!("r.{c}"),
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} \
            (id, client_account_id, engagement_id, master_flow_id, created_by, {}) \
         SELECT r.id, $2, $3, $4, $5, {} \
         FROM jsonb_populate_recordset(NULL::migration.assets, $1) AS r",
        cols.join(", "),
        select.join(", ")
    );
    sqlx::query(&sql)
        .bind(Json::Array(docs))
        .bind(client)
        .bind(engagement)
        .bind(flow)
        .bind(user)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Merges asset documents into their rows of `table` (a null keeps the stored value).
pub(super) async fn update_assets(
    tx: &mut Tx,
    table: &str,
    client: Uuid,
    engagement: Uuid,
    docs: Vec<Json>,
) -> Result<(), ImportError> {
    if docs.is_empty() {
        return Ok(());
    }
    let mut sets: Vec<String> = AssetAttribute::ALL
        .iter()
        .map(|a| format!("{0} = COALESCE(r.{0}, a.{0})", a.as_str()))
        .collect();
    sets.extend(META.iter().map(|c| format!("{c} = COALESCE(r.{c}, a.{c})")));
    let sql = format!(
        "UPDATE {table} AS a SET {} \
         FROM jsonb_populate_recordset(NULL::migration.assets, $1) AS r \
         WHERE a.id = r.id AND a.client_account_id = $2 AND a.engagement_id = $3",
        sets.join(", ")
    );
    sqlx::query(&sql)
        .bind(Json::Array(docs))
        .bind(client)
        .bind(engagement)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends the session with its report; a committed import also settles the outcomes of the
/// learned patterns its mapping applied ([`crate::learning::record_outcomes`]).
pub(super) async fn finish_session(
    tx: &mut Tx,
    import_id: Uuid,
    client: Uuid,
    report: &ImportReport,
) -> Result<(), ImportError> {
    sqlx::query(
        "UPDATE migration.import_sessions SET \
            status = $2, format = $3, layout = $4, layout_confidence = $5, source_system = $6, \
            rows_read = $7, rows_rejected = $8, assets_created = $9, assets_updated = $10, \
            assets_unchanged = $11, dependencies_created = $12, summary = $13, \
            completed_at = now() \
         WHERE id = $1",
    )
    .bind(import_id)
    .bind(&report.status)
    .bind(truncate(&report.format, 20))
    .bind(truncate(&report.layout, 50))
    .bind(report.layout_confidence.clamp(0.0, 1.0))
    .bind(truncate(&report.source_system, 100))
    .bind(report.rows_read as i64)
    .bind(report.rows_rejected as i64)
    .bind(report.assets_created as i64)
    .bind(report.assets_updated as i64)
    .bind(report.assets_unchanged as i64)
    .bind(report.dependencies_created as i64)
    .bind(serde_json::to_value(report).unwrap_or_default())
    .execute(&mut **tx)
    .await?;
    if report.status == "committed" {
        crate::learning::record_outcomes(tx, client, import_id).await?;
    }
    Ok(())
}

/// Rewrites the outcome of staged rows (applying a staged import).
pub(super) async fn update_rows(
    tx: &mut Tx,
    import_id: Uuid,
    rows: Vec<Json>,
) -> Result<(), ImportError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE migration.import_rows AS t \
         SET status = r.status, issues = r.issues, asset_id = r.asset_id, action = r.action \
         FROM jsonb_to_recordset($2) AS r(table_name text, row_number bigint, status text, \
              issues jsonb, asset_id uuid, action text) \
         WHERE t.import_session_id = $1 AND t.table_name = r.table_name \
           AND t.row_number = r.row_number",
    )
    .bind(import_id)
    .bind(Json::Array(rows))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A page of staged rows after `after` (table, row number), in order.
pub(super) async fn staged_rows(
    tx: &mut Tx,
    import_id: Uuid,
    after: Option<(String, i64)>,
    limit: i64,
) -> Result<Vec<ReadRow>, ImportError> {
    let (table, number) = after.unwrap_or_default();
    let rows: Vec<(String, i64, Json, Json)> = sqlx::query_as(
        "SELECT table_name, row_number, raw, issues FROM migration.import_rows \
         WHERE import_session_id = $1 AND status = 'staged' \
           AND (table_name, row_number) > ($2, $3) \
         ORDER BY table_name, row_number LIMIT $4",
    )
    .bind(import_id)
    .bind(table)
    .bind(number)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(table, number, raw, issues)| {
            let problems = issues
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|i| {
                            Some((
                                i.get("code")?.as_str()?.to_string(),
                                i.get("message")
                                    .and_then(|m| m.as_str())
                                    .unwrap_or_default()
                                    .to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            ReadRow {
                table,
                row: number.max(0) as u64,
                raw,
                problems,
                body: super::plan::Body::Raw,
            }
        })
        .collect())
}

/// A staged session: its engagement, status, flow, file, and plan.
pub(super) struct StagedSession {
    pub engagement_id: Uuid,
    pub status: String,
    pub flow_id: Option<Uuid>,
    pub file_name: String,
    pub file_size: u64,
    pub source_system: Option<String>,
    pub plan: Option<Plan>,
}

/// Reads and locks a session for applying (`None`: not found in this tenant).
pub(super) async fn lock_session(
    tx: &mut Tx,
    client: Uuid,
    import_id: Uuid,
) -> Result<Option<StagedSession>, ImportError> {
    type SessionRow = (
        Uuid,
        String,
        Option<Uuid>,
        String,
        Option<i64>,
        Option<String>,
        Option<Json>,
    );
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT engagement_id, status, flow_id, file_name, file_size_bytes, source_system, plan \
             FROM migration.import_sessions WHERE id = $1 AND client_account_id = $2 \
             FOR UPDATE",
    )
    .bind(import_id)
    .bind(client)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(
        |(engagement_id, status, flow_id, file_name, size, source_system, plan)| StagedSession {
            engagement_id,
            status,
            flow_id,
            file_name,
            file_size: size.unwrap_or(0).max(0) as u64,
            source_system,
            plan: plan.and_then(|p| serde_json::from_value(p).ok()),
        },
    ))
}

/// The decisions on the mappings of a session.
pub(super) async fn decisions(tx: &mut Tx, import_id: Uuid) -> Result<Vec<Decision>, ImportError> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT source_column, status, target_kind, target \
         FROM migration.import_column_mappings WHERE import_session_id = $1 \
         ORDER BY column_index",
    )
    .bind(import_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(source_column, status, target_kind, target)| Decision {
            source_column,
            status,
            target_kind,
            target,
        })
        .collect())
}

/// Records a staged session's plan, status and row count.
pub(super) async fn finish_staging(
    tx: &mut Tx,
    import_id: Uuid,
    plan: &Plan,
    rows: u64,
    source_system: &str,
) -> Result<(), ImportError> {
    let status = if plan.needs_review() > 0 {
        "mapping_review"
    } else {
        "staged"
    };
    sqlx::query(
        "UPDATE migration.import_sessions SET status = $2, format = $3, layout = $4, \
            layout_confidence = $5, rows_read = $6, plan = $7, source_system = $8 \
         WHERE id = $1",
    )
    .bind(import_id)
    .bind(status)
    .bind(truncate(&plan.format, 20))
    .bind(truncate(plan.layout().as_str(), 50))
    .bind(plan.detection.confidence.clamp(0.0, 1.0))
    .bind(rows as i64)
    .bind(serde_json::to_value(plan).unwrap_or_default())
    .bind(truncate(source_system, 100))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
