//! Local login as its users meet it: passwords set by an administrator, login, lockout with
//! backoff, the TOTP second factor, refresh-token rotation with theft detection, logout and
//! password changes — and no secret in any answer.

mod common;

use modernize_domain::access::{Role, Scope};
use modernize_domain::ids::UserId;
use modernize_server::AppState;
use modernize_server::settings::AuthSettings;
use modernize_server::vault::Keyring;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery staple";

struct World {
    server: common::Running,
    admin: String,
    /// Every answer body seen, to check that no secret leaked.
    seen: std::sync::Mutex<Vec<String>>,
}

fn keyring() -> Keyring {
    let mut keys = BTreeMap::new();
    keys.insert("k1".to_string(), Keyring::generate_key());
    Keyring::new("k1", &keys).unwrap()
}

/// A server with the given authentication settings and a vault key.
async fn world_with(auth: AuthSettings) -> World {
    let db = modernize_testkit::TestDb::new().await;
    let state = AppState::new(db.database(), common::settings())
        .with_auth(auth)
        .with_keyring(keyring());
    world_from(common::start_router(db, modernize_server::app(state)).await).await
}

async fn world_from(server: common::Running) -> World {
    let (_, admin) = common::user_with_token(
        &server.db,
        "root@example.com",
        &[(Role::Admin, Scope::Platform)],
    )
    .await;
    World {
        server,
        admin,
        seen: std::sync::Mutex::new(Vec::new()),
    }
}

async fn world() -> World {
    world_with(AuthSettings {
        lockout_threshold: 3,
        lockout_base_secs: 1,
        ..AuthSettings::default()
    })
    .await
}

struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
}

impl World {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self
            .server
            .client
            .request(method.parse().unwrap(), self.server.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = resp.text().await.unwrap();
        self.seen.lock().unwrap().push(text.clone());
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            retry_after,
        }
    }

    /// A user with a password set by the platform administrator through the API.
    async fn user(&self, email: &str) -> UserId {
        let (user, _) = common::user_with_token(&self.server.db, email, &[]).await;
        let a = self
            .call(
                "PUT",
                &format!("/api/v1/users/{user}/password"),
                Some(&self.admin),
                Some(json!({"new_password": PASSWORD})),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        user
    }

    async fn login(&self, email: &str, password: &str, code: Option<&str>) -> Answer {
        let mut body = json!({"email": email, "password": password});
        if let Some(code) = code {
            body["totp_code"] = code.into();
        }
        self.call("POST", "/api/v1/auth/login", None, Some(body))
            .await
    }

    async fn refresh(&self, token: &str) -> Answer {
        self.call(
            "POST",
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
        .await
    }

    async fn events(&self, event_type: &str) -> Vec<(Option<String>, String, bool, String)> {
        sqlx::query_as(
            "SELECT error_code, severity, requires_review, actor_user_id \
               FROM migration.security_audit_logs WHERE event_type = $1 ORDER BY created_at",
        )
        .bind(event_type)
        .fetch_all(&self.server.db.owner)
        .await
        .unwrap()
    }

    fn assert_no_secret(&self, secrets: &[&str]) {
        for body in self.seen.lock().unwrap().iter() {
            assert!(
                !body.contains("$argon2"),
                "a password hash in an answer: {body}"
            );
            for secret in secrets {
                assert!(!body.contains(secret), "a secret in an answer: {body}");
            }
        }
    }
}

fn code(a: &Answer) -> &str {
    a.body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn local_login_gives_an_access_token_that_works() {
    let w = world().await;
    let alice = w.user("alice@example.com").await;
    let a = w.login("Alice@Example.com ", PASSWORD, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["expires_in"], 900);
    let access = a.body["access_token"].as_str().unwrap().to_string();
    assert!(
        a.body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("mdzr_")
    );

    let clients = w.call("GET", "/api/v1/clients", Some(&access), None).await;
    assert_eq!(clients.status, 200, "{}", clients.body);
    let me = w.call("GET", "/api/v1/me", Some(&access), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.to_string().contains("alice@example.com"));

    // A tampered token is refused.
    let mut tampered = access.clone();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    let t = w
        .call("GET", "/api/v1/clients", Some(&tampered), None)
        .await;
    assert_eq!(t.status, 401);

    let ok = w.events("login.succeeded").await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].3, alice.to_string());
    // The hash is argon2id with the documented parameters, never in clear.
    let (phc,): (String,) =
        sqlx::query_as("SELECT password_hash FROM migration.user_credentials WHERE user_id = $1")
            .bind(alice.0)
            .fetch_one(&w.server.db.owner)
            .await
            .unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    w.assert_no_secret(&[PASSWORD]);
}

