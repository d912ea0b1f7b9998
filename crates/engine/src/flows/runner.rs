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
        };
        let result = step.run(&mut step_ctx).await;
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
                tracker.write(tx, true).await?;
                if approval {
                    flow.phase_to(
                        &phase,
                        PhaseStatus::WaitingForApproval,
                        &engine,
                        "step done; waiting for approval",
                    )
                    .map_err(to_job)?;
                    flow.flow_event(FlowEvent::AwaitApproval, &engine, "approval required")
                        .map_err(to_job)?;
                    flow.phase_run_id = None;
                    sqlx::query(
                        "INSERT INTO migration.flow_approvals (flow_id, client_account_id, phase) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(input.flow_id)
                    .bind(client)
                    .bind(&phase)
                    .execute(&mut **tx)
                    .await?;
                    flow.events
                        .push(("approval_requested".into(), json!({"phase": phase})));
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

fn to_job(e: FlowError) -> JobError {
    match e {
        FlowError::Illegal(e) => JobError::permanent(e.to_string()),
        other => JobError::retryable(other.to_string()),
    }
}
