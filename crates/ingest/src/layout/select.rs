//! Which tables of a source an import reads. A CSV or JSON source has one table; a workbook
//! may hold several (a `Servers` sheet, an `Applications` sheet, a `Dependencies` sheet...).
//! Every table that holds a recognisable asset or relationship table is imported, each with its
//! own layout; the others are reported with the reason they were left out:
//!
//! - an RVTools workbook is one table: vInfo with the sheets joined onto it (vDisk, vPartition,
//!   vNetwork, vCPU, vMemory); its other sheets (vHost, vCluster, ...) are left out;
//! - Google Migration Center tables are one table: vmInfo with diskInfo, perfInfo and tagInfo
//!   joined onto it, or, without vmInfo, the companion tables folded per machine;
//! - any other table is imported when its best layout is a known one or a generic inventory or
//!   relationship table with at least [`MIN_CONFIDENCE`]; an empty sheet or one whose columns
//!   say nothing recognisable (notes, a legend) is left out;
//! - when nothing is recognisable, the best table is imported as a generic table (a single CSV
//!   with unusual headers still imports).
//!
//! Asset tables come first (in source order), relationship tables last.

use serde::{Deserialize, Serialize};

use super::{
    Detection, DetectionKind, LayoutId, MIN_CONFIDENCE, TableHeaders, detect, gcp_join, rvtools,
};

/// A table of the source that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedTable {
    pub table: String,
    pub reason: String,
}

/// The tables an import reads, in import order, and the tables it leaves out.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub tables: Vec<Detection>,
    pub skipped: Vec<SkippedTable>,
}

/// Chooses the tables to import (see the module documentation).
pub fn select(tables: &[TableHeaders]) -> Selection {
    let mut out = Selection::default();
    let skip = |out: &mut Selection, t: &TableHeaders, reason: &str| {
        out.skipped.push(SkippedTable {
            table: t.name.clone(),
            reason: reason.to_string(),
        });
    };
    for t in tables.iter().filter(|t| t.headers.is_empty()) {
        skip(&mut out, t, "the sheet is empty");
    }
    let filled: Vec<&TableHeaders> = tables.iter().filter(|t| !t.headers.is_empty()).collect();
    let Some(best) = detect(tables).into_iter().next() else {
        return out;
    };

    if best.layout == LayoutId::Rvtools {
        for t in &filled {
            if t.name != best.table && !best.related_tables.contains(&t.name) {
                skip(
                    &mut out,
                    t,
                    "an RVTools sheet other than vInfo and the sheets joined onto it (vDisk, \
                     vPartition, vNetwork, vCPU, vMemory)",
                );
            }
        }
        out.tables.push(best);
        return out;
    }

    let mut taken: Vec<String> = Vec::new();
    if let Some(d) = gcp_group(&filled) {
        taken.push(d.table.clone());
        taken.extend(d.related_tables.iter().cloned());
        out.tables.push(d);
    }
    let own: Vec<(&TableHeaders, Detection)> = filled
        .iter()
        .filter(|t| !taken.contains(&t.name))
        .map(|t| (*t, first(detect(std::slice::from_ref(*t)))))
        .collect();
    for (_, d) in &own {
        if d.layout == LayoutId::Rvtools {
            taken.extend(rvtools::RELATED_SHEETS.iter().map(|s| s.to_string()));
        }
    }
    for (t, d) in own {
        let joined = d.layout != LayoutId::Rvtools
            && rvtools::RELATED_SHEETS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&t.name) && taken.iter().any(|n| n == s));
        if joined {
            continue;
        }
        if d.kind.is_asset_detail() {
            skip(
                &mut out,
                t,
                "a Google Migration Center disk, performance or tag table is imported with its \
                 vmInfo table or on its own",
            );
        } else if d.layout == LayoutId::GenericTable || d.confidence < MIN_CONFIDENCE {
            skip(
                &mut out,
                t,
                "no inventory or relationship columns recognised (e.g. notes or a legend)",
            );
        } else {
            out.tables.push(d);
        }
    }
    if out.tables.is_empty() {
        out.skipped.retain(|s| s.table != best.table);
        out.tables.push(best);
    }
    let position = |d: &Detection| filled.iter().position(|t| t.name == d.table);
    out.tables
        .sort_by_key(|d| (d.kind == DetectionKind::Dependencies, position(d)));
    out
}

