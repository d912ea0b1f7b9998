//! The reading side of an import, run on a blocking thread: opens the source, selects the
//! tables to import (every recognisable table of a workbook, each with its own layout; joins
//! such as RVTools' prepared once), plans each table's mapping from a sample ([`Plan`]), then
//! streams the rows table after table, in batches, to the writing side through a bounded
//! channel (memory stays bounded whatever the file size). Rows are processed (cleansed) here
//! for a one-shot import, or passed raw for staging; rows of asset details (disks,
//! performance, tags on their own) are always passed raw: they are completed from the stored
//! assets by the writing side.

use std::path::PathBuf;

use modernize_ingest::SourceError;
use modernize_ingest::layout::joined::JoinedTable;
use modernize_ingest::layout::{self, SkippedTable};
use modernize_ingest::mapping::LearnedCorrection;
use modernize_ingest::source::{self, Limits, Row, Source};
use tokio::sync::mpsc;

use super::plan::{self, MappingRow, Plan, ReadRow, TablePlan};

/// Rows per message on the channel.
pub(super) const BATCH: usize = 1000;
/// Rows sampled per table for the mapping proposal.
const SAMPLE: usize = 50;

pub(super) enum Message {
    Header(Box<Plan>),
    /// Rows of one table (its index in [`Plan::tables`]).
    Rows(usize, Vec<ReadRow>),
    Done,
    Failed(SourceError),
}

/// What the reader does with the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Cleanse with the approved proposals (one-shot import).
    Process,
    /// Pass them raw (staged import).
    Stage,
}

/// What the reader needs besides the file.
pub(super) struct ReadSpec {
    pub path: PathBuf,
    pub limits: Limits,
    pub threshold: f64,
    pub learned: Vec<LearnedCorrection>,
    pub mode: Mode,
}

/// Reads the file and sends [`Message`]s; ends with `Done` or `Failed`.
pub(super) fn read(spec: ReadSpec, tx: mpsc::Sender<Message>) {
    if let Err(e) = read_inner(spec, &tx) {
        let _ = tx.blocking_send(Message::Failed(e));
    }
}

/// A table planned for import, with its reader.
struct Planned {
    joined: JoinedTable,
    plan: TablePlan,
    rows: Vec<MappingRow>,
    empty: bool,
}

fn read_inner(spec: ReadSpec, tx: &mpsc::Sender<Message>) -> Result<(), SourceError> {
    let mut src = source::open_path(&spec.path, &spec.limits)?;
    let selection = layout::select(&src.table_headers());
    if selection.tables.is_empty() {
        return Err(SourceError::NoHeader(src.name().to_string()));
    }
    let format = format!("{:?}", src.format()).to_lowercase();
    let mut planned = Vec::new();
    for detection in selection.tables {
        planned.push(plan_table(&mut src, detection, &spec)?);
    }
    let mut skipped = selection.skipped;
    // Tables without data rows are left out, unless no table has any (an empty export still
    // imports, with no rows).
    if planned.iter().any(|p| !p.empty) {
        for p in planned.iter().filter(|p| p.empty) {
            skipped.push(SkippedTable {
                table: p.plan.table().to_string(),
                reason: "no data rows".into(),
            });
        }
        planned.retain(|p| !p.empty);
    } else {
        for p in planned.drain(1..) {
            skipped.push(SkippedTable {
                table: p.plan.table().to_string(),
                reason: "no data rows".into(),
            });
        }
    }
    let notes: Vec<String> = planned
        .iter()
        .flat_map(|p| p.joined.notes().iter().cloned())
        .collect();
    let (readers, tables): (Vec<JoinedTable>, Vec<(TablePlan, Vec<MappingRow>)>) = planned
        .into_iter()
        .map(|p| (p.joined, (p.plan, p.rows)))
        .unzip();
    let plan = Plan::new(format, tables, skipped, notes);
    let processors: Vec<Option<plan::Processor>> = plan
        .tables
        .iter()
        .map(|t| (spec.mode == Mode::Process && !t.kind().is_asset_detail()).then(|| t.processor()))
        .collect();
    let tables = plan.tables.clone();
    if tx.blocking_send(Message::Header(Box::new(plan))).is_err() {
        return Ok(());
    }
    for (i, (reader, table)) in readers.iter().zip(&tables).enumerate() {
        if !send_rows(&mut src, reader, table, processors[i].as_ref(), i, tx)? {
            return Ok(());
        }
    }
    let _ = tx.blocking_send(Message::Done);
    Ok(())
}

/// Prepares a table (its join), samples it and plans its mapping.
fn plan_table(
    src: &mut Source,
    mut detection: layout::Detection,
    spec: &ReadSpec,
) -> Result<Planned, SourceError> {
    let joined = JoinedTable::prepare(src, &detection)?;
    if let Some(mapping) = joined.mapping() {
        detection.mapping = mapping.to_vec();
    }
    let mut sample: Vec<Row> = Vec::new();
    for row in joined.rows(src)?.take(SAMPLE) {
        sample.push(row?);
    }
    let headers = joined.headers().to_vec();
    let (plan, rows) = TablePlan::new(
        detection,
        headers,
        &sample,
        spec.threshold,
        spec.learned.clone(),
    );
    Ok(Planned {
        joined,
        plan,
        rows,
        empty: sample.is_empty(),
    })
}

/// Streams the rows of one table in batches; `false` when the writing side stopped listening.
fn send_rows(
    src: &mut Source,
    reader: &JoinedTable,
    table: &TablePlan,
    processor: Option<&plan::Processor>,
    index: usize,
    tx: &mpsc::Sender<Message>,
) -> Result<bool, SourceError> {
    let headers = &table.headers;
    let mut batch = Vec::with_capacity(BATCH);
    let send = |batch: &mut Vec<ReadRow>| -> bool {
        tx.blocking_send(Message::Rows(
            index,
            std::mem::replace(batch, Vec::with_capacity(BATCH)),
        ))
        .is_ok()
    };
    for row in reader.rows(src)? {
        let row = row?;
        batch.push(match processor {
            Some(p) => p.process(headers, row),
            None => plan::staged(headers, row),
        });
        if batch.len() >= BATCH && !send(&mut batch) {
            return Ok(false);
        }
    }
    if !batch.is_empty() && !send(&mut batch) {
        return Ok(false);
    }
    Ok(true)
}
