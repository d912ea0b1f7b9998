//! Sizes (memory, storage) to GB, and plain numbers.
//!
//! "GB" in this platform is 2^30 bytes. Inventory tools label binary units with decimal
//! names (RVTools' "MB" is MiB, Windows' "GB" is GiB), so MB/MiB, GB/GiB and TB/TiB are read
//! alike, 1024-based: a VM with "16384 MB" has 16 GB of memory. Bytes are divided by 2^30.

use serde::{Deserialize, Serialize};

/// A unit of size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SizeUnit {
    Bytes,
    Kb,
    Mb,
    Gb,
    Tb,
    Pb,
}

impl SizeUnit {
    /// How many GB one of this unit is.
    pub fn in_gb(self) -> f64 {
        match self {
            SizeUnit::Bytes => 1.0 / 1_073_741_824.0,
            SizeUnit::Kb => 1.0 / 1_048_576.0,
            SizeUnit::Mb => 1.0 / 1024.0,
            SizeUnit::Gb => 1.0,
            SizeUnit::Tb => 1024.0,
            SizeUnit::Pb => 1_048_576.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SizeUnit::Bytes => "bytes",
            SizeUnit::Kb => "KB",
            SizeUnit::Mb => "MB",
            SizeUnit::Gb => "GB",
            SizeUnit::Tb => "TB",
            SizeUnit::Pb => "PB",
        }
    }

    /// Reads a unit word (`MiB`, `gb`, `Bytes`, `TB`...), case-insensitively.
    pub fn parse(word: &str) -> Option<SizeUnit> {
        Some(match word.to_ascii_lowercase().as_str() {
            "b" | "byte" | "bytes" => SizeUnit::Bytes,
            "k" | "kb" | "kib" | "kbyte" | "kbytes" | "kilobyte" | "kilobytes" => SizeUnit::Kb,
            "m" | "mb" | "mib" | "mbyte" | "mbytes" | "megabyte" | "megabytes" => SizeUnit::Mb,
            "g" | "gb" | "gib" | "gbyte" | "gbytes" | "gigabyte" | "gigabytes" => SizeUnit::Gb,
            "t" | "tb" | "tib" | "tbyte" | "tbytes" | "terabyte" | "terabytes" => SizeUnit::Tb,
            "pb" | "pib" | "petabyte" | "petabytes" => SizeUnit::Pb,
            _ => return None,
        })
    }
}

/// Finds a size unit among a header's words (`RAM (GB)`, `Memory MB`, `SizeInGib` after
/// normalisation). Single-letter forms are not accepted in headers.
pub fn unit_in_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<SizeUnit> {
    words
        .into_iter()
        .filter(|w| w.len() > 1)
        .find_map(SizeUnit::parse)
}

/// Parses a plain number: `4`, `4.0`, `1,024`, `1 024`, `2,5` (decimal comma when it cannot be
/// a thousands separator). Returns `None` for anything else.
pub fn parse_number(raw: &str) -> Option<f64> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let mut cleaned = String::with_capacity(s.len());
    let commas = s.matches(',').count();
    let has_dot = s.contains('.');
    for (i, c) in s.char_indices() {
        match c {
            '0'..='9' | '.' => cleaned.push(c),
            '-' | '+' if i == 0 => cleaned.push(c),
            ' ' | '\u{a0}' | '\u{202f}' | '\'' | '_' => {}
            ',' => {
                // "1,024" / "1,024,000": thousands; "2,5": decimal comma.
                let rest = &s[i + 1..];
                let digits_after = rest.bytes().take_while(u8::is_ascii_digit).count();
                if commas == 1 && !has_dot && digits_after != 3 {
                    cleaned.push('.');
                }
            }
            _ => return None,
        }
    }
    let v: f64 = cleaned.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Splits `"16 GB"`, `"500GiB"`, `"1.5 TB"` into number and unit; a bare number has no unit.
pub fn parse_size(raw: &str) -> Option<(f64, Option<SizeUnit>)> {
    let s = raw.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value = parse_number(num)?;
    let unit = unit.trim();
    if unit.is_empty() {
        return Some((value, None));
    }
    Some((value, Some(SizeUnit::parse(unit)?)))
}

/// What a bare number in a size column most likely is, from its magnitude, when neither the
/// header nor the value says: used per column (on the median of sampled values) by the
/// mapping, and per value by cleansing as a last resort (with a `unit_assumed` warning).
pub fn guess_unit(value: f64, storage: bool) -> SizeUnit {
    if storage {
        if value >= 1e8 {
            SizeUnit::Bytes
        } else if value >= 20_000.0 {
            SizeUnit::Mb
        } else {
            SizeUnit::Gb
        }
    } else if value >= 1e7 {
        SizeUnit::Bytes
    } else if value >= 512.0 {
        SizeUnit::Mb
    } else {
        SizeUnit::Gb
    }
}

/// Rounds a GB amount to 3 decimals (1 MB precision).
pub fn to_gb(value: f64, unit: SizeUnit) -> f64 {
    (value * unit.in_gb() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("1,024"), Some(1024.0));
        assert_eq!(parse_number("2,5"), Some(2.5));
        assert_eq!(parse_number("1 048 576"), Some(1_048_576.0));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("many"), None);
        assert_eq!(parse_number("NaN"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16 GB"), Some((16.0, Some(SizeUnit::Gb))));
        assert_eq!(parse_size("500GiB"), Some((500.0, Some(SizeUnit::Gb))));
        assert_eq!(parse_size("2048"), Some((2048.0, None)));
        assert_eq!(parse_size("12 apples"), None);
        assert_eq!(to_gb(16384.0, SizeUnit::Mb), 16.0);
        assert_eq!(to_gb(1.5, SizeUnit::Tb), 1536.0);
    }
}
