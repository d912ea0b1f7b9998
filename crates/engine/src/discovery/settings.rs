//! Section `[imports]` of the configuration.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Section `[imports]`: uploaded inventory files and the discovery flow's defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportSettings {
    /// Where uploaded files are stored (one subdirectory per client, one per upload). The API
    /// server and the workers must see the same directory.
    pub upload_dir: PathBuf,
    /// Largest accepted upload (and imported file), in bytes.
    pub max_upload_bytes: u64,
    /// Mapping confidence at or above which a column mapping is approved without review
    /// (0..1), unless an upload gives its own.
    pub threshold: f64,
    /// Uploads of failed flows are kept this long (a failed flow can be retried), then removed.
    pub failed_retention_hours: u64,
    /// An upload (the whole request) must finish within this many seconds. It replaces
    /// `server.request_timeout_secs` for the upload route only, so that large files on slow
    /// links are not cut.
    pub upload_timeout_secs: u64,
    /// An upload that sends nothing for this many seconds is cut (a stalled client does not
    /// hold its connection and partial file until `upload_timeout_secs`).
    pub upload_idle_timeout_secs: u64,
}

impl Default for ImportSettings {
    fn default() -> Self {
        ImportSettings {
            upload_dir: default_upload_dir(),
            max_upload_bytes: 1 << 30,
            threshold: 0.8,
            failed_retention_hours: 7 * 24,
            upload_timeout_secs: 3600,
            upload_idle_timeout_secs: 300,
        }
    }
}

impl ImportSettings {
    /// Rejects values the imports cannot work with; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.upload_dir.as_os_str().is_empty() {
            return Err("imports.upload_dir must not be empty".into());
        }
        if self.max_upload_bytes == 0 {
            return Err("imports.max_upload_bytes must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err("imports.threshold must be between 0 and 1".into());
        }
        if self.upload_timeout_secs == 0 {
            return Err("imports.upload_timeout_secs must be at least 1".into());
        }
        if self.upload_idle_timeout_secs == 0 {
            return Err("imports.upload_idle_timeout_secs must be at least 1".into());
        }
        Ok(())
    }
}

impl ImportSettings {
    /// The directory of a client's uploads.
    pub fn client_dir(&self, client_account_id: Uuid) -> PathBuf {
        self.upload_dir.join(client_account_id.to_string())
    }

    /// The directory of one upload: `<upload_dir>/<client>/<upload id>`.
    pub fn upload_dir_of(&self, client_account_id: Uuid, upload_id: Uuid) -> PathBuf {
        self.client_dir(client_account_id)
            .join(upload_id.to_string())
    }

    /// The bytes of the client's kept uploads (waiting, failed within their retention, and in
    /// progress: a partial file counts with what it has received), by file length. What counts
    /// against the client's `storage_quota_gb`.
    pub async fn client_usage_bytes(&self, client_account_id: Uuid) -> std::io::Result<u64> {
        let dir = self.client_dir(client_account_id);
        tokio::task::spawn_blocking(move || tree_bytes(&dir))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Removes an uploaded file and its upload directory, if it is an upload of the client
    /// (anything else is left alone). Errors are logged: the hourly sweep tries again.
    pub async fn remove_upload(&self, client_account_id: Uuid, file: &Path) {
        let Some(dir) = file.parent() else { return };
        let client_dir = self.client_dir(client_account_id);
        if dir.parent() != Some(client_dir.as_path()) {
            tracing::warn!(file = %file.display(), "not an upload of the client; not removed");
            return;
        }
        match tokio::fs::remove_dir_all(dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the upload");
            }
        }
    }
}

/// The summed length of the files below `dir` (0 when it does not exist); entries removed
/// while it walks are skipped, symbolic links are not followed.
fn tree_bytes(dir: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = 0;
    for entry in entries {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            total += tree_bytes(&entry.path())?;
        } else if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

/// `$XDG_DATA_HOME/modernize/uploads` (`~/.local/share/modernize/uploads`), or
/// `/var/lib/modernize/uploads` without a home directory.
fn default_upload_dir() -> PathBuf {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(data).join("modernize/uploads");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/modernize/uploads"),
        None => PathBuf::from("/var/lib/modernize/uploads"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn usage_sums_the_clients_uploads_only() {
        let root = tempfile::tempdir().unwrap();
        let settings = ImportSettings {
            upload_dir: root.path().to_path_buf(),
            ..ImportSettings::default()
        };
        let (mine, theirs) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(settings.client_usage_bytes(mine).await.unwrap(), 0);
        for (client, name, len) in [
            (mine, "a.csv", 10),
            (mine, "b.xlsx", 2500),
            (theirs, "c.csv", 7),
        ] {
            let dir = settings.upload_dir_of(client, Uuid::new_v4());
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), vec![b'x'; len]).unwrap();
        }
        assert_eq!(settings.client_usage_bytes(mine).await.unwrap(), 2510);
        assert_eq!(settings.client_usage_bytes(theirs).await.unwrap(), 7);
    }

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        let d = ImportSettings::default();
        assert!(d.validate().is_ok());
        assert_eq!(d.max_upload_bytes, 1 << 30);
        let bad = ImportSettings {
            threshold: 1.5,
            ..ImportSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("imports.threshold"));
        let bad = ImportSettings {
            max_upload_bytes: 0,
            ..ImportSettings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("imports.max_upload_bytes")
        );
        assert_eq!(d.upload_timeout_secs, 3600);
        let bad = ImportSettings {
            upload_timeout_secs: 0,
            ..ImportSettings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("imports.upload_timeout_secs")
        );
        assert_eq!(d.upload_idle_timeout_secs, 300);
        let bad = ImportSettings {
            upload_idle_timeout_secs: 0,
            ..ImportSettings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("imports.upload_idle_timeout_secs")
        );
    }
}
