//! The writing side of an import: stages rows, reconciles them with the engagement's assets
//! by ordered identity keys, and writes assets and dependencies in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use modernize_domain::tenancy::TenantScope;
use modernize_ingest::attributes::AssetAttribute as A;
use modernize_ingest::cleanse::{CleansedAsset, Severity, Value};
use modernize_ingest::identity::{IdentityKey, KeyKind, identity_keys};
use modernize_ingest::layout::{DetectionKind, LayoutId};
use modernize_ingest::score;
use modernize_ingest::source::Limits;
use serde_json::{Map, Value as Json, json};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::read::{self, Body, Header, Message, ReadRow, Relation};
use super::store::{self, FileMeta};
use super::{ImportError, ImportOptions, ImportReport, Progress, begin};

/// Assets written per statement.
const FLUSH: usize = 500;

/// An asset of the engagement as the import sees it (stored, or created by this import).
struct Known {
    id: Uuid,
    /// Identity keys as first seen.
    keys: Vec<IdentityKey>,
    /// Attribute columns and `raw_data`, as they will be after this import's writes so far.
    doc: Map<String, Json>,
}

struct Index {
    assets: Vec<Known>,
    by_key: HashMap<(KeyKind, String), usize>,
}

impl Index {
    fn add(&mut self, keys: &[IdentityKey], slot: usize) {
        for k in keys {
            self.by_key.entry((k.kind, k.value.clone())).or_insert(slot);
        }
    }

    fn find(&self, keys: &[IdentityKey]) -> Option<usize> {
        keys.iter()
            .find_map(|k| self.by_key.get(&(k.kind, k.value.clone())).copied())
    }

    /// Like [`Index::find`], but a weaker key never matches an asset whose source id or FQDN
    /// contradicts the row's (two VMs of the same name with different UUIDs stay two assets).
    fn find_consistent(&self, keys: &[IdentityKey]) -> Option<usize> {
        let own = |kind: KeyKind| keys.iter().find(|k| k.kind == kind).map(|k| &k.value);
        keys.iter().find_map(|k| {
            let slot = *self.by_key.get(&(k.kind, k.value.clone()))?;
            let theirs = &self.assets[slot].keys;
            let conflict = [KeyKind::SourceId, KeyKind::Fqdn].iter().any(|kind| {
                *kind < k.kind
                    && match (own(*kind), theirs.iter().find(|t| t.kind == *kind)) {
                        (Some(a), Some(b)) => *a != b.value,
                        _ => false,
                    }
            });
            (!conflict).then_some(slot)
        })
    }
}

/// An asset built from a stored document, for its identity keys.
fn asset_of(doc: &Map<String, Json>) -> CleansedAsset {
    let mut values = BTreeMap::new();
    for a in [
        A::SourceId,
        A::AssetName,
        A::Fqdn,
        A::Hostname,
        A::IpAddress,
        A::MacAddress,
    ] {
        if let Some(Json::String(s)) = doc.get(a.as_str()) {
            values.insert(a, Value::Text(s.clone()));
        }
    }
    CleansedAsset {
        table: String::new(),
        row: 0,
        values,
        custom: BTreeMap::new(),
        issues: Vec::new(),
        provenance: BTreeMap::new(),
    }
}

/// The keys a dependency reference (a name, host, IP or source id) can match.
fn reference_keys(reference: &str, source_system: &str) -> Vec<IdentityKey> {
    let reference = reference.trim();
    let mut values = BTreeMap::new();
    values.insert(A::SourceId, Value::Text(reference.to_string()));
    values.insert(A::AssetName, Value::Text(reference.to_string()));
    if reference.parse::<std::net::IpAddr>().is_ok() {
        values.insert(A::IpAddress, Value::Text(reference.to_string()));
    }
    let asset = CleansedAsset {
        table: String::new(),
        row: 0,
        values,
        custom: BTreeMap::new(),
        issues: Vec::new(),
        provenance: BTreeMap::new(),
    };
    identity_keys(&asset, Some(source_system))
}

