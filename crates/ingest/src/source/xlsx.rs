//! XLSX workbooks, read sheet by sheet and cell by cell with calamine's streaming cell reader:
//! a sheet is never materialised as a whole, so a sheet whose dimension claims a million rows
//! (styled but empty trailing rows) costs nothing and yields only its data rows.
//!
//! The header row of a sheet is the first row, among its first ten non-empty rows, that has at
//! least half as many non-empty cells as the widest of them (so a title line above the header
//! is skipped). Cell values become text: integers without a decimal point, other numbers in
//! their shortest exact form, dates as `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`, booleans as
//! `true`/`false`; error cells (`#N/A`) and blank strings are empty.

use calamine::{DataRef, Reader, Xlsx, XlsxError};

use super::{ReadSeek, ReadStats, Row, RowProblem, TableInfo, cell, normalize_headers};
use crate::record::{Record, SourceError};

/// Rows inspected to find the header row.
const HEADER_SCAN_ROWS: usize = 10;
/// Row index past which the header search gives up.
const HEADER_SCAN_LIMIT: u32 = 1000;

type CellReader<'a> = calamine::XlsxCellReader<'a, Box<dyn ReadSeek>>;

pub(crate) struct Workbook {
    xlsx: Xlsx<Box<dyn ReadSeek>>,
    /// 0-based header row index and header width per sheet, in sheet order.
    sheets: Vec<(String, u32, usize)>,
}

impl Workbook {
    /// Opens the workbook and reads the header row of every sheet.
    pub(crate) fn open(reader: Box<dyn ReadSeek>) -> Result<(Self, Vec<TableInfo>), SourceError> {
        let mut xlsx: Xlsx<Box<dyn ReadSeek>> = Xlsx::new(reader).map_err(xlsx_error)?;
        let names = xlsx.sheet_names();
        if names.is_empty() {
            return Err(SourceError::UnsupportedFormat(
                "a ZIP archive that is not an XLSX workbook (no worksheets found)".into(),
            ));
        }
        let mut sheets = Vec::new();
        let mut tables = Vec::new();
        for name in names {
            let mut reader = xlsx.worksheet_cells_reader(&name).map_err(xlsx_error)?;
            let (header_row, raw) = find_header(&mut reader)?;
            let width = raw.len();
            let (headers, header_problems) = normalize_headers(raw);
            sheets.push((name.clone(), header_row, width));
            tables.push(TableInfo {
                name,
                headers,
                header_row: u64::from(header_row) + 1,
                header_problems,
            });
        }
        Ok((Workbook { xlsx, sheets }, tables))
    }

    /// Streams the data rows of a sheet.
    pub(crate) fn rows(&mut self, table: TableInfo) -> Result<SheetRows<'_>, SourceError> {
        let (_, header_row, _) = *self
            .sheets
            .iter()
            .find(|(n, _, _)| *n == table.name)
            .ok_or_else(|| SourceError::NoHeader(table.name.clone()))?;
        let cells = self
            .xlsx
            .worksheet_cells_reader(&table.name)
            .map_err(xlsx_error)?;
        Ok(SheetRows {
            cells,
            table,
            header_row,
            pending: None,
            last_data_row: header_row,
            exhausted: false,
        })
    }
}

/// Reads cells until the header row is settled; returns its 0-based index and raw names.
fn find_header(reader: &mut CellReader<'_>) -> Result<(u32, Vec<String>), SourceError> {
    let mut rows: Vec<(u32, Vec<(u32, String)>)> = Vec::new();
    while let Some(c) = reader.next_cell().map_err(xlsx_error)? {
        let (r, col) = c.get_position();
        let Some(v) = text(c.get_value()) else {
            continue;
        };
        if rows.last().is_none_or(|(last, _)| *last != r) {
            if rows.len() == HEADER_SCAN_ROWS || r > HEADER_SCAN_LIMIT {
                break;
            }
            rows.push((r, Vec::new()));
        }
        if let Some((_, cells)) = rows.last_mut() {
            cells.push((col, v));
        }
    }
    let widest = rows.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    let Some((row, cells)) = rows.into_iter().find(|(_, c)| c.len() * 2 >= widest) else {
        return Ok((0, Vec::new()));
    };
    let width = cells
        .iter()
        .map(|(c, _)| *c as usize + 1)
        .max()
        .unwrap_or(0);
    let mut raw = vec![String::new(); width];
    for (c, v) in cells {
        raw[c as usize] = v;
    }
    Ok((row, raw))
}

