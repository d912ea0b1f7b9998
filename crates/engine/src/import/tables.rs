//! The tables of one import: the report of each (layout, rows, assets), tallied from the row
//! outcomes, and the mapping decisions and processors of each table.

use std::collections::BTreeMap;

use modernize_ingest::layout::DetectionKind;
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use super::ImportError;
use super::plan::{Decision, Plan, Processor, TablePlan, stored_name};
use super::store::{self, Tx};

/// What one table of an import gave (a workbook may hold several).
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    pub layout: String,
    pub layout_confidence: f64,
    /// `assets`, `dependencies`, or for tables of asset details imported on their own
    /// `disks`, `performance` or `tags`.
    pub kind: String,
    /// Tables whose rows were joined into this one (RVTools vDisk..., Google Migration Center
    /// diskInfo...).
    pub joined_tables: Vec<String>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_fixed: u64,
    pub rows_rejected: u64,
    /// Rejected rows by issue code.
    pub rejected_by_code: BTreeMap<String, u64>,
    pub assets_created: u64,
    pub assets_updated: u64,
    pub assets_unchanged: u64,
}

/// A table of a staged import.
#[derive(Debug, Clone, Serialize)]
pub struct StagedTable {
    pub table: String,
    pub layout: String,
    pub layout_confidence: f64,
    /// As [`TableReport::kind`].
    pub kind: String,
    pub joined_tables: Vec<String>,
    pub rows_staged: u64,
    /// Columns of the table whose mapping waits for a person.
    pub needs_review: u64,
}

pub(super) fn kind_name(kind: DetectionKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl TableReport {
    fn of(t: &TablePlan) -> TableReport {
        TableReport {
            table: t.detection.table.clone(),
            layout: t.detection.layout.as_str().to_string(),
            layout_confidence: t.detection.confidence,
            kind: kind_name(t.kind()),
            joined_tables: t.detection.related_tables.clone(),
            rows_read: 0,
            rows_accepted: 0,
            rows_fixed: 0,
            rows_rejected: 0,
            rejected_by_code: BTreeMap::new(),
            assets_created: 0,
            assets_updated: 0,
            assets_unchanged: 0,
        }
    }

    /// Counts the outcome of a row (an `import_rows` record from reconciliation).
    pub(super) fn count(&mut self, outcome: &Json) {
        self.rows_read += 1;
        match outcome["status"].as_str() {
            Some("accepted") => self.rows_accepted += 1,
            Some("fixed") => self.rows_fixed += 1,
            Some("rejected") => {
                self.rows_rejected += 1;
                let mut codes: Vec<&str> = outcome["issues"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|i| i["severity"] == "error")
                    .filter_map(|i| i["code"].as_str())
                    .collect();
                codes.dedup();
                for c in codes {
                    *self.rejected_by_code.entry(c.to_string()).or_default() += 1;
                }
            }
            _ => {}
        }
        match outcome["action"].as_str() {
            Some("created") => self.assets_created += 1,
            Some("updated") => self.assets_updated += 1,
            Some("unchanged") => self.assets_unchanged += 1,
            _ => {}
        }
    }
}

/// An empty report per table of the plan.
pub(super) fn reports(plan: &Plan) -> Vec<TableReport> {
    plan.tables.iter().map(TableReport::of).collect()
}

/// The staged tables of a plan with their row counts.
pub(super) fn staged(plan: &Plan, rows: &[u64]) -> Vec<StagedTable> {
    plan.tables
        .iter()
        .enumerate()
        .map(|(i, t)| StagedTable {
            table: t.detection.table.clone(),
            layout: t.detection.layout.as_str().to_string(),
            layout_confidence: t.detection.confidence,
            kind: kind_name(t.kind()),
            joined_tables: t.detection.related_tables.clone(),
            rows_staged: rows.get(i).copied().unwrap_or(0),
            needs_review: plan
                .mappings_of(i)
                .iter()
                .filter(|m| m.status == "needs_review")
                .count() as u64,
        })
        .collect()
}

/// The decisions on the mappings of an import, with their table. The mappings are stored in
/// the order of the plan's mapping rows (`column_index` is the position in [`Plan::mappings`]),
/// so the stored decisions line up with them.
pub(super) async fn decisions(
    tx: &mut Tx,
    import_id: Uuid,
    plan: &Plan,
) -> Result<Vec<(String, Decision)>, ImportError> {
    let stored = store::decisions(tx, import_id).await?;
    let aligned = stored.len() == plan.mappings.len()
        && stored
            .iter()
            .zip(&plan.mappings)
            .all(|(d, m)| d.source_column == stored_name(&m.source_column));
    if !aligned {
        return Err(ImportError::Internal(
            "the stored column mappings do not match the import's plan".into(),
        ));
    }
    Ok(plan
        .mappings
        .iter()
        .zip(stored)
        .map(|(m, d)| (stored_name(&m.table), d))
        .collect())
}

/// The processor of every table with its decisions. Refuses while a column of any table
/// needs review (naming the columns of every table).
pub(super) fn processors(
    plan: &Plan,
    decisions: &[(String, Decision)],
) -> Result<Vec<Processor>, ImportError> {
    let mut out = Vec::with_capacity(plan.tables.len());
    let mut pending = Vec::new();
    for t in &plan.tables {
        let name = stored_name(&t.detection.table);
        let own: Vec<&Decision> = decisions
            .iter()
            .filter(|(table, _)| *table == name)
            .map(|(_, d)| d)
            .collect();
        match t
            .processor_decided(&own)
            .and_then(|p| super::relations::with_decided_roles(t, &own, p))
        {
            Ok(p) => out.push(p),
            Err(ImportError::MappingReviewPending(columns)) => {
                let several = plan.tables.len() > 1;
                pending.extend(columns.into_iter().map(|c| {
                    if several {
                        format!("{}.{c}", t.detection.table)
                    } else {
                        c
                    }
                }));
            }
            Err(e) => return Err(e),
        }
    }
    if !pending.is_empty() {
        return Err(ImportError::MappingReviewPending(pending));
    }
    Ok(out)
}

/// The mapping rows as decided, for the report.
pub(super) fn decided_rows(
    plan: &Plan,
    decisions: &[(String, Decision)],
) -> Vec<super::plan::MappingRow> {
    plan.mappings
        .iter()
        .map(|m| {
            let mut m = m.clone();
            let table = stored_name(&m.table);
            if let Some((_, d)) = decisions
                .iter()
                .find(|(t, d)| *t == table && d.source_column == m.source_column)
            {
                m.status = d.status.clone();
                if d.status == "edited" {
                    // Relation roles are stored as attributes of the dependency.
                    let relations = plan
                        .table_of(&m.table)
                        .is_some_and(|t| plan.tables[t].kind() == DetectionKind::Dependencies);
                    m.target_kind = match (relations, d.target_kind.as_str()) {
                        (true, "attribute") => "relation".into(),
                        (_, kind) => kind.to_string(),
                    };
                    m.target = d.target.clone();
                }
            }
            m
        })
        .collect()
}
