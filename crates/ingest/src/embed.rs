//! A local, deterministic text embedder with 1536 dimensions (the width of
//! `agent_learning_patterns.embedding`), for finding learned corrections of similar column
//! names. No model: feature hashing.
//!
//! Algorithm (changing any step changes every stored vector, so it is fixed):
//! 1. Normalise like header names: camelCase and punctuation split into lower-case words
//!    (`"ServerName"`, `"server_name"` and `"Server Name"` all give `server name`).
//! 2. Features: each word (weight 1.0), each character trigram of each word padded with `#`
//!    (`#se`, `ser`, ..., `er#`; weight 0.5), and each character trigram of all words joined
//!    without spaces (weight 0.5), so that `servername` and `server name` stay close.
//! 3. Each feature is hashed with 64-bit FNV-1a over a one-byte feature-type prefix and its
//!    UTF-8 bytes; dimension = hash mod 1536, sign = bit 63 (set: negative).
//! 4. The vector is L2-normalised; an empty text gives the zero vector.

use crate::mapping::heuristics;

/// Width of the embeddings.
pub const EMBEDDING_DIM: usize = 1536;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn add(v: &mut [f32], kind: u8, feature: &str, weight: f32) {
    let mut bytes = Vec::with_capacity(feature.len() + 1);
    bytes.push(kind);
    bytes.extend_from_slice(feature.as_bytes());
    let h = fnv1a(&bytes);
    let dim = (h % EMBEDDING_DIM as u64) as usize;
    let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
    v[dim] += sign * weight;
}

fn trigrams(v: &mut [f32], kind: u8, s: &str, weight: f32) {
    let chars: Vec<char> = s.chars().collect();
    let mut buf = String::new();
    for w in chars.windows(3) {
        buf.clear();
        buf.extend(w);
        add(v, kind, &buf, weight);
    }
}

/// The embedding of `text` (unit length, or all zeros for a text without words).
pub fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; EMBEDDING_DIM];
    let words = heuristics::normalize(text).words;
    for w in &words {
        add(&mut v, b'w', w, 1.0);
        trigrams(&mut v, b'c', &format!("#{w}#"), 0.5);
    }
    if !words.is_empty() {
        trigrams(&mut v, b'j', &format!("#{}#", words.concat()), 0.5);
    }
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
    v
}

/// Cosine similarity of two vectors of equal length (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// Similarity of two column names, clamped to 0..1; usable as
/// [`crate::mapping::Hints::similarity`].
pub fn name_similarity(a: &str, b: &str) -> f64 {
    cosine(&embed(a), &embed(b)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn spelling_variants_coincide() {
        assert_eq!(embed("Server Name"), embed("server_name"));
        assert!(name_similarity("Srv Name", "srv-name") > 0.999);
    }
}
