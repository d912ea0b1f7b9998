//! Command-line interface.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "modernize",
    version,
    about = "Enterprise application migration platform"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./modernize.toml when it exists.
    #[arg(long, global = true, env = "MODERNIZE_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (and, unless --no-worker, the background worker) until SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Run the background worker only.
    Worker,
    /// Database administration.
    #[command(subcommand)]
    Db(DbCommand),
    /// Benchmarks against the configured database server (in a scratch database).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Installation administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Agent task analytics.
    #[command(subcommand)]
    Agents(AgentsCommand),
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Recompute agent_performance_daily for one day (UTC) from agent_task_history; running it
    /// again gives the same rows.
    Rollup {
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides server.bind).
    #[arg(long)]
    pub bind: Option<String>,
    /// Do not run the background worker in this process.
    #[arg(long)]
    pub no_worker: bool,
    /// Do not create the demo client and engagement on an empty database.
    #[arg(long)]
    pub no_demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (under an advisory lock) and create due partitions.
    Migrate,
    /// Show the database in use, migrations and partitions.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start the embedded database (no-op when DATABASE_URL is set or it already runs).
    Start,
    /// Stop the embedded database.
    Stop,
    /// Print the libpq URL of the database in use (starting the embedded one if needed).
    Url {
        /// The runtime role's URL instead of the owner's.
        #[arg(long)]
        app: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Re-wrap every stored secret under the active vault master key (optionally a newly
    /// generated one). Afterwards older keys can be removed from the configuration.
    RotateKeys {
        /// Generate a new master key in the key file and make it active first.
        #[arg(long)]
        generate: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create the first platform administrator (only when none exists) and print an API token.
    Bootstrap {
        /// The administrator's e-mail address.
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: Option<String>,
        /// Print {"user_id": "...", "token": "..."}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Job queue throughput (claim + complete) with 1, 2, 8 workers, beside a bare
    /// SKIP LOCKED claim-and-delete loop on the same server.
    Queue(BenchQueueArgs),
}

#[derive(Debug, Args)]
pub struct BenchQueueArgs {
    /// Jobs per run.
    #[arg(long, default_value_t = 20_000)]
    pub jobs: u32,
    /// Worker counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,8")]
    pub workers: Vec<usize>,
}
