//! The plan of an import: what the reader decided from the headers and a sample (format, table,
//! layout, the proposed column mapping or the relationship fields), kept with a staged import
//! (`import_sessions.plan`) so that its rows can be processed later with the decided mapping.

use std::collections::BTreeMap;

use modernize_ingest::attributes::AssetAttribute;
use modernize_ingest::cleanse::Cleanser;
use modernize_ingest::cleanse::size::SizeUnit;
use modernize_ingest::layout::{Detection, DetectionKind, LayoutId, MappingTarget, RelationField};
use modernize_ingest::mapping::Target;
use modernize_ingest::mapping::{self, ColumnMapping, Hints, LearnedCorrection, MappingStatus};
use modernize_ingest::source::Row;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::ImportError;

/// One column mapping as reported and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingRow {
    pub table: String,
    pub source_column: String,
    /// Attribute name, custom attribute name, relation field, or `None` for ignore.
    pub target: Option<String>,
    /// `attribute`, `custom`, `relation` or `ignore`.
    pub target_kind: String,
    pub confidence: f64,
    /// `approved` or `needs_review` when proposed; `edited` or `rejected` once a person
    /// decided. Needs-review columns are not applied by a one-shot import.
    pub status: String,
    pub reason: String,
}

/// A person's decision on a column (from `import_column_mappings`).
#[derive(Debug, Clone)]
pub struct Decision {
    pub source_column: String,
    /// `approved`, `needs_review`, `rejected` or `edited`.
    pub status: String,
    /// `attribute`, `custom` or `ignore` (for `edited`).
    pub target_kind: String,
    pub target: Option<String>,
}

/// What the reader decided before the rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub detection: Detection,
    /// Headers of the table imported (for RVTools, of the joined table).
    pub headers: Vec<String>,
    pub notes: Vec<String>,
    /// Asset tables: the proposal for every column, in header order.
    pub proposed: Vec<ColumnMapping>,
    /// Relationship tables: the relationship field of each column.
    pub relation_fields: Vec<(usize, RelationField)>,
    pub mappings: Vec<MappingRow>,
}

impl MappingRow {
    /// The kind as `import_column_mappings.target_kind` stores it: relationship fields are
    /// stored as attributes of the dependency.
    pub fn stored_kind(&self) -> &str {
        match self.target_kind.as_str() {
            "relation" => "attribute",
            other => other,
        }
    }
}

impl Plan {
    pub fn table(&self) -> &str {
        &self.detection.table
    }
    pub fn layout(&self) -> LayoutId {
        self.detection.layout
    }
    pub fn kind(&self) -> DetectionKind {
        self.detection.kind
    }

    /// Plans an asset or relationship table from its headers and sampled rows.
    pub fn new(
        format: String,
        detection: Detection,
        headers: Vec<String>,
        sample: &[Row],
        threshold: f64,
        learned: Vec<LearnedCorrection>,
    ) -> Plan {
        let mut notes = detection.notes.clone();
        notes.dedup();
        let mut plan = Plan {
            format,
            detection,
            headers,
            notes,
            proposed: Vec::new(),
            relation_fields: Vec::new(),
            mappings: Vec::new(),
        };
        match plan.detection.kind {
            DetectionKind::Dependencies => plan.plan_relations(),
            _ => plan.plan_assets(sample, threshold, learned),
        }
        plan
    }