#[tokio::test]
async fn setting_passwords_is_validated_and_for_platform_admins() {
    let w = world().await;
    let (bob, bob_token) = common::user_with_token(&w.server.db, "bob@example.com", &[]).await;
    let path = format!("/api/v1/users/{bob}/password");
    let a = w
        .call(
            "PUT",
            &path,
            Some(&bob_token),
            Some(json!({"new_password": PASSWORD})),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    for bad in ["short", "bob@example.com", &"x".repeat(257)] {
        let a = w
            .call(
                "PUT",
                &path,
                Some(&w.admin),
                Some(json!({"new_password": bad})),
            )
            .await;
        assert_eq!(a.status, 422, "{}", a.body);
        assert_eq!(a.body["error"]["details"][0]["field"], "new_password");
    }
    let a = w.call("PUT", &path, Some(&w.admin), Some(json!({}))).await;
    assert_eq!(a.status, 422);
    let missing = format!("/api/v1/users/{}/password", uuid::Uuid::new_v4());
    let a = w
        .call(
            "PUT",
            &missing,
            Some(&w.admin),
            Some(json!({"new_password": PASSWORD})),
        )
        .await;
    assert_eq!(a.status, 404);
    // Without a profile row, the profile is created.
    sqlx::query("DELETE FROM migration.user_profiles WHERE user_id = $1")
        .bind(bob.0)
        .execute(&w.server.db.owner)
        .await
        .unwrap();
    let a = w
        .call(
            "PUT",
            &path,
            Some(&w.admin),
            Some(json!({"new_password": PASSWORD})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (at,): (Option<chrono::DateTime<chrono::Utc>>,) = sqlx::query_as(
        "SELECT password_changed_at FROM migration.user_profiles WHERE user_id = $1",
    )
    .bind(bob.0)
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert!(at.is_some());
    assert_eq!(w.login("bob@example.com", PASSWORD, None).await.status, 200);
    // Login input is validated too.
    let a = w
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "bob@example.com"})),
        )
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.body["error"]["details"][0]["field"], "password");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_are_indistinguishable() {
    let w = world().await;
    w.user("carol@example.com").await;
    let unknown = w.login("nobody@example.com", PASSWORD, None).await;
    let wrong = w
        .login("carol@example.com", "wrong password, long enough", None)
        .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.body["error"]["code"], "invalid_credentials");
    assert_eq!(unknown.body["error"]["code"], wrong.body["error"]["code"]);
    assert_eq!(
        unknown.body["error"]["message"],
        wrong.body["error"]["message"]
    );
    // A user without a local password (an identity-provider user) looks the same.
    common::user_with_token(&w.server.db, "idp@example.com", &[]).await;
    let idp = w.login("idp@example.com", PASSWORD, None).await;
    assert_eq!(idp.body["error"], {
        let mut e = unknown.body["error"].clone();
        e["request_id"] = idp.body["error"]["request_id"].clone();
        e
    });
    let failed = w.events("login.failed").await;
    assert_eq!(failed.len(), 3);
    assert!(
        failed
            .iter()
            .all(|f| f.0.as_deref() == Some("invalid_credentials"))
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_backoff() {
    let w = world().await;
    w.user("dave@example.com").await;
    let wrong = "not the password at all";
    for _ in 0..2 {
        let a = w.login("dave@example.com", wrong, None).await;
        assert_eq!((a.status, code(&a)), (401, "invalid_credentials"));
    }
    // The third consecutive failure locks for lockout_base_secs = 1 s.
    let a = w.login("dave@example.com", wrong, None).await;
    assert_eq!((a.status, code(&a)), (429, "account_locked"), "{}", a.body);
    assert_eq!(a.retry_after, Some(1));
    // While locked, even the right password is refused, without a new failure counted.
    let a = w.login("dave@example.com", PASSWORD, None).await;
    assert_eq!((a.status, code(&a)), (429, "account_locked"));
    assert!(a.retry_after.is_some());

    tokio::time::sleep(Duration::from_millis(1100)).await;
    // One more failure after the lock: locked again, twice as long.
    let a = w.login("dave@example.com", wrong, None).await;
    assert_eq!((a.status, code(&a)), (429, "account_locked"));
    assert_eq!(a.retry_after, Some(2));

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a = w.login("dave@example.com", PASSWORD, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Success reset the count: one failure is just a failure.
    let a = w.login("dave@example.com", wrong, None).await;
    assert_eq!((a.status, code(&a)), (401, "invalid_credentials"));

    let locked = w.events("account.locked").await;
    assert_eq!(locked.len(), 2);
    let failed = w.events("login.failed").await;
    assert!(
        failed
            .iter()
            .any(|f| f.0.as_deref() == Some("account_locked"))
    );
}

#[tokio::test]
async fn deactivated_users_cannot_log_in_or_use_their_session() {
    let w = world().await;
    let erin = w.user("erin@example.com").await;
    let pair = w.login("erin@example.com", PASSWORD, None).await.body;
    sqlx::query("UPDATE migration.users SET is_active = false WHERE id = $1")
        .bind(erin.0)
        .execute(&w.server.db.owner)
        .await
        .unwrap();
    let a = w.login("erin@example.com", PASSWORD, None).await;
    assert_eq!((a.status, code(&a)), (401, "user_inactive"));
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(
        w.call("GET", "/api/v1/clients", Some(access), None)
            .await
            .status,
        401
    );
    let r = w.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, 401);
    let failed = w.events("login.failed").await;
    assert!(
        failed
            .iter()
            .any(|f| f.0.as_deref() == Some("user_inactive"))
    );
    let auth_failed = w.events("auth.failed").await;
    assert!(
        auth_failed
            .iter()
            .any(|f| f.0.as_deref() == Some("user_inactive"))
    );
}

fn totp_code(secret_b32: &str, time: u64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        String::new(),
    )
    .generate(time)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn totp_second_factor() {
    let w = world().await;
    let frank = w.user("frank@example.com").await;
    let access = w.login("frank@example.com", PASSWORD, None).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Codes below are for the previous, current and next 30-s step; stay clear of a boundary.
    if now() % 30 > 24 {
        tokio::time::sleep(Duration::from_secs(31 - now() % 30)).await;
    }
    let setup = w
        .call("POST", "/api/v1/me/mfa/totp", Some(&access), None)
        .await;
    assert_eq!(setup.status, 201, "{}", setup.body);
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    let url = setup.body["otpauth_url"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/Modernize:frank%40example.com?"),
        "{url}"
    );
    assert!(url.contains(&format!("secret={secret}")));

    // Stored sealed, bound to the user, never in clear.
    let (blob, key_id, confirmed): (Vec<u8>, String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as(
            "SELECT totp_secret_encrypted, totp_encryption_key_id, totp_confirmed_at \
               FROM migration.user_credentials WHERE user_id = $1",
        )
        .bind(frank.0)
        .fetch_one(&w.server.db.owner)
        .await
        .unwrap();
    let raw = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
    assert!(!blob.windows(raw.len()).any(|win| win == raw.as_slice()));
    assert_eq!(key_id, "k1");
    assert!(confirmed.is_none());

    // Not yet confirmed: login needs no code.
    assert_eq!(
        w.login("frank@example.com", PASSWORD, None).await.status,
        200
    );

    let t = now();
    let wrong = if totp_code(&secret, t) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let a = w
        .call(
            "POST",
            "/api/v1/me/mfa/totp/confirm",
            Some(&access),
            Some(json!({"code": wrong})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = w
        .call(
            "POST",
            "/api/v1/me/mfa/totp/confirm",
            Some(&access),
            Some(json!({"code": totp_code(&secret, t - 30)})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["mfa_enabled"], true);
    let (enabled,): (Option<bool>,) =
        sqlx::query_as("SELECT mfa_enabled FROM migration.user_profiles WHERE user_id = $1")
            .bind(frank.0)
            .fetch_one(&w.server.db.owner)
            .await
            .unwrap();
    assert_eq!(enabled, Some(true));
    // A second setup is refused while MFA is on.
    let a = w
        .call("POST", "/api/v1/me/mfa/totp", Some(&access), None)
        .await;
    assert_eq!(a.status, 409);

    let a = w.login("frank@example.com", PASSWORD, None).await;
    assert_eq!((a.status, code(&a)), (401, "mfa_required"));
    let a = w.login("frank@example.com", PASSWORD, Some(wrong)).await;
    assert_eq!((a.status, code(&a)), (401, "invalid_mfa_code"));
    // A wrong password with a code is still just a wrong password.
    let a = w
        .login(
            "frank@example.com",
            "wrong password, long enough",
            Some(&totp_code(&secret, t)),
        )
        .await;
    assert_eq!((a.status, code(&a)), (401, "invalid_credentials"));
    let current = totp_code(&secret, t);
    let a = w.login("frank@example.com", PASSWORD, Some(&current)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The same code again: refused (replay), and counted as a failure.
    let a = w.login("frank@example.com", PASSWORD, Some(&current)).await;
    assert_eq!((a.status, code(&a)), (401, "invalid_mfa_code"));
    // So is an older step.
    let a = w
        .login(
            "frank@example.com",
            PASSWORD,
            Some(&totp_code(&secret, t - 30)),
        )
        .await;
    assert!(a.status == 401 || a.status == 429, "{}", a.body);

    let me = w.call("GET", "/api/v1/me", Some(&access), None).await;
    assert_eq!(me.status, 200);

    // Disabling needs a fresh code.
    let a = w
        .call(
            "DELETE",
            "/api/v1/me/mfa/totp",
            Some(&access),
            Some(json!({"code": current})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = w
        .call(
            "DELETE",
            "/api/v1/me/mfa/totp",
            Some(&access),
            Some(json!({"code": totp_code(&secret, t + 30)})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["mfa_enabled"], false);
    let a = w
        .call(
            "DELETE",
            "/api/v1/me/mfa/totp",
            Some(&access),
            Some(json!({"code": "123456"})),
        )
        .await;
    assert_eq!(a.status, 409);

    assert_eq!(w.events("mfa.enabled").await.len(), 1);
    assert_eq!(w.events("mfa.disabled").await.len(), 1);
    let failed = w.events("login.failed").await;
    assert!(
        failed
            .iter()
            .any(|f| f.0.as_deref() == Some("mfa_required"))
    );
    assert!(
        failed
            .iter()
            .any(|f| f.0.as_deref() == Some("invalid_mfa_code"))
    );

    // The secret was in the setup answer only.
    w.seen.lock().unwrap().retain(|b| !b.contains("otpauth://"));
    w.assert_no_secret(&[&secret, PASSWORD]);
}

#[tokio::test]
async fn totp_needs_a_vault_key() {
    // The default application state: no vault key.
    let w = world_from(common::start().await).await;
    w.user("gina@example.com").await;
    let access = w.login("gina@example.com", PASSWORD, None).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let a = w
        .call("POST", "/api/v1/me/mfa/totp", Some(&access), None)
        .await;
    assert_eq!((a.status, code(&a)), (503, "vault_not_configured"));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_session() {
    let w = world().await;
    let hank = w.user("hank@example.com").await;
    let first = w.login("hank@example.com", PASSWORD, None).await.body;
    let r1 = first["refresh_token"].as_str().unwrap();

    let second = w.refresh(r1).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let r2 = second.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    let a2 = second.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        w.call("GET", "/api/v1/clients", Some(&a2), None)
            .await
            .status,
        200
    );

    let third = w.refresh(&r2).await;
    assert_eq!(third.status, 200);
    let r3 = third.body["refresh_token"].as_str().unwrap().to_string();
    let a3 = third.body["access_token"].as_str().unwrap().to_string();

    // The first token comes back: theft. The whole session ends.
    let reuse = w.refresh(r1).await;
    assert_eq!(reuse.status, 401);
    assert_eq!(w.refresh(&r3).await.status, 401);
    assert_eq!(
        w.call("GET", "/api/v1/clients", Some(&a3), None)
            .await
            .status,
        401
    );
    let detected = w.events("refresh.reuse_detected").await;
    assert_eq!(detected.len(), 1);
    assert_eq!(detected[0].1, "CRITICAL");
    assert!(detected[0].2, "requires review");
    assert_eq!(detected[0].3, hank.to_string());
    assert_eq!(w.events("token.refreshed").await.len(), 2);

    // Another session of the same user is untouched.
    let other = w.login("hank@example.com", PASSWORD, None).await.body;
    let other_refresh = other["refresh_token"].as_str().unwrap();
    let a = w.refresh(other_refresh).await;
    assert_eq!(a.status, 200);

    // Expired refresh tokens are refused.
    let r = a.body["refresh_token"].as_str().unwrap();
    sqlx::query("UPDATE migration.refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(hank.0)
        .execute(&w.server.db.owner)
        .await
        .unwrap();
    assert_eq!(w.refresh(r).await.status, 401);
    // Garbage is refused with the same answer, and validated.
    assert_eq!(w.refresh("mdzr_nonsense").await.status, 401);
    let a = w
        .call("POST", "/api/v1/auth/refresh", None, Some(json!({})))
        .await;
    assert_eq!(a.status, 422);

    // Stored as digests only.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.refresh_tokens WHERE octet_length(token_hash) = 32",
    )
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let w = world().await;
    w.user("ivan@example.com").await;
    let pair = w.login("ivan@example.com", PASSWORD, None).await.body;
    let access = pair["access_token"].as_str().unwrap();
    let refresh = pair["refresh_token"].as_str().unwrap();
    let a = w
        .call(
            "POST",
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(w.refresh(refresh).await.status, 401);
    assert_eq!(
        w.call("GET", "/api/v1/clients", Some(access), None)
            .await
            .status,
        401
    );
    // Idempotent, and silent about unknown tokens.
    let a = w
        .call(
            "POST",
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(a.status, 204);
    assert_eq!(w.events("logout").await.len(), 2);
}

#[tokio::test]
async fn changing_the_password_ends_every_session() {
    let w = world().await;
    let judy = w.user("judy@example.com").await;
    let before: (Option<chrono::DateTime<chrono::Utc>>,) = sqlx::query_as(
        "SELECT password_changed_at FROM migration.user_profiles WHERE user_id = $1",
    )
    .bind(judy.0)
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    let one = w.login("judy@example.com", PASSWORD, None).await.body;
    let two = w.login("judy@example.com", PASSWORD, None).await.body;
    let access = one["access_token"].as_str().unwrap();
    let new_password = "a brand new passphrase";

    let a = w
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(access),
            Some(json!({"new_password": new_password})),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.body["error"]["details"][0]["field"], "current_password");
    let a = w
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(access),
            Some(json!({"current_password": PASSWORD, "new_password": "judy@example.com"})),
        )
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.body["error"]["details"][0]["field"], "new_password");
    let a = w
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(access),
            Some(json!({"current_password": "wrong password, long enough", "new_password": new_password})),
        )
        .await;
    assert_eq!((a.status, code(&a)), (401, "invalid_credentials"));

    let a = w
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(access),
            Some(json!({"current_password": PASSWORD, "new_password": new_password})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["sessions_revoked"], 2);
    let after: (Option<chrono::DateTime<chrono::Utc>>,) = sqlx::query_as(
        "SELECT password_changed_at FROM migration.user_profiles WHERE user_id = $1",
    )
    .bind(judy.0)
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert!(after.0.unwrap() > before.0.unwrap());

    for pair in [&one, &two] {
        assert_eq!(
            w.refresh(pair["refresh_token"].as_str().unwrap())
                .await
                .status,
            401
        );
        let access = pair["access_token"].as_str().unwrap();
        assert_eq!(
            w.call("GET", "/api/v1/clients", Some(access), None)
                .await
                .status,
            401
        );
    }
    assert_eq!(
        w.login("judy@example.com", PASSWORD, None).await.status,
        401
    );
    assert_eq!(
        w.login("judy@example.com", new_password, None).await.status,
        200
    );
    // An API token of the user keeps working (it is not a session), and a user without a
    // password sets a first one without a current password.
    let (_, token) = common::user_with_token(&w.server.db, "kim@example.com", &[]).await;
    let a = w
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&token),
            Some(json!({"new_password": new_password})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        w.login("kim@example.com", new_password, None).await.status,
        200
    );
    assert_eq!(w.events("password.changed").await.len(), 3);
    w.assert_no_secret(&[PASSWORD, new_password]);
}
