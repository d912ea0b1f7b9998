//! The reading side of an import, run on a blocking thread: opens the source, detects its
//! layout, plans the mapping from a sample ([`Plan`]), and streams rows in batches to the
//! writing side through a bounded channel (memory stays bounded whatever the file size).
//! Rows are processed (cleansed) here for a one-shot import, or passed raw for staging.

use std::path::PathBuf;

use modernize_ingest::SourceError;
use modernize_ingest::layout::rvtools::RvtoolsJoin;
use modernize_ingest::layout::{self, DetectionKind, LayoutId, TableHeaders};
use modernize_ingest::mapping::LearnedCorrection;
use modernize_ingest::source::{self, Limits, Row};
use tokio::sync::mpsc;

use super::plan::{self, Plan, ReadRow};

/// Rows per message on the channel.
pub(super) const BATCH: usize = 1000;
/// Rows sampled for the mapping proposal.
const SAMPLE: usize = 50;

pub(super) enum Message {
    Header(Box<Plan>),
    Rows(Vec<ReadRow>),
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

fn read_inner(spec: ReadSpec, tx: &mpsc::Sender<Message>) -> Result<(), SourceError> {
    let mut src = source::open_path(&spec.path, &spec.limits)?;
    let tables = src.table_headers();
    let detections = layout::detect(&tables);
    let best = detections
        .into_iter()
        .next()
        .ok_or_else(|| SourceError::NoHeader(src.name().to_string()))?;
    let format = format!("{:?}", src.format()).to_lowercase();
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
        Some(RvtoolsJoin::prepare(&mut src)?)
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
    let mut plan = Plan::new(
        format,
        best,
        headers,
        &buffered,
        spec.threshold,
        spec.learned,
    );
    if let Some(j) = &join {
        plan.notes.extend(j.notes.iter().cloned());
    }
    let processor = plan.processor();
    let headers = plan.headers.clone();
    if tx.blocking_send(Message::Header(Box::new(plan))).is_err() {
        return Ok(());
    }
    let mut batch = Vec::with_capacity(BATCH);
    let send = |batch: &mut Vec<ReadRow>| -> bool {
        tx.blocking_send(Message::Rows(std::mem::replace(
            batch,
            Vec::with_capacity(BATCH),
        )))
        .is_ok()
    };
    for row in buffered.into_iter().map(Ok).chain(rows) {
        let row = row?;
        batch.push(match spec.mode {
            Mode::Process => processor.process(&headers, row),
            Mode::Stage => plan::staged(&headers, row),
        });
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
