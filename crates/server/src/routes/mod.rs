//! One module per resource, each exporting its handlers (`<verb>_<resource>`) and a `routes()`
//! function registering them with their OpenAPI descriptions.

pub mod adapters;
pub mod assets;
pub mod assets_edit;
pub mod assets_export;
pub mod assets_query;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod credentials;
pub mod dependency_graph;
pub mod discovery;
pub mod engagements;
pub mod flows;
pub mod health;
pub mod imports;
pub mod imports_decisions;
pub mod imports_report;
pub mod me;
pub mod members;
pub mod meta;
pub mod mfa;
pub mod platform_roles;
pub mod roles;
pub mod tokens;
pub mod user_common;
pub mod users;
