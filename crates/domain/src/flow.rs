//! Flows: the one flow state machine and the one phase state machine used by every flow type,
//! and the flow types with their phases.
//!
//! A master flow (`crewai_flow_state_extensions`) orchestrates child flows (discovery,
//! collection, assessment, planning, execution). Each child flow walks its phases in order.
//! Status names are the same in the database, the API and the code: `as_str` is the only
//! spelling.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Status of a flow (master or child).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    Initialized,
    Running,
    Paused,
    WaitingForApproval,
    Completed,
    Failed,
    Cancelled,
}

/// Status of one phase of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    Pending,
    Running,
    WaitingForApproval,
    Completed,
    Failed,
    Skipped,
}

/// What someone (a user, a worker) asks of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowEvent {
    Start,
    Pause,
    Resume,
    AwaitApproval,
    Approve,
    Reject,
    Complete,
    Fail,
    Cancel,
    RetryPhase,
}

/// A transition the state machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} a flow that is {from}")]
pub struct IllegalTransition {
    pub from: String,
    pub event: String,
}

impl FlowStatus {
    pub const ALL: [FlowStatus; 7] = [
        FlowStatus::Initialized,
        FlowStatus::Running,
        FlowStatus::Paused,
        FlowStatus::WaitingForApproval,
        FlowStatus::Completed,
        FlowStatus::Failed,
        FlowStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Initialized => "initialized",
            FlowStatus::Running => "running",
            FlowStatus::Paused => "paused",
            FlowStatus::WaitingForApproval => "waiting_for_approval",
            FlowStatus::Completed => "completed",
            FlowStatus::Failed => "failed",
            FlowStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<FlowStatus> {
        FlowStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// No event leaves a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(self, FlowStatus::Completed | FlowStatus::Cancelled)
    }

    /// The flow state machine: the status after `event`, or why it is refused.
    pub fn apply(self, event: FlowEvent) -> Result<FlowStatus, IllegalTransition> {
        use FlowEvent as E;
        use FlowStatus as S;
        let next = match (self, event) {
            (S::Initialized, E::Start) => S::Running,
            (S::Running, E::Pause) | (S::WaitingForApproval, E::Pause) => S::Paused,
            (S::Paused, E::Resume) => S::Running,
            (S::Running, E::AwaitApproval) => S::WaitingForApproval,
            (S::WaitingForApproval, E::Approve) => S::Running,
            (S::WaitingForApproval, E::Reject) => S::Failed,
            (S::Running, E::Complete) => S::Completed,
            (S::Running, E::Fail) | (S::WaitingForApproval, E::Fail) => S::Failed,
            (S::Failed, E::RetryPhase) => S::Running,
            (s, E::Cancel) if !s.is_terminal() => S::Cancelled,
            (from, event) => {
                return Err(IllegalTransition {
                    from: from.as_str().into(),
                    event: event.as_str().into(),
                });
            }
        };
        Ok(next)
    }
}

impl FlowEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowEvent::Start => "start",
            FlowEvent::Pause => "pause",
            FlowEvent::Resume => "resume",
            FlowEvent::AwaitApproval => "await_approval",
            FlowEvent::Approve => "approve",
            FlowEvent::Reject => "reject",
            FlowEvent::Complete => "complete",
            FlowEvent::Fail => "fail",
            FlowEvent::Cancel => "cancel",
            FlowEvent::RetryPhase => "retry_phase",
        }
    }
}

impl PhaseStatus {
    pub const ALL: [PhaseStatus; 6] = [
        PhaseStatus::Pending,
        PhaseStatus::Running,
        PhaseStatus::WaitingForApproval,
        PhaseStatus::Completed,
        PhaseStatus::Failed,
        PhaseStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Pending => "pending",
            PhaseStatus::Running => "running",
            PhaseStatus::WaitingForApproval => "waiting_for_approval",
            PhaseStatus::Completed => "completed",
            PhaseStatus::Failed => "failed",
            PhaseStatus::Skipped => "skipped",
        }
    }

    pub fn parse(value: &str) -> Option<PhaseStatus> {
        PhaseStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Whether the phase is done (its flow may move on).
    pub fn is_done(self) -> bool {
        matches!(self, PhaseStatus::Completed | PhaseStatus::Skipped)
    }

    /// The phase state machine.
    pub fn can_become(self, next: PhaseStatus) -> bool {
        use PhaseStatus as P;
        matches!(
            (self, next),
            (P::Pending, P::Running)
                | (P::Pending, P::Skipped)
                | (P::Running, P::WaitingForApproval)
                | (P::Running, P::Completed)
                | (P::Running, P::Failed)
                | (P::WaitingForApproval, P::Running)
                | (P::WaitingForApproval, P::Completed)
                | (P::WaitingForApproval, P::Failed)
                // Retrying a failed phase starts it again.
                | (P::Failed, P::Running)
                // A phase interrupted by a crash or a pause is started again.
                | (P::Running, P::Running)
        )
    }

    /// Checked transition.
    pub fn become_(self, next: PhaseStatus) -> Result<PhaseStatus, IllegalTransition> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(IllegalTransition {
                from: self.as_str().into(),
                event: format!("move a phase to {}", next.as_str()),
            })
        }
    }
}

impl fmt::Display for FlowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PhaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of child flow, in the order a master flow runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowType {
    Discovery,
    Collection,
    Assessment,
    Planning,
    Execution,
}

