//! Import review API: sessions (list, detail), column mappings and decisions (single, bulk,
//! all or nothing, learned as corrections, flow gate approved), the row-level report (JSON and
//! CSV safe against formula injection), permissions and tenant isolation.

mod assets_support;
mod common;

use assets_support::{asset, world};
use serde_json::{Value, json};
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

async fn post(server: &common::Running, token: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = server
        .client
        .post(server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn base(client: Uuid, engagement: Uuid) -> String {
    format!("/api/v1/clients/{client}/engagements/{engagement}/imports")
}

/// The columns of the fixture: (header, target_kind, target, confidence, status).
const COLUMNS: &[(&str, &str, Option<&str>, f64, &str)] = &[
    ("Name", "attribute", Some("asset_name"), 0.95, "approved"),
    ("Srv", "attribute", Some("hostname"), 0.62, "needs_review"),
    (
        "Addr",
        "attribute",
        Some("ip_address"),
        0.735,
        "needs_review",
    ),
    ("Notes", "custom", Some("notes"), 0.9, "approved"),
    (
        "Owner",
        "attribute",
        Some("business_owner"),
        0.85,
        "approved",
    ),
];

/// A staged import of three rows written as the database owner, as staging leaves it: the
/// session with its plan, raw rows, proposed mappings.
async fn staged(
    db: &modernize_testkit::TestDb,
    client: Uuid,
    engagement: Uuid,
    status: &str,
    flow_id: Option<Uuid>,
) -> Uuid {
    let mappings: Vec<Value> = COLUMNS
        .iter()
        .map(|(h, kind, target, confidence, st)| {
            json!({"table": "servers", "source_column": h, "target": target, "target_kind": kind,
                   "confidence": confidence, "status": st, "reason": format!("fixture {h}")})
        })
        .collect();
    let plan = json!({"format": "csv",
        "detection": {"layout": "generic", "kind": "assets", "confidence": 0.4, "table": "servers"},
        "mappings": mappings});
    let (id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.import_sessions \
           (client_account_id, engagement_id, flow_id, file_name, file_size_bytes, format, \
            layout, layout_confidence, status, rows_read, plan) \
         VALUES ($1, $2, $3, 'servers.csv', 120, 'csv', 'generic', 0.4, $4, 3, $5) RETURNING id",
    )
    .bind(client)
    .bind(engagement)
    .bind(flow_id)
    .bind(status)
    .bind(&plan)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    for (i, (h, kind, target, confidence, st)) in COLUMNS.iter().enumerate() {
        sqlx::query(
            "INSERT INTO migration.import_column_mappings (import_session_id, client_account_id, \
               table_name, source_column, column_index, target, target_kind, confidence, status, \
               reason) VALUES ($1, $2, 'servers', $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(client)
        .bind(h)
        .bind(i as i32)
        .bind(target)
        .bind(kind)
        .bind(confidence)
        .bind(st)
        .bind(format!("fixture {h}"))
        .execute(&db.owner)
        .await
        .unwrap();
    }
    let rows = [
        json!({"Name": "web-01", "Srv": "web01", "Addr": "10.0.0.1",
               "Notes": "=HYPERLINK(\"http://evil.example\")", "Owner": "ops"}),
        json!({"Name": "db-01", "Srv": "db01", "Addr": "10.0.0.2", "Notes": "primary",
               "Owner": "+dba"}),
        json!({"Name": "", "Srv": "", "Addr": "not an ip", "Notes": null, "Owner": "ops"}),
    ];
    for (i, raw) in rows.iter().enumerate() {
        sqlx::query(
            "INSERT INTO migration.import_rows (import_session_id, client_account_id, table_name, \
               row_number, raw, status) VALUES ($1, $2, 'servers', $3, $4, 'staged')",
        )
        .bind(id)
        .bind(client)
        .bind(i as i64 + 1)
        .bind(raw)
        .execute(&db.owner)
        .await
        .unwrap();
    }
    id
}

/// Everything of an import's review as the owner sees it (mappings, session, patterns).
async fn review_state(db: &modernize_testkit::TestDb, import: Uuid) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT to_jsonb(m)::text FROM migration.import_column_mappings m \
          WHERE import_session_id = $1 \
         UNION ALL SELECT status FROM migration.import_sessions WHERE id = $1 \
         UNION ALL SELECT count(*)::text FROM migration.agent_learning_patterns \
         ORDER BY 1",
    )
    .bind(import)
    .fetch_all(&db.owner)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

fn mapping<'a>(list: &'a Value, column: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["source_column"] == column)
        .unwrap_or_else(|| panic!("no mapping {column}"))
}

