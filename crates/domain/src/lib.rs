//! Domain layer: types and rules with no I/O.
//!
//! Everything here is pure so that it can be unit-tested without a database and shared by
//! the persistence, engine and server layers.

pub mod access;
pub mod flow;
pub mod ids;
pub mod tenancy;
pub mod validate;
