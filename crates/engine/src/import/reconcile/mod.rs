//! The writing side of an import: reconciles processed rows, batch by batch, with the
//! engagement's assets by ordered identity keys, and writes assets and dependencies inside
//! the import's transaction.
//!
//! Memory is bounded by the batch: the import's key index is a temporary table
//! ([`keys`]); a batch reads the index entries of its rows' keys and the current values of
//! the assets they find, decides each row in order (a row may match an asset created by an
//! earlier row of the same batch), then writes its assets, the keys it introduced and its
//! edges. Edges are resolved once at the end ([`edges::resolve`]).

mod edges;
mod keys;
mod known;

use std::collections::BTreeMap;

use modernize_ingest::attributes::AssetAttribute as A;
use modernize_ingest::cleanse::{CleansedAsset, Severity, Value};
use modernize_ingest::identity::{IdentityKey, identity_keys};
use modernize_ingest::layout::LayoutId;
use modernize_ingest::score;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use super::plan::{Body, ReadRow};
use super::store::{self, Tx};
use super::{ImportError, ImportReport, Progress};
use edges::Edge;
use keys::KeyRows;
use known::{Index, Known, Strong, key_fingerprint};

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

/// The writing side of one import, inside the import's transaction.
pub(super) struct Reconciler {
    client: Uuid,
    engagement: Uuid,
    import_id: Uuid,
    source_system: String,
    layout: LayoutId,
    dry_run: bool,
    flow_id: Option<Uuid>,
    user_id: Option<Uuid>,
    /// Edges written so far (their order across batches).
    edge_seq: i64,
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

/// What a batch decided: the assets it can match or created, the documents to write by
/// asset slot, and its edges.
struct Batch {
    index: Index,
    pending: BTreeMap<u32, Map<String, Json>>,
    edges: Vec<Edge>,
}

impl Reconciler {
    /// Creates the import's temporary tables and indexes the engagement's stored assets.
    pub async fn new(
        tx: &mut Tx,
        target: Target,
        layout: LayoutId,
        report: ImportReport,
    ) -> Result<Reconciler, ImportError> {
        keys::create(tx, target.dry_run).await?;
        keys::load_stored(tx, target.client, target.engagement).await?;
        Ok(Reconciler {
            client: target.client,
            engagement: target.engagement,
            import_id: target.import_id,
            source_system: report.source_system.clone(),
            layout,
            dry_run: target.dry_run,
            flow_id: target.flow_id,
            user_id: target.user_id,
            edge_seq: 0,
            report,
        })
    }

    /// Reconciles a batch of processed rows in order and writes what it decided; returns
    /// each row's outcome as an `import_rows` record (without `raw`, which the caller adds
    /// when it inserts the row).
    pub async fn rows(&mut self, tx: &mut Tx, rows: &[ReadRow]) -> Result<Vec<Json>, ImportError> {
        let keyed: Vec<Option<Vec<IdentityKey>>> = rows
            .iter()
            .map(|row| match &row.body {
                Body::Asset(asset) if accepted(asset) => {
                    Some(identity_keys(asset, Some(&self.source_system)))
                }
                _ => None,
            })
            .collect();
        let mut fingerprints: Vec<i64> = keyed
            .iter()
            .flatten()
            .flatten()
            .map(key_fingerprint)
            .collect();
        fingerprints.sort_unstable();
        fingerprints.dedup();
        let mut index = keys::lookup(tx, fingerprints).await?;
        let ids = index.assets.iter().map(|k| k.id).collect();
        for (id, doc) in
            keys::documents(tx, self.client, self.engagement, ids, self.dry_run).await?
        {
            if let Some(slot) = index.slot_of(id) {
                index.assets[slot].merge(&doc);
            }
        }
        let mut batch = Batch {
            index,
            pending: BTreeMap::new(),
            edges: Vec::new(),
        };
        let mut outcomes = Vec::with_capacity(rows.len());
        for (row, keys) in rows.iter().zip(keyed) {
            self.report.rows_read += 1;
            let outcome = match (&row.body, keys) {
                (Body::Asset(asset), Some(keys)) => self.asset_row(row, asset, keys, &mut batch),
                (Body::Asset(asset), None) => rejected(asset),
                (Body::Relation(rel), _) => edges::relation_row(
                    row,
                    rel,
                    self.layout,
                    &self.source_system,
                    &mut batch.edges,
                ),
                (Body::Raw, _) => Outcome {
                    rejected_codes: vec!["not_processed".into()],
                    asset: None,
                },
            };
            outcomes.push(finish_row(row, outcome, self.dry_run, &mut self.report));
        }
        self.write(tx, batch).await?;
        Ok(outcomes)
    }

