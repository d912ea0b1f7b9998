//! Authentication (who is calling) and authorization (may they do this here).

pub mod api_token;
pub mod audit;
pub mod caller;
pub mod lockout;
pub mod oidc;
pub mod password;
pub mod request_meta;
pub mod session;
pub mod totp;

pub use caller::{AuthMethod, Caller};
pub use request_meta::RequestMeta;