fn default_source_system(layout: LayoutId) -> &'static str {
    match layout {
        LayoutId::Rvtools => "rvtools",
        LayoutId::AwsMigrationHub | LayoutId::AwsMigrationEvaluator => "aws",
        LayoutId::AzureMigrateImport | LayoutId::AzureMigrateDependencies => "azure_migrate",
        LayoutId::GcpMigrationCenterVm
        | LayoutId::GcpMigrationCenterDisk
        | LayoutId::GcpMigrationCenterPerf
        | LayoutId::GcpMigrationCenterTags => "gcp_migration_center",
        LayoutId::ServicenowCmdbCiServer | LayoutId::ServicenowCmdbRelCi => "servicenow",
        LayoutId::GenericCmdb | LayoutId::GenericTable => "file",
    }
}

fn same(stored: Option<&Json>, new: &Json) -> bool {
    match (stored, new) {
        (Some(Json::Number(a)), Json::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            _ => a == b,
        },
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

/// The asset columns a cleansed row supplies, as JSON.
fn values_doc(asset: &CleansedAsset) -> Map<String, Json> {
    let mut doc = Map::new();
    for (attr, value) in &asset.values {
        let v = match value {
            Value::Text(s) => Json::String(s.clone()),
            Value::Integer(i) => json!(i),
            Value::Number(n) => json!(n),
            Value::Bool(b) => Json::String(b.to_string()),
            Value::List(l) => json!(l),
        };
        doc.insert(attr.as_str().to_string(), v);
    }
    if !asset.has(A::AssetType) {
        let host_like = [A::Hostname, A::Fqdn, A::IpAddress, A::OsType, A::OsVersion]
            .iter()
            .any(|a| asset.has(*a));
        let app_like = asset.has(A::ApplicationName) || asset.has(A::TechnologyStack);
        let t = if app_like && !host_like {
            "application"
        } else {
            "server"
        };
        doc.insert("asset_type".into(), json!(t));
    }
    doc
}

struct Edge {
    source: Uuid,
    /// A relationship row's source reference, resolved like the target (then `source` is nil).
    source_ref: Option<String>,
    target_ref: String,
    dependency_type: &'static str,
    strength: &'static str,
    confidence: f64,
    evidence: Json,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn import(
    pool: &PgPool,
    scope: TenantScope,
    import_id: Uuid,
    engagement: Uuid,
    path: &Path,
    meta: &FileMeta,
    options: &ImportOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ImportReport, ImportError> {
    let client: Uuid = scope
        .client_account_id()
        .map(|c| c.0)
        .ok_or_else(|| ImportError::Internal("no client scope".into()))?;
    let (tx_rows, mut rx) = mpsc::channel(4);
    let limits = Limits {
        max_bytes: options.max_bytes,
        ..Limits::default()
    };
    let reader = {
        let path = path.to_path_buf();
        let threshold = options.threshold;
        tokio::task::spawn_blocking(move || read::read(path, limits, threshold, tx_rows))
    };

    let header: Header = match rx.recv().await {
        Some(Message::Header(h)) => h,
        Some(Message::Failed(e)) => return Err(e.into()),
        _ => return Err(ImportError::Internal("the reader stopped".into())),
    };
    let source_system = options
        .source_system
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| default_source_system(header.layout).to_string());
    let mut report = ImportReport {
        import_id,
        file_name: meta.name.clone(),
        file_size_bytes: meta.size,
        format: header.format.clone(),
        table: header.table.clone(),
        layout: header.layout.as_str().to_string(),
        layout_confidence: header.layout_confidence,
        table_kind: match header.kind {
            DetectionKind::Dependencies => "dependencies".into(),
            _ => "assets".into(),
        },
        dry_run: options.dry_run,
        status: if options.dry_run {
            "dry_run_completed".into()
        } else {
            "committed".into()
        },
        source_system: source_system.clone(),
        rows_read: 0,
        rows_accepted: 0,
        rows_fixed: 0,
        rows_rejected: 0,
        rejected_by_code: BTreeMap::new(),
        warnings_by_code: BTreeMap::new(),
        assets_created: 0,
        assets_updated: 0,
        assets_unchanged: 0,
        dependencies_created: 0,
        dependencies_skipped: 0,
        column_mappings: header.mappings.clone(),
        notes: header.notes.clone(),
    };
    if header.mappings.iter().any(|m| m.status == "needs_review") {
        report.notes.push(
            "columns whose mapping needs review were not applied (their values are kept in \
             raw_data); approve them in the discovery flow's mapping review"
                .into(),
        );
    }

    let mut tx = begin(pool, scope).await?;
    store::write_mappings(&mut tx, import_id, client, &header.mappings).await?;
    let mut index = Index {
        assets: Vec::new(),
        by_key: HashMap::new(),
    };
    for (id, sys, doc) in store::load_assets(&mut tx, client, engagement).await? {
        let keys = identity_keys(&asset_of(&doc), sys.as_deref());
        let slot = index.assets.len();
        index.assets.push(Known {
            id,
            doc,
            keys: keys.clone(),
        });
        index.add(&keys, slot);
    }

    let mut pending_insert: Vec<Uuid> = Vec::new();
    let mut pending_update: Vec<Uuid> = Vec::new();
    let mut docs: HashMap<Uuid, Map<String, Json>> = HashMap::new();
    let mut created_ids: HashSet<Uuid> = HashSet::new();
    let mut edges: Vec<Edge> = Vec::new();

    loop {
        let batch = match rx.recv().await {
            Some(Message::Rows(b)) => b,
            Some(Message::Done) => break,
            Some(Message::Failed(e)) => return Err(e.into()),
            Some(Message::Header(_)) | None => {
                return Err(ImportError::Internal("the reader stopped".into()));
            }
        };
        let mut staged = Vec::with_capacity(batch.len());
        for row in batch {
            report.rows_read += 1;
            let outcome = match &row.body {
                Body::Asset(asset) => asset_row(
                    &row,
                    asset,
                    &source_system,
                    import_id,
                    &mut index,
                    &mut docs,
                    &mut pending_insert,
                    &mut pending_update,
                    &mut created_ids,
                    &mut edges,
                    &mut report,
                ),
                Body::Relation(rel) => relation_row(&row, rel, &header, &mut edges),
            };
            staged.push(finish_row(&row, outcome, options.dry_run, &mut report));
        }
        store::stage_rows(&mut tx, import_id, client, staged).await?;
        if !options.dry_run && (pending_insert.len() >= FLUSH || pending_update.len() >= FLUSH) {
            flush(
                &mut tx,
                client,
                engagement,
                options,
                &mut docs,
                &mut pending_insert,
                &mut pending_update,
            )
            .await?;
        }
        progress(Progress::Rows {
            rows: report.rows_read,
            file_bytes: meta.size,
        });
    }
    reader
        .await
        .map_err(|e| ImportError::Internal(format!("reader: {e}")))?;
    if !options.dry_run {
        flush(
            &mut tx,
            client,
            engagement,
            options,
            &mut docs,
            &mut pending_insert,
            &mut pending_update,
        )
        .await?;
    }

    progress(Progress::Dependencies);
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for e in edges {
        let source = match &e.source_ref {
            None => Some(e.source),
            Some(r) => index
                .find(&reference_keys(r, &source_system))
                .map(|slot| index.assets[slot].id),
        };
        let keys = reference_keys(&e.target_ref, &source_system);
        let (Some(source), Some(slot)) = (source, index.find(&keys)) else {
            report.dependencies_skipped += 1;
            *report
                .warnings_by_code
                .entry("unresolved_dependency".into())
                .or_default() += 1;
            continue;
        };
        let target = index.assets[slot].id;
        if target == source {
            report.dependencies_skipped += 1;
            *report
                .warnings_by_code
                .entry("self_dependency".into())
                .or_default() += 1;
            continue;
        }
        if !seen.insert((source, target, e.dependency_type)) {
            continue;
        }
        rows.push(json!({
            "source_asset_id": source,
            "target_asset_id": target,
            "dependency_type": e.dependency_type,
            "direction": "outbound",
            "strength": e.strength,
            "confidence_score": e.confidence,
            "evidence": e.evidence,
        }));
    }
    for chunk in rows.chunks(FLUSH) {
        report.dependencies_created +=
            store::write_dependencies(&mut tx, client, chunk.to_vec(), options.dry_run).await?;
    }

    progress(Progress::Committing);
    store::finish_session(&mut tx, import_id, &report).await?;
    tx.commit().await?;
    Ok(report)
}

async fn flush(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    client: Uuid,
    engagement: Uuid,
    options: &ImportOptions,
    docs: &mut HashMap<Uuid, Map<String, Json>>,
    inserts: &mut Vec<Uuid>,
    updates: &mut Vec<Uuid>,
) -> Result<(), ImportError> {
    let take = |ids: &mut Vec<Uuid>, docs: &mut HashMap<Uuid, Map<String, Json>>| {
        std::mem::take(ids)
            .into_iter()
            .filter_map(|id| docs.remove(&id).map(Json::Object))
            .collect::<Vec<_>>()
    };
    let ins = take(inserts, docs);
    store::insert_assets(
        tx,
        client,
        engagement,
        options.flow_id,
        options.user_id,
        ins,
    )
    .await?;
    let upd = take(updates, docs);
    store::update_assets(tx, client, engagement, upd).await?;
    Ok(())
}

/// What happened to a row.
struct Outcome {
    rejected_codes: Vec<String>,
    asset: Option<(Uuid, &'static str)>,
}

#[allow(clippy::too_many_arguments)]
fn asset_row(
    row: &ReadRow,
    asset: &CleansedAsset,
    source_system: &str,
    import_id: Uuid,
    index: &mut Index,
    docs: &mut HashMap<Uuid, Map<String, Json>>,
    pending_insert: &mut Vec<Uuid>,
    pending_update: &mut Vec<Uuid>,
    created: &mut HashSet<Uuid>,
    edges: &mut Vec<Edge>,
    report: &mut ImportReport,
) -> Outcome {
    if asset.is_rejected() || !asset.has(A::AssetName) {
        let mut codes: Vec<String> = asset
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| i.code.as_str().to_string())
            .collect();
        if codes.is_empty() {
            codes.push("missing_asset_name".into());
        }
        return Outcome {
            rejected_codes: codes,
            asset: None,
        };
    }
    let keys = identity_keys(asset, Some(source_system));
    let mut new = values_doc(asset);
    new.insert("raw_data".into(), row.raw.clone());
    let (id, action) = match index.find_consistent(&keys) {
        Some(slot) => {
            let known = &mut index.assets[slot];
            let changed = new.iter().any(|(k, v)| !same(known.doc.get(k), v));
            if changed {
                for (k, v) in &new {
                    known.doc.insert(k.clone(), v.clone());
                }
            }
            let id = known.id;
            // Keys added by this row (e.g. an IP now known) find the asset too.
            index.add(&keys, slot);
            if !changed {
                (id, "unchanged")
            } else {
                // Completeness over the merged values.
                let merged = &index.assets[slot].doc;
                let mut full = asset.clone();
                for a in A::ALL {
                    if !full.has(*a) && merged.get(a.as_str()).is_some_and(|v| !v.is_null()) {
                        full.values.insert(*a, Value::Text(String::new()));
                    }
                }
                new.insert(
                    "completeness_score".into(),
                    json!(score::completeness(&full).score),
                );
                new.insert(
                    "confidence_score".into(),
                    json!(score::confidence(asset, 1)),
                );
                new.insert("source_system".into(), json!(source_system));
                new.insert("import_session_id".into(), json!(import_id));
                new.insert("id".into(), json!(id));
                let pending = docs.entry(id).or_default();
                let fresh = pending.is_empty();
                for (k, v) in new {
                    pending.insert(k, v);
                }
                // A row for an asset still waiting to be inserted merges into its insert.
                if fresh && !pending_insert.contains(&id) {
                    pending_update.push(id);
                }
                if created.contains(&id) {
                    (id, "unchanged")
                } else {
                    (id, "updated")
                }
            }
        }
        None => {
            let id = Uuid::new_v4();
            new.insert("id".into(), json!(id));
            new.insert(
                "completeness_score".into(),
                json!(score::completeness(asset).score),
            );
            new.insert(
                "confidence_score".into(),
                json!(score::confidence(asset, 1)),
            );
            new.insert("source_system".into(), json!(source_system));
            new.insert("import_session_id".into(), json!(import_id));
            let slot = index.assets.len();
            index.assets.push(Known {
                id,
                doc: new.clone(),
                keys: keys.clone(),
            });
            index.add(&keys, slot);
            docs.insert(id, new);
            pending_insert.push(id);
            created.insert(id);
            (id, "created")
        }
    };
    match action {
        "created" => report.assets_created += 1,
        "updated" => report.assets_updated += 1,
        _ => report.assets_unchanged += 1,
    }
    if let Some(Value::List(targets)) = asset.get(A::Dependencies) {
        let column = asset
            .provenance
            .get(&A::Dependencies)
            .map(|p| p.column.clone());
        for t in targets {
            edges.push(Edge {
                source: id,
                source_ref: None,
                target_ref: t.clone(),
                dependency_type: "runtime",
                strength: "strong",
                confidence: 0.8,
                evidence: json!({
                    "import_session_id": import_id,
                    "table": row.table,
                    "row": row.row,
                    "column": column,
                    "value": t,
                }),
            });
        }
    }
    Outcome {
        rejected_codes: Vec::new(),
        asset: Some((id, action)),
    }
}

fn relation_row(row: &ReadRow, rel: &Relation, header: &Header, edges: &mut Vec<Edge>) -> Outcome {
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
    let dependency_type = match header.layout {
        LayoutId::AzureMigrateDependencies => "network",
        _ => "runtime",
    };
    edges.push(Edge {
        source: Uuid::nil(),
        source_ref: Some(source.clone()),
        target_ref: target.clone(),
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

fn finish_row(row: &ReadRow, outcome: Outcome, dry_run: bool, report: &mut ImportReport) -> Json {
    let mut issues: Vec<Json> = row
        .problems
        .iter()
        .map(|(code, message)| json!({"code": code, "severity": "warning", "message": message}))
        .collect();
    if let Body::Asset(a) = &row.body {
        issues.extend(a.issues.iter().map(|i| {
            json!({"code": i.code.as_str(), "severity": i.severity, "column": i.column, "message": i.message})
        }));
    }
    for code in &outcome.rejected_codes {
        if !issues.iter().any(|i| i["code"] == code.as_str()) {
            issues.push(json!({"code": code, "severity": "error"}));
        }
    }
    let status = if !outcome.rejected_codes.is_empty() {
        report.rows_rejected += 1;
        for c in &outcome.rejected_codes {
            *report.rejected_by_code.entry(c.clone()).or_default() += 1;
        }
        "rejected"
    } else if issues.is_empty() {
        report.rows_accepted += 1;
        "accepted"
    } else {
        report.rows_fixed += 1;
        for i in &issues {
            if let Some(c) = i["code"].as_str() {
                *report.warnings_by_code.entry(c.to_string()).or_default() += 1;
            }
        }
        "fixed"
    };
    let (asset_id, action) = match outcome.asset {
        Some((_, "created")) if dry_run => (None, Some("created")),
        Some((id, action)) => (Some(id), Some(action)),
        None => (None, None),
    };
    json!({
        "table_name": row.table.chars().take(255).collect::<String>(),
        "row_number": row.row,
        "raw": row.raw,
        "status": status,
        "issues": issues,
        "asset_id": asset_id,
        "action": action,
    })
}
