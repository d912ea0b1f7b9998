//! Delimited text: encoding and delimiter detection, header row, streaming records.
//!
//! The stream goes reader → [`DecodingReader`] (UTF-8) → [`QuoteSpacing`] (drops the spaces in
//! `"a", "b"` between a delimiter and an opening quote, and between a closing quote and a
//! delimiter, so both fields read as quoted) → the `csv` crate in flexible mode (records may
//! have any number of fields; quoted fields may span lines).

use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom};

use super::encoding::{self, DecodingReader, TextEncoding};
use super::{ReadSeek, ReadStats, Row, RowProblem, TableInfo, cell, io_error, normalize_headers};
use crate::record::{Record, SourceError};

/// Candidate delimiters, in order of preference on a tie.
const DELIMITERS: &[u8] = b",;\t|";
/// Decoded bytes used to choose the delimiter.
const SAMPLE_BYTES: u64 = 64 * 1024;
/// Records of the sample considered.
const SAMPLE_RECORDS: usize = 200;

pub(crate) struct CsvInfo {
    pub encoding: TextEncoding,
    pub delimiter: u8,
    pub table: TableInfo,
}

/// Detects encoding and delimiter and reads the header row.
pub(crate) fn inspect(reader: &mut Box<dyn ReadSeek>, name: &str) -> Result<CsvInfo, SourceError> {
    let encoding = encoding::detect(reader).map_err(io_error)?;
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut sample = String::new();
    DecodingReader::new(reader.take(SAMPLE_BYTES), encoding)
        .read_to_string(&mut sample)
        .map_err(io_error)?;
    let truncated = sample.len() as u64 >= SAMPLE_BYTES;
    let delimiter = detect_delimiter(&sample, truncated);
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut rdr = csv_reader(reader, encoding, delimiter);
    let mut header = csv::ByteRecord::new();
    let mut found = false;
    let mut header_row = 1;
    while rdr.read_byte_record(&mut header).map_err(csv_error)? {
        header_row = rdr
            .get_mut()
            .records
            .pop_front()
            .map_or(header_row, |(l, _)| l);
        if header
            .iter()
            .any(|f| !String::from_utf8_lossy(f).trim().is_empty())
        {
            found = true;
            break;
        }
    }
    if !found {
        return Err(if sample.trim().is_empty() {
            SourceError::Empty
        } else {
            SourceError::NoHeader(name.to_string())
        });
    }
    let raw = header
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let (headers, header_problems) = normalize_headers(raw);
    Ok(CsvInfo {
        encoding,
        delimiter,
        table: TableInfo {
            name: name.to_string(),
            headers,
            header_row,
            header_problems,
        },
    })
}

/// Chooses the delimiter whose records most often have as many fields as the first record
/// (with at least two fields); ties go to the larger field count, then to the order
/// comma, semicolon, tab, pipe.
pub(crate) fn detect_delimiter(sample: &str, truncated: bool) -> u8 {
    let mut best = (b',', 0.0f64, 0usize);
    for &d in DELIMITERS {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(d)
            .from_reader(QuoteSpacing::new(sample.as_bytes(), d));
        let mut counts: Vec<usize> = Vec::new();
        let mut rec = csv::ByteRecord::new();
        while counts.len() < SAMPLE_RECORDS && rdr.read_byte_record(&mut rec).unwrap_or(false) {
            counts.push(rec.len());
        }
        if truncated && counts.len() > 1 {
            counts.pop(); // possibly cut by the sample
        }
        let Some(&first) = counts.first() else {
            continue;
        };
        if first < 2 {
            continue;
        }
        let same = counts.iter().filter(|&&c| c == first).count();
        let score = same as f64 / counts.len() as f64;
        if score > best.1 + 1e-9 || ((score - best.1).abs() <= 1e-9 && first > best.2) {
            best = (d, score, first);
        }
    }
    best.0
}

fn csv_reader<R: Read>(
    reader: R,
    encoding: TextEncoding,
    delimiter: u8,
) -> csv::Reader<QuoteSpacing<DecodingReader<R>>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(QuoteSpacing::new(
            DecodingReader::new(reader, encoding),
            delimiter,
        ))
}

fn csv_error(e: csv::Error) -> SourceError {
    match e.kind() {
        csv::ErrorKind::Io(io) => SourceError::Io(io.to_string()),
        _ => SourceError::Corrupt(e.to_string()),
    }
}

