//! Master keys: building the [`Keyring`] from the `[vault]` configuration.
//!
//! Keys come from `vault.keys` (id → base64 of 32 bytes) and from a key file, a TOML file with
//! the same shape:
//!
//! ```toml
//! active_key_id = "k2"
//!
//! [keys]
//! k1 = "base64 of 32 random bytes"
//! k2 = "base64 of 32 random bytes"
//! ```
//!
//! `vault.active_key_id` in the configuration wins over the file's. Without any key and with the
//! embedded database, `<embedded home>/vault-keys.toml` is created (mode 0600) with one
//! generated key, so a local installation works out of the box; with an external database and
//! no keys, there is no keyring and storing secrets is refused.

use super::envelope::{Keyring, VaultError};
use crate::settings::VaultSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Name of the key file created in the embedded database's home directory.
pub const DEFAULT_KEY_FILE: &str = "vault-keys.toml";

/// Why the keyring cannot be built. Every message names the key or file concerned.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "vault key {0:?} is invalid: a master key is 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
    )]
    BadKey(String),
    #[error("vault.active_key_id = {0:?} names no configured key")]
    UnknownActive(String),
    #[error(
        "several vault keys are configured ({0}) but no active_key_id says which one seals new secrets"
    )]
    NoActive(String),
    #[error("vault.active_key_id = {0:?} is set but no vault keys are configured")]
    ActiveWithoutKeys(String),
    #[error("vault key {0:?} is defined twice with different values (configuration and key file)")]
    Conflict(String),
    #[error("vault key id {0:?} is invalid: use 1 to 64 letters, digits, '-', '_' or '.'")]
    BadId(String),
    #[error("vault key file {path}: {message}")]
    File { path: PathBuf, message: String },
}

/// The content of a key file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_key_id: Option<String>,
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

impl KeyFile {
    /// Reads and parses a key file.
    pub fn read(path: &Path) -> Result<KeyFile, KeysError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
        warn_if_readable_by_others(path);
        toml::from_str(&text).map_err(|e| KeysError::File {
            path: path.into(),
            message: format!("not a valid key file: {}", e.message()),
        })
    }

    /// Writes the file atomically (a temporary file in the same directory, renamed into place)
    /// with mode 0600, owned by the user running this process.
    pub fn write(&self, path: &Path) -> Result<(), KeysError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
        let text = format!(
            "# Master keys of the Modernize credential vault. Keep a backup: secrets sealed under\n\
             # these keys cannot be recovered without them.\n{}",
            toml::to_string(self).map_err(|e| KeysError::File {
                path: path.into(),
                message: e.to_string(),
            })?
        );
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("keys"),
            std::process::id()
        ));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(file_error(path, e));
        }
        Ok(())
    }

    /// Adds a freshly generated key and makes it active; returns its id.
    pub fn add_generated(&mut self) -> String {
        let base = format!("k{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
        let mut id = base.clone();
        let mut n = 1;
        while self.keys.contains_key(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        self.keys.insert(id.clone(), Keyring::generate_key());
        self.active_key_id = Some(id.clone());
        id
    }
}

fn file_error(path: &Path, e: std::io::Error) -> KeysError {
    KeysError::File {
        path: path.into(),
        message: e.to_string(),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the vault key file is readable by other users; restrict it with chmod 600"
        );
    }
}

/// The key file in use: the configured one, or — with the embedded database and no keys in the
/// configuration — `<embedded home>/vault-keys.toml`.
pub fn key_file_path(settings: &VaultSettings, embedded_home: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = &settings.key_file {
        return Some(path.clone());
    }
    if settings.keys.is_empty() {
        return embedded_home.map(|home| home.join(DEFAULT_KEY_FILE));
    }
    None
}

/// Where the keys of a keyring came from (for logs and `rotate-keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `vault.keys` only.
    Configuration,
    /// A key file (possibly merged with `vault.keys`).
    File(PathBuf),
    /// The embedded default key file, created just now.
    Created(PathBuf),
}

