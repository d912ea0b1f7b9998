//! Recognising a source's format from its first bytes; the file name is only used to word the
//! error messages. A ZIP archive is taken as an XLSX workbook (confirmed when it is opened), a
//! text whose first character is `[` as a JSON array, `{` as NDJSON, any other text as CSV.
//! Known binary formats and text with many control characters are refused with a message that
//! says what the file looks like.

use super::encoding::{self, TextEncoding};
use crate::record::SourceError;

/// How many bytes are read to recognise the format.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// A source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    Xlsx,
    /// A JSON array of objects.
    Json,
    /// Newline-delimited JSON: one object per line.
    Ndjson,
}

impl Format {
    /// Stable name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }
}

/// Recognises the format from the first bytes of a non-empty source.
pub fn sniff(prefix: &[u8], name: &str) -> Result<Format, SourceError> {
    if prefix.starts_with(b"PK\x03\x04") {
        return Ok(Format::Xlsx);
    }
    if let Some(what) = binary_kind(prefix) {
        return Err(SourceError::UnsupportedFormat(format!(
            "{name} looks like {what}; expected CSV, XLSX, JSON or NDJSON"
        )));
    }
    let text_encoding = encoding::from_sample(prefix);
    let text = match text_encoding {
        Some(enc) => encoding::decode_sample(prefix, enc),
        None => String::from_utf8_lossy(prefix).into_owned(),
    };
    let text = text.trim_start_matches('\u{feff}');
    if text_encoding.is_none() || text_encoding == Some(TextEncoding::Utf8Bom) {
        let controls = text
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
            .count();
        let total = text.chars().count().max(1);
        if controls * 20 > total || text.contains('\0') {
            return Err(SourceError::UnsupportedFormat(format!(
                "{name} contains binary data, not text; expected CSV, XLSX, JSON or NDJSON"
            )));
        }
    }
    match text.trim_start().chars().next() {
        None => Err(SourceError::Empty),
        Some('[') => Ok(Format::Json),
        Some('{') => Ok(Format::Ndjson),
        Some(_) => Ok(Format::Csv),
    }
}

fn binary_kind(prefix: &[u8]) -> Option<&'static str> {
    const KINDS: &[(&[u8], &str)] = &[
        (b"PK\x05\x06", "an empty ZIP archive"),
        (b"PK\x07\x08", "a split ZIP archive"),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "a legacy Excel .xls (or password-protected) workbook; save it as .xlsx or CSV",
        ),
        (b"%PDF", "a PDF document"),
        (b"\x1F\x8B", "a gzip archive; decompress it first"),
        (b"7z\xBC\xAF\x27\x1C", "a 7-Zip archive"),
        (b"Rar!", "a RAR archive"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"SQLite format 3", "an SQLite database"),
    ];
    KINDS
        .iter()
        .find(|(magic, _)| prefix.starts_with(magic))
        .map(|(_, what)| *what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(sniff(b"PK\x03\x04rest", "a.csv").unwrap(), Format::Xlsx);
        assert_eq!(sniff(b"  [ {\"a\":1} ]", "a.txt").unwrap(), Format::Json);
        assert_eq!(
            sniff(b"{\"a\":1}\n{\"a\":2}\n", "a").unwrap(),
            Format::Ndjson
        );
        assert_eq!(sniff(b"name,ip\n", "a.xlsx").unwrap(), Format::Csv);
        assert_eq!(
            sniff(b"\xEF\xBB\xBF[{\"a\":1}]", "a").unwrap(),
            Format::Json
        );
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("[{}]".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(sniff(&utf16, "a").unwrap(), Format::Json);
    }

    #[test]
    fn binary_content_is_refused_clearly() {
        let e = sniff(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1....", "old.xls").unwrap_err();
        assert_eq!(e.code(), "unsupported_format");
        assert!(e.to_string().contains(".xls"), "{e}");
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(
            sniff(&garbage, "x").unwrap_err().code(),
            "unsupported_format"
        );
        assert_eq!(sniff(b" \n\t ", "x").unwrap_err(), SourceError::Empty);
    }
}
