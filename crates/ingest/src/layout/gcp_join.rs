//! Google Migration Center exports: the companion tables (diskInfo, perfInfo, tagInfo) folded
//! per `MachineId` with the join machinery RVTools uses, then either joined onto vmInfo when
//! the source holds it (one row per VM, like RVTools), or read on their own as one row per
//! machine, which enriches machines imported earlier (see `docs/importing.md`).
//!
//! Per machine: disks give their count and the sum of their sizes (`SizeInGib`, GiB, which the
//! cleansing rules treat as GB: 1 GB = 1024 MiB); performance samples give the average and the
//! peak of the CPU utilisation, the average and the lowest available memory (memory
//! utilisation = 100 × (1 − available / total memory), total from vmInfo's `MemoryGiB` or, for
//! a performance file on its own, from the stored asset), and the averages of disk operations
//! and network throughput; tags give one column per tag key (first value wins), kept as a
//! custom attribute named by the key.

use std::collections::{HashMap, HashSet};

use super::join::{Aggregates, Joined, number};
use super::{
    ColumnMapping, Combine, Detection, DetectionKind, MIN_CONFIDENCE, MappingTarget, TableHeaders,
    evaluate, find, gcp, map_columns, normalize,
};
use crate::record::{Record, SourceError};
use crate::source::{Row, Source};

pub use super::gcp::{
    AVAILABLE_MEMORY_AVERAGE, AVAILABLE_MEMORY_LOWEST, CPU_AVERAGE, DISK_COUNT, DISK_TOTAL_GIB,
    MACHINE_ID, MAX_TAG_KEYS, MEMORY_AVERAGE, MEMORY_PEAK, MEMORY_UTILIZATION, TAG_PREFIX,
};
use super::gcp::{DERIVED, DISK_COLUMNS, Goes, PERF_COLUMNS};

/// The Google Migration Center layout of a table (vmInfo or a companion), if it is one.
pub(crate) fn classify(table: &TableHeaders) -> Option<Detection> {
    let normalized: Vec<String> = table.headers.iter().map(|h| normalize(h)).collect();
    find(&normalized, &[MACHINE_ID])?;
    [&gcp::VM, &gcp::DISK, &gcp::PERF, &gcp::TAGS]
        .into_iter()
        .map(|spec| evaluate(spec, table))
        .filter(|d| d.confidence >= MIN_CONFIDENCE)
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
}

/// Memory utilisation in percent from the available memory (bytes) and the machine's memory
/// (GiB), rounded to 2 decimals; `None` without a positive memory size.
pub fn memory_utilization(available_bytes: f64, memory_gib: f64) -> Option<f64> {
    let total = memory_gib * 1024.0 * 1024.0 * 1024.0;
    if !(total > 0.0 && available_bytes.is_finite()) {
        return None;
    }
    let used = (1.0 - available_bytes / total).clamp(0.0, 1.0) * 100.0;
    Some((used * 100.0).round() / 100.0)
}

/// A companion table being joined.
#[derive(Debug)]
struct Companion {
    name: String,
    kind: DetectionKind,
}

/// Google Migration Center tables joined per machine, ready to stream.
#[derive(Debug)]
pub struct GcpJoin {
    /// The table the rows come from: vmInfo, or (companions on their own) the first companion.
    pub table: String,
    /// Whether the rows are vmInfo's (else one row per machine of the companion tables).
    pub with_inventory: bool,
    /// The headers of the joined rows.
    pub headers: Vec<String>,
    /// The mapping of every joined header.
    pub mapping: Vec<ColumnMapping>,
    /// What was noticed while joining.
    pub notes: Vec<String>,
    companions: Vec<Companion>,
    joined: Aggregates,
    derived: bool,
    /// Joined columns known from the headers (the tag columns follow them).
    fixed: usize,
    id_col: Option<usize>,
    memory_col: Option<usize>,
    /// Companions on their own: each machine with the table and row it was first seen in.
    machines: Vec<(String, u16, u64)>,
}

