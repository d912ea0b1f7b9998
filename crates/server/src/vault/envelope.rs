//! Envelope encryption with AES-256-GCM.
//!
//! Every secret gets a fresh random data key; the secret is encrypted with the data key, and the
//! data key is encrypted ("wrapped") with a master key named by an id. Rotation re-wraps the data
//! key under a new master key without touching the secret's ciphertext. Associated data binds a
//! sealed blob to the record it belongs to (e.g. the credential's id), so a blob copied into
//! another row does not open.
//!
//! Blob layout (version 1):
//! `0x01 | wrap nonce (12) | wrapped data key (32 + 16 tag) | data nonce (12) | ciphertext + tag`

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;
use std::collections::BTreeMap;

const VERSION: u8 = 1;
const NONCE: usize = 12;
const WRAPPED_KEY: usize = 32 + 16;
const HEADER: usize = 1 + NONCE + WRAPPED_KEY + NONCE;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("no master key with id {0:?} is configured")]
    UnknownKey(String),
    #[error("the sealed secret is malformed or was not sealed for this record")]
    Corrupt,
    #[error("invalid master key {0:?}: a master key is 32 bytes, base64-encoded")]
    BadKey(String),
    #[error("no master key is configured")]
    NoKeys,
}

/// A sealed secret and the id of the master key that wraps its data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub blob: Vec<u8>,
}

/// Master keys by id, and the one new secrets are sealed with.
#[derive(Clone)]
pub struct Keyring {
    active: String,
    keys: BTreeMap<String, Key<Aes256Gcm>>,
}

