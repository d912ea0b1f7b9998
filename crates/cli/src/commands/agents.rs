//! `modernize agents ...`: agent task analytics.

use crate::cli::AgentsCommand;
use crate::config::Settings;
use anyhow::Context;
use modernize_engine::flows::rollup;
use serde_json::json;

pub async fn run(cmd: AgentsCommand, settings: Settings) -> anyhow::Result<()> {
    match cmd {
        AgentsCommand::Rollup { date, json } => {
            let day = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d")
                .with_context(|| format!("--date must be YYYY-MM-DD, got {date:?}"))?;
            let db = super::open_migrated(&settings).await?;
            let rows = rollup::recompute_day(&db.app, day).await?;
            if json {
                println!("{}", json!({"date": day.to_string(), "rows": rows}));
            } else {
                println!("agent_performance_daily for {day}: {rows} rows");
            }
            db.app.close().await;
            db.owner.close().await;
            Ok(())
        }
    }
}