/// The data rows of a CSV table.
pub(crate) struct CsvRows<'a> {
    rdr: csv::Reader<QuoteSpacing<DecodingReader<&'a mut Box<dyn ReadSeek>>>>,
    table: TableInfo,
    record: csv::ByteRecord,
    repairs_seen: u64,
}

impl<'a> CsvRows<'a> {
    pub(crate) fn new(
        reader: &'a mut Box<dyn ReadSeek>,
        encoding: TextEncoding,
        delimiter: u8,
        table: TableInfo,
    ) -> Result<Self, SourceError> {
        reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let mut rdr = csv_reader(reader, encoding, delimiter);
        let mut record = csv::ByteRecord::new();
        // Skip up to and including the header row (the first record with a non-empty field).
        while rdr.read_byte_record(&mut record).map_err(csv_error)? {
            let start = rdr.get_mut().records.pop_front();
            if start.is_some_and(|(line, _)| line >= table.header_row) {
                break;
            }
        }
        Ok(CsvRows {
            rdr,
            table,
            record,
            repairs_seen: 0,
        })
    }

    pub(crate) fn next_row(&mut self, stats: &mut ReadStats) -> Option<Result<Row, SourceError>> {
        loop {
            match self.rdr.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.sync_repairs(stats);
                    return None;
                }
                Err(e) => return Some(Err(csv_error(e))),
            }
            self.sync_repairs(stats);
            // Lines with nothing at all are skipped by the parser; the filter counted them.
            let (line, blank_lines) = self.rdr.get_mut().records.pop_front().unwrap_or((0, 0));
            stats.empty_rows_skipped += blank_lines;
            let fields: Vec<Option<String>> = self
                .record
                .iter()
                .map(|f| cell(&String::from_utf8_lossy(f)))
                .collect();
            if fields.iter().all(Option::is_none) {
                stats.empty_rows_skipped += 1;
                continue;
            }
            return Some(Ok(self.to_row(line, fields)));
        }
    }

    fn sync_repairs(&mut self, stats: &mut ReadStats) {
        let total = self.rdr.get_ref().repairs;
        stats.quote_spacing_repairs += total - self.repairs_seen;
        self.repairs_seen = total;
    }

    fn to_row(&self, line: u64, mut fields: Vec<Option<String>>) -> Row {
        let expected = self.table.headers.len();
        let found = fields.len();
        let mut problems = Vec::new();
        let mut extra = Vec::new();
        if found != expected {
            problems.push(RowProblem::RaggedRow { expected, found });
            if found > expected {
                for (i, v) in fields.drain(expected..).enumerate() {
                    if let Some(v) = v {
                        extra.push((format!("column_{}", expected + i + 1), v));
                    }
                }
            } else {
                fields.resize(expected, None);
            }
        }
        Row {
            record: Record {
                table: self.table.name.clone(),
                row: line,
                values: fields,
            },
            extra,
            problems,
        }
    }
}

/// Drops spaces between a delimiter (or line start) and an opening quote, and between a
/// closing quote and a delimiter (or line end), tracking RFC 4180 quoting. Works on UTF-8
/// (only ASCII bytes are inspected).
pub(crate) struct QuoteSpacing<R> {
    inner: R,
    delimiter: u8,
    state: QState,
    pending_spaces: usize,
    input: Box<[u8]>,
    output: Vec<u8>,
    out_pos: usize,
    /// How many runs of spaces were dropped.
    pub repairs: u64,
    /// Start line and preceding blank lines of each record passed on and not yet claimed:
    /// the parser skips blank lines and its positions are unreliable with CRLF, so the lines
    /// are counted here, where every byte passes. Bounded by the parser's read-ahead.
    pub records: VecDeque<(u64, u64)>,
    line: u64,
    prev_cr: bool,
    at_record_start: bool,
    blank_lines: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum QState {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote seen inside a quoted field: an escaped quote or the closing one.
    QuoteInQuoted,
    /// After a closing quote, before the delimiter.
    AfterClose,
}

impl<R: Read> QuoteSpacing<R> {
    pub(crate) fn new(inner: R, delimiter: u8) -> Self {
        QuoteSpacing {
            inner,
            delimiter,
            state: QState::FieldStart,
            pending_spaces: 0,
            input: vec![0; 16 * 1024].into_boxed_slice(),
            output: Vec::with_capacity(16 * 1024),
            out_pos: 0,
            repairs: 0,
            records: VecDeque::new(),
            line: 1,
            prev_cr: false,
            at_record_start: true,
            blank_lines: 0,
        }
    }

