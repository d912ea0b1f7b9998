//! Local sessions: short-lived access tokens (JWT, HS256, issuer `modernize`, audience
//! `modernize-api`) and long-lived refresh tokens (random, rotated on every use, stored as
//! SHA-256 digests in `refresh_tokens`, grouped in families: one family per login).
//!
//! `AuthRuntime` is the per-process authentication state kept in `AppState`: the key that signs
//! access tokens and the OIDC verifier with its JWKS cache.

use super::oidc::OidcVerifier;
use crate::settings::AuthSettings;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

/// `iss` of local access tokens.
pub const LOCAL_ISSUER: &str = "modernize";
/// `aud` of local access tokens.
pub const LOCAL_AUDIENCE: &str = "modernize-api";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "mdzr_";
/// Smallest signing key.
pub const MIN_KEY_BYTES: usize = 32;
/// Clock skew tolerated on local access tokens (several processes may sign and verify).
const LOCAL_LEEWAY_SECS: u64 = 5;

/// Claims of a local access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// `users.id`.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session: the refresh-token family this token was issued with.
    pub sid: Uuid,
}

/// Per-process authentication state.
pub struct AuthRuntime {
    settings: Arc<AuthSettings>,
    signing_key: OnceLock<Vec<u8>>,
    /// Set when `[auth.oidc]` is configured.
    pub oidc: Option<OidcVerifier>,
}

impl std::fmt::Debug for AuthRuntime {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRuntime")
            .field(
                "signing_key_configured",
                &self.settings.signing_key.is_some(),
            )
            .field("oidc", &self.oidc)
            .finish()
    }
}

