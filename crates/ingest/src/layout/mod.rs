//! Recognising vendor layouts from table headers, with a confidence and, for known layouts, the
//! column mapping as data (source column → asset attribute, relation field, tag key/value or
//! custom attribute; unit and conversion factor to GB; priority when several columns feed one
//! attribute).
//!
//! Confidence of a known layout on a table = (sum of the weights of the layout's signature
//! columns present) / (sum of all its signature weights). Header names are compared after
//! normalisation: lower case, only letters and digits kept (`*Memory (In MB)` → `memoryinmb`),
//! each signature column accepting a few spellings (e.g. `Provisioned MB` or `Provisioned MiB`).
//! The generic CMDB layout scores the share of common inventory concepts found (name, IP, OS,
//! CPU, memory, ...) scaled to at most 0.7, so a vendor layout that matches well always ranks
//! first; the generic table is always offered last with confidence 0.1.

mod aws;
mod azure;
mod gcp;
pub mod gcp_join;
mod generic;
mod join;
pub mod joined;
pub mod rvtools;
mod select;
mod servicenow;

use serde::{Deserialize, Serialize};

use crate::attributes::AssetAttribute;
pub use select::{Selection, SkippedTable, select};

/// The name and headers of one table of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableHeaders {
    pub name: String,
    pub headers: Vec<String>,
}

macro_rules! layout_ids {
    ($( $variant:ident => $name:literal, )*) => {
        /// A recognised layout.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum LayoutId { $( $variant, )* }

        impl LayoutId {
            /// Every layout, in a stable order.
            pub const ALL: &'static [LayoutId] = &[$(LayoutId::$variant,)*];

            /// Stable identifier.
            pub fn as_str(self) -> &'static str {
                match self { $(LayoutId::$variant => $name,)* }
            }

            pub fn parse(s: &str) -> Option<LayoutId> {
                match s { $($name => Some(LayoutId::$variant),)* _ => None }
            }
        }
    };
}

layout_ids! {
    Rvtools => "rvtools",
    AwsMigrationHub => "aws_migration_hub",
    AwsMigrationEvaluator => "aws_migration_evaluator",
    AzureMigrateImport => "azure_migrate_import",
    AzureMigrateDependencies => "azure_migrate_dependencies",
    GcpMigrationCenterVm => "gcp_migration_center_vm",
    GcpMigrationCenterDisk => "gcp_migration_center_disk",
    GcpMigrationCenterPerf => "gcp_migration_center_perf",
    GcpMigrationCenterTags => "gcp_migration_center_tags",
    ServicenowCmdbCiServer => "servicenow_cmdb_ci_server",
    ServicenowCmdbRelCi => "servicenow_cmdb_rel_ci",
    GenericCmdb => "generic_cmdb",
    GenericTable => "generic_table",
}

/// What the rows of a detected table describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionKind {
    /// One asset per row.
    Assets,
    /// One relationship (dependency) per row.
    Dependencies,
    /// Performance samples of assets (several rows per asset).
    Performance,
    /// Tags of assets (key/value, several rows per asset).
    Tags,
    /// Disks of assets (several rows per asset, sizes add up).
    Disks,
}

impl DetectionKind {
    /// Whether the rows add details (disks, performance, tags) to assets that another table
    /// describes: imported on their own, they enrich assets imported earlier and create none.
    pub fn is_asset_detail(self) -> bool {
        matches!(
            self,
            DetectionKind::Disks | DetectionKind::Performance | DetectionKind::Tags
        )
    }
}

/// A field of a relationship row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationField {
    Source,
    SourceApplication,
    SourceProcess,
    Target,
    TargetIp,
    TargetApplication,
    TargetProcess,
    Port,
    /// Relationship type, e.g. ServiceNow `Depends on::Used by`.
    Type,
    Strength,
    PercentOutage,
    Timestamp,
}

/// Where a source column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum MappingTarget {
    Attribute(AssetAttribute),
    Relation(RelationField),
    TagKey,
    TagValue,
    /// Kept under its own name as a custom attribute.
    Custom,
}

/// How several columns mapped to the same attribute combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The non-empty value of the lowest `priority` wins.
    First,
    /// The values add up (e.g. the sizes of disk 1..8).
    Sum,
}

/// The mapping of one source column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMapping {
    /// The column name as in the source (after header normalisation by the source).
    pub column: String,
    pub target: MappingTarget,
    /// 1.0 for the columns of known layouts.
    pub confidence: f64,
    /// Unit of the source values (`MiB`, `MB`, `GiB`, `GB`, `bytes`), where relevant.
    pub unit: Option<String>,
    /// Factor that converts a source value to GB (1 GB = 1024 MiB here; RVTools and most
    /// inventory tools write "MB" for MiB).
    pub to_gb: Option<f64>,
    /// Among columns mapped to the same attribute with [`Combine::First`]: lower wins.
    pub priority: u8,
    pub combine: Combine,
    /// For [`MappingTarget::Custom`]: the custom attribute's name when the layout fixes it (the
    /// joined columns of Google Migration Center exports, e.g. a tag's key); such a column is
    /// not re-mapped by the mapping agent. `None`: the mapping agent names (or maps) it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_name: Option<String>,
}

