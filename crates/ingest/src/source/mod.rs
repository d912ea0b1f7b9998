//! Reading sources: a file (CSV, XLSX, JSON array, NDJSON) opened as a [`Source`] that lists its
//! tables (the sheets of a workbook, else one table named after the source) with their headers,
//! and yields each table's rows as a stream.
//!
//! Memory stays bounded whatever the file size: CSV and JSON are decoded and parsed as streams,
//! XLSX sheets are read cell by cell (calamine's cell reader; only the shared-strings table of the
//! workbook is held in memory). Trailing empty rows of a sheet whose dimension claims a million
//! rows produce nothing.
//!
//! Whole-source failures are [`SourceError`]s; row-level problems (ragged rows, a malformed NDJSON
//! line, JSON keys outside the header set) are reported on the [`Row`] and never drop the row.
//!
//! ```no_run
//! use modernize_ingest::source::{self, Limits};
//! let mut src = source::open_path("inventory.csv".as_ref(), &Limits::default())?;
//! let table = src.tables()[0].name.clone();
//! let mut rows = src.rows(&table)?;
//! for row in rows.by_ref() {
//!     let row = row?;
//!     println!("{} {:?} {:?}", row.record.row, row.record.values, row.problems);
//! }
//! println!("{:?}", rows.stats());
//! # Ok::<(), modernize_ingest::SourceError>(())
//! ```

mod archive;
mod csv;
pub mod detect;
pub mod encoding;
mod json;
mod xlsx;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::record::{Record, SourceError};

pub use detect::Format;
pub use encoding::TextEncoding;

/// Anything a source can be read from: files, in-memory cursors.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Limits applied when opening a source.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted file, in bytes ([`SourceError::TooLarge`] above it).
    pub max_bytes: u64,
    /// How many JSON objects are read to establish the header set (keys first seen later are
    /// reported on their row as [`RowProblem::UnexpectedFields`], their values kept in
    /// [`Row::extra`]).
    pub json_header_sample: usize,
    /// Largest single JSON element or NDJSON line, in bytes (a row above it is malformed).
    pub max_record_bytes: usize,
    /// XLSX: largest total uncompressed size of the workbook's ZIP entries, in bytes, as declared
    /// by its central directory ([`SourceError::ArchiveTooLarge`] above it). Independent of
    /// `max_bytes`: real workbooks unpack to 5-20 times their file size.
    pub max_uncompressed_bytes: u64,
    /// XLSX: largest accepted ratio of uncompressed to compressed size for an entry that unpacks
    /// to more than 1 MiB (real sheets stay below 20:1; DEFLATE cannot exceed about 1032:1).
    pub max_compression_ratio: u64,
    /// XLSX: most entries (files) accepted in the workbook's ZIP archive.
    pub max_archive_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            json_header_sample: 1000,
            max_record_bytes: 16 << 20,
            max_uncompressed_bytes: 2 << 30,
            max_compression_ratio: 200,
            max_archive_entries: 10_000,
        }
    }
}

/// A table of a source: its name and its (unique, non-blank) column names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Sheet name, or the source's name for CSV and JSON.
    pub name: String,
    /// Column names, unique and non-blank (see `header_problems` for the renamed ones).
    pub headers: Vec<String>,
    /// 1-based row number of the header row (0 for JSON, whose keys are the headers).
    pub header_row: u64,
    /// Blank or duplicate header cells and the names given to them.
    pub header_problems: Vec<HeaderProblem>,
}

/// A header cell that had to be renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// An empty header cell; the column is named `column_<n>` (1-based position).
    Blank { column: usize, renamed_to: String },
    /// A header equal (ignoring case and surrounding spaces) to an earlier one; renamed with a
    /// `_2`, `_3`, ... suffix.
    Duplicate {
        column: usize,
        original: String,
        renamed_to: String,
    },
}

impl HeaderProblem {
    /// Stable code for reports.
    pub fn code(&self) -> &'static str {
        match self {
            HeaderProblem::Blank { .. } => "blank_header",
            HeaderProblem::Duplicate { .. } => "duplicate_header",
        }
    }
}

/// A problem with one row. The row is still yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowProblem {
    /// The row has more or fewer fields than the header. Missing fields are `None`; surplus
    /// fields are kept in [`Row::extra`] as `column_<n>`.
    RaggedRow { expected: usize, found: usize },
    /// The row could not be parsed (a malformed NDJSON line, a JSON element that is not an
    /// object, an over-long element); its values are all `None`.
    MalformedRow { message: String },
    /// Keys not in the header set (JSON keys first seen after the header sample); their values
    /// are in [`Row::extra`].
    UnexpectedFields { names: Vec<String> },
}

