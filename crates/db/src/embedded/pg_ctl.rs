//! Running the PostgreSQL programs of the installation: initdb, pg_ctl and psql.

use super::{EmbeddedConfig, Installation, SUPERUSER, ServerState, ServerUser};
use crate::error::DbError;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub struct PgCtl<'a> {
    install: &'a Installation,
    cfg: &'a EmbeddedConfig,
    user: &'a ServerUser,
}

impl<'a> PgCtl<'a> {
    pub fn new(install: &'a Installation, cfg: &'a EmbeddedConfig, user: &'a ServerUser) -> Self {
        Self { install, cfg, user }
    }

    fn command(&self, program: &str, as_server_user: bool) -> Command {
        let mut cmd = Command::new(self.install.bin(program));
        cmd.current_dir(&self.cfg.home).stdin(Stdio::null());
        // Settings of the caller's environment must not redirect our tools elsewhere.
        for var in [
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
            "PGSERVICE",
            "PGDATA",
        ] {
            cmd.env_remove(var);
        }
        if as_server_user {
            self.user.apply(&mut cmd);
        }
        cmd
    }

    fn run(&self, action: &'static str, mut cmd: Command) -> Result<Output, DbError> {
        let program = format!("{:?}", cmd.get_program());
        let output = cmd.output().map_err(|e| DbError::Command {
            action,
            program: program.clone(),
            detail: e.to_string(),
        })?;
        if !output.status.success() {
            return Err(DbError::Command {
                action,
                program,
                detail: format!(
                    "{}{}{}",
                    String::from_utf8_lossy(&output.stderr).trim(),
                    String::from_utf8_lossy(&output.stdout).trim(),
                    self.log_tail()
                ),
            });
        }
        Ok(output)
    }

    fn log_tail(&self) -> String {
        let Ok(log) = std::fs::read_to_string(self.cfg.log_file()) else {
            return String::new();
        };
        let lines: Vec<&str> = log.lines().rev().take(10).collect();
        let lines: Vec<&str> = lines.into_iter().rev().collect();
        format!(
            "\nlast lines of {}:\n{}",
            self.cfg.log_file().display(),
            lines.join("\n")
        )
    }

    pub fn initdb(&self) -> Result<(), DbError> {
        let data = self.cfg.data_dir();
        tracing::info!(data = %data.display(), "initialising the embedded database");
        let mut cmd = self.command("initdb", true);
        cmd.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ]);
        if let Err(e) = self.run("initdb", cmd) {
            // Leave an empty directory so that the next attempt starts clean.
            clear_dir(&data);
            return Err(e);
        }
        Ok(())
    }

    pub fn status(&self) -> Result<ServerState, DbError> {
        let mut cmd = self.command("pg_ctl", true);
        cmd.arg("status").arg("-D").arg(self.cfg.data_dir());
        let output = cmd.output().map_err(|e| DbError::Command {
            action: "pg_ctl status",
            program: "pg_ctl".into(),
            detail: e.to_string(),
        })?;
        match output.status.code() {
            Some(0) => {
                let text = String::from_utf8_lossy(&output.stdout);
                let pid = text
                    .split("PID: ")
                    .nth(1)
                    .and_then(|rest| rest.split(')').next())
                    .and_then(|pid| pid.trim().parse().ok());
                Ok(ServerState::Running { pid })
            }
            Some(4) => Ok(ServerState::NotInitialised),
            _ => Ok(ServerState::Stopped),
        }
    }

    pub fn start(&self) -> Result<(), DbError> {
        let socket = self.cfg.socket_dir();
        let mut options = format!(
            "-c listen_addresses='' -k {} -p {} -c unix_socket_permissions=0700 -c max_connections=300",
            shell_quote(&socket),
            self.cfg.port
        );
        if self.cfg.ephemeral {
            // Autovacuum off too: its workers connect to fresh databases and would block
            // the RENAME / CREATE DATABASE ... TEMPLATE that tests do.
            options.push_str(
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off",
            );
        }
        tracing::info!(socket = %socket.display(), "starting the embedded database");
        let mut cmd = self.command("pg_ctl", true);
        cmd.arg("start")
            .arg("-D")
            .arg(self.cfg.data_dir())
            .arg("-l")
            .arg(self.cfg.log_file())
            .args(["-w", "-t", "120", "-s", "-o", &options]);
        self.run("starting PostgreSQL", cmd).map(|_| ())
    }

    pub fn stop(&self) -> Result<(), DbError> {
        let mut cmd = self.command("pg_ctl", true);
        cmd.arg("stop")
            .arg("-D")
            .arg(self.cfg.data_dir())
            .args(["-m", "fast", "-w", "-t", "120", "-s"]);
        self.run("stopping PostgreSQL", cmd).map(|_| ())
    }

    fn psql(&self, database: &str, sql: &str) -> Result<String, DbError> {
        let mut cmd = self.command("psql", false);
        cmd.args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.cfg.url_for(SUPERUSER, database))
            .args(["-c", sql]);
        let out = self.run("psql", cmd)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Creates the product database if missing.
    pub fn ensure_database(&self, name: &str) -> Result<(), DbError> {
        if !valid_identifier(name) {
            return Err(DbError::BadUrl(format!(
                "database name {name:?} must match [a-z_][a-z0-9_]*"
            )));
        }
        let exists = self.psql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        )?;
        if exists != "1" {
            self.psql("postgres", &format!("CREATE DATABASE {name}"))?;
        }
        Ok(())
    }
}

/// Names we create ourselves are restricted to plain identifiers: no quoting needed anywhere.
pub fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

fn clear_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}