/// A recognised layout for a table of the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub layout: LayoutId,
    pub kind: DetectionKind,
    /// 0..1, see the module documentation.
    pub confidence: f64,
    /// The table the rows come from (for RVTools, vInfo).
    pub table: String,
    /// Other tables that belong to the layout (RVTools: vDisk, vPartition, vNetwork, vCPU,
    /// vMemory, joined onto vInfo by [`rvtools::RvtoolsJoin`]).
    pub related_tables: Vec<String>,
    pub signature_found: Vec<String>,
    pub signature_missing: Vec<String>,
    /// Known layouts: every column of the (joined) table. Generic layouts: empty (the
    /// field-mapping step decides).
    pub mapping: Vec<ColumnMapping>,
    pub notes: Vec<String>,
}

impl Detection {
    /// The mapping of a column, if any.
    pub fn mapping_of(&self, column: &str) -> Option<&ColumnMapping> {
        self.mapping.iter().find(|m| m.column == column)
    }

    /// The columns mapped to an attribute, best first.
    pub fn columns_for(&self, attribute: AssetAttribute) -> Vec<&ColumnMapping> {
        let mut v: Vec<&ColumnMapping> = self
            .mapping
            .iter()
            .filter(|m| m.target == MappingTarget::Attribute(attribute))
            .collect();
        v.sort_by_key(|m| m.priority);
        v
    }
}

/// Known layouts scoring below this are not reported.
pub const MIN_CONFIDENCE: f64 = 0.3;

/// Recognises the layouts of a source from its tables' headers; best first. The generic table
/// layout is always last.
pub fn detect(tables: &[TableHeaders]) -> Vec<Detection> {
    let tables: Vec<&TableHeaders> = tables.iter().filter(|t| !t.headers.is_empty()).collect();
    let mut out: Vec<Detection> = Vec::new();
    if let Some(d) = rvtools::detect(&tables) {
        out.push(d);
    }
    for spec in SPECS {
        if let Some(d) = tables
            .iter()
            .map(|t| evaluate(spec, t))
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        {
            out.push(d);
        }
    }
    if let Some(d) = generic::detect_cmdb(&tables) {
        out.push(d);
    }
    if let Some(d) = generic::detect_relations(&tables) {
        out.push(d);
    }
    out.retain(|d| d.confidence >= MIN_CONFIDENCE);
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    if let Some(t) = tables.first() {
        out.push(generic::generic_table(t));
    }
    out
}

/// A signature column: accepted spellings and weight.
pub(crate) type Signature = (&'static [&'static str], f64);

/// A layout described as data.
pub(crate) struct Spec {
    pub layout: LayoutId,
    pub kind: DetectionKind,
    pub signature: &'static [Signature],
    pub rules: &'static [Rule],
}

/// A known column: accepted spellings (normalised; `#` matches a number) and its mapping.
#[derive(Clone, Copy)]
pub(crate) struct Rule {
    pub names: &'static [&'static str],
    pub target: MappingTarget,
    pub unit: Option<&'static str>,
    pub to_gb: Option<f64>,
    pub priority: u8,
    pub combine: Combine,
}

pub(crate) const MIB: f64 = 1.0 / 1024.0;

/// A column mapped to an attribute.
pub(crate) const fn attr(names: &'static [&'static str], a: AssetAttribute) -> Rule {
    Rule {
        names,
        target: MappingTarget::Attribute(a),
        unit: None,
        to_gb: None,
        priority: 0,
        combine: Combine::First,
    }
}

/// A column mapped to another target.
pub(crate) const fn to(names: &'static [&'static str], target: MappingTarget) -> Rule {
    Rule {
        names,
        target,
        unit: None,
        to_gb: None,
        priority: 0,
        combine: Combine::First,
    }
}

impl Rule {
    pub(crate) const fn size(self, unit: &'static str, to_gb: f64) -> Rule {
        Rule {
            unit: Some(unit),
            to_gb: Some(to_gb),
            ..self
        }
    }
    pub(crate) const fn unit(self, unit: &'static str) -> Rule {
        Rule {
            unit: Some(unit),
            ..self
        }
    }
    pub(crate) const fn prio(self, priority: u8) -> Rule {
        Rule { priority, ..self }
    }
    pub(crate) const fn sum(self) -> Rule {
        Rule {
            combine: Combine::Sum,
            ..self
        }
    }
}

