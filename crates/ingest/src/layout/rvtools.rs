//! RVTools workbooks: vInfo is the asset table (one row per VM); vDisk, vPartition, vNetwork,
//! vCPU and vMemory are joined onto it by VM (VM UUID when both sheets have it, else the VM
//! name), as extra columns named `<sheet>.<what>` (sums for disks and partitions, first value
//! for network, CPU and memory details) plus the custom-attribute columns that RVTools writes
//! between `Annotation` and `Datacenter` on those sheets.
//!
//! Units: older RVTools write `MB`, newer `MiB`; both mean MiB, converted with 1/1024 to GB.
//! Trimmed exports (e.g. a 14-column vInfo) are recognised as long as the signature columns
//! are mostly there.

use std::collections::HashSet;

use super::join::{Agg, Aggregates, Joined};
use super::{
    Detection, DetectionKind, LayoutId, MIB, Rule, Signature, TableHeaders, attr, find,
    map_columns, normalize, score,
};
use crate::attributes::AssetAttribute as A;
use crate::record::SourceError;
use crate::source::{ReadStats, Row, Rows, Source};

/// vInfo signature (trimmed exports keep these).
const SIGNATURE: &[Signature] = &[
    (&["VM"], 2.0),
    (&["Powerstate"], 1.0),
    (&["Template"], 1.0),
    (&["CPUs"], 2.0),
    (&["Memory"], 2.0),
    (&["NICs"], 1.0),
    (&["Disks"], 1.0),
    (&["Provisioned MiB", "Provisioned MB"], 2.0),
    (&["In Use MiB", "In Use MB"], 1.0),
    (&["Datacenter"], 1.0),
    (&["Cluster"], 1.0),
    (&["Host"], 1.0),
    (&["OS according to the configuration file"], 2.0),
    (&["OS according to the VMware Tools"], 1.0),
];

/// Sheets joined onto vInfo, in join order.
pub const RELATED_SHEETS: &[&str] = &["vDisk", "vPartition", "vNetwork", "vCPU", "vMemory"];

/// Names of the joined columns that have a mapping of their own.
pub const DISK_TOTAL: &str = "vDisk.Total capacity MiB";
pub const NETWORK_IP: &str = "vNetwork.IPv4 Address";
pub const NETWORK_MAC: &str = "vNetwork.Mac Address";

fn rules(unit: &'static str) -> Vec<Rule> {
    vec![
        attr(&["VM"], A::AssetName),
        attr(&["CPUs"], A::CpuCores),
        attr(&["Memory"], A::MemoryGb).size(unit, MIB),
        attr(&["Provisioned MiB", "Provisioned MB"], A::StorageGb).size(unit, MIB),
        attr(
            &["Total disk capacity MiB", "Total disk capacity MB"],
            A::StorageGb,
        )
        .size(unit, MIB)
        .prio(1),
        attr(&[DISK_TOTAL], A::StorageGb).size("MiB", MIB).prio(2),
        attr(&["VM UUID"], A::SourceId),
        attr(&["SMBIOS UUID"], A::SourceId).prio(1),
        attr(&["VM ID"], A::SourceId).prio(2),
        attr(&["OS according to the VMware Tools"], A::OsVersion),
        attr(&["OS according to the configuration file"], A::OsVersion).prio(1),
        attr(&["Primary IP Address"], A::IpAddress),
        attr(&[NETWORK_IP], A::IpAddress).prio(1),
        attr(&[NETWORK_MAC], A::MacAddress),
        attr(&["DNS Name"], A::Fqdn),
        attr(&["Datacenter"], A::Datacenter),
        attr(&["Cluster"], A::RackLocation),
    ]
}

/// Recognises an RVTools workbook (or a CSV export of its vInfo tab).
pub(crate) fn detect(tables: &[&TableHeaders]) -> Option<Detection> {
    let (vinfo, (confidence, found, missing)) = tables
        .iter()
        .map(|t| (*t, score(&normalized(t), SIGNATURE)))
        .max_by(|(ta, a), (tb, b)| {
            a.0.total_cmp(&b.0)
                .then_with(|| is_vinfo(&ta.name).cmp(&is_vinfo(&tb.name)))
        })?;
    let plan = plan(tables, vinfo);
    let unit = unit_of(&vinfo.headers);
    let mut headers = vinfo.headers.clone();
    headers.extend(plan.iter().map(|a| a.name.clone()));
    let mut notes = vec![format!("sizes in {unit} (converted to GB with 1/1024)")];
    for t in tables {
        if RELATED_SHEETS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&t.name))
            && find(&normalized(t), &["VM"]).is_none()
        {
            notes.push(format!(
                "{}: no \"VM\" column header (first header is {:?}); the VM column is recognised by its content when joining",
                t.name,
                t.headers.first().map(String::as_str).unwrap_or("")
            ));
        }
    }
    Some(Detection {
        layout: LayoutId::Rvtools,
        kind: DetectionKind::Assets,
        confidence,
        table: vinfo.name.clone(),
        related_tables: related(tables).iter().map(|t| t.name.clone()).collect(),
        signature_found: found,
        signature_missing: missing,
        mapping: map_columns(&headers, &rules(unit)),
        notes,
    })
}

