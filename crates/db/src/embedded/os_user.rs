//! The operating-system user the PostgreSQL server runs as.
//!
//! PostgreSQL refuses to start as root. When we are root we run it as a dedicated system user
//! (created on first use with `useradd`); otherwise it runs as ourselves.

use crate::error::DbError;
use nix::unistd::{Gid, Uid, User, chown};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone)]
pub struct ServerUser {
    name: String,
    uid: Uid,
    gid: Gid,
    /// True when the server runs as another user than this process (we are root).
    switch: bool,
}

impl ServerUser {
    /// The user the server should run as for this process: `name` when we are root (created
    /// if missing), else the current user.
    pub fn for_current_process(name: &str) -> Result<Self, DbError> {
        if !nix::unistd::geteuid().is_root() {
            let uid = nix::unistd::geteuid();
            return Ok(ServerUser {
                name: uid.to_string(),
                uid,
                gid: nix::unistd::getegid(),
                switch: false,
            });
        }
        let user = match lookup(name)? {
            Some(user) => user,
            None => {
                create_system_user(name)?;
                lookup(name)?.ok_or_else(|| {
                    DbError::OsUser(format!("user {name} still missing after useradd"))
                })?
            }
        };
        if user.uid.is_root() {
            return Err(DbError::OsUser(format!(
                "the embedded database user {name} has uid 0; PostgreSQL cannot run as root"
            )));
        }
        Ok(ServerUser {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
            switch: true,
        })
    }

    /// Makes `cmd` run as this user.
    pub fn apply(&self, cmd: &mut Command) {
        if self.switch {
            // std drops supplementary groups (setgroups) when a root parent sets the uid.
            cmd.uid(self.uid.as_raw()).gid(self.gid.as_raw());
        }
    }

    /// Gives `path` to this user (no-op when not switching users).
    pub fn take_ownership(&self, path: &Path) -> Result<(), DbError> {
        if self.switch {
            chown(path, Some(self.uid), Some(self.gid)).map_err(|e| DbError::Directory {
                path: path.into(),
                detail: format!("chown to {}: {e}", self.name),
            })?;
        }
        Ok(())
    }

    /// Fails with a clear message when some ancestor of `path` cannot be traversed by this user.
    pub fn check_can_reach(&self, path: &Path) -> Result<(), DbError> {
        if !self.switch {
            return Ok(());
        }
        for dir in path.ancestors().skip(1) {
            let meta = std::fs::metadata(dir).map_err(DbError::io(dir))?;
            let mode = meta.mode();
            let allowed = if meta.uid() == self.uid.as_raw() {
                mode & 0o100 != 0
            } else if meta.gid() == self.gid.as_raw() {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !allowed {
                return Err(DbError::Directory {
                    path: path.into(),
                    detail: format!(
                        "the database server runs as user {} (PostgreSQL refuses root) and cannot enter {} (mode {:o}); \
                         choose a home directory it can reach (MODERNIZE_EMBEDDED__HOME), e.g. under /var/lib",
                        self.name,
                        dir.display(),
                        mode & 0o7777
                    ),
                });
            }
        }
        Ok(())
    }
}

fn lookup(name: &str) -> Result<Option<User>, DbError> {
    User::from_name(name).map_err(|e| DbError::OsUser(format!("looking up user {name}: {e}")))
}

fn create_system_user(name: &str) -> Result<(), DbError> {
    let output = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .output()
        .map_err(|e| {
            DbError::OsUser(format!(
                "cannot run useradd to create the embedded database user {name}: {e}; \
                 create an unprivileged user and name it in MODERNIZE_EMBEDDED__OS_USER"
            ))
        })?;
    // Exit status 9: the user was created meanwhile by a concurrent process.
    if output.status.success() || output.status.code() == Some(9) {
        return Ok(());
    }
    Err(DbError::OsUser(format!(
        "useradd {name} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}
