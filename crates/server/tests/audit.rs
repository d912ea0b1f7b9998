//! Searching and reviewing the security audit log, and its append-only guarantee for the
//! runtime role.

mod common;
mod identity_support;

use identity_support::{client_scope, fields, id, world};
use modernize_domain::access::Role;
use modernize_domain::tenancy::TenantScope;
use serde_json::{Value, json};
use std::collections::HashSet;
use uuid::Uuid;

/// Inserts `n` events as the owner, all with the same timestamp (ties are broken by id).
async fn seed(w: &identity_support::World, n: usize, client: Option<Uuid>, event_type: &str) {
    for i in 0..n {
        sqlx::query(
            "INSERT INTO migration.security_audit_logs \
                (client_account_id, event_type, event_category, severity, actor_user_id, actor_email, \
                 action, result, requires_review, created_at, target_type, target_id) \
             VALUES ($1, $2, 'data', $3, 'system', 'robot@example.com', 'seed', 'success', $4, \
                     '2030-05-05T10:00:00Z', 'thing', $5)",
        )
        .bind(client)
        .bind(event_type)
        .bind(if i % 2 == 0 { "INFO" } else { "CRITICAL" })
        .bind(i % 3 == 0)
        .bind(format!("t{i}"))
        .execute(&w.db().owner)
        .await
        .unwrap();
    }
}