fn normalized(t: &TableHeaders) -> Vec<String> {
    t.headers.iter().map(|h| normalize(h)).collect()
}

fn is_vinfo(name: &str) -> bool {
    name.to_lowercase().contains("vinfo")
}

fn unit_of(headers: &[String]) -> &'static str {
    if headers.iter().any(|h| h.contains("MiB")) {
        "MiB"
    } else {
        "MB"
    }
}

fn related<'a>(tables: &[&'a TableHeaders]) -> Vec<&'a TableHeaders> {
    RELATED_SHEETS
        .iter()
        .filter_map(|s| {
            tables
                .iter()
                .find(|t| t.name.eq_ignore_ascii_case(s))
                .copied()
        })
        .collect()
}

/// The joined columns, given the tables present.
fn plan(tables: &[&TableHeaders], vinfo: &TableHeaders) -> Vec<Joined> {
    let wanted: &[(&str, &str, &[&str], Agg)] = &[
        ("vDisk", "vDisk.Disks", &[], Agg::Count),
        (
            "vDisk",
            DISK_TOTAL,
            &["Capacity MiB", "Capacity MB"],
            Agg::Sum,
        ),
        ("vPartition", "vPartition.Partitions", &[], Agg::Count),
        (
            "vPartition",
            "vPartition.Total capacity MiB",
            &["Capacity MiB", "Capacity MB"],
            Agg::Sum,
        ),
        (
            "vPartition",
            "vPartition.Total consumed MiB",
            &["Consumed MiB", "Consumed MB"],
            Agg::Sum,
        ),
        ("vNetwork", "vNetwork.NICs", &[], Agg::Count),
        (
            "vNetwork",
            NETWORK_IP,
            &["IPv4 Address", "IP Address"],
            Agg::First,
        ),
        ("vNetwork", NETWORK_MAC, &["Mac Address"], Agg::First),
        ("vCPU", "vCPU.Sockets", &["Sockets"], Agg::First),
        ("vCPU", "vCPU.Cores per socket", &["Cores p/s"], Agg::First),
        (
            "vMemory",
            "vMemory.Size MiB",
            &["Size MiB", "Size MB"],
            Agg::First,
        ),
    ];
    let mut out = Vec::new();
    let mut taken: HashSet<String> = vinfo.headers.iter().map(|h| h.to_lowercase()).collect();
    for t in related(tables) {
        let norm = normalized(t);
        for (sheet, name, columns, agg) in wanted {
            if !t.name.eq_ignore_ascii_case(sheet) {
                continue;
            }
            let column = if columns.is_empty() {
                None
            } else {
                match find(&norm, columns) {
                    Some(i) => Some(i),
                    None => continue,
                }
            };
            taken.insert(name.to_lowercase());
            out.push(Joined::new(name, &t.name, column, *agg));
        }
        // Custom attributes sit between Annotation and Datacenter.
        if let (Some(from), Some(until)) =
            (find(&norm, &["Annotation"]), find(&norm, &["Datacenter"]))
        {
            for i in from + 1..until {
                let h = &t.headers[i];
                if taken.insert(h.to_lowercase()) {
                    out.push(Joined::new(h, &t.name, Some(i), Agg::First));
                }
            }
        }
    }
    out
}

/// vInfo joined with the other sheets, ready to stream one record per VM.
#[derive(Debug)]
pub struct RvtoolsJoin {
    /// The vInfo sheet.
    pub table: String,
    /// vInfo headers followed by the joined columns.
    pub headers: Vec<String>,
    /// The joined columns only.
    pub appended: Vec<String>,
    /// What was noticed while joining (e.g. a VM column recognised by content).
    pub notes: Vec<String>,
    /// Data rows of vInfo.
    pub vm_count: u64,
    name_col: Option<usize>,
    uuid_col: Option<usize>,
    /// Per VM key (`u:<uuid>` or `n:<name>`), the values of the joined columns.
    joined: Aggregates,
}

