//! Authentication (who is calling) and authorization (may they do this here).

pub mod api_token;
pub mod audit;
pub mod caller;
pub mod request_meta;

pub use caller::{AuthMethod, Caller};
pub use request_meta::RequestMeta;
