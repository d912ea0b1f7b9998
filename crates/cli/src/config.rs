//! Typed configuration, loaded once at startup from, in increasing precedence: built-in
//! defaults, a TOML file (`--config`, `MODERNIZE_CONFIG`, or `./modernize.toml` when present),
//! `MODERNIZE_<SECTION>__<KEY>` environment variables, `DATABASE_URL`, and command-line flags.
//! Any error (unknown key, wrong type, unreadable file) stops the program with a message that
//! names the key and where it came from.

use crate::cli::{Cli, Command};
use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use modernize_db::DatabaseSettings;
use modernize_db::embedded::EmbeddedConfig;
use modernize_server::ServerSettings;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub embedded: EmbeddedSettings,
    pub server: ServerSettings,
    pub log: LogSettings,
    pub auth: modernize_server::settings::AuthSettings,
    pub vault: modernize_server::settings::VaultSettings,
    pub worker: modernize_engine::WorkerSettings,
    pub imports: modernize_engine::discovery::ImportSettings,
    pub retention: modernize_db::retention::RetentionSettings,
}

/// Section `[embedded]`: the embedded PostgreSQL used when no database URL is configured.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedSettings {
    /// Data, socket and log directory.
    pub home: Option<PathBuf>,
    /// Where the PostgreSQL installation is unpacked.
    pub cache_dir: Option<PathBuf>,
    /// pip command line, e.g. "python3 -m pip".
    pub pip: Option<String>,
    /// Install from this wheel file instead of downloading it.
    pub wheel: Option<PathBuf>,
    /// System user the server runs as when started by root.
    pub os_user: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
}

impl EmbeddedSettings {
    pub fn to_config(&self) -> EmbeddedConfig {
        let mut cfg = EmbeddedConfig::default_for_current_user();
        if let Some(home) = &self.home {
            cfg.home = home.clone();
        }
        if let Some(cache) = &self.cache_dir {
            cfg.cache_dir = cache.clone();
        }
        if let Some(pip) = &self.pip {
            cfg.pip = pip.split_whitespace().map(String::from).collect();
        }
        cfg.wheel = self.wheel.clone();
        if let Some(user) = &self.os_user {
            cfg.os_user = user.clone();
        }
        if let Some(port) = self.port {
            cfg.port = port;
        }
        if let Some(db) = &self.database {
            cfg.database = db.clone();
        }
        cfg
    }
}

/// Section `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info,modernize=debug`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: "text".into(),
            filter: "info,sqlx=warn".into(),
        }
    }
}

const SECTIONS: &[&str] = &[
    "database__",
    "embedded__",
    "server__",
    "log__",
    "worker__",
    "auth__",
    "vault__",
    "imports__",
    "retention__",
];

impl Settings {
    pub fn load(cli: &Cli) -> anyhow::Result<Settings> {
        let mut figment = Figment::new();
        match &cli.config {
            Some(path) => {
                if !path.exists() {
                    bail!("configuration file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("modernize.toml").exists() => {
                figment = figment.merge(Toml::file_exact("modernize.toml"));
            }
            None => {}
        }
        let figment = figment
            .merge(
                Env::prefixed("MODERNIZE_")
                    .filter(|key| {
                        let key = key.as_str().to_ascii_lowercase();
                        SECTIONS.iter().any(|s| key.starts_with(s))
                    })
                    .split("__"),
            )
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            );
        let mut settings: Settings = figment.extract().context("invalid configuration")?;
        if let Command::Serve(args) = &cli.command
            && let Some(bind) = &args.bind
        {
            settings.server.bind = bind.clone();
        }
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.server.bind.parse::<SocketAddr>().with_context(|| {
            format!(
                "server.bind = {:?} is not a socket address like 127.0.0.1:8080",
                self.server.bind
            )
        })?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!(
                "log.format must be \"text\" or \"json\", not {:?}",
                self.log.format
            );
        }
        if let Some(url) = &self.database.url
            && !url.trim().is_empty()
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL must start with postgres:// or postgresql://");
        }
        self.worker.validate().map_err(anyhow::Error::msg)?;
        self.imports.validate().map_err(anyhow::Error::msg)?;
        self.retention.validate().map_err(anyhow::Error::msg)?;
        if self.server.request_timeout_secs == 0 {
            bail!("server.request_timeout_secs must be at least 1");
        }
        Ok(())
    }
}
