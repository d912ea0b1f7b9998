//! Agent task tracking: every agent or task execution is a row of `agent_task_history`.
//!
//! A task's row is inserted with status `running` when it starts (committed at once, so a
//! task whose worker dies stays visible). Its outcome is written when its phase's outcome is
//! known: `completed` in the same transaction as the phase's completion (so each task of a
//! completed phase has exactly one `completed` row, however often the phase ran), `failed` for
//! a failed task, `rolled_back` for a task that succeeded in a run whose results were
//! discarded (the phase failed, the flow was paused or cancelled), and `interrupted` for a
//! task whose run ended without an outcome (the next run marks it).
//!
//! `parent_task_id` is `<flow id>/<phase>` and `task_type` the task's name: a task is
//! identified across runs by (parent_task_id, task_type, agent_name).

use chrono::{DateTime, Utc};
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::time::Instant;
use uuid::Uuid;

/// Statuses of `agent_task_history.status` written by the engine.
pub const TASK_STATUSES: &[&str] = &[
    "running",
    "completed",
    "failed",
    "rolled_back",
    "interrupted",
];

/// What a task is.
#[derive(Debug, Clone, Default)]
pub struct TaskSpec {
    pub agent_name: String,
    pub agent_type: Option<String>,
    pub agent_version: Option<String>,
    /// The task's name within its phase.
    pub task_type: String,
    pub description: Option<String>,
    pub input: Value,
}

/// What a finished task reports.
#[derive(Debug, Clone, Default)]
pub struct TaskOutcome {
    pub output: Value,
    pub tokens_used: Option<i32>,
    pub api_calls_made: Option<i32>,
    pub memory_used_mb: Option<f64>,
}

/// A started task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskHandle(usize);

#[derive(Debug)]
struct Tracked {
    task_id: String,
    created_at: DateTime<Utc>,
    started: Instant,
    result: Option<(bool, TaskOutcome, Option<String>, f64)>,
}

/// Records the agent tasks of one phase run.
#[derive(Debug)]
pub struct TaskTracker {
    pool: PgPool,
    client: Uuid,
    flow_id: Uuid,
    flow_type: String,
    parent_task_id: String,
    tasks: Vec<Tracked>,
}

impl TaskTracker {
    pub(crate) fn new(
        pool: PgPool,
        client: Uuid,
        flow_id: Uuid,
        flow_type: &str,
        phase: &str,
    ) -> Self {
        TaskTracker {
            pool,
            client,
            flow_id,
            flow_type: flow_type.into(),
            parent_task_id: parent_task_id(flow_id, phase),
            tasks: Vec::new(),
        }
    }

    /// Starts a task: its row (status `running`) is committed at once.
    pub async fn start(&mut self, spec: TaskSpec) -> Result<TaskHandle, sqlx::Error> {
        let task_id = Uuid::new_v4().to_string();
        let mut tx = modernize_db::tenant::begin(&self.pool, self.scope())
            .await
            .map_err(db_error)?;
        let (created_at,): (DateTime<Utc>,) = sqlx::query_as(
            "INSERT INTO migration.agent_task_history \
                 (task_id, parent_task_id, flow_id, flow_type, master_flow_id, client_account_id, \
                  agent_name, agent_type, agent_version, task_type, task_description, input_data, \
                  status, started_at) \
             VALUES ($1, $2, $3, $4, $3, $5, $6, $7, $8, $9, $10, $11, 'running', now()) \
             RETURNING created_at",
        )
        .bind(&task_id)
        .bind(&self.parent_task_id)
        .bind(self.flow_id)
        .bind(&self.flow_type)
        .bind(self.client)
        .bind(&spec.agent_name)
        .bind(&spec.agent_type)
        .bind(&spec.agent_version)
        .bind(&spec.task_type)
        .bind(&spec.description)
        .bind(&spec.input)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.tasks.push(Tracked {
            task_id,
            created_at,
            started: Instant::now(),
            result: None,
        });
        Ok(TaskHandle(self.tasks.len() - 1))
    }

    /// The task succeeded (recorded as `completed` if its phase completes).
    pub fn succeed(&mut self, task: TaskHandle, outcome: TaskOutcome) {
        let t = &mut self.tasks[task.0];
        let secs = t.started.elapsed().as_secs_f64();
        t.result = Some((true, outcome, None, secs));
    }

    /// The task failed.
    pub fn fail(&mut self, task: TaskHandle, error: impl Into<String>, outcome: TaskOutcome) {
        let t = &mut self.tasks[task.0];
        let secs = t.started.elapsed().as_secs_f64();
        t.result = Some((false, outcome, Some(error.into()), secs));
    }

    /// The task ids of this run (`agent_task_history.task_id`).
    pub fn task_ids(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.task_id.clone()).collect()
    }

    /// Writes the outcomes on `conn`: `kept` is whether the run's results count (the phase
    /// completed): succeeded tasks become `completed`, else `rolled_back`.
    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        kept: bool,
    ) -> Result<(), sqlx::Error> {
        for t in &self.tasks {
            let (status, outcome, error, secs) = match &t.result {
                Some((true, o, _, s)) => (
                    if kept { "completed" } else { "rolled_back" },
                    Some(o),
                    None,
                    Some(*s),
                ),
                Some((false, o, e, s)) => ("failed", Some(o), e.clone(), Some(*s)),
                None => ("interrupted", None, None, None),
            };
            sqlx::query(
                "UPDATE migration.agent_task_history SET status = $3, completed_at = now(), \
                        duration_seconds = $4, output_data = coalesce($5, output_data), \
                        error_message = $6, tokens_used = $7, api_calls_made = $8, \
                        memory_used_mb = $9 \
                  WHERE task_id = $1 AND created_at = $2",
            )
            .bind(&t.task_id)
            .bind(t.created_at)
            .bind(status)
            .bind(secs)
            .bind(outcome.map(|o| o.output.clone()))
            .bind(error)
            .bind(outcome.and_then(|o| o.tokens_used))
            .bind(outcome.and_then(|o| o.api_calls_made))
            .bind(outcome.and_then(|o| o.memory_used_mb))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// [`write`](Self::write) in a transaction of its own.
    pub(crate) async fn write_alone(&self, kept: bool) -> Result<(), sqlx::Error> {
        let mut tx = modernize_db::tenant::begin(&self.pool, self.scope())
            .await
            .map_err(db_error)?;
        self.write(&mut tx, kept).await?;
        tx.commit().await
    }

    fn scope(&self) -> TenantScope {
        TenantScope::Client {
            client_account_id: ClientAccountId(self.client),
            user_id: None,
        }
    }
}

pub(crate) fn parent_task_id(flow_id: Uuid, phase: &str) -> String {
    format!("{flow_id}/{phase}")
}

/// Marks the rows of earlier runs of a phase still `running` as `interrupted`.
pub(crate) async fn mark_interrupted(
    conn: &mut PgConnection,
    flow_id: Uuid,
    phase: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE migration.agent_task_history SET status = 'interrupted', completed_at = now() \
          WHERE master_flow_id = $1 AND parent_task_id = $2 AND status = 'running'",
    )
    .bind(flow_id)
    .bind(parent_task_id(flow_id, phase))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

fn db_error(e: modernize_db::DbError) -> sqlx::Error {
    match e {
        modernize_db::DbError::Sql(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}
