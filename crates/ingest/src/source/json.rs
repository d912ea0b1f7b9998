//! JSON sources: an array of objects, or NDJSON (one object per line), read as a stream.
//!
//! An array is cut into elements by a small scanner (brackets, strings, escapes) so that only
//! one element is in memory at a time; each element is then parsed with serde_json. The header
//! set is the union of the keys of the first [`Limits::json_header_sample`] objects, in
//! first-seen order; keys first seen later are reported on their row. Nested values are kept
//! as JSON text. A malformed NDJSON line or array element is a row problem; an array that ends
//! before its closing bracket is [`SourceError::Corrupt`] at that point.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::encoding::{self, DecodingReader, TextEncoding};
use super::{
    Limits, ReadSeek, ReadStats, Row, RowProblem, TableInfo, cell, io_error, normalize_headers,
};
use crate::record::{Record, SourceError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonKind {
    Array,
    Lines,
}

/// What reading the rows again needs besides the table.
#[derive(Debug, Clone)]
pub(crate) struct JsonMeta {
    pub kind: JsonKind,
    pub max_record_bytes: usize,
    /// The keys as found, aligned with the (normalised) headers.
    pub raw_keys: Vec<String>,
}

/// Detects the encoding and establishes the header set from a sample of objects.
pub(crate) fn inspect(
    reader: &mut Box<dyn ReadSeek>,
    name: &str,
    kind: JsonKind,
    limits: &Limits,
) -> Result<(TextEncoding, TableInfo, JsonMeta), SourceError> {
    let encoding = encoding::detect(reader).map_err(io_error)?;
    reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut elements = Elements::new(reader, encoding, kind, limits.max_record_bytes)?;
    let mut raw_keys: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut objects = 0;
    while objects < limits.json_header_sample {
        match elements.next_element() {
            Ok(Some((_, Ok(bytes)))) => {
                if let Ok(obj) = serde_json::from_slice::<OrderedObject>(&bytes) {
                    objects += 1;
                    for (k, _) in obj.0 {
                        if seen.insert(k.clone()) {
                            raw_keys.push(k);
                        }
                    }
                }
            }
            Ok(Some((_, Err(_)))) => {}
            Ok(None) => break,
            Err(e) if raw_keys.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    let (headers, header_problems) = normalize_headers(raw_keys.clone());
    let table = TableInfo {
        name: name.to_string(),
        headers,
        header_row: 0,
        header_problems,
    };
    let meta = JsonMeta {
        kind,
        max_record_bytes: limits.max_record_bytes,
        raw_keys,
    };
    Ok((encoding, table, meta))
}

/// A JSON object with its keys in document order.
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(OrderedObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Cuts a decoded stream into array elements or lines, one at a time.
struct Elements<R: Read> {
    input: BufReader<DecodingReader<R>>,
    kind: JsonKind,
    max: usize,
    /// Elements (array) or lines (NDJSON) consumed so far.
    index: u64,
    done: bool,
    blank_lines: u64,
}

type Element = (u64, Result<Vec<u8>, String>);

impl<R: Read> Elements<R> {
    fn new(
        reader: R,
        encoding: TextEncoding,
        kind: JsonKind,
        max: usize,
    ) -> Result<Self, SourceError> {
        let mut e = Elements {
            input: BufReader::new(DecodingReader::new(reader, encoding)),
            kind,
            max,
            index: 0,
            done: false,
            blank_lines: 0,
        };
        if kind == JsonKind::Array {
            e.skip_ws()?;
            if e.bump()? != Some(b'[') {
                return Err(SourceError::UnsupportedFormat(
                    "JSON that is not an array of objects".into(),
                ));
            }
        }
        Ok(e)
    }

    fn peek(&mut self) -> Result<Option<u8>, SourceError> {
        Ok(self.input.fill_buf().map_err(io_error)?.first().copied())
    }

    fn bump(&mut self) -> Result<Option<u8>, SourceError> {
        let b = self.peek()?;
        if b.is_some() {
            self.input.consume(1);
        }
        Ok(b)
    }

    fn skip_ws(&mut self) -> Result<(), SourceError> {
        while let Some(b) = self.peek()? {
            if !b.is_ascii_whitespace() {
                break;
            }
            self.input.consume(1);
        }
        Ok(())
    }

    /// The next element (its 1-based number and its bytes, or why it is unusable).
    fn next_element(&mut self) -> Result<Option<Element>, SourceError> {
        if self.done {
            return Ok(None);
        }
        match self.kind {
            JsonKind::Lines => self.next_line(),
            JsonKind::Array => self.next_array_element(),
        }
    }

    fn next_line(&mut self) -> Result<Option<Element>, SourceError> {
        loop {
            let mut line = Vec::new();
            let mut too_long = false;
            let mut any = false;
            loop {
                let buf = self.input.fill_buf().map_err(io_error)?;
                if buf.is_empty() {
                    break;
                }
                any = true;
                let (chunk, newline) = match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => (&buf[..i], true),
                    None => (buf, false),
                };
                if line.len() + chunk.len() > self.max {
                    too_long = true;
                } else {
                    line.extend_from_slice(chunk);
                }
                let used = chunk.len() + usize::from(newline);
                self.input.consume(used);
                if newline {
                    break;
                }
            }
            if !any {
                self.done = true;
                return Ok(None);
            }
            self.index += 1;
            if too_long {
                return Ok(Some((
                    self.index,
                    Err(format!("line longer than {} bytes", self.max)),
                )));
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                self.blank_lines += 1;
                continue;
            }
            return Ok(Some((self.index, Ok(line))));
        }
    }

    fn next_array_element(&mut self) -> Result<Option<Element>, SourceError> {
        self.skip_ws()?;
        let n = self.index;
        if n > 0 {
            match self.bump()? {
                Some(b']') => {
                    self.done = true;
                    return Ok(None);
                }
                Some(b',') => self.skip_ws()?,
                Some(other) => {
                    return Err(SourceError::Corrupt(format!(
                        "expected ',' or ']' after element {n} of the JSON array, found {:?}",
                        char::from(other)
                    )));
                }
                None => return Err(unclosed(n)),
            }
        }
        match self.peek()? {
            None => return Err(unclosed(n)),
            Some(b']') => {
                self.input.consume(1);
                self.done = true;
                return Ok(None);
            }
            Some(_) => {}
        }
        self.index += 1;
        let mut out = Vec::new();
        let mut too_long = false;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek()? else {
                if depth == 0 && !in_string && !out.is_empty() {
                    break;
                }
                return Err(SourceError::Corrupt(format!(
                    "the JSON array ends in the middle of element {} (row {}); the rest of the file is missing",
                    self.index, self.index
                )));
            };
            if !in_string
                && depth == 0
                && (b == b',' || b == b']' || b.is_ascii_whitespace())
                && !out.is_empty()
            {
                break;
            }
            self.input.consume(1);
            if out.len() < self.max {
                out.push(b);
            } else {
                too_long = true;
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        break;
                    }
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                if depth == 0 && matches!(b, b'}' | b']') {
                    break;
                }
            }
        }
        if too_long {
            return Ok(Some((
                self.index,
                Err(format!("element longer than {} bytes", self.max)),
            )));
        }
        Ok(Some((self.index, Ok(out))))
    }
}

fn unclosed(n: u64) -> SourceError {
    SourceError::Corrupt(format!(
        "the JSON array is not closed after element {n} (row {n}); the rest of the file is missing"
    ))
}

/// The rows of a JSON source.
pub(crate) struct JsonRows<'a> {
    elements: Elements<&'a mut Box<dyn ReadSeek>>,
    table: TableInfo,
    index: HashMap<String, usize>,
    blank_lines_seen: u64,
}

