//! The column mappings of an import as the review shows them, with the agent's proposals
//! from the import's plan and sample values of each column.

use super::raw_text;
use super::relations::{RELATIONSHIP_TABLES, shown_kind};
use crate::import::MappingRow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// Sample values shown per column in the mapping review.
const SAMPLE_ROWS: i64 = 5;

/// One column mapping, with the agent's proposal and a few values of the column.
#[derive(Debug, Clone, Serialize)]
pub struct MappingView {
    pub table: String,
    pub source_column: String,
    pub column_index: i32,
    /// Attribute name, custom attribute name or relation role; absent for `ignore`.
    pub target: Option<String>,
    /// `attribute`, `custom` or `ignore`; `relation` or `ignore` for the columns of a
    /// relationship file.
    pub target_kind: String,
    pub confidence: f64,
    /// `approved`, `needs_review`, `edited` or `rejected`.
    pub status: String,
    pub reason: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The agent's proposal (from the import's plan), when known.
    pub proposed_target: Option<String>,
    pub proposed_target_kind: Option<String>,
    /// Values of the first rows of the table.
    pub sample_values: Vec<String>,
}

type MappingRowDb = (
    String,
    String,
    i32,
    Option<String>,
    String,
    f64,
    String,
    Option<String>,
    Option<Uuid>,
    Option<DateTime<Utc>>,
);

/// A proposal of the plan: (target_kind as stored, target).
type Proposal = (String, Option<String>, f64);

/// The plan's proposals by (table, source column), with the kind as stored (relation fields
/// as attributes).
pub(super) fn proposals(plan_mappings: &Value) -> HashMap<(String, String), Proposal> {
    let rows: Vec<MappingRow> = serde_json::from_value(plan_mappings.clone()).unwrap_or_default();
    rows.into_iter()
        .map(|m| {
            let kind = m.stored_kind().to_string();
            ((m.table, m.source_column), (kind, m.target, m.confidence))
        })
        .collect()
}

/// Every column mapping of an import (table, then column order); `None` when the import is
/// not in this engagement.
pub async fn list_mappings(
    conn: &mut PgConnection,
    client: Uuid,
    engagement: Uuid,
    import_id: Uuid,
) -> Result<Option<Vec<MappingView>>, sqlx::Error> {
    let plan: Option<(Option<Value>, Vec<String>)> = sqlx::query_as(&format!(
        "SELECT plan->'mappings', {RELATIONSHIP_TABLES} FROM migration.import_sessions \
          WHERE id = $1 AND client_account_id = $2 AND engagement_id = $3"
    ))
    .bind(import_id)
    .bind(client)
    .bind(engagement)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((plan, relationship_tables)) = plan else {
        return Ok(None);
    };
    let proposed = proposals(&plan.unwrap_or(Value::Null));
    let rows: Vec<MappingRowDb> = sqlx::query_as(
        "SELECT table_name, source_column, column_index, target, target_kind, confidence, \
                status, reason, decided_by, decided_at \
           FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND client_account_id = $2 \
          ORDER BY table_name, column_index, source_column",
    )
    .bind(import_id)
    .bind(client)
    .fetch_all(&mut *conn)
    .await?;
    // The first rows of each table, for sample values.
    let firsts: Vec<(String, Value)> = sqlx::query_as(
        "SELECT r.table_name, r.raw FROM (SELECT DISTINCT table_name FROM \
            migration.import_column_mappings WHERE import_session_id = $1 \
            AND client_account_id = $2) t \
          CROSS JOIN LATERAL (SELECT table_name, raw FROM migration.import_rows \
            WHERE import_session_id = $1 AND client_account_id = $2 \
              AND table_name = t.table_name ORDER BY row_number LIMIT $3) r",
    )
    .bind(import_id)
    .bind(client)
    .bind(SAMPLE_ROWS)
    .fetch_all(&mut *conn)
    .await?;
    let views = rows
        .into_iter()
        .map(
            |(table, column, index, target, kind, confidence, status, reason, by, at)| {
                let mut sample_values: Vec<String> = Vec::new();
                for (t, raw) in &firsts {
                    if *t == table
                        && let Some(s) = raw.get(&column).and_then(raw_text)
                        && !s.trim().is_empty()
                        && !sample_values.contains(&s)
                    {
                        sample_values.push(s);
                    }
                }
                let p = proposed.get(&(table.clone(), column.clone()));
                let relationships = relationship_tables.contains(&table);
                MappingView {
                    proposed_target: p.and_then(|p| p.1.clone()),
                    proposed_target_kind: p.map(|p| shown_kind(relationships, &p.0)),
                    table,
                    source_column: column,
                    column_index: index,
                    target,
                    target_kind: shown_kind(relationships, &kind),
                    confidence,
                    status,
                    reason,
                    decided_by: by,
                    decided_at: at,
                    sample_values,
                }
            },
        )
        .collect();
    Ok(Some(views))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_proposals_store_relations_as_attributes() {
        let plan = serde_json::json!([
            {"table": "t", "source_column": "Parent", "target": "source", "target_kind": "relation",
             "confidence": 1.0, "status": "approved", "reason": ""},
            {"table": "t", "source_column": "x", "target": null, "target_kind": "ignore",
             "confidence": 0.5, "status": "needs_review", "reason": ""}
        ]);
        let p = proposals(&plan);
        assert_eq!(
            p[&("t".into(), "Parent".into())],
            ("attribute".into(), Some("source".into()), 1.0)
        );
        assert_eq!(p[&("t".into(), "x".into())], ("ignore".into(), None, 0.5));
    }
}