impl RvtoolsJoin {
    /// Reads vInfo's VM names, then aggregates the related sheets per VM. Memory grows with the
    /// number of VMs, not with the number of disk, partition or network rows.
    pub fn prepare(source: &mut Source) -> Result<RvtoolsJoin, SourceError> {
        let headers = source.table_headers();
        let refs: Vec<&TableHeaders> = headers.iter().filter(|t| !t.headers.is_empty()).collect();
        let detection = detect(&refs)
            .filter(|d| d.confidence >= 0.5)
            .ok_or_else(|| SourceError::NoHeader("an RVTools vInfo sheet".into()))?;
        let vinfo = refs
            .iter()
            .find(|t| t.name == detection.table)
            .copied()
            .ok_or_else(|| SourceError::NoHeader("an RVTools vInfo sheet".into()))?;
        let plan = plan(&refs, vinfo);
        let vnorm = normalized(vinfo);
        let name_col = find(&vnorm, &["VM"]);
        let uuid_col = find(&vnorm, &["VM UUID"]);
        let mut names = HashSet::new();
        let mut vm_count = 0;
        for row in source.rows(&vinfo.name)? {
            let row = row?;
            vm_count += 1;
            if let Some(Some(n)) = name_col.map(|i| row.record.values[i].clone()) {
                names.insert(n);
            }
        }
        let appended: Vec<String> = plan.iter().map(|a| a.name.clone()).collect();
        let mut join = RvtoolsJoin {
            table: vinfo.name.clone(),
            headers: vinfo.headers.iter().chain(&appended).cloned().collect(),
            appended,
            notes: Vec::new(),
            vm_count,
            name_col,
            uuid_col,
            joined: Aggregates::new(plan),
        };
        for sheet in related(&refs) {
            join.aggregate(source, sheet, &names, uuid_col.is_some())?;
        }
        Ok(join)
    }

    fn aggregate(
        &mut self,
        source: &mut Source,
        sheet: &TableHeaders,
        names: &HashSet<String>,
        vinfo_has_uuid: bool,
    ) -> Result<(), SourceError> {
        let norm = normalized(sheet);
        let vm_col = match find(&norm, &["VM"]) {
            Some(i) => i,
            None => {
                let i = vm_column_by_content(source, sheet, names)?;
                self.notes.push(format!(
                    "{}: the VM column is headed {:?}; column {} was recognised as the VM name by its content",
                    sheet.name,
                    sheet.headers.get(i).map(String::as_str).unwrap_or(""),
                    i + 1
                ));
                i
            }
        };
        let uuid_col = if vinfo_has_uuid {
            find(&norm, &["VM UUID"])
        } else {
            None
        };
        let columns = self.joined.of_table(&sheet.name);
        for row in source.rows(&sheet.name)? {
            let row = row?;
            let v = &row.record.values;
            let key = match (uuid_col.and_then(|i| v[i].as_ref()), v[vm_col].as_ref()) {
                (Some(u), _) => format!("u:{}", u.to_lowercase()),
                (None, Some(n)) => format!("n:{n}"),
                (None, None) => continue,
            };
            self.joined.add_row(&key, &columns, v);
        }
        Ok(())
    }

    /// Streams one record per vInfo row with the joined columns appended.
    pub fn rows<'a>(&'a self, source: &'a mut Source) -> Result<JoinedRows<'a>, SourceError> {
        Ok(JoinedRows {
            rows: source.rows(&self.table)?,
            join: self,
        })
    }

    fn appended_values(&self, row: &Row) -> Vec<Option<String>> {
        let v = &row.record.values;
        let by_uuid = self
            .uuid_col
            .and_then(|i| v[i].as_ref())
            .map(|u| format!("u:{}", u.to_lowercase()))
            .filter(|k| self.joined.contains(k));
        let by_name = || {
            self.name_col
                .and_then(|i| v[i].as_ref())
                .map(|n| format!("n:{n}"))
        };
        match by_uuid.or_else(by_name) {
            Some(key) => self.joined.values(&key),
            None => vec![None; self.appended.len()],
        }
    }
}

/// Finds the column of a sheet whose first values are most often vInfo VM names.
fn vm_column_by_content(
    source: &mut Source,
    sheet: &TableHeaders,
    names: &HashSet<String>,
) -> Result<usize, SourceError> {
    let mut hits = vec![0usize; sheet.headers.len()];
    for row in source.rows(&sheet.name)?.take(200) {
        let row = row?;
        for (i, v) in row.record.values.iter().enumerate() {
            if v.as_ref().is_some_and(|v| names.contains(v)) {
                hits[i] += 1;
            }
        }
    }
    Ok(hits
        .iter()
        .enumerate()
        .max_by_key(|(i, h)| (**h, usize::MAX - i))
        .filter(|(_, h)| **h > 0)
        .map_or(0, |(i, _)| i))
}

/// One joined record per VM.
#[derive(Debug)]
pub struct JoinedRows<'a> {
    rows: Rows<'a>,
    join: &'a RvtoolsJoin,
}

impl JoinedRows<'_> {
    /// Counters of the vInfo pass.
    pub fn stats(&self) -> &ReadStats {
        self.rows.stats()
    }
}

impl Iterator for JoinedRows<'_> {
    type Item = Result<Row, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = match self.rows.next()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        let extra = self.join.appended_values(&row);
        row.record.values.extend(extra);
        Some(Ok(row))
    }
}
