//! The queue job `flow.run_phase`: runs the step of a flow's current phase and advances the
//! flow.
//!
//! A job carries the flow id and a run id; it is a no-op unless the flow is `running` and
//! still waits for that run (`crewai_flow_state_extensions.phase_run_id`): pausing, cancelling
//! or resuming a flow makes older runs obsolete. The step's results (its agent tasks as
//! `completed`, the phase's completion, the next phase's job) commit in the job's
//! transaction, together with the job's success, so they count exactly once even when a
//! worker dies mid-step and the job runs again.

use super::FlowError;
use super::registry::{FlowRegistry, StepContext};
use super::store::{Actor, Locked};
use super::tracking::{self, TaskTracker};
use crate::queue::{Job, JobContext, JobError, RetryPolicy};
use modernize_domain::flow::{FlowEvent, FlowStatus, PhaseStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The input of a `flow.run_phase` job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunPhaseInput {
    pub flow_id: Uuid,
    pub run_id: Uuid,
}

/// The `flow.run_phase` job kind, with the flow types and steps this worker knows.
#[derive(Debug, Clone)]
pub struct RunPhase {
    registry: Arc<FlowRegistry>,
}

impl RunPhase {
    pub fn new(registry: FlowRegistry) -> Self {
        RunPhase {
            registry: Arc::new(registry),
        }
    }
}

impl Job for RunPhase {
    type Input = RunPhaseInput;
    const KIND: &'static str = "flow.run_phase";
    const MAX_ATTEMPTS: i32 = 3;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(200),
            max: Duration::from_secs(30),
            jitter: 0.25,
        }
    }

    async fn run(&self, input: RunPhaseInput, ctx: &mut JobContext) -> Result<(), JobError> {
        let client = ctx
            .client_account_id()
            .ok_or_else(|| JobError::permanent("flow.run_phase needs a client"))?
            .0;
        let engine = Actor::engine();
        // 1. Claim the phase run: check it is still wanted, mark the phase running.
        let mut tx = modernize_db::tenant::begin(ctx.pool(), ctx.scope()).await?;
        let mut flow = match Locked::lock(&mut tx, client, input.flow_id).await {
            Ok(flow) => flow,
            Err(FlowError::NotFound) => return Ok(()),
            Err(e) => return Err(JobError::retryable(e.to_string())),
        };
        if flow.status != FlowStatus::Running || flow.phase_run_id != Some(input.run_id) {
            return Ok(()); // obsolete run
        }
        let phase = flow.current_phase.clone().unwrap_or_default();
        let Some(step) = self.registry.step(&flow.flow_type, &phase) else {
            flow.set_waiting_reason(Some(format!(
                "no step is registered for phase {phase} of flow type {}; the flow waits here",
                flow.flow_type
            )));
            flow.save(&mut tx).await.map_err(to_job)?;
            tx.commit().await?;
            return Ok(());
        };
        tracking::mark_interrupted(&mut tx, input.flow_id, &phase).await?;
        match flow.current_status() {
            Some(PhaseStatus::Pending) => {
                flow.phase_to(&phase, PhaseStatus::Running, &engine, "phase started")
                    .map_err(to_job)?;
            }
            Some(PhaseStatus::Running) => {
                flow.phase_to(&phase, PhaseStatus::Running, &engine, "phase restarted")
                    .map_err(to_job)?;
            }
            _ => return Ok(()),
        }
        let (engagement_id, flow_type, config) = (
            flow.engagement_id,
            flow.flow_type.clone(),
            flow.config.clone(),
        );
        flow.save(&mut tx).await.map_err(to_job)?;
        // After an approved decision gate of this phase, the step learns who approved it.
        let approved_by: Option<(Option<Uuid>,)> = sqlx::query_as(
            "SELECT decided_by FROM migration.flow_approvals \
              WHERE flow_id = $1 AND client_account_id = $2 AND phase = $3 \
                AND gate = 'decision' AND decision = 'approve' \
              ORDER BY decided_at DESC LIMIT 1",
        )
        .bind(input.flow_id)
        .bind(client)
        .bind(&phase)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;

        // 2. Run the step.
        let mut step_ctx = StepContext {
            flow_id: input.flow_id,
            client_account_id: client,
            engagement_id,
            flow_type: flow_type.clone(),
            phase: phase.clone(),
            config,
            attempt: ctx.attempt(),
            tasks: TaskTracker::new(
                ctx.pool().clone(),
                client,
                input.flow_id,
                &flow_type,
                &phase,
            ),
            approved_by: approved_by.and_then(|r| r.0),
            pool: ctx.pool().clone(),
            decision: None,
            output: None,
        };
        let result = step.run(&mut step_ctx).await;
        let decision = step_ctx.decision.take();
        let output = step_ctx.output.take();
        let tracker = step_ctx.tasks;

        // 3. Record the outcome.
        if let Err(e) = &result
            && e.retryable
            && ctx.attempt() < Self::MAX_ATTEMPTS
        {
            tracker.write_alone(false).await?;
            return Err(JobError::retryable(e.message.clone()));
        }
        let approval = self.registry.needs_approval(&flow_type, &phase);
        let tx = ctx.transaction().await?;
        let mut flow = Locked::lock(tx, client, input.flow_id)
            .await
            .map_err(to_job)?;
        let current = flow.status == FlowStatus::Running
            && flow.phase_run_id == Some(input.run_id)
            && flow.current_phase.as_deref() == Some(phase.as_str());
        if !current {
            // Paused, cancelled or superseded meanwhile: the run's results do not count.
            tracker.write(tx, false).await?;
            return Ok(());
        }
        match result {
            Ok(()) => {
                // A run asking for a decision counts: its tasks are completed, its output kept.
                tracker.write(tx, true).await?;
                if let Some(output) = output {
                    flow.set_phase_result(&phase, output);
                }
                if let Some(reason) = decision {
                    open_gate(tx, &mut flow, &phase, "decision", Some(reason)).await?;
                } else if approval {
                    open_gate(tx, &mut flow, &phase, "after_step", None).await?;
                } else {
                    flow.phase_to(&phase, PhaseStatus::Completed, &engine, "step completed")
                        .map_err(to_job)?;
                    flow.advance(tx, &engine).await.map_err(to_job)?;
                }
            }
            Err(e) => {
                tracker.write(tx, false).await?;
                flow.phase_to(&phase, PhaseStatus::Failed, &engine, &e.message)
                    .map_err(to_job)?;
                flow.flow_event(FlowEvent::Fail, &engine, &e.message)
                    .map_err(to_job)?;
                flow.phase_run_id = None;
            }
        }
        flow.save(tx).await.map_err(to_job)?;
        Ok(())
    }
}

