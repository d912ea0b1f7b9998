//! Dependencies of an import: edges found in dependency columns and relationship rows are
//! written batch by batch to `pg_temp.import_edges` with the key fingerprints of the names
//! they reference, and resolved at the end of the import against its key index (so a
//! reference may name an asset of a later row), in one set-based statement.

use modernize_ingest::attributes::AssetAttribute as A;
use modernize_ingest::cleanse::{CleansedAsset, Value};
use modernize_ingest::identity::identity_keys;
use modernize_ingest::layout::LayoutId;
use serde_json::{Value as Json, json};
use sqlx::Executor;
use uuid::Uuid;

use super::super::plan::{ReadRow, Relation};
use super::super::store::Tx;
use super::super::{ImportError, ImportReport};
use super::Outcome;
use super::known::key_fingerprint;

/// One end of an edge: a known asset, or the key fingerprints of a reference.
pub(super) enum End {
    Asset(Uuid),
    Reference(Vec<i64>),
}

pub(super) struct Edge {
    pub source: End,
    pub target: End,
    pub dependency_type: &'static str,
    pub strength: &'static str,
    pub confidence: f64,
    pub evidence: Json,
}

/// The keys a dependency reference (a name, host, IP or source id) can match.
pub(super) fn reference(reference: &str, source_system: &str) -> End {
    let reference = reference.trim();
    let mut asset = CleansedAsset::default();
    asset
        .values
        .insert(A::SourceId, Value::Text(reference.to_string()));
    asset
        .values
        .insert(A::AssetName, Value::Text(reference.to_string()));
    if reference.parse::<std::net::IpAddr>().is_ok() {
        asset
            .values
            .insert(A::IpAddress, Value::Text(reference.to_string()));
    }
    End::Reference(
        identity_keys(&asset, Some(source_system))
            .iter()
            .map(key_fingerprint)
            .collect(),
    )
}

/// Whether the row's dependency column lists assets that depend on it: a column named like
/// "Dependency Direction" (Konveyor's application import) saying `northbound`, `inbound`,
/// `upstream` or `incoming`. Otherwise the row's asset depends on the listed ones.
pub(super) fn inbound_dependencies(raw: &Json) -> bool {
    let Some(raw) = raw.as_object() else {
        return false;
    };
    raw.iter().any(|(k, v)| {
        let k: String = k
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        (k == "dependencydirection" || k == "direction")
            && v.as_str().is_some_and(|v| {
                matches!(
                    v.trim().to_lowercase().as_str(),
                    "northbound" | "inbound" | "upstream" | "incoming"
                )
            })
    })
}

/// The edges of a row's dependency column (the row's asset is `id`).
pub(super) fn column_edges(
    row: &ReadRow,
    asset: &CleansedAsset,
    id: Uuid,
    import_id: Uuid,
    source_system: &str,
    edges: &mut Vec<Edge>,
) {
    let Some(Value::List(targets)) = asset.get(A::Dependencies) else {
        return;
    };
    let column = asset
        .provenance
        .get(&A::Dependencies)
        .map(|p| p.column.clone());
    let inbound = inbound_dependencies(&row.raw);
    for t in targets {
        let evidence = json!({
            "import_session_id": import_id,
            "table": row.table,
            "row": row.row,
            "column": column,
            "value": t,
            "direction": if inbound { "inbound" } else { "outbound" },
        });
        // An inbound dependency: the named asset depends on this one.
        let (source, target) = if inbound {
            (reference(t, source_system), End::Asset(id))
        } else {
            (End::Asset(id), reference(t, source_system))
        };
        edges.push(Edge {
            source,
            target,
            dependency_type: "runtime",
            strength: "strong",
            confidence: 0.8,
            evidence,
        });
    }
}

/// A relationship row (ServiceNow `cmdb_rel_ci`, Azure Migrate dependencies).
pub(super) fn relation_row(
    row: &ReadRow,
    rel: &Relation,
    layout: LayoutId,
    source_system: &str,
    edges: &mut Vec<Edge>,
) -> Outcome {
    let target = rel.target.clone().or_else(|| rel.target_ip.clone());
    let (Some(source), Some(target)) = (rel.source.clone(), target) else {
        return Outcome {
            rejected_codes: vec!["missing_dependency_endpoint".into()],
            asset: None,
        };
    };
    let strength = match rel.strength.as_deref().map(str::to_lowercase).as_deref() {
        Some("occasionally") | Some("rarely") | Some("weak") => "weak",
        Some("critical") => "critical",
        _ => "strong",
    };
    let dependency_type = match layout {
        LayoutId::AzureMigrateDependencies => "network",
        _ => "runtime",
    };
    edges.push(Edge {
        source: reference(&source, source_system),
        target: reference(&target, source_system),
        dependency_type,
        strength,
        confidence: 1.0,
        evidence: json!({
            "table": row.table,
            "row": row.row,
            "type": rel.rel_type,
            "port": rel.port,
            "source": source,
            "target": target,
        }),
    });
    Outcome {
        rejected_codes: Vec::new(),
        asset: None,
    }
}

