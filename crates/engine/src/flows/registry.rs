//! Flow types and the step handlers of their phases.

use super::tracking::TaskTracker;
use modernize_domain::flow::FlowType;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

/// Why a step failed. Retryable failures are retried by the queue (with backoff) until the
/// job's attempts are used up; then, and for permanent failures, the phase and the flow fail
/// (a user may retry the phase).
#[derive(Debug, Clone)]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
}

impl StepError {
    pub fn retryable(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: true,
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: false,
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a step knows about the phase it runs, and the task tracker it records agent tasks with.
#[derive(Debug)]
pub struct StepContext {
    pub flow_id: Uuid,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub flow_type: String,
    pub phase: String,
    /// The flow's `config`.
    pub config: serde_json::Value,
    /// Attempt of the phase job, from 1.
    pub attempt: i32,
    pub tasks: TaskTracker,
    /// When this run follows the approval of a decision gate of this phase (see
    /// [`StepContext::await_decision`]): the user who approved the latest one.
    pub approved_by: Option<Uuid>,
    pub(crate) pool: PgPool,
    pub(crate) decision: Option<String>,
    pub(crate) output: Option<serde_json::Value>,
}

impl StepContext {
    /// The runtime pool (row-level security applies: open transactions with
    /// `modernize_db::tenant::begin` in the flow's client scope).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Asks for a user's decision before the phase can complete. When the step then returns
    /// `Ok`, the phase waits for approval (`waiting_for_approval`, an approval gate with this
    /// reason, which is also the flow's `waiting_reason`); approving it runs this phase's step
    /// again (with [`approved_by`](Self::approved_by) set), rejecting it fails the phase and
    /// the flow. A step returning an error fails as usual.
    pub fn await_decision(&mut self, reason: impl Into<String>) {
        self.decision = Some(reason.into());
    }

    /// The reason given to [`await_decision`](Self::await_decision) in this run, if any.
    pub fn awaited_decision(&self) -> Option<&str> {
        self.decision.as_deref()
    }

    /// The phase's result, shown in the flow's `phase_results` under the phase name. Stored
    /// with the phase's outcome (when it completes or waits for a decision); a later run of
    /// the phase replaces it.
    pub fn set_output(&mut self, output: serde_json::Value) {
        self.output = Some(output);
    }
}

type BoxFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 'a>>;

/// The handler of one phase. Steps run at least once (a worker may die mid-step); everything a
/// step records through [`StepContext::tasks`] counts only if the phase completes.
pub trait Step: Send + Sync + 'static {
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a>;
}

impl<F> Step for F
where
    F: for<'a> Fn(&'a mut StepContext) -> BoxFuture<'a> + Send + Sync + 'static,
{
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a> {
        self(ctx)
    }
}

#[derive(Clone)]
struct PhaseEntry {
    step: Option<Arc<dyn Step>>,
    approval: bool,
}

#[derive(Clone)]
struct TypeEntry {
    phases: Vec<(String, PhaseEntry)>,
}

/// Flow types with their phases, and the step of each phase where one exists.
#[derive(Clone, Default)]
pub struct FlowRegistry {
    types: BTreeMap<String, TypeEntry>,
}

impl fmt::Debug for FlowRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowRegistry")
            .field("types", &self.types.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FlowRegistry {
    pub fn new() -> Self {
        FlowRegistry::default()
    }

    /// The product flow types (discovery, collection, assessment, planning, execution) with
    /// their phases and **no steps**: their real steps arrive with the features that implement
    /// them. A flow of these types starts and then waits at its first phase, reported as
    /// `waiting_reason`; nothing pretends to do work.
    pub fn product() -> Self {
        let mut r = FlowRegistry::new();
        for t in FlowType::ALL {
            r.add_type(t.as_str(), t.phases());
        }
        r
    }

    /// Declares a flow type with its phases in order (without steps).
    pub fn add_type(&mut self, flow_type: &str, phases: &[&str]) -> &mut Self {
        self.types.insert(
            flow_type.to_string(),
            TypeEntry {
                phases: phases
                    .iter()
                    .map(|p| {
                        (
                            p.to_string(),
                            PhaseEntry {
                                step: None,
                                approval: false,
                            },
                        )
                    })
                    .collect(),
            },
        );
        self
    }

    /// Registers the step of `phase`; with `approval`, the phase waits for a user's decision
    /// after its step succeeded.
    ///
    /// # Panics
    /// When the type or phase is not declared.
    pub fn set_step(
        &mut self,
        flow_type: &str,
        phase: &str,
        step: impl Step,
        approval: bool,
    ) -> &mut Self {
        let entry = self
            .types
            .get_mut(flow_type)
            .and_then(|t| t.phases.iter_mut().find(|(p, _)| p == phase))
            .unwrap_or_else(|| panic!("phase {flow_type}/{phase} is not declared"));
        entry.1 = PhaseEntry {
            step: Some(Arc::new(step)),
            approval,
        };
        self
    }

    pub fn has_type(&self, flow_type: &str) -> bool {
        self.types.contains_key(flow_type)
    }

    pub fn type_names(&self) -> Vec<String> {
        self.types.keys().cloned().collect()
    }

    /// The phases of a flow type, in order.
    pub fn phases(&self, flow_type: &str) -> Option<Vec<String>> {
        self.types
            .get(flow_type)
            .map(|t| t.phases.iter().map(|(p, _)| p.clone()).collect())
    }

    pub(crate) fn step(&self, flow_type: &str, phase: &str) -> Option<Arc<dyn Step>> {
        self.entry(flow_type, phase).and_then(|e| e.step.clone())
    }

    pub(crate) fn needs_approval(&self, flow_type: &str, phase: &str) -> bool {
        self.entry(flow_type, phase).is_some_and(|e| e.approval)
    }

    fn entry(&self, flow_type: &str, phase: &str) -> Option<&PhaseEntry> {
        self.types
            .get(flow_type)?
            .phases
            .iter()
            .find(|(p, _)| p == phase)
            .map(|(_, e)| e)
    }
}