impl RowProblem {
    /// Stable code for reports.
    pub fn code(&self) -> &'static str {
        match self {
            RowProblem::RaggedRow { .. } => "ragged_row",
            RowProblem::MalformedRow { .. } => "malformed_row",
            RowProblem::UnexpectedFields { .. } => "unexpected_fields",
        }
    }
}

/// One row as yielded by a source: the record, values outside the headers, and problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub record: Record,
    /// Values that have no header: surplus fields of a ragged row (`column_<n>`) or JSON keys
    /// outside the header set.
    pub extra: Vec<(String, String)>,
    pub problems: Vec<RowProblem>,
}

/// Counters of one pass over a table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Rows yielded (including rows with problems).
    pub rows: u64,
    /// Fully empty rows between data rows that were skipped (trailing empty rows of a sheet are
    /// not counted).
    pub empty_rows_skipped: u64,
    /// Rows yielded with at least one problem.
    pub rows_with_problems: u64,
    /// CSV: spaces between a delimiter and an opening quote (or a closing quote and a
    /// delimiter) that were dropped so that `"a", "b"` reads as two quoted fields.
    pub quote_spacing_repairs: u64,
}

/// An opened source.
pub struct Source {
    name: String,
    format: Format,
    encoding: Option<TextEncoding>,
    delimiter: Option<u8>,
    size: u64,
    tables: Vec<TableInfo>,
    inner: Inner,
}

enum Inner {
    Csv(Box<dyn ReadSeek>),
    Json(Box<dyn ReadSeek>, json::JsonMeta),
    Xlsx(Box<xlsx::Workbook>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("delimiter", &self.delimiter.map(char::from))
            .field("size", &self.size)
            .field("tables", &self.tables)
            .finish()
    }
}

/// Opens a file.
pub fn open_path(path: &Path, limits: &Limits) -> Result<Source, SourceError> {
    let file = std::fs::File::open(path)
        .map_err(|e| SourceError::Io(format!("{}: {e}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    open(file, &name, limits)
}

/// Opens a source from a seekable reader. `name` names the single table of CSV and JSON sources
/// (usually the file name); the format is recognised from the content, not the name.
pub fn open<R: ReadSeek + 'static>(
    mut reader: R,
    name: &str,
    limits: &Limits,
) -> Result<Source, SourceError> {
    let size = reader.seek(SeekFrom::End(0)).map_err(io_error)?;
    if size > limits.max_bytes {
        return Err(SourceError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    if size == 0 {
        return Err(SourceError::Empty);
    }
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut prefix = Vec::with_capacity(detect::SNIFF_BYTES);
    (&mut reader)
        .take(detect::SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(io_error)?;
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let format = detect::sniff(&prefix, name)?;
    let mut reader: Box<dyn ReadSeek> = Box::new(reader);
    let (encoding, delimiter, tables, inner) = match format {
        Format::Csv => {
            let info = csv::inspect(&mut reader, name)?;
            let inner = Inner::Csv(reader);
            (
                Some(info.encoding),
                Some(info.delimiter),
                vec![info.table],
                inner,
            )
        }
        Format::Json | Format::Ndjson => {
            let kind = if format == Format::Json {
                json::JsonKind::Array
            } else {
                json::JsonKind::Lines
            };
            let (encoding, table, meta) = json::inspect(&mut reader, name, kind, limits)?;
            let inner = Inner::Json(reader, meta);
            (Some(encoding), None, vec![table], inner)
        }
        Format::Xlsx => {
            archive::check(&mut reader, size, limits)?;
            let (workbook, tables) = xlsx::Workbook::open(reader)?;
            (None, None, tables, Inner::Xlsx(Box::new(workbook)))
        }
    };
    let source = Source {
        name: name.to_string(),
        format,
        encoding,
        delimiter,
        size,
        tables,
        inner,
    };
    Ok(source)
}

impl Source {
    /// The name given when opening.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The recognised format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The detected text encoding (CSV and JSON).
    pub fn encoding(&self) -> Option<TextEncoding> {
        self.encoding
    }

    /// The detected delimiter (CSV).
    pub fn delimiter(&self) -> Option<u8> {
        self.delimiter
    }

    /// Size of the source in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tables, in source order (sheets in workbook order).
    pub fn tables(&self) -> &[TableInfo] {
        &self.tables
    }

    /// The table of that name.
    pub fn table(&self, name: &str) -> Option<&TableInfo> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Names and headers of every table, for layout detection.
    pub fn table_headers(&self) -> Vec<crate::layout::TableHeaders> {
        self.tables
            .iter()
            .map(|t| crate::layout::TableHeaders {
                name: t.name.clone(),
                headers: t.headers.clone(),
            })
            .collect()
    }

    /// Streams the rows of a table. Can be called again (each call starts from the first row).
    pub fn rows(&mut self, table: &str) -> Result<Rows<'_>, SourceError> {
        let info = self
            .tables
            .iter()
            .find(|t| t.name == table)
            .ok_or_else(|| SourceError::NoHeader(format!("no table named {table:?}")))?
            .clone();
        let inner = match &mut self.inner {
            Inner::Csv(reader) => {
                let encoding = self.encoding.unwrap_or(TextEncoding::Utf8);
                let delimiter = self.delimiter.unwrap_or(b',');
                RowsInner::Csv(csv::CsvRows::new(reader, encoding, delimiter, info)?)
            }
            Inner::Json(reader, meta) => {
                let encoding = self.encoding.unwrap_or(TextEncoding::Utf8);
                RowsInner::Json(json::JsonRows::new(reader, encoding, meta, info)?)
            }
            Inner::Xlsx(workbook) => RowsInner::Xlsx(Box::new(workbook.rows(info)?)),
        };
        Ok(Rows {
            inner,
            stats: ReadStats::default(),
            done: false,
        })
    }
}

/// The rows of one table; `Err` ends the stream (the rest of the source is unreadable).
pub struct Rows<'a> {
    inner: RowsInner<'a>,
    stats: ReadStats,
    done: bool,
}

enum RowsInner<'a> {
    Csv(csv::CsvRows<'a>),
    Json(json::JsonRows<'a>),
    Xlsx(Box<xlsx::SheetRows<'a>>),
}

impl std::fmt::Debug for Rows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows").field("stats", &self.stats).finish()
    }
}

impl Rows<'_> {
    /// Counters so far (complete once the iterator returned `None`).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<Row, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match &mut self.inner {
            RowsInner::Csv(r) => r.next_row(&mut self.stats),
            RowsInner::Json(r) => r.next_row(&mut self.stats),
            RowsInner::Xlsx(r) => r.next_row(&mut self.stats),
        };
        match &next {
            Some(Ok(row)) => {
                self.stats.rows += 1;
                if !row.problems.is_empty() {
                    self.stats.rows_with_problems += 1;
                }
            }
            Some(Err(_)) | None => self.done = true,
        }
        next
    }
}

