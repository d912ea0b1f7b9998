//! The adapter catalogue: platform administrators maintain it, every authenticated user reads
//! it; fields are validated; duplicates and adapters still in use are refused with 409.

mod common;

use modernize_domain::access::{Role, Scope};
use modernize_domain::ids::ClientAccountId;
use modernize_server::AppState;
use modernize_server::vault::Keyring;
use modernize_testkit::TestDb;
use serde_json::{Value, json};
use uuid::Uuid;

struct World {
    server: common::Running,
    admin: String,
}

async fn world() -> World {
    let db = TestDb::new().await;
    let keys = [("k1".to_string(), Keyring::generate_key())]
        .into_iter()
        .collect();
    let state = AppState::new(db.database(), common::settings())
        .with_keyring(Keyring::new("k1", &keys).unwrap());
    let server = common::start_router(db, modernize_server::app(state)).await;
    let (_, admin) = common::user_with_token(
        &server.db,
        "root@example.com",
        &[(Role::Admin, Scope::Platform)],
    )
    .await;
    World { server, admin }
}

impl World {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
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
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, body: Value) -> Value {
        let (status, adapter) = self
            .call("POST", "/api/v1/admin/adapters", &self.admin, Some(body))
            .await;
        assert_eq!(status, 201, "{adapter}");
        adapter
    }
}

