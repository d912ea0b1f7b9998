//! OpenID Connect bearer tokens against a JWKS served by a local stand-in identity provider:
//! RS256 and ES256 tokens accepted and mapped to users by `sub`; forged, expired, premature,
//! wrong-issuer, wrong-audience and algorithm-confusion tokens refused; key rotation picked up
//! with a single refetch.

mod common;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use modernize_server::AppState;
use modernize_server::settings::{AuthSettings, OidcSettings};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

const ISSUER: &str = "https://idp.example.test/";
const AUDIENCE: &str = "https://api.modernize.test";
const LEEWAY: i64 = 30;

struct Keys {
    rsa1: rsa::RsaPrivateKey,
    rsa2: rsa::RsaPrivateKey,
    forger: rsa::RsaPrivateKey,
    ec: p256::SecretKey,
}

/// Keys are generated once per test binary (RSA generation is slow in debug builds).
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::OsRng;
        Keys {
            rsa1: rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            rsa2: rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            forger: rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            ec: p256::SecretKey::random(&mut rng),
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
    let public = key.to_public_key();
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
           "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())})
}

fn ec_jwk(key: &p256::SecretKey, kid: &str) -> Value {
    let point = key.public_key().to_encoded_point(false);
    json!({"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
           "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())})
}

fn rsa_signer(key: &rsa::RsaPrivateKey) -> EncodingKey {
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}

fn ec_signer(key: &p256::SecretKey) -> EncodingKey {
    let pem = key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
    EncodingKey::from_ec_pem(pem.as_bytes()).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(sub: &str) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now(), "exp": now() + 300})
}

fn sign(alg: Algorithm, kid: &str, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rs256(kid: &str, claims: &Value) -> String {
    sign(Algorithm::RS256, kid, claims, &rsa_signer(&keys().rsa1))
}

/// The stand-in identity provider: serves whatever JWKS the test sets, counting requests.
struct Idp {
    jwks: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    url: String,
}

async fn idp(initial: Value) -> Idp {
    #[derive(Clone)]
    struct S {
        jwks: Arc<Mutex<Value>>,
        fetches: Arc<AtomicUsize>,
    }
    async fn serve_jwks(State(s): State<S>) -> Json<Value> {
        s.fetches.fetch_add(1, Ordering::SeqCst);
        Json(s.jwks.lock().unwrap().clone())
    }
    let s = S {
        jwks: Arc::new(Mutex::new(initial)),
        fetches: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .route("/.well-known/jwks.json", get(serve_jwks))
        .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Idp {
        jwks: s.jwks,
        fetches: s.fetches,
        url,
    }
}

struct World {
    server: common::Running,
    idp: Idp,
}

async fn world() -> World {
    let k = keys();
    let idp = idp(json!({"keys": [
        rsa_jwk(&k.rsa1, "rsa-1"),
        ec_jwk(&k.ec, "ec-1"),
        // Keys the product does not use are skipped, not fatal.
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "RSA", "kid": "enc-1", "use": "enc", "n": "AQAB", "e": "AQAB"}
    ]}))
    .await;
    let db = modernize_testkit::TestDb::new().await;
    let auth = AuthSettings {
        oidc: Some(OidcSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_url: idp.url.clone(),
            leeway_secs: LEEWAY as u64,
            jwks_cache_secs: 3600,
        }),
        ..AuthSettings::default()
    };
    let state = AppState::new(db.database(), common::settings()).with_auth(auth);
    let server = common::start_router(db, modernize_server::app(state)).await;
    let mut conn = server.db.owner.acquire().await.unwrap();
    modernize_db::identity::create_user(&mut conn, "alice@example.com", None, Some("auth0|alice"))
        .await
        .unwrap();
    drop(conn);
    World { server, idp }
}

