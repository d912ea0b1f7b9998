//! The unit every source yields: one row of one table (a CSV file, a sheet of a workbook, the
//! objects of a JSON document), with its position for row-level reports.

/// One row as read: values aligned with the table's headers (`None` for an empty cell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The table the row belongs to: the sheet name of a workbook, else the source's name.
    pub table: String,
    /// 1-based row number in the source as a user would count it (header row = 1 for CSV and
    /// sheets, so the first data row is 2; for JSON, the element or line number).
    pub row: u64,
    pub values: Vec<Option<String>>,
}

/// Why a source cannot be read (whole-source errors; per-row problems are reported on rows).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not a supported format ({0})")]
    UnsupportedFormat(String),
    #[error("the file is truncated or corrupt: {0}")]
    Corrupt(String),
    #[error("the file exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// A workbook whose ZIP archive would unpack to more than [`Limits`](crate::source::Limits)
    /// allow (total size, compression ratio of an entry, number of entries), or whose entries
    /// unpack to more than they declare: refused before any sheet is read.
    #[error("the workbook archive is refused as a possible ZIP bomb: {0}")]
    ArchiveTooLarge(String),
    #[error("no header row found in {0}")]
    NoHeader(String),
    #[error("I/O error: {0}")]
    Io(String),
}

impl SourceError {
    /// A stable machine-readable code for reports and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            SourceError::Empty => "empty_file",
            SourceError::UnsupportedFormat(_) => "unsupported_format",
            SourceError::Corrupt(_) => "corrupt_file",
            SourceError::TooLarge { .. } => "file_too_large",
            SourceError::ArchiveTooLarge(_) => "archive_too_large",
            SourceError::NoHeader(_) => "no_header",
            SourceError::Io(_) => "io_error",
        }
    }
}