/// Makes header names unique and non-blank: trims them, names blank ones `column_<n>`, suffixes
/// duplicates (compared case-insensitively) with `_2`, `_3`, ...
pub(crate) fn normalize_headers(raw: Vec<String>) -> (Vec<String>, Vec<HeaderProblem>) {
    let mut problems = Vec::new();
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    let mut seen = std::collections::HashSet::new();
    for (i, h) in raw.into_iter().enumerate() {
        let trimmed = h.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        let name = if trimmed.is_empty() {
            let mut n = format!("column_{}", i + 1);
            while seen.contains(&n.to_lowercase()) {
                n.push('_');
            }
            problems.push(HeaderProblem::Blank {
                column: i + 1,
                renamed_to: n.clone(),
            });
            n
        } else if seen.contains(&trimmed.to_lowercase()) {
            let mut k = 2;
            let mut n = format!("{trimmed}_{k}");
            while seen.contains(&n.to_lowercase()) {
                k += 1;
                n = format!("{trimmed}_{k}");
            }
            problems.push(HeaderProblem::Duplicate {
                column: i + 1,
                original: trimmed.to_string(),
                renamed_to: n.clone(),
            });
            n
        } else {
            trimmed.to_string()
        };
        seen.insert(name.to_lowercase());
        out.push(name);
    }
    (out, problems)
}

/// A cell value as kept: `None` when empty or only whitespace.
pub(crate) fn cell(value: &str) -> Option<String> {
    if value.trim().is_empty() {
        None
    } else {
        Some(value.to_string())
    }
}

pub(crate) fn io_error(e: std::io::Error) -> SourceError {
    SourceError::Io(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_made_unique() {
        let (h, p) = normalize_headers(vec![
            "Name".into(),
            " ".into(),
            "name".into(),
            "Name_2".into(),
            "\u{feff}IP ".into(),
        ]);
        assert_eq!(h, vec!["Name", "column_2", "name_2", "Name_2_2", "IP"]);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].code(), "blank_header");
        assert_eq!(p[1].code(), "duplicate_header");
    }

    #[test]
    fn blank_cells_are_none() {
        assert_eq!(cell("  "), None);
        assert_eq!(cell(" a "), Some(" a ".to_string()));
    }
}
