//! OpenID Connect bearer tokens: RS256 or ES256 JWTs from the configured identity provider,
//! verified against its JWKS (fetched over HTTP(S), cached for `jwks_cache_secs`, fetched
//! again when a token names an unknown key id — at most once per 30 seconds), with issuer,
//! audience, expiry and not-before checked with `leeway_secs` of clock skew. The token's `sub`
//! is matched against `users.auth0_user_id`.
//!
//! Algorithm confusion is impossible by construction: only RS256 and ES256 are accepted, the
//! key must be of the matching type (an RSA key never verifies an ES256 token, an HMAC secret
//! is never used), and `none` is refused.

use crate::settings::OidcSettings;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Least time between two fetches triggered by an unknown key id.
pub const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Least time between two attempts after a failed fetch.
const FAILED_FETCH_RETRY: Duration = Duration::from_secs(5);
/// Timeout of a JWKS request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a verified OIDC token says about the caller.
#[derive(Debug, Clone)]
pub struct OidcIdentity {
    pub subject: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyKind {
    Rsa,
    EcP256,
}

#[derive(Clone)]
struct CachedKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    kind: KeyKind,
    key: DecodingKey,
}

#[derive(Default)]
struct JwksCache {
    keys: Vec<CachedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_unknown_kid_fetch: Option<Instant>,
}

/// Verifies tokens of the configured provider; holds the JWKS cache.
pub struct OidcVerifier {
    settings: OidcSettings,
    http: reqwest::Client,
    cache: Mutex<JwksCache>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .field("jwks_url", &self.settings.jwks_url)
            .finish()
    }
}

/// An audit reason for a failed verification.
pub fn failure_reason(error: &JwtError) -> &'static str {
    match error.kind() {
        ErrorKind::InvalidSignature => "bad_signature",
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not_yet_valid",
        ErrorKind::InvalidIssuer => "wrong_issuer",
        ErrorKind::InvalidAudience => "wrong_audience",
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => "unsupported_algorithm",
        ErrorKind::MissingRequiredClaim(_) => "missing_claim",
        _ => "malformed_token",
    }
}

/// The `alg` of a JWT's header, unverified.
fn header_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("alg")?.as_str().map(str::to_string)
}

impl OidcVerifier {
    pub fn new(settings: OidcSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .expect("HTTP client with default TLS settings");
        OidcVerifier {
            settings,
            http,
            cache: Mutex::new(JwksCache::default()),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Verifies `token`; errors are audit reasons (`bad_signature`, `wrong_issuer`,
    /// `wrong_audience`, `expired`, `not_yet_valid`, `unknown_kid`, `unsupported_algorithm`,
    /// `malformed_token`, `missing_claim`, `jwks_unavailable`).
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, &'static str> {
        let alg = match header_alg(token).as_deref() {
            Some("RS256") => Algorithm::RS256,
            Some("ES256") => Algorithm::ES256,
            Some(_) => return Err("unsupported_algorithm"),
            None => return Err("malformed_token"),
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed_token")?;
        if header.alg != alg {
            return Err("malformed_token");
        }
        let key = self.key_for(header.kid.as_deref(), alg).await?;
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.settings.leeway_secs;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| failure_reason(&e))?;
        match data.claims.sub {
            Some(subject) if !subject.trim().is_empty() => Ok(OidcIdentity { subject }),
            _ => Err("missing_claim"),
        }
    }

    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, &'static str> {
        let mut cache = self.cache.lock().await;
        let ttl = Duration::from_secs(self.settings.jwks_cache_secs);
        let stale = cache.fetched_at.is_none_or(|at| at.elapsed() >= ttl);
        let mut fetched_now = false;
        if stale
            && cache
                .last_attempt
                .is_none_or(|at| at.elapsed() >= FAILED_FETCH_RETRY)
        {
            fetched_now = self.refresh(&mut cache).await;
            if !fetched_now && cache.keys.is_empty() {
                return Err("jwks_unavailable");
            }
        }
        if let Some(key) = find(&cache.keys, kid, alg) {
            return Ok(key);
        }
        // An unknown key id: the provider may have rotated its keys. Fetch again, unless this
        // request has just done so or another one did recently (a flood of tokens with made-up
        // key ids must not turn into a flood of requests to the provider).
        let may_refetch = !fetched_now
            && cache
                .last_unknown_kid_fetch
                .is_none_or(|at| at.elapsed() >= UNKNOWN_KID_REFETCH_INTERVAL);
        if may_refetch {
            cache.last_unknown_kid_fetch = Some(Instant::now());
            if self.refresh(&mut cache).await
                && let Some(key) = find(&cache.keys, kid, alg)
            {
                return Ok(key);
            }
        }
        Err("unknown_kid")
    }

    /// Fetches the JWKS into the cache; keeps the previous keys when the fetch fails.
    async fn refresh(&self, cache: &mut JwksCache) -> bool {
        cache.last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), url = %self.settings.jwks_url, "fetched JWKS");
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                true
            }
            Err(error) => {
                tracing::warn!(%error, url = %self.settings.jwks_url, "cannot fetch the identity provider's JWKS");
                false
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<CachedKey>, reqwest::Error> {
        let body: serde_json::Value = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let entries = body
            .get("keys")
            .and_then(|k| k.as_array())
            .cloned()
            .unwrap_or_default();
        // Keys of other types or uses are skipped one by one, not the whole set.
        Ok(entries
            .into_iter()
            .filter_map(|entry| serde_json::from_value::<Jwk>(entry).ok())
            .filter_map(|jwk| cached_key(&jwk))
            .collect())
    }
}

fn cached_key(jwk: &Jwk) -> Option<CachedKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => KeyKind::EcP256,
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(_) => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(CachedKey {
        kid: jwk.common.key_id.clone(),
        alg,
        kind,
        key,
    })
}

/// The key for a token: same key id (or, without one in the token, the only compatible key),
/// a type matching the algorithm, and the same algorithm when the key declares one.
fn find(keys: &[CachedKey], kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let kind = match alg {
        Algorithm::RS256 => KeyKind::Rsa,
        Algorithm::ES256 => KeyKind::EcP256,
        _ => return None,
    };
    let mut compatible = keys
        .iter()
        .filter(|k| k.kind == kind && k.alg.is_none_or(|a| a == alg));
    match kid {
        Some(kid) => compatible
            .find(|k| k.kid.as_deref() == Some(kid))
            .map(|k| k.key.clone()),
        None => {
            let first = compatible.next()?;
            compatible.next().is_none().then(|| first.key.clone())
        }
    }
}