impl GcpJoin {
    /// Reads the companion tables of `detection` (its table and related tables) and folds their
    /// rows per machine. Memory grows with the number of machines and tag keys, not with the
    /// number of disk, sample or tag rows.
    pub fn prepare(source: &mut Source, detection: &Detection) -> Result<GcpJoin, SourceError> {
        let all = source.table_headers();
        let names: Vec<&String> = std::iter::once(&detection.table)
            .chain(&detection.related_tables)
            .collect();
        let mut inventory: Option<TableHeaders> = None;
        let mut companions = Vec::new();
        for t in all.iter().filter(|t| names.contains(&&t.name)) {
            match classify(t).map(|d| d.kind) {
                Some(DetectionKind::Assets) if inventory.is_none() => inventory = Some(t.clone()),
                Some(
                    kind
                    @ (DetectionKind::Disks | DetectionKind::Performance | DetectionKind::Tags),
                ) => companions.push(Companion {
                    name: t.name.clone(),
                    kind,
                }),
                _ => {}
            }
        }
        let mut columns = Vec::new();
        let mut mapping_of_joined = Vec::new();
        for c in &companions {
            let t = all.iter().find(|t| t.name == c.name).expect("listed above");
            let normalized: Vec<String> = t.headers.iter().map(|h| normalize(h)).collect();
            let specs = match c.kind {
                DetectionKind::Disks => DISK_COLUMNS,
                DetectionKind::Performance => PERF_COLUMNS,
                _ => &[],
            };
            for (name, from, agg, goes) in specs {
                let column = if from.is_empty() {
                    None
                } else {
                    match find(&normalized, from) {
                        Some(i) => Some(i),
                        None => continue,
                    }
                };
                columns.push(Joined::new(name, &c.name, column, *agg));
                mapping_of_joined.push(joined_mapping(name, *goes, inventory.is_some()));
            }
        }
        let derived = companions
            .iter()
            .any(|c| c.kind == DetectionKind::Performance);
        let mut join = GcpJoin {
            table: inventory
                .as_ref()
                .map_or_else(|| detection.table.clone(), |t| t.name.clone()),
            with_inventory: inventory.is_some(),
            headers: Vec::new(),
            mapping: Vec::new(),
            notes: Vec::new(),
            companions,
            joined: Aggregates::new(columns),
            derived,
            fixed: mapping_of_joined.len(),
            id_col: None,
            memory_col: None,
            machines: Vec::new(),
        };
        join.aggregate(source, &all)?;

        // Headers and mapping: the inventory's (or the machine id), the joined columns, the
        // derived memory utilisation, then one column per tag key.
        let (mut headers, mut mapping) = match &inventory {
            Some(t) => {
                let normalized: Vec<String> = t.headers.iter().map(|h| normalize(h)).collect();
                join.id_col = find(&normalized, &[MACHINE_ID]);
                join.memory_col = find(&normalized, &["MemoryGiB"]);
                (t.headers.clone(), map_columns(&t.headers, gcp::VM.rules))
            }
            None => (
                vec![MACHINE_ID.to_string()],
                map_columns(&[MACHINE_ID.to_string()], gcp::VM.rules),
            ),
        };
        let fixed = join.fixed;
        let joined = join.joined.columns();
        headers.extend(joined[..fixed].iter().map(|c| c.name.clone()));
        mapping.extend(mapping_of_joined);
        if join.derived {
            for (name, goes) in DERIVED {
                headers.push(name.to_string());
                mapping.push(ColumnMapping {
                    unit: Some("%".into()),
                    ..joined_mapping(name, *goes, false)
                });
            }
        }
        let taken: HashSet<String> = mapping
            .iter()
            .filter_map(|m| m.custom_name.clone())
            .collect();
        for c in &joined[fixed..] {
            let key = &c.name[TAG_PREFIX.len()..];
            let name = if taken.contains(key) {
                format!("tag_{key}")
            } else {
                key.to_string()
            };
            headers.push(c.name.clone());
            mapping.push(custom(&c.name, name));
        }
        join.headers = headers;
        join.mapping = mapping;
        if let Some(t) = &inventory {
            join.check_inventory(source, t)?;
        }
        Ok(join)
    }

