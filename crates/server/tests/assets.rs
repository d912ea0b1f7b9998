//! Inventory API: filters, free-text search, sort, keyset pagination with totals, detail with
//! dependencies and provenance, edit and bulk edit (all or nothing) with audit, CSV/XLSX export
//! safe against formula injection, and another client's users get 404 on every route.

mod assets_support;
mod common;

use assets_support::{asset, depend, world};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

async fn get(server: &common::Running, token: &str, path: &str) -> (u16, Value) {
    let resp = server
        .client
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn send(
    server: &common::Running,
    method: &str,
    token: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let resp = server
        .client
        .request(method.parse().unwrap(), server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["asset_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn filters_search_sort_and_cursor_walk() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let types = ["server", "database", "application"];
    let envs = ["production", "test"];
    for i in 0..25 {
        asset(
            db,
            w.client_a,
            w.eng_a,
            json!({
                "asset_name": format!("srv{i:02}"),
                "asset_type": types[i % 3],
                "environment": envs[i % 2],
                "business_criticality": if i < 5 { "critical" } else { "low" },
                "six_r_strategy": if i % 5 == 0 { "retire" } else { "rehost" },
                "migration_wave": i % 4,
                "hostname": format!("host{i}.corp"),
            }),
        )
        .await;
    }
    asset(
        db,
        w.client_a,
        w.eng_a,
        json!({"asset_name": "payroll", "fqdn": "pay.example.org",
        "ip_address": "10.9.8.7", "application_name": "Payroll%Suite"}),
    )
    .await;
    // Same-named asset in the other engagement and in client B: never listed here.
    asset(db, w.client_a, w.eng_a2, json!({"asset_name": "srv00"})).await;
    asset(db, w.client_b, w.eng_b, json!({"asset_name": "srv00"})).await;
    let base = format!(
        "/api/v1/clients/{}/engagements/{}/assets",
        w.client_a, w.eng_a
    );

    let (s, all) = get(&server, &w.analyst, &format!("{base}?limit=200")).await;
    assert_eq!(s, 200, "{all}");
    assert_eq!(all["total"], 26);
    assert!(all["next_cursor"].is_null());

    for (filter, expected) in [
        ("asset_type=database", 8),
        ("environment=test", 12),
        ("business_criticality=critical", 5),
        ("six_r_strategy=retire", 5),
        ("migration_wave=3", 6),
        ("asset_type=server&environment=production", 5),
        ("q=HOST1", 11),
        ("q=pay.example", 1),
        ("q=10.9.8", 1),
        ("q=payroll%25suite", 1),
        ("q=%25", 1),
        ("q=nothing-like-this", 0),
    ] {
        let (s, page) = get(&server, &w.analyst, &format!("{base}?{filter}&limit=200")).await;
        assert_eq!(s, 200, "{filter}: {page}");
        assert_eq!(page["total"], expected, "{filter}");
        assert_eq!(
            page["items"].as_array().unwrap().len(),
            expected,
            "{filter}"
        );
    }
    let (_, page) = get(
        &server,
        &w.analyst,
        &format!("{base}?asset_type=database&limit=200"),
    )
    .await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["asset_type"] == "database")
    );

    // Sort both ways.
    let (_, asc) = get(
        &server,
        &w.analyst,
        &format!("{base}?sort=asset_name&limit=200"),
    )
    .await;
    let (_, desc) = get(
        &server,
        &w.analyst,
        &format!("{base}?sort=-asset_name&limit=200"),
    )
    .await;
    let mut sorted = names(&asc);
    sorted.sort();
    assert_eq!(names(&asc), sorted);
    sorted.reverse();
    assert_eq!(names(&desc), sorted);
    let (_, crit) = get(
        &server,
        &w.analyst,
        &format!("{base}?sort=business_criticality&limit=5"),
    )
    .await;
    assert!(
        crit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["business_criticality"] == "critical")
    );

    // Walk the cursor, several sorts, with a filter: no duplicates, no gaps, total stable.
    for (sort, filter, expected) in [
        ("asset_name", "", 26),
        ("-asset_name", "", 26),
        ("migration_wave", "", 26),
        ("-updated_at", "", 26),
        ("-created_at", "&environment=production", 13),
    ] {
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let (s, page) = get(
                &server,
                &w.analyst,
                &format!("{base}?sort={sort}&limit=4{filter}{after}"),
            )
            .await;
            assert_eq!(s, 200, "{sort}: {page}");
            assert_eq!(page["total"], expected);
            for item in page["items"].as_array().unwrap() {
                seen.push(item["id"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => after = format!("&after={c}"),
                None => break,
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(seen.len(), expected, "{sort}");
        assert_eq!(unique.len(), expected, "{sort}");
    }

    // Invalid filters, sort, cursor → 422 with field details.
    for (bad, field) in [
        ("asset_type=mainframe", "asset_type"),
        ("environment=prod", "environment"),
        ("business_criticality=urgent", "business_criticality"),
        ("six_r_strategy=rebuy", "six_r_strategy"),
        ("migration_wave=-1", "migration_wave"),
        ("migration_wave=x", "migration_wave"),
        ("sort=password", "sort"),
        ("limit=0", "limit"),
        ("after=garbage", "after"),
    ] {
        let (s, body) = get(&server, &w.analyst, &format!("{base}?{bad}")).await;
        assert_eq!(s, 422, "{bad}");
        assert_eq!(body["error"]["code"], "validation_failed");
        assert!(body.to_string().contains(field), "{bad}: {body}");
    }
    // A cursor of one sort is refused by another.
    let (_, first) = get(&server, &w.analyst, &format!("{base}?limit=2")).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let (s, _) = get(
        &server,
        &w.analyst,
        &format!("{base}?sort=-asset_name&after={cursor}"),
    )
    .await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn detail_edit_bulk_edit_and_isolation() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let session = Uuid::new_v4();
    let web = asset(
        db,
        w.client_a,
        w.eng_a,
        json!({"asset_name": "web", "asset_type": "server",
        "source_system": "rvtools", "source_id": "vm-42", "import_session_id": session,
        "raw_data": {"VM": "web", "CPUs": "4"}}),
    )
    .await;
    let dbase = asset(
        db,
        w.client_a,
        w.eng_a,
        json!({"asset_name": "db", "asset_type": "database"}),
    )
    .await;
    let lb = asset(
        db,
        w.client_a,
        w.eng_a,
        json!({"asset_name": "lb", "asset_type": "network"}),
    )
    .await;
    let other_eng = asset(db, w.client_a, w.eng_a2, json!({"asset_name": "elsewhere"})).await;
    depend(db, w.client_a, web, dbase, "data").await;
    depend(db, w.client_a, lb, web, "network").await;
    let base = format!(
        "/api/v1/clients/{}/engagements/{}/assets",
        w.client_a, w.eng_a
    );

    let (s, detail) = get(&server, &w.viewer, &format!("{base}/{web}")).await;
    assert_eq!(s, 200, "{detail}");
    assert_eq!(detail["asset_name"], "web");
    assert_eq!(detail["outgoing"][0]["asset_id"], dbase.to_string());
    assert_eq!(detail["outgoing"][0]["asset_name"], "db");
    assert_eq!(detail["outgoing"][0]["asset_type"], "database");
    assert_eq!(detail["incoming"][0]["asset_id"], lb.to_string());
    assert_eq!(detail["provenance"]["source_system"], "rvtools");
    assert_eq!(detail["provenance"]["source_id"], "vm-42");
    assert_eq!(
        detail["provenance"]["import_session_id"],
        session.to_string()
    );
    assert_eq!(detail["provenance"]["raw_data"]["CPUs"], "4");
    // An asset of another engagement is not found under this one.
    let (s, _) = get(&server, &w.analyst, &format!("{base}/{other_eng}")).await;
    assert_eq!(s, 404);

    // Edit with audit; invalid values refused; viewer refused.
    let (s, edited) = send(
        &server,
        "PATCH",
        &w.analyst,
        &format!("{base}/{web}"),
        json!({
        "six_r_strategy": "replatform", "migration_wave": 2, "cpu_utilization_percent": 55.5,
        "business_owner": "Finance"}),
    )
    .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(edited["six_r_strategy"], "replatform");
    assert_eq!(edited["migration_wave"], 2);
    assert_eq!(edited["asset_name"], "web");
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs \
          WHERE event_type = 'asset.updated' AND target_id = $1 AND actor_email = 'analyst@alpha.example'",
    )
    .bind(web.to_string())
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(count, 1);
    for (bad, field) in [
        (json!({"six_r_strategy": "rebuy"}), "six_r_strategy"),
        (json!({"asset_type": "mainframe"}), "asset_type"),
        (json!({"cpu_cores": -1}), "cpu_cores"),
        (json!({"memory_gb": -0.5}), "memory_gb"),
        (
            json!({"cpu_utilization_percent": 101}),
            "cpu_utilization_percent",
        ),
        (json!({"mac_address": "x".repeat(18)}), "mac_address"),
        (json!({"asset_name": "  "}), "asset_name"),
        (json!({}), "body"),
    ] {
        let (s, body) = send(
            &server,
            "PATCH",
            &w.analyst,
            &format!("{base}/{web}"),
            bad.clone(),
        )
        .await;
        assert_eq!(s, 422, "{bad}: {body}");
        assert!(body.to_string().contains(field), "{bad}: {body}");
    }
    let (s, _) = send(
        &server,
        "PATCH",
        &w.viewer,
        &format!("{base}/{web}"),
        json!({"migration_wave": 9}),
    )
    .await;
    assert_eq!(s, 403);

    // Bulk edit: all or nothing.
    let (s, body) = send(
        &server,
        "POST",
        &w.analyst,
        &format!("{base}/bulk-edit"),
        json!({
        "asset_ids": [web, dbase, other_eng], "changes": {"migration_wave": 7}}),
    )
    .await;
    assert_eq!(s, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 of the 3"),
        "{body}"
    );
    let (waves,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM migration.assets WHERE migration_wave = 7")
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(waves, 0);
    let (s, body) = send(&server, "POST", &w.analyst, &format!("{base}/bulk-edit"), json!({
        "asset_ids": [web, dbase, lb], "changes": {"migration_wave": 7, "environment": "production"}})).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["updated"], 3);
    let (_, page) = get(
        &server,
        &w.analyst,
        &format!("{base}?migration_wave=7&environment=production"),
    )
    .await;
    assert_eq!(page["total"], 3);
    let (details,): (Value,) = sqlx::query_as(
        "SELECT details FROM migration.security_audit_logs WHERE event_type = 'asset.bulk_updated'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(details["count"], 3, "{details}");
    for (bad, field) in [
        (
            json!({"asset_ids": [], "changes": {"migration_wave": 1}}),
            "asset_ids",
        ),
        (
            json!({"asset_ids": [web], "changes": {"environment": "moon"}}),
            "changes.environment",
        ),
        (json!({"asset_ids": [web], "changes": {}}), "changes"),
        (
            json!({"asset_ids": (0..1001).map(|_| Uuid::new_v4()).collect::<Vec<_>>(),
                "changes": {"migration_wave": 1}}),
            "asset_ids",
        ),
    ] {
        let (s, body) = send(
            &server,
            "POST",
            &w.analyst,
            &format!("{base}/bulk-edit"),
            bad,
        )
        .await;
        assert_eq!(s, 422, "{body}");
        assert!(body.to_string().contains(field), "{body}");
    }
    let (s, _) = send(
        &server,
        "POST",
        &w.viewer,
        &format!("{base}/bulk-edit"),
        json!({"asset_ids": [web], "changes": {"migration_wave": 1}}),
    )
    .await;
    assert_eq!(s, 403);

    // Another client's administrator: 404 everywhere, as for ids that do not exist; nothing changes.
    let before: Vec<(Value,)> =
        sqlx::query_as("SELECT to_jsonb(a) - 'embedding' FROM migration.assets a ORDER BY id")
            .fetch_all(&db.owner)
            .await
            .unwrap();
    let graph = format!(
        "/api/v1/clients/{}/engagements/{}/dependency-graph",
        w.client_a, w.eng_a
    );
    for (method, path, body) in [
        ("GET", base.clone(), Value::Null),
        ("GET", format!("{base}/{web}"), Value::Null),
        ("GET", format!("{base}/export?format=csv"), Value::Null),
        ("GET", format!("{base}/export?format=xlsx"), Value::Null),
        ("GET", graph.clone(), Value::Null),
        (
            "PATCH",
            format!("{base}/{web}"),
            json!({"migration_wave": 1}),
        ),
        (
            "POST",
            format!("{base}/bulk-edit"),
            json!({"asset_ids": [web], "changes": {"migration_wave": 1}}),
        ),
    ] {
        let (s, answer) = send(&server, method, &w.intruder, &path, body).await;
        assert_eq!(s, 404, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found");
        assert!(!answer.to_string().contains(&web.to_string()));
    }
    let after: Vec<(Value,)> =
        sqlx::query_as("SELECT to_jsonb(a) - 'embedding' FROM migration.assets a ORDER BY id")
            .fetch_all(&db.owner)
            .await
            .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn exports_are_filtered_and_neutralise_formulas() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let evil = [
        r#"=HYPERLINK("http://x")"#,
        "+1+1",
        "@SUM(A1)",
        "-2+3",
        "\tcmd",
    ];
    for (i, e) in evil.iter().enumerate() {
        asset(
            db,
            w.client_a,
            w.eng_a,
            json!({"asset_name": format!("evil{i}"), "business_owner": e,
            "asset_type": "server", "cpu_cores": 4}),
        )
        .await;
    }
    asset(
        db,
        w.client_a,
        w.eng_a,
        json!({"asset_name": "plain-db", "asset_type": "database",
        "business_owner": "Ops"}),
    )
    .await;
    asset(
        db,
        w.client_b,
        w.eng_b,
        json!({"asset_name": "beta-secret", "asset_type": "server"}),
    )
    .await;
    let base = format!(
        "/api/v1/clients/{}/engagements/{}/assets",
        w.client_a, w.eng_a
    );

    let resp = server
        .client
        .get(server.url(&format!("{base}/export?format=csv&asset_type=server")))
        .bearer_auth(&w.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let owner_col = headers.iter().position(|h| h == "business_owner").unwrap();
    let name_col = headers.iter().position(|h| h == "asset_name").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), evil.len(), "the filter applies: {text}");
    for r in &rows {
        let i: usize = r[name_col].trim_start_matches("evil").parse().unwrap();
        assert_eq!(&r[owner_col], format!("'{}", evil[i]));
    }
    assert!(!text.contains("beta-secret") && !text.contains("plain-db"));

    let resp = server
        .client
        .get(server.url(&format!("{base}/export?format=xlsx")))
        .bearer_auth(&w.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let bytes = resp.bytes().await.unwrap();
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range("Assets").unwrap();
    let formulas = book.worksheet_formula("Assets").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no formula cell"
    );
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let owner_col = header.iter().position(|h| h == "business_owner").unwrap();
    let name_col = header.iter().position(|h| h == "asset_name").unwrap();
    let cores_col = header.iter().position(|h| h == "cpu_cores").unwrap();
    let body: Vec<&[Data]> = range.rows().skip(1).collect();
    assert_eq!(body.len(), evil.len() + 1);
    for r in body {
        let name = r[name_col].to_string();
        if let Some(i) = name.strip_prefix("evil") {
            let i: usize = i.parse().unwrap();
            assert_eq!(r[owner_col], Data::String(format!("'{}", evil[i])));
            assert_eq!(r[cores_col], Data::Float(4.0));
        } else {
            assert_eq!(r[owner_col], Data::String("Ops".into()));
        }
    }

    let (s, body) = get(&server, &w.viewer, &format!("{base}/export?format=pdf")).await;
    assert_eq!(s, 422, "{body}");
    let (s, _) = get(
        &server,
        &w.viewer,
        &format!("{base}/export?environment=mars"),
    )
    .await;
    assert_eq!(s, 422);
}