/// Decodes a configured signing key (standard or URL-safe base64, at least 32 bytes).
pub fn decode_signing_key(encoded: &str) -> Result<Vec<u8>, String> {
    let encoded = encoded.trim();
    let bytes = STANDARD
        .decode(encoded)
        .or_else(|_| URL_SAFE.decode(encoded))
        .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
        .map_err(|_| "auth.signing_key is not valid base64".to_string())?;
    if bytes.len() < MIN_KEY_BYTES {
        return Err(format!(
            "auth.signing_key must be at least {MIN_KEY_BYTES} bytes (it has {})",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Checks the authentication settings at startup, with a message naming the bad key.
pub fn check_settings(settings: &AuthSettings) -> Result<(), String> {
    if let Some(key) = &settings.signing_key {
        decode_signing_key(key)?;
    }
    if settings.access_token_ttl_secs == 0 || settings.refresh_token_ttl_secs == 0 {
        return Err(
            "auth.access_token_ttl_secs and auth.refresh_token_ttl_secs must be positive".into(),
        );
    }
    if let Some(oidc) = &settings.oidc {
        if !(oidc.jwks_url.starts_with("https://") || oidc.jwks_url.starts_with("http://")) {
            return Err(format!(
                "auth.oidc.jwks_url = {:?} is not an http(s) URL",
                oidc.jwks_url
            ));
        }
        if oidc.issuer.trim().is_empty() || oidc.audience.trim().is_empty() {
            return Err("auth.oidc.issuer and auth.oidc.audience must not be empty".into());
        }
        if oidc.issuer == LOCAL_ISSUER {
            return Err(format!(
                "auth.oidc.issuer must differ from the local issuer {LOCAL_ISSUER:?}"
            ));
        }
    }
    Ok(())
}

impl AuthRuntime {
    pub fn new(settings: Arc<AuthSettings>) -> Self {
        let oidc = settings.oidc.clone().map(OidcVerifier::new);
        AuthRuntime {
            settings,
            signing_key: OnceLock::new(),
            oidc,
        }
    }

    /// Settles the signing key now (logging the warning about a missing one at startup rather
    /// than at the first login).
    pub fn prepare(&self) {
        let _ = self.key();
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    fn key(&self) -> &[u8] {
        self.signing_key.get_or_init(|| {
            let configured = self.settings.signing_key.as_deref().map(decode_signing_key);
            match configured {
                Some(Ok(key)) => key,
                Some(Err(error)) => {
                    tracing::error!(%error, "ignoring auth.signing_key; using a random per-process key");
                    random_key()
                }
                None => {
                    tracing::warn!(
                        "auth.signing_key is not set: local access tokens are signed with a random \
                         per-process key and stop working on restart or in other processes"
                    );
                    random_key()
                }
            }
        })
    }

    /// Issues an access token for `user` in session `family`; returns it and its lifetime.
    pub fn issue_access_token(&self, user: Uuid, family: Uuid) -> (String, u64) {
        let ttl = self.settings.access_token_ttl_secs;
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: LOCAL_ISSUER.into(),
            aud: LOCAL_AUDIENCE.into(),
            sub: user.to_string(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            jti: Uuid::new_v4().to_string(),
            sid: family,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.key()),
        )
        .expect("HS256 signing cannot fail");
        (token, ttl)
    }

    /// Verifies a local access token: HS256 only (an RS256/ES256 or `none` token claiming the
    /// local issuer is refused), issuer, audience, expiry. Errors are audit reasons.
    pub fn verify_access_token(&self, token: &str) -> Result<AccessClaims, &'static str> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[LOCAL_ISSUER]);
        validation.set_audience(&[LOCAL_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LOCAL_LEEWAY_SECS;
        validation.validate_nbf = true;
        jsonwebtoken::decode::<AccessClaims>(
            token,
            &DecodingKey::from_secret(self.key()),
            &validation,
        )
        .map(|data| data.claims)
        .map_err(|e| super::oidc::failure_reason(&e))
    }
}

fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// Whether a bearer credential has the shape of a JWT (three base64url segments).
pub fn looks_like_jwt(credential: &str) -> bool {
    let parts: Vec<&str> = credential.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && credential
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The unverified `iss` claim of a JWT: used only to choose how to verify it.
pub fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_string)
}

/// A freshly minted refresh token.
#[derive(Debug)]
pub struct MintedRefresh {
    /// The clear token, given to the client once.
    pub token: String,
    /// What the database stores.
    pub digest: [u8; 32],
}

/// A new refresh token: `mdzr_` and 256 random bits in URL-safe base64.
pub fn mint_refresh_token() -> MintedRefresh {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{REFRESH_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    MintedRefresh {
        digest: refresh_digest(&token),
        token,
    }
}

/// SHA-256 of a refresh token (high-entropy, so no stretching is needed).
pub fn refresh_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a string has the shape of one of our refresh tokens.
pub fn looks_like_refresh_token(token: &str) -> bool {
    token.len() == REFRESH_PREFIX.len() + 43 && token.starts_with(REFRESH_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> AuthRuntime {
        AuthRuntime::new(Arc::new(AuthSettings {
            signing_key: Some(STANDARD.encode([7u8; 32])),
            ..AuthSettings::default()
        }))
    }

    #[test]
    fn access_tokens_round_trip() {
        let rt = runtime();
        let user = Uuid::new_v4();
        let family = Uuid::new_v4();
        let (token, ttl) = rt.issue_access_token(user, family);
        assert_eq!(ttl, 900);
        assert!(looks_like_jwt(&token));
        assert_eq!(unverified_issuer(&token).as_deref(), Some(LOCAL_ISSUER));
        let claims = rt.verify_access_token(&token).unwrap();
        assert_eq!(claims.sub, user.to_string());
        assert_eq!(claims.sid, family);
        // Another key does not verify it.
        let other = AuthRuntime::new(Arc::new(AuthSettings {
            signing_key: Some(STANDARD.encode([8u8; 32])),
            ..AuthSettings::default()
        }));
        assert_eq!(
            other.verify_access_token(&token).unwrap_err(),
            "bad_signature"
        );
    }

    #[test]
    fn expired_and_tampered_tokens_are_refused() {
        let rt = runtime();
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: LOCAL_ISSUER.into(),
            aud: LOCAL_AUDIENCE.into(),
            sub: Uuid::new_v4().to_string(),
            iat: now - 1000,
            exp: now - 100,
            jti: "x".into(),
            sid: Uuid::new_v4(),
        };
        let key = EncodingKey::from_secret(&[7u8; 32]);
        let expired = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
        assert_eq!(rt.verify_access_token(&expired).unwrap_err(), "expired");
        let wrong_aud = AccessClaims {
            aud: "other".into(),
            exp: now + 100,
            ..claims.clone()
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &wrong_aud, &key).unwrap();
        assert_eq!(rt.verify_access_token(&t).unwrap_err(), "wrong_audience");
        let hs512 = AccessClaims {
            exp: now + 100,
            ..claims
        };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS512), &hs512, &key).unwrap();
        assert_eq!(
            rt.verify_access_token(&t).unwrap_err(),
            "unsupported_algorithm"
        );
    }

    #[test]
    fn signing_keys_are_checked() {
        assert!(decode_signing_key("c2hvcnQ=").is_err());
        assert!(decode_signing_key("not base64!").is_err());
        assert_eq!(
            decode_signing_key(&STANDARD.encode([1u8; 48]))
                .unwrap()
                .len(),
            48
        );
        let settings = AuthSettings {
            signing_key: Some("c2hvcnQ=".into()),
            ..AuthSettings::default()
        };
        assert!(check_settings(&settings).is_err());
        assert!(check_settings(&AuthSettings::default()).is_ok());
    }

    #[test]
    fn refresh_tokens() {
        let a = mint_refresh_token();
        let b = mint_refresh_token();
        assert_ne!(a.token, b.token);
        assert!(looks_like_refresh_token(&a.token));
        assert_eq!(a.digest, refresh_digest(&a.token));
        assert!(!looks_like_jwt(&a.token));
    }
}
