//! Keyset pagination: `?limit=` and an opaque `?after=` cursor.
//!
//! A cursor is the sort key of the last row of a page, serialised as JSON and base64url-encoded.
//! Clients must treat it as opaque; a cursor that does not decode is a `validation_failed` on
//! the field `after`.

use crate::validate::Checks;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// Encodes the sort key of the last row of a page.
pub fn encode<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// Decodes `after`; records a field error when it is not a cursor of this listing.
pub fn decode<T: DeserializeOwned>(c: &mut Checks, after: Option<&str>) -> Option<T> {
    let after = after?;
    let decoded = URL_SAFE_NO_PAD
        .decode(after)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if decoded.is_none() {
        c.fail("after", "is not a valid cursor");
    }
    decoded
}

/// The page size: 1..=200, 50 when absent.
pub fn limit(c: &mut Checks, value: Option<&str>) -> i64 {
    match value {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                c.fail(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                );
                DEFAULT_LIMIT
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let mut c = Checks::new();
        let cursor = encode(&("a@example.com", 3));
        let back: Option<(String, i32)> = decode(&mut c, Some(&cursor));
        assert_eq!(back, Some(("a@example.com".into(), 3)));
        assert!(c.finish().is_ok());
        let mut c = Checks::new();
        let bad: Option<(String, i32)> = decode(&mut c, Some("!!!"));
        assert!(bad.is_none());
        assert!(c.finish().is_err());
        let mut c = Checks::new();
        assert_eq!(limit(&mut c, None), 50);
        assert_eq!(limit(&mut c, Some("200")), 200);
        assert!(c.finish().is_ok());
        let mut c = Checks::new();
        limit(&mut c, Some("0"));
        limit(&mut c, Some("x"));
        assert!(c.finish().is_err());
    }
}
