//! Flows in the database: creation (master + child in one transaction) and transitions.
//!
//! Every operation locks the master row (`SELECT … FOR UPDATE`), applies the flow state
//! machine ([`FlowStatus::apply`]) and the phase state machine ([`PhaseStatus::become_`]),
//! appends one `phase_history` entry per change (`{kind, from, to, phase, at, by, reason}`),
//! writes master and child (status, current_phase, phases) together, and appends a flow event,
//! all on the caller's connection: the caller's transaction makes it atomic.

use super::FlowError;
use super::events;
use super::runner::{RunPhase, RunPhaseInput};
use crate::queue;
use chrono::{DateTime, Utc};
use modernize_domain::flow::{FlowEvent, FlowStatus, FlowType, PhaseStatus, progress_percent};
use modernize_domain::ids::ClientAccountId;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

/// Who causes a transition: a user (by id) or the engine.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    pub fn user(id: Uuid) -> Actor {
        Actor(format!("user:{id}"))
    }
    pub fn engine() -> Actor {
        Actor("engine".into())
    }
}

/// A flow to create.
#[derive(Debug, Clone)]
pub struct NewFlow {
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    /// The creating user (`discovery_flows.user_id` is required).
    pub user_id: Uuid,
    /// The flow type's name (a product [`FlowType`] or a test-only type).
    pub flow_type: String,
    /// Which child table holds the child flow.
    pub child: FlowType,
    /// The phases, in order.
    pub phases: Vec<String>,
    pub display_name: Option<String>,
    pub config: Value,
}

/// The child table of each kind of child flow.
pub fn child_table(kind: FlowType) -> &'static str {
    match kind {
        FlowType::Discovery => "discovery_flows",
        FlowType::Collection => "collection_flows",
        FlowType::Assessment => "assessment_flows",
        FlowType::Planning => "planning_flows",
        FlowType::Execution => "execution_flows",
    }
}

fn has_progress_column(kind: FlowType) -> bool {
    matches!(
        kind,
        FlowType::Collection | FlowType::Planning | FlowType::Execution
    )
}

/// Creates the master flow and its child in one statement sequence on `conn`, and starts it:
/// the flow is `running`, its first phase `pending` with a `flow.run_phase` job enqueued.
pub async fn create(
    conn: &mut PgConnection,
    new: &NewFlow,
    actor: &Actor,
) -> Result<Uuid, FlowError> {
    let flow_id = Uuid::new_v4();
    let child_id = Uuid::new_v4();
    let kind = new.child;
    let table = child_table(kind);
    let phases_json = phases_json(
        &new.phases
            .iter()
            .map(|p| (p.clone(), PhaseStatus::Pending))
            .collect::<Vec<_>>(),
    );
    sqlx::query(
        "INSERT INTO migration.crewai_flow_state_extensions
             (flow_id, flow_type, client_account_id, engagement_id, display_name, config,
              current_phase, child_flows, status, created_by, crew_ai_state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'initialized', $9, $10)",
    )
    .bind(flow_id)
    .bind(&new.flow_type)
    .bind(new.client_account_id)
    .bind(new.engagement_id)
    .bind(&new.display_name)
    .bind(&new.config)
    .bind(new.phases.first())
    .bind(json!({ kind.as_str(): child_id }))
    .bind(new.user_id)
    .bind(json!({ "phase_order": new.phases }))
    .execute(&mut *conn)
    .await?;
    // The child's flow_id is the master's: one public identifier per flow. Only discovery
    // flows record their user.
    let (user_column, user_value) = if kind == FlowType::Discovery {
        (", user_id", ", $7")
    } else {
        ("", "")
    };
    let sql = format!(
        "INSERT INTO migration.{table} (id, flow_id, master_flow_id, client_account_id, \
         engagement_id, status, current_phase, phases{user_column}) \
         VALUES ($1, $2, $2, $3, $4, 'initialized', $5, $6{user_value})"
    );
    let mut insert = sqlx::query(&sql)
        .bind(child_id)
        .bind(flow_id)
        .bind(new.client_account_id)
        .bind(new.engagement_id)
        .bind(new.phases.first())
        .bind(phases_json);
    if kind == FlowType::Discovery {
        insert = insert.bind(new.user_id);
    }
    insert.execute(&mut *conn).await?;
    events::append(
        conn,
        new.client_account_id,
        flow_id,
        "created",
        json!({"flow_type": new.flow_type, "phases": new.phases, "by": actor.0}),
    )
    .await?;
    let mut flow = Locked::lock(conn, new.client_account_id, flow_id).await?;
    flow.flow_event(FlowEvent::Start, actor, "flow created")?;
    flow.schedule_current(conn).await?;
    flow.save(conn).await?;
    Ok(flow_id)
}

