//! The review of a staged import, in the database: its sessions, its column mappings and the
//! decisions on them, and its row-level report.
//!
//! Every function runs on the caller's connection, whose transaction must be scoped to the
//! client (`modernize_db::tenant::begin`); every query also filters by client (and engagement),
//! so row-level security and the application agree.
//!
//! **Decisions** ([`decide`]) are taken on a session that is `staged` or `mapping_review`,
//! all or nothing: the session row is locked, every entry is checked (the column exists, the
//! action and target are valid, no attribute or custom name ends up the target of two
//! columns of a table), then written with who decided and when.
//!
//! - `approve`: the column takes the agent's proposal (from the session's plan), status
//!   `approved`.
//! - `edit`: the column takes the given target (`attribute` with an asset attribute name,
//!   `custom` with a name, or `ignore`; for the columns of a relationship file, `relation`
//!   with a role the relationship processor reads, or `ignore`, see [`relations`]), status
//!   `edited`; an edit naming the proposal is an approval.
//! - `reject`: the column is not imported, status `rejected` (its target stays visible).
//! - `approve_all`: every column still `needs_review` is approved, after the listed decisions.
//!
//! An edit or a rejection of an asset file's column that differs from the proposal becomes a
//! learning pattern of the client ([`crate::learning::record_mapping_correction`]) in the same transaction. The
//! session is then `staged` when no column needs review, else `mapping_review`; and when it
//! belongs to a flow waiting for approval at its `analysis` phase and no column needs review,
//! the flow's gate is approved ("mappings reviewed") in the same transaction, so it resumes.

mod decisions;
mod mappings;
pub mod relations;
mod report;
mod sessions;
mod validation;

use crate::flows::FlowError;
use serde::Serialize;
use serde_json::Value;

pub use decisions::{DecidedColumn, DecisionInput, DecisionOutcome, DecisionRequest, decide};
pub use mappings::{MappingView, list_mappings};
pub use report::{ReportRow, report_columns, report_rows};
pub use sessions::{SessionView, get_session, list_sessions, row_counts, session_exists};

/// Session statuses in which mappings may be decided.
pub const REVIEWABLE: &[&str] = &["staged", "mapping_review"];
/// Session statuses.
pub const SESSION_STATUSES: &[&str] = &[
    "staged",
    "mapping_review",
    "committed",
    "dry_run_completed",
    "failed",
];
/// Row statuses of the report.
pub const ROW_STATUSES: &[&str] = &["staged", "accepted", "fixed", "rejected"];
/// The most decisions of one request.
pub const MAX_DECISIONS: usize = 1000;
/// Longest custom attribute name.
pub const MAX_CUSTOM_NAME: usize = 255;

/// Why a review request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("import not found")]
    NotFound,
    #[error(
        "the import is {0}; mappings can only be decided while it is staged or in mapping review"
    )]
    NotReviewable(String),
    #[error("invalid decisions")]
    Invalid(Vec<Problem>),
    #[error("two columns would have the same target")]
    Conflict(Vec<Problem>),
    #[error("invalid relation roles")]
    InvalidRole(Vec<Problem>),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Flow(#[from] FlowError),
}

/// One problem of a request, by field (`decisions[2].target`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

/// A text of a raw JSON value (strings as they are, null as nothing, others as JSON).
pub fn raw_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