    fn plan_relations(&mut self) {
        for (i, h) in self.headers.iter().enumerate() {
            let m = self.detection.mapping_of(h);
            let (target, kind) = match m.map(|m| m.target) {
                Some(MappingTarget::Relation(f)) => {
                    self.relation_fields.push((i, f));
                    let name = serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string));
                    (name, "relation")
                }
                _ => (None, "ignore"),
            };
            self.mappings.push(MappingRow {
                table: self.detection.table.clone(),
                source_column: h.clone(),
                target,
                target_kind: kind.into(),
                confidence: m.map_or(1.0, |m| m.confidence),
                status: "approved".into(),
                reason: format!("column of the {} layout", self.detection.layout.as_str()),
            });
        }
    }

    fn plan_assets(&mut self, sample: &[Row], threshold: f64, learned: Vec<LearnedCorrection>) {
        let mut units: BTreeMap<String, f64> = BTreeMap::new();
        let layout_hints: Vec<(String, AssetAttribute, f64)> = self
            .detection
            .mapping
            .iter()
            .filter_map(|m| match m.target {
                MappingTarget::Attribute(a) => {
                    if let Some(f) = m.to_gb {
                        units.insert(m.column.clone(), f);
                    }
                    Some((m.column.clone(), a, m.confidence))
                }
                _ => None,
            })
            .collect();
        let similarity = modernize_ingest::embed::name_similarity;
        let hints = Hints {
            layout: layout_hints,
            learned,
            similarity: Some(&similarity),
            threshold,
            ..Hints::default()
        };
        let samples: Vec<Vec<Option<String>>> =
            sample.iter().map(|r| r.record.values.clone()).collect();
        let mut proposed = mapping::propose(&self.headers, &samples, &hints);
        for m in &mut proposed {
            if let (Target::Attribute(a), Some(f)) = (&m.target, units.get(&m.source_column))
                && matches!(a, AssetAttribute::MemoryGb | AssetAttribute::StorageGb)
            {
                m.unit = unit_of(*f).or(m.unit);
            }
        }
        self.mappings = proposed
            .iter()
            .map(|m| {
                let (target, kind) = target_parts(&m.target);
                MappingRow {
                    table: self.detection.table.clone(),
                    source_column: m.source_column.clone(),
                    target,
                    target_kind: kind.into(),
                    confidence: m.confidence,
                    status: m.status.as_str().into(),
                    reason: m.reason.clone(),
                }
            })
            .collect();
        self.proposed = proposed;
    }

    /// Columns still waiting for a person.
    pub fn needs_review(&self) -> usize {
        self.mappings
            .iter()
            .filter(|m| m.status == "needs_review")
            .count()
    }

    /// The processor of a one-shot import: approved proposals are applied, the others are not.
    pub fn processor(&self) -> Processor {
        self.processor_with(self.proposed.iter().map(|m| {
            let mut m = m.clone();
            if m.status != MappingStatus::Approved {
                m.target = Target::Ignore;
            }
            m
        }))
    }

    /// The processor of a reviewed import: `decisions` by source column (a column without a
    /// decision keeps its proposal's status). Refuses while a column needs review.
    pub fn processor_decided(&self, decisions: &[Decision]) -> Result<Processor, ImportError> {
        let mut pending = Vec::new();
        let mut applied = Vec::with_capacity(self.proposed.len());
        for (m, row) in self.proposed.iter().zip(&self.mappings) {
            let decision = decisions
                .iter()
                .find(|d| d.source_column == m.source_column);
            let status = decision.map_or(row.status.as_str(), |d| d.status.as_str());
            let mut m = m.clone();
            match status {
                "approved" => {}
                "rejected" => m.target = Target::Ignore,
                "edited" => {
                    let d = decision.expect("edited comes from a decision");
                    m.target = decided_target(d)?;
                }
                _ => pending.push(m.source_column.clone()),
            }
            applied.push(m);
        }
        if !pending.is_empty() {
            return Err(ImportError::MappingReviewPending(pending));
        }
        if self.kind() == DetectionKind::Dependencies {
            return Ok(Processor::Relations(self.relation_fields.clone()));
        }
        Ok(self.processor_with(applied.into_iter()))
    }

    fn processor_with(&self, applied: impl Iterator<Item = ColumnMapping>) -> Processor {
        if self.kind() == DetectionKind::Dependencies {
            return Processor::Relations(self.relation_fields.clone());
        }
        let applied: Vec<ColumnMapping> = applied.collect();
        let fallbacks = fallbacks(&self.detection, &self.headers, &applied);
        Processor::Assets(Box::new(Cleanser::new(&applied)), fallbacks)
    }
}

