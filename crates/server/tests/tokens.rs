//! The caller's own account and API tokens: shown once, listed without secrets, revocable,
//! never stronger than their creator; profile changes with validation.

mod common;
mod identity_support;

use identity_support::{client_scope, fields, id, world};
use modernize_domain::access::Role;
use serde_json::json;
use std::collections::HashSet;

#[tokio::test]
async fn tokens_are_shown_once_listed_without_secrets_and_revocable() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let (user, login) = w
        .user("dev@acme.example", &[(Role::Analyst, client_scope(acme))])
        .await;

    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (
            json!({"name": "ci", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "ci", "expires_in_days": 3651}),
            "expires_in_days",
        ),
        (
            json!({"name": "ci", "expires_in_days": 3, "expires_at": "2999-01-01T00:00:00Z"}),
            "expires_in_days",
        ),
        (
            json!({"name": "ci", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (json!({"name": "ci", "expires_at": "soon"}), "expires_at"),
    ] {
        let (status, answer) = w
            .call(
                "POST",
                "/api/v1/me/tokens",
                Some(&login),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(fields(&answer), vec![field.to_string()], "{body}");
    }

    let (status, created) = w
        .call(
            "POST",
            "/api/v1/me/tokens",
            Some(&login),
            Some(json!({"name": "ci pipeline", "expires_in_days": 30})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("mdz_") && secret.len() == 47);
    assert!(secret.starts_with(created["token_prefix"].as_str().unwrap()));
    assert!(created["expires_at"].is_string());
    let token_id = id(&created);
    assert_eq!(w.audited("token.created").await, 1);

    // The new token is the user: same identity, same rights.
    let (status, me) = w.call("GET", "/api/v1/me", Some(&secret), None).await;
    assert_eq!(
        (status, me["user"]["id"].as_str()),
        (200, Some(user.to_string().as_str()))
    );

    let (status, list) = w.call("GET", "/api/v1/me/tokens", Some(&login), None).await;
    assert_eq!(status, 200);
    let text = list.to_string();
    assert!(!text.contains(&secret), "secret listed: {text}");
    assert!(!text.contains("token_hash") && !text.contains("digest"));
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id.to_string())
        .expect("listed");
    let keys: HashSet<&str> = listed
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from([
            "id",
            "name",
            "token_prefix",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at"
        ])
    );
    assert!(listed["last_used_at"].is_string(), "use recorded: {listed}");
    let (stored,): (Vec<u8>,) =
        sqlx::query_as("SELECT token_hash FROM migration.api_tokens WHERE id = $1")
            .bind(token_id)
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert_ne!(stored, secret.as_bytes(), "stored hashed");

    // Someone else's token is not found; one's own is revoked and stops working.
    let (_, other_login) = w.user("other@acme.example", &[]).await;
    assert_eq!(
        w.code(
            "DELETE",
            &format!("/api/v1/me/tokens/{token_id}"),
            &other_login,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(
        w.call("GET", "/api/v1/me", Some(&secret), None).await.0,
        200
    );
    let (status, _) = w
        .call(
            "DELETE",
            &format!("/api/v1/me/tokens/{token_id}"),
            Some(&login),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        w.code("GET", "/api/v1/me", &secret, None).await,
        (401, "unauthenticated".to_string())
    );
    assert_eq!(w.audited("token.revoked").await, 1);
    let (_, list) = w.call("GET", "/api/v1/me/tokens", Some(&login), None).await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id.to_string())
        .unwrap();
    assert!(listed["revoked_at"].is_string());
    assert_eq!(
        w.code(
            "DELETE",
            &format!("/api/v1/me/tokens/{}", uuid::Uuid::new_v4()),
            &login,
            None
        )
        .await,
        (404, "not_found".to_string())
    );

    // Platform administrators revoke anyone's token; nobody else can.
    let (_, second) = w
        .call(
            "POST",
            "/api/v1/me/tokens",
            Some(&login),
            Some(json!({"name": "laptop"})),
        )
        .await;
    let second_id = id(&second);
    let second_secret = second["token"].as_str().unwrap().to_string();
    assert!(second["expires_at"].is_null());
    let admin_path = format!("/api/v1/users/{user}/tokens/{second_id}");
    assert_eq!(
        w.code("DELETE", &admin_path, &other_login, None).await,
        (403, "forbidden".to_string())
    );
    assert_eq!(
        w.code(
            "DELETE",
            &format!("/api/v1/users/{}/tokens/{second_id}", w.admin_id),
            &w.admin,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(
        w.call("DELETE", &admin_path, Some(&w.admin), None).await.0,
        204
    );
    assert_eq!(
        w.call("GET", "/api/v1/me", Some(&second_secret), None)
            .await
            .0,
        401
    );
    let (revoked_by,): (Option<uuid::Uuid>,) =
        sqlx::query_as("SELECT revoked_by FROM migration.api_tokens WHERE id = $1")
            .bind(second_id)
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert_eq!(revoked_by, Some(w.admin_id.0));
}

#[tokio::test]
async fn a_token_never_has_more_rights_than_its_creator() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let engagement = w.engagement(acme, "Exit").await;
    let (viewer, login) = w
        .user("viewer@acme.example", &[(Role::Viewer, client_scope(acme))])
        .await;
    let (_, created) = w
        .call(
            "POST",
            "/api/v1/me/tokens",
            Some(&login),
            Some(json!({"name": "script"})),
        )
        .await;
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/clients/{acme}/engagements/{engagement}"),
            Some(&token),
            None
        )
        .await
        .0,
        200
    );
    for (method, path, body) in [
        (
            "POST",
            format!("/api/v1/clients/{acme}/engagements"),
            json!({"name": "New"}),
        ),
        (
            "PATCH",
            format!("/api/v1/clients/{acme}/engagements/{engagement}"),
            json!({"name": "Renamed"}),
        ),
        (
            "POST",
            format!("/api/v1/clients/{acme}/roles"),
            json!({"user_id": viewer.to_string(), "role": "admin"}),
        ),
        (
            "POST",
            format!("/api/v1/clients/{acme}/users"),
            json!({"email": "friend@acme.example", "role": "admin"}),
        ),
    ] {
        assert_eq!(
            w.code(method, &path, &token, Some(body)).await,
            (403, "forbidden".to_string()),
            "{method} {path}"
        );
    }
    // The creator loses a right: so does the token, at once.
    sqlx::query("UPDATE migration.user_roles SET is_active = false WHERE user_id = $1")
        .bind(viewer.0)
        .execute(&w.db().owner)
        .await
        .unwrap();
    assert_eq!(
        w.code("GET", &format!("/api/v1/clients/{acme}"), &token, None)
            .await,
        (404, "not_found".to_string())
    );
    // A deactivated user's tokens all fail.
    sqlx::query("UPDATE migration.users SET is_active = false WHERE id = $1")
        .bind(viewer.0)
        .execute(&w.db().owner)
        .await
        .unwrap();
    assert_eq!(w.call("GET", "/api/v1/me", Some(&token), None).await.0, 401);
}

#[tokio::test]
async fn me_shows_grants_and_updates_the_profile_even_when_it_was_missing() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let engagement = w.engagement(acme, "Exit").await;
    let (user, login) = w
        .user(
            "me@acme.example",
            &[
                (Role::Viewer, client_scope(acme)),
                (
                    Role::Analyst,
                    identity_support::engagement_scope(acme, engagement),
                ),
            ],
        )
        .await;
    let (status, me) = w.call("GET", "/api/v1/me", Some(&login), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "me@acme.example");
    assert_eq!(me["profile"]["timezone"], "UTC");
    let grants = me["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2);
    assert!(grants.iter().any(|g| g["level"] == "engagement"
        && g["engagement_id"] == engagement.to_string()
        && g["role"] == "analyst"));
    assert!(!me.to_string().contains("security_questions"));

    let (status, body) = w
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&login),
            Some(json!({"full_name": "x".repeat(256), "avatar_url": "http//broken", "department": "d".repeat(101),
                        "job_title": "j".repeat(101), "phone": "1".repeat(51), "timezone": "t".repeat(51),
                        "notification_preferences": [true], "ui_preferences": "dark"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let f: HashSet<String> = fields(&body).into_iter().collect();
    for field in [
        "full_name",
        "avatar_url",
        "department",
        "job_title",
        "phone",
        "timezone",
        "notification_preferences",
        "ui_preferences",
    ] {
        assert!(f.contains(field), "{field}: {body}");
    }
    let (status, body) = w
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&login),
            Some(json!({"email": "new@x.example"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );

    // A user created outside the API without a profile row.
    sqlx::query("DELETE FROM migration.user_profiles WHERE user_id = $1")
        .bind(user.0)
        .execute(&w.db().owner)
        .await
        .unwrap();
    let (status, me) = w.call("GET", "/api/v1/me", Some(&login), None).await;
    assert_eq!(status, 200);
    assert!(me["profile"]["timezone"].is_null());
    let (status, me) = w
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&login),
            Some(
                json!({"full_name": "Me Myself", "avatar_url": "https://img.example/me.png",
                        "department": "IT", "job_title": "Architect", "phone": "+49 30 1234",
                        "timezone": "Europe/Berlin", "ui_preferences": {"theme": "dark"}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["full_name"], "Me Myself");
    assert_eq!(me["profile"]["timezone"], "Europe/Berlin");
    assert_eq!(me["profile"]["ui_preferences"], json!({"theme": "dark"}));
    assert_eq!(
        me["profile"]["notification_preferences"]["email"], true,
        "defaults kept"
    );
    let (status, me) = w
        .call(
            "PATCH",
            "/api/v1/me",
            Some(&login),
            Some(json!({"job_title": "Lead"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["profile"]["job_title"], "Lead");
    assert_eq!(me["profile"]["department"], "IT", "absent fields unchanged");
    assert_eq!(w.audited("profile.updated").await, 2);
    assert_eq!(
        w.code("GET", "/api/v1/me", "mdz_nonsense", None).await,
        (401, "unauthenticated".to_string())
    );
}
