//! Role grants: validation, who may grant what where, expiry and revocation taking effect on
//! the very next request, and no way up to platform administration.

mod common;
mod identity_support;

use identity_support::{client_scope, engagement_scope, fields, id, world};
use modernize_domain::access::Role;
use serde_json::json;
use std::collections::HashSet;

#[tokio::test]
async fn grants_are_validated_and_limited_to_members_of_the_client() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let other = w.client("other", json!({})).await;
    let (_, boss) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(acme))])
        .await;
    let (member, _) = w
        .user("member@acme.example", &[(Role::Viewer, client_scope(acme))])
        .await;
    let (outsider, _) = w
        .user(
            "outsider@other.example",
            &[(Role::Viewer, client_scope(other))],
        )
        .await;
    let (loner, _) = w.user("loner@nowhere.example", &[]).await;
    let path = format!("/api/v1/clients/{acme}/roles");

    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&boss),
            Some(
                json!({"user_id": "abc", "role": "superuser", "expires_at": "2000-01-01T00:00:00Z",
                        "engagement_id": "nope"}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let f: HashSet<String> = fields(&body).into_iter().collect();
    for field in ["user_id", "role", "expires_at", "engagement_id"] {
        assert!(f.contains(field), "{field}: {body}");
    }
    let (status, body) = w.call("POST", &path, Some(&boss), Some(json!({}))).await;
    assert_eq!(status, 422);
    let f: HashSet<String> = fields(&body).into_iter().collect();
    assert!(f.contains("user_id") && f.contains("role"), "{body}");
    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&boss),
            Some(json!({"user_id": member.to_string(), "role": "admin", "expires_at": "tomorrow"})),
        )
        .await;
    assert_eq!(
        (status, fields(&body)),
        (422, vec!["expires_at".to_string()])
    );

    // Users of other clients, and users of no client, are not found for a client admin.
    for stranger in [outsider, loner] {
        assert_eq!(
            w.code(
                "POST",
                &path,
                &boss,
                Some(json!({"user_id": stranger.to_string(), "role": "viewer"}))
            )
            .await,
            (404, "not_found".to_string())
        );
    }
    // A platform administrator may bring any user in.
    let (status, grant) = w
        .call(
            "POST",
            &path,
            Some(&w.admin),
            Some(json!({"user_id": loner.to_string(), "role": "analyst"})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["client_account_id"], acme.to_string());
    assert_eq!(grant["granted_by"], w.admin_id.to_string());

    let (status, grant) = w
        .call(
            "POST",
            &path,
            Some(&boss),
            Some(json!({"user_id": member.to_string(), "role": "analyst",
                        "expires_at": "2999-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["role"], "analyst");
    assert_eq!(grant["user_email"], "member@acme.example");
    assert!(
        grant["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2999-01-01")
    );
    assert_eq!(
        w.code(
            "POST",
            &path,
            &boss,
            Some(json!({"user_id": member.to_string(), "role": "analyst"}))
        )
        .await,
        (409, "conflict".to_string())
    );

    let (status, list) = w.call("GET", &path, Some(&boss), None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");
    let (_, mine) = w
        .call(
            "GET",
            &format!("{path}?user_id={member}"),
            Some(&boss),
            None,
        )
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    let (status, body) = w
        .call("GET", &format!("{path}?user_id=zzz"), Some(&boss), None)
        .await;
    assert_eq!((status, fields(&body)), (422, vec!["user_id".to_string()]));
}

#[tokio::test]
async fn expired_and_revoked_roles_stop_counting_at_once() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let (_, boss) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(acme))])
        .await;
    let (member, member_token) = w.user("member@acme.example", &[]).await;
    // Brought in by a platform administrator with an expiring role.
    let (status, grant) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{acme}/roles"),
            Some(&w.admin),
            Some(json!({"user_id": member.to_string(), "role": "viewer",
                        "expires_at": "2999-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    let role_id = id(&grant);
    let client_path = format!("/api/v1/clients/{acme}");
    assert_eq!(
        w.call("GET", &client_path, Some(&member_token), None)
            .await
            .0,
        200
    );

    // Expiry is honoured on the next request.
    sqlx::query(
        "UPDATE migration.user_roles SET expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(role_id)
    .execute(&w.db().owner)
    .await
    .unwrap();
    assert_eq!(
        w.code("GET", &client_path, &member_token, None).await,
        (404, "not_found".to_string())
    );
    let (_, me) = w.call("GET", "/api/v1/me", Some(&member_token), None).await;
    assert_eq!(me["grants"], json!([]));

    // A fresh grant, then its revocation: access ends on the very next request.
    let (status, grant) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{acme}/roles"),
            Some(&boss),
            Some(json!({"user_id": member.to_string(), "role": "analyst"})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    let role_id = id(&grant);
    assert_eq!(
        w.call("GET", &client_path, Some(&member_token), None)
            .await
            .0,
        200
    );
    let (status, _) = w
        .call(
            "DELETE",
            &format!("/api/v1/clients/{acme}/roles/{role_id}"),
            Some(&boss),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        w.code("GET", &client_path, &member_token, None).await,
        (404, "not_found".to_string())
    );
    let (is_active,): (bool,) =
        sqlx::query_as("SELECT is_active FROM migration.user_roles WHERE id = $1")
            .bind(role_id)
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert!(!is_active, "revocation keeps the row, inactive");
    assert_eq!(w.audited("role.revoked").await, 1);
    // Revoking again changes nothing; unknown roles are not found.
    let (status, _) = w
        .call(
            "DELETE",
            &format!("/api/v1/clients/{acme}/roles/{role_id}"),
            Some(&boss),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(w.audited("role.revoked").await, 1);
    assert_eq!(
        w.code(
            "DELETE",
            &format!("/api/v1/clients/{acme}/roles/{}", uuid::Uuid::new_v4()),
            &boss,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    // Revoked grants are listed on request only.
    let (_, active) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{acme}/roles?user_id={member}"),
            Some(&boss),
            None,
        )
        .await;
    // The expired grant is still listed (to be seen and renewed), the revoked one is not.
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");
    assert_eq!(active[0]["role"], "viewer");
    let (_, all) = w
        .call(
            "GET",
            &format!("/api/v1/clients/{acme}/roles?user_id={member}&include_inactive=true"),
            Some(&boss),
            None,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn viewers_and_analysts_cannot_grant_and_engagement_admins_stay_in_their_engagement() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let mine = w.engagement(acme, "Mine").await;
    let theirs = w.engagement(acme, "Theirs").await;
    let (member, _) = w
        .user("member@acme.example", &[(Role::Viewer, client_scope(acme))])
        .await;
    let (_, viewer) = w
        .user("viewer@acme.example", &[(Role::Viewer, client_scope(acme))])
        .await;
    let (_, analyst) = w
        .user(
            "analyst@acme.example",
            &[(Role::Analyst, client_scope(acme))],
        )
        .await;
    let (_, lead) = w
        .user(
            "lead@acme.example",
            &[(Role::Admin, engagement_scope(acme, mine))],
        )
        .await;
    let path = format!("/api/v1/clients/{acme}/roles");
    let before = w.role_rows(acme).await;
    for token in [&viewer, &analyst] {
        assert_eq!(
            w.code(
                "POST",
                &path,
                token,
                Some(json!({"user_id": member.to_string(), "role": "admin"}))
            )
            .await,
            (403, "forbidden".to_string())
        );
        assert_eq!(
            w.code(
                "POST",
                &format!("/api/v1/clients/{acme}/users"),
                token,
                Some(json!({"email": "x@acme.example", "role": "viewer"}))
            )
            .await,
            (403, "forbidden".to_string())
        );
        assert_eq!(w.code("GET", &path, token, None).await.0, 403);
    }
    // The engagement administrator: not client-wide, not on another engagement.
    assert_eq!(
        w.code(
            "POST",
            &path,
            &lead,
            Some(json!({"user_id": member.to_string(), "role": "analyst"}))
        )
        .await,
        (403, "forbidden".to_string())
    );
    assert_eq!(
        w.code(
            "POST",
            &path,
            &lead,
            Some(json!({"user_id": member.to_string(), "role": "analyst",
                        "engagement_id": theirs.to_string()}))
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(w.role_rows(acme).await, before, "nothing was granted");

    let (status, grant) = w
        .call(
            "POST",
            &path,
            Some(&lead),
            Some(json!({"user_id": member.to_string(), "role": "analyst",
                        "engagement_id": mine.to_string()})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["engagement_id"], mine.to_string());
    let (status, list) = w
        .call(
            "GET",
            &format!("{path}?engagement_id={mine}"),
            Some(&lead),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(w.code("GET", &path, &lead, None).await.0, 403);
    // It may revoke grants on its engagement, not the client-level ones.
    let (client_role,): (uuid::Uuid,) = sqlx::query_as(
        "SELECT id FROM migration.user_roles WHERE user_id = $1 AND engagement_id IS NULL",
    )
    .bind(member.0)
    .fetch_one(&w.db().owner)
    .await
    .unwrap();
    assert_eq!(
        w.code("DELETE", &format!("{path}/{client_role}"), &lead, None)
            .await,
        (403, "forbidden".to_string())
    );
    let (status, _) = w
        .call(
            "DELETE",
            &format!("{path}/{}", id(&grant)),
            Some(&lead),
            None,
        )
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn nobody_below_platform_admin_reaches_platform_scope() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let (boss_id, boss) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(acme))])
        .await;
    let (member, _) = w
        .user("member@acme.example", &[(Role::Viewer, client_scope(acme))])
        .await;
    for user in [boss_id, member] {
        assert_eq!(
            w.code(
                "POST",
                &format!("/api/v1/users/{user}/roles"),
                &boss,
                Some(json!({"role": "admin"}))
            )
            .await,
            (403, "forbidden".to_string())
        );
    }
    // There is no field to ask for platform scope through the client's roles.
    let (status, body) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{acme}/roles"),
            Some(&boss),
            Some(
                json!({"user_id": member.to_string(), "role": "admin", "client_account_id": null}),
            ),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (status, grant) = w
        .call(
            "POST",
            &format!("/api/v1/clients/{acme}/roles"),
            Some(&boss),
            Some(json!({"user_id": member.to_string(), "role": "admin"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(grant["client_account_id"], acme.to_string());
    let (platform,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM migration.user_roles WHERE client_account_id IS NULL")
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert_eq!(platform, 1, "only the original platform administrator");
    assert_eq!(w.code("GET", "/api/v1/users", &boss, None).await.0, 403);
}

#[tokio::test]
async fn platform_admins_grant_and_revoke_platform_administration() {
    let w = world().await;
    let (ops, ops_token) = w.user("ops@example.com", &[]).await;
    assert_eq!(
        w.code("GET", "/api/v1/users", &ops_token, None).await.0,
        403
    );
    let path = format!("/api/v1/users/{ops}/roles");
    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&w.admin),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!((status, fields(&body)), (422, vec!["role".to_string()]));
    let (status, body) = w
        .call(
            "POST",
            &path,
            Some(&w.admin),
            Some(json!({"role": "admin", "expires_at": "1999-12-31T23:59:59Z"})),
        )
        .await;
    assert_eq!(
        (status, fields(&body)),
        (422, vec!["expires_at".to_string()])
    );
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/users/{}/roles", uuid::Uuid::new_v4()),
            &w.admin,
            Some(json!({"role": "admin"}))
        )
        .await,
        (404, "not_found".to_string())
    );
    let (status, grant) = w
        .call(
            "POST",
            &path,
            Some(&w.admin),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    assert!(grant["client_account_id"].is_null());
    assert_eq!(
        w.code("POST", &path, &w.admin, Some(json!({"role": "admin"})))
            .await,
        (409, "conflict".to_string())
    );
    assert_eq!(
        w.call("GET", "/api/v1/users", Some(&ops_token), None)
            .await
            .0,
        200
    );
    let (status, detail) = w
        .call("GET", &format!("/api/v1/users/{ops}"), Some(&w.admin), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["roles"].as_array().unwrap().len(), 1);

    let role_id = id(&grant);
    let (status, _) = w
        .call("DELETE", &format!("{path}/{role_id}"), Some(&w.admin), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        w.code("GET", "/api/v1/users", &ops_token, None).await.0,
        403
    );
    assert_eq!(
        w.code(
            "DELETE",
            &format!("{path}/{}", uuid::Uuid::new_v4()),
            &w.admin,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    // The last platform administrator's grant cannot be revoked.
    let (own,): (uuid::Uuid,) =
        sqlx::query_as("SELECT id FROM migration.user_roles WHERE user_id = $1")
            .bind(w.admin_id.0)
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert_eq!(
        w.code(
            "DELETE",
            &format!("/api/v1/users/{}/roles/{own}", w.admin_id),
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
