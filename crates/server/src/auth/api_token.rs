//! API tokens: `mdz_` followed by 43 characters of URL-safe base64 (256 random bits). The clear
//! token is shown once; the database keeps its SHA-256 digest and a short prefix for display.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "mdz_";

/// A freshly minted token.
#[derive(Debug)]
pub struct Minted {
    /// The clear token, to show once.
    pub token: String,
    /// What the database stores.
    pub digest: [u8; 32],
    /// The first characters, safe to display ("mdz_AbCdEfGh").
    pub display_prefix: String,
}

pub fn mint() -> Minted {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    Minted {
        digest: digest(&token),
        display_prefix: token[..12].to_string(),
        token,
    }
}

/// SHA-256 of the token. Tokens carry 256 bits of entropy, so a fast hash is enough (no
/// password-style stretching needed) and lookups stay constant-time by digest.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a bearer credential looks like one of our API tokens.
pub fn looks_like_api_token(credential: &str) -> bool {
    credential.len() == PREFIX.len() + 43 && credential.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_unique_and_recognisable() {
        let a = mint();
        let b = mint();
        assert_ne!(a.token, b.token);
        assert!(looks_like_api_token(&a.token));
        assert_eq!(a.digest, digest(&a.token));
        assert!(a.token.starts_with(&a.display_prefix));
        assert!(!looks_like_api_token("eyJhbGciOi.jwt.token"));
    }
}
