//! TOTP second factor (RFC 6238): 30-second steps, 6 digits, HMAC-SHA1, one step of clock skew
//! either way. A code is accepted once: the caller records the matched step and refuses any
//! step not later than the last one used.

use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

/// Length of a step in seconds.
pub const STEP_SECS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Name shown by authenticator apps.
pub const ISSUER: &str = "Modernize";
/// Secret length in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

fn totp(secret: &[u8], account: &str) -> TOTP {
    // Unchecked: the account label may contain characters the checked constructor refuses
    // (it is URL-encoded in the otpauth URL); the parameters themselves are fixed and valid.
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(ISSUER.into()),
        account.replace(':', "_"),
    )
}

/// A fresh random secret.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_LEN];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The secret in base32 (no padding), as authenticator apps accept it for manual entry.
pub fn secret_base32(secret: &[u8]) -> String {
    totp(secret, "").get_secret_base32()
}

/// The `otpauth://` URL for QR codes.
pub fn otpauth_url(secret: &[u8], account: &str) -> String {
    totp(secret, account).get_url()
}

/// The code of `secret` at unix time `time`.
pub fn code_at(secret: &[u8], time: u64) -> String {
    totp(secret, "").generate(time)
}

/// Checks `code` at unix time `now`: the matching time step (current, previous or next), if
/// any. The caller must still check that the step has not been used before.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now / STEP_SECS;
    let t = totp(secret, "");
    let mut found = None;
    // Every candidate is computed and compared in constant time, whichever matches.
    for step in [current.saturating_sub(1), current, current + 1] {
        if constant_time_eq(t.generate(step * STEP_SECS).as_bytes(), code.as_bytes())
            && found.is_none()
        {
            found = Some(step);
        }
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Current unix time in seconds.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 appendix B, SHA1 secret "12345678901234567890", T = 59 → 94287082 (8 digits);
        // its last 6 digits are the 6-digit code.
        assert_eq!(code_at(b"12345678901234567890", 59), "287082");
    }

    #[test]
    fn accepts_one_step_of_skew_only() {
        let secret = generate_secret();
        let now = 1_700_000_000;
        let step = now / STEP_SECS;
        assert_eq!(
            matching_step(&secret, &code_at(&secret, now), now),
            Some(step)
        );
        assert_eq!(
            matching_step(&secret, &code_at(&secret, now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&secret, &code_at(&secret, now + 30), now),
            Some(step + 1)
        );
        let far = code_at(&secret, now - 90);
        if far != code_at(&secret, now - 30)
            && far != code_at(&secret, now)
            && far != code_at(&secret, now + 30)
        {
            assert_eq!(matching_step(&secret, &far, now), None);
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn url_and_secret() {
        let secret = generate_secret();
        let url = otpauth_url(&secret, "alice@example.com");
        assert!(
            url.starts_with("otpauth://totp/Modernize:alice%40example.com?"),
            "{url}"
        );
        assert!(url.contains(&format!("secret={}", secret_base32(&secret))));
        assert_eq!(secret_base32(&secret).len(), 32);
    }
}
