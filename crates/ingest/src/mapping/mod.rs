//! The field-mapping agent: proposes, for every source column, an asset attribute, a custom
//! attribute or "ignore", with a confidence (0..1), a status against a threshold, and a short
//! reason a person can check.
//!
//! Evidence, strongest first: learned corrections of the same client (exact, after name
//! normalisation), the layout detector's mapping of a recognised vendor format, learned
//! corrections of similar names (through an optional similarity function), then heuristics:
//! header synonyms and token rules ([`heuristics`]) weighed with what a sample of the values
//! looks like ([`content`]). [`decide`] combines them and gives each attribute to one column.
//! Pure and linear in the number of columns and sampled cells.

pub mod content;
pub mod decide;
pub mod heuristics;
mod synonyms;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attributes::AssetAttribute;
use crate::cleanse::size::SizeUnit;
pub use content::ValueShape;

/// Where a source column goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Target {
    /// One of the asset's columns.
    Attribute(AssetAttribute),
    /// Kept in the asset's `raw_data` under this name.
    Custom(String),
    /// Dropped.
    Ignore,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Attribute(a) => f.write_str(a.as_str()),
            Target::Custom(name) => write!(f, "custom attribute '{name}'"),
            Target::Ignore => f.write_str("ignore"),
        }
    }
}

/// Whether a mapping may be applied without a person looking at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingStatus {
    /// Confidence at or above the threshold.
    Approved,
    /// Below the threshold: shown for review.
    NeedsReview,
}

impl MappingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingStatus::Approved => "approved",
            MappingStatus::NeedsReview => "needs_review",
        }
    }
}

/// The proposal for one source column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMapping {
    /// 0-based position of the column in the table's headers.
    pub column: usize,
    /// The header as read.
    pub source_column: String,
    pub target: Target,
    /// 0..1, rounded to 3 decimals.
    pub confidence: f64,
    pub status: MappingStatus,
    /// One sentence, e.g. "header 'Host Name' is a synonym of hostname; 48/50 sampled values
    /// look like host names".
    pub reason: String,
    /// For memory and storage: the unit of bare numbers in this column, from the header or
    /// inferred from the sampled values (`None`: unknown, cleansing decides per value).
    pub unit: Option<SizeUnit>,
    /// The most frequent shape of the sampled values, if any were sampled.
    pub shape: Option<ValueShape>,
    /// The [`LearnedCorrection::reference`] of the learned correction this proposal applies
    /// (same or similar name), when it comes from one that has a reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_reference: Option<String>,
}

/// A user's earlier correction of a mapping, for the same client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedCorrection {
    /// The source column it was made for ("Srv Name").
    pub source_column: String,
    pub target: Target,
    /// How much it counts, 0..1 (e.g. 1.0 for a correction confirmed several times); it is
    /// the confidence of an exact match.
    pub weight: f64,
    /// Where the correction is stored (e.g. the id of its learning pattern), so that its use
    /// can be counted: a proposal that applies it carries it in
    /// [`ColumnMapping::learned_reference`].
    pub reference: Option<String>,
}

/// A similarity between two header names, 0..1 (e.g. cosine of their embeddings).
pub type SimilarityFn = dyn Fn(&str, &str) -> f64 + Send + Sync;

/// What the mapping knows beyond the headers and values.
pub struct Hints<'a> {
    /// A recognised layout's mapping: (header, attribute, confidence).
    pub layout: Vec<(String, AssetAttribute, f64)>,
    /// Corrections learned for this client; they override heuristics and the layout. A
    /// correction applies to headers with the same normalised name ("Srv Name" →
    /// "srv_name", "SrvName").
    pub learned: Vec<LearnedCorrection>,
    /// Applies learned corrections to similar names too (similarity × weight), when at
    /// least `min_similarity`.
    pub similarity: Option<&'a SimilarityFn>,
    /// Default 0.85.
    pub min_similarity: f64,
    /// Confidence needed for [`MappingStatus::Approved`]; default 0.8.
    pub threshold: f64,
}

impl Default for Hints<'_> {
    fn default() -> Self {
        Hints {
            layout: Vec::new(),
            learned: Vec::new(),
            similarity: None,
            min_similarity: 0.85,
            threshold: 0.8,
        }
    }
}

impl fmt::Debug for Hints<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hints")
            .field("layout", &self.layout)
            .field("learned", &self.learned)
            .field("similarity", &self.similarity.map(|_| "fn"))
            .field("min_similarity", &self.min_similarity)
            .field("threshold", &self.threshold)
            .finish()
    }
}

/// Proposes a mapping for every column. `samples` are data rows aligned with `headers`
/// (the first rows of the table are enough; at most [`content::MAX_SAMPLE_ROWS`] are read).
/// The result has one entry per header, in header order; each attribute is the target of
/// at most one column; the same input always gives the same output.
pub fn propose(
    headers: &[String],
    samples: &[Vec<Option<String>>],
    hints: &Hints,
) -> Vec<ColumnMapping> {
    decide::decide(headers, samples, hints)
}
