//! Child processes of tests: killed and reaped when dropped, so a failing test leaves none
//! behind.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::process::{Child, Command, Stdio};

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.0.id() as i32), signal).expect("signal the child process");
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn sigkill(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// Runs the test `name` of the current test binary alone in a child process (the usual way to
/// get a worker process: the test returns at once unless `env` is set), with `env` set and its
/// standard output discarded.
pub fn spawn_test(name: &str, env: (&str, &str)) -> ChildGuard {
    ChildGuard(
        Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(env.0, env.1)
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn a test process"),
    )
}
