//! Text hygiene shared by every attribute: trimming, control characters, placeholders for
//! "no value", and length limits (truncation with a warning, never a rejected row).

/// Values that mean "no value" in exports (compared case-insensitively after trimming).
pub const NULL_PLACEHOLDERS: &[&str] = &[
    "-",
    "--",
    "?",
    "n/a",
    "na",
    "#n/a",
    "null",
    "(null)",
    "nil",
    "none",
    "(none)",
    "undefined",
    "unknown",
    "not available",
];

/// Trims, replaces control characters (tabs and line breaks included) with spaces and
/// collapses runs of white space. Returns `None` for an empty result or a "no value"
/// placeholder such as `N/A`, `null` or `-`.
pub fn clean(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        // U+FEFF (BOM, zero-width no-break space) and other invisible format characters.
        if matches!(
            c,
            '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}'
        ) {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    if out.is_empty() || is_placeholder(&out) {
        None
    } else {
        Some(out)
    }
}

/// Whether a (trimmed) value is a placeholder for "no value".
pub fn is_placeholder(value: &str) -> bool {
    NULL_PLACEHOLDERS
        .iter()
        .any(|p| p.eq_ignore_ascii_case(value))
}

/// Cuts `value` to at most `max_chars` characters (PostgreSQL `VARCHAR(n)` counts
/// characters). Returns the value and whether it was cut.
pub fn truncate(value: String, max_chars: usize) -> (String, bool) {
    match value.char_indices().nth(max_chars) {
        None => (value, false),
        Some((byte, _)) => {
            let mut v = value;
            v.truncate(byte);
            let trimmed_len = v.trim_end().len();
            v.truncate(trimmed_len);
            (v, true)
        }
    }
}

/// Splits a multi-valued cell ("a, b; c | d" or one per line) into its non-empty parts.
pub fn split_list(value: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in value.split([',', ';', '|', '\n', '\r']) {
        if let Some(p) = clean(part)
            && !parts.iter().any(|q| q.eq_ignore_ascii_case(&p))
        {
            parts.push(p);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_and_detects_placeholders() {
        assert_eq!(clean("  a\tb\r\n c \u{0} "), Some("a b c".into()));
        assert_eq!(clean("\u{feff}web01"), Some("web01".into()));
        assert_eq!(clean(" N/A "), None);
        assert_eq!(clean("   "), None);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), ("hé".into(), true));
        assert_eq!(truncate("abc".into(), 3), ("abc".into(), false));
        assert_eq!(truncate("ab cd".into(), 3), ("ab".into(), true));
    }

    #[test]
    fn splits_lists_without_duplicates() {
        assert_eq!(
            split_list("Java, Tomcat;java | Oracle"),
            vec!["Java", "Tomcat", "Oracle"]
        );
    }
}
