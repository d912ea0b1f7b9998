//! Platform credentials through the API and the internal decrypt path: secrets never leave the
//! vault (no API response, no database column holds the plaintext), sealed secrets are bound to
//! their row and client, tenants cannot reach each other's credentials, and every read is
//! audited.

mod common;

use modernize_domain::access::{Role, Scope};
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use modernize_server::AppState;
use modernize_server::vault::credentials::{self as vault, RevealError};
use modernize_server::vault::{Keyring, rotate};
use modernize_testkit::TestDb;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// name, status, sealed secret, key id, updated_at of a credential row.
type RowState = (
    String,
    Option<String>,
    Vec<u8>,
    Option<String>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// client, actor, actor role, result, details of an audit row.
type AuditRow = (Option<Uuid>, String, Option<String>, String, Value);

struct World {
    server: common::Running,
    state: AppState,
    admin: String,
}

fn keyring(active: &str, keys: &[(&str, &str)]) -> Keyring {
    let keys: BTreeMap<String, String> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Keyring::new(active, &keys).unwrap()
}

async fn world_with(ring: Option<Keyring>) -> World {
    let db = TestDb::new().await;
    let mut state = AppState::new(db.database(), common::settings());
    if let Some(ring) = ring {
        state = state.with_keyring(ring);
    }
    let server = common::start_router(db, modernize_server::app(state.clone())).await;
    let (_, admin) = common::user_with_token(
        &server.db,
        "root@example.com",
        &[(Role::Admin, Scope::Platform)],
    )
    .await;
    World {
        server,
        state,
        admin,
    }
}

async fn world() -> World {
    world_with(Some(keyring("k1", &[("k1", &Keyring::generate_key())]))).await
}

/// A distinctive random string that cannot appear anywhere by accident.
fn plaintext() -> String {
    format!("PLAIN-{}", Uuid::new_v4().simple())
}

impl World {
    /// (status, parsed body, raw body text)
    async fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value, String) {
        let mut req = self
            .server
            .client
            .request(method.parse().unwrap(), self.server.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value, text)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, value, _) = self.call_raw(method, path, token, body).await;
        (status, value)
    }

    async fn client(&self, slug: &str) -> ClientAccountId {
        let (status, client) = self
            .call(
                "POST",
                "/api/v1/clients",
                &self.admin,
                Some(json!({"name": format!("Client {slug}"), "slug": slug})),
            )
            .await;
        assert_eq!(status, 201, "{client}");
        ClientAccountId(client["id"].as_str().unwrap().parse().unwrap())
    }

    async fn adapter(&self, name: &str) -> Uuid {
        let (status, adapter) = self
            .call(
                "POST",
                "/api/v1/admin/adapters",
                &self.admin,
                Some(json!({"adapter_name": name, "adapter_type": "discovery", "version": "1.0"})),
            )
            .await;
        assert_eq!(status, 201, "{adapter}");
        adapter["id"].as_str().unwrap().parse().unwrap()
    }

    async fn user(&self, email: &str, role: Role, client: ClientAccountId) -> String {
        common::user_with_token(
            &self.server.db,
            email,
            &[(
                role,
                Scope::Client {
                    client_account_id: client,
                },
            )],
        )
        .await
        .1
    }

    async fn credential(
        &self,
        token: &str,
        client: ClientAccountId,
        adapter: Uuid,
        name: &str,
        secret: Value,
    ) -> Uuid {
        let (status, body) = self
            .call(
                "POST",
                &format!("/api/v1/clients/{client}/credentials"),
                token,
                Some(
                    json!({"platform_adapter_id": adapter, "credential_name": name,
                            "credential_type": "api_key", "secret": secret}),
                ),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().parse().unwrap()
    }

    async fn reveal(&self, client: ClientAccountId, id: Uuid) -> Result<Value, RevealError> {
        vault::reveal(
            &self.state,
            TenantScope::Client {
                client_account_id: client,
                user_id: None,
            },
            client,
            id,
            "test",
        )
        .await
        .map(|s| s.expose_json().unwrap())
    }

    /// Everything that describes a credential row, to check that nothing changed.
    async fn row(&self, id: Uuid) -> Option<RowState> {
        sqlx::query_as(
            "SELECT credential_name, status, encrypted_credentials, encryption_key_id, updated_at \
             FROM migration.platform_credentials WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.server.db.owner)
        .await
        .unwrap()
    }
}

/// Number of values containing `needle` in any text, json or bytea column of any table of
/// schema `migration`, by table.column (read as the owner, which bypasses row-level security).
async fn occurrences(db: &TestDb, needle: &str) -> Vec<String> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
         FROM information_schema.columns c \
         JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = 'migration' AND t.table_type = 'BASE TABLE' \
           AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', \
                               'bytea', 'ARRAY', 'USER-DEFINED') \
         ORDER BY 1, 2",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert!(
        columns.len() > 50,
        "the scan sees the schema: {}",
        columns.len()
    );
    let mut found = Vec::new();
    for (table, column, data_type) in columns {
        let condition = if data_type == "bytea" {
            format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0")
        } else {
            format!("strpos(\"{column}\"::text, $1) > 0")
        };
        let (n,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM migration.\"{table}\" WHERE {condition}"
        ))
        .bind(needle)
        .fetch_one(&db.owner)
        .await
        .unwrap_or_else(|e| panic!("scan {table}.{column}: {e}"));
        if n > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