impl std::fmt::Debug for Keyring {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Builds a keyring from base64-encoded 32-byte keys; `active` must be one of them.
    pub fn new(active: &str, keys: &BTreeMap<String, String>) -> Result<Self, VaultError> {
        use base64::Engine;
        let mut parsed = BTreeMap::new();
        for (id, encoded) in keys {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| VaultError::BadKey(id.clone()))?;
            if bytes.len() != 32 {
                return Err(VaultError::BadKey(id.clone()));
            }
            parsed.insert(id.clone(), *Key::<Aes256Gcm>::from_slice(&bytes));
        }
        if parsed.is_empty() {
            return Err(VaultError::NoKeys);
        }
        if !parsed.contains_key(active) {
            return Err(VaultError::UnknownKey(active.into()));
        }
        Ok(Keyring {
            active: active.into(),
            keys: parsed,
        })
    }

    /// A new random master key, base64-encoded (for key files and configuration).
    pub fn generate_key() -> String {
        use base64::Engine;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The id new secrets are sealed with.
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Encrypts `plaintext` for the record described by `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        let mut data_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut data_key);
        let (wrap_nonce, wrapped) = self
            .wrap(&self.active, &data_key, aad)
            .expect("active key exists");
        let data_nonce = random_nonce();
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&data_key));
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&data_nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of a bounded message cannot fail");
        data_key.fill(0);
        let mut blob = Vec::with_capacity(HEADER + ciphertext.len());
        blob.push(VERSION);
        blob.extend_from_slice(&wrap_nonce);
        blob.extend_from_slice(&wrapped);
        blob.extend_from_slice(&data_nonce);
        blob.extend_from_slice(&ciphertext);
        Sealed {
            key_id: self.active.clone(),
            blob,
        }
    }

    /// Decrypts a sealed secret of the record described by `aad`.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, VaultError> {
        let (mut data_key, rest) = self.unwrap_key(sealed, aad)?;
        let (data_nonce, ciphertext) = rest.split_at(NONCE);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&data_key));
        let plain = cipher
            .decrypt(
                Nonce::from_slice(data_nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| VaultError::Corrupt);
        data_key.fill(0);
        plain
    }

    /// Re-wraps the data key under the active master key; the secret's ciphertext is unchanged.
    pub fn rewrap(&self, sealed: &Sealed, aad: &[u8]) -> Result<Sealed, VaultError> {
        let (mut data_key, rest) = self.unwrap_key(sealed, aad)?;
        let (wrap_nonce, wrapped) = self.wrap(&self.active, &data_key, aad)?;
        data_key.fill(0);
        let mut blob = Vec::with_capacity(sealed.blob.len());
        blob.push(VERSION);
        blob.extend_from_slice(&wrap_nonce);
        blob.extend_from_slice(&wrapped);
        blob.extend_from_slice(rest);
        Ok(Sealed {
            key_id: self.active.clone(),
            blob,
        })
    }

    fn wrap(
        &self,
        key_id: &str,
        data_key: &[u8; 32],
        aad: &[u8],
    ) -> Result<([u8; NONCE], Vec<u8>), VaultError> {
        let master = self
            .keys
            .get(key_id)
            .ok_or_else(|| VaultError::UnknownKey(key_id.into()))?;
        let nonce = random_nonce();
        let wrapped = Aes256Gcm::new(master)
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: data_key, aad })
            .expect("AES-GCM encryption of a 32-byte key cannot fail");
        Ok((nonce, wrapped))
    }

    /// The data key and the remainder of the blob (data nonce + ciphertext).
    fn unwrap_key<'a>(
        &self,
        sealed: &'a Sealed,
        aad: &[u8],
    ) -> Result<([u8; 32], &'a [u8]), VaultError> {
        let blob = &sealed.blob;
        if blob.len() < HEADER + 16 || blob[0] != VERSION {
            return Err(VaultError::Corrupt);
        }
        let master = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        let wrap_nonce = &blob[1..1 + NONCE];
        let wrapped = &blob[1 + NONCE..1 + NONCE + WRAPPED_KEY];
        let key = Aes256Gcm::new(master)
            .decrypt(Nonce::from_slice(wrap_nonce), Payload { msg: wrapped, aad })
            .map_err(|_| VaultError::Corrupt)?;
        let mut data_key = [0u8; 32];
        data_key.copy_from_slice(&key);
        Ok((data_key, &blob[1 + NONCE + WRAPPED_KEY..]))
    }
}

fn random_nonce() -> [u8; NONCE] {
    let mut nonce = [0u8; NONCE];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(active: &str, ids: &[(&str, &str)]) -> Keyring {
        let keys = ids
            .iter()
            .map(|(i, k)| (i.to_string(), k.to_string()))
            .collect();
        Keyring::new(active, &keys).unwrap()
    }

    #[test]
    fn seals_opens_and_rewraps() {
        let k1 = Keyring::generate_key();
        let k2 = Keyring::generate_key();
        let old = ring("k1", &[("k1", &k1)]);
        let sealed = old.seal(b"s3cret-password", b"credential:1");
        assert_eq!(sealed.key_id, "k1");
        assert!(
            !sealed.blob.windows(6).any(|w| w == b"s3cret"),
            "no plaintext in the blob"
        );
        assert_eq!(
            old.open(&sealed, b"credential:1").unwrap(),
            b"s3cret-password"
        );
        // Bound to its record.
        assert_eq!(old.open(&sealed, b"credential:2"), Err(VaultError::Corrupt));

        let both = ring("k2", &[("k1", &k1), ("k2", &k2)]);
        let rotated = both.rewrap(&sealed, b"credential:1").unwrap();
        assert_eq!(rotated.key_id, "k2");
        assert_eq!(
            &rotated.blob[HEADER..],
            &sealed.blob[HEADER..],
            "ciphertext untouched"
        );
        let only_new = ring("k2", &[("k2", &k2)]);
        assert_eq!(
            only_new.open(&rotated, b"credential:1").unwrap(),
            b"s3cret-password"
        );
        assert_eq!(
            only_new.open(&sealed, b"credential:1"),
            Err(VaultError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn refuses_bad_keys_and_tampering() {
        let keys = [("k".to_string(), "short".to_string())]
            .into_iter()
            .collect();
        assert_eq!(
            Keyring::new("k", &keys).unwrap_err(),
            VaultError::BadKey("k".into())
        );
        let k = Keyring::generate_key();
        assert!(matches!(ring("k", &[("k", &k)]), r if r.active_key_id() == "k"));
        let keys = [("k".to_string(), k.clone())].into_iter().collect();
        assert_eq!(
            Keyring::new("other", &keys).unwrap_err(),
            VaultError::UnknownKey("other".into())
        );
        let r = ring("k", &[("k", &k)]);
        let mut sealed = r.seal(b"x", b"");
        let last = sealed.blob.len() - 1;
        sealed.blob[last] ^= 1;
        assert_eq!(r.open(&sealed, b""), Err(VaultError::Corrupt));
        assert!(
            !format!("{r:?}").contains(&k),
            "Debug never shows key material"
        );
    }
}