async fn walk(w: &identity_support::World, token: &str, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if base.contains('?') { '&' } else { '?' };
        let path = match &cursor {
            Some(c) => format!("{base}{sep}limit=4&after={c}"),
            None => format!("{base}{sep}limit=4"),
        };
        let (status, page) = w.call("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "{path}: {page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 4);
        out.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn the_platform_search_filters_and_pages_without_duplicates_or_gaps() {
    let w = world().await;
    seed(&w, 11, None, "seed.tie").await;
    // Events made through the API, newer than nothing in particular.
    for i in 0..3 {
        let (status, _) = w
            .call(
                "POST",
                "/api/v1/users",
                Some(&w.admin),
                Some(json!({"email": format!("u{i}@x.example")})),
            )
            .await;
        assert_eq!(status, 201);
    }

    let everything = walk(&w, &w.admin, "/api/v1/admin/audit-events").await;
    let (expected,): (i64,) = sqlx::query_as("SELECT count(*) FROM migration.security_audit_logs")
        .fetch_one(&w.db().owner)
        .await
        .unwrap();
    assert_eq!(everything.len() as i64, expected);
    let ids: HashSet<&str> = everything
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), everything.len(), "no duplicates");
    let order: Vec<(String, String)> = everything
        .iter()
        .map(|e| {
            (
                e["created_at"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let owner_order: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM migration.security_audit_logs ORDER BY created_at DESC, id DESC",
    )
    .fetch_all(&w.db().owner)
    .await
    .unwrap();
    let api_ids: Vec<String> = order.iter().map(|o| o.1.clone()).collect();
    let owner_ids: Vec<String> = owner_order.iter().map(|o| o.0.to_string()).collect();
    assert_eq!(api_ids, owner_ids, "newest first, ties by id");

    let tie = walk(
        &w,
        &w.admin,
        "/api/v1/admin/audit-events?event_type=seed.tie",
    )
    .await;
    assert_eq!(tie.len(), 11);
    let critical = walk(
        &w,
        &w.admin,
        "/api/v1/admin/audit-events?event_type=seed.tie&severity=CRITICAL",
    )
    .await;
    assert_eq!(critical.len(), 5);
    let review = walk(
        &w,
        &w.admin,
        "/api/v1/admin/audit-events?event_type=seed.tie&requires_review=true",
    )
    .await;
    assert_eq!(review.len(), 4);
    let (_, page) = w
        .call(
            "GET",
            "/api/v1/admin/audit-events?event_category=config&event_type=user.created",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let (_, page) = w
        .call(
            "GET",
            "/api/v1/admin/audit-events?actor=ROBOT@example.com&target_type=thing&target_id=t3",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let by_id = walk(
        &w,
        &w.admin,
        &format!("/api/v1/admin/audit-events?actor={}", w.admin_id),
    )
    .await;
    assert_eq!(by_id.len(), 3);
    let window = walk(
        &w,
        &w.admin,
        "/api/v1/admin/audit-events?from=2030-05-05T10:00:00Z&to=2030-05-05T10:00:00Z",
    )
    .await;
    assert_eq!(window.len(), 11);
    let (_, page) = w
        .call(
            "GET",
            "/api/v1/admin/audit-events?from=2030-05-05T10:00:01%2B00:00",
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let unreviewed = walk(
        &w,
        &w.admin,
        "/api/v1/admin/audit-events?event_type=seed.tie&reviewed=false",
    )
    .await;
    assert_eq!(unreviewed.len(), 11);

    for (query, field) in [
        ("event_category=misc", "event_category"),
        ("severity=LOUD", "severity"),
        ("from=yesterday", "from"),
        ("from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", "to"),
        ("requires_review=maybe", "requires_review"),
        ("reviewed=1", "reviewed"),
        ("limit=500", "limit"),
        ("after=garbage", "after"),
        ("client_account_id=acme", "client_account_id"),
    ] {
        let (status, body) = w
            .call(
                "GET",
                &format!("/api/v1/admin/audit-events?{query}"),
                Some(&w.admin),
                None,
            )
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(fields(&body), vec![field.to_string()], "{query}");
    }
}

#[tokio::test]
async fn client_admins_read_their_clients_events_only() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let beta = w.client("beta", json!({})).await;
    seed(&w, 3, Some(acme.0), "seed.acme").await;
    seed(&w, 2, Some(beta.0), "seed.beta").await;
    seed(&w, 2, None, "seed.platform").await;
    let (_, boss) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(acme))])
        .await;
    let (_, analyst) = w
        .user(
            "analyst@acme.example",
            &[(Role::Analyst, client_scope(acme))],
        )
        .await;
    let path = format!("/api/v1/clients/{acme}/audit-events");
    let events = walk(&w, &boss, &path).await;
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e["client_account_id"] == acme.to_string()),
        "{events:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event_type"] == "seed.acme")
            .count(),
        3
    );
    assert_eq!(
        w.code("GET", &path, &analyst, None).await,
        (403, "forbidden".to_string())
    );
    assert_eq!(
        w.code(
            "GET",
            &format!("/api/v1/clients/{beta}/audit-events"),
            &boss,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(
        w.code(
            "GET",
            &format!("{path}?client_account_id={beta}"),
            &boss,
            None
        )
        .await
        .0,
        422
    );
    assert_eq!(
        w.code("GET", "/api/v1/admin/audit-events", &boss, None)
            .await,
        (403, "forbidden".to_string())
    );
    // The platform search can narrow to one client.
    let (_, page) = w
        .call(
            "GET",
            &format!("/api/v1/admin/audit-events?client_account_id={beta}"),
            Some(&w.admin),
            None,
        )
        .await;
    let items = page["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .all(|e| e["client_account_id"] == beta.to_string())
    );
    assert!(items.iter().any(|e| e["event_type"] == "seed.beta"));
}

#[tokio::test]
async fn reviewing_sets_the_review_fields_once() {
    let w = world().await;
    let acme = w.client("acme", json!({})).await;
    let (_, boss) = w
        .user("boss@acme.example", &[(Role::Admin, client_scope(acme))])
        .await;
    seed(&w, 1, Some(acme.0), "seed.review").await;
    let (_, page) = w
        .call(
            "GET",
            "/api/v1/admin/audit-events?event_type=seed.review",
            Some(&w.admin),
            None,
        )
        .await;
    let event_id = id(&page["items"][0]);
    let path = format!("/api/v1/admin/audit-events/{event_id}/review");
    assert_eq!(
        w.code("POST", &path, &boss, None).await,
        (403, "forbidden".to_string())
    );
    let (status, event) = w.call("POST", &path, Some(&w.admin), None).await;
    assert_eq!(status, 200, "{event}");
    assert_eq!(event["reviewed_by"], w.admin_id.to_string());
    assert!(event["reviewed_at"].is_string());
    assert_eq!(event["event_type"], "seed.review");
    assert_eq!(
        w.code("POST", &path, &w.admin, None).await,
        (409, "conflict".to_string())
    );
    assert_eq!(
        w.code(
            "POST",
            &format!("/api/v1/admin/audit-events/{}/review", Uuid::new_v4()),
            &w.admin,
            None
        )
        .await,
        (404, "not_found".to_string())
    );
    assert_eq!(w.audited("audit.reviewed").await, 1);
    let reviewed = walk(&w, &w.admin, "/api/v1/admin/audit-events?reviewed=true").await;
    assert_eq!(reviewed.len(), 1);
    assert_eq!(id(&reviewed[0]), event_id);
}

#[tokio::test]
async fn the_runtime_role_cannot_rewrite_or_delete_audit_rows() {
    let w = world().await;
    seed(&w, 1, None, "seed.locked").await;
    let (event_id,): (Uuid,) = sqlx::query_as(
        "SELECT id FROM migration.security_audit_logs WHERE event_type = 'seed.locked'",
    )
    .fetch_one(&w.db().owner)
    .await
    .unwrap();
    let platform = TenantScope::Platform { user_id: None };

    let mut tx = modernize_db::tenant::begin(&w.db().app, platform)
        .await
        .unwrap();
    let error =
        sqlx::query("UPDATE migration.security_audit_logs SET event_type = 'forged' WHERE id = $1")
            .bind(event_id)
            .execute(&mut *tx)
            .await
            .expect_err("a non-review column cannot change");
    assert!(error.to_string().contains("append-only"), "{error}");
    drop(tx);

    let mut tx = modernize_db::tenant::begin(&w.db().app, platform)
        .await
        .unwrap();
    let error = sqlx::query("DELETE FROM migration.security_audit_logs WHERE id = $1")
        .bind(event_id)
        .execute(&mut *tx)
        .await
        .expect_err("rows cannot be deleted");
    assert!(error.to_string().contains("permission denied"), "{error}");
    drop(tx);

    // The review columns, and only they, may change.
    let mut tx = modernize_db::tenant::begin(&w.db().app, platform)
        .await
        .unwrap();
    let done = sqlx::query("UPDATE migration.security_audit_logs SET reviewed_at = now(), reviewed_by = 'x' WHERE id = $1")
        .bind(event_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    tx.commit().await.unwrap();
    let (event_type,): (String,) =
        sqlx::query_as("SELECT event_type FROM migration.security_audit_logs WHERE id = $1")
            .bind(event_id)
            .fetch_one(&w.db().owner)
            .await
            .unwrap();
    assert_eq!(event_type, "seed.locked");
}
