//! The reading side of an import, run on a blocking thread: opens the source, detects its
//! layout, proposes the column mapping from a sample, and streams cleansed rows in batches to
//! the writing side through a bounded channel (memory stays bounded whatever the file size).

use std::collections::BTreeMap;
use std::path::PathBuf;

use modernize_ingest::SourceError;
use modernize_ingest::attributes::AssetAttribute;
use modernize_ingest::cleanse::size::SizeUnit;
use modernize_ingest::cleanse::{CleansedAsset, Cleanser};
use modernize_ingest::layout::rvtools::RvtoolsJoin;
use modernize_ingest::layout::{self, Detection, DetectionKind, LayoutId, MappingTarget};
use modernize_ingest::layout::{RelationField, TableHeaders};
use modernize_ingest::mapping::{self, ColumnMapping, Hints, MappingStatus, Target};
use modernize_ingest::source::{self, Limits, Row};
use serde_json::{Map, Value as Json};
use tokio::sync::mpsc;

/// Rows per message on the channel.
pub(super) const BATCH: usize = 500;
/// Rows sampled for the mapping proposal.
const SAMPLE: usize = 50;

/// What the reader found before the rows.
#[derive(Debug, Clone)]
pub(super) struct Header {
    pub format: String,
    pub table: String,
    pub layout: LayoutId,
    pub layout_confidence: f64,
    pub kind: DetectionKind,
    pub mappings: Vec<MappingRow>,
    pub notes: Vec<String>,
}

/// One column mapping as reported and stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MappingRow {
    pub table: String,
    pub source_column: String,
    /// Attribute name, custom attribute name, relation field, or `None` for ignore.
    pub target: Option<String>,
    /// `attribute`, `custom`, `relation` or `ignore`.
    pub target_kind: &'static str,
    pub confidence: f64,
    /// `approved` or `needs_review` (needs-review columns are not applied).
    pub status: &'static str,
    pub reason: String,
}

/// One row read, cleansed or parsed as a relationship.
#[derive(Debug)]
pub(super) struct ReadRow {
    pub table: String,
    pub row: u64,
    pub raw: Json,
    /// Problems of the row as read (ragged, malformed...): codes with messages.
    pub problems: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug)]
pub(super) enum Body {
    Asset(Box<CleansedAsset>),
    Relation(Relation),
}

/// A relationship row (relationship files).
#[derive(Debug, Default)]
pub(super) struct Relation {
    pub source: Option<String>,
    pub target: Option<String>,
    pub target_ip: Option<String>,
    pub rel_type: Option<String>,
    pub strength: Option<String>,
    pub port: Option<String>,
}

pub(super) enum Message {
    Header(Header),
    Rows(Vec<ReadRow>),
    Done,
    Failed(SourceError),
}

/// Reads `path` and sends [`Message`]s; ends with `Done` or `Failed`.
pub(super) fn read(path: PathBuf, limits: Limits, threshold: f64, tx: mpsc::Sender<Message>) {
    if let Err(e) = read_inner(&path, &limits, threshold, &tx) {
        let _ = tx.blocking_send(Message::Failed(e));
    }
}