const SPECS: &[&Spec] = &[
    &aws::MIGRATION_HUB,
    &aws::MIGRATION_EVALUATOR,
    &azure::IMPORT,
    &azure::DEPENDENCIES,
    &gcp::VM,
    &gcp::DISK,
    &gcp::PERF,
    &gcp::TAGS,
    &servicenow::CI_SERVER,
    &servicenow::REL_CI,
];

/// Header normalisation for matching: lower case, letters and digits only.
pub fn normalize(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a normalised header matches a normalised pattern where `#` stands for a number.
pub(crate) fn matches(header: &str, pattern: &str) -> bool {
    if !pattern.contains('#') {
        return header == pattern;
    }
    let (h, p) = (header.as_bytes(), pattern.as_bytes());
    let (mut i, mut j) = (0, 0);
    while j < p.len() {
        if p[j] == b'#' {
            let start = i;
            while i < h.len() && h[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return false;
            }
        } else {
            if i >= h.len() || h[i] != p[j] {
                return false;
            }
            i += 1;
        }
        j += 1;
    }
    i == h.len()
}

/// Whether a normalised header matches a spelling (`#` in the spelling stands for a number).
pub(crate) fn header_matches(normalized_header: &str, spelling: &str) -> bool {
    matches(normalized_header, &hash_pattern(spelling))
}

/// Index of the first header matching any of the spellings (tried in order).
pub(crate) fn find(normalized: &[String], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| normalized.iter().position(|h| header_matches(h, n)))
}

/// Scores a table against a signature: (confidence, found, missing).
pub(crate) fn score(
    normalized: &[String],
    signature: &[Signature],
) -> (f64, Vec<String>, Vec<String>) {
    let total: f64 = signature.iter().map(|(_, w)| w).sum();
    let mut got = 0.0;
    let (mut found, mut missing) = (Vec::new(), Vec::new());
    for (names, w) in signature {
        if find(normalized, names).is_some() {
            got += w;
            found.push(names[0].to_string());
        } else {
            missing.push(names[0].to_string());
        }
    }
    let confidence = if total > 0.0 { got / total } else { 0.0 };
    (confidence, found, missing)
}

/// Maps every column of a table with the rules; columns no rule claims become custom.
pub(crate) fn map_columns(headers: &[String], rules: &[Rule]) -> Vec<ColumnMapping> {
    let normalized: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
    headers
        .iter()
        .zip(&normalized)
        .map(|(h, n)| {
            let rule = rules
                .iter()
                .find(|r| r.names.iter().any(|name| header_matches(n, name)));
            match rule {
                Some(r) => ColumnMapping {
                    column: h.clone(),
                    target: r.target,
                    confidence: 1.0,
                    unit: r.unit.map(str::to_string),
                    to_gb: r.to_gb,
                    priority: r.priority,
                    combine: r.combine,
                    custom_name: None,
                },
                None => custom(h),
            }
        })
        .collect()
}

/// A spelling with `#` for a number, normalised while keeping the `#`.
fn hash_pattern(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric() || *c == '#')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A column kept as a custom attribute.
pub(crate) fn custom(column: &str) -> ColumnMapping {
    ColumnMapping {
        column: column.to_string(),
        target: MappingTarget::Custom,
        confidence: 1.0,
        unit: None,
        to_gb: None,
        priority: 0,
        combine: Combine::First,
        custom_name: None,
    }
}

/// Evaluates a data-described layout on one table.
pub(crate) fn evaluate(spec: &Spec, table: &TableHeaders) -> Detection {
    let normalized: Vec<String> = table.headers.iter().map(|h| normalize(h)).collect();
    let (confidence, signature_found, signature_missing) = score(&normalized, spec.signature);
    Detection {
        layout: spec.layout,
        kind: spec.kind,
        confidence,
        table: table.name.clone(),
        related_tables: Vec::new(),
        signature_found,
        signature_missing,
        mapping: map_columns(&table.headers, spec.rules),
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_and_patterns() {
        assert_eq!(normalize("*Memory (In MB)"), "memoryinmb");
        assert_eq!(normalize("CPU.NumberOfCores"), "cpunumberofcores");
        assert!(matches("disk12sizeingb", "disk#sizeingb"));
        assert!(!matches("disksizeingb", "disk#sizeingb"));
        assert!(!matches("disk1sizeingbx", "disk#sizeingb"));
        assert_eq!(hash_pattern("Disk # size (In GB)"), "disk#sizeingb");
    }

    #[test]
    fn layout_ids_round_trip() {
        for id in LayoutId::ALL {
            assert_eq!(LayoutId::parse(id.as_str()), Some(*id));
        }
    }

    #[test]
    fn unknown_headers_fall_back_to_generic_table() {
        let t = TableHeaders {
            name: "x".into(),
            headers: vec!["foo".into(), "bar".into()],
        };
        let d = detect(&[t]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].layout, LayoutId::GenericTable);
    }
}
