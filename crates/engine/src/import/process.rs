//! Turning read rows into what they describe: cleansed assets (through the applied column
//! mapping, with a layout's fallback columns) or relationships, and the raw form rows are
//! staged in.

use modernize_ingest::attributes::AssetAttribute;
use modernize_ingest::cleanse::Cleanser;
use modernize_ingest::layout::{Detection, LayoutId, RelationField};
use modernize_ingest::mapping::{ColumnMapping, Target};
use modernize_ingest::source::Row;
use serde_json::{Map, Value as Json};

/// For an attribute that a layout maps from several columns (e.g. RVTools memory from vInfo,
/// else from vMemory): the column the mapping chose and the others, with the factor that
/// converts their numbers into the chosen column's unit.
pub type Fallbacks = Vec<(usize, Vec<(usize, Option<f64>)>)>;

/// Turns read rows into cleansed assets or relationships.
pub enum Processor {
    Assets(Box<Cleanser>, Fallbacks),
    Relations(Vec<(usize, RelationField)>),
}

/// A relationship row (relationship files).
#[derive(Debug, Default)]
pub struct Relation {
    pub source: Option<String>,
    pub target: Option<String>,
    pub target_ip: Option<String>,
    pub rel_type: Option<String>,
    pub strength: Option<String>,
    pub port: Option<String>,
}

/// What a row became.
#[derive(Debug)]
pub enum Body {
    /// Staged only (not processed yet).
    Raw,
    Asset(Box<modernize_ingest::cleanse::CleansedAsset>),
    Relation(Relation),
}

/// One row read, with its raw values by header, its read problems, and what it became.
#[derive(Debug)]
pub struct ReadRow {
    pub table: String,
    pub row: u64,
    pub raw: Json,
    /// Problems of the row as read (ragged, malformed...): codes with messages.
    pub problems: Vec<(String, String)>,
    pub body: Body,
}

impl ReadRow {
    /// The row's read problems as `import_rows.issues` entries (warnings).
    pub fn read_issues(&self) -> Vec<Json> {
        self.problems
            .iter()
            .map(|(code, message)| {
                serde_json::json!({"code": code, "severity": "warning", "message": message})
            })
            .collect()
    }
}

/// The raw values of a row by header (surplus values under their own names).
pub fn raw_of(headers: &[String], row: &Row) -> Json {
    let mut raw = Map::new();
    for (h, v) in headers.iter().zip(&row.record.values) {
        if let Some(v) = v {
            raw.insert(h.clone(), Json::String(v.clone()));
        }
    }
    for (k, v) in &row.extra {
        raw.insert(k.clone(), Json::String(v.clone()));
    }
    Json::Object(raw)
}

/// A staged row as read, without processing.
pub fn staged(headers: &[String], row: Row) -> ReadRow {
    ReadRow {
        table: row.record.table.clone(),
        row: row.record.row,
        raw: raw_of(headers, &row),
        problems: problems_of(&row),
        body: Body::Raw,
    }
}

fn problems_of(row: &Row) -> Vec<(String, String)> {
    row.problems
        .iter()
        .map(|p| (p.code().to_string(), format!("{p:?}")))
        .collect()
}

impl Processor {
    /// The processor of an asset table with the applied mapping (`Ignore` for columns not
    /// applied).
    pub fn assets(detection: &Detection, headers: &[String], applied: Vec<ColumnMapping>) -> Self {
        let fallbacks = fallbacks(detection, headers, &applied);
        Processor::Assets(Box::new(Cleanser::new(&applied)), fallbacks)
    }

    /// Processes a row read from the file.
    pub fn process(&self, headers: &[String], row: Row) -> ReadRow {
        let raw = raw_of(headers, &row);
        let problems = problems_of(&row);
        let body = self.body(row.record.values, &row.record.table, row.record.row);
        ReadRow {
            table: row.record.table,
            row: row.record.row,
            raw,
            problems,
            body,
        }
    }

    /// Processes a staged row: its values are rebuilt from `raw` by header.
    pub fn process_staged(&self, headers: &[String], mut row: ReadRow) -> ReadRow {
        let values: Vec<Option<String>> = headers
            .iter()
            .map(|h| row.raw.get(h).and_then(|v| v.as_str()).map(str::to_string))
            .collect();
        row.body = self.body(values, &row.table, row.row);
        row
    }

    fn body(&self, mut values: Vec<Option<String>>, table: &str, number: u64) -> Body {
        match self {
            Processor::Assets(c, fallbacks) => {
                fill_fallbacks(&mut values, fallbacks);
                let record = modernize_ingest::Record {
                    table: table.to_string(),
                    row: number,
                    values,
                };
                Body::Asset(Box::new(c.cleanse(&record)))
            }
            Processor::Relations(fields) => {
                let mut r = Relation::default();
                for (i, f) in fields {
                    let v = values.get(*i).cloned().flatten();
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
        }
    }
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