/// Pauses a running flow (or one waiting for approval). A phase step in progress finishes,
/// but its results are discarded; on resume the phase runs again.
pub async fn pause(
    conn: &mut PgConnection,
    client: Uuid,
    flow_id: Uuid,
    actor: &Actor,
    reason: &str,
) -> Result<(), FlowError> {
    let mut flow = Locked::lock(conn, client, flow_id).await?;
    flow.flow_event(FlowEvent::Pause, actor, reason)?;
    flow.phase_run_id = None;
    flow.save(conn).await
}

/// Resumes a paused flow: the current phase runs (again), or waits for its approval again.
pub async fn resume(
    conn: &mut PgConnection,
    client: Uuid,
    flow_id: Uuid,
    actor: &Actor,
    reason: &str,
) -> Result<(), FlowError> {
    let mut flow = Locked::lock(conn, client, flow_id).await?;
    flow.flow_event(FlowEvent::Resume, actor, reason)?;
    if flow.current_status() == Some(PhaseStatus::WaitingForApproval) {
        flow.flow_event(
            FlowEvent::AwaitApproval,
            actor,
            "the phase waits for approval",
        )?;
    } else {
        flow.schedule_current(conn).await?;
    }
    flow.save(conn).await
}

/// Cancels a flow that is not finished.
pub async fn cancel(
    conn: &mut PgConnection,
    client: Uuid,
    flow_id: Uuid,
    actor: &Actor,
    reason: &str,
) -> Result<(), FlowError> {
    let mut flow = Locked::lock(conn, client, flow_id).await?;
    flow.flow_event(FlowEvent::Cancel, actor, reason)?;
    flow.phase_run_id = None;
    flow.set_waiting_reason(None);
    sqlx::query(
        "UPDATE migration.flow_approvals SET decided_at = now(), decision = 'reject', \
                comment = 'flow cancelled' \
          WHERE flow_id = $1 AND client_account_id = $2 AND decided_at IS NULL",
    )
    .bind(flow_id)
    .bind(client)
    .execute(&mut *conn)
    .await?;
    flow.save(conn).await
}

/// Retries the failed phase of a failed flow.
pub async fn retry_phase(
    conn: &mut PgConnection,
    client: Uuid,
    flow_id: Uuid,
    actor: &Actor,
    reason: &str,
) -> Result<(), FlowError> {
    let mut flow = Locked::lock(conn, client, flow_id).await?;
    flow.flow_event(FlowEvent::RetryPhase, actor, reason)?;
    let phase = flow.current_phase.clone().unwrap_or_default();
    if flow.current_status() == Some(PhaseStatus::Failed) {
        flow.phase_to(&phase, PhaseStatus::Running, actor, reason)?;
    }
    flow.schedule_current(conn).await?;
    flow.save(conn).await
}