    /// Writes a batch: new and changed assets, the keys it introduced, its edges.
    async fn write(&mut self, tx: &mut Tx, batch: Batch) -> Result<(), ImportError> {
        let Batch {
            index,
            pending,
            edges,
        } = batch;
        let (mut inserts, mut updates, mut updated_ids) = (Vec::new(), Vec::new(), Vec::new());
        for (slot, doc) in pending {
            let known = &index.assets[slot as usize];
            if known.new_here {
                inserts.push(Json::Object(doc));
            } else {
                updated_ids.push(known.id);
                updates.push(Json::Object(doc));
            }
        }
        let table = if self.dry_run {
            keys::copy_for_dry_run(tx, updated_ids).await?;
            keys::DRY_ASSETS
        } else {
            keys::ASSETS
        };
        store::insert_assets(
            tx,
            table,
            self.client,
            self.engagement,
            self.flow_id,
            self.user_id,
            inserts,
        )
        .await?;
        store::update_assets(tx, table, self.client, self.engagement, updates).await?;
        let mut key_rows = KeyRows::default();
        for (key, slot) in &index.fresh {
            let known = &index.assets[*slot as usize];
            key_rows.push(*key, known.id, known.strong, known.created);
        }
        key_rows.write(tx).await?;
        edges::write(tx, edges, &mut self.edge_seq).await
    }

    /// Resolves and writes the dependencies; returns the report.
    pub async fn finish(
        mut self,
        tx: &mut Tx,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<ImportReport, ImportError> {
        progress(Progress::Dependencies);
        edges::resolve(tx, self.client, self.dry_run, &mut self.report).await?;
        Ok(self.report)
    }

    fn asset_row(
        &mut self,
        row: &ReadRow,
        asset: &CleansedAsset,
        keys: Vec<IdentityKey>,
        batch: &mut Batch,
    ) -> Outcome {
        let index = &mut batch.index;
        let mut new = values_doc(asset);
        new.insert("raw_data".into(), raw_data(&row.raw, asset));
        let (id, action) = match index.find_consistent(&keys) {
            Some(slot) => {
                let known = &mut index.assets[slot];
                known.accumulate_raw(&mut new);
                let changed = known.differs(&new);
                if changed {
                    known.merge(&new);
                }
                let (id, created) = (known.id, known.created);
                // Keys added by this row (e.g. an IP now known) find the asset too.
                index.add(&keys, slot);
                if changed {
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
                    self.stamp(&mut new, asset, id);
                    let pending = batch.pending.entry(slot as u32).or_default();
                    pending.extend(new);
                }
                match (changed, created) {
                    (true, false) => (id, "updated"),
                    _ => (id, "unchanged"),
                }
            }
            None => {
                let id = Uuid::new_v4();
                new.insert(
                    "completeness_score".into(),
                    json!(score::completeness(asset).score),
                );
                self.stamp(&mut new, asset, id);
                let mut known = Known::new(id, Strong::of(&keys), true, true);
                known.merge(&new);
                let slot = index.push(known) as usize;
                index.add(&keys, slot);
                batch.pending.insert(slot as u32, new);
                (id, "created")
            }
        };
        match action {
            "created" => self.report.assets_created += 1,
            "updated" => self.report.assets_updated += 1,
            _ => self.report.assets_unchanged += 1,
        }
        edges::column_edges(
            row,
            asset,
            id,
            self.import_id,
            &self.source_system,
            &mut batch.edges,
        );
        Outcome {
            rejected_codes: Vec::new(),
            asset: Some((id, action)),
        }
    }

    /// The provenance and confidence columns every written document carries.
    fn stamp(&self, doc: &mut Map<String, Json>, asset: &CleansedAsset, id: Uuid) {
        doc.insert(
            "confidence_score".into(),
            json!(score::confidence(asset, 1)),
        );
        doc.insert("source_system".into(), json!(self.source_system));
        doc.insert("import_session_id".into(), json!(self.import_id));
        doc.insert("id".into(), json!(id));
    }
}

/// Whether a cleansed row can become an asset.
fn accepted(asset: &CleansedAsset) -> bool {
    !asset.is_rejected() && asset.has(A::AssetName)
}

/// The outcome of a row that cannot become an asset: its error codes.
fn rejected(asset: &CleansedAsset) -> Outcome {
    let mut codes: Vec<String> = asset
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| i.code.as_str().to_string())
        .collect();
    if codes.is_empty() {
        codes.push("missing_asset_name".into());
    }
    Outcome {
        rejected_codes: codes,
        asset: None,
    }
}

/// What happened to a row.
struct Outcome {
    rejected_codes: Vec<String>,
    asset: Option<(Uuid, &'static str)>,
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
