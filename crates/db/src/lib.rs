//! Persistence layer: where the database comes from (embedded or configured), the schema
//! migrations, connection pools for the owner and the runtime role, and transactions scoped to
//! a tenant for row-level security.

pub mod audit;
pub mod connect;
pub mod credentials;
pub mod embedded;
pub mod error;
pub mod identity;
pub mod maintenance;
pub mod migrate;
pub mod partitions;
pub mod retention;
pub mod tenant;
pub mod users;

pub use connect::{Database, DatabaseSettings};
pub use error::DbError;

/// The role the application runs its requests as: not the owner of any table, no BYPASSRLS.
/// Created by the migrations.
pub const RUNTIME_ROLE: &str = "modernize_app";
