//! The config of a discovery flow's import (`{"import": {...}}`) and the checks of its
//! uploaded file.

use super::ImportSettings;
use crate::flows::registry::{StepContext, StepError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The `import` object of a discovery flow's config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportConfig {
    /// The uploaded file on the server: inside `imports.upload_dir`, in the flow client's
    /// directory (anything else is refused).
    pub path: PathBuf,
    /// The name the file was uploaded with.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Compute the report, write no asset.
    #[serde(default)]
    pub dry_run: bool,
    /// Mapping confidence for automatic approval (0..1); `imports.threshold` when absent.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Qualifies source ids (default: from the layout).
    #[serde(default)]
    pub source_system: Option<String>,
}

impl ImportConfig {
    /// The `import` object of a flow config.
    pub fn from_flow(config: &Value) -> Result<ImportConfig, StepError> {
        let Some(import) = config.get("import") else {
            return Err(StepError::permanent(
                "invalid_config: the discovery flow's config has no \"import\" object",
            ));
        };
        let cfg: ImportConfig = serde_json::from_value(import.clone()).map_err(|e| {
            StepError::permanent(format!("invalid_config: config.import is invalid: {e}"))
        })?;
        if let Some(t) = cfg.threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(StepError::permanent(
                "invalid_config: config.import.threshold must be between 0 and 1",
            ));
        }
        if cfg.source_system.as_ref().is_some_and(|s| s.len() > 100) {
            return Err(StepError::permanent(
                "invalid_config: config.import.source_system is longer than 100 characters",
            ));
        }
        Ok(cfg)
    }
}

/// The import config, with the file checked: a regular, non-empty file within the size
/// limit, inside the client's upload directory.
pub(super) async fn checked_config(
    ctx: &StepContext,
    settings: &ImportSettings,
) -> Result<(ImportConfig, u64), StepError> {
    let cfg = ImportConfig::from_flow(&ctx.config)?;
    let size = check_file(settings, ctx.client_account_id, &cfg.path).await?;
    Ok((cfg, size))
}

async fn check_file(
    settings: &ImportSettings,
    client: Uuid,
    path: &Path,
) -> Result<u64, StepError> {
    let io = |what: &str, e: std::io::Error| {
        StepError::permanent(format!("io_error: cannot {what} the uploaded file: {e}"))
    };
    let real = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| io("find", e))?;
    let allowed = tokio::fs::canonicalize(settings.client_dir(client))
        .await
        .map_err(|e| io("find the upload directory of", e))?;
    if !real.starts_with(&allowed) {
        return Err(StepError::permanent(
            "invalid_config: config.import.path is not an upload of this client",
        ));
    }
    let meta = tokio::fs::metadata(&real)
        .await
        .map_err(|e| io("read", e))?;
    if !meta.is_file() {
        return Err(StepError::permanent(
            "invalid_config: config.import.path is not a file",
        ));
    }
    if meta.len() == 0 {
        return Err(StepError::permanent("empty_file: the file is empty"));
    }
    if meta.len() > settings.max_upload_bytes {
        return Err(StepError::permanent(format!(
            "file_too_large: the file exceeds the limit of {} bytes",
            settings.max_upload_bytes
        )));
    }
    tokio::fs::File::open(&real)
        .await
        .map_err(|e| io("open", e))?;
    Ok(meta.len())
}