/// Opens an approval gate on `phase`: `after_step` (the phase's static gate: approving
/// completes the phase) or `decision` (asked for by the step: approving runs the step again).
async fn open_gate(
    conn: &mut sqlx::PgConnection,
    flow: &mut Locked,
    phase: &str,
    gate: &str,
    reason: Option<String>,
) -> Result<(), JobError> {
    let engine = Actor::engine();
    let why = match &reason {
        Some(r) => format!("decision required: {r}"),
        None => "step done; waiting for approval".into(),
    };
    flow.phase_to(phase, PhaseStatus::WaitingForApproval, &engine, &why)
        .map_err(to_job)?;
    flow.flow_event(
        FlowEvent::AwaitApproval,
        &engine,
        reason.as_deref().unwrap_or("approval required"),
    )
    .map_err(to_job)?;
    flow.phase_run_id = None;
    sqlx::query(
        "INSERT INTO migration.flow_approvals (flow_id, client_account_id, phase, gate, reason) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(flow.flow_id)
    .bind(flow.client)
    .bind(phase)
    .bind(gate)
    .bind(&reason)
    .execute(&mut *conn)
    .await?;
    flow.events.push((
        "approval_requested".into(),
        json!({"phase": phase, "gate": gate, "reason": reason}),
    ));
    if reason.is_some() {
        flow.set_waiting_reason(reason);
    }
    Ok(())
}

fn to_job(e: FlowError) -> JobError {
    match e {
        FlowError::Illegal(e) => JobError::permanent(e.to_string()),
        other => JobError::retryable(other.to_string()),
    }
}