/// Records a user's decision on the pending approval of a flow. Approve a phase's static gate
/// (`after_step`): the phase completes and the flow moves on. Approve a gate the step asked for
/// (`decision`): the same phase runs again (new run id, job enqueued). Reject: the phase and
/// the flow fail.
pub async fn decide_approval(
    conn: &mut PgConnection,
    client: Uuid,
    flow_id: Uuid,
    user_id: Uuid,
    approve: bool,
    comment: Option<&str>,
) -> Result<(), FlowError> {
    let actor = Actor::user(user_id);
    let mut flow = Locked::lock(conn, client, flow_id).await?;
    let event = if approve {
        FlowEvent::Approve
    } else {
        FlowEvent::Reject
    };
    let reason = comment.unwrap_or(if approve { "approved" } else { "rejected" });
    flow.flow_event(event, &actor, reason)?;
    let phase = flow.current_phase.clone().unwrap_or_default();
    let gate: Option<(String,)> = sqlx::query_as(
        "UPDATE migration.flow_approvals SET decided_at = now(), decided_by = $3, decision = $4, \
                comment = $5 \
          WHERE flow_id = $1 AND client_account_id = $2 AND decided_at IS NULL \
          RETURNING gate",
    )
    .bind(flow_id)
    .bind(client)
    .bind(user_id)
    .bind(if approve { "approve" } else { "reject" })
    .bind(comment)
    .fetch_optional(&mut *conn)
    .await?;
    let rerun = gate.is_some_and(|g| g.0 == "decision");
    flow.events.push((
        "approval_decided".into(),
        json!({"phase": phase, "decision": if approve { "approve" } else { "reject" },
               "by": actor.0, "comment": comment,
               "gate": if rerun { "decision" } else { "after_step" }}),
    ));
    flow.set_waiting_reason(None);
    if approve && rerun {
        flow.phase_to(&phase, PhaseStatus::Running, &actor, reason)?;
        flow.schedule_current(conn).await?;
    } else if approve {
        flow.phase_to(&phase, PhaseStatus::Completed, &actor, reason)?;
        flow.advance(conn, &actor).await?;
    } else {
        flow.phase_to(&phase, PhaseStatus::Failed, &actor, reason)?;
    }
    flow.save(conn).await
}