/// Writes a batch's edges; `seq` numbers them across the import (the first of duplicate
/// edges is kept).
pub(super) async fn write(tx: &mut Tx, edges: Vec<Edge>, seq: &mut i64) -> Result<(), ImportError> {
    if edges.is_empty() {
        return Ok(());
    }
    fn split(end: End) -> (Json, Json) {
        match end {
            End::Asset(id) => (Json::from(id.to_string()), Json::Null),
            End::Reference(keys) => (Json::Null, json!(keys)),
        }
    }
    let rows: Vec<Json> = edges
        .into_iter()
        .map(|e| {
            *seq += 1;
            let (source, source_keys) = split(e.source);
            let (target, target_keys) = split(e.target);
            json!({
                "seq": *seq,
                "source": source,
                "source_keys": source_keys,
                "target": target,
                "target_keys": target_keys,
                "dependency_type": e.dependency_type,
                "strength": e.strength,
                "confidence": e.confidence,
                "evidence": e.evidence,
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO pg_temp.import_edges \
         SELECT * FROM jsonb_populate_recordset(NULL::pg_temp.import_edges, $1)",
    )
    .bind(Json::Array(rows))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Resolves the import's edges against its key index and writes them (a dry run counts
/// those that would be new). Unresolved and self references are skipped with a warning.
pub(super) async fn resolve(
    tx: &mut Tx,
    client: Uuid,
    dry_run: bool,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    // The first key of a reference, in precedence order, that the index knows.
    fn find(end: &str) -> String {
        format!(
            "(SELECT k.asset FROM unnest(e.{end}_keys) WITH ORDINALITY AS u(key, ord) \
             JOIN pg_temp.import_keys AS k ON k.key = u.key ORDER BY u.ord LIMIT 1)"
        )
    }
    let sql = format!(
        "CREATE TEMP TABLE import_edges_resolved ON COMMIT DROP AS \
         SELECT e.seq, COALESCE(e.source, {}) AS source, COALESCE(e.target, {}) AS target, \
                e.dependency_type, e.strength, e.confidence, e.evidence \
         FROM pg_temp.import_edges AS e",
        find("source"),
        find("target")
    );
    (&mut **tx).execute(sql.as_str()).await?;
    let (unresolved, selfref): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE source IS NULL OR target IS NULL), \
                count(*) FILTER (WHERE source = target) \
         FROM pg_temp.import_edges_resolved",
    )
    .fetch_one(&mut **tx)
    .await?;
    for (code, n) in [
        ("unresolved_dependency", unresolved),
        ("self_dependency", selfref),
    ] {
        if n > 0 {
            report.dependencies_skipped += n as u64;
            *report.warnings_by_code.entry(code.into()).or_default() += n as u64;
        }
    }
    const EDGES: &str = "SELECT DISTINCT ON (source, target, dependency_type) * \
         FROM pg_temp.import_edges_resolved \
         WHERE source IS NOT NULL AND target IS NOT NULL AND source <> target \
         ORDER BY source, target, dependency_type, seq";
    report.dependencies_created += if dry_run {
        let (n,): (i64,) = sqlx::query_as(&format!(
            "SELECT count(*) FROM ({EDGES}) AS r WHERE NOT EXISTS ( \
                SELECT 1 FROM migration.asset_dependencies AS d \
                WHERE d.source_asset_id = r.source AND d.target_asset_id = r.target \
                  AND d.dependency_type = r.dependency_type)"
        ))
        .fetch_one(&mut **tx)
        .await?;
        n as u64
    } else {
        sqlx::query(&format!(
            "INSERT INTO migration.asset_dependencies \
                (client_account_id, source_asset_id, target_asset_id, dependency_type, \
                 direction, strength, discovered_by, confidence_score, evidence) \
             SELECT $1, r.source, r.target, r.dependency_type, 'outbound', r.strength, \
                    'import', r.confidence, r.evidence \
             FROM ({EDGES}) AS r ORDER BY r.seq \
             ON CONFLICT (source_asset_id, target_asset_id, dependency_type) DO NOTHING"
        ))
        .bind(client)
        .execute(&mut **tx)
        .await?
        .rows_affected()
    };
    Ok(())
}
