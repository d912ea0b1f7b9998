//! Client accounts and engagements through the API, as their users would meet them:
//! authentication failures, validation, limits, deactivation, and users of one client probing
//! another client's resources.

mod common;
mod identity_support;

use identity_support::world;
use modernize_domain::access::{Role, Scope};
use serde_json::{Value, json};

#[tokio::test]
async fn requests_without_valid_credentials_are_refused_and_audited() {
    let w = world().await;
    let (status, body) = w.call("GET", "/api/v1/clients", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let forged = format!("mdz_{}", "A".repeat(43));
    let (status, _) = w.call("GET", "/api/v1/clients", Some(&forged), None).await;
    assert_eq!(status, 401);
    let (status, _) = w
        .call("GET", "/api/v1/clients", Some("not-a-token"), None)
        .await;
    assert_eq!(status, 401);

    // Revoked, expired, and inactive-user tokens.
    let (user, token) = common::user_with_token(
        &w.server.db,
        "ops@example.com",
        &[(Role::Admin, Scope::Platform)],
    )
    .await;
    let (status, _) = w.call("GET", "/api/v1/clients", Some(&token), None).await;
    assert_eq!(status, 200);
    sqlx::query("UPDATE migration.api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1")
        .bind(user.0).execute(&w.server.db.owner).await.unwrap();
    assert_eq!(
        w.call("GET", "/api/v1/clients", Some(&token), None).await.0,
        401
    );
    sqlx::query(
        "UPDATE migration.api_tokens SET expires_at = NULL, revoked_at = now() WHERE user_id = $1",
    )
    .bind(user.0)
    .execute(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(
        w.call("GET", "/api/v1/clients", Some(&token), None).await.0,
        401
    );
    sqlx::query("UPDATE migration.api_tokens SET revoked_at = NULL WHERE user_id = $1")
        .bind(user.0)
        .execute(&w.server.db.owner)
        .await
        .unwrap();
    sqlx::query("UPDATE migration.users SET is_active = false WHERE id = $1")
        .bind(user.0)
        .execute(&w.server.db.owner)
        .await
        .unwrap();
    assert_eq!(
        w.call("GET", "/api/v1/clients", Some(&token), None).await.0,
        401
    );

    let reasons: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT error_code FROM migration.security_audit_logs WHERE event_type = 'auth.failed' ORDER BY created_at",
    )
    .fetch_all(&w.server.db.owner)
    .await
    .unwrap();
    let reasons: Vec<String> = reasons.into_iter().filter_map(|r| r.0).collect();
    for expected in [
        "unknown_token",
        "unknown_credential",
        "token_expired",
        "token_revoked",
        "user_inactive",
    ] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "{expected} audited: {reasons:?}"
        );
    }
    // The token's last use is recorded.
    let (used,): (bool,) = sqlx::query_as(
        "SELECT last_used_at IS NOT NULL FROM migration.api_tokens WHERE user_id = $1",
    )
    .bind(user.0)
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert!(used);
}