fn first(detections: Vec<Detection>) -> Detection {
    detections
        .into_iter()
        .next()
        .expect("a table with headers always has the generic table layout")
}

/// Google Migration Center's tables as one: vmInfo with its companions related, or the first
/// companion with the others related.
fn gcp_group(tables: &[&TableHeaders]) -> Option<Detection> {
    let found: Vec<Detection> = tables
        .iter()
        .filter_map(|t| gcp_join::classify(t))
        .collect();
    let main = found
        .iter()
        .find(|d| d.kind == DetectionKind::Assets)
        .or_else(|| found.first())?;
    let mut d = main.clone();
    d.related_tables = found
        .iter()
        .filter(|o| o.kind.is_asset_detail() && o.table != d.table)
        .map(|o| o.table.clone())
        .collect();
    if !d.related_tables.is_empty() {
        d.notes.push(format!(
            "joined per MachineId: {}",
            d.related_tables.join(", ")
        ));
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, headers: &[&str]) -> TableHeaders {
        TableHeaders {
            name: name.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
        }
    }

    fn names(s: &Selection) -> Vec<(&str, DetectionKind)> {
        s.tables
            .iter()
            .map(|d| (d.table.as_str(), d.kind))
            .collect()
    }

    #[test]
    fn a_workbook_of_several_tables_imports_each_recognisable_one() {
        let s = select(&[
            table("Readme", &["This workbook lists our estate"]),
            table(
                "Dependencies",
                &["Source Server", "Target Server", "Port", "Protocol"],
            ),
            table(
                "Servers",
                &["Hostname", "IP Address", "OS", "CPU Cores", "Memory GB"],
            ),
            table(
                "Applications",
                &[
                    "Application Name",
                    "Owner",
                    "Business Criticality",
                    "Environment",
                ],
            ),
            table("Empty", &[]),
        ]);
        assert_eq!(
            names(&s),
            [
                ("Servers", DetectionKind::Assets),
                ("Applications", DetectionKind::Assets),
                ("Dependencies", DetectionKind::Dependencies),
            ]
        );
        let skipped: Vec<&str> = s.skipped.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(skipped, ["Empty", "Readme"]);
        let deps = &s.tables[2];
        assert_eq!(deps.layout, LayoutId::GenericCmdb);
        assert_eq!(
            deps.mapping_of("Source Server").unwrap().target,
            super::super::MappingTarget::Relation(super::super::RelationField::Source)
        );
    }

    #[test]
    fn a_single_unrecognised_table_is_still_imported() {
        let s = select(&[table("odd.csv", &["foo", "bar"])]);
        assert_eq!(names(&s), [("odd.csv", DetectionKind::Assets)]);
        assert_eq!(s.tables[0].layout, LayoutId::GenericTable);
        assert!(s.skipped.is_empty());
    }

    #[test]
    fn google_companion_tables_group_with_or_without_vm_info() {
        let disk = table(
            "diskInfo",
            &[
                "MachineId",
                "DiskLabel",
                "SizeInGib",
                "UsedInGib",
                "StorageTypeLabel",
            ],
        );
        let tags = table("tagInfo", &["MachineId", "Key", "Value"]);
        let s = select(&[disk.clone(), tags.clone()]);
        assert_eq!(names(&s), [("diskInfo", DetectionKind::Disks)]);
        assert_eq!(s.tables[0].related_tables, ["tagInfo"]);

        let vm = table(
            "vmInfo",
            &[
                "MachineId",
                "MachineName",
                "PrimaryIPAddress",
                "MemoryGiB",
                "AllocatedProcessorCoreCount",
                "OsName",
                "OsType",
                "OsVersion",
                "TotalDiskAllocatedGiB",
                "MachineTypeLabel",
                "HostingLocation",
                "MachineStatus",
            ],
        );
        let s = select(&[vm, disk, tags]);
        assert_eq!(names(&s), [("vmInfo", DetectionKind::Assets)]);
        assert_eq!(s.tables[0].related_tables, ["diskInfo", "tagInfo"]);
        assert!(s.skipped.is_empty());
    }
}
