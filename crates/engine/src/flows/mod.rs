//! The flow engine: master flows (`crewai_flow_state_extensions`) with one child flow each,
//! walked phase by phase by queue jobs.
//!
//! - [`store`]: creating flows (master + child in one transaction) and every transition, under
//!   `SELECT … FOR UPDATE` on the master row, with the one flow state machine and the one phase
//!   state machine of [`modernize_domain::flow`]. Each transition appends to `phase_history`,
//!   keeps master and child in sync and writes a [`events`] row in the same transaction.
//! - [`registry`]: which step handler runs which phase of which flow type. Product flow types
//!   are registered without steps: a flow whose next phase has no step waits (see
//!   [`store::FlowView::waiting_reason`]).
//! - [`runner`]: the queue job `flow.run_phase`, which runs one phase step and advances the
//!   flow, recording each agent task through [`tracking`].
//! - [`rollup`]: daily agent performance (`agent_performance_daily`).

pub mod events;
pub mod registry;
pub mod rollup;
pub mod runner;
pub mod store;
pub mod tracking;

pub use registry::{FlowRegistry, Step, StepContext, StepError};
pub use runner::RunPhase;
pub use store::{Actor, FlowView, NewFlow};

use modernize_domain::flow::IllegalTransition;

/// What can go wrong with a flow operation.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("flow not found")]
    NotFound,
    #[error("{0}")]
    Illegal(#[from] IllegalTransition),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Queue(#[from] crate::queue::QueueError),
    #[error("{0}")]
    Db(#[from] modernize_db::DbError),
}
