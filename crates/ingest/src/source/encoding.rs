//! Text encodings of CSV and JSON sources: detection, and a streaming decoder to UTF-8.
//!
//! Detection order: a byte-order mark (UTF-8, UTF-16 LE, UTF-16 BE); else UTF-16 without a BOM
//! when the sample has the NUL pattern of ASCII text in UTF-16; else UTF-8 when the *whole*
//! stream is valid UTF-8 (checked in one streaming pass, so a stray byte at the end of a large
//! file is not missed); else Windows-1252 (the superset of Latin-1 that spreadsheet exports on
//! Windows produce).

use std::io::{self, Read};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// A detected text encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// UTF-8 with a byte-order mark (removed when decoding).
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    /// Windows-1252, used for any text that is not valid UTF-8 (covers ISO-8859-1).
    Windows1252,
}

impl TextEncoding {
    /// Stable name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
            TextEncoding::Windows1252 => "windows-1252",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => UTF_8,
            TextEncoding::Utf16Le => UTF_16LE,
            TextEncoding::Utf16Be => UTF_16BE,
            TextEncoding::Windows1252 => WINDOWS_1252,
        }
    }

    /// A decoder that removes this encoding's BOM if present.
    fn decoder(self) -> Decoder {
        self.encoding().new_decoder_with_bom_removal()
    }
}

/// Recognises the encoding from a sample alone when it can: a BOM, or the NUL pattern of UTF-16.
/// `None` means "UTF-8 or a single-byte encoding", to be settled by [`detect`].
pub fn from_sample(sample: &[u8]) -> Option<TextEncoding> {
    if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Some(TextEncoding::Utf8Bom);
    }
    if sample.starts_with(&[0xFF, 0xFE]) {
        return Some(TextEncoding::Utf16Le);
    }
    if sample.starts_with(&[0xFE, 0xFF]) {
        return Some(TextEncoding::Utf16Be);
    }
    let pairs = sample.len() / 2;
    if pairs >= 2 {
        let even_zero = sample.iter().step_by(2).filter(|b| **b == 0).count();
        let odd_zero = sample
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|b| **b == 0)
            .count();
        // ASCII text in UTF-16: every other byte is NUL.
        if odd_zero * 10 >= pairs * 4 && even_zero * 20 < pairs {
            return Some(TextEncoding::Utf16Le);
        }
        if even_zero * 10 >= pairs * 4 && odd_zero * 20 < pairs {
            return Some(TextEncoding::Utf16Be);
        }
    }
    None
}

/// Detects the encoding of a whole stream (reads it to the end; the caller rewinds).
pub fn detect<R: Read + ?Sized>(reader: &mut R) -> io::Result<TextEncoding> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0usize;
    let mut first = true;
    loop {
        let n = read_full(reader, &mut buf[carry..])?;
        let end = carry + n;
        if first {
            first = false;
            if let Some(enc) = from_sample(&buf[..end]) {
                return Ok(enc);
            }
        }
        if end == 0 {
            return Ok(TextEncoding::Utf8);
        }
        match std::str::from_utf8(&buf[..end]) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_none() && n > 0 => {
                // An incomplete sequence at the end of the chunk: carry it over.
                let valid = e.valid_up_to();
                buf.copy_within(valid..end, 0);
                carry = end - valid;
            }
            Err(_) => return Ok(TextEncoding::Windows1252),
        }
        if n == 0 {
            return Ok(TextEncoding::Utf8);
        }
    }
}

fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match reader.read(&mut buf[total..]) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Decodes a sample to text (lossy), for sniffing.
pub fn decode_sample(sample: &[u8], encoding: TextEncoding) -> String {
    let mut decoder = encoding.decoder();
    let mut out = String::with_capacity(sample.len() + 16);
    out.reserve(
        decoder
            .max_utf8_buffer_length(sample.len())
            .unwrap_or(sample.len() * 3),
    );
    let _ = decoder.decode_to_string(sample, &mut out, false);
    out
}

/// A reader that decodes a byte stream of a known encoding into UTF-8 (invalid sequences
/// become U+FFFD), in bounded memory.
pub struct DecodingReader<R> {
    inner: R,
    decoder: Decoder,
    input: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    eof: bool,
    finished: bool,
    output: Box<[u8]>,
    out_start: usize,
    out_end: usize,
}

impl<R> std::fmt::Debug for DecodingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodingReader")
            .field("encoding", &self.decoder.encoding().name())
            .finish()
    }
}

impl<R: Read> DecodingReader<R> {
    pub fn new(inner: R, encoding: TextEncoding) -> Self {
        DecodingReader {
            inner,
            decoder: encoding.decoder(),
            input: vec![0; 32 * 1024].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            eof: false,
            finished: false,
            output: vec![0; 64 * 1024].into_boxed_slice(),
            out_start: 0,
            out_end: 0,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        while self.out_start == self.out_end && !self.finished {
            if self.in_start == self.in_end && !self.eof {
                self.in_start = 0;
                self.in_end = 0;
                loop {
                    match self.inner.read(&mut self.input) {
                        Ok(0) => self.eof = true,
                        Ok(n) => self.in_end = n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                    break;
                }
            }
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.input[self.in_start..self.in_end],
                &mut self.output,
                self.eof,
            );
            self.in_start += read;
            self.out_start = 0;
            self.out_end = written;
            if self.eof && result == CoderResult::InputEmpty && self.in_start == self.in_end {
                self.finished = true;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fill()?;
        let n = buf.len().min(self.out_end - self.out_start);
        buf[..n].copy_from_slice(&self.output[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], enc: TextEncoding) -> String {
        let mut s = String::new();
        DecodingReader::new(bytes, enc)
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn boms_are_recognised_and_removed() {
        let utf8 = b"\xEF\xBB\xBFa,b\n";
        assert_eq!(detect(&mut &utf8[..]).unwrap(), TextEncoding::Utf8Bom);
        assert_eq!(decode_all(utf8, TextEncoding::Utf8Bom), "a,b\n");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("é,b\n".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(detect(&mut &le[..]).unwrap(), TextEncoding::Utf16Le);
        assert_eq!(decode_all(&le, TextEncoding::Utf16Le), "é,b\n");
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("x;y\n".encode_utf16().flat_map(|u| u.to_be_bytes()))
            .collect();
        assert_eq!(detect(&mut &be[..]).unwrap(), TextEncoding::Utf16Be);
        assert_eq!(decode_all(&be, TextEncoding::Utf16Be), "x;y\n");
    }

    #[test]
    fn utf16_without_bom_is_recognised() {
        let le: Vec<u8> = "name,ip\nweb01,10.0.0.1\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(detect(&mut &le[..]).unwrap(), TextEncoding::Utf16Le);
    }

    #[test]
    fn invalid_utf8_late_in_the_stream_means_windows_1252() {
        let mut bytes = "a,b\n".repeat(50_000).into_bytes();
        bytes.extend_from_slice(b"caf\xE9,x\n");
        assert_eq!(detect(&mut &bytes[..]).unwrap(), TextEncoding::Windows1252);
        assert!(decode_all(&bytes, TextEncoding::Windows1252).ends_with("café,x\n"));
    }

    #[test]
    fn multibyte_sequences_across_chunks_stay_utf8() {
        let text = "é".repeat(100_000);
        assert_eq!(detect(&mut text.as_bytes()).unwrap(), TextEncoding::Utf8);
        assert_eq!(decode_all(text.as_bytes(), TextEncoding::Utf8), text);
    }
}
