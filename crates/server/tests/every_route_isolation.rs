//! Every route of the OpenAPI document, called by another client's administrator with client
//! A's identifiers: the answer must be exactly the answer for identifiers that do not exist,
//! no response may contain A's identifiers, and none of A's rows may change.

mod common;

use modernize_domain::access::{Role, Scope};
use modernize_domain::ids::ClientAccountId;
use modernize_server::AppState;
use modernize_server::vault::Keyring;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Everything stored about client A, as the owner sees it, in a comparable form.
async fn snapshot_of(
    db: &modernize_testkit::TestDb,
    client: Uuid,
) -> BTreeMap<String, Vec<String>> {
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT c.table_name::text FROM information_schema.columns c \
           JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
          WHERE c.table_schema = 'migration' AND c.column_name = 'client_account_id' \
            AND t.table_type = 'BASE TABLE' AND c.table_name <> 'security_audit_logs' ORDER BY 1",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for (table,) in tables {
        let rows: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT to_jsonb(t)::text FROM migration.{table} t WHERE client_account_id = $1 ORDER BY 1"
        ))
        .bind(client)
        .fetch_all(&db.owner)
        .await
        .unwrap();
        out.insert(table, rows.into_iter().map(|r| r.0).collect());
    }
    let (row,): (String,) =
        sqlx::query_as("SELECT to_jsonb(c)::text FROM migration.client_accounts c WHERE id = $1")
            .bind(client)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    out.insert("client_accounts".into(), vec![row]);
    let members: Vec<(String,)> = sqlx::query_as(
        "SELECT to_jsonb(u)::text FROM migration.users u WHERE u.id IN \
           (SELECT user_id FROM migration.user_roles WHERE client_account_id = $1) ORDER BY 1",
    )
    .bind(client)
    .fetch_all(&db.owner)
    .await
    .unwrap();
    out.insert(
        "users of the client".into(),
        members.into_iter().map(|r| r.0).collect(),
    );
    out
}

