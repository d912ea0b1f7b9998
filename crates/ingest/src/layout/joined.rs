//! A selected table ready to stream its rows: a plain table of the source, or a table joined
//! from several (RVTools vInfo with its related sheets; Google Migration Center vmInfo with its
//! companion tables, or the companions on their own). The joins are prepared once (one pass
//! over the related tables); the rows can then be streamed as many times as needed, each pass
//! starting from the first row.

use super::gcp_join::GcpJoin;
use super::rvtools::RvtoolsJoin;
use super::{ColumnMapping, Detection, LayoutId};
use crate::record::SourceError;
use crate::source::{Row, Source};

/// The rows of a selected table.
pub type TableRows<'a> = Box<dyn Iterator<Item = Result<Row, SourceError>> + 'a>;

/// A selected table (see [`super::select`]) with its join, if any.
#[derive(Debug)]
pub enum JoinedTable {
    Plain { table: String, headers: Vec<String> },
    Rvtools(Box<RvtoolsJoin>),
    Gcp(Box<GcpJoin>),
}

impl JoinedTable {
    /// Prepares the table of `detection`: reads and folds its related tables when it has any.
    pub fn prepare(source: &mut Source, detection: &Detection) -> Result<JoinedTable, SourceError> {
        if detection.layout == LayoutId::Rvtools {
            return Ok(JoinedTable::Rvtools(Box::new(RvtoolsJoin::prepare(
                source,
            )?)));
        }
        let gcp = matches!(
            detection.layout,
            LayoutId::GcpMigrationCenterVm
                | LayoutId::GcpMigrationCenterDisk
                | LayoutId::GcpMigrationCenterPerf
                | LayoutId::GcpMigrationCenterTags
        );
        if gcp && (detection.kind.is_asset_detail() || !detection.related_tables.is_empty()) {
            return Ok(JoinedTable::Gcp(Box::new(GcpJoin::prepare(
                source, detection,
            )?)));
        }
        let headers = source
            .table(&detection.table)
            .map(|t| t.headers.clone())
            .ok_or_else(|| {
                SourceError::NoHeader(format!("no table named {:?}", detection.table))
            })?;
        Ok(JoinedTable::Plain {
            table: detection.table.clone(),
            headers,
        })
    }

    /// The headers of the rows (for joins: the table's followed by the joined columns).
    pub fn headers(&self) -> &[String] {
        match self {
            JoinedTable::Plain { headers, .. } => headers,
            JoinedTable::Rvtools(j) => &j.headers,
            JoinedTable::Gcp(j) => &j.headers,
        }
    }

    /// The layout mapping of the joined headers, when the join decides it from the data (the
    /// tag columns of Google Migration Center): it replaces the detection's.
    pub fn mapping(&self) -> Option<&[ColumnMapping]> {
        match self {
            JoinedTable::Gcp(j) => Some(&j.mapping),
            _ => None,
        }
    }

    /// What was noticed while joining.
    pub fn notes(&self) -> &[String] {
        match self {
            JoinedTable::Plain { .. } => &[],
            JoinedTable::Rvtools(j) => &j.notes,
            JoinedTable::Gcp(j) => &j.notes,
        }
    }

    /// Streams the rows, from the first.
    pub fn rows<'a>(&'a self, source: &'a mut Source) -> Result<TableRows<'a>, SourceError> {
        Ok(match self {
            JoinedTable::Plain { table, .. } => Box::new(source.rows(table)?),
            JoinedTable::Rvtools(j) => Box::new(j.rows(source)?),
            JoinedTable::Gcp(j) => j.rows(source)?,
        })
    }
}
