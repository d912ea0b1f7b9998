//! The writing side of an import: stages rows, reconciles them with the engagement's assets
//! by ordered identity keys, and writes assets and dependencies in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use modernize_ingest::attributes::AssetAttribute as A;
use modernize_ingest::cleanse::{CleansedAsset, Severity, Value};
use modernize_ingest::identity::{IdentityKey, KeyKind, identity_keys};
use modernize_ingest::layout::LayoutId;
use modernize_ingest::score;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use super::plan::{Body, ReadRow, Relation};
use super::store::{self, Tx};
use super::{ImportError, ImportReport, Progress};

/// Assets written per statement.
const FLUSH: usize = 2000;

/// A 64-bit fingerprint. Identity keys and stored values are kept as fingerprints so that the
/// index of a large engagement stays small in memory.
fn fingerprint(tag: u8, text: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    h.write_u8(tag);
    h.write(text.as_bytes());
    h.finish()
}

fn key_fingerprint(key: &IdentityKey) -> u64 {
    fingerprint(key.kind as u8, &key.value)
}

/// The fingerprint of a stored or supplied value: numbers equal to 9 significant digits
/// match (a size computed twice compares equal), other values by their JSON text.
fn value_fingerprint(value: &Json) -> u64 {
    match value {
        Json::Number(n) => match n.as_f64() {
            Some(x) => fingerprint(b'n', &format!("{x:.8e}")),
            None => fingerprint(b'n', &n.to_string()),
        },
        Json::String(s) => fingerprint(b's', s),
        other => fingerprint(b'j', &other.to_string()),
    }
}

/// The position of a column of the asset document in [`Known::values`].
fn column_slot(column: &str) -> Option<u8> {
    if column == "raw_data" {
        return Some(A::ALL.len() as u8);
    }
    A::ALL
        .iter()
        .position(|a| a.as_str() == column)
        .map(|i| i as u8)
}

/// An asset of the engagement as the import sees it (stored, or created by this import).
struct Known {
    id: Uuid,
    /// Fingerprints of the asset's source id and FQDN keys, as first seen.
    strong: [Option<u64>; 2],
    /// Fingerprints of its non-null attribute columns and `raw_data`, as they will be after
    /// this import's writes so far, sorted by column slot.
    values: Vec<(u8, u64)>,
}

impl Known {
    fn new(id: Uuid, keys: &[IdentityKey], doc: &Map<String, Json>) -> Known {
        let strong_of = |kind: KeyKind| keys.iter().find(|k| k.kind == kind).map(key_fingerprint);
        let mut known = Known {
            id,
            strong: [strong_of(KeyKind::SourceId), strong_of(KeyKind::Fqdn)],
            values: Vec::new(),
        };
        known.merge(doc);
        known
    }

    fn value(&self, slot: u8) -> Option<u64> {
        self.values
            .binary_search_by_key(&slot, |(s, _)| *s)
            .ok()
            .map(|i| self.values[i].1)
    }

    /// Whether any value of `doc` differs from the asset's.
    fn differs(&self, doc: &Map<String, Json>) -> bool {
        doc.iter().any(|(k, v)| match column_slot(k) {
            Some(slot) => v.is_null() || self.value(slot) != Some(value_fingerprint(v)),
            None => false,
        })
    }

    fn merge(&mut self, doc: &Map<String, Json>) {
        for (k, v) in doc {
            let Some(slot) = column_slot(k) else { continue };
            if v.is_null() {
                continue;
            }
            let fp = value_fingerprint(v);
            match self.values.binary_search_by_key(&slot, |(s, _)| *s) {
                Ok(i) => self.values[i].1 = fp,
                Err(i) => self.values.insert(i, (slot, fp)),
            }
        }
        self.values.shrink_to_fit();
    }

    fn has(&self, attr: A) -> bool {
        column_slot(attr.as_str()).is_some_and(|slot| self.value(slot).is_some())
    }
}

struct Index {
    assets: Vec<Known>,
    by_key: HashMap<u64, u32>,
}

impl Index {
    fn add(&mut self, keys: &[IdentityKey], slot: usize) {
        for k in keys {
            self.by_key.entry(key_fingerprint(k)).or_insert(slot as u32);
        }
    }

    fn find(&self, keys: &[IdentityKey]) -> Option<usize> {
        keys.iter()
            .find_map(|k| self.by_key.get(&key_fingerprint(k)).map(|s| *s as usize))
    }

