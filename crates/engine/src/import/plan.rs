//! The plan of an import: what the reader decided from the headers and a sample of each table
//! (format, the tables imported with their layout and proposed column mapping or relationship
//! fields, the tables left out), kept with a staged import (`import_sessions.plan`) so that its
//! rows can be processed later with the decided mapping.

use std::collections::BTreeMap;

use modernize_ingest::attributes::AssetAttribute;
use modernize_ingest::cleanse::size::SizeUnit;
use modernize_ingest::layout::{
    Detection, DetectionKind, LayoutId, MappingTarget, RelationField, SkippedTable,
};
use modernize_ingest::mapping::content::ColumnProfile;
use modernize_ingest::mapping::{self, ColumnMapping, Hints, LearnedCorrection, MappingStatus};
use modernize_ingest::mapping::{Target, ValueShape};
use modernize_ingest::source::Row;
use serde::{Deserialize, Serialize};

use super::ImportError;
pub use super::process::{Body, Processor, ReadRow, Relation, staged};

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

/// What the reader decided before the rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    /// The first table's detection without its column mapping: the import's layout, kind and
    /// confidence as listed (each table's detection is in `tables`).
    pub detection: Detection,
    /// The column mappings of every table, in table order.
    pub mappings: Vec<MappingRow>,
    pub notes: Vec<String>,
    /// The tables imported, asset tables first.
    pub tables: Vec<TablePlan>,
    /// The tables of the source left out, with the reason.
    #[serde(default)]
    pub skipped: Vec<SkippedTable>,
}

/// The plan of one table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TablePlan {
    pub detection: Detection,
    /// Headers of the table imported (for joined tables, of the joined rows).
    pub headers: Vec<String>,
    /// Asset tables: the proposal for every column, in header order.
    pub proposed: Vec<ColumnMapping>,
    /// Relationship tables: the relationship field of each column.
    pub relation_fields: Vec<(usize, RelationField)>,
}

impl Plan {
    /// The proposals of every asset table (the learned patterns they apply are counted).
    pub fn proposed(&self) -> Vec<ColumnMapping> {
        self.tables
            .iter()
            .flat_map(|t| t.proposed.iter().cloned())
            .collect()
    }

    /// The learned pattern each proposed column mapping applies: (table, source column,
    /// pattern id).
    pub fn learned_patterns(&self) -> Vec<(&str, &str, uuid::Uuid)> {
        self.tables
            .iter()
            .flat_map(|t| {
                t.proposed.iter().filter_map(|m| {
                    let id = m.learned_reference.as_deref()?.parse().ok()?;
                    Some((t.detection.table.as_str(), m.source_column.as_str(), id))
                })
            })
            .collect()
    }

    /// The plan of the tables (at least one), in import order.
    pub fn new(
        format: String,
        tables: Vec<(TablePlan, Vec<MappingRow>)>,
        skipped: Vec<SkippedTable>,
        notes: Vec<String>,
    ) -> Plan {
        let mut detection = tables
            .first()
            .map(|(t, _)| t.detection.clone())
            .expect("an import plans at least one table");
        detection.mapping.clear();
        let mut all_notes: Vec<String> = Vec::new();
        let mut mappings = Vec::new();
        let mut plans = Vec::new();
        for (t, rows) in tables {
            for n in &t.detection.notes {
                if !all_notes.contains(n) {
                    all_notes.push(n.clone());
                }
            }
            mappings.extend(rows);
            plans.push(t);
        }
        for n in notes {
            if !all_notes.contains(&n) {
                all_notes.push(n);
            }
        }
        Plan {
            format,
            detection,
            mappings,
            notes: all_notes,
            tables: plans,
            skipped,
        }
    }

    pub fn table(&self) -> &str {
        &self.detection.table
    }
    pub fn layout(&self) -> LayoutId {
        self.detection.layout
    }
    pub fn kind(&self) -> DetectionKind {
        self.detection.kind
    }

    /// Columns still waiting for a person, in every table.
    pub fn needs_review(&self) -> usize {
        self.mappings
            .iter()
            .filter(|m| m.status == "needs_review")
            .count()
    }

    /// The mapping rows of one table, in header order.
    pub fn mappings_of(&self, table: usize) -> Vec<&MappingRow> {
        let name = &self.tables[table].detection.table;
        self.mappings.iter().filter(|m| m.table == *name).collect()
    }

    /// The table a staged row belongs to, by the table name stored with it (a joined table
    /// owns the rows of its related tables).
    pub fn table_of(&self, row_table: &str) -> Option<usize> {
        let same = |name: &String| stored_name(name) == stored_name(row_table);
        self.tables
            .iter()
            .position(|t| same(&t.detection.table) || t.detection.related_tables.iter().any(same))
    }
}

/// A name as the database stores it (at most 255 characters).
pub fn stored_name(name: &str) -> String {
    name.chars().take(255).collect()
}

impl TablePlan {
    /// Plans an asset or relationship table from its headers and sampled rows; returns the
    /// mapping rows of its columns too.
    pub fn new(
        detection: Detection,
        headers: Vec<String>,
        sample: &[Row],
        threshold: f64,
        learned: Vec<LearnedCorrection>,
    ) -> (TablePlan, Vec<MappingRow>) {
        let mut plan = TablePlan {
            detection,
            headers,
            proposed: Vec::new(),
            relation_fields: Vec::new(),
        };
        let rows = match plan.detection.kind {
            DetectionKind::Dependencies => plan.plan_relations(),
            _ => plan.plan_assets(sample, threshold, learned),
        };
        (plan, rows)
    }

