//! The `modernize` binary: one executable for the API server, the background worker and the
//! administration commands.

mod cli;
mod commands;
mod config;
mod telemetry;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let settings = match config::Settings::load(&cli) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("modernize: configuration error: {error:#}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("modernize: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("modernize: {error:#}");
            ExitCode::FAILURE
        }
    }
}
