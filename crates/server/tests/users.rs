//! Users through the API: platform administration of users, invitations into a client, the
//! member list, removal from a client, and other clients' administrators probing all of it.

mod common;
mod identity_support;

use identity_support::{client_scope, fields, id, world};
use modernize_domain::access::Role;
use serde_json::{Value, json};
use std::collections::HashSet;

#[tokio::test]
async fn platform_admins_create_validate_and_change_users() {
    let w = world().await;
    let (status, body) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(
                json!({"email": "not-an-address", "full_name": "x".repeat(256),
                        "avatar_url": "ftp://example.com/a.png"}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let f = fields(&body);
    for field in ["email", "full_name", "avatar_url"] {
        assert!(f.iter().any(|x| x == field), "{field}: {body}");
    }
    let (status, body) = w
        .call("POST", "/api/v1/users", Some(&w.admin), Some(json!({})))
        .await;
    assert_eq!((status, fields(&body)), (422, vec!["email".to_string()]));
    let (status, body) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(json!({"email": "a@b.example", "is_admin": true})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );

    let (status, ada) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(json!({"email": " Ada@Example.COM ", "full_name": "Ada", "avatar_url": "https://img.example/ada.png"})),
        )
        .await;
    assert_eq!(status, 201, "{ada}");
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["is_active"], true);
    assert_eq!(ada["roles"], json!([]));
    assert_eq!(w.audited("user.created").await, 1);
    let ada_id = id(&ada);

    let (status, body) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    let (status, body) = w
        .call(
            "PATCH",
            &format!("/api/v1/users/{ada_id}"),
            Some(&w.admin),
            Some(json!({"full_name": "Ada Lovelace", "email": "ADA@lovelace.example"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["full_name"], "Ada Lovelace");
    assert_eq!(body["email"], "ada@lovelace.example");
    let (status, body) = w
        .call(
            "PATCH",
            &format!("/api/v1/users/{ada_id}"),
            Some(&w.admin),
            Some(json!({"avatar_url": "javascript:alert(1)"})),
        )
        .await;
    assert_eq!(
        (status, fields(&body)),
        (422, vec!["avatar_url".to_string()])
    );
    let (status, body) = w
        .call(
            "GET",
            &format!("/api/v1/users/{ada_id}"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(
        (status, body["full_name"].as_str()),
        (200, Some("Ada Lovelace"))
    );
    let missing = uuid::Uuid::new_v4();
    for (method, path) in [
        ("GET", format!("/api/v1/users/{missing}")),
        ("PATCH", format!("/api/v1/users/{missing}")),
        ("POST", format!("/api/v1/users/{missing}/deactivate")),
    ] {
        let body = (method == "PATCH").then(|| json!({"full_name": "x"}));
        assert_eq!(
            w.code(method, &path, &w.admin, body).await,
            (404, "not_found".to_string()),
            "{method} {path}"
        );
    }

    // Nobody but a platform administrator administers users, not even a client administrator.
    let client = w.client("acme", json!({})).await;
    let (_, client_admin) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(client))])
        .await;
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/users".to_string(),
            Some(json!({"email": "x@y.example"})),
        ),
        ("GET", "/api/v1/users".to_string(), None),
        ("GET", format!("/api/v1/users/{ada_id}"), None),
        (
            "PATCH",
            format!("/api/v1/users/{ada_id}"),
            Some(json!({"full_name": "Evil"})),
        ),
        ("POST", format!("/api/v1/users/{ada_id}/deactivate"), None),
        ("POST", format!("/api/v1/users/{ada_id}/activate"), None),
    ] {
        assert_eq!(
            w.code(method, &path, &client_admin, body).await,
            (403, "forbidden".to_string()),
            "{method} {path}"
        );
    }
    let (_, body) = w
        .call(
            "GET",
            &format!("/api/v1/users/{ada_id}"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(body["full_name"], "Ada Lovelace");
}

#[tokio::test]
async fn the_user_list_pages_with_a_cursor_without_duplicates_or_gaps() {
    let w = world().await;
    for i in 0..7 {
        let (status, _) = w
            .call(
                "POST",
                "/api/v1/users",
                Some(&w.admin),
                Some(json!({"email": format!("user{i}@page.example"), "full_name": format!("Pager {i}")})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=3&q=pager&after={c}"),
            None => "/api/v1/users?limit=3&q=pager".to_string(),
        };
        let (status, page) = w.call("GET", &path, Some(&w.admin), None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 7);
        pages += 1;
        for u in page["items"].as_array().unwrap() {
            seen.push(u["email"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("user{i}@page.example")).collect();
    assert_eq!(seen, expected);

    let (_, all) = w.call("GET", "/api/v1/users", Some(&w.admin), None).await;
    assert_eq!(all["total"], 8);
    assert!(all["next_cursor"].is_null());
    let (_, inactive) = w
        .call("GET", "/api/v1/users?is_active=false", Some(&w.admin), None)
        .await;
    assert_eq!(inactive["total"], 0);
    for bad in ["limit=0", "limit=201", "limit=ten", "after=%21%21"] {
        let (status, body) = w
            .call("GET", &format!("/api/v1/users?{bad}"), Some(&w.admin), None)
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        let field = bad.split('=').next().unwrap();
        assert_eq!(fields(&body), vec![field.to_string()]);
    }
}

#[tokio::test]
async fn deactivated_users_are_locked_out_at_once_and_the_last_admin_stays() {
    let w = world().await;
    let client = w.client("acme", json!({})).await;
    let (user, token) = w
        .user(
            "worker@acme.example",
            &[(Role::Analyst, client_scope(client))],
        )
        .await;
    assert_eq!(w.call("GET", "/api/v1/me", Some(&token), None).await.0, 200);
    let (status, body) = w
        .call(
            "POST",
            &format!("/api/v1/users/{user}/deactivate"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!((status, &body["is_active"]), (200, &json!(false)), "{body}");
    assert_eq!(
        w.code("GET", "/api/v1/me", &token, None).await,
        (401, "unauthenticated".to_string())
    );
    assert_eq!(w.audited("user.deactivated").await, 1);
    let (status, _) = w
        .call(
            "POST",
            &format!("/api/v1/users/{user}/activate"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(w.call("GET", "/api/v1/me", Some(&token), None).await.0, 200);
    assert_eq!(w.audited("user.activated").await, 1);

    // The only platform administrator cannot lock the platform out.
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/users/{}/deactivate", w.admin_id),
            &w.admin,
            None
        )
        .await,
        (409, "conflict".to_string())
    );
    assert_eq!(
        w.call("GET", "/api/v1/users", Some(&w.admin), None).await.0,
        200
    );
}

#[tokio::test]
async fn invitations_create_or_reuse_users_within_the_client_limits() {
    let w = world().await;
    let acme = w.client("acme", json!({"max_users": 2})).await;
    let other = w.client("other", json!({})).await;
    let (_, acme_admin) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(acme))])
        .await;
    // A person already working for another client, with a name and roles there.
    let (known, _) = w
        .user(
            "known@shared.example",
            &[(Role::Admin, client_scope(other))],
        )
        .await;

    let path = format!("/api/v1/clients/{acme}/users");
    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&acme_admin),
            Some(
                json!({"email": "nope", "role": "owner", "expires_at": "2001-01-01T00:00:00Z",
                        "engagement_id": "x", "full_name": ""}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let f: HashSet<String> = fields(&body).into_iter().collect();
    for field in ["email", "role", "expires_at", "engagement_id", "full_name"] {
        assert!(f.contains(field), "{field}: {body}");
    }

    let (status, new) = w
        .call(
            "POST",
            &path,
            Some(&acme_admin),
            Some(json!({"email": "New@Acme.example", "full_name": "Newcomer", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, 201, "{new}");
    assert_eq!(new["email"], "new@acme.example");
    assert_eq!(new["roles"].as_array().unwrap().len(), 1);
    assert_eq!(new["roles"][0]["role"], "viewer");
    assert_eq!(new["roles"][0]["client_account_id"], acme.to_string());

    // The client is now full (the administrator and the newcomer).
    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&acme_admin),
            Some(json!({"email": "known@shared.example", "role": "analyst"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("limit_exceeded")),
        "{body}"
    );
    // A member of the client takes no further seat: another role for them is fine.
    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&acme_admin),
            Some(json!({"email": "new@acme.example", "role": "analyst"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["roles"].as_array().unwrap().len(), 2);
    // The same grant twice is a conflict.
    assert_eq!(
        w.code(
            "POST",
            &path,
            &acme_admin,
            Some(json!({"email": "new@acme.example", "role": "analyst"}))
        )
        .await,
        (409, "conflict".to_string())
    );

    // With room again, the existing user is granted the role: no second user, and nothing
    // about their other client shows.
    sqlx::query("UPDATE migration.client_accounts SET max_users = 3 WHERE id = $1")
        .bind(acme.0)
        .execute(&w.db().owner)
        .await
        .unwrap();
    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&acme_admin),
            Some(
                json!({"email": "known@shared.example", "full_name": "Renamed", "role": "analyst"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(id(&body), known.0);
    assert!(
        body["full_name"].is_null(),
        "the invitation does not rename: {body}"
    );
    let text = body.to_string();
    assert!(
        !text.contains(&other.to_string()),
        "leaks the other client: {text}"
    );
    assert_eq!(body["roles"].as_array().unwrap().len(), 1);
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM migration.users WHERE email = 'known@shared.example'")
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert_eq!(n, 1);
    assert_eq!(w.audited("user.invited").await, 3);
    assert_eq!(w.audited("role.granted").await, 3);

    // An inactive client takes no invitations, even from a platform administrator.
    let (status, _) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{other}/deactivate"),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/clients/{other}/users"),
            &w.admin,
            Some(json!({"email": "late@other.example", "role": "viewer"}))
        )
        .await,
        (409, "client_inactive".to_string())
    );
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM migration.users WHERE email = 'late@other.example'")
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert_eq!(n, 0, "the refused invitation created no user");
}

#[tokio::test]
async fn members_are_listed_per_client_and_removed_without_deactivating_them() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let other = w.client("other", json!({})).await;
    let (_, acme_admin) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(acme))])
        .await;
    let (both, both_token) = w
        .user(
            "both@shared.example",
            &[
                (Role::Analyst, client_scope(acme)),
                (Role::Admin, client_scope(other)),
            ],
        )
        .await;
    let (stranger, _) = w
        .user(
            "stranger@other.example",
            &[(Role::Viewer, client_scope(other))],
        )
        .await;
    let (_, viewer) = w
        .user("viewer@acme.example", &[(Role::Viewer, client_scope(acme))])
        .await;

    let (status, list) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{acme}/users"),
            Some(&acme_admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let emails: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "boss@acme.example",
            "both@shared.example",
            "viewer@acme.example"
        ]
    );
    assert!(!list.to_string().contains(&other.to_string()));

    let (status, member) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{acme}/users/{both}"),
            Some(&acme_admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(member["roles"].as_array().unwrap().len(), 1);
    assert_eq!(
        w.code(
            "GET",
            &format!("/api/v1/clients/{acme}/users/{stranger}"),
            &acme_admin,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    // Viewers neither list nor manage members.
    assert_eq!(
        w.code(
            "GET",
            &format!("/api/v1/clients/{acme}/users"),
            &viewer,
            None
        )
        .await,
        (403, "forbidden".to_string())
    );
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/clients/{acme}/users/{both}/deactivate"),
            &viewer,
            None
        )
        .await,
        (403, "forbidden".to_string())
    );

    let (status, _) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{acme}/users/{both}/deactivate"),
            Some(&acme_admin),
            None,
        )
        .await;
    assert_eq!(status, 204);
    // Gone from this client at once, still working for the other one.
    assert_eq!(
        w.code("GET", &format!("/api/v1/clients/{acme}"), &both_token, None)
            .await,
        (404, "not_found".to_string())
    );
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/clients/{other}"),
            Some(&both_token),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        w.code(
            "GET",
            &format!("/api/v1/clients/{acme}/users/{both}"),
            &acme_admin,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/clients/{acme}/users/{both}/deactivate"),
            &acme_admin,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(w.audited("member.deactivated").await, 1);
}

#[tokio::test]
async fn another_clients_administrator_finds_nothing_and_changes_nothing() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let engagement = w.engagement(acme, "Exit").await;
    let beta = w.client("beta", json!({})).await;
    let (member, member_token) = w
        .user(
            "member@acme.example",
            &[(Role::Analyst, client_scope(acme))],
        )
        .await;
    let (_, intruder) = w
        .user("admin@beta.example", &[(Role::Admin, client_scope(beta))])
        .await;
    let (role_id,): (uuid::Uuid,) =
        sqlx::query_as("SELECT id FROM migration.user_roles WHERE user_id = $1")
            .bind(member.0)
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    let before = w.role_rows(acme).await;
    let (users_before,): (i64,) = sqlx::query_as("SELECT count(*) FROM migration.users")
        .fetch_one(&w.db().owner)
        .await
        .unwrap();

    let probes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/v1/clients/{acme}/users"), None),
        (
            "GET",
            format!("/api/v1/clients/{acme}/users/{member}"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/clients/{acme}/users"),
            Some(json!({"email": "spy@beta.example", "role": "admin"})),
        ),
        (
            "POST",
            format!("/api/v1/clients/{acme}/users"),
            Some(
                json!({"email": "spy@beta.example", "role": "admin", "engagement_id": engagement.to_string()}),
            ),
        ),
        (
            "POST",
            format!("/api/v1/clients/{acme}/users/{member}/deactivate"),
            None,
        ),
        ("GET", format!("/api/v1/clients/{acme}/roles"), None),
        (
            "POST",
            format!("/api/v1/clients/{acme}/roles"),
            Some(json!({"user_id": member.to_string(), "role": "admin"})),
        ),
        (
            "DELETE",
            format!("/api/v1/clients/{acme}/roles/{role_id}"),
            None,
        ),
        ("GET", format!("/api/v1/clients/{acme}/audit-events"), None),
    ];
    for (method, path, body) in probes {
        let (status, answer) = w.call(method, &path, Some(&intruder), body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}: {answer}"
        );
    }
    // A's member may not be pulled into B by id either.
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/clients/{beta}/roles"),
            &intruder,
            Some(json!({"user_id": member.to_string(), "role": "viewer"}))
        )
        .await,
        (404, "not_found".to_string())
    );
    // Nor can A's engagement be used in B.
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/clients/{beta}/users"),
            &intruder,
            Some(json!({"email": "x@beta.example", "role": "viewer", "engagement_id": engagement.to_string()}))
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(w.role_rows(acme).await, before);
    let (users_after,): (i64,) = sqlx::query_as("SELECT count(*) FROM migration.users")
        .fetch_one(&w.db().owner)
        .await
        .unwrap();
    assert_eq!(users_before, users_after);
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/clients/{acme}"),
            Some(&member_token),
            None
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn users_of_an_identity_provider_are_created_with_their_subject() {
    let w = world().await;
    let (status, body) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(json!({"email": "sso@example.com", "subject": "auth0|abc123"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["auth0_user_id"], "auth0|abc123");
    let (status, body) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(json!({"email": "other@example.com", "subject": "auth0|abc123"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, body) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(json!({"email": "x@example.com", "subject": "local|spoof"})),
        )
        .await;
    assert_eq!((status, fields(&body)), (422, vec!["subject".to_string()]));
    // A local user created without a subject can be linked to the provider later.
    let (_, local) = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&w.admin),
            Some(json!({"email": "later@example.com"})),
        )
        .await;
    assert!(
        local["auth0_user_id"]
            .as_str()
            .unwrap()
            .starts_with("local|")
    );
    let path = format!("/api/v1/users/{}", local["id"].as_str().unwrap());
    let (status, linked) = w
        .call(
            "PATCH",
            &path,
            Some(&w.admin),
            Some(json!({"subject": "google-oauth2|42"})),
        )
        .await;
    assert_eq!(
        (status, linked["auth0_user_id"].as_str()),
        (200, Some("google-oauth2|42"))
    );
}