    fn flush_spaces(&mut self) {
        self.output
            .extend(std::iter::repeat_n(b' ', self.pending_spaces));
        self.pending_spaces = 0;
    }

    fn drop_spaces(&mut self) {
        if self.pending_spaces > 0 {
            self.repairs += 1;
            self.pending_spaces = 0;
        }
    }

    /// Tracks lines and record starts (terminators are CR, LF or CRLF outside quotes).
    fn track(&mut self, b: u8) {
        let terminator = b == b'\r' || b == b'\n';
        if self.state != QState::Quoted {
            if terminator {
                if !self.at_record_start {
                    self.at_record_start = true;
                } else if !(b == b'\n' && self.prev_cr) {
                    self.blank_lines += 1;
                }
            } else if self.at_record_start {
                self.records.push_back((self.line, self.blank_lines));
                self.blank_lines = 0;
                self.at_record_start = false;
            }
        }
        if b == b'\r' || (b == b'\n' && !self.prev_cr) {
            self.line += 1;
        }
        self.prev_cr = b == b'\r';
    }

    fn process(&mut self, b: u8) {
        self.track(b);
        let d = self.delimiter;
        let is_space = b == b' ' && d != b' ';
        let is_end = b == d || b == b'\n' || b == b'\r';
        match self.state {
            QState::FieldStart => {
                if is_space {
                    self.pending_spaces += 1;
                    return;
                }
                if b == b'"' {
                    self.drop_spaces();
                    self.state = QState::Quoted;
                } else {
                    self.flush_spaces();
                    self.state = if is_end {
                        QState::FieldStart
                    } else {
                        QState::Unquoted
                    };
                }
            }
            QState::Unquoted => {
                if is_end {
                    self.state = QState::FieldStart;
                }
            }
            QState::Quoted => {
                if b == b'"' {
                    self.state = QState::QuoteInQuoted;
                }
            }
            QState::QuoteInQuoted => {
                if b == b'"' {
                    self.state = QState::Quoted;
                } else if is_space {
                    self.state = QState::AfterClose;
                    self.pending_spaces += 1;
                    return;
                } else if is_end {
                    self.state = QState::FieldStart;
                } else {
                    self.state = QState::Unquoted;
                }
            }
            QState::AfterClose => {
                if is_space {
                    self.pending_spaces += 1;
                    return;
                }
                if is_end {
                    self.drop_spaces();
                    self.state = QState::FieldStart;
                } else {
                    self.flush_spaces();
                    self.state = QState::Unquoted;
                }
            }
        }
        self.output.push(b);
    }
}

impl<R: Read> Read for QuoteSpacing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.output.len() {
            self.output.clear();
            self.out_pos = 0;
            let n = loop {
                match self.inner.read(&mut self.input) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                self.flush_spaces();
                if self.output.is_empty() {
                    return Ok(0);
                }
                break;
            }
            for i in 0..n {
                let b = self.input[i];
                self.process(b);
            }
        }
        let n = buf.len().min(self.output.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.output[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtered(s: &str) -> String {
        let mut out = String::new();
        QuoteSpacing::new(s.as_bytes(), b',')
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn spaces_around_quoted_fields_are_dropped() {
        assert_eq!(filtered("a,\"b\", \"c, d\"\n"), "a,\"b\",\"c, d\"\n");
        assert_eq!(filtered("\"x\"  ,y\n"), "\"x\",y\n");
        assert_eq!(
            filtered("a b, c ,\"q \"\"z\"\" \" \n"),
            "a b, c ,\"q \"\"z\"\" \"\n"
        );
        assert_eq!(filtered("\"a\" b,c"), "\"a\" b,c");
    }

    #[test]
    fn delimiters_are_detected() {
        assert_eq!(detect_delimiter("a,b,c\n1,2,3\n", false), b',');
        assert_eq!(detect_delimiter("a;b;c\n1,5;2,5;x\n", false), b';');
        assert_eq!(detect_delimiter("a\tb\n1\t2\n", false), b'\t');
        assert_eq!(detect_delimiter("a|b|c\n1|2|3\n", false), b'|');
        assert_eq!(detect_delimiter("name\nx\n", false), b',');
        assert_eq!(
            detect_delimiter("n;d\n\"x, y\";\"a; b\"\nz;w\n", false),
            b';'
        );
    }
}