#[tokio::test]
async fn creating_a_client_validates_every_field_and_refuses_duplicates() {
    let w = world().await;
    let (status, body) = w
        .call("POST", "/api/v1/clients", Some(&w.admin), Some(json!({
            "name": " ", "slug": "Bad Slug", "primary_contact_email": "nope", "max_users": -1, "settings": [1]
        })))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in [
        "name",
        "slug",
        "primary_contact_email",
        "max_users",
        "settings",
    ] {
        assert!(fields.contains(&f), "{f} reported: {body}");
    }
    let (status, body) = w
        .call(
            "POST",
            "/api/v1/clients",
            Some(&w.admin),
            Some(json!({"name": "X", "slug": "x", "colour": "red"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json")),
        "{body}"
    );

    let (status, client) = w
        .call("POST", "/api/v1/clients", Some(&w.admin), Some(json!({
            "name": "Acme", "slug": "acme", "primary_contact_email": "CIO@Acme.example", "max_engagements": 1
        })))
        .await;
    assert_eq!(status, 201);
    assert_eq!(client["primary_contact_email"], "cio@acme.example");
    assert_eq!(client["agent_preferences"]["automation_level"], "assisted");
    let (status, body) = w
        .call(
            "POST",
            "/api/v1/clients",
            Some(&w.admin),
            Some(json!({"name": "Acme 2", "slug": "acme"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'client.created'",
    )
    .fetch_one(&w.server.db.owner)
    .await
    .unwrap();
    assert_eq!(
        count, 1,
        "only the successful creation is audited as a change"
    );
}

#[tokio::test]
async fn engagement_limits_and_deactivated_clients_are_enforced() {
    let w = world().await;
    let a = w.client("limited", json!({"max_engagements": 1})).await;
    w.engagement(a, "First").await;
    let (status, body) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{a}/engagements"),
            Some(&w.admin),
            Some(json!({"name": "Second"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("limit_exceeded")),
        "{body}"
    );

    let b = w.client("sleepy", json!({})).await;
    let (_, member) = common::user_with_token(
        &w.server.db,
        "m@sleepy.example",
        &[(
            Role::Admin,
            Scope::Client {
                client_account_id: b,
            },
        )],
    )
    .await;
    assert_eq!(
        w.call("GET", &format!("/api/v1/clients/{b}"), Some(&member), None)
            .await
            .0,
        200
    );
    let (status, _) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{b}/deactivate"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Members of a deactivated client lose access; even its admin cannot create engagements.
    assert_eq!(
        w.call("GET", &format!("/api/v1/clients/{b}"), Some(&member), None)
            .await
            .0,
        404
    );
    let (status, body) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{b}/engagements"),
            Some(&w.admin),
            Some(json!({"name": "No"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("client_inactive"))
    );
    w.call(
        "POST",
        &format!("/api/v1/clients/{b}/activate"),
        Some(&w.admin),
        None,
    )
    .await;
    assert_eq!(
        w.call("GET", &format!("/api/v1/clients/{b}"), Some(&member), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn viewers_read_but_cannot_write_and_expired_roles_count_for_nothing() {
    let w = world().await;
    let a = w.client("acme", json!({})).await;
    let e = w.engagement(a, "Exit").await;
    let (viewer_id, viewer) = common::user_with_token(
        &w.server.db,
        "v@acme.example",
        &[(
            Role::Viewer,
            Scope::Client {
                client_account_id: a,
            },
        )],
    )
    .await;
    let path = format!("/api/v1/clients/{a}/engagements/{e}");
    assert_eq!(w.call("GET", &path, Some(&viewer), None).await.0, 200);
    let (status, body) = w
        .call(
            "PATCH",
            &path,
            Some(&viewer),
            Some(json!({"name": "Hijacked"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{a}/engagements"),
            Some(&viewer),
            Some(json!({"name": "N"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = w
        .call(
            "PATCH",
            &format!("/api/v1/clients/{a}"),
            Some(&viewer),
            Some(json!({"name": "N"})),
        )
        .await;
    assert_eq!(status, 403);
    let (_, unchanged) = w.call("GET", &path, Some(&w.admin), None).await;
    assert_eq!(unchanged["name"], "Exit");
    let (denials,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs WHERE event_type = 'access.denied' AND actor_user_id = $1 AND error_code = 'forbidden'",
    ).bind(viewer_id.to_string()).fetch_one(&w.server.db.owner).await.unwrap();
    assert_eq!(denials, 3);

    sqlx::query("UPDATE migration.user_roles SET expires_at = now() - interval '1 minute' WHERE user_id = $1")
        .bind(viewer_id.0).execute(&w.server.db.owner).await.unwrap();
    assert_eq!(w.call("GET", &path, Some(&viewer), None).await.0, 404);
}

#[tokio::test]
async fn engagement_scoped_users_see_only_their_engagement() {
    let w = world().await;
    let a = w.client("acme", json!({})).await;
    let mine = w.engagement(a, "Mine").await;
    let other = w.engagement(a, "Other").await;
    let (_, analyst) = common::user_with_token(
        &w.server.db,
        "an@acme.example",
        &[(
            Role::Analyst,
            Scope::Engagement {
                client_account_id: a,
                engagement_id: mine,
            },
        )],
    )
    .await;
    let (status, list) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{a}/engagements"),
            Some(&analyst),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Mine"]);
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/clients/{a}/engagements/{other}"),
            Some(&analyst),
            None
        )
        .await
        .0,
        404
    );
    let (status, _) = w
        .call("GET", &format!("/api/v1/clients/{a}"), Some(&analyst), None)
        .await;
    assert_eq!(status, 200, "the client of one's engagement is visible");
    let (_, all) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{a}/engagements"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn another_clients_users_learn_nothing_and_change_nothing() {
    let w = world().await;
    let a = w.client("alpha", json!({})).await;
    let ea = w.engagement(a, "Alpha exit").await;
    let b = w.client("beta", json!({})).await;
    let eb = w.engagement(b, "Beta exit").await;
    let (_, beta_admin) = common::user_with_token(
        &w.server.db,
        "admin@beta.example",
        &[(
            Role::Admin,
            Scope::Client {
                client_account_id: b,
            },
        )],
    )
    .await;

    let (status, list) = w
        .call("GET", "/api/v1/clients", Some(&beta_admin), None)
        .await;
    assert_eq!(status, 200);
    let slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["beta"]);

    let missing = uuid::Uuid::new_v4();
    let probes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/v1/clients/{a}"), None),
        (
            "PATCH",
            format!("/api/v1/clients/{a}"),
            Some(json!({"name": "Owned"})),
        ),
        ("POST", format!("/api/v1/clients/{a}/deactivate"), None),
        ("GET", format!("/api/v1/clients/{a}/engagements"), None),
        (
            "POST",
            format!("/api/v1/clients/{a}/engagements"),
            Some(json!({"name": "Planted"})),
        ),
        ("GET", format!("/api/v1/clients/{a}/engagements/{ea}"), None),
        (
            "PATCH",
            format!("/api/v1/clients/{a}/engagements/{ea}"),
            Some(json!({"name": "Owned"})),
        ),
        // A's engagement under B's own path: still not found.
        ("GET", format!("/api/v1/clients/{b}/engagements/{ea}"), None),
        (
            "PATCH",
            format!("/api/v1/clients/{b}/engagements/{ea}"),
            Some(json!({"name": "Owned"})),
        ),
    ];
    let (_, nonexistent) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{missing}"),
            Some(&beta_admin),
            None,
        )
        .await;
    for (method, path, body) in probes {
        let (status, answer) = w.call(method, &path, Some(&beta_admin), body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
        if path.starts_with(&format!("/api/v1/clients/{a}"))
            && method == "GET"
            && !path.contains("engagements")
        {
            assert_eq!(
                answer["error"]["message"], nonexistent["error"]["message"],
                "same answer as for a missing id"
            );
        }
    }
    // Nothing of A changed, nothing was planted.
    let (_, alpha) = w
        .call("GET", &format!("/api/v1/clients/{a}"), Some(&w.admin), None)
        .await;
    assert_eq!(
        (alpha["name"].as_str(), alpha["is_active"].as_bool()),
        (Some("Client alpha"), Some(true))
    );
    let (_, engagements) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{a}/engagements"),
            Some(&w.admin),
            None,
        )
        .await;
    let names: Vec<&str> = engagements
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alpha exit"]);
    // B's own resources still work.
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/clients/{b}/engagements/{eb}"),
            Some(&beta_admin),
            None
        )
        .await
        .0,
        200
    );
}
