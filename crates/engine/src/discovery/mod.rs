//! The discovery flow: importing an inventory file through the flow engine.
//!
//! The steps of flow type `discovery` ([`register`]) read their input from the flow's config
//! (`{"import": {"path", "file_name", "dry_run", "threshold", "source_system"}}`, see
//! [`ImportConfig`]), normally written by the upload route of the API:
//!
//! | phase | agent | work |
//! |---|---|---|
//! | initialization | `discovery_orchestrator` | validates the config; the file must be a readable, non-empty upload of the flow's client within the size limit |
//! | agent_loading | `field_mapping_agent` | counts the client's learned mapping corrections |
//! | environment_scanning | `data_source_agent` | opens the file, lists its tables, detects the layout (with confidence) |
//! | data_collection | `data_import_agent` | stages the raw rows and the proposed mapping (`import::stage_import`), once per flow |
//! | analysis | `field_mapping_agent`, `cleansing_agent`, `identity_reconciliation_agent`, `dependency_agent` | waits for a decision while column mappings need review, then applies the import (`import::apply_import`, all or nothing; a failed apply can be retried after fixing the decisions) |
//! | reporting | `reporting_agent` | stores the report as the phase result, counts the discovered assets, removes the upload |
//!
//! Every phase's result is stored in the flow's `phase_results`.

mod analysis;
mod config;
mod settings;
mod steps;
mod sweep;

pub use config::ImportConfig;
pub use settings::ImportSettings;
pub use steps::register;
pub use sweep::{SweepUploads, ensure_sweep_scheduled, sweep_uploads};

/// The flow type of discovery flows.
pub const FLOW_TYPE: &str = "discovery";
