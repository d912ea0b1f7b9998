//! A running server with a platform administrator, and helpers to call it, shared by the user,
//! role, token and audit tests.

#![allow(dead_code)]

use crate::common;
use modernize_domain::access::{Role, Scope};
use modernize_domain::ids::{ClientAccountId, EngagementId, UserId};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct World {
    pub server: common::Running,
    pub admin: String,
    pub admin_id: UserId,
}

pub async fn world() -> World {
    let server = common::start().await;
    let (admin_id, admin) = common::user_with_token(
        &server.db,
        "root@example.com",
        &[(Role::Admin, Scope::Platform)],
    )
    .await;
    World {
        server,
        admin,
        admin_id,
    }
}

pub fn client_scope(client: ClientAccountId) -> Scope {
    Scope::Client {
        client_account_id: client,
    }
}

pub fn engagement_scope(client: ClientAccountId, engagement: EngagementId) -> Scope {
    Scope::Engagement {
        client_account_id: client,
        engagement_id: engagement,
    }
}

/// The `field` names of a `validation_failed` answer.
pub fn fields(body: &Value) -> Vec<String> {
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_string())
        .collect()
}

pub fn id(value: &Value) -> Uuid {
    value["id"].as_str().unwrap().parse().unwrap()
}

impl World {
    pub fn db(&self) -> &modernize_testkit::TestDb {
        &self.server.db
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
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
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Status and error code of a call.
    pub async fn code(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let (status, body) = self.call(method, path, Some(token), body).await;
        (
            status,
            body["error"]["code"].as_str().unwrap_or("").to_string(),
        )
    }

    pub async fn client(&self, slug: &str, extra: Value) -> ClientAccountId {
        let mut body = json!({"name": format!("Client {slug}"), "slug": slug});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, client) = self
            .call("POST", "/api/v1/clients", Some(&self.admin), Some(body))
            .await;
        assert_eq!(status, 201, "{client}");
        ClientAccountId(id(&client))
    }

    pub async fn engagement(&self, client: ClientAccountId, name: &str) -> EngagementId {
        let (status, e) = self
            .call(
                "POST",
                &format!("/api/v1/clients/{client}/engagements"),
                Some(&self.admin),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "{e}");
        EngagementId(id(&e))
    }

    pub async fn user(&self, email: &str, grants: &[(Role, Scope)]) -> (UserId, String) {
        common::user_with_token(self.db(), email, grants).await
    }

    /// Number of audit rows of `event_type` (as the owner sees them).
    pub async fn audited(&self, event_type: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = $1",
        )
        .bind(event_type)
        .fetch_one(&self.db().owner)
        .await
        .unwrap();
        n
    }

    /// Every role row of a client, as the owner sees them (to prove nothing changed).
    pub async fn role_rows(&self, client: ClientAccountId) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT to_jsonb(r)::text FROM migration.user_roles r WHERE client_account_id = $1 ORDER BY 1",
        )
        .bind(client.0)
        .fetch_all(&self.db().owner)
        .await
        .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }
}