    /// Like [`Index::find`], but a weaker key never matches an asset whose source id or FQDN
    /// contradicts the row's (two VMs of the same name with different UUIDs stay two assets).
    fn find_consistent(&self, keys: &[IdentityKey]) -> Option<usize> {
        let own = |kind: KeyKind| keys.iter().find(|k| k.kind == kind).map(key_fingerprint);
        keys.iter().find_map(|k| {
            let slot = *self.by_key.get(&key_fingerprint(k))? as usize;
            let theirs = &self.assets[slot].strong;
            let conflict =
                [KeyKind::SourceId, KeyKind::Fqdn]
                    .iter()
                    .zip(theirs)
                    .any(|(kind, theirs)| {
                        *kind < k.kind
                            && match (own(*kind), theirs) {
                                (Some(a), Some(b)) => a != *b,
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

pub(super) fn default_source_system(layout: LayoutId) -> &'static str {
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

fn json_of(value: &Value) -> Json {
    match value {
        Value::Text(s) => Json::String(s.clone()),
        Value::Integer(i) => json!(i),
        Value::Number(n) => json!(n),
        Value::Bool(b) => Json::String(b.to_string()),
        Value::List(l) => json!(l),
    }
}

/// `raw_data` of an asset: the row as read, by source header, and the custom attributes the
/// mapping chose under `custom_attributes` (by custom name, cleansed).
fn raw_data(raw: &Json, asset: &CleansedAsset) -> Json {
    let mut doc = raw.as_object().cloned().unwrap_or_default();
    if !asset.custom.is_empty() {
        let custom: Map<String, Json> = asset
            .custom
            .iter()
            .map(|(k, v)| (k.clone(), json_of(v)))
            .collect();
        doc.insert("custom_attributes".into(), Json::Object(custom));
    }
    Json::Object(doc)
}

/// The asset columns a cleansed row supplies, as JSON.
fn values_doc(asset: &CleansedAsset) -> Map<String, Json> {
    let mut doc = Map::new();
    for (attr, value) in &asset.values {
        doc.insert(attr.as_str().to_string(), json_of(value));
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
    /// The target when it is the row's own asset (a dependency column marked inbound).
    target: Option<Uuid>,
    target_ref: String,
    dependency_type: &'static str,
    strength: &'static str,
    confidence: f64,
    evidence: Json,
}

/// The writing side of one import: reconciles processed rows with the engagement's assets
/// and buffers the asset writes; one per import, inside the import's transaction.
pub(super) struct Reconciler {
    client: Uuid,
    engagement: Uuid,
    import_id: Uuid,
    source_system: String,
    layout: LayoutId,
    dry_run: bool,
    flow_id: Option<Uuid>,
    user_id: Option<Uuid>,
    index: Index,
    docs: HashMap<Uuid, Map<String, Json>>,
    pending_insert: Vec<Uuid>,
    pending_update: Vec<Uuid>,
    created: HashSet<Uuid>,
    edges: Vec<Edge>,
    pub report: ImportReport,
}

/// Who writes, for whom.
pub(super) struct Target {
    pub client: Uuid,
    pub engagement: Uuid,
    pub import_id: Uuid,
    pub dry_run: bool,
    pub flow_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
}

impl Reconciler {
    /// Loads the engagement's identity index.
    pub async fn new(
        tx: &mut Tx,
        target: Target,
        layout: LayoutId,
        report: ImportReport,
    ) -> Result<Reconciler, ImportError> {
        let mut index = Index {
            assets: Vec::new(),
            by_key: HashMap::new(),
        };
        store::load_assets(tx, target.client, target.engagement, |id, sys, doc| {
            let keys = identity_keys(&asset_of(&doc), sys.as_deref());
            let slot = index.assets.len();
            index.assets.push(Known::new(id, &keys, &doc));
            index.add(&keys, slot);
        })
        .await?;
        Ok(Reconciler {
            client: target.client,
            engagement: target.engagement,
            import_id: target.import_id,
            source_system: report.source_system.clone(),
            layout,
            dry_run: target.dry_run,
            flow_id: target.flow_id,
            user_id: target.user_id,
            index,
            docs: HashMap::new(),
            pending_insert: Vec::new(),
            pending_update: Vec::new(),
            created: HashSet::new(),
            edges: Vec::new(),
            report,
        })
    }

    /// Reconciles one processed row; returns its outcome as an `import_rows` record (without
    /// `raw`, which the caller adds when it inserts the row).
    pub fn row(&mut self, row: &ReadRow) -> Json {
        self.report.rows_read += 1;
        let outcome = match &row.body {
            Body::Asset(asset) => self.asset_row(row, asset),
            Body::Relation(rel) => relation_row(row, rel, self.layout, &mut self.edges),
            Body::Raw => Outcome {
                rejected_codes: vec!["not_processed".into()],
                asset: None,
            },
        };
        finish_row(row, outcome, self.dry_run, &mut self.report)
    }

    /// Writes the buffered assets when enough are waiting.
    pub async fn maybe_flush(&mut self, tx: &mut Tx) -> Result<(), ImportError> {
        if self.pending_insert.len() >= FLUSH || self.pending_update.len() >= FLUSH {
            self.flush(tx).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, tx: &mut Tx) -> Result<(), ImportError> {
        if self.dry_run {
            self.pending_insert.clear();
            self.pending_update.clear();
            self.docs.clear();
            return Ok(());
        }
        let docs = &mut self.docs;
        let mut take = |ids: &mut Vec<Uuid>| {
            std::mem::take(ids)
                .into_iter()
                .filter_map(|id| docs.remove(&id).map(Json::Object))
                .collect::<Vec<_>>()
        };
        let ins = take(&mut self.pending_insert);
        let upd = take(&mut self.pending_update);
        store::insert_assets(
            tx,
            self.client,
            self.engagement,
            self.flow_id,
            self.user_id,
            ins,
        )
        .await?;
        store::update_assets(tx, self.client, self.engagement, upd).await?;
        Ok(())
    }

    /// Writes what is left, then the dependencies; returns the report.
    pub async fn finish(
        mut self,
        tx: &mut Tx,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<ImportReport, ImportError> {
        self.flush(tx).await?;
        progress(Progress::Dependencies);
        let rows = self.resolve_edges();
        for chunk in rows.chunks(FLUSH) {
            self.report.dependencies_created +=
                store::write_dependencies(tx, self.client, chunk.to_vec(), self.dry_run).await?;
        }
        Ok(self.report)
    }

    fn resolve_edges(&mut self) -> Vec<Json> {
        let index = &self.index;
        let report = &mut self.report;
        let source_system = &self.source_system;
        let mut seen = HashSet::new();
        let mut rows = Vec::new();
        for e in std::mem::take(&mut self.edges) {
            let source = match &e.source_ref {
                None => Some(e.source),
                Some(r) => index
                    .find(&reference_keys(r, source_system))
                    .map(|slot| index.assets[slot].id),
            };
            let target = match e.target {
                Some(id) => Some(id),
                None => index
                    .find(&reference_keys(&e.target_ref, source_system))
                    .map(|slot| index.assets[slot].id),
            };
            let (Some(source), Some(target)) = (source, target) else {
                report.dependencies_skipped += 1;
                *report
                    .warnings_by_code
                    .entry("unresolved_dependency".into())
                    .or_default() += 1;
                continue;
            };
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
        rows
    }

    fn asset_row(&mut self, row: &ReadRow, asset: &CleansedAsset) -> Outcome {
        asset_row(
            row,
            asset,
            &self.source_system,
            self.import_id,
            &mut self.index,
            &mut self.docs,
            &mut self.pending_insert,
            &mut self.pending_update,
            &mut self.created,
            &mut self.edges,
            &mut self.report,
        )
    }
}

/// Whether the row's dependency column lists assets that depend on it: a column named like
/// "Dependency Direction" (Konveyor's application import) saying `northbound`, `inbound`,
/// `upstream` or `incoming`. Otherwise the row's asset depends on the listed ones.
fn inbound_dependencies(raw: &Json) -> bool {
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
    new.insert("raw_data".into(), raw_data(&row.raw, asset));
    let (id, action) = match index.find_consistent(&keys) {
        Some(slot) => {
            let known = &mut index.assets[slot];
            let changed = known.differs(&new);
            if changed {
                known.merge(&new);
            }
            let id = known.id;
            // Keys added by this row (e.g. an IP now known) find the asset too.
            index.add(&keys, slot);
            if !changed {
                (id, "unchanged")
            } else {
                // Completeness over the merged values.
                let merged = &index.assets[slot];
                let mut full = asset.clone();
                for a in A::ALL {
                    if !full.has(*a) && merged.has(*a) {
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
            index.assets.push(Known::new(id, &keys, &new));
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
            let (source, source_ref, target, target_ref) = if inbound {
                (Uuid::nil(), Some(t.clone()), Some(id), String::new())
            } else {
                (id, None, None, t.clone())
            };
            edges.push(Edge {
                source,
                source_ref,
                target,
                target_ref,
                dependency_type: "runtime",
                strength: "strong",
                confidence: 0.8,
                evidence,
            });
        }
    }
    Outcome {
        rejected_codes: Vec::new(),
        asset: Some((id, action)),
    }
}

fn relation_row(row: &ReadRow, rel: &Relation, layout: LayoutId, edges: &mut Vec<Edge>) -> Outcome {
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
        source: Uuid::nil(),
        source_ref: Some(source.clone()),
        target: None,
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
    let mut issues = row.read_issues();
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
        "status": status,
        "issues": issues,
        "asset_id": asset_id,
        "action": action,
    })
}
