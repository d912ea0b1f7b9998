//! One module per resource, each exporting its handlers (`<verb>_<resource>`) and a `routes()`
//! function registering them with their OpenAPI descriptions.

pub mod clients;
pub mod engagements;
pub mod health;
pub mod meta;
