//! The review of a relationship file (ServiceNow `cmdb_rel_ci`) over HTTP: its columns are
//! shown with their relation roles and can be given another role the import reads, or be
//! ignored; invalid roles (422 `invalid_relation_role`), a file left without its source,
//! two columns with one role (409 `mapping_target_conflict`), viewers (403) and another
//! client (404) change nothing; the decided roles are what the apply uses, and nothing is
//! learned from them.

mod assets_support;
mod common;

use assets_support::{asset, world};
use serde_json::{Value, json};
use std::io::Write;
use uuid::Uuid;

async fn call(
    server: &common::Running,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = match body {
        Some(b) => server.client.post(server.url(path)).json(&b),
        None => server.client.get(server.url(path)),
    };
    let resp = req.bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn mapping<'a>(list: &'a Value, column: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["source_column"] == column)
        .unwrap_or_else(|| panic!("no mapping {column}: {list}"))
}

async fn stage(db: &modernize_testkit::TestDb, client: Uuid, engagement: Uuid, csv: &str) -> Uuid {
    let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    file.write_all(csv.as_bytes()).unwrap();
    modernize_engine::import::stage_import(
        &db.app,
        client,
        engagement,
        file.path(),
        &Default::default(),
        &mut |_| {},
    )
    .await
    .unwrap()
    .import_id
}

/// The mappings of an import and the client's learning patterns, as the owner sees them.
async fn state(db: &modernize_testkit::TestDb, import: Uuid) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT to_jsonb(m)::text FROM migration.import_column_mappings m \
          WHERE import_session_id = $1 \
         UNION ALL SELECT count(*)::text FROM migration.agent_learning_patterns \
         ORDER BY 1",
    )
    .bind(import)
    .fetch_all(&db.owner)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

/// The parent and child columns hold the wrong ends (the export was made from the child's
/// side), and the port the dependency uses is in a custom column.
const REL_CSV: &str = "parent,type,child,connection_strength,percent_outage,port,u_service_port\n\
    app-01,Depends on::Used by,db-01,Always,,1,5432\n\
    web-01,Depends on::Used by,app-01,Occasionally,,1,8080\n";