fn target_parts(target: &Target) -> (Option<String>, &'static str) {
    match target {
        Target::Attribute(a) => (Some(a.as_str().to_string()), "attribute"),
        Target::Custom(n) => (Some(n.clone()), "custom"),
        Target::Ignore => (None, "ignore"),
    }
}

fn decided_target(d: &Decision) -> Result<Target, ImportError> {
    let name = d.target.clone().unwrap_or_default();
    match d.target_kind.as_str() {
        "ignore" => Ok(Target::Ignore),
        "custom" if !name.trim().is_empty() => Ok(Target::Custom(name)),
        "attribute" => AssetAttribute::parse(&name)
            .map(Target::Attribute)
            .ok_or_else(|| {
                ImportError::Internal(format!(
                    "column '{}' is mapped to the unknown attribute '{name}'",
                    d.source_column
                ))
            }),
        other => Err(ImportError::Internal(format!(
            "column '{}' has an invalid decision ({other})",
            d.source_column
        ))),
    }
}

/// For an attribute that a layout maps from several columns (e.g. RVTools memory from vInfo,
/// else from vMemory): the column the mapping chose and the others, with the factor that
/// converts their numbers into the chosen column's unit.
type Fallbacks = Vec<(usize, Vec<(usize, Option<f64>)>)>;

/// Turns read rows into cleansed assets or relationships.
pub enum Processor {
    Assets(Box<Cleanser>, Fallbacks),
    Relations(Vec<(usize, RelationField)>),
}

/// A relationship row (relationship files).
#[derive(Debug, Default)]
pub struct Relation {
    pub source: Option<String>,
    pub target: Option<String>,
    pub target_ip: Option<String>,
    pub rel_type: Option<String>,
    pub strength: Option<String>,
    pub port: Option<String>,
}

/// What a row became.
#[derive(Debug)]
pub enum Body {
    /// Staged only (not processed yet).
    Raw,
    Asset(Box<modernize_ingest::cleanse::CleansedAsset>),
    Relation(Relation),
}

/// One row read, with its raw values by header, its read problems, and what it became.
#[derive(Debug)]
pub struct ReadRow {
    pub table: String,
    pub row: u64,
    pub raw: Json,
    /// Problems of the row as read (ragged, malformed...): codes with messages.
    pub problems: Vec<(String, String)>,
    pub body: Body,
}

impl ReadRow {
    /// The row's read problems as `import_rows.issues` entries (warnings).
    pub fn read_issues(&self) -> Vec<Json> {
        self.problems
            .iter()
            .map(|(code, message)| {
                serde_json::json!({"code": code, "severity": "warning", "message": message})
            })
            .collect()
    }
}

/// The raw values of a row by header (surplus values under their own names).
pub fn raw_of(headers: &[String], row: &Row) -> Json {
    let mut raw = Map::new();
    for (h, v) in headers.iter().zip(&row.record.values) {
        if let Some(v) = v {
            raw.insert(h.clone(), Json::String(v.clone()));
        }
    }
    for (k, v) in &row.extra {
        raw.insert(k.clone(), Json::String(v.clone()));
    }
    Json::Object(raw)
}

/// A staged row as read, without processing.
pub fn staged(headers: &[String], row: Row) -> ReadRow {
    ReadRow {
        table: row.record.table.clone(),
        row: row.record.row,
        raw: raw_of(headers, &row),
        problems: problems_of(&row),
        body: Body::Raw,
    }
}

fn problems_of(row: &Row) -> Vec<(String, String)> {
    row.problems
        .iter()
        .map(|p| (p.code().to_string(), format!("{p:?}")))
        .collect()
}

impl Processor {
    /// Processes a row read from the file.
    pub fn process(&self, headers: &[String], row: Row) -> ReadRow {
        let raw = raw_of(headers, &row);
        let problems = problems_of(&row);
        let body = self.body(row.record.values, &row.record.table, row.record.row);
        ReadRow {
            table: row.record.table,
            row: row.record.row,
            raw,
            problems,
            body,
        }
    }

