//! Ingestion of inventory exports, independent of the database: reading sources as streams of
//! records, recognising vendor layouts, proposing column mappings, and cleansing values into
//! asset attributes. The discovery flow (engine) drives these steps and stores the results.

pub mod attributes;
pub mod cleanse;
pub mod embed;
pub mod identity;
pub mod layout;
pub mod mapping;
pub mod record;
pub mod score;
pub mod source;

pub use attributes::AssetAttribute;
pub use record::{Record, SourceError};
