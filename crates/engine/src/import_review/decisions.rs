//! Decisions on the column mappings of an import (see the documentation of the parent
//! module): resolving each entry to a column, checking relation roles ([`super::relations`]),
//! applying it, refusing two columns of a table with one target, writing the result and the
//! learned corrections, and resuming the flow.

use super::mappings::proposals;
use super::relations;
use super::validation::{Act, parse_entries};
use super::{REVIEWABLE, ReviewError, problem, raw_text};
use crate::flows::store::decide_approval;
use crate::learning::{self, MappingCorrection, StoredTarget};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One decision as requested (validated by [`decide`]).
#[derive(Debug, Clone, Default)]
pub struct DecisionInput {
    /// The table of the column; may be omitted when the column name is unique in the import.
    pub table: Option<String>,
    pub source_column: Option<String>,
    /// `approve`, `edit` or `reject`.
    pub action: Option<String>,
    /// For `edit`: `attribute`, `custom` or `ignore`.
    pub target_kind: Option<String>,
    /// For `edit` to `attribute` (an asset attribute name) or `custom` (a name).
    pub target: Option<String>,
}

/// Decisions on the mappings of one import.
#[derive(Debug, Clone)]
pub struct DecisionRequest<'a> {
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub import_id: Uuid,
    /// The deciding user.
    pub user_id: Uuid,
    pub decisions: &'a [DecisionInput],
    /// Approve every column still needing review (after `decisions`).
    pub approve_all: bool,
}

/// What one decision did to a column.
#[derive(Debug, Clone, Serialize)]
pub struct DecidedColumn {
    pub table: String,
    pub source_column: String,
    /// `approved`, `edited` or `rejected`.
    pub status: String,
    pub target_kind: String,
    pub target: Option<String>,
    /// False when the column already had this status and target.
    pub changed: bool,
    /// The learning pattern the correction was recorded in.
    pub learning_pattern_id: Option<Uuid>,
}

/// The result of [`decide`].
#[derive(Debug, Clone, Serialize)]
pub struct DecisionOutcome {
    pub import_id: Uuid,
    /// The session's status afterwards: `staged` or `mapping_review`.
    pub status: String,
    pub approved: u64,
    pub edited: u64,
    pub rejected: u64,
    pub unchanged: u64,
    /// Columns still needing review.
    pub needs_review: u64,
    pub columns: Vec<DecidedColumn>,
    /// The session's flow, if its approval gate was approved by these decisions.
    pub flow_resumed: Option<Uuid>,
}

/// A column's state while deciding.
#[derive(Debug, Clone, PartialEq)]
struct Col {
    table: String,
    source_column: String,
    target: Option<String>,
    kind: String,
    confidence: f64,
    status: String,
}

/// Values of `column` in the first rows of `table` (non-empty, distinct, in row order).
async fn samples(
    conn: &mut PgConnection,
    client: Uuid,
    import_id: Uuid,
    table: &str,
    column: &str,
    rows: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let values: Vec<(Option<Value>,)> = sqlx::query_as(
        "SELECT raw->$4 FROM migration.import_rows \
          WHERE import_session_id = $1 AND client_account_id = $2 AND table_name = $3 \
          ORDER BY row_number LIMIT $5",
    )
    .bind(import_id)
    .bind(client)
    .bind(table)
    .bind(column)
    .bind(rows)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<String> = Vec::new();
    for (v,) in values {
        if let Some(s) = v.as_ref().and_then(raw_text)
            && !s.trim().is_empty()
            && !out.contains(&s)
        {
            out.push(s);
        }
    }
    Ok(out)
}

/// A locked session: status, flow, the plan's mappings and table kind.
type LockedSession = (String, Option<Uuid>, Option<Value>, Vec<String>);
/// A stored mapping: table, source column, target, target kind, confidence, status.
type ColumnRow = (String, String, Option<String>, String, f64, String);