fn fields(answer: &Value) -> Vec<&str> {
    answer["error"]["details"]
        .as_array()
        .map(|d| d.iter().map(|e| e["field"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn platform_admins_maintain_the_catalogue_and_everyone_reads_it() {
    let w = world().await;
    let adapter = w
        .create(json!({
            "adapter_name": "ServiceNow CMDB", "adapter_type": "discovery", "version": "2.1.0",
            "supported_platforms": ["servicenow"], "capabilities": ["cmdb_import"],
            "configuration_schema": {"type": "object"},
            "health_check_url": "https://adapters.example.com/servicenow/health"
        }))
        .await;
    assert_eq!(adapter["status"], "active");
    assert_eq!(adapter["supported_platforms"], json!(["servicenow"]));
    let id = adapter["id"].as_str().unwrap().to_string();
    let defaults = w
        .create(json!({"adapter_name": "Minimal", "adapter_type": "collection", "version": "1"}))
        .await;
    assert_eq!(defaults["capabilities"], json!([]));
    assert_eq!(defaults["configuration_schema"], json!({}));

    // Any authenticated user reads the catalogue.
    let (status, client) = w
        .call(
            "POST",
            "/api/v1/clients",
            &w.admin,
            Some(json!({"name": "Acme", "slug": "acme"})),
        )
        .await;
    assert_eq!(status, 201);
    let acme = ClientAccountId(client["id"].as_str().unwrap().parse().unwrap());
    let (_, viewer) = common::user_with_token(
        &w.server.db,
        "viewer@acme.example",
        &[(
            Role::Viewer,
            Scope::Client {
                client_account_id: acme,
            },
        )],
    )
    .await;
    let (status, list) = w.call("GET", "/api/v1/adapters", &viewer, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["adapter_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Minimal", "ServiceNow CMDB"]);
    let (status, one) = w
        .call("GET", &format!("/api/v1/adapters/{id}"), &viewer, None)
        .await;
    assert_eq!((status, &one["version"]), (200, &json!("2.1.0")));
    let (status, answer) = w
        .call(
            "GET",
            &format!("/api/v1/adapters/{}", Uuid::new_v4()),
            &viewer,
            None,
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _) = w
        .server
        .client
        .get(w.server.url("/api/v1/adapters"))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 401);

    // Only platform administrators change it; a client administrator is refused.
    let (_, client_admin) = common::user_with_token(
        &w.server.db,
        "admin@acme.example",
        &[(
            Role::Admin,
            Scope::Client {
                client_account_id: acme,
            },
        )],
    )
    .await;
    let item = format!("/api/v1/admin/adapters/{id}");
    for token in [&viewer, &client_admin] {
        for (method, path, body) in [
            (
                "POST",
                "/api/v1/admin/adapters".to_string(),
                Some(json!({"adapter_name": "x", "adapter_type": "migration", "version": "1"})),
            ),
            ("PATCH", item.clone(), Some(json!({"status": "inactive"}))),
            ("DELETE", item.clone(), None),
        ] {
            let (status, answer) = w.call(method, &path, token, body).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "{method} {path}"
            );
        }
    }

    let (status, updated) = w
        .call(
            "PATCH",
            &item,
            &w.admin,
            Some(json!({"status": "deprecated", "capabilities": ["cmdb_import", "topology"]})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"], "deprecated");
    assert_eq!(updated["adapter_name"], "ServiceNow CMDB", "untouched");
    assert!(updated["updated_at"].is_string());
    let (status, _) = w
        .call(
            "PATCH",
            &format!("/api/v1/admin/adapters/{}", Uuid::new_v4()),
            &w.admin,
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(status, 404);

    let events: Vec<(String,)> = sqlx::query_as(
        "SELECT event_type FROM migration.security_audit_logs \
         WHERE target_type = 'platform_adapter' AND target_id = $1 ORDER BY created_at",
    )
    .bind(&id)
    .fetch_all(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            ("adapter.created".to_string(),),
            ("adapter.updated".to_string(),)
        ]
    );
}

#[tokio::test]
async fn adapter_fields_are_validated() {
    let w = world().await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["adapter_name", "version", "adapter_type"]),
        (
            json!({"adapter_name": "n".repeat(101), "adapter_type": "scanner",
                   "version": "v".repeat(21), "status": "broken"}),
            vec!["adapter_name", "version", "adapter_type", "status"],
        ),
        (
            json!({"adapter_name": " ", "adapter_type": "discovery", "version": "1",
                   "supported_platforms": {"a": 1}, "capabilities": "all",
                   "configuration_schema": [1]}),
            vec![
                "adapter_name",
                "supported_platforms",
                "capabilities",
                "configuration_schema",
            ],
        ),
        (
            json!({"adapter_name": "a", "adapter_type": "discovery", "version": "1",
                   "health_check_url": "ftp://example.com/health"}),
            vec!["health_check_url"],
        ),
        (
            json!({"adapter_name": "a", "adapter_type": "discovery", "version": "1",
                   "health_check_url": format!("https://example.com/{}", "p".repeat(500))}),
            vec!["health_check_url"],
        ),
        (
            json!({"adapter_name": "a", "adapter_type": "discovery", "version": "1",
                   "health_check_url": "not a url"}),
            vec!["health_check_url"],
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = w
            .call(
                "POST",
                "/api/v1/admin/adapters",
                &w.admin,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "validation_failed");
        assert_eq!(fields(&answer), expected, "{answer}");
    }
    let (status, answer) = w
        .call(
            "POST",
            "/api/v1/admin/adapters",
            &w.admin,
            Some(json!({"adapter_name": "a", "adapter_type": "discovery", "version": "1", "extra": 1})),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );

    let adapter = w
        .create(json!({"adapter_name": "a", "adapter_type": "discovery", "version": "1"}))
        .await;
    let item = format!("/api/v1/admin/adapters/{}", adapter["id"].as_str().unwrap());
    for (body, expected) in [
        (json!({"adapter_name": ""}), vec!["adapter_name"]),
        (json!({"version": " "}), vec!["version"]),
        (json!({"adapter_type": "other"}), vec!["adapter_type"]),
        (
            json!({"health_check_url": "mailto:x@example.com"}),
            vec!["health_check_url"],
        ),
    ] {
        let (status, answer) = w.call("PATCH", &item, &w.admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(fields(&answer), expected, "{answer}");
    }
}

#[tokio::test]
async fn duplicates_and_adapters_in_use_are_conflicts() {
    let w = world().await;
    let first = w
        .create(json!({"adapter_name": "vmware", "adapter_type": "discovery", "version": "1.0"}))
        .await;
    let (status, answer) = w
        .call(
            "POST",
            "/api/v1/admin/adapters",
            &w.admin,
            Some(json!({"adapter_name": "vmware", "adapter_type": "assessment", "version": "1.0"})),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{answer}"
    );
    let second = w
        .create(json!({"adapter_name": "vmware", "adapter_type": "discovery", "version": "2.0"}))
        .await;
    let (status, answer) = w
        .call(
            "PATCH",
            &format!("/api/v1/admin/adapters/{}", second["id"].as_str().unwrap()),
            &w.admin,
            Some(json!({"version": "1.0"})),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // In use by a credential: refused, nothing deleted.
    let (status, client) = w
        .call(
            "POST",
            "/api/v1/clients",
            &w.admin,
            Some(json!({"name": "Acme", "slug": "acme"})),
        )
        .await;
    assert_eq!(status, 201);
    let client_id = client["id"].as_str().unwrap();
    let adapter_id = first["id"].as_str().unwrap();
    let (status, credential) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{client_id}/credentials"),
            &w.admin,
            Some(
                json!({"platform_adapter_id": adapter_id, "credential_name": "prod",
                        "credential_type": "basic_auth",
                        "secret": {"username": "u", "password": "p"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{credential}");
    let item = format!("/api/v1/admin/adapters/{adapter_id}");
    let (status, answer) = w.call("DELETE", &item, &w.admin, None).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("credentials")
    );
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/adapters/{adapter_id}"),
            &w.admin,
            None
        )
        .await
        .0,
        200
    );

    let (status, _) = w
        .call(
            "DELETE",
            &format!(
                "/api/v1/clients/{client_id}/credentials/{}",
                credential["id"].as_str().unwrap()
            ),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(w.call("DELETE", &item, &w.admin, None).await.0, 204);
    assert_eq!(w.call("DELETE", &item, &w.admin, None).await.0, 404);
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/adapters/{adapter_id}"),
            &w.admin,
            None
        )
        .await
        .0,
        404
    );
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'adapter.deleted'",
    )
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(n, 1);
}
