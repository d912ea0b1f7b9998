//! `modernize bench import --rows N`: end-to-end import throughput and peak memory of a
//! generated CMDB CSV, beside the floor measured in the same run on the same server: `COPY`
//! of the same file into an unlogged staging table of text columns.
//!
//! Everything happens in a scratch database (see [`super::bench::Scratch`]). The import is the
//! product's one-shot import ([`modernize_engine::import::run_import`]) through the runtime
//! role, row-level security included: reading, layout detection, mapping, cleansing,
//! reconciliation, staging of every raw row, asset writes and the report, in one transaction.
//! Peak memory is this process's resident set high-water mark (`VmHWM`), reset just before
//! the import (the database server's own memory is not included).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use modernize_engine::import::{ImportOptions, run_import};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

use super::bench::Scratch;
use super::sample_cmdb::{HEADERS, generate};
use crate::cli::BenchImportArgs;
use crate::config::Settings;

/// Targets of the issue this benchmark answers.
const TARGET_ROWS_PER_SEC: f64 = 100_000.0;
const TARGET_FLOOR_SHARE: f64 = 0.5;
const TARGET_PEAK_MIB: f64 = 512.0;

pub async fn run(args: BenchImportArgs, settings: Settings) -> anyhow::Result<()> {
    if args.rows == 0 {
        bail!("--rows must be at least 1");
    }
    let dir = match &args.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .context("cannot create a directory for the generated file")?;
    let file = dir.path().join("cmdb.csv");
    let started = Instant::now();
    let bytes = generate(&file, args.rows)?;
    println!(
        "generated {} rows ({:.1} MiB) of CMDB CSV in {:.1} s",
        args.rows,
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );
    let scratch = Scratch::create(&settings).await?;
    let result = in_scratch(&scratch, &settings, &file, args.rows).await;
    scratch.drop().await;
    result
}

async fn in_scratch(
    scratch: &Scratch,
    settings: &Settings,
    file: &Path,
    rows: u64,
) -> anyhow::Result<()> {
    let owner_opts = scratch.owner_opts.clone().database(&scratch.name);
    let owner = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(owner_opts.clone())
        .await?;
    modernize_db::migrate::migrate(&owner, settings.database.app_password.as_deref()).await?;
    let (client, engagement): (uuid::Uuid, uuid::Uuid) = sqlx::query_as(
        "WITH c AS (INSERT INTO migration.client_accounts (name, slug) \
                    VALUES ('Bench', 'bench') RETURNING id) \
         INSERT INTO migration.engagements (client_account_id, name) \
         SELECT id, 'Bench' FROM c RETURNING client_account_id, id",
    )
    .fetch_one(&owner)
    .await?;
    let (version,): (String,) = sqlx::query_as("SELECT current_setting('server_version')")
        .fetch_one(&owner)
        .await?;
    let app_opts = modernize_db::connect::options(&scratch.app_url)?.database(&scratch.name);
    let app = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(app_opts)
        .await?;
    println!("PostgreSQL {version}, scratch database {}", scratch.name);

    // Floor: COPY of the same file into an unlogged staging table.
    let floor_secs = copy_floor(&owner_opts, file, rows).await?;
    let floor_rate = rows as f64 / floor_secs;

    // End to end.
    reset_peak_memory();
    let started = Instant::now();
    let report = run_import(
        &app,
        client,
        engagement,
        file,
        &ImportOptions {
            max_bytes: u64::MAX,
            ..ImportOptions::default()
        },
        &mut |_| {},
    )
    .await
    .map_err(|e| anyhow::anyhow!("the import failed: {e} ({})", e.code()))?;
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_memory_mib();
    if report.rows_read != rows || report.assets_created + report.rows_rejected != rows {
        bail!(
            "the import read {} rows and created {} assets ({} rejected) of {rows}",
            report.rows_read,
            report.assets_created,
            report.rows_rejected
        );
    }
    let rate = rows as f64 / secs;
    app.close().await;
    let ceiling_secs = write_ceiling(&owner, engagement).await?;
    let ceiling_rate = rows as f64 / ceiling_secs;
    owner.close().await;

    println!();
    println!("{:<34} {:>14} {:>12}", "", "measured", "target");
    println!(
        "{:<34} {:>14.0} {:>12}",
        "import rows/s (end to end)",
        rate,
        format!(">= {TARGET_ROWS_PER_SEC:.0}")
    );
    println!("{:<34} {:>14.1}", "import seconds", secs);
    println!("{:<34} {:>14.0}", "COPY floor rows/s", floor_rate);
    println!(
        "{:<34} {:>14.2} {:>12}",
        "import / floor",
        rate / floor_rate,
        format!(">= {TARGET_FLOOR_SHARE:.2}")
    );
    println!(
        "{:<34} {:>14.0}",
        "asset-table write ceiling rows/s", ceiling_rate
    );
    println!(
        "{:<34} {:>14.2}",
        "import / write ceiling",
        rate / ceiling_rate
    );
    match peak {
        Some(p) => println!(
            "{:<34} {:>14.0} {:>12}",
            "peak memory MiB (VmHWM)",
            p,
            format!("< {TARGET_PEAK_MIB:.0}")
        ),
        None => println!("{:<34} {:>14}", "peak memory MiB", "unavailable"),
    }
    println!(
        "assets created {}, rows rejected {}, layout {} ({:.2})",
        report.assets_created, report.rows_rejected, report.layout, report.layout_confidence
    );
    Ok(())
}