/// A cell as text; `None` when empty.
fn text(value: &DataRef<'_>) -> Option<String> {
    match value {
        DataRef::Empty | DataRef::Error(_) => None,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => cell(s),
        DataRef::SharedString(s) => cell(s),
        DataRef::Int(i) => Some(i.to_string()),
        DataRef::Float(f) => Some(number(*f)),
        DataRef::Bool(b) => Some(b.to_string()),
        DataRef::DateTime(dt) => {
            if dt.is_duration() {
                return Some(number(dt.as_f64()));
            }
            match dt.as_datetime() {
                Some(d) if d.time() == chrono::NaiveTime::MIN => Some(d.date().to_string()),
                Some(d) => Some(d.format("%Y-%m-%d %H:%M:%S").to_string()),
                None => Some(number(dt.as_f64())),
            }
        }
    }
}

/// Formats a number: integral values without a decimal point.
fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

pub(crate) fn xlsx_error(e: XlsxError) -> SourceError {
    match e {
        XlsxError::Zip(z) => super::archive::corrupt(z),
        XlsxError::Password => SourceError::UnsupportedFormat(
            "a password-protected workbook; remove the password and upload again".into(),
        ),
        other => SourceError::Corrupt(format!("the workbook cannot be read: {other}")),
    }
}

/// The data rows of one sheet.
pub(crate) struct SheetRows<'a> {
    cells: CellReader<'a>,
    table: TableInfo,
    header_row: u32,
    pending: Option<(u32, u32, String)>,
    last_data_row: u32,
    exhausted: bool,
}

impl SheetRows<'_> {
    fn next_cell(&mut self) -> Result<Option<(u32, u32, String)>, SourceError> {
        if let Some(c) = self.pending.take() {
            return Ok(Some(c));
        }
        if self.exhausted {
            return Ok(None);
        }
        loop {
            match self.cells.next_cell().map_err(xlsx_error)? {
                None => {
                    self.exhausted = true;
                    return Ok(None);
                }
                Some(c) => {
                    let (r, col) = c.get_position();
                    if r <= self.header_row {
                        continue;
                    }
                    if let Some(v) = text(c.get_value()) {
                        return Ok(Some((r, col, v)));
                    }
                }
            }
        }
    }

    pub(crate) fn next_row(&mut self, stats: &mut ReadStats) -> Option<Result<Row, SourceError>> {
        let first = match self.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let row = first.0;
        let width = self.table.headers.len();
        let mut values = vec![None; width];
        let mut extra = Vec::new();
        let mut found = 0usize;
        let mut cell = Some(first);
        while let Some((r, col, v)) = cell {
            if r != row {
                self.pending = Some((r, col, v));
                break;
            }
            let col = col as usize;
            found = found.max(col + 1);
            if col < width {
                values[col] = Some(v);
            } else {
                extra.push((format!("column_{}", col + 1), v));
            }
            cell = match self.next_cell() {
                Ok(c) => c,
                Err(e) => return Some(Err(e)),
            };
        }
        stats.empty_rows_skipped += u64::from(row - self.last_data_row - 1);
        self.last_data_row = row;
        let mut problems = Vec::new();
        if !extra.is_empty() {
            problems.push(RowProblem::RaggedRow {
                expected: width,
                found,
            });
        }
        Some(Ok(Row {
            record: Record {
                table: self.table.name.clone(),
                row: u64::from(row) + 1,
                values,
            },
            extra,
            problems,
        }))
    }
}