impl FlowType {
    pub const ALL: [FlowType; 5] = [
        FlowType::Discovery,
        FlowType::Collection,
        FlowType::Assessment,
        FlowType::Planning,
        FlowType::Execution,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlowType::Discovery => "discovery",
            FlowType::Collection => "collection",
            FlowType::Assessment => "assessment",
            FlowType::Planning => "planning",
            FlowType::Execution => "execution",
        }
    }

    pub fn parse(value: &str) -> Option<FlowType> {
        FlowType::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The phases of this flow type, in order. Discovery's are those of the schema design's
    /// `discovery_flows.phases` document.
    pub fn phases(self) -> &'static [&'static str] {
        match self {
            FlowType::Discovery => &[
                "initialization",
                "agent_loading",
                "environment_scanning",
                "data_collection",
                "analysis",
                "reporting",
            ],
            FlowType::Collection => &[
                "initialization",
                "gap_analysis",
                "questionnaire_generation",
                "response_collection",
                "validation",
                "finalization",
            ],
            FlowType::Assessment => &[
                "initialization",
                "technical_debt_analysis",
                "complexity_analysis",
                "risk_assessment",
                "strategy_recommendation",
                "review",
            ],
            FlowType::Planning => &[
                "initialization",
                "dependency_analysis",
                "wave_planning",
                "capacity_balancing",
                "review",
            ],
            FlowType::Execution => &[
                "initialization",
                "pre_migration",
                "migration",
                "validation",
                "decommission",
            ],
        }
    }

    /// The phase after `phase`, or `None` after the last one (or for an unknown phase).
    pub fn next_phase(self, phase: &str) -> Option<&'static str> {
        let phases = self.phases();
        let at = phases.iter().position(|p| *p == phase)?;
        phases.get(at + 1).copied()
    }
}

/// Progress in percent: done phases over all phases, with a running phase counting half.
pub fn progress_percent(phases: &[PhaseStatus]) -> f64 {
    if phases.is_empty() {
        return 0.0;
    }
    let done: f64 = phases
        .iter()
        .map(|p| match p {
            p if p.is_done() => 1.0,
            PhaseStatus::Running | PhaseStatus::WaitingForApproval => 0.5,
            _ => 0.0,
        })
        .sum();
    (done * 1000.0 / phases.len() as f64).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use FlowEvent as E;
    use FlowStatus as S;

    #[test]
    fn the_happy_path_with_a_pause_and_an_approval() {
        let mut s = S::Initialized;
        for (event, expected) in [
            (E::Start, S::Running),
            (E::Pause, S::Paused),
            (E::Resume, S::Running),
            (E::AwaitApproval, S::WaitingForApproval),
            (E::Approve, S::Running),
            (E::Complete, S::Completed),
        ] {
            s = s.apply(event).unwrap();
            assert_eq!(s, expected);
        }
    }

    #[test]
    fn illegal_transitions_are_refused_with_a_clear_message() {
        let err = S::Completed.apply(E::Resume).unwrap_err();
        assert_eq!(err.to_string(), "cannot resume a flow that is completed");
        assert!(S::Cancelled.apply(E::Cancel).is_err());
        assert!(S::Initialized.apply(E::Pause).is_err());
        assert!(S::Running.apply(E::Resume).is_err());
        assert!(S::Paused.apply(E::Complete).is_err());
        assert!(S::Running.apply(E::RetryPhase).is_err());
        assert_eq!(S::Failed.apply(E::RetryPhase).unwrap(), S::Running);
        assert_eq!(S::WaitingForApproval.apply(E::Reject).unwrap(), S::Failed);
        // Every non-terminal status can be cancelled; terminal ones accept nothing.
        for s in S::ALL {
            assert_eq!(s.apply(E::Cancel).is_ok(), !s.is_terminal(), "{s}");
        }
        for event in [
            E::Start,
            E::Pause,
            E::Resume,
            E::Approve,
            E::Complete,
            E::Fail,
            E::RetryPhase,
        ] {
            assert!(S::Completed.apply(event).is_err());
        }
    }

    #[test]
    fn names_round_trip_and_are_the_serde_names() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for p in PhaseStatus::ALL {
            assert_eq!(PhaseStatus::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for t in FlowType::ALL {
            assert_eq!(FlowType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn phases_walk_in_order() {
        assert_eq!(FlowType::Discovery.phases().len(), 6);
        assert_eq!(
            FlowType::Discovery.next_phase("initialization"),
            Some("agent_loading")
        );
        assert_eq!(FlowType::Discovery.next_phase("reporting"), None);
        assert_eq!(FlowType::Discovery.next_phase("nonsense"), None);
        for t in FlowType::ALL {
            assert_eq!(t.phases()[0], "initialization", "{t:?}");
        }
    }

    #[test]
    fn phase_machine() {
        use PhaseStatus as P;
        assert!(P::Pending.can_become(P::Running));
        assert!(P::Failed.can_become(P::Running));
        assert!(!P::Completed.can_become(P::Running));
        assert!(!P::Pending.can_become(P::Completed));
        assert!(P::Skipped.become_(P::Running).is_err());
    }

    #[test]
    fn progress() {
        use PhaseStatus as P;
        assert_eq!(progress_percent(&[]), 0.0);
        assert_eq!(
            progress_percent(&[P::Completed, P::Completed, P::Running, P::Pending]),
            62.5
        );
        assert_eq!(progress_percent(&[P::Completed, P::Skipped]), 100.0);
    }
}
