//! The cleansing agent: turns one source row, through an approved column mapping, into typed
//! asset values, custom attributes and row-level issues.
//!
//! Only a row that cannot name its asset is rejected (`missing_asset_name`, an error); every
//! other problem is a warning and the row is kept: a value that cannot be read is dropped
//! (and reported), a value longer than its column is truncated (`value_truncated`).

pub mod enums;
pub mod network;
pub mod os;
mod row;
pub mod size;
pub mod text;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::attributes::AssetAttribute;
use crate::mapping::{ColumnMapping, Target, ValueShape};
use crate::record::Record;
use row::Row;
use size::SizeUnit;

/// Length limit of a custom attribute's text (kept in `raw_data`).
pub const CUSTOM_MAX_LEN: usize = 4096;
/// Length limit of one element of a list attribute.
pub const LIST_ITEM_MAX_LEN: usize = 255;
/// CPU counts above this are rejected as implausible (`out_of_range`).
pub const MAX_CPU_CORES: f64 = 4096.0;

/// A cleansed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
    List(Vec<String>),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
}

/// Whether an issue rejects the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// Stable codes of row-level issues (documented in docs/mapping-and-cleansing.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    /// Error: no asset name, host name, FQDN, IP address or application name in the row.
    MissingAssetName,
    /// The asset name was taken from another attribute.
    AssetNameDerived,
    /// A value longer than its column was cut.
    ValueTruncated,
    UnknownEnvironment,
    UnknownCriticality,
    UnknownAssetType,
    UnknownSixR,
    /// The operating system was not recognised (os_type "other", text kept as version).
    UnknownOs,
    InvalidIp,
    InvalidMac,
    /// A number could not be read; the value was dropped.
    InvalidNumber,
    /// A number outside its plausible range (negative size, percent above 100); dropped.
    OutOfRange,
    /// A size without a unit in the header or the value; the unit was guessed.
    UnitAssumed,
    /// A single-valued attribute held several values; the first was kept.
    MultipleValues,
    /// Error: a row that adds details (disks, performance, tags) to a machine the engagement
    /// does not hold (its inventory row was never imported).
    UnknownMachine,
}

impl IssueCode {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::MissingAssetName => "missing_asset_name",
            IssueCode::AssetNameDerived => "asset_name_derived",
            IssueCode::ValueTruncated => "value_truncated",
            IssueCode::UnknownEnvironment => "unknown_environment",
            IssueCode::UnknownCriticality => "unknown_criticality",
            IssueCode::UnknownAssetType => "unknown_asset_type",
            IssueCode::UnknownSixR => "unknown_six_r",
            IssueCode::UnknownOs => "unknown_os",
            IssueCode::InvalidIp => "invalid_ip",
            IssueCode::InvalidMac => "invalid_mac",
            IssueCode::InvalidNumber => "invalid_number",
            IssueCode::OutOfRange => "out_of_range",
            IssueCode::UnitAssumed => "unit_assumed",
            IssueCode::MultipleValues => "multiple_values",
            IssueCode::UnknownMachine => "unknown_machine",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            IssueCode::MissingAssetName | IssueCode::UnknownMachine => Severity::Error,
            _ => Severity::Warning,
        }
    }
}

/// A problem found in one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub code: IssueCode,
    pub severity: Severity,
    /// The source column, when the issue concerns one.
    pub column: Option<String>,
    pub message: String,
}

/// Which column supplied an attribute, and how sure its mapping was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub column: String,
    pub confidence: f64,
    /// Derived from another attribute (os_type from os_version, hostname from fqdn...).
    pub derived: bool,
}

/// One cleansed row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CleansedAsset {
    pub table: String,
    pub row: u64,
    pub values: BTreeMap<AssetAttribute, Value>,
    /// Custom attributes (for `raw_data`), by custom name.
    pub custom: BTreeMap<String, Value>,
    pub issues: Vec<Issue>,
    pub provenance: BTreeMap<AssetAttribute, Provenance>,
}

impl CleansedAsset {
    /// Whether an error rejects the row.
    pub fn is_rejected(&self) -> bool {
        self.issues.iter().any(|i| i.severity == Severity::Error)
    }

    pub fn get(&self, attr: AssetAttribute) -> Option<&Value> {
        self.values.get(&attr)
    }

    pub fn text(&self, attr: AssetAttribute) -> Option<&str> {
        self.get(attr).and_then(Value::as_text)
    }

    pub fn number(&self, attr: AssetAttribute) -> Option<f64> {
        self.get(attr).and_then(Value::as_f64)
    }

    pub fn has(&self, attr: AssetAttribute) -> bool {
        self.values.contains_key(&attr)
    }

    pub fn warnings(&self) -> usize {
        self.issues
            .iter()
            .filter(|i| i.severity == Severity::Warning)
            .count()
    }

    pub fn has_issue(&self, code: IssueCode) -> bool {
        self.issues.iter().any(|i| i.code == code)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ColumnPlan {
    pub(crate) index: usize,
    pub(crate) header: String,
    pub(crate) target: Target,
    pub(crate) confidence: f64,
    pub(crate) unit: Option<SizeUnit>,
    pub(crate) shape: Option<ValueShape>,
}

/// A mapping prepared for cleansing many rows.
#[derive(Debug, Clone)]
pub struct Cleanser {
    columns: Vec<ColumnPlan>,
}

/// Cleanses one row (see [`Cleanser`] to cleanse many with one mapping).
pub fn cleanse(mapping: &[ColumnMapping], record: &Record) -> CleansedAsset {
    Cleanser::new(mapping).cleanse(record)
}

impl Cleanser {
    /// Every mapping entry is applied whatever its status: the discovery flow passes the
    /// mapping the user approved.
    pub fn new(mapping: &[ColumnMapping]) -> Cleanser {
        Cleanser {
            columns: mapping
                .iter()
                .filter(|m| m.target != Target::Ignore)
                .map(|m| ColumnPlan {
                    index: m.column,
                    header: m.source_column.clone(),
                    target: m.target.clone(),
                    confidence: m.confidence,
                    unit: m.unit,
                    shape: m.shape,
                })
                .collect(),
        }
    }

    pub fn cleanse(&self, record: &Record) -> CleansedAsset {
        let mut row = Row::new(record);
        for plan in &self.columns {
            let Some(Some(raw)) = record.values.get(plan.index) else {
                continue;
            };
            let Some(value) = text::clean(raw) else {
                continue;
            };
            match &plan.target {
                Target::Attribute(attr) => row.attribute(plan, *attr, value),
                Target::Custom(name) => row.custom(plan, name, value),
                Target::Ignore => {}
            }
        }
        row.finish();
        row.asset
    }
}
