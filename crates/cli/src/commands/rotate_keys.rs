//! Vault master keys: building the keyring at startup, and `modernize admin rotate-keys`.

use crate::config::Settings;
use anyhow::{Context, bail};
use modernize_server::vault::Keyring;
use modernize_server::vault::keys::{self, KeyFile, KeySource};
use modernize_server::vault::rotate;
use serde_json::json;
use std::path::PathBuf;

/// Secrets re-wrapped per transaction.
const BATCH: i64 = 500;

/// The embedded database's home directory, when the embedded database is in use.
fn embedded_home(settings: &Settings) -> Option<PathBuf> {
    let external = settings
        .database
        .url
        .as_deref()
        .is_some_and(|u| !u.trim().is_empty());
    (!external).then(|| settings.embedded.to_config().home)
}

/// The keyring from `[vault]`: `None` (with a warning) when no key is configured and the
/// database is external. Invalid keys stop the program, naming the key.
pub fn keyring(settings: &Settings) -> anyhow::Result<Option<Keyring>> {
    let home = embedded_home(settings);
    let loaded = keys::load(&settings.vault, home.as_deref())
        .context("cannot load the credential vault's master keys")?;
    match loaded {
        Some((keyring, source)) => {
            let from = match &source {
                KeySource::Configuration => "configuration".to_string(),
                KeySource::File(p) | KeySource::Created(p) => p.display().to_string(),
            };
            tracing::info!(active_key_id = keyring.active_key_id(), %from, "vault keys loaded");
            Ok(Some(keyring))
        }
        None => {
            tracing::warn!(
                "no vault master key is configured: platform credentials cannot be stored or \
                 used; set vault.keys and vault.active_key_id, or vault.key_file"
            );
            Ok(None)
        }
    }
}

/// `modernize admin rotate-keys [--generate] [--json]`.
pub async fn run(settings: &Settings, generate: bool, as_json: bool) -> anyhow::Result<()> {
    let db = super::open_migrated(settings).await?;
    let home = embedded_home(settings);
    let mut generated = None;
    let key_file = keys::key_file_path(&settings.vault, home.as_deref());
    if generate {
        let Some(path) = &key_file else {
            bail!(
                "--generate writes the new key to a key file, and none is in use: set \
                 vault.key_file (keys given in vault.keys are not rewritten)"
            );
        };
        if let Some(active) = &settings.vault.active_key_id {
            bail!(
                "vault.active_key_id = {active:?} is set in the configuration and would override \
                 the generated key; remove it (the key file names the active key)"
            );
        }
        let mut file = if path.exists() {
            KeyFile::read(path)?
        } else {
            KeyFile::default()
        };
        let id = file.add_generated();
        file.write(path)?;
        tracing::warn!(path = %path.display(), key_id = %id,
            "generated a new active master key; back up the key file");
        generated = Some(id);
    }
    let Some(keyring) = keyring(settings)? else {
        bail!(
            "no vault master key is configured: set vault.keys and vault.active_key_id, or \
             vault.key_file (or use --generate with vault.key_file)"
        );
    };
    let report = rotate::rewrap_all(&db.app, &keyring, BATCH, "admin rotate-keys").await?;
    if as_json {
        println!(
            "{}",
            json!({
                "active_key_id": report.active_key_id,
                "generated_key_id": generated,
                "key_file": key_file.map(|p| p.display().to_string()),
                "rewrapped": report.rewrapped,
                "already_current": report.already_current,
                "failed": report.failed,
            })
        );
    } else {
        if let Some(id) = &generated {
            println!("generated key {id} (now active)");
        }
        println!("active key: {}", report.active_key_id);
        println!("re-wrapped: {}", report.rewrapped);
        println!("already current: {}", report.already_current);
        println!("failed: {}", report.failed.len());
        for f in &report.failed {
            println!("  {} {}: {}", f.table, f.id, f.error);
        }
    }
    db.app.close().await;
    db.owner.close().await;
    if !report.failed.is_empty() {
        bail!(
            "{} secret(s) could not be re-wrapped; keep their old keys configured",
            report.failed.len()
        );
    }
    Ok(())
}