    pub fn table(&self) -> &str {
        &self.detection.table
    }
    pub fn kind(&self) -> DetectionKind {
        self.detection.kind
    }

    fn plan_relations(&mut self) -> Vec<MappingRow> {
        let mut rows = Vec::new();
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
            rows.push(MappingRow {
                table: self.detection.table.clone(),
                source_column: h.clone(),
                target,
                target_kind: kind.into(),
                confidence: m.map_or(1.0, |m| m.confidence),
                status: "approved".into(),
                reason: format!("column of the {} layout", self.detection.layout.as_str()),
            });
        }
        rows
    }

    fn plan_assets(
        &mut self,
        sample: &[Row],
        threshold: f64,
        learned: Vec<LearnedCorrection>,
    ) -> Vec<MappingRow> {
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
        let samples: Vec<Vec<Option<String>>> =
            sample.iter().map(|r| r.record.values.clone()).collect();
        let mut proposed = if self.detection.kind.is_asset_detail() {
            Vec::new()
        } else {
            let similarity = modernize_ingest::embed::name_similarity;
            let hints = Hints {
                layout: layout_hints,
                learned,
                similarity: Some(&similarity),
                threshold,
                ..Hints::default()
            };
            mapping::propose(&self.headers, &samples, &hints)
        };
        self.fix_layout_columns(&mut proposed, &samples);
        for m in &mut proposed {
            if let (Target::Attribute(a), Some(f)) = (&m.target, units.get(&m.source_column))
                && matches!(a, AssetAttribute::MemoryGb | AssetAttribute::StorageGb)
            {
                m.unit = unit_of(*f).or(m.unit);
            }
        }
        let rows = proposed
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
        rows
    }

    /// The columns whose target the layout fixes, instead of the mapping agent: every column
    /// of a table of asset details (disks, performance, tags: a fixed export format), and the
    /// custom attributes a layout names (e.g. tags joined onto an inventory, named by key).
    fn fix_layout_columns(
        &self,
        proposed: &mut Vec<ColumnMapping>,
        samples: &[Vec<Option<String>>],
    ) {
        let all = self.detection.kind.is_asset_detail();
        let layout = self.detection.layout.as_str();
        for (i, header) in self.headers.iter().enumerate() {
            let m = self.detection.mapping_of(header);
            let (target, reason) = match (m.and_then(|m| m.custom_name.clone()), m) {
                (Some(name), _) => (
                    Target::Custom(name.clone()),
                    format!("the {layout} layout keeps '{header}' as custom attribute '{name}'"),
                ),
                (None, Some(m)) if all => match m.target {
                    MappingTarget::Attribute(a) => (
                        Target::Attribute(a),
                        format!("the {layout} layout maps '{header}' to {}", a.as_str()),
                    ),
                    _ => (
                        Target::Ignore,
                        format!("the {layout} layout does not use '{header}'"),
                    ),
                },
                (None, None) if all => (
                    Target::Ignore,
                    format!("the {layout} layout does not use '{header}'"),
                ),
                _ => continue,
            };
            // A column the sample says nothing about (computed later, e.g. a utilisation
            // from the stored memory size) is a number when the layout gives it a unit.
            let shape = ColumnProfile::build(samples, i)
                .dominant()
                .map(|(s, _)| s)
                .or_else(|| m.and_then(|m| m.unit.as_ref()).map(|_| ValueShape::Decimal));
            let fixed = ColumnMapping {
                column: i,
                source_column: header.clone(),
                target,
                confidence: 1.0,
                status: MappingStatus::Approved,
                reason,
                unit: None,
                shape,
                learned_reference: None,
            };
            match proposed.iter_mut().find(|p| p.column == i) {
                Some(p) => *p = fixed,
                None => proposed.push(fixed),
            }
        }
        proposed.sort_by_key(|p| p.column);
    }

    /// The processor of a one-shot import: approved proposals are applied, the others are not.
    pub fn processor(&self) -> Processor {
        if self.kind() == DetectionKind::Dependencies {
            return Processor::Relations(self.relation_fields.clone());
        }
        let applied = self
            .proposed
            .iter()
            .map(|m| {
                let mut m = m.clone();
                if m.status != MappingStatus::Approved {
                    m.target = Target::Ignore;
                }
                m
            })
            .collect();
        Processor::assets(&self.detection, &self.headers, applied)
    }

    /// The processor of a reviewed import: `decisions` of this table by source column (a column
    /// without a decision keeps its proposal's status). Refuses while a column needs review.
    pub fn processor_decided(&self, decisions: &[&Decision]) -> Result<Processor, ImportError> {
        let mut pending = Vec::new();
        let mut applied = Vec::with_capacity(self.proposed.len());
        for m in &self.proposed {
            let decision = decisions
                .iter()
                .find(|d| d.source_column == m.source_column);
            let status = decision.map_or(m.status.as_str(), |d| d.status.as_str());
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
        Ok(Processor::assets(&self.detection, &self.headers, applied))
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
