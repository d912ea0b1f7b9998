//! Dependency graph of an engagement: nodes and edges with filters, isolated assets on request,
//! a 3-cycle and a 2-cycle reported and the acyclic part not; another client's users get 404.

mod assets_support;
mod common;

use assets_support::{asset, depend, world};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

async fn graph(server: &common::Running, token: &str, path: &str) -> (u16, Value) {
    let resp = server
        .client
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn ids(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn nodes_edges_and_cycles() {
    let server = common::start().await;
    let db = &server.db;
    let w = world(db).await;
    let mk = |name: &'static str, ty: &'static str, env: &'static str| {
        asset(
            db,
            w.client_a,
            w.eng_a,
            json!({"asset_name": name, "asset_type": ty,
            "environment": env, "migration_wave": 1}),
        )
    };
    // 3-cycle a → b → c → a, 2-cycle d ⇄ e, chain f → g → a (acyclic), isolated h.
    let a = mk("a", "application", "production").await;
    let b = mk("b", "server", "production").await;
    let c = mk("c", "database", "production").await;
    let d = mk("d", "server", "test").await;
    let e = mk("e", "server", "test").await;
    let f = mk("f", "application", "production").await;
    let g = mk("g", "service", "production").await;
    let h = mk("h", "storage", "production").await;
    for (s, t) in [(a, b), (b, c), (c, a), (d, e), (e, d), (f, g), (g, a)] {
        depend(db, w.client_a, s, t, "runtime").await;
    }
    // An edge to an asset of another engagement of the client is not part of this graph.
    let far = asset(db, w.client_a, w.eng_a2, json!({"asset_name": "far"})).await;
    depend(db, w.client_a, a, far, "network").await;
    let path = format!(
        "/api/v1/clients/{}/engagements/{}/dependency-graph",
        w.client_a, w.eng_a
    );

    let (s, body) = graph(&server, &w.viewer, &path).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["counts"], json!({"nodes": 8, "edges": 7, "cycles": 2}));
    let node = body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == a.to_string())
        .unwrap();
    assert_eq!(node["name"], "a");
    assert_eq!(node["asset_type"], "application");
    assert_eq!(node["migration_wave"], 1);
    let edge = body["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == f.to_string())
        .unwrap();
    assert_eq!(edge["target"], g.to_string());
    assert_eq!(edge["dependency_type"], "runtime");
    assert_eq!(edge["direction"], "outbound");
    assert_eq!(edge["strength"], "strong");
    assert_eq!(edge["confidence"], 1.0);
    let cycles: Vec<BTreeSet<String>> =
        body["cycles"].as_array().unwrap().iter().map(ids).collect();
    let set = |xs: &[Uuid]| xs.iter().map(Uuid::to_string).collect::<BTreeSet<_>>();
    assert!(cycles.contains(&set(&[a, b, c])), "{cycles:?}");
    assert!(cycles.contains(&set(&[d, e])), "{cycles:?}");
    assert!(!body["nodes"].to_string().contains(&far.to_string()));

    // Isolated assets left out on request.
    let (_, body) = graph(
        &server,
        &w.viewer,
        &format!("{path}?include_isolated=false"),
    )
    .await;
    assert_eq!(body["counts"]["nodes"], 7);
    assert!(!body.to_string().contains(&h.to_string()));

    // Filters: only edges between kept nodes.
    let (_, body) = graph(&server, &w.viewer, &format!("{path}?environment=test")).await;
    assert_eq!(body["counts"], json!({"nodes": 2, "edges": 2, "cycles": 1}));
    let (_, body) = graph(
        &server,
        &w.viewer,
        &format!("{path}?asset_type=server&environment=production"),
    )
    .await;
    assert_eq!(body["counts"], json!({"nodes": 1, "edges": 0, "cycles": 0}));

    for bad in [
        "asset_type=mainframe",
        "environment=x",
        "include_isolated=maybe",
    ] {
        let (s, body) = graph(&server, &w.viewer, &format!("{path}?{bad}")).await;
        assert_eq!(s, 422, "{bad}: {body}");
    }

    // Another client's administrator, and an engagement that does not exist.
    let (s, body) = graph(&server, &w.intruder, &path).await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let missing = format!(
        "/api/v1/clients/{}/engagements/{}/dependency-graph",
        w.client_a,
        Uuid::new_v4()
    );
    let (s, _) = graph(&server, &w.analyst, &missing).await;
    assert_eq!(s, 404);
}