/// Decides mappings of a staged import, all or nothing (see the module documentation).
pub async fn decide(
    conn: &mut PgConnection,
    req: &DecisionRequest<'_>,
) -> Result<DecisionOutcome, ReviewError> {
    let client = req.client_account_id;
    let session: Option<LockedSession> = sqlx::query_as(&format!(
        "SELECT status, flow_id, plan->'mappings', {} \
           FROM migration.import_sessions \
          WHERE id = $1 AND client_account_id = $2 AND engagement_id = $3 FOR UPDATE",
        relations::RELATIONSHIP_TABLES
    ))
    .bind(req.import_id)
    .bind(client)
    .bind(req.engagement_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((status, flow_id, plan, relationship_tables)) = session else {
        return Err(ReviewError::NotFound);
    };
    if !REVIEWABLE.contains(&status.as_str()) {
        return Err(ReviewError::NotReviewable(status));
    }
    let acts = parse_entries(req.decisions, req.approve_all)?;
    let relationships = |table: &str| relationship_tables.iter().any(|t| t == table);
    let proposed = proposals(&plan.unwrap_or(Value::Null));
    let rows: Vec<ColumnRow> = sqlx::query_as(
        "SELECT table_name, source_column, target, target_kind, confidence, status \
           FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND client_account_id = $2 \
          ORDER BY table_name, column_index, source_column FOR UPDATE",
    )
    .bind(req.import_id)
    .bind(client)
    .fetch_all(&mut *conn)
    .await?;
    let before: Vec<Col> = rows
        .into_iter()
        .map(
            |(table, source_column, target, kind, confidence, status)| Col {
                table,
                source_column,
                target,
                kind,
                confidence,
                status,
            },
        )
        .collect();
    let mut cols = before.clone();
    let proposal_of = |c: &Col| -> StoredTarget {
        match proposed.get(&(c.table.clone(), c.source_column.clone())) {
            Some((kind, target, _)) => StoredTarget::new(kind, target.as_deref()),
            None => StoredTarget::new(&c.kind, c.target.as_deref()),
        }
    };

    // Resolve every entry to one column.
    let mut problems = Vec::new();
    let mut decided: Vec<Option<usize>> = vec![None; cols.len()];
    let mut targets: Vec<(usize, usize)> = Vec::new(); // (entry, column)
    for (i, d) in req.decisions.iter().enumerate() {
        let column = d.source_column.as_deref().unwrap_or_default();
        let found: Vec<usize> = cols
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.source_column == column && d.table.as_deref().is_none_or(|t| c.table == t)
            })
            .map(|(k, _)| k)
            .collect();
        match found.as_slice() {
            [] => problems.push(problem(
                format!("decisions[{i}].source_column"),
                match &d.table {
                    Some(t) => format!("the import has no column '{column}' in table '{t}'"),
                    None => format!("the import has no column '{column}'"),
                },
            )),
            [k] => {
                if let Some(first) = decided[*k] {
                    problems.push(problem(
                        format!("decisions[{i}].source_column"),
                        format!("column '{column}' is already decided by decisions[{first}]"),
                    ));
                } else {
                    decided[*k] = Some(i);
                    targets.push((i, *k));
                }
            }
            _ => problems.push(problem(
                format!("decisions[{i}].table"),
                format!("column '{column}' is in several tables of the import; give its table"),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(ReviewError::Invalid(problems));
    }
    let mut of_relationships = vec![false; acts.len()];
    for &(i, k) in &targets {
        of_relationships[i] = relationships(&cols[k].table);
    }
    let acts = relations::stored_acts(acts, &of_relationships)?;

    // Apply in memory.
    for &(i, k) in &targets {
        let c = &mut cols[k];
        let proposal = proposal_of(c);
        match &acts[i] {
            Act::Approve => {
                c.kind = proposal.kind;
                c.target = proposal.target;
                c.status = "approved".into();
            }
            Act::Reject => c.status = "rejected".into(),
            Act::Edit(t) => {
                if *t == proposal {
                    c.status = "approved".into();
                } else {
                    c.status = "edited".into();
                }
                c.kind = t.kind.clone();
                c.target = t.target.clone();
            }
        }
    }
    let mut bulk: Vec<usize> = Vec::new();
    if req.approve_all {
        for (k, c) in cols.iter_mut().enumerate() {
            if c.status == "needs_review" {
                let proposal = proposal_of(c);
                c.kind = proposal.kind;
                c.target = proposal.target;
                c.status = "approved".into();
                bulk.push(k);
            }
        }
    }

    // Every relationship table keeps a source and a target column.
    fn state(c: &Col) -> (&str, &str, Option<&str>) {
        (&c.status, &c.kind, c.target.as_deref())
    }
    for table in &relationship_tables {
        let of = |c: &&Col| c.table == *table;
        let had: Vec<_> = before.iter().filter(of).map(state).collect();
        let has: Vec<_> = cols.iter().filter(of).map(state).collect();
        if !has.is_empty() {
            relations::check_endpoints(&had, &has)?;
        }
    }

    // One column per attribute, custom name or relation role in each table, among applied
    // columns.
    let who = |k: usize| match decided[k] {
        Some(i) => format!("decisions[{i}].target"),
        None if bulk.contains(&k) => "approve_all".to_string(),
        None => format!("column '{}'", cols[k].source_column),
    };
    let mut by_target: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (k, c) in cols.iter().enumerate() {
        if matches!(c.status.as_str(), "approved" | "edited")
            && matches!(c.kind.as_str(), "attribute" | "custom")
            && let Some(t) = &c.target
        {
            by_target
                .entry((c.table.clone(), c.kind.clone(), t.clone()))
                .or_default()
                .push(k);
        }
    }
    for ((table, kind, target), ks) in by_target {
        if ks.len() < 2 || ks.iter().all(|k| cols[*k] == before[*k]) {
            continue;
        }
        let names: Vec<String> = ks
            .iter()
            .map(|k| format!("'{}'", cols[*k].source_column))
            .collect();
        let what = if relationships(&table) {
            format!("relation role {target}")
        } else if kind == "attribute" {
            format!("attribute {target}")
        } else {
            format!("custom attribute '{target}'")
        };
        for k in ks.iter().filter(|k| cols[**k] != before[**k]) {
            problems.push(problem(
                who(*k),
                format!(
                    "{what} would be the target of columns {} of table '{table}'; a target \
                     takes one column: edit or reject the others",
                    names.join(", ")
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ReviewError::Conflict(problems));
    }

    // Write.
    let mut outcome = DecisionOutcome {
        import_id: req.import_id,
        status: String::new(),
        approved: 0,
        edited: 0,
        rejected: 0,
        unchanged: 0,
        needs_review: 0,
        columns: Vec::new(),
        flow_resumed: None,
    };
    let mut touched: Vec<usize> = targets.iter().map(|t| t.1).collect();
    touched.extend(&bulk);
    for k in touched {
        let (c, old) = (&cols[k], &before[k]);
        let changed = c != old;
        sqlx::query(
            "UPDATE migration.import_column_mappings \
                SET target = $5, target_kind = $6, status = $7, decided_by = $8, \
                    decided_at = now() \
              WHERE import_session_id = $1 AND client_account_id = $2 AND table_name = $3 \
                AND source_column = $4",
        )
        .bind(req.import_id)
        .bind(client)
        .bind(&c.table)
        .bind(&c.source_column)
        .bind(&c.target)
        .bind(&c.kind)
        .bind(&c.status)
        .bind(req.user_id)
        .execute(&mut *conn)
        .await?;
        if !changed {
            outcome.unchanged += 1;
        } else {
            match c.status.as_str() {
                "approved" => outcome.approved += 1,
                "edited" => outcome.edited += 1,
                _ => outcome.rejected += 1,
            }
        }
        // A correction: the column now goes elsewhere than the agent proposed.
        let proposal = proposal_of(c);
        let corrected = match c.status.as_str() {
            "edited" => Some(StoredTarget::new(&c.kind, c.target.as_deref())),
            "rejected" => Some(StoredTarget::new("ignore", None)),
            _ => None,
        }
        .filter(|t| *t != proposal && changed && !relationships(&c.table));
        let mut learning_pattern_id = None;
        if let Some(corrected) = corrected {
            let sample_values =
                samples(conn, client, req.import_id, &c.table, &c.source_column, 200).await?;
            let confidence = proposed
                .get(&(c.table.clone(), c.source_column.clone()))
                .map_or(c.confidence, |p| p.2);
            learning_pattern_id = Some(
                learning::record_mapping_correction(
                    conn,
                    &MappingCorrection {
                        client_account_id: client,
                        engagement_id: Some(req.engagement_id),
                        master_flow_id: flow_id,
                        import_session_id: Some(req.import_id),
                        table: c.table.clone(),
                        source_column: c.source_column.clone(),
                        sample_values,
                        proposed: proposal,
                        proposed_confidence: confidence.clamp(0.0, 1.0),
                        corrected,
                        decided_by: Some(req.user_id),
                    },
                )
                .await?,
            );
        }
        outcome.columns.push(DecidedColumn {
            table: c.table.clone(),
            source_column: c.source_column.clone(),
            status: c.status.clone(),
            target_kind: relations::shown_kind(relationships(&c.table), &c.kind),
            target: c.target.clone(),
            changed,
            learning_pattern_id,
        });
    }
    outcome.needs_review = cols.iter().filter(|c| c.status == "needs_review").count() as u64;
    outcome.status = if outcome.needs_review == 0 {
        "staged".into()
    } else {
        "mapping_review".into()
    };
    sqlx::query(
        "UPDATE migration.import_sessions SET status = $3 \
          WHERE id = $1 AND client_account_id = $2 AND status <> $3",
    )
    .bind(req.import_id)
    .bind(client)
    .bind(&outcome.status)
    .execute(&mut *conn)
    .await?;
    if let Some(flow_id) = flow_id
        && outcome.needs_review == 0
    {
        let flow: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, current_phase FROM migration.crewai_flow_state_extensions \
              WHERE flow_id = $1 AND client_account_id = $2",
        )
        .bind(flow_id)
        .bind(client)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((status, phase)) = flow
            && status == "waiting_for_approval"
            && phase.as_deref() == Some("analysis")
        {
            decide_approval(
                conn,
                client,
                flow_id,
                req.user_id,
                true,
                Some("mappings reviewed"),
            )
            .await?;
            outcome.flow_resumed = Some(flow_id);
        }
    }
    Ok(outcome)
}
