//! The engine of Modernize: background work that outlives a request.
//!
//! - [`queue`]: the durable job queue: typed jobs stored in PostgreSQL, enqueued in the
//!   caller's transaction, claimed under a lease by workers, retried with backoff, and fair
//!   between clients.
//! - [`flows`]: the flow engine on top of it: master and child flows, the flow and phase state
//!   machines, phase steps run as queue jobs, approval gates, flow events, agent task tracking
//!   and the daily agent performance rollup.
//! - [`discovery`]: the discovery flow's steps (upload checks, layout detection, staging, the
//!   mapping review gate, the all-or-nothing apply, the report) and the retention of uploads.
//! - [`import`]: importing inventory files into an engagement's assets (staging, mapping,
//!   cleansing, identity reconciliation, dependencies), all or nothing.
//! - [`import_review`]: the review of a staged import: sessions, column mapping decisions,
//!   the row-level report.
//! - [`learning`]: mapping corrections learned per client (`agent_learning_patterns`).

pub mod discovery;
pub mod flows;
pub mod import;
pub mod import_review;
pub mod learning;
pub mod queue;
pub mod settings;

pub use settings::WorkerSettings;