    /// Processes a staged row: its values are rebuilt from `raw` by header.
    pub fn process_staged(&self, headers: &[String], mut row: ReadRow) -> ReadRow {
        let values: Vec<Option<String>> = headers
            .iter()
            .map(|h| row.raw.get(h).and_then(|v| v.as_str()).map(str::to_string))
            .collect();
        row.body = self.body(values, &row.table, row.row);
        row
    }

    fn body(&self, mut values: Vec<Option<String>>, table: &str, number: u64) -> Body {
        match self {
            Processor::Assets(c, fallbacks) => {
                fill_fallbacks(&mut values, fallbacks);
                let record = modernize_ingest::Record {
                    table: table.to_string(),
                    row: number,
                    values,
                };
                Body::Asset(Box::new(c.cleanse(&record)))
            }
            Processor::Relations(fields) => {
                let mut r = Relation::default();
                for (i, f) in fields {
                    let v = values.get(*i).cloned().flatten();
                    let slot = match f {
                        RelationField::Source => &mut r.source,
                        RelationField::Target => &mut r.target,
                        RelationField::TargetIp => &mut r.target_ip,
                        RelationField::Type => &mut r.rel_type,
                        RelationField::Strength => &mut r.strength,
                        RelationField::Port => &mut r.port,
                        _ => continue,
                    };
                    if slot.is_none() {
                        *slot = v;
                    }
                }
                Body::Relation(r)
            }
        }
    }
}

fn fallbacks(best: &Detection, headers: &[String], applied: &[ColumnMapping]) -> Fallbacks {
    let position = |c: &str| headers.iter().position(|h| h == c);
    let mut out = Vec::new();
    for m in applied {
        let Target::Attribute(attr) = m.target else {
            continue;
        };
        let mut columns: Vec<(String, Option<f64>)> = best
            .columns_for(attr)
            .iter()
            .map(|c| (c.column.clone(), c.to_gb))
            .collect();
        // RVTools: memory of a trimmed vInfo row from the joined vMemory sheet.
        if best.layout == LayoutId::Rvtools && attr == AssetAttribute::MemoryGb {
            columns.push(("vMemory.Size MiB".into(), Some(1.0 / 1024.0)));
        }
        let primary = best.mapping_of(&m.source_column).and_then(|p| p.to_gb);
        let others: Vec<(usize, Option<f64>)> = columns
            .iter()
            .filter(|(c, _)| *c != m.source_column)
            .filter_map(|(c, to_gb)| {
                let factor = match (to_gb, primary) {
                    (Some(from), Some(to)) if to > 0.0 => Some(from / to),
                    _ => None,
                };
                position(c).map(|i| (i, factor))
            })
            .collect();
        if !others.is_empty() {
            out.push((m.column, others));
        }
    }
    out
}

fn fill_fallbacks(values: &mut [Option<String>], fallbacks: &Fallbacks) {
    for (primary, others) in fallbacks {
        if values.get(*primary).is_some_and(|v| v.is_some()) {
            continue;
        }
        for (i, factor) in others {
            let Some(Some(v)) = values.get(*i) else {
                continue;
            };
            let v = match (factor, v.trim().parse::<f64>()) {
                (Some(f), Ok(x)) if (*f - 1.0).abs() > 1e-12 => format!("{}", x * f),
                _ => v.clone(),
            };
            if let Some(slot) = values.get_mut(*primary) {
                *slot = Some(v);
            }
            break;
        }
    }
}

fn unit_of(to_gb: f64) -> Option<SizeUnit> {
    [
        SizeUnit::Bytes,
        SizeUnit::Kb,
        SizeUnit::Mb,
        SizeUnit::Gb,
        SizeUnit::Tb,
    ]
    .into_iter()
    .find(|u| (u.in_gb() - to_gb).abs() < 1e-12)
}