fn fill(path: &str, ids: &BTreeMap<&str, String>, fallback: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .expect("closed parameter");
        out.push_str(&rest[..start]);
        let name = &rest[start + 1..end];
        out.push_str(ids.get(name).map_or(fallback, String::as_str));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn no_route_reveals_or_changes_another_clients_data() {
    let db = modernize_testkit::TestDb::new().await;
    let keys = [("k1".to_string(), Keyring::generate_key())]
        .into_iter()
        .collect();
    let state = AppState::new(db.database(), common::settings())
        .with_keyring(Keyring::new("k1", &keys).unwrap());
    let server = common::start_router(db, modernize_server::app(state)).await;
    let db = &server.db;
    let (_, admin) =
        common::user_with_token(db, "root@example.com", &[(Role::Admin, Scope::Platform)]).await;
    let client = reqwest::Client::new();
    let call = |method: &str, path: &str, token: &str, body: Option<Value>| {
        let mut req = client
            .request(method.parse().unwrap(), server.url(path))
            .bearer_auth(token.to_string());
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send()
    };
    let created = |resp: reqwest::Response| async move {
        assert!(
            resp.status().is_success(),
            "seeding failed: {}",
            resp.status()
        );
        resp.json::<Value>().await.unwrap()
    };

    // Client A with an engagement, a member, a flow and a stored credential; client B with its
    // own administrator.
    let a = created(
        call(
            "POST",
            "/api/v1/clients",
            &admin,
            Some(json!({"name": "Alpha", "slug": "alpha"})),
        )
        .await
        .unwrap(),
    )
    .await;
    let a_id = a["id"].as_str().unwrap().to_string();
    let ea = created(
        call(
            "POST",
            &format!("/api/v1/clients/{a_id}/engagements"),
            &admin,
            Some(json!({"name": "Alpha exit"})),
        )
        .await
        .unwrap(),
    )
    .await;
    let ea_id = ea["id"].as_str().unwrap().to_string();
    let a_client = ClientAccountId(a_id.parse().unwrap());
    let (a_user, _) = common::user_with_token(
        db,
        "member@alpha.example",
        &[(
            Role::Analyst,
            Scope::Client {
                client_account_id: a_client,
            },
        )],
    )
    .await;
    let flow = created(
        call(
            "POST",
            &format!("/api/v1/clients/{a_id}/engagements/{ea_id}/flows"),
            &admin,
            Some(json!({"flow_type": "discovery"})),
        )
        .await
        .unwrap(),
    )
    .await;
    let flow_id = flow["flow_id"].as_str().unwrap().to_string();
    let adapter = created(
        call(
            "POST",
            "/api/v1/admin/adapters",
            &admin,
            Some(json!({"adapter_name": "CMDB", "adapter_type": "discovery", "version": "1"})),
        )
        .await
        .unwrap(),
    )
    .await;
    let secret = format!("plaintext-{}", Uuid::new_v4().simple());
    let credential = created(call("POST", &format!("/api/v1/clients/{a_id}/credentials"), &admin, Some(json!({
        "platform_adapter_id": adapter["id"], "credential_name": "cmdb", "credential_type": "api_key", "secret": secret
    }))).await.unwrap()).await;
    let credential_id = credential["id"].as_str().unwrap().to_string();
    let b: Value = call(
        "POST",
        "/api/v1/clients",
        &admin,
        Some(json!({"name": "Beta", "slug": "beta"})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let b_client = ClientAccountId(b["id"].as_str().unwrap().parse().unwrap());
    let (_, intruder) = common::user_with_token(
        db,
        "admin@beta.example",
        &[(
            Role::Admin,
            Scope::Client {
                client_account_id: b_client,
            },
        )],
    )
    .await;

    // Ids of A's objects by path parameter name. Routes added later get their ids from the
    // rows of A found in the database by naming convention (`<table>_id` → that table's id).
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    ids.insert("client_id", a_id.clone());
    ids.insert("engagement_id", ea_id.clone());
    ids.insert("user_id", a_user.to_string());
    let (role_id,): (Uuid,) =
        sqlx::query_as("SELECT id FROM migration.user_roles WHERE user_id = $1")
            .bind(a_user.0)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    ids.insert("role_id", role_id.to_string());
    ids.insert("flow_id", flow_id.clone());
    ids.insert("credential_id", credential_id.clone());
    let (token_id,): (Uuid,) =
        sqlx::query_as("SELECT id FROM migration.api_tokens WHERE user_id = $1")
            .bind(a_user.0)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    ids.insert("token_id", token_id.to_string());
    let (event_id,): (Uuid,) = sqlx::query_as(
        "SELECT id FROM migration.security_audit_logs WHERE client_account_id = $1 LIMIT 1",
    )
    .bind(a_client.0)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    ids.insert("event_id", event_id.to_string());
    let (import_id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.import_sessions \
           (client_account_id, engagement_id, file_name, status) \
         VALUES ($1, $2, 'alpha.csv', 'mapping_review') RETURNING id",
    )
    .bind(a_client.0)
    .bind(ea_id.parse::<Uuid>().unwrap())
    .fetch_one(&db.owner)
    .await
    .unwrap();
    ids.insert("import_id", import_id.to_string());

    let doc: Value = call("GET", "/api/v1/openapi.json", &admin, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before = snapshot_of(db, a_id.parse().unwrap()).await;
    let secrets = [
        a_id.clone(),
        ea_id.clone(),
        a_user.to_string(),
        role_id.to_string(),
        import_id.to_string(),
        "alpha".to_string(),
    ];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for key in ["get", "post", "put", "patch", "delete"] {
            if item.get(key).is_none() || path.contains("openapi") {
                continue;
            }
            // OpenAPI keys are lower case; HTTP methods are case-sensitive.
            let method = key.to_uppercase();
            let method = method.as_str();
            let body = matches!(method, "POST" | "PUT" | "PATCH").then(|| json!({}));
            let probe = fill(path, &ids, "00000000-0000-4000-8000-000000000000");
            let resp = call(method, &probe, &intruder, body.clone()).await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            assert_ne!(status, 405, "{method} {probe}: the probe itself is wrong");
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()) || (path == "/api/v1/me" && secret == "alpha"),
                    "{method} {probe} leaked {secret}: {text}"
                );
            }
            // Tenant resources (and one's own resources under /me) must not be told apart from
            // missing ones. Global catalogues (adapters) and platform routes answer alike for
            // everyone and are covered by the leak check above.
            if path.contains("{client_id}") || path.starts_with("/api/v1/me/") && path.contains('{')
            {
                // The same request for ids that exist nowhere must get the very same answer.
                let missing = fill(path, &BTreeMap::new(), &Uuid::new_v4().to_string());
                let resp = call(method, &missing, &intruder, body).await.unwrap();
                let missing_status = resp.status().as_u16();
                let missing_body: Value = resp.json().await.unwrap_or(Value::Null);
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                assert_eq!(
                    (status, &body["error"]["code"], &body["error"]["message"]),
                    (
                        missing_status,
                        &missing_body["error"]["code"],
                        &missing_body["error"]["message"]
                    ),
                    "{method} {path}: A's ids are told apart from missing ones"
                );
                assert!(
                    status >= 400,
                    "{method} {probe} succeeded for another client: {status} {text}"
                );
            }
            checked += 1;
        }
    }
    eprintln!("probed {checked} route methods");
    assert!(checked >= 60, "only {checked} routes probed");
    let after = snapshot_of(db, a_id.parse().unwrap()).await;
    assert_eq!(before, after, "client A's data changed");
}