#[tokio::test]
async fn a_secret_appears_in_no_api_response_and_no_database_column() {
    let w = world().await;
    let client = w.client("acme").await;
    let adapter = w.adapter("servicenow").await;
    let admin = w.user("admin@acme.example", Role::Admin, client).await;
    let (first, second) = (plaintext(), plaintext());
    let base = format!("/api/v1/clients/{client}/credentials");

    let (status, created, text) = w
        .call_raw(
            "POST",
            &base,
            &admin,
            Some(
                json!({"platform_adapter_id": adapter, "credential_name": "prod",
                        "credential_type": "oauth2", "vault_path": "kv/acme/prod",
                        "secret": {"client_id": "app", "client_secret": first}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    assert!(!text.contains(&first));
    let id = created["id"].as_str().unwrap().to_string();
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    for forbidden in ["secret", "encrypted_credentials", "ciphertext"] {
        assert!(!keys.iter().any(|k| k.contains(forbidden)), "{keys:?}");
    }
    assert_eq!(created["encryption_key_id"], "k1");
    assert_eq!(created["status"], "active");
    assert_eq!(created["adapter_name"], "servicenow");
    assert_eq!(created["credential_type"], "oauth2");
    assert!(created["last_rotated_at"].is_null());

    let (status, _, text) = w.call_raw("GET", &base, &admin, None).await;
    assert_eq!(status, 200);
    assert!(!text.contains(&first) && text.contains(&id));
    let (status, _, text) = w
        .call_raw("GET", &format!("{base}/{id}"), &admin, None)
        .await;
    assert_eq!(status, 200);
    assert!(!text.contains(&first));

    let (status, rotated, text) = w
        .call_raw(
            "PUT",
            &format!("{base}/{id}/secret"),
            &admin,
            Some(json!({"secret": second})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(&first) && !text.contains(&second));
    assert!(rotated["last_rotated_at"].is_string());

    let (status, patched, text) = w
        .call_raw(
            "PATCH",
            &format!("{base}/{id}"),
            &w.admin,
            Some(json!({"credential_name": "production", "expires_at": "2999-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(&second));
    assert_eq!(patched["credential_name"], "production");
    assert_eq!(patched["expires_at"], "2999-01-01T00:00:00Z");
    let (_, cleared) = w
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            &admin,
            Some(json!({"expires_at": null})),
        )
        .await;
    assert!(cleared["expires_at"].is_null(), "{cleared}");

    // The internal path opens the current secret.
    let credential: Uuid = id.parse().unwrap();
    assert_eq!(w.reveal(client, credential).await.unwrap(), json!(second));

    // Nowhere in the database, audit log included.
    for secret in [&first, &second] {
        assert_eq!(
            occurrences(&w.server.db, secret).await,
            Vec::<String>::new()
        );
    }
    // The scan does find what is stored in clear (it would find a leak).
    assert_eq!(
        occurrences(&w.server.db, "kv/acme/prod").await,
        vec!["platform_credentials.vault_path".to_string()]
    );

    // Every change is audited, without the secret.
    let events: Vec<(String, Value)> = sqlx::query_as(
        "SELECT event_type, details FROM migration.security_audit_logs \
         WHERE target_id = $1 ORDER BY created_at",
    )
    .bind(&id)
    .fetch_all(&w.server.db.owner)
    .await
    .unwrap();
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "credential.stored",
            "credential.rotated",
            "credential.updated",
            "credential.updated",
            "credential.read"
        ]
    );

    let (status, _) = w
        .call("DELETE", &format!("{base}/{id}"), &admin, None)
        .await;
    assert_eq!(status, 204);
    assert!(w.row(credential).await.is_none());
    let (status, _) = w.call("GET", &format!("{base}/{id}"), &admin, None).await;
    assert_eq!(status, 404);
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'credential.deleted' AND target_id = $1",
    )
    .bind(&id)
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_ciphertext_copied_to_another_row_or_client_does_not_open() {
    let w = world().await;
    let (a, b) = (w.client("alpha").await, w.client("beta").await);
    let adapter = w.adapter("vmware").await;
    let secret = plaintext();
    let original = w
        .credential(&w.admin, a, adapter, "one", json!(secret.clone()))
        .await;
    let other_row = w.credential(&w.admin, a, adapter, "two", json!("x")).await;
    let other_client = w.credential(&w.admin, b, adapter, "one", json!("y")).await;
    for target in [other_row, other_client] {
        sqlx::query(
            "UPDATE migration.platform_credentials t SET encrypted_credentials = s.encrypted_credentials, \
                 encryption_key_id = s.encryption_key_id \
             FROM migration.platform_credentials s WHERE s.id = $1 AND t.id = $2",
        )
        .bind(original)
        .bind(target)
        .execute(&w.server.db.owner)
        .await
        .unwrap();
    }
    assert_eq!(w.reveal(a, original).await.unwrap(), json!(secret));
    assert!(matches!(
        w.reveal(a, other_row).await,
        Err(RevealError::Undecryptable { .. })
    ));
    assert!(matches!(
        w.reveal(b, other_client).await,
        Err(RevealError::Undecryptable { .. })
    ));
    // The failed reads are audited as errors for review.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'credential.read' \
         AND result = 'error' AND error_code = 'credential_undecryptable' AND requires_review",
    )
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn other_clients_cannot_reach_credentials_and_learn_nothing() {
    let w = world().await;
    let (a, b) = (w.client("alpha").await, w.client("beta").await);
    let adapter = w.adapter("aws").await;
    let victim = w
        .credential(&w.admin, a, adapter, "prod", json!({"k": "v"}))
        .await;
    let intruder = w.user("admin@beta.example", Role::Admin, b).await;
    let before = w.row(victim).await.unwrap();
    let missing = Uuid::new_v4();
    let body_new = json!({"platform_adapter_id": adapter, "credential_name": "x",
                          "credential_type": "api_key", "secret": "s"});
    let body_secret = json!({"secret": "stolen"});
    let body_patch = json!({"status": "revoked"});
    // Through client A's path: the client is hidden.
    // Through client B's own path with A's credential id: the credential is hidden.
    for (client, credential) in [(a, victim), (a, missing), (b, victim)] {
        let base = format!("/api/v1/clients/{client}/credentials");
        let item = format!("{base}/{credential}");
        let secret = format!("{item}/secret");
        let mut probes = vec![
            ("GET", item.clone(), None),
            ("PATCH", item.clone(), Some(body_patch.clone())),
            ("PUT", secret, Some(body_secret.clone())),
            ("DELETE", item, None),
        ];
        if client == a {
            probes.push(("GET", base.clone(), None));
            probes.push(("POST", base, Some(body_new.clone())));
        }
        for (method, path, body) in probes {
            let (status, answer) = w.call(method, &path, &intruder, body).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (404, Some("not_found")),
                "{method} {path}: {answer}"
            );
        }
    }
    assert_eq!(w.row(victim).await.unwrap(), before, "nothing changed");
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.platform_credentials WHERE client_account_id = $1",
    )
    .bind(a.0)
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(n, 1);
    // B's own listing shows nothing of A.
    let (status, list) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{b}/credentials"),
            &intruder,
            None,
        )
        .await;
    assert_eq!((status, list), (200, json!([])));
    // The internal path refuses a scope of another client.
    let wrong_scope = vault::reveal(
        &w.state,
        TenantScope::Client {
            client_account_id: b,
            user_id: None,
        },
        a,
        victim,
        "probe",
    )
    .await;
    assert!(matches!(wrong_scope, Err(RevealError::NotFound)));
    let crossed = vault::reveal(
        &w.state,
        TenantScope::Client {
            client_account_id: b,
            user_id: None,
        },
        b,
        victim,
        "probe",
    )
    .await;
    assert!(matches!(crossed, Err(RevealError::NotFound)));
}

#[tokio::test]
async fn analysts_and_viewers_may_not_manage_credentials() {
    let w = world().await;
    let a = w.client("alpha").await;
    let adapter = w.adapter("azure").await;
    let id = w.credential(&w.admin, a, adapter, "prod", json!("s")).await;
    let before = w.row(id).await.unwrap();
    for role in [Role::Analyst, Role::Viewer] {
        let token = w
            .user(&format!("{}@alpha.example", role.as_str()), role, a)
            .await;
        let base = format!("/api/v1/clients/{a}/credentials");
        let item = format!("{base}/{id}");
        for (method, path, body) in [
            ("GET", base.clone(), None),
            (
                "POST",
                base.clone(),
                Some(
                    json!({"platform_adapter_id": adapter, "credential_name": "x",
                            "credential_type": "api_key", "secret": "s"}),
                ),
            ),
            ("GET", item.clone(), None),
            ("PATCH", item.clone(), Some(json!({"status": "revoked"}))),
            (
                "PUT",
                format!("{item}/secret"),
                Some(json!({"secret": "s2"})),
            ),
            ("DELETE", item.clone(), None),
        ] {
            let (status, answer) = w.call(method, &path, &token, body).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "{role:?} {method} {path}"
            );
        }
    }
    assert_eq!(w.row(id).await.unwrap(), before);
}

#[tokio::test]
async fn credential_fields_are_validated() {
    let w = world().await;
    let a = w.client("alpha").await;
    let adapter = w.adapter("gcp").await;
    let base = format!("/api/v1/clients/{a}/credentials");
    let invalid = |body: Value, fields: &'static [&'static str]| (body, fields);
    let cases = [
        invalid(
            json!({}),
            &[
                "platform_adapter_id",
                "credential_name",
                "credential_type",
                "secret",
            ],
        ),
        invalid(
            json!({"platform_adapter_id": adapter, "credential_name": "  ", "credential_type": "password",
                   "secret": 42, "expires_at": "2001-01-01T00:00:00Z", "vault_path": "p".repeat(501)}),
            &[
                "credential_name",
                "credential_type",
                "secret",
                "expires_at",
                "vault_path",
            ],
        ),
        invalid(
            json!({"platform_adapter_id": adapter, "credential_name": "n".repeat(256),
                   "credential_type": "basic_auth", "secret": {}}),
            &["credential_name", "secret"],
        ),
        invalid(
            json!({"platform_adapter_id": adapter, "credential_name": "big",
                   "credential_type": "basic_auth", "secret": "x".repeat(64 * 1024 + 1)}),
            &["secret"],
        ),
        invalid(
            json!({"platform_adapter_id": Uuid::new_v4(), "credential_name": "n",
                   "credential_type": "api_key", "secret": ""}),
            &["secret"],
        ),
        invalid(
            json!({"platform_adapter_id": Uuid::new_v4(), "credential_name": "n",
                   "credential_type": "api_key", "secret": "s"}),
            &["platform_adapter_id"],
        ),
    ];
    for (body, fields) in cases {
        let (status, answer) = w.call("POST", &base, &w.admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "validation_failed");
        let got: Vec<&str> = answer["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(got, fields, "{answer}");
    }
    let (status, answer) = w
        .call(
            "POST",
            &base,
            &w.admin,
            Some(json!({"secret": "s", "password": "p"})),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );

    let id = w.credential(&w.admin, a, adapter, "prod", json!("s")).await;
    let (status, answer) = w
        .call(
            "POST",
            &base,
            &w.admin,
            Some(
                json!({"platform_adapter_id": adapter, "credential_name": "prod",
                        "credential_type": "api_key", "secret": "t"}),
            ),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{answer}"
    );

    let item = format!("{base}/{id}");
    for body in [
        json!({"status": "deleted"}),
        json!({"credential_name": ""}),
        json!({"expires_at": "2001-01-01T00:00:00Z"}),
    ] {
        let (status, _) = w.call("PATCH", &item, &w.admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}");
    }
    for body in [json!({}), json!({"secret": null}), json!({"secret": [1]})] {
        let (status, _) = w
            .call(
                "PUT",
                &format!("{item}/secret"),
                &w.admin,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body}");
    }
    // Credentials are stored for active adapters only.
    let (status, _) = w
        .call(
            "PATCH",
            &format!("/api/v1/admin/adapters/{adapter}"),
            &w.admin,
            Some(json!({"status": "deprecated"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = w
        .call(
            "POST",
            &base,
            &w.admin,
            Some(
                json!({"platform_adapter_id": adapter, "credential_name": "new",
                        "credential_type": "api_key", "secret": "t"}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["details"][0]["field"],
        "platform_adapter_id"
    );
}

#[tokio::test]
async fn without_master_keys_credential_routes_answer_vault_not_configured() {
    let w = world_with(None).await;
    let a = w.client("alpha").await;
    let adapter = w.adapter("aws").await;
    let base = format!("/api/v1/clients/{a}/credentials");
    for (method, path, body) in [
        (
            "POST",
            base.clone(),
            Some(
                json!({"platform_adapter_id": adapter, "credential_name": "x",
                        "credential_type": "api_key", "secret": "s"}),
            ),
        ),
        ("GET", base.clone(), None),
        (
            "PUT",
            format!("{base}/{}/secret", Uuid::new_v4()),
            Some(json!({"secret": "s"})),
        ),
    ] {
        let (status, answer) = w.call(method, &path, &w.admin, body).await;
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"]["code"], "vault_not_configured");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("vault.keys")
        );
    }
    // Others' clients stay hidden, and everything else works.
    let b = w.client("beta").await;
    let outsider = w.user("admin@beta.example", Role::Admin, b).await;
    assert_eq!(w.call("GET", &base, &outsider, None).await.0, 404);
    assert_eq!(
        w.call("GET", "/api/v1/adapters", &outsider, None).await.0,
        200
    );
    assert_eq!(
        w.call("GET", &format!("/api/v1/clients/{a}"), &w.admin, None)
            .await
            .0,
        200
    );
    let revealed = w.reveal(a, Uuid::new_v4()).await;
    assert!(matches!(revealed, Err(RevealError::NotConfigured)));
}

#[tokio::test]
async fn reveal_is_audited_and_refuses_revoked_and_expired_credentials() {
    let w = world().await;
    let a = w.client("alpha").await;
    let adapter = w.adapter("aws").await;
    let admin = w.user("admin@alpha.example", Role::Admin, a).await;
    let secret = plaintext();
    let id = w
        .credential(&admin, a, adapter, "prod", json!({"token": secret.clone()}))
        .await;
    let value = vault::reveal_as(
        &w.state,
        TenantScope::Client {
            client_account_id: a,
            user_id: None,
        },
        a,
        id,
        &vault::Actor::component("discovery-adapter"),
        "nightly inventory sync",
    )
    .await
    .unwrap();
    assert_eq!(format!("{value:?}"), "***", "Debug never shows a secret");
    assert_eq!(value.expose_json().unwrap(), json!({"token": secret}));
    // Platform scope (maintenance) may read too; its reads are audited the same way.
    let platform = vault::reveal(
        &w.state,
        TenantScope::Platform { user_id: None },
        a,
        id,
        "check",
    )
    .await
    .unwrap();
    assert_eq!(platform.expose_bytes(), value.expose_bytes());
    assert!(matches!(
        vault::reveal(
            &w.state,
            TenantScope::Platform { user_id: None },
            a,
            id,
            " "
        )
        .await,
        Err(RevealError::BadPurpose)
    ));

    let audit: Vec<AuditRow> = sqlx::query_as(
        "SELECT client_account_id, actor_user_id, actor_role, result, details \
         FROM migration.security_audit_logs WHERE event_type = 'credential.read' ORDER BY created_at",
    )
    .fetch_all(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(audit.len(), 2);
    let (client, actor, role, result, details) = &audit[0];
    assert_eq!(*client, Some(a.0));
    assert_eq!(actor, "system");
    assert_eq!(role.as_deref(), Some("discovery-adapter"));
    assert_eq!(result, "success");
    assert_eq!(details["purpose"], "nightly inventory sync");
    // The client's administrators see the reads of their credentials (RLS scope of the client).
    let mut tx = modernize_db::tenant::begin(
        &w.server.db.app,
        TenantScope::Client {
            client_account_id: a,
            user_id: None,
        },
    )
    .await
    .unwrap();
    let (visible,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'credential.read'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(visible, 2);
    tx.rollback().await.unwrap();

    // Revoked.
    let (status, _) = w
        .call(
            "PATCH",
            &format!("/api/v1/clients/{a}/credentials/{id}"),
            &admin,
            Some(json!({"status": "revoked"})),
        )
        .await;
    assert_eq!(status, 200);
    let err = w.reveal(a, id).await.unwrap_err();
    assert!(matches!(err, RevealError::Revoked(_)), "{err}");
    assert!(err.to_string().contains("revoked"));

    // Expired.
    sqlx::query(
        "UPDATE migration.platform_credentials SET status = 'active', \
             expires_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(id)
    .execute(&w.server.db.owner)
    .await
    .unwrap();
    let err = w.reveal(a, id).await.unwrap_err();
    assert!(matches!(err, RevealError::Expired(..)), "{err}");
    assert!(err.to_string().contains("expired"));

    let refusals: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT result, error_code FROM migration.security_audit_logs \
         WHERE event_type = 'credential.read' AND result <> 'success' ORDER BY created_at",
    )
    .fetch_all(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(
        refusals,
        [
            (
                "failure".to_string(),
                Some("credential_revoked".to_string())
            ),
            (
                "failure".to_string(),
                Some("credential_expired".to_string())
            ),
        ]
    );
    assert_eq!(
        occurrences(&w.server.db, &secret).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn key_rotation_rewraps_every_secret_and_old_keys_can_go() {
    let (k1, k2) = (Keyring::generate_key(), Keyring::generate_key());
    let w = world_with(Some(keyring("k1", &[("k1", &k1)]))).await;
    let a = w.client("alpha").await;
    let adapter = w.adapter("aws").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            w.credential(
                &w.admin,
                a,
                adapter,
                &format!("c{n}"),
                json!(format!("secret-{n}")),
            )
            .await,
        );
    }
    // A user's TOTP secret, sealed under k1 the way the login code seals it.
    let (user, _) = common::user_with_token(&w.server.db, "totp@example.com", &[]).await;
    let old = keyring("k1", &[("k1", &k1)]);
    let totp = old.seal(b"JBSWY3DPEHPK3PXP", &rotate::totp_aad(user.0));
    sqlx::query(
        "INSERT INTO migration.user_credentials (user_id, totp_secret_encrypted, totp_encryption_key_id) \
         VALUES ($1, $2, $3)",
    )
    .bind(user.0)
    .bind(&totp.blob)
    .bind(&totp.key_id)
    .execute(&w.server.db.owner)
    .await
    .unwrap();

    let both = keyring("k2", &[("k1", &k1), ("k2", &k2)]);
    let report = rotate::rewrap_all(&w.server.db.app, &both, 2, "test")
        .await
        .unwrap();
    assert_eq!((report.rewrapped, report.already_current), (6, 0));
    assert!(report.failed.is_empty());
    let again = rotate::rewrap_all(&w.server.db.app, &both, 2, "test")
        .await
        .unwrap();
    assert_eq!((again.rewrapped, again.already_current), (0, 6));

    // Without k1, every secret still opens.
    let only_new = keyring("k2", &[("k2", &k2)]);
    let state =
        AppState::new(w.server.db.database(), common::settings()).with_keyring(only_new.clone());
    for (n, id) in ids.iter().enumerate() {
        let value = vault::reveal(
            &state,
            TenantScope::Platform { user_id: None },
            a,
            *id,
            "test",
        )
        .await
        .unwrap();
        assert_eq!(value.expose_json().unwrap(), json!(format!("secret-{n}")));
    }
    let (blob, key): (Vec<u8>, String) = sqlx::query_as(
        "SELECT totp_secret_encrypted, totp_encryption_key_id FROM migration.user_credentials WHERE user_id = $1",
    )
    .bind(user.0)
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(key, "k2");
    let sealed = modernize_server::vault::Sealed { key_id: key, blob };
    assert_eq!(
        only_new.open(&sealed, &rotate::totp_aad(user.0)).unwrap(),
        b"JBSWY3DPEHPK3PXP"
    );
    // A secret whose key is gone is reported, not lost.
    let k3 = Keyring::generate_key();
    let orphan = keyring("k3", &[("k3", &k3)]);
    let report = rotate::rewrap_all(&w.server.db.app, &orphan, 100, "test")
        .await
        .unwrap();
    assert_eq!(report.rewrapped, 0);
    assert_eq!(report.failed.len(), 6);
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'vault.keys_rotated'",
    )
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(n, 3);
}
