//! The engine of Modernize: background work that outlives a request.
//!
//! For now this is the durable job queue ([`queue`]): typed jobs stored in PostgreSQL,
//! enqueued in the caller's transaction, claimed under a lease by workers, retried with
//! backoff, and fair between clients. Flows and agents build on it.

pub mod queue;
pub mod settings;

pub use settings::WorkerSettings;
