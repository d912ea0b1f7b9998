//! One module per resource, each exporting its handlers (`<verb>_<resource>`).

pub mod health;
pub mod meta;
