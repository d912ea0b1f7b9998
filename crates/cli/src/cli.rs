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
    /// Import an inventory file (CSV, XLSX, JSON, NDJSON) into an engagement's assets.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import.
    pub file: PathBuf,
    /// The engagement that receives the assets.
    #[arg(long)]
    pub engagement: uuid::Uuid,
    /// The engagement's client (checked when given; found from the engagement otherwise).
    #[arg(long)]
    pub client: Option<uuid::Uuid>,
    /// Read, map, cleanse and reconcile, but write no asset or dependency.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Source system that qualifies source ids (default: from the detected layout).
    #[arg(long)]
    pub source_system: Option<String>,
    /// Mapping confidence (0..1) needed to apply a column without review.
    #[arg(long, default_value_t = 0.8)]
    pub threshold: f64,
    /// Largest accepted file, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_bytes: u64,
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
    /// Apply the retention now (section [retention]; serve and worker do it hourly): delete
    /// finished jobs and drop dated partitions past their period.
    Prune {
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
    /// End-to-end import of a generated CMDB CSV (rows/s, peak memory) beside the floor:
    /// PostgreSQL COPY of the same file into an unlogged staging table.
    Import(BenchImportArgs),
}

#[derive(Debug, Args)]
pub struct BenchImportArgs {
    /// Rows of the generated CSV.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Directory for the generated file (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
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
