//! Tables of asset details imported on their own (Google Migration Center disk, performance and
//! tag files): their rows are folded per machine by the reader, and each machine's row enriches
//! the asset imported earlier with the same source id (the `MachineId`, under the import's
//! source system). A row whose machine the engagement does not hold is rejected
//! (`unknown_machine`): it never creates an asset.
//!
//! Before reconciliation, a row takes from the stored asset its name, type and source id as
//! stored (so only the details can change) and its memory size (for the memory utilisation).
//! Its `raw_data` keeps its columns and custom attributes, with the row's added, by
//! reconciliation, like every import's. Importing the same file again therefore changes
//! nothing.

use std::collections::HashMap;

use modernize_ingest::attributes::AssetAttribute as A;
use modernize_ingest::cleanse::{Issue, IssueCode, Value};
use modernize_ingest::layout::MappingTarget;
use modernize_ingest::layout::gcp_join::MEMORY_UTILIZATION;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use super::ImportError;
use super::plan::{Body, Processor, ReadRow, TablePlan};
use super::store::Tx;

/// A stored asset a detail row may enrich.
struct Machine {
    source_id: String,
    name: String,
    asset_type: Option<String>,
    memory_gb: Option<f64>,
}

/// The stored assets of the engagement that a batch of detail rows refers to, by source id.
pub(super) struct Machines {
    source_system: String,
    by_id: HashMap<String, Machine>,
}

/// Where the machines are looked up.
pub(super) struct Lookup<'a> {
    pub client: Uuid,
    pub engagement: Uuid,
    pub source_system: &'a str,
}

impl Lookup<'_> {
    /// The stored assets of these ids (exact source ids under the import's source system; the
    /// oldest asset when several share one, as reconciliation matches).
    pub(super) async fn machines(
        &self,
        tx: &mut Tx,
        ids: Vec<String>,
    ) -> Result<Machines, ImportError> {
        type Found = (String, String, Option<String>, Option<f64>);
        let rows: Vec<Found> = if ids.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(
                "SELECT DISTINCT ON (a.source_id) a.source_id, a.asset_name, a.asset_type, \
                        a.memory_gb \
                 FROM migration.assets AS a \
                 WHERE a.client_account_id = $1 AND a.engagement_id = $2 \
                   AND a.source_system = $3 AND a.source_id = ANY($4) \
                 ORDER BY a.source_id, a.created_at, a.id",
            )
            .bind(self.client)
            .bind(self.engagement)
            .bind(self.source_system)
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?
        };
        Ok(Machines {
            source_system: self.source_system.to_string(),
            by_id: rows
                .into_iter()
                .map(|(source_id, name, asset_type, memory_gb)| {
                    let m = Machine {
                        source_id: source_id.clone(),
                        name,
                        asset_type,
                        memory_gb,
                    };
                    (source_id, m)
                })
                .collect(),
        })
    }

    /// Processes a batch of one detail table: looks its machines up, then prepares each row.
    /// Returns each row for reconciliation with the raw row to stage.
    pub(super) async fn prepare_batch(
        &self,
        tx: &mut Tx,
        table: &TablePlan,
        processor: &Processor,
        rows: Vec<ReadRow>,
    ) -> Result<Vec<(ReadRow, Json)>, ImportError> {
        let ids = rows
            .iter()
            .filter_map(|r| machine_id(table, &r.raw))
            .collect();
        let machines = self.machines(tx, ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| machines.prepare(table, processor, r))
            .collect())
    }
}

/// The header a detail table identifies its machine by (the column its layout maps to the
/// source id).
fn id_column(table: &TablePlan) -> Option<&str> {
    table
        .detection
        .mapping
        .iter()
        .find(|m| m.target == MappingTarget::Attribute(A::SourceId))
        .map(|m| m.column.as_str())
}

/// The machine id of a staged or read detail row.
pub(super) fn machine_id(table: &TablePlan, raw: &Json) -> Option<String> {
    let id = raw.get(id_column(table)?)?.as_str()?.trim();
    (!id.is_empty()).then(|| id.to_string())
}

impl Machines {
    /// Processes a detail row (see the module documentation); returns the row for
    /// reconciliation and the raw row to stage.
    pub(super) fn prepare(
        &self,
        table: &TablePlan,
        processor: &Processor,
        mut row: ReadRow,
    ) -> (ReadRow, Json) {
        let id = machine_id(table, &row.raw);
        let machine = id.as_deref().and_then(|id| self.by_id.get(id));
        if let (Some(m), Json::Object(raw)) = (machine, &mut row.raw) {
            fill_memory_utilization(table, raw, m.memory_gb);
        }
        let staged = row.raw.clone();
        let mut row = processor.process_staged(&table.headers, row);
        let Body::Asset(asset) = &mut row.body else {
            return (row, staged);
        };
        // A detail row names no asset: its name is the stored asset's (or it is rejected for
        // its unknown machine).
        asset
            .issues
            .retain(|i| i.code != IssueCode::MissingAssetName);
        let Some(m) = machine else {
            let column = id_column(table).map(str::to_string);
            asset.issues.push(Issue {
                code: IssueCode::UnknownMachine,
                severity: IssueCode::UnknownMachine.severity(),
                column,
                message: match &id {
                    Some(id) => format!(
                        "no asset of the engagement has source id '{id}' ({}); import the \
                         machine's inventory (vmInfo) first",
                        self.source_system
                    ),
                    None => "the row names no machine".to_string(),
                },
            });
            return (row, staged);
        };
        asset
            .values
            .insert(A::AssetName, Value::Text(m.name.clone()));
        asset
            .values
            .insert(A::SourceId, Value::Text(m.source_id.clone()));
        if let Some(t) = &m.asset_type {
            asset.values.insert(A::AssetType, Value::Text(t.clone()));
        }
        (row, staged)
    }
}

/// Memory utilisation from the row's available memory and the stored memory size, when the
/// row does not carry it.
fn fill_memory_utilization(table: &TablePlan, raw: &mut Map<String, Json>, memory_gb: Option<f64>) {
    let Some(memory) = memory_gb else {
        return;
    };
    for (derived, from) in MEMORY_UTILIZATION {
        if !table.headers.iter().any(|h| h == derived) || raw.contains_key(*derived) {
            continue;
        }
        let available = raw
            .get(*from)
            .and_then(Json::as_str)
            .and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(used) = available
            .and_then(|a| modernize_ingest::layout::gcp_join::memory_utilization(a, memory))
        {
            raw.insert(derived.to_string(), Json::String(number(used)));
        }
    }
}

fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}