fn read_inner(
    path: &std::path::Path,
    limits: &Limits,
    threshold: f64,
    tx: &mpsc::Sender<Message>,
) -> Result<(), SourceError> {
    let mut src = source::open_path(path, limits)?;
    let tables = src.table_headers();
    let detections = layout::detect(&tables);
    let best = detections
        .into_iter()
        .next()
        .ok_or_else(|| SourceError::NoHeader(src.name().to_string()))?;
    let format = format!("{:?}", src.format()).to_lowercase();
    let mut notes = best.notes.clone();
    if !matches!(
        best.kind,
        DetectionKind::Assets | DetectionKind::Dependencies
    ) {
        return Err(SourceError::UnsupportedFormat(format!(
            "{} files ({:?} rows) cannot be imported on their own yet; import the matching \
             VM inventory file",
            best.layout.as_str(),
            best.kind
        )));
    }

    let join = if best.layout == LayoutId::Rvtools {
        let j = RvtoolsJoin::prepare(&mut src)?;
        notes.extend(j.notes.iter().cloned());
        Some(j)
    } else {
        None
    };
    let headers: Vec<String> = match &join {
        Some(j) => j.headers.clone(),
        None => tables
            .iter()
            .find(|t: &&TableHeaders| t.name == best.table)
            .map(|t| t.headers.clone())
            .unwrap_or_default(),
    };
    let mut rows: Box<dyn Iterator<Item = Result<Row, SourceError>> + '_> = match &join {
        Some(j) => Box::new(j.rows(&mut src)?),
        None => Box::new(src.rows(&best.table)?),
    };

    // Sample for the mapping proposal.
    let mut buffered: Vec<Row> = Vec::new();
    for row in rows.by_ref() {
        buffered.push(row?);
        if buffered.len() >= SAMPLE {
            break;
        }
    }
    let table = best.table.clone();
    let (mappings, processor) = match best.kind {
        DetectionKind::Dependencies => relation_plan(&best, &headers),
        _ => asset_plan(&best, &headers, &buffered, threshold),
    };
    let header = Header {
        format,
        table: table.clone(),
        layout: best.layout,
        layout_confidence: best.confidence,
        kind: best.kind,
        mappings,
        notes,
    };
    if tx.blocking_send(Message::Header(header)).is_err() {
        return Ok(());
    }
    let mut batch = Vec::with_capacity(BATCH);
    let send = |batch: &mut Vec<ReadRow>| -> bool {
        tx.blocking_send(Message::Rows(std::mem::take(batch)))
            .is_ok()
    };
    for row in buffered.into_iter().map(Ok).chain(rows) {
        let row = row?;
        batch.push(processor.process(&headers, row));
        if batch.len() >= BATCH && !send(&mut batch) {
            return Ok(());
        }
    }
    if !batch.is_empty() && !send(&mut batch) {
        return Ok(());
    }
    let _ = tx.blocking_send(Message::Done);
    Ok(())
}

/// For an attribute that a layout maps from several columns (e.g. RVTools memory from vInfo,
/// else from vMemory): the column the mapping chose and the others, with the factor that
/// converts their numbers into the chosen column's unit.
type Fallbacks = Vec<(usize, Vec<(usize, Option<f64>)>)>;

enum Processor {
    Assets(Cleanser, Fallbacks),
    Relations(Vec<(usize, RelationField)>),
}

impl Processor {
    fn process(&self, headers: &[String], row: Row) -> ReadRow {
        let mut raw = Map::new();
        for (h, v) in headers.iter().zip(&row.record.values) {
            if let Some(v) = v {
                raw.insert(h.clone(), Json::String(v.clone()));
            }
        }
        for (k, v) in &row.extra {
            raw.insert(k.clone(), Json::String(v.clone()));
        }
        let problems = row
            .problems
            .iter()
            .map(|p| (p.code().to_string(), format!("{p:?}")))
            .collect();
        let body = match self {
            Processor::Assets(c, fallbacks) => {
                let mut record = row.record.clone();
                fill_fallbacks(&mut record.values, fallbacks);
                Body::Asset(Box::new(c.cleanse(&record)))
            }
            Processor::Relations(fields) => {
                let mut r = Relation::default();
                for (i, f) in fields {
                    let v = row.record.values.get(*i).cloned().flatten();
                    let slot = match f {
                        RelationField::Source => &mut r.source,
                        RelationField::Target => &mut r.target,
                        RelationField::TargetIp => &mut r.target_ip,
                        RelationField::Type => &mut r.rel_type,
                        RelationField::Strength => &mut r.strength,
                        RelationField::Port => &mut r.port,
                        _ => continue,
                    };
                    if slot.is_none() {
                        *slot = v;
                    }
                }
                Body::Relation(r)
            }
        };
        ReadRow {
            table: row.record.table,
            row: row.record.row,
            raw: Json::Object(raw),
            problems,
            body,
        }
    }
}

fn relation_plan(best: &Detection, headers: &[String]) -> (Vec<MappingRow>, Processor) {
    let mut fields = Vec::new();
    let mut rows = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let m = best.mapping_of(h);
        let (target, kind) = match m.map(|m| m.target) {
            Some(MappingTarget::Relation(f)) => {
                fields.push((i, f));
                let name = serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
                (name, "relation")
            }
            _ => (None, "ignore"),
        };
        rows.push(MappingRow {
            table: best.table.clone(),
            source_column: h.clone(),
            target,
            target_kind: kind,
            confidence: m.map_or(1.0, |m| m.confidence),
            status: "approved",
            reason: format!("column of the {} layout", best.layout.as_str()),
        });
    }
    (rows, Processor::Relations(fields))
}

