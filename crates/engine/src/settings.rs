//! Section `[worker]` of the configuration.

use crate::queue::WorkerConfig;
use serde::Deserialize;
use std::time::Duration;

/// Section `[worker]`: how a worker process (or the worker inside `serve`) runs jobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// Jobs run at the same time by one worker process.
    pub concurrency: usize,
    /// How long a claim holds a job without a heartbeat. A worker that dies loses its jobs to
    /// other workers after this long.
    pub lease_secs: u64,
    /// Polling interval when no notification arrives (NOTIFY is the fast path; polling also
    /// picks up delayed jobs and expired leases).
    pub poll_interval_ms: u64,
    /// On shutdown, how long running jobs may take to finish before they are released.
    pub shutdown_grace_secs: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 4,
            lease_secs: 60,
            poll_interval_ms: 5_000,
            shutdown_grace_secs: 10,
        }
    }
}

impl WorkerSettings {
    /// Rejects values a worker cannot run with; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.concurrency == 0 {
            return Err("worker.concurrency must be at least 1".into());
        }
        if self.lease_secs < 2 {
            return Err("worker.lease_secs must be at least 2".into());
        }
        if self.poll_interval_ms < 10 {
            return Err("worker.poll_interval_ms must be at least 10".into());
        }
        Ok(())
    }

    /// The worker's runtime configuration.
    pub fn to_config(&self) -> WorkerConfig {
        WorkerConfig {
            concurrency: self.concurrency,
            lease: Duration::from_secs(self.lease_secs),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        let defaults = WorkerSettings::default();
        assert!(defaults.validate().is_ok());
        let config = defaults.to_config();
        assert_eq!(config.lease, Duration::from_secs(60));
        assert_eq!(config.poll_interval, Duration::from_millis(5_000));
        let zero = WorkerSettings {
            concurrency: 0,
            ..WorkerSettings::default()
        };
        assert!(zero.validate().unwrap_err().contains("worker.concurrency"));
        let short = WorkerSettings {
            lease_secs: 1,
            ..WorkerSettings::default()
        };
        assert!(short.validate().unwrap_err().contains("worker.lease_secs"));
    }
}