impl World {
    async fn me(&self, token: &str) -> (u16, Value) {
        let resp = self
            .server
            .client
            .get(self.server.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn reasons(&self) -> Vec<String> {
        let rows: Vec<(Option<String>,)> = sqlx::query_as(
            "SELECT error_code FROM migration.security_audit_logs \
              WHERE event_type = 'auth.failed' ORDER BY created_at",
        )
        .fetch_all(&self.server.db.owner)
        .await
        .unwrap();
        rows.into_iter().filter_map(|(r,)| r).collect()
    }
}

#[tokio::test]
async fn rs256_and_es256_tokens_are_accepted_and_mapped_to_the_user() {
    let w = world().await;
    let (status, me) = w.me(&rs256("rsa-1", &claims("auth0|alice"))).await;
    assert_eq!(status, 200, "{me}");
    assert!(me.to_string().contains("alice@example.com"), "{me}");
    let es = sign(
        Algorithm::ES256,
        "ec-1",
        &claims("auth0|alice"),
        &ec_signer(&keys().ec),
    );
    let (status, me) = w.me(&es).await;
    assert_eq!(status, 200, "{me}");
    assert!(me.to_string().contains("alice@example.com"));
    // An audience list containing ours is fine, and a little clock skew is tolerated.
    let mut c = claims("auth0|alice");
    c["aud"] = json!(["other", AUDIENCE]);
    c["exp"] = json!(now() - LEEWAY / 2);
    assert_eq!(w.me(&rs256("rsa-1", &c)).await.0, 200);
    // Both keys came from one fetch of the JWKS.
    assert_eq!(w.idp.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_refused() {
    let w = world().await;
    let k = keys();
    let mut cases: Vec<(&str, String)> = Vec::new();
    let good = claims("auth0|alice");

    cases.push((
        "bad_signature",
        sign(Algorithm::RS256, "rsa-1", &good, &rsa_signer(&k.forger)),
    ));
    let mut c = good.clone();
    c["iss"] = json!("https://evil.example.test/");
    cases.push(("wrong_issuer", rs256("rsa-1", &c)));
    let mut c = good.clone();
    c["aud"] = json!("https://someone-else.test");
    cases.push(("wrong_audience", rs256("rsa-1", &c)));
    let mut c = good.clone();
    c["exp"] = json!(now() - LEEWAY - 60);
    cases.push(("expired", rs256("rsa-1", &c)));
    let mut c = good.clone();
    c["nbf"] = json!(now() + LEEWAY + 600);
    cases.push(("not_yet_valid", rs256("rsa-1", &c)));
    // alg "none", unsigned.
    let header = b64(br#"{"alg":"none","typ":"JWT","kid":"rsa-1"}"#);
    let payload = b64(good.to_string().as_bytes());
    cases.push(("unsupported_algorithm", format!("{header}.{payload}.")));
    // HS256 "signed" with the provider's public key as an HMAC secret.
    let public_pem = k
        .rsa1
        .to_public_key()
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let hmac = EncodingKey::from_secret(public_pem.as_bytes());
    cases.push((
        "unsupported_algorithm",
        sign(Algorithm::HS256, "rsa-1", &good, &hmac),
    ));
    // An ES256 header on an RSA key id: the key type does not match.
    cases.push((
        "unknown_kid",
        sign(Algorithm::ES256, "rsa-1", &good, &ec_signer(&k.ec)),
    ));
    // A provider token without a subject, and one for nobody we know.
    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("sub");
    cases.push(("missing_claim", rs256("rsa-1", &c)));
    cases.push(("unknown_subject", rs256("rsa-1", &claims("auth0|mallory"))));
    // Nor can a provider token claim a local user's placeholder subject.
    let mut conn = w.server.db.owner.acquire().await.unwrap();
    let local_user = modernize_db::identity::create_user(&mut conn, "bob@example.com", None, None)
        .await
        .unwrap();
    drop(conn);
    cases.push((
        "unknown_subject",
        rs256("rsa-1", &claims(&format!("local|{local_user}"))),
    ));

    for (reason, token) in &cases {
        let (status, body) = w.me(token).await;
        assert_eq!(status, 401, "{reason}: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{reason}");
    }
    let mut expected: Vec<String> = cases.iter().map(|(r, _)| r.to_string()).collect();
    let mut got = w.reasons().await;
    expected.sort();
    got.sort();
    assert_eq!(got, expected);

    // Tokens claiming the local issuer are verified with the local key and HS256 only: an
    // RS256 one is refused, and so is an HS256 one signed with the provider's public key.
    let mut local = good.clone();
    local["iss"] = json!("modernize");
    local["aud"] = json!("modernize-api");
    local["sid"] = json!(uuid::Uuid::new_v4());
    assert_eq!(w.me(&rs256("rsa-1", &local)).await.0, 401);
    assert_eq!(
        w.me(&sign(Algorithm::HS256, "rsa-1", &local, &hmac))
            .await
            .0,
        401
    );
    // Garbage.
    assert_eq!(w.me("not.a.jwt").await.0, 401);
    assert_eq!(w.me("eyJhbGciOiJSUzI1NiJ9.e30.c2ln").await.0, 401);
}

#[tokio::test]
async fn an_unknown_key_id_triggers_one_refetch() {
    let w = world().await;
    let k = keys();
    assert_eq!(w.me(&rs256("rsa-1", &claims("auth0|alice"))).await.0, 200);
    assert_eq!(w.idp.fetches.load(Ordering::SeqCst), 1);

    // The provider rotates its signing key.
    *w.idp.jwks.lock().unwrap() = json!({"keys": [rsa_jwk(&k.rsa2, "rsa-2")]});
    let rotated = sign(
        Algorithm::RS256,
        "rsa-2",
        &claims("auth0|alice"),
        &rsa_signer(&k.rsa2),
    );
    let (status, body) = w.me(&rotated).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.idp.fetches.load(Ordering::SeqCst), 2);
    // Cached now: no more fetches.
    assert_eq!(w.me(&rotated).await.0, 200);
    assert_eq!(w.idp.fetches.load(Ordering::SeqCst), 2);

    // Made-up key ids do not make the server hammer the provider.
    for kid in ["rsa-3", "rsa-4", "rsa-5"] {
        let t = sign(
            Algorithm::RS256,
            kid,
            &claims("auth0|alice"),
            &rsa_signer(&k.rsa2),
        );
        assert_eq!(w.me(&t).await.0, 401);
    }
    assert_eq!(w.idp.fetches.load(Ordering::SeqCst), 2);
    assert!(w.reasons().await.iter().all(|r| r == "unknown_kid"));
    // The rotated-out key is gone from the refreshed cache.
    assert_eq!(w.me(&rs256("rsa-1", &claims("auth0|alice"))).await.0, 401);
}

#[tokio::test]
async fn deactivated_users_are_refused() {
    let w = world().await;
    let token = rs256("rsa-1", &claims("auth0|alice"));
    assert_eq!(w.me(&token).await.0, 200);
    sqlx::query("UPDATE migration.users SET is_active = false WHERE auth0_user_id = 'auth0|alice'")
        .execute(&w.server.db.owner)
        .await
        .unwrap();
    assert_eq!(w.me(&token).await.0, 401);
    assert_eq!(w.reasons().await, vec!["user_inactive".to_string()]);
}

#[tokio::test]
async fn an_unreachable_provider_fails_closed() {
    let db = modernize_testkit::TestDb::new().await;
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let auth = AuthSettings {
        oidc: Some(OidcSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_url: format!("http://127.0.0.1:{port}/jwks"),
            leeway_secs: 30,
            jwks_cache_secs: 3600,
        }),
        ..AuthSettings::default()
    };
    let state = AppState::new(db.database(), common::settings()).with_auth(auth);
    let server = common::start_router(db, modernize_server::app(state)).await;
    let resp = server
        .client
        .get(server.url("/api/v1/me"))
        .bearer_auth(rs256("rsa-1", &claims("auth0|alice")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[tokio::test]
async fn without_a_provider_foreign_tokens_are_refused() {
    let server = common::start().await;
    let resp = server
        .client
        .get(server.url("/api/v1/me"))
        .bearer_auth(rs256("rsa-1", &claims("auth0|alice")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