#[tokio::test]
async fn relationship_columns_take_relation_roles() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    for name in ["web-01", "app-01", "db-01"] {
        asset(
            db,
            w.client_a,
            w.eng_a,
            json!({"asset_name": name, "hostname": name}),
        )
        .await;
    }
    let import = stage(db, w.client_a, w.eng_a, REL_CSV).await;
    let base = format!(
        "/api/v1/clients/{}/engagements/{}/imports/{import}",
        w.client_a, w.eng_a
    );
    let decide = format!("{base}/mappings/decisions");
    let (status, detail) = call(&server, &w.viewer, &base, None).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["table_kind"], "dependencies");
    assert_eq!(detail["layout"], "servicenow_cmdb_rel_ci", "{detail}");

    // Columns are shown with their relation roles.
    let (status, list) = call(&server, &w.viewer, &format!("{base}/mappings"), None).await;
    assert_eq!(status, 200, "{list}");
    let parent = mapping(&list, "parent");
    assert_eq!(
        (&parent["target_kind"], &parent["target"], &parent["status"]),
        (&json!("relation"), &json!("source"), &json!("approved"))
    );
    assert_eq!(parent["proposed_target_kind"], "relation");
    assert_eq!(mapping(&list, "child")["target"], "target");
    assert_eq!(mapping(&list, "u_service_port")["target_kind"], "ignore");
    let before = state(db, import).await;

    // Refused, nothing changes.
    for (body, code, field) in [
        (
            json!({"decisions": [{"source_column": "type", "action": "edit",
                                  "target_kind": "relation", "target": "weight"}]}),
            "invalid_relation_role",
            "decisions[0].target",
        ),
        (
            json!({"decisions": [{"source_column": "percent_outage", "action": "edit",
                                  "target_kind": "relation", "target": "timestamp"}]}),
            "invalid_relation_role",
            "decisions[0].target",
        ),
        (
            json!({"decisions": [{"source_column": "child", "action": "edit",
                                  "target_kind": "attribute", "target": "hostname"}]}),
            "invalid_relation_role",
            "decisions[0].target_kind",
        ),
        (
            json!({"decisions": [{"source_column": "parent", "action": "reject"}]}),
            "invalid_relation_role",
            "decisions",
        ),
        (
            json!({"decisions": [{"source_column": "child", "action": "edit",
                                  "target_kind": "ignore"}]}),
            "invalid_relation_role",
            "decisions",
        ),
        (
            json!({"decisions": [{"source_column": "u_service_port", "action": "edit",
                                  "target_kind": "relation"}]}),
            "validation_failed",
            "decisions[0].target",
        ),
        (
            json!({"decisions": [{"source_column": "u_service_port", "action": "edit",
                                  "target_kind": "relation", "target": "port"}]}),
            "mapping_target_conflict",
            "decisions[0].target",
        ),
    ] {
        let (status, v) = call(&server, &w.analyst, &decide, Some(body.clone())).await;
        let expected = match code {
            "mapping_target_conflict" => 409,
            _ => 422,
        };
        assert_eq!(status, expected, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
        assert_eq!(v["error"]["details"][0]["field"], field, "{body}: {v}");
        assert_eq!(state(db, import).await, before, "{body} changed something");
    }
    let (_, v) = call(
        &server,
        &w.analyst,
        &decide,
        Some(
            json!({"decisions": [{"source_column": "u_service_port", "action": "edit",
                                   "target_kind": "relation", "target": "port"}]}),
        ),
    )
    .await;
    assert!(
        v["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("relation role port"),
        "{v}"
    );
    let swap = json!({"decisions": [
        {"source_column": "parent", "action": "edit", "target_kind": "relation", "target": "target"},
        {"source_column": "child", "action": "edit", "target_kind": "relation", "target": "source"},
        {"source_column": "port", "action": "edit", "target_kind": "ignore"},
        {"source_column": "u_service_port", "action": "edit", "target_kind": "relation",
         "target": "port"}]});
    let (status, _) = call(&server, &w.viewer, &decide, Some(swap.clone())).await;
    assert_eq!(status, 403);
    let (status, v) = call(&server, &w.intruder, &decide, Some(swap.clone())).await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(state(db, import).await, before);

    // Swapping the ends and moving the port in one request is fine.
    let (status, out) = call(&server, &w.analyst, &decide, Some(swap)).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["edited"], 4, "{out}");
    assert_eq!(out["status"], "staged");
    let columns = &out["columns"];
    assert_eq!(mapping(columns, "parent")["target_kind"], "relation");
    assert_eq!(mapping(columns, "parent")["target"], "target");
    assert_eq!(mapping(columns, "u_service_port")["target"], "port");
    assert_eq!(mapping(columns, "port")["target_kind"], "ignore");
    assert!(
        columns
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["learning_pattern_id"].is_null()),
        "relation roles are not learned: {out}"
    );
    let (_, list) = call(&server, &w.viewer, &format!("{base}/mappings"), None).await;
    assert_eq!(mapping(&list, "child")["target"], "source");
    assert_eq!(mapping(&list, "child")["status"], "edited");
    assert_eq!(mapping(&list, "child")["proposed_target"], "target");
    let (patterns,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM migration.agent_learning_patterns")
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(patterns, 0);
    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.security_audit_logs \
          WHERE event_type = 'import.mappings_decided' AND target_id = $1",
    )
    .bind(import.to_string())
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(
        audited, 1,
        "one audited request (the refused ones change nothing)"
    );

    // The apply uses the decided roles.
    let report = modernize_engine::import::apply_import(
        &db.app,
        w.client_a,
        import,
        &Default::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.dependencies_created, 2, "{report:?}");
    let parent = report
        .column_mappings
        .iter()
        .find(|m| m.source_column == "parent")
        .unwrap();
    assert_eq!(
        (parent.target_kind.as_str(), parent.target.as_deref()),
        ("relation", Some("target"))
    );
    let edges: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT s.asset_name, t.asset_name, d.evidence->>'port' \
           FROM migration.asset_dependencies d \
           JOIN migration.assets s ON s.id = d.source_asset_id \
           JOIN migration.assets t ON t.id = d.target_asset_id \
          WHERE d.client_account_id = $1 ORDER BY 1",
    )
    .bind(w.client_a)
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert_eq!(
        edges,
        [
            ("app-01".into(), "web-01".into(), Some("8080".into())),
            ("db-01".into(), "app-01".into(), Some("5432".into())),
        ]
    );
}

#[tokio::test]
async fn asset_columns_take_no_relation_role() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let import = stage(db, w.client_a, w.eng_a, "Server,Box\nweb-01,R12\n").await;
    let decide = format!(
        "/api/v1/clients/{}/engagements/{}/imports/{import}/mappings/decisions",
        w.client_a, w.eng_a
    );
    let before = state(db, import).await;
    let (status, v) = call(
        &server,
        &w.analyst,
        &decide,
        Some(
            json!({"decisions": [{"source_column": "Box", "action": "edit",
                                   "target_kind": "relation", "target": "source"}]}),
        ),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid_relation_role");
    assert_eq!(
        v["error"]["details"][0]["field"],
        "decisions[0].target_kind"
    );
    assert_eq!(state(db, import).await, before);
}
