//! Secrets at rest: envelope encryption under configured master keys.

pub mod credentials;
pub mod envelope;
pub mod keys;
pub mod rotate;

pub use envelope::{Keyring, Sealed, VaultError};