/// Builds the keyring. `embedded_home` is the embedded database's home directory when the
/// embedded database is in use. `Ok(None)`: no keys and no embedded database.
pub fn load(
    settings: &VaultSettings,
    embedded_home: Option<&Path>,
) -> Result<Option<(Keyring, KeySource)>, KeysError> {
    let mut keys = settings.keys.clone();
    let mut active = settings.active_key_id.clone();
    let mut source = KeySource::Configuration;
    if let Some(path) = key_file_path(settings, embedded_home) {
        let configured = settings.key_file.is_some();
        let file = if path.exists() || configured {
            source = KeySource::File(path.clone());
            KeyFile::read(&path)?
        } else {
            let mut file = KeyFile::default();
            let id = file.add_generated();
            file.write(&path)?;
            tracing::warn!(
                path = %path.display(),
                key_id = %id,
                "created a master key for the credential vault; back this file up: stored \
                 credentials cannot be decrypted without it"
            );
            source = KeySource::Created(path.clone());
            file
        };
        for (id, value) in file.keys {
            match keys.get(&id) {
                Some(existing) if existing.trim() != value.trim() => {
                    return Err(KeysError::Conflict(id));
                }
                _ => {
                    keys.insert(id, value);
                }
            }
        }
        if active.is_none() {
            active = file.active_key_id;
        }
    }
    if keys.is_empty() {
        return match active {
            Some(id) => Err(KeysError::ActiveWithoutKeys(id)),
            None => Ok(None),
        };
    }
    for id in keys.keys() {
        if !valid_id(id) {
            return Err(KeysError::BadId(id.clone()));
        }
    }
    let active = match active {
        Some(id) => id,
        None if keys.len() == 1 => keys.keys().next().cloned().unwrap_or_default(),
        None => {
            return Err(KeysError::NoActive(
                keys.keys().cloned().collect::<Vec<_>>().join(", "),
            ));
        }
    };
    let keyring = Keyring::new(&active, &keys).map_err(|e| match e {
        VaultError::BadKey(id) => KeysError::BadKey(id),
        VaultError::UnknownKey(id) => KeysError::UnknownActive(id),
        other => KeysError::File {
            path: PathBuf::new(),
            message: other.to_string(),
        },
    })?;
    Ok(Some((keyring, source)))
}

/// Key ids are stored in `encryption_key_id` columns and shown in logs.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(keys: &[(&str, &str)], active: Option<&str>, file: Option<&Path>) -> VaultSettings {
        VaultSettings {
            active_key_id: active.map(String::from),
            keys: keys
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            key_file: file.map(Path::to_path_buf),
        }
    }

    #[test]
    fn no_keys_external_means_no_keyring() {
        assert!(load(&settings(&[], None, None), None).unwrap().is_none());
        let err = load(&settings(&[], Some("k1"), None), None).unwrap_err();
        assert!(err.to_string().contains("k1"), "{err}");
    }

    #[test]
    fn configured_keys_are_validated_and_named_in_errors() {
        let k = Keyring::generate_key();
        let (ring, source) = load(&settings(&[("k1", &k)], None, None), None)
            .unwrap()
            .unwrap();
        assert_eq!(ring.active_key_id(), "k1");
        assert_eq!(source, KeySource::Configuration);

        let err = load(&settings(&[("broken", "c2hvcnQ=")], None, None), None).unwrap_err();
        assert!(err.to_string().contains("\"broken\""), "{err}");
        let err = load(&settings(&[("k1", &k), ("k2", &k)], None, None), None).unwrap_err();
        assert!(matches!(err, KeysError::NoActive(_)), "{err}");
        let err = load(&settings(&[("k1", &k)], Some("k9"), None), None).unwrap_err();
        assert!(err.to_string().contains("k9"), "{err}");
        let err = load(&settings(&[("bad id", &k)], None, None), None).unwrap_err();
        assert!(matches!(err, KeysError::BadId(_)), "{err}");
    }

    #[test]
    fn embedded_default_file_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let (first, source) = load(&settings(&[], None, None), Some(home.path()))
            .unwrap()
            .unwrap();
        let path = home.path().join(DEFAULT_KEY_FILE);
        assert_eq!(source, KeySource::Created(path.clone()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (second, source) = load(&settings(&[], None, None), Some(home.path()))
            .unwrap()
            .unwrap();
        assert_eq!(source, KeySource::File(path.clone()));
        assert_eq!(first.active_key_id(), second.active_key_id());
        // Same key material: what one seals, the other opens.
        let sealed = first.seal(b"x", b"aad");
        assert_eq!(second.open(&sealed, b"aad").unwrap(), b"x");
    }

    #[test]
    fn key_file_merges_with_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        let mut file = KeyFile::default();
        let old = file.add_generated();
        file.write(&path).unwrap();
        let k = Keyring::generate_key();
        let (ring, _) = load(
            &settings(&[("extra", &k)], Some("extra"), Some(&path)),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(ring.active_key_id(), "extra");
        let (ring, _) = load(&settings(&[], None, Some(&path)), None)
            .unwrap()
            .unwrap();
        assert_eq!(ring.active_key_id(), old);
        let err = load(&settings(&[(&old, &k)], None, Some(&path)), None).unwrap_err();
        assert!(matches!(err, KeysError::Conflict(_)), "{err}");
        let missing = dir.path().join("missing.toml");
        let err = load(&settings(&[], None, Some(&missing)), None).unwrap_err();
        assert!(err.to_string().contains("missing.toml"), "{err}");
        std::fs::write(&path, "active_key_id = 3").unwrap();
        let err = load(&settings(&[], None, Some(&path)), None).unwrap_err();
        assert!(err.to_string().contains("keys.toml"), "{err}");
    }
}