fn asset_plan(
    best: &Detection,
    headers: &[String],
    sample: &[Row],
    threshold: f64,
) -> (Vec<MappingRow>, Processor) {
    let mut units: BTreeMap<String, f64> = BTreeMap::new();
    let layout_hints: Vec<(String, AssetAttribute, f64)> = best
        .mapping
        .iter()
        .filter_map(|m| match m.target {
            MappingTarget::Attribute(a) => {
                if let Some(f) = m.to_gb {
                    units.insert(m.column.clone(), f);
                }
                Some((m.column.clone(), a, m.confidence))
            }
            _ => None,
        })
        .collect();
    let hints = Hints {
        layout: layout_hints,
        threshold,
        ..Hints::default()
    };
    let samples: Vec<Vec<Option<String>>> =
        sample.iter().map(|r| r.record.values.clone()).collect();
    let mut proposed = mapping::propose(headers, &samples, &hints);
    for m in &mut proposed {
        if let (Target::Attribute(a), Some(f)) = (&m.target, units.get(&m.source_column))
            && matches!(a, AssetAttribute::MemoryGb | AssetAttribute::StorageGb)
        {
            m.unit = unit_of(*f).or(m.unit);
        }
    }
    let rows = proposed
        .iter()
        .map(|m| {
            let (target, kind) = match &m.target {
                Target::Attribute(a) => (Some(a.as_str().to_string()), "attribute"),
                Target::Custom(n) => (Some(n.clone()), "custom"),
                Target::Ignore => (None, "ignore"),
            };
            MappingRow {
                table: best.table.clone(),
                source_column: m.source_column.clone(),
                target,
                target_kind: kind,
                confidence: m.confidence,
                status: m.status.as_str(),
                reason: m.reason.clone(),
            }
        })
        .collect();
    // Only approved mappings are applied; the others are reported for review.
    let applied: Vec<ColumnMapping> = proposed
        .into_iter()
        .map(|mut m| {
            if m.status != MappingStatus::Approved {
                m.target = Target::Ignore;
            }
            m
        })
        .collect();
    let fallbacks = fallbacks(best, headers, &applied);
    (rows, Processor::Assets(Cleanser::new(&applied), fallbacks))
}

fn fallbacks(best: &Detection, headers: &[String], applied: &[ColumnMapping]) -> Fallbacks {
    let position = |c: &str| headers.iter().position(|h| h == c);
    let mut out = Vec::new();
    for m in applied {
        let Target::Attribute(attr) = m.target else {
            continue;
        };
        let mut columns: Vec<(String, Option<f64>)> = best
            .columns_for(attr)
            .iter()
            .map(|c| (c.column.clone(), c.to_gb))
            .collect();
        // RVTools: memory of a trimmed vInfo row from the joined vMemory sheet.
        if best.layout == LayoutId::Rvtools && attr == AssetAttribute::MemoryGb {
            columns.push(("vMemory.Size MiB".into(), Some(1.0 / 1024.0)));
        }
        let primary = best.mapping_of(&m.source_column).and_then(|p| p.to_gb);
        let others: Vec<(usize, Option<f64>)> = columns
            .iter()
            .filter(|(c, _)| *c != m.source_column)
            .filter_map(|(c, to_gb)| {
                let factor = match (to_gb, primary) {
                    (Some(from), Some(to)) if to > 0.0 => Some(from / to),
                    _ => None,
                };
                position(c).map(|i| (i, factor))
            })
            .collect();
        if !others.is_empty() {
            out.push((m.column, others));
        }
    }
    out
}

fn fill_fallbacks(values: &mut [Option<String>], fallbacks: &Fallbacks) {
    for (primary, others) in fallbacks {
        if values.get(*primary).is_some_and(|v| v.is_some()) {
            continue;
        }
        for (i, factor) in others {
            let Some(Some(v)) = values.get(*i) else {
                continue;
            };
            let v = match (factor, v.trim().parse::<f64>()) {
                (Some(f), Ok(x)) if (*f - 1.0).abs() > 1e-12 => format!("{}", x * f),
                _ => v.clone(),
            };
            if let Some(slot) = values.get_mut(*primary) {
                *slot = Some(v);
            }
            break;
        }
    }
}

fn unit_of(to_gb: f64) -> Option<SizeUnit> {
    [
        SizeUnit::Bytes,
        SizeUnit::Kb,
        SizeUnit::Mb,
        SizeUnit::Gb,
        SizeUnit::Tb,
    ]
    .into_iter()
    .find(|u| (u.in_gb() - to_gb).abs() < 1e-12)
}