#[tokio::test]
async fn review_decides_learns_and_audits() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let import = staged(db, w.client_a, w.eng_a, "mapping_review", None).await;
    let b = base(w.client_a, w.eng_a);

    let (status, page) = get(&server, &w.viewer, &b).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], json!(import));
    assert_eq!(page["items"][0]["status"], "mapping_review");
    assert_eq!(page["items"][0]["mappings_needing_review"], 2);
    assert_eq!(page["items"][0]["table_kind"], "assets");

    let (status, detail) = get(&server, &w.viewer, &format!("{b}/{import}")).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["row_counts"], json!({"staged": 3}));
    assert_eq!(detail["file_name"], "servers.csv");
    assert_eq!(detail["layout"], "generic");

    let (status, list) = get(&server, &w.viewer, &format!("{b}/{import}/mappings")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 5);
    let srv = mapping(&list, "Srv");
    assert_eq!(srv["status"], "needs_review");
    assert_eq!(srv["confidence"], 0.62);
    assert_eq!(srv["reason"], "fixture Srv");
    assert_eq!(srv["sample_values"], json!(["web01", "db01"]));
    assert!(srv["decided_by"].is_null());

    // Srv is corrected to a custom attribute, Addr approved: nothing needs review any more.
    let (status, out) = post(
        &server,
        &w.analyst,
        &format!("{b}/{import}/mappings/decisions"),
        json!({"decisions": [
            {"source_column": "Srv", "action": "edit", "target_kind": "custom", "target": "server_alias"},
            {"table": "servers", "source_column": "Addr", "action": "approve"}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "staged");
    assert_eq!(
        (out["edited"].as_u64(), out["approved"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(out["needs_review"], 0);
    let pattern: Uuid = serde_json::from_value(out["columns"][0]["learning_pattern_id"].clone())
        .expect("the edit is learned");
    assert!(out["columns"][1]["learning_pattern_id"].is_null());

    let (_, list) = get(&server, &w.viewer, &format!("{b}/{import}/mappings")).await;
    let srv = mapping(&list, "Srv");
    assert_eq!(
        (&srv["status"], &srv["target_kind"], &srv["target"]),
        (&json!("edited"), &json!("custom"), &json!("server_alias"))
    );
    assert_eq!(
        (&srv["proposed_target_kind"], &srv["proposed_target"]),
        (&json!("attribute"), &json!("hostname"))
    );
    assert!(srv["decided_by"].is_string() && srv["decided_at"].is_string());
    assert_eq!(mapping(&list, "Addr")["status"], "approved");
    let (_, detail) = get(&server, &w.viewer, &format!("{b}/{import}")).await;
    assert_eq!(detail["status"], "staged");
    assert_eq!(detail["mappings_needing_review"], 0);

    // The learning pattern: 1536 dimensions, evidence of the correction, the client's own.
    let (dims, evidence, client, engagement, insight, by, validated): (
        i32,
        Value,
        Uuid,
        Option<Uuid>,
        String,
        String,
        bool,
    ) = sqlx::query_as(
        "SELECT vector_dims(embedding), raw_evidence, client_account_id, engagement_id, \
                insight_type, discovered_by, validated \
           FROM migration.agent_learning_patterns WHERE id = $1",
    )
    .bind(pattern)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(dims, 1536);
    assert_eq!((client, engagement), (w.client_a, Some(w.eng_a)));
    assert_eq!(
        (insight.as_str(), by.as_str(), validated),
        ("field_mapping_suggestion", "field_mapping_agent", true)
    );
    assert_eq!(evidence["source_column"], "Srv");
    assert_eq!(evidence["table"], "servers");
    assert_eq!(evidence["sample_values"], json!(["web01", "db01"]));
    assert_eq!(
        evidence["proposed"],
        json!({"kind": "attribute", "target": "hostname", "confidence": 0.62})
    );
    assert_eq!(
        evidence["corrected"],
        json!({"kind": "custom", "target": "server_alias"})
    );
    assert_eq!(evidence["import_session_id"], json!(import));
    assert!(evidence["decided_by"].is_string());

    // The decision is audited with the changed columns.
    let (details,): (Value,) = sqlx::query_as(
        "SELECT details FROM migration.security_audit_logs \
          WHERE event_type = 'import.mappings_decided' AND target_id = $1",
    )
    .bind(import.to_string())
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(details["edited"], 1);
    assert_eq!(details["columns"].as_array().unwrap().len(), 2);

    // A rejection is learned as "ignore"; approving it again restores the proposal.
    let (status, out) = post(
        &server,
        &w.analyst,
        &format!("{b}/{import}/mappings/decisions"),
        json!({"decisions": [{"source_column": "Owner", "action": "reject"}]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert!(out["columns"][0]["learning_pattern_id"].is_string());
    let (status, out) = post(
        &server,
        &w.analyst,
        &format!("{b}/{import}/mappings/decisions"),
        json!({"decisions": [{"source_column": "Srv", "action": "approve"}]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["columns"][0]["target"], "hostname");
    assert_eq!(out["columns"][0]["target_kind"], "attribute");
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.agent_learning_patterns WHERE client_account_id = $1",
    )
    .bind(w.client_a)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(count, 2, "an approval is not a correction");
}

#[tokio::test]
async fn bad_decisions_change_nothing() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let import = staged(db, w.client_a, w.eng_a, "mapping_review", None).await;
    let path = format!("{}/{import}/mappings/decisions", base(w.client_a, w.eng_a));
    let before = review_state(db, import).await;

    let (status, body) = post(
        &server,
        &w.analyst,
        &path,
        json!({"decisions": [
            {"source_column": "Addr", "action": "approve"},
            {"source_column": "Nope", "action": "approve"},
            {"source_column": "Srv", "action": "edit", "target_kind": "attribute", "target": "host"},
            {"source_column": "Notes", "action": "edit", "target_kind": "custom", "target": " "},
            {"source_column": "Owner", "action": "remove"}
        ]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "decisions[2].target",
            "decisions[3].target",
            "decisions[4].action"
        ]
    );
    // Unknown and repeated columns are found against the import.
    let (status, body) = post(
        &server,
        &w.analyst,
        &path,
        json!({"decisions": [
            {"source_column": "Addr", "action": "approve"},
            {"source_column": "Nope", "action": "approve"},
            {"source_column": "Addr", "action": "reject"},
            {"table": "other", "source_column": "Srv", "action": "approve"}
        ]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "decisions[1].source_column",
            "decisions[2].source_column",
            "decisions[3].source_column"
        ]
    );
    // An attribute already taken by another column: 409, nothing changed.
    let (status, body) = post(
        &server,
        &w.analyst,
        &path,
        json!({"decisions": [
            {"source_column": "Addr", "action": "approve"},
            {"source_column": "Owner", "action": "edit", "target_kind": "attribute", "target": "asset_name"}
        ]}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "mapping_target_conflict");
    assert_eq!(body["error"]["details"][0]["field"], "decisions[1].target");
    assert!(
        body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("'Name'")
    );
    // Nothing at all, and an unknown field.
    let (status, body) = post(&server, &w.analyst, &path, json!({})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("validation_failed"))
    );
    let (status, body) = post(&server, &w.analyst, &path, json!({"approve": true})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("invalid_json"))
    );
    assert_eq!(
        review_state(db, import).await,
        before,
        "a refused request changed data"
    );

    // Swapping two attributes in one request is fine.
    let (status, body) = post(
        &server,
        &w.analyst,
        &path,
        json!({"decisions": [
            {"source_column": "Name", "action": "edit", "target_kind": "attribute", "target": "hostname"},
            {"source_column": "Srv", "action": "edit", "target_kind": "attribute", "target": "asset_name"}
        ], "approve_all": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "staged");
    assert_eq!(body["approved"], 1, "approve_all approved Addr");
}

#[tokio::test]
async fn permissions_isolation_and_reviewable_statuses() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let import = staged(db, w.client_a, w.eng_a, "mapping_review", None).await;
    let committed = staged(db, w.client_a, w.eng_a, "committed", None).await;
    let b = base(w.client_a, w.eng_a);
    let approve_all = json!({"approve_all": true});

    // A viewer reads but does not decide.
    let (status, _) = get(&server, &w.viewer, &format!("{b}/{import}/mappings")).await;
    assert_eq!(status, 200);
    let (status, body) = post(
        &server,
        &w.viewer,
        &format!("{b}/{import}/mappings/decisions"),
        approve_all.clone(),
    )
    .await;
    assert_eq!((status, &body["error"]["code"]), (403, &json!("forbidden")));

    // Another client's administrator: A's import answers exactly like a missing one.
    let missing = Uuid::new_v4();
    for suffix in ["", "/mappings", "/rows", "/report.csv"] {
        let (s1, b1) = get(&server, &w.intruder, &format!("{b}/{import}{suffix}")).await;
        let (s2, b2) = get(&server, &w.intruder, &format!("{b}/{missing}{suffix}")).await;
        assert_eq!(s1, 404, "{suffix}: {b1}");
        assert_eq!((s1, &b1["error"]["message"]), (s2, &b2["error"]["message"]));
        // Through the intruder's own client: not found either.
        let own = base(w.client_b, w.eng_b);
        let (s3, b3) = get(&server, &w.intruder, &format!("{own}/{import}{suffix}")).await;
        let (s4, b4) = get(&server, &w.intruder, &format!("{own}/{missing}{suffix}")).await;
        assert_eq!(s3, 404, "{suffix}: {b3}");
        assert_eq!((s3, &b3["error"]["message"]), (s4, &b4["error"]["message"]));
    }
    let (status, _) = post(
        &server,
        &w.intruder,
        &format!("{}/{import}/mappings/decisions", base(w.client_b, w.eng_b)),
        approve_all.clone(),
    )
    .await;
    assert_eq!(status, 404);
    let (_, page) = get(&server, &w.intruder, &base(w.client_b, w.eng_b)).await;
    assert_eq!(page["items"], json!([]));
    // The import is not found under another engagement of the same client.
    let (status, _) = get(
        &server,
        &w.analyst,
        &format!("{}/{import}", base(w.client_a, w.eng_a2)),
    )
    .await;
    assert_eq!(status, 404);

    // A committed import is no longer reviewable.
    let before = review_state(db, committed).await;
    let (status, body) = post(
        &server,
        &w.analyst,
        &format!("{b}/{committed}/mappings/decisions"),
        json!({"decisions": [{"source_column": "Srv", "action": "reject"}]}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "import_not_reviewable");
    assert_eq!(review_state(db, committed).await, before);

    // Filters and pages of the listing.
    let (status, page) = get(&server, &w.analyst, &format!("{b}?limit=1")).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let first = page["items"][0]["id"].clone();
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let (_, page) = get(&server, &w.analyst, &format!("{b}?limit=1&after={cursor}")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_ne!(page["items"][0]["id"], first);
    assert!(page["next_cursor"].is_null());
    let (_, page) = get(&server, &w.analyst, &format!("{b}?status=committed")).await;
    assert_eq!(page["items"][0]["id"], json!(committed));
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (status, body) = get(&server, &w.analyst, &format!("{b}?status=done&after=%21")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn row_report_as_json_and_csv() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let import = staged(db, w.client_a, w.eng_a, "committed", None).await;
    let web = asset(db, w.client_a, w.eng_a, json!({"asset_name": "web-01"})).await;
    let dbs = asset(db, w.client_a, w.eng_a, json!({"asset_name": "@db-01"})).await;
    for (row, status, action, asset, issues) in [
        (1, "accepted", Some("created"), Some(web), json!([])),
        (
            2,
            "fixed",
            Some("updated"),
            Some(dbs),
            json!([{"code": "owner_normalised", "message": "+dba trimmed", "severity": "warning"}]),
        ),
        (
            3,
            "rejected",
            None,
            None,
            json!([{"code": "missing_asset_name", "message": "the row has no name", "severity": "error"},
                   {"code": "invalid_ip", "message": "not an ip", "severity": "warning"}]),
        ),
    ] {
        sqlx::query(
            "UPDATE migration.import_rows SET status = $3, action = $4, asset_id = $5, issues = $6 \
              WHERE import_session_id = $1 AND row_number = $2",
        )
        .bind(import)
        .bind(row as i64)
        .bind(status)
        .bind(action)
        .bind(asset)
        .bind(issues)
        .execute(&db.owner)
        .await
        .unwrap();
    }
    let b = base(w.client_a, w.eng_a);

    let (status, page) = get(&server, &w.viewer, &format!("{b}/{import}/rows?limit=2")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["asset_name"], "web-01");
    assert_eq!(page["items"][0]["raw"]["Srv"], "web01");
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = get(
        &server,
        &w.viewer,
        &format!("{b}/{import}/rows?limit=2&after={cursor}"),
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["row_number"], 3);
    assert!(page["next_cursor"].is_null());
    let (_, page) = get(
        &server,
        &w.viewer,
        &format!("{b}/{import}/rows?status=rejected"),
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["issues"][0]["code"], "missing_asset_name");
    let (status, _) = get(
        &server,
        &w.viewer,
        &format!("{b}/{import}/rows?status=nope"),
    )
    .await;
    assert_eq!(status, 422);

    let resp = server
        .client
        .get(server.url(&format!("{b}/{import}/report.csv")))
        .bearer_auth(&w.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = resp.headers()[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains(&import.to_string()));
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "table",
            "row_number",
            "status",
            "action",
            "asset_id",
            "asset_name",
            "issue_codes",
            "issue_messages",
            "Name",
            "Srv",
            "Addr",
            "Notes",
            "Owner"
        ]
    );
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0],
        [
            "servers",
            "1",
            "accepted",
            "created",
            &web.to_string(),
            "web-01",
            "",
            "",
            "web-01",
            "web01",
            "10.0.0.1",
            "'=HYPERLINK(\"http://evil.example\")",
            "ops"
        ]
    );
    // Formula-like text is neutralised wherever it comes from: asset names, issues, values.
    assert_eq!(records[1][5], "'@db-01");
    assert_eq!(records[1][7], "'+dba trimmed");
    assert_eq!(records[1][12], "'+dba");
    assert_eq!(records[2][2], "rejected");
    assert_eq!(records[2][6], "missing_asset_name; invalid_ip");
    assert_eq!(records[2][11], "");

    let text = server
        .client
        .get(server.url(&format!("{b}/{import}/report.csv?status=rejected")))
        .bearer_auth(&w.viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[tokio::test]
async fn reviewing_every_column_approves_the_flow_gate() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let (status, flow) = post(
        &server,
        &w.analyst,
        &format!(
            "/api/v1/clients/{}/engagements/{}/flows",
            w.client_a, w.eng_a
        ),
        json!({"flow_type": "discovery"}),
    )
    .await;
    assert_eq!(status, 201, "{flow}");
    let flow_id: Uuid = serde_json::from_value(flow["flow_id"].clone()).unwrap();
    // The flow waits for the mapping review at its analysis phase.
    sqlx::query(
        "UPDATE migration.discovery_flows SET phases = (SELECT jsonb_object_agg(k, v || \
            jsonb_build_object('status', CASE WHEN k = 'analysis' THEN 'waiting_for_approval' \
              WHEN k = 'reporting' THEN 'pending' ELSE 'completed' END)) \
            FROM jsonb_each(phases) AS e(k, v)) WHERE master_flow_id = $1",
    )
    .bind(flow_id)
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE migration.crewai_flow_state_extensions \
            SET status = 'waiting_for_approval', current_phase = 'analysis' WHERE flow_id = $1",
    )
    .bind(flow_id)
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO migration.flow_approvals (flow_id, client_account_id, phase) \
         VALUES ($1, $2, 'analysis')",
    )
    .bind(flow_id)
    .bind(w.client_a)
    .execute(&db.owner)
    .await
    .unwrap();
    let import = staged(db, w.client_a, w.eng_a, "mapping_review", Some(flow_id)).await;
    let path = format!("{}/{import}/mappings/decisions", base(w.client_a, w.eng_a));

    // One column left: the gate stays closed.
    let (status, out) = post(
        &server,
        &w.analyst,
        &path,
        json!({"decisions": [{"source_column": "Srv", "action": "approve"}]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "mapping_review");
    assert!(out["flow_resumed"].is_null());
    let (decided,): (Option<String>,) =
        sqlx::query_as("SELECT decision FROM migration.flow_approvals WHERE flow_id = $1")
            .bind(flow_id)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(decided, None);

    let (status, out) = post(&server, &w.analyst, &path, json!({"approve_all": true})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "staged");
    assert_eq!(out["flow_resumed"], json!(flow_id));
    let (decision, comment): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT decision, comment FROM migration.flow_approvals WHERE flow_id = $1")
            .bind(flow_id)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(
        (decision.as_deref(), comment.as_deref()),
        (Some("approve"), Some("mappings reviewed"))
    );
    let (status,): (String,) = sqlx::query_as(
        "SELECT status FROM migration.crewai_flow_state_extensions WHERE flow_id = $1",
    )
    .bind(flow_id)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_ne!(status, "waiting_for_approval");
}

#[tokio::test]
async fn a_staged_file_reviewed_over_http_applies_and_reports() {
    use std::io::Write;
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    file.write_all(
        b"Server,Box,Comment\nweb-01,R12-U04,=cmd|' /C calc'!A0\ndb-01,R12-U05,ok\n,R13-U01,no name\n",
    )
    .unwrap();
    let staged = modernize_engine::import::stage_import(
        &db.app,
        w.client_a,
        w.eng_a,
        file.path(),
        &Default::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    let b = base(w.client_a, w.eng_a);
    let import = staged.import_id;
    let (status, list) = get(&server, &w.analyst, &format!("{b}/{import}/mappings")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(
        mapping(&list, "Box")["sample_values"],
        json!(["R12-U04", "R12-U05", "R13-U01"])
    );
    let (status, out) = post(
        &server,
        &w.analyst,
        &format!("{b}/{import}/mappings/decisions"),
        json!({"decisions": [{"source_column": "Box", "action": "edit",
                              "target_kind": "attribute", "target": "rack_location"}],
               "approve_all": true}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "staged");
    modernize_engine::import::apply_import(
        &db.app,
        w.client_a,
        import,
        &Default::default(),
        &mut |_| {},
    )
    .await
    .unwrap();

    let (_, detail) = get(&server, &w.viewer, &format!("{b}/{import}")).await;
    assert_eq!(detail["status"], "committed");
    assert_eq!(detail["assets_created"], 2);
    assert_eq!(detail["row_counts"], json!({"accepted": 2, "rejected": 1}));
    let text = server
        .client
        .get(server.url(&format!("{b}/{import}/report.csv")))
        .bearer_auth(&w.viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(records.len(), 3, "{text}");
    assert_eq!(records[0][2], "accepted");
    assert_eq!(records[0][3], "created");
    assert_eq!(records[0][5], "web-01");
    assert_eq!(records[0][10], "'=cmd|' /C calc'!A0");
    assert_eq!(records[2][2], "rejected");
    assert!(records[2][6].contains("missing_asset_name"), "{text}");
    let (rack,): (Option<String>,) = sqlx::query_as(
        "SELECT rack_location FROM migration.assets WHERE import_session_id = $1 \
            AND asset_name = 'web-01'",
    )
    .bind(import)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(rack.as_deref(), Some("R12-U04"));
}