    fn aggregate(&mut self, source: &mut Source, all: &[TableHeaders]) -> Result<(), SourceError> {
        let mut without_id = 0u64;
        let mut dropped_keys: HashSet<String> = HashSet::new();
        // The joined column of each tag key seen.
        let mut tag_columns: HashMap<String, usize> = HashMap::new();
        for (ti, c) in self.companions.iter().enumerate() {
            let t = all.iter().find(|t| t.name == c.name).expect("a table");
            let normalized: Vec<String> = t.headers.iter().map(|h| normalize(h)).collect();
            let Some(id_col) = find(&normalized, &[MACHINE_ID]) else {
                continue;
            };
            let tag_cols = (find(&normalized, &["Key"]), find(&normalized, &["Value"]));
            let columns = self.joined.of_table(&c.name);
            for row in source.rows(&c.name)? {
                let row = row?;
                let v = &row.record.values;
                let Some(id) = v[id_col]
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                else {
                    without_id += 1;
                    continue;
                };
                if !self.with_inventory && !self.joined.contains(id) {
                    self.machines
                        .push((id.to_string(), ti as u16, row.record.row));
                }
                self.joined.add_row(id, &columns, v);
                if c.kind != DetectionKind::Tags {
                    continue;
                }
                let (Some(k), Some(val)) = tag_cols else {
                    continue;
                };
                let Some(key) = v[k].as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
                    continue;
                };
                let column = match tag_columns.get(key) {
                    Some(&column) => column,
                    None if tag_columns.len() >= MAX_TAG_KEYS => {
                        dropped_keys.insert(key.to_string());
                        continue;
                    }
                    None => {
                        let name = format!("{TAG_PREFIX}{key}");
                        let column = self.joined.column(&name, &c.name);
                        tag_columns.insert(key.to_string(), column);
                        column
                    }
                };
                self.joined.add(id, column, v[val].as_deref());
            }
        }
        if without_id > 0 {
            self.notes.push(format!(
                "{without_id} row(s) without a {MACHINE_ID} were left out"
            ));
        }
        if !dropped_keys.is_empty() {
            self.notes.push(format!(
                "{} tag key(s) beyond the first {MAX_TAG_KEYS} were left out",
                dropped_keys.len()
            ));
        }
        if !self.with_inventory {
            let rows: Vec<&str> = self.companions.iter().map(|c| c.name.as_str()).collect();
            self.notes.push(format!(
                "{}: rows folded into {} machine(s), one row per machine; each enriches the \
                 machine imported earlier with the same {MACHINE_ID}",
                rows.join(", "),
                self.machines.len()
            ));
        }
        Ok(())
    }

    /// Notes the companion machines that vmInfo does not list.
    fn check_inventory(
        &mut self,
        source: &mut Source,
        t: &TableHeaders,
    ) -> Result<(), SourceError> {
        let Some(id_col) = self.id_col else {
            return Ok(());
        };
        let mut ids = HashSet::new();
        for row in source.rows(&t.name)? {
            if let Some(id) = row?.record.values[id_col].as_deref().map(str::trim) {
                ids.insert(id.to_string());
            }
        }
        let unknown = self.joined.keys().filter(|k| !ids.contains(*k)).count();
        if unknown > 0 {
            self.notes.push(format!(
                "{unknown} machine(s) of the disk, performance or tag tables are not in {}; \
                 their rows were left out",
                t.name
            ));
        }
        Ok(())
    }

    /// Streams the joined rows: vmInfo's rows with the joined columns appended, or one row per
    /// machine of the companion tables.
    pub fn rows<'a>(
        &'a self,
        source: &'a mut Source,
    ) -> Result<Box<dyn Iterator<Item = Result<Row, SourceError>> + 'a>, SourceError> {
        if self.with_inventory {
            let rows = source.rows(&self.table)?;
            return Ok(Box::new(rows.map(move |row| {
                let mut row = row?;
                let v = &row.record.values;
                let id = self
                    .id_col
                    .and_then(|i| v[i].as_deref())
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_string();
                let memory = self
                    .memory_col
                    .and_then(|i| v[i].as_deref())
                    .and_then(|m| m.trim().parse::<f64>().ok());
                let extra = self.appended(&id, memory);
                row.record.values.extend(extra);
                Ok(row)
            })));
        }
        Ok(Box::new(self.machines.iter().map(move |(id, ti, row)| {
            let mut values = vec![Some(id.clone())];
            values.extend(self.appended(id, None));
            Ok(Row {
                record: Record {
                    table: self.companions[*ti as usize].name.clone(),
                    row: *row,
                    values,
                },
                extra: Vec::new(),
                problems: Vec::new(),
            })
        })))
    }

    /// The joined values of a machine in header order (derived memory utilisation from
    /// `memory_gib` when known).
    fn appended(&self, id: &str, memory_gib: Option<f64>) -> Vec<Option<String>> {
        let mut values = self.joined.values(id);
        let tags = values.split_off(self.fixed);
        if self.derived {
            let derived: Vec<Option<String>> = MEMORY_UTILIZATION
                .iter()
                .map(|(_, from)| {
                    let available = self.joined.columns()[..self.fixed]
                        .iter()
                        .position(|c| c.name == *from)
                        .and_then(|i| values[i].as_deref())
                        .and_then(|v| v.parse::<f64>().ok());
                    available
                        .zip(memory_gib)
                        .and_then(|(a, m)| memory_utilization(a, m))
                        .map(number)
                })
                .collect();
            values.extend(derived);
        }
        values.extend(tags);
        values
    }
}

/// The mapping of a joined column. With the inventory, a size from the companions comes after
/// vmInfo's own (`TotalDiskAllocatedGiB` first).
fn joined_mapping(name: &str, goes: Goes, after_inventory: bool) -> ColumnMapping {
    match goes {
        Goes::Attribute(a, to_gb) => ColumnMapping {
            column: name.to_string(),
            target: MappingTarget::Attribute(a),
            confidence: 1.0,
            unit: to_gb.map(|_| "GiB".to_string()),
            to_gb,
            priority: u8::from(after_inventory),
            combine: Combine::First,
            custom_name: None,
        },
        Goes::Custom(custom_name) => custom(name, custom_name.to_string()),
    }
}

fn custom(name: &str, custom_name: String) -> ColumnMapping {
    ColumnMapping {
        custom_name: Some(custom_name),
        ..super::custom(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_utilization_from_available_bytes() {
        let gib = 1024.0 * 1024.0 * 1024.0;
        assert_eq!(memory_utilization(2.0 * gib, 8.0), Some(75.0));
        assert_eq!(memory_utilization(10.0 * gib, 8.0), Some(0.0));
        assert_eq!(memory_utilization(gib, 0.0), None);
        assert_eq!(memory_utilization(gib / 3.0, 1.0), Some(66.67));
    }
}
