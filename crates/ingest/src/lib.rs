//! Ingestion of inventory exports, independent of the database: reading sources as streams of
//! records, recognising vendor layouts, proposing column mappings, and cleansing values into
//! asset attributes. The discovery flow (engine) drives these steps and stores the results.

pub mod attributes;
pub mod record;

pub use attributes::AssetAttribute;
pub use record::{Record, SourceError};