/// Seconds for the database alone to write the imported assets once more into
/// `migration.assets`, from a temporary copy (already parsed, cleansed and reconciled, as the
/// owner, without row-level security), in a transaction rolled back afterwards: the cost of
/// the table itself (its indexes, constraints and write-ahead log), which no import of these
/// rows can go below.
async fn write_ceiling(owner: &sqlx::PgPool, engagement: uuid::Uuid) -> anyhow::Result<f64> {
    let mut tx = owner.begin().await?;
    sqlx::query(
        "CREATE TEMP TABLE bench_ceiling ON COMMIT DROP AS \
         SELECT * FROM migration.assets WHERE engagement_id = $1",
    )
    .bind(engagement)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE bench_ceiling SET id = gen_random_uuid()")
        .execute(&mut *tx)
        .await?;
    let started = Instant::now();
    sqlx::query("INSERT INTO migration.assets SELECT * FROM bench_ceiling")
        .execute(&mut *tx)
        .await?;
    let secs = started.elapsed().as_secs_f64();
    tx.rollback().await?;
    Ok(secs)
}

/// Seconds to COPY the file into an unlogged table of text columns.
async fn copy_floor(
    owner_opts: &sqlx::postgres::PgConnectOptions,
    file: &Path,
    rows: u64,
) -> anyhow::Result<f64> {
    let mut conn = PgConnection::connect_with(owner_opts).await?;
    let columns: Vec<String> = HEADERS
        .iter()
        .enumerate()
        .map(|(i, _)| format!("c{i} text"))
        .collect();
    sqlx::raw_sql(&format!(
        "CREATE UNLOGGED TABLE public.bench_import_floor ({})",
        columns.join(", ")
    ))
    .execute(&mut conn)
    .await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY public.bench_import_floor FROM STDIN WITH (FORMAT csv, HEADER true)")
        .await?;
    let source = tokio::fs::File::open(file).await?;
    copy.read_from(source).await?;
    let copied = copy.finish().await?;
    let secs = started.elapsed().as_secs_f64();
    if copied != rows {
        bail!("COPY loaded {copied} of {rows} rows");
    }
    sqlx::raw_sql("DROP TABLE public.bench_import_floor")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(secs)
}

/// Resets this process's resident set high-water mark (Linux: `clear_refs` 5).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's resident set high-water mark in MiB (Linux).
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
