//! Local passwords: argon2id with the OWASP parameters (m = 19456 KiB, t = 2, p = 1), stored as
//! PHC strings, and the password policy.
//!
//! Hashing is deliberately slow and memory-hard; callers run it on the blocking thread pool
//! (`hash_blocking`, `verify_blocking`) so that it never stalls the async runtime.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 12;
/// Longest accepted password, in characters.
pub const MAX_LEN: usize = 256;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

/// Whether `password` matches the PHC string `phc`. A malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Verifies against a fixed dummy hash and returns `false`: used when there is no user (or no
/// password) to check, so that an unknown e-mail costs as much time as a wrong password.
pub fn verify_dummy(password: &str) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("dummy password, never matches anything"));
    let _ = verify(password, phc);
    false
}

/// `hash` on the blocking thread pool.
pub async fn hash_blocking(password: String) -> String {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .expect("password hashing does not panic")
}

/// `verify` (or `verify_dummy` without a hash) on the blocking thread pool.
pub async fn verify_blocking(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => verify_dummy(&password),
    })
    .await
    .expect("password verification does not panic")
}

/// The password policy: 12 to 256 characters, and not the account's e-mail address.
pub fn check_policy(password: &str, email: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(format!("must be at least {MIN_LEN} characters"));
    }
    if len > MAX_LEN {
        return Err(format!("must be at most {MAX_LEN} characters"));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err("must not be the e-mail address".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash("correct horse battery staple");
        let b = hash("correct horse battery staple");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapler", &a));
        assert!(!verify("anything", "not a hash"));
        assert!(!verify_dummy("dummy password, never matches anything"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("short", "a@b.io").is_err());
        assert!(check_policy(&"x".repeat(257), "a@b.io").is_err());
        assert!(check_policy("alice@example.com", "alice@example.com").is_err());
        assert!(check_policy("ALICE@example.com", "alice@example.com").is_err());
        assert!(check_policy("a long enough passphrase", "alice@example.com").is_ok());
        assert!(check_policy(&"é".repeat(12), "a@b.io").is_ok());
    }
}
