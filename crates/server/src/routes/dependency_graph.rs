//! The dependency graph of an engagement: its assets (nodes), their dependencies (edges) and
//! the dependency cycles found in it.

use super::assets::{ASSET_TYPES, ENVIRONMENTS, require_engagement};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use modernize_domain::access::Action;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Graph filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphQuery {
    /// Only assets of this type (server, application, database, service, network, storage).
    pub asset_type: Option<String>,
    /// Only assets of this environment (production, staging, development, test, dr).
    pub environment: Option<String>,
    /// true (default): also assets without any dependency in the graph; false: leave them out.
    pub include_isolated: Option<String>,
}

/// An asset of the graph.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct GraphNode {
    pub id: Uuid,
    pub name: String,
    pub asset_type: Option<String>,
    pub environment: Option<String>,
    pub business_criticality: Option<String>,
    pub six_r_strategy: Option<String>,
    pub migration_wave: Option<i32>,
}

/// A dependency of `source` on `target`.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct GraphEdge {
    pub id: Uuid,
    pub source: Uuid,
    pub target: Uuid,
    pub dependency_type: Option<String>,
    pub direction: Option<String>,
    pub strength: Option<String>,
    pub confidence: Option<f64>,
}

/// Sizes of the graph.
#[derive(Debug, Serialize, ToSchema)]
pub struct GraphCounts {
    pub nodes: usize,
    pub edges: usize,
    pub cycles: usize,
}

/// The dependency graph.
#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyGraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    /// Each cycle is the sorted ids of a strongly connected component of more than one asset,
    /// or a single asset depending on itself.
    pub cycles: Vec<Vec<Uuid>>,
    pub counts: GraphCounts,
}

/// The dependency cycles of a directed graph: strongly connected components of more than one
/// node, plus self-loops; each sorted, and the list sorted.
pub fn cycles(nodes: &[Uuid], edges: &[(Uuid, Uuid)]) -> Vec<Vec<Uuid>> {
    let mut graph: DiGraph<Uuid, ()> = DiGraph::new();
    let index: HashMap<Uuid, NodeIndex> = nodes.iter().map(|n| (*n, graph.add_node(*n))).collect();
    let mut self_loops = BTreeSet::new();
    for (s, t) in edges {
        if let (Some(a), Some(b)) = (index.get(s), index.get(t)) {
            graph.add_edge(*a, *b, ());
            if s == t {
                self_loops.insert(*s);
            }
        }
    }
    let mut out: Vec<Vec<Uuid>> = petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .filter(|c| c.len() > 1 || self_loops.contains(&graph[c[0]]))
        .map(|c| {
            let mut ids: Vec<Uuid> = c.into_iter().map(|i| graph[i]).collect();
            ids.sort_unstable();
            ids
        })
        .collect();
    out.sort();
    out
}

/// The dependency graph of an engagement, with its cycles.
#[utoipa::path(get,
    path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/dependency-graph",
    tag = "assets",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), GraphQuery),
    responses((status = 200, body = DependencyGraph), (status = 404, body = ErrorEnvelope),
              (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_dependency_graph(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    ApiQuery(query): ApiQuery<GraphQuery>,
) -> Result<Json<DependencyGraph>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut c = Checks::new();
    c.one_of("asset_type", query.asset_type.as_deref(), ASSET_TYPES);
    c.one_of("environment", query.environment.as_deref(), ENVIRONMENTS);
    let include_isolated = match query.include_isolated.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            c.fail("include_isolated", "must be true or false");
            true
        }
    };
    c.finish()?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    require_engagement(&mut tx, client_id, engagement_id).await?;
    let nodes: Vec<GraphNode> = sqlx::query_as(
        "SELECT a.id, a.asset_name AS name, a.asset_type, a.environment, a.business_criticality, \
                a.six_r_strategy, a.migration_wave \
           FROM migration.assets a \
          WHERE a.client_account_id = $1 AND a.engagement_id = $2 \
            AND ($3::text IS NULL OR a.asset_type = $3) AND ($4::text IS NULL OR a.environment = $4) \
          ORDER BY a.asset_name, a.id",
    )
    .bind(client_id)
    .bind(engagement_id)
    .bind(&query.asset_type)
    .bind(&query.environment)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = nodes.iter().map(|n| n.id).collect();
    // Edges between two nodes of the graph only.
    let edges: Vec<GraphEdge> = sqlx::query_as(
        "SELECT d.id, d.source_asset_id AS source, d.target_asset_id AS target, d.dependency_type, \
                d.direction, d.strength, d.confidence_score AS confidence \
           FROM migration.asset_dependencies d \
          WHERE d.client_account_id = $1 AND d.source_asset_id = ANY($2) \
            AND d.target_asset_id = ANY($2) \
          ORDER BY d.source_asset_id, d.target_asset_id, d.id",
    )
    .bind(client_id)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let nodes: Vec<GraphNode> = if include_isolated {
        nodes
    } else {
        let linked: BTreeSet<Uuid> = edges.iter().flat_map(|e| [e.source, e.target]).collect();
        nodes
            .into_iter()
            .filter(|n| linked.contains(&n.id))
            .collect()
    };
    let pairs: Vec<(Uuid, Uuid)> = edges.iter().map(|e| (e.source, e.target)).collect();
    let ids: Vec<Uuid> = nodes.iter().map(|n| n.id).collect();
    let cycles = cycles(&ids, &pairs);
    Ok(Json(DependencyGraph {
        counts: GraphCounts {
            nodes: nodes.len(),
            edges: edges.len(),
            cycles: cycles.len(),
        },
        nodes,
        edges,
        cycles,
    }))
}

#[cfg(test)]
mod tests {
    use super::cycles;
    use uuid::Uuid;

    #[test]
    fn components_and_self_loops_are_cycles_chains_are_not() {
        let n: Vec<Uuid> = (0..7).map(|_| Uuid::new_v4()).collect();
        let edges = [
            (n[0], n[1]),
            (n[1], n[2]),
            (n[2], n[0]),
            (n[3], n[4]),
            (n[4], n[3]),
            (n[5], n[6]),
            (n[6], n[6]),
        ];
        let found = cycles(&n, &edges);
        assert_eq!(found.len(), 3);
        assert!(found.iter().any(|c| c.len() == 3));
        assert!(found.iter().any(|c| c.len() == 2));
        assert!(found.contains(&vec![n[6]]));
    }
}