impl<'a> JsonRows<'a> {
    pub(crate) fn new(
        reader: &'a mut Box<dyn ReadSeek>,
        encoding: TextEncoding,
        meta: &JsonMeta,
        table: TableInfo,
    ) -> Result<Self, SourceError> {
        reader.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let elements = Elements::new(reader, encoding, meta.kind, meta.max_record_bytes)?;
        let index = meta
            .raw_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        Ok(JsonRows {
            elements,
            table,
            index,
            blank_lines_seen: 0,
        })
    }

    pub(crate) fn next_row(&mut self, stats: &mut ReadStats) -> Option<Result<Row, SourceError>> {
        let next = self.elements.next_element();
        let blank = self.elements.blank_lines;
        if let Some(n) = blank.checked_sub(self.blank_lines_seen)
            && next.as_ref().is_ok_and(|e| e.is_some())
        {
            stats.empty_rows_skipped += n;
            self.blank_lines_seen = blank;
        }
        let (n, element) = match next {
            Ok(Some(e)) => e,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let mut values = vec![None; self.table.headers.len()];
        let mut extra = Vec::new();
        let mut problems = Vec::new();
        let parsed = element.and_then(|bytes| {
            serde_json::from_slice::<OrderedObject>(&bytes).map_err(|e| e.to_string())
        });
        match parsed {
            Ok(obj) => {
                let mut unexpected = Vec::new();
                for (k, v) in obj.0 {
                    let text = to_text(v);
                    match self.index.get(&k) {
                        Some(&i) => values[i] = text,
                        None => {
                            if let Some(t) = text {
                                extra.push((k.clone(), t));
                            }
                            unexpected.push(k);
                        }
                    }
                }
                if !unexpected.is_empty() {
                    problems.push(RowProblem::UnexpectedFields { names: unexpected });
                }
            }
            Err(message) => problems.push(RowProblem::MalformedRow { message }),
        }
        Some(Ok(Row {
            record: Record {
                table: self.table.name.clone(),
                row: n,
                values,
            },
            extra,
            problems,
        }))
    }
}

fn to_text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => cell(&s),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(s: &str, kind: JsonKind) -> Vec<Result<Option<Element>, SourceError>> {
        let mut e = Elements::new(s.as_bytes(), TextEncoding::Utf8, kind, 1 << 20).unwrap();
        let mut out = Vec::new();
        loop {
            let r = e.next_element();
            let stop = !matches!(r, Ok(Some(_)));
            out.push(r);
            if stop {
                return out;
            }
        }
    }

    #[test]
    fn array_elements_are_cut_with_strings_and_nesting() {
        let r = elements(
            r#" [ {"a":"x]}\"","b":[1,{"c":2}]} , {"a":1} ] "#,
            JsonKind::Array,
        );
        assert_eq!(r.len(), 3);
        let Ok(Some((1, Ok(first)))) = &r[0] else {
            panic!("{r:?}")
        };
        assert_eq!(
            std::str::from_utf8(first).unwrap(),
            r#"{"a":"x]}\"","b":[1,{"c":2}]}"#
        );
        assert!(matches!(r[2], Ok(None)));
    }

    #[test]
    fn truncated_array_is_corrupt_with_row() {
        let r = elements(r#"[{"a":1},{"a":2"#, JsonKind::Array);
        let Err(SourceError::Corrupt(m)) = &r[1] else {
            panic!("{r:?}")
        };
        assert!(m.contains("element 2"), "{m}");
    }

    #[test]
    fn ordered_objects_keep_key_order() {
        let o: OrderedObject = serde_json::from_str(r#"{"z":1,"a":{"k":[1]},"m":null}"#).unwrap();
        let keys: Vec<_> = o.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(to_text(o.0[1].1.clone()).unwrap(), r#"{"k":[1]}"#);
    }
}