/// A flow as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FlowView {
    pub flow_id: Uuid,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub flow_type: String,
    pub display_name: Option<String>,
    pub status: String,
    pub current_phase: Option<String>,
    pub phases: Vec<PhaseView>,
    pub progress_percent: f64,
    pub pending_approval: Option<ApprovalView>,
    pub approvals: Vec<ApprovalView>,
    pub child_flows: Value,
    pub child_status: Option<String>,
    pub phase_history: Value,
    /// Why a running flow does not move: e.g. no step is registered for its current phase, or
    /// the decision its current phase waits for.
    pub waiting_reason: Option<String>,
    /// The phases' results (`StepContext::set_output`) by phase name.
    pub phase_results: Value,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseView {
    pub name: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApprovalView {
    pub phase: String,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    pub decision: Option<String>,
    pub comment: Option<String>,
    /// `after_step` (the phase's static gate) or `decision` (asked for by the step at run time).
    pub gate: String,
    /// Why the step asked for a decision.
    pub reason: Option<String>,
}

type MasterRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<Value>,
    Option<Value>,
    Option<Value>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Reads one flow (`engagement_id`: only if it belongs to that engagement).
///
/// The master row is read `FOR KEY SHARE`: a transition holds it `FOR UPDATE` while it writes
/// the master and child rows, so the read waits for that transition to commit (or keeps it
/// waiting until the reader's transaction ends). The master, child and approval reads that
/// follow therefore see one state, never a master that has not caught up with its child.
pub async fn get(
    conn: &mut PgConnection,
    client: Uuid,
    engagement_id: Option<Uuid>,
    flow_id: Uuid,
) -> Result<Option<FlowView>, FlowError> {
    let row: Option<MasterRow> = sqlx::query_as(
        "SELECT flow_id, client_account_id, engagement_id, flow_type, display_name, status, \
                current_phase, child_flows, phase_history, execution_metrics, created_at, \
                updated_at, completed_at \
           FROM migration.crewai_flow_state_extensions \
          WHERE flow_id = $1 AND client_account_id = $2 AND ($3::uuid IS NULL OR engagement_id = $3) \
          FOR KEY SHARE",
    )
    .bind(flow_id)
    .bind(client)
    .bind(engagement_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let child_flows = r.7.unwrap_or_else(|| json!({}));
    let (child_status, phases) = match child_kind(&child_flows) {
        Some(kind) => read_child(conn, kind, client, flow_id).await?,
        None => (None, Vec::new()),
    };
    let approvals: Vec<ApprovalView> = sqlx::query_as(
        "SELECT phase, requested_at, decided_at, decided_by, decision, comment, gate, reason \
           FROM migration.flow_approvals WHERE flow_id = $1 AND client_account_id = $2 \
          ORDER BY requested_at, id",
    )
    .bind(flow_id)
    .bind(client)
    .fetch_all(&mut *conn)
    .await?;
    let statuses: Vec<PhaseStatus> = phases.iter().map(|p| p.1).collect();
    Ok(Some(FlowView {
        flow_id: r.0,
        client_account_id: r.1,
        engagement_id: r.2,
        flow_type: r.3,
        display_name: r.4,
        status: r.5,
        current_phase: r.6,
        progress_percent: progress_percent(&statuses),
        phases: phases
            .into_iter()
            .map(|(name, status)| PhaseView {
                name,
                status: status.as_str().into(),
            })
            .collect(),
        pending_approval: approvals.iter().find(|a| a.decided_at.is_none()).cloned(),
        approvals,
        child_flows,
        child_status,
        phase_history: r.8.unwrap_or_else(|| json!([])),
        waiting_reason: r
            .9
            .as_ref()
            .and_then(|m| m.get("waiting_reason"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        phase_results: r
            .9
            .as_ref()
            .and_then(|m| m.get("phase_results"))
            .cloned()
            .unwrap_or_else(|| json!({})),
        created_at: r.10,
        updated_at: r.11,
        completed_at: r.12,
    }))
}

/// The flows of an engagement, newest first (without history).
pub async fn list(
    conn: &mut PgConnection,
    client: Uuid,
    engagement_id: Uuid,
) -> Result<Vec<FlowView>, FlowError> {
    let ids: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT flow_id FROM migration.crewai_flow_state_extensions \
          WHERE client_account_id = $1 AND engagement_id = $2 ORDER BY created_at DESC, flow_id",
    )
    .bind(client)
    .bind(engagement_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(mut v) = get(conn, client, Some(engagement_id), id).await? {
            v.phase_history = json!([]);
            out.push(v);
        }
    }
    Ok(out)
}

fn child_kind(child_flows: &Value) -> Option<FlowType> {
    child_flows
        .as_object()?
        .keys()
        .find_map(|k| FlowType::parse(k))
}

async fn read_child(
    conn: &mut PgConnection,
    kind: FlowType,
    client: Uuid,
    flow_id: Uuid,
) -> Result<(Option<String>, Vec<(String, PhaseStatus)>), FlowError> {
    let table = child_table(kind);
    let row: Option<(Option<String>, Option<Value>)> = sqlx::query_as(&format!(
        "SELECT status, phases FROM migration.{table} \
          WHERE master_flow_id = $1 AND client_account_id = $2"
    ))
    .bind(flow_id)
    .bind(client)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((status, phases)) = row else {
        return Ok((None, Vec::new()));
    };
    let mut list: Vec<(i64, String, PhaseStatus)> = phases
        .as_ref()
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(name, v)| {
                    (
                        v.get("order").and_then(Value::as_i64).unwrap_or(i64::MAX),
                        name.clone(),
                        v.get("status")
                            .and_then(Value::as_str)
                            .and_then(PhaseStatus::parse)
                            .unwrap_or(PhaseStatus::Pending),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    list.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok((status, list.into_iter().map(|(_, n, s)| (n, s)).collect()))
}

fn phases_json(phases: &[(String, PhaseStatus)]) -> Value {
    let mut o = serde_json::Map::new();
    for (i, (name, status)) in phases.iter().enumerate() {
        o.insert(name.clone(), json!({"status": status.as_str(), "order": i}));
    }
    Value::Object(o)
}

type LockRow = (
    Uuid,
    String,
    Option<Value>,
    String,
    Option<String>,
    Option<Value>,
    Option<Uuid>,
);

/// A flow locked for a transition.
#[derive(Debug)]
pub(crate) struct Locked {
    pub flow_id: Uuid,
    pub client: Uuid,
    pub engagement_id: Uuid,
    pub flow_type: String,
    pub config: Value,
    pub kind: FlowType,
    pub status: FlowStatus,
    pub current_phase: Option<String>,
    pub phases: Vec<(String, PhaseStatus)>,
    pub phase_run_id: Option<Uuid>,
    history: Vec<Value>,
    pub(crate) events: Vec<(String, Value)>,
    waiting_reason: Option<Option<String>>,
    results: serde_json::Map<String, Value>,
}

impl Locked {
    pub(crate) async fn lock(
        conn: &mut PgConnection,
        client: Uuid,
        flow_id: Uuid,
    ) -> Result<Locked, FlowError> {
        let row: Option<LockRow> = sqlx::query_as(
            "SELECT engagement_id, flow_type, config, status, current_phase, child_flows, \
                        phase_run_id \
                   FROM migration.crewai_flow_state_extensions \
                  WHERE flow_id = $1 AND client_account_id = $2 FOR UPDATE",
        )
        .bind(flow_id)
        .bind(client)
        .fetch_optional(&mut *conn)
        .await?;
        let (engagement_id, flow_type, config, status, current_phase, child_flows, run) =
            row.ok_or(FlowError::NotFound)?;
        let kind = child_flows
            .as_ref()
            .and_then(child_kind)
            .ok_or(FlowError::NotFound)?;
        let (_, phases) = read_child(conn, kind, client, flow_id).await?;
        Ok(Locked {
            flow_id,
            client,
            engagement_id,
            flow_type,
            config: config.unwrap_or_else(|| json!({})),
            kind,
            status: FlowStatus::parse(&status).unwrap_or(FlowStatus::Failed),
            current_phase,
            phases,
            phase_run_id: run,
            history: Vec::new(),
            events: Vec::new(),
            waiting_reason: None,
            results: serde_json::Map::new(),
        })
    }

    pub(crate) fn current_status(&self) -> Option<PhaseStatus> {
        let phase = self.current_phase.as_deref()?;
        self.phases.iter().find(|(p, _)| p == phase).map(|p| p.1)
    }

    pub(crate) fn flow_event(
        &mut self,
        event: FlowEvent,
        actor: &Actor,
        reason: &str,
    ) -> Result<(), FlowError> {
        let next = self.status.apply(event)?;
        let entry = json!({
            "kind": "flow", "event": event.as_str(), "from": self.status.as_str(),
            "to": next.as_str(), "phase": self.current_phase, "at": Utc::now(),
            "by": actor.0, "reason": reason,
        });
        self.history.push(entry.clone());
        self.events.push(("status_changed".into(), entry));
        self.status = next;
        Ok(())
    }

    pub(crate) fn phase_to(
        &mut self,
        phase: &str,
        next: PhaseStatus,
        actor: &Actor,
        reason: &str,
    ) -> Result<(), FlowError> {
        let slot = self
            .phases
            .iter_mut()
            .find(|(p, _)| p == phase)
            .ok_or(FlowError::NotFound)?;
        let from = slot.1;
        slot.1 = from.become_(next)?;
        let entry = json!({
            "kind": "phase", "from": from.as_str(), "to": next.as_str(), "phase": phase,
            "at": Utc::now(), "by": actor.0, "reason": reason,
        });
        self.history.push(entry.clone());
        self.events.push(("phase_changed".into(), entry));
        Ok(())
    }

    pub(crate) fn set_waiting_reason(&mut self, reason: Option<String>) {
        if let Some(r) = &reason {
            self.events.push((
                "waiting".into(),
                json!({"phase": self.current_phase, "reason": r}),
            ));
        }
        self.waiting_reason = Some(reason);
    }

    /// Stores `result` as the phase's result (replacing an earlier one) when saved.
    pub(crate) fn set_phase_result(&mut self, phase: &str, result: Value) {
        self.results.insert(phase.to_string(), result);
    }

    /// Enqueues a run of the current phase with a fresh run id (older runs become no-ops).
    pub(crate) async fn schedule_current(
        &mut self,
        conn: &mut PgConnection,
    ) -> Result<(), FlowError> {
        let run_id = Uuid::new_v4();
        self.phase_run_id = Some(run_id);
        self.waiting_reason = Some(None);
        queue::enqueue::<RunPhase>(
            conn,
            Some(ClientAccountId(self.client)),
            &RunPhaseInput {
                flow_id: self.flow_id,
                run_id,
            },
        )
        .await?;
        Ok(())
    }

    /// After the current phase completed: the next phase (scheduled), or the flow completes.
    pub(crate) async fn advance(
        &mut self,
        conn: &mut PgConnection,
        actor: &Actor,
    ) -> Result<(), FlowError> {
        let current = self.current_phase.clone().unwrap_or_default();
        let at = self.phases.iter().position(|(p, _)| *p == current);
        let next = at.and_then(|i| self.phases.get(i + 1)).map(|p| p.0.clone());
        match next {
            Some(next) => {
                self.current_phase = Some(next);
                self.schedule_current(conn).await
            }
            None => {
                self.phase_run_id = None;
                self.flow_event(FlowEvent::Complete, actor, "all phases completed")
            }
        }
    }

    /// Writes master and child, the history entries and the events.
    pub(crate) async fn save(mut self, conn: &mut PgConnection) -> Result<(), FlowError> {
        let statuses: Vec<PhaseStatus> = self.phases.iter().map(|p| p.1).collect();
        let progress = progress_percent(&statuses);
        let done = self.status.is_terminal() || self.status == FlowStatus::Failed;
        let waiting = match self.waiting_reason.take() {
            None => "keep",
            Some(None) => "clear",
            Some(Some(_)) => "set",
        };
        let reason = self
            .events
            .iter()
            .find(|e| e.0 == "waiting")
            .and_then(|e| e.1.get("reason").cloned());
        sqlx::query(
            "UPDATE migration.crewai_flow_state_extensions SET \
                 status = $3, current_phase = $4, phase_run_id = $5, \
                 phase_history = coalesce(phase_history, '[]'::jsonb) || $6, \
                 completed_at = CASE WHEN $7 THEN coalesce(completed_at, now()) ELSE NULL END, \
                 execution_metrics = CASE $8 \
                     WHEN 'clear' THEN coalesce(execution_metrics, '{}'::jsonb) - 'waiting_reason' \
                     WHEN 'set' THEN jsonb_set(coalesce(execution_metrics, '{}'::jsonb), '{waiting_reason}', $9) \
                     ELSE execution_metrics END \
              WHERE flow_id = $1 AND client_account_id = $2",
        )
        .bind(self.flow_id)
        .bind(self.client)
        .bind(self.status.as_str())
        .bind(&self.current_phase)
        .bind(self.phase_run_id)
        .bind(Value::Array(std::mem::take(&mut self.history)))
        .bind(done)
        .bind(waiting)
        .bind(reason.unwrap_or(Value::Null))
        .execute(&mut *conn)
        .await?;
        if !self.results.is_empty() {
            sqlx::query(
                "UPDATE migration.crewai_flow_state_extensions SET execution_metrics = \
                     jsonb_set(coalesce(execution_metrics, '{}'::jsonb), '{phase_results}', \
                               coalesce(execution_metrics->'phase_results', '{}'::jsonb) || $3) \
                  WHERE flow_id = $1 AND client_account_id = $2",
            )
            .bind(self.flow_id)
            .bind(self.client)
            .bind(Value::Object(std::mem::take(&mut self.results)))
            .execute(&mut *conn)
            .await?;
        }
        let table = child_table(self.kind);
        let progress_sql = if has_progress_column(self.kind) {
            ", progress_percentage = $7"
        } else {
            ""
        };
        sqlx::query(&format!(
            "UPDATE migration.{table} SET status = $3, current_phase = $4, phases = $5, \
                 completed_at = CASE WHEN $6 THEN coalesce(completed_at, now()) ELSE NULL END \
                 {progress_sql} \
              WHERE master_flow_id = $1 AND client_account_id = $2"
        ))
        .bind(self.flow_id)
        .bind(self.client)
        .bind(self.status.as_str())
        .bind(&self.current_phase)
        .bind(phases_json(&self.phases))
        .bind(done)
        .bind(progress)
        .execute(&mut *conn)
        .await?;
        for (kind, mut payload) in std::mem::take(&mut self.events) {
            if let Some(o) = payload.as_object_mut() {
                o.insert("flow_status".into(), json!(self.status.as_str()));
                o.insert("progress_percent".into(), json!(progress));
            }
            events::append(conn, self.client, self.flow_id, &kind, payload).await?;
        }
        Ok(())
    }
}
