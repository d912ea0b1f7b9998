//! Flows of an engagement: create (master + first child flow), read status, pause, resume,
//! cancel, retry the failed phase, decide an approval gate, and stream the flow's events as
//! server-sent events. The public identifier of a flow is its master `flow_id`.

use crate::auth::{Caller, audit};
use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::validate::Checks;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures_util::stream::Stream;
use modernize_domain::access::Action;
use modernize_domain::flow::FlowType;
use modernize_domain::tenancy::TenantScope;
use modernize_engine::flows::FlowError;
use modernize_engine::flows::events::{self, CHANNEL};
use modernize_engine::flows::store::{self, Actor, FlowView, NewFlow};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::postgres::PgListener;
use std::convert::Infallible;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_flow, list_flows))
        .routes(routes!(get_flow))
        .routes(routes!(pause_flow))
        .routes(routes!(resume_flow))
        .routes(routes!(cancel_flow))
        .routes(routes!(retry_flow))
        .routes(routes!(create_flow_approval))
        .routes(routes!(get_flow_events))
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::NotFound => ApiError::not_found("flow"),
            FlowError::Illegal(e) => ApiError::new(ErrorCode::InvalidTransition, e.to_string()),
            FlowError::Database(e) => e.into(),
            FlowError::Db(e) => e.into(),
            FlowError::Queue(e) => ApiError::internal(e),
        }
    }
}

/// A new flow.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFlow {
    /// discovery, collection, assessment, planning or execution.
    pub flow_type: String,
    pub display_name: Option<String>,
    /// A JSON object handed to the flow's steps.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

/// A decision on the flow's pending approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    /// approve or reject.
    pub decision: String,
    pub comment: Option<String>,
}

/// One phase of a flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowPhase {
    pub name: String,
    /// pending, running, waiting_for_approval, completed, failed or skipped.
    pub status: String,
}

/// An approval gate of a phase.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowApproval {
    pub phase: String,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    /// approve or reject (absent while pending).
    pub decision: Option<String>,
    pub comment: Option<String>,
    /// `after_step`: the phase's approval gate (approving completes the phase); `decision`: the
    /// phase's step asked for a decision (approving runs the phase again).
    pub gate: String,
    /// Why the step asked for a decision (`decision` gates).
    pub reason: Option<String>,
}

/// A flow with its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct Flow {
    /// The flow's public identifier (the master flow id).
    pub flow_id: Uuid,
    pub client_account_id: Uuid,
    pub engagement_id: Uuid,
    pub flow_type: String,
    pub display_name: Option<String>,
    /// initialized, running, paused, waiting_for_approval, completed, failed or cancelled.
    pub status: String,
    pub current_phase: Option<String>,
    pub phases: Vec<FlowPhase>,
    pub progress_percent: f64,
    pub pending_approval: Option<FlowApproval>,
    pub approvals: Vec<FlowApproval>,
    /// Child flows by type: `{"discovery": "<child id>"}`.
    #[schema(value_type = Object)]
    pub child_flows: Value,
    /// Every transition: `{kind, event?, from, to, phase, at, by, reason}`, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub phase_history: Value,
    /// Why a running flow does not move (e.g. no step is registered for its phase yet), or the
    /// decision its current phase waits for.
    pub waiting_reason: Option<String>,
    /// Results of the phases by phase name (e.g. a discovery flow's import report).
    #[schema(value_type = Object)]
    pub phase_results: Value,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn approval(a: store::ApprovalView) -> FlowApproval {
    FlowApproval {
        phase: a.phase,
        requested_at: a.requested_at,
        decided_at: a.decided_at,
        decided_by: a.decided_by,
        decision: a.decision,
        comment: a.comment,
        gate: a.gate,
        reason: a.reason,
    }
}

impl From<FlowView> for Flow {
    fn from(v: FlowView) -> Self {
        Flow {
            flow_id: v.flow_id,
            client_account_id: v.client_account_id,
            engagement_id: v.engagement_id,
            flow_type: v.flow_type,
            display_name: v.display_name,
            status: v.status,
            current_phase: v.current_phase,
            phases: v
                .phases
                .into_iter()
                .map(|p| FlowPhase {
                    name: p.name,
                    status: p.status,
                })
                .collect(),
            progress_percent: v.progress_percent,
            pending_approval: v.pending_approval.map(approval),
            approvals: v.approvals.into_iter().map(approval).collect(),
            child_flows: v.child_flows,
            phase_history: v.phase_history,
            waiting_reason: v.waiting_reason,
            phase_results: v.phase_results,
            created_at: v.created_at,
            updated_at: v.updated_at,
            completed_at: v.completed_at,
        }
    }
}

async fn load(
    conn: &mut sqlx::PgConnection,
    client_id: Uuid,
    engagement_id: Uuid,
    flow_id: Uuid,
) -> Result<Flow, ApiError> {
    store::get(conn, client_id, Some(engagement_id), flow_id)
        .await?
        .map(Flow::from)
        .ok_or_else(|| ApiError::not_found("flow"))
}

/// Create a flow of an engagement: its master flow and its first child flow, in one
/// transaction. The flow starts at once. Product flow types have no registered steps yet:
/// such a flow waits at its first phase (`waiting_reason`).
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path)), request_body = CreateFlow,
    responses((status = 201, body = Flow), (status = 404, body = ErrorEnvelope),
              (status = 403, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_flow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<CreateFlow>,
) -> Result<(StatusCode, Json<Flow>), ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::WriteEngagement, client_id, engagement_id)
        .await?;
    let names: Vec<&str> = FlowType::ALL.iter().map(|t| t.as_str()).collect();
    let mut c = Checks::new();
    c.one_of("flow_type", Some(body.flow_type.as_str()), &names);
    c.text("display_name", body.display_name.as_deref(), 255, false);
    c.object("config", body.config.as_ref());
    c.finish()?;
    let flow_type = FlowType::parse(&body.flow_type).expect("checked");
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let exists: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM migration.engagements WHERE id = $1 AND client_account_id = $2",
    )
    .bind(engagement_id)
    .bind(client_id)
    .fetch_optional(&mut *tx)
    .await?;
    if exists.is_none() {
        return Err(ApiError::not_found("engagement"));
    }
    let flow_id = store::create(
        &mut tx,
        &NewFlow {
            client_account_id: client_id,
            engagement_id,
            user_id: caller.user_id.0,
            flow_type: flow_type.as_str().into(),
            child: flow_type,
            phases: flow_type.phases().iter().map(|p| p.to_string()).collect(),
            display_name: body.display_name.clone(),
            config: body.config.clone().unwrap_or_else(|| json!({})),
        },
        &Actor::user(caller.user_id.0),
    )
    .await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        "flow.created",
        "data",
        "flow",
        flow_id.to_string(),
        json!({"flow_type": flow_type.as_str(), "engagement_id": engagement_id}),
    )
    .await?;
    let flow = load(&mut tx, client_id, engagement_id, flow_id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(flow)))
}

/// List the flows of an engagement, newest first (without their history).
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path)),
    responses((status = 200, body = Vec<Flow>), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn list_flows(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<Vec<Flow>>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let flows = store::list(&mut tx, client_id, engagement_id).await?;
    tx.commit().await?;
    Ok(Json(flows.into_iter().map(Flow::from).collect()))
}

/// Status of a flow: status, current phase, phases, progress, pending approval, child flows,
/// phase history.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("flow_id" = Uuid, Path)),
    responses((status = 200, body = Flow), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_flow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, flow_id)): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<Flow>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    let flow = load(&mut tx, client_id, engagement_id, flow_id).await?;
    tx.commit().await?;
    Ok(Json(flow))
}

#[derive(Clone, Copy)]
enum Op {
    Pause,
    Resume,
    Cancel,
    Retry,
}

async fn act(
    state: AppState,
    caller: Caller,
    (client_id, engagement_id, flow_id): (Uuid, Uuid, Uuid),
    op: Op,
) -> Result<Json<Flow>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::WriteEngagement, client_id, engagement_id)
        .await?;
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    // The flow must belong to the engagement of the path.
    load(&mut tx, client_id, engagement_id, flow_id).await?;
    let actor = Actor::user(caller.user_id.0);
    let (name, result) = match op {
        Op::Pause => (
            "flow.paused",
            store::pause(&mut tx, client_id, flow_id, &actor, "paused by a user").await,
        ),
        Op::Resume => (
            "flow.resumed",
            store::resume(&mut tx, client_id, flow_id, &actor, "resumed by a user").await,
        ),
        Op::Cancel => (
            "flow.cancelled",
            store::cancel(&mut tx, client_id, flow_id, &actor, "cancelled by a user").await,
        ),
        Op::Retry => (
            "flow.phase_retried",
            store::retry_phase(&mut tx, client_id, flow_id, &actor, "retried by a user").await,
        ),
    };
    result?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        name,
        "data",
        "flow",
        flow_id.to_string(),
        json!({}),
    )
    .await?;
    let flow = load(&mut tx, client_id, engagement_id, flow_id).await?;
    tx.commit().await?;
    Ok(Json(flow))
}

/// Pause a running flow (or one waiting for approval). 409 `invalid_transition` otherwise.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}/pause", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("flow_id" = Uuid, Path)),
    responses((status = 200, body = Flow), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn pause_flow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(ids): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<Flow>, ApiError> {
    act(state, caller, ids, Op::Pause).await
}

/// Resume a paused flow. 409 `invalid_transition` otherwise.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}/resume", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("flow_id" = Uuid, Path)),
    responses((status = 200, body = Flow), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn resume_flow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(ids): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<Flow>, ApiError> {
    act(state, caller, ids, Op::Resume).await
}

/// Cancel a flow that is not finished. 409 `invalid_transition` otherwise.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}/cancel", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("flow_id" = Uuid, Path)),
    responses((status = 200, body = Flow), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn cancel_flow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(ids): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<Flow>, ApiError> {
    act(state, caller, ids, Op::Cancel).await
}

/// Retry the failed phase of a failed flow. 409 `invalid_transition` otherwise.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}/retry", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("flow_id" = Uuid, Path)),
    responses((status = 200, body = Flow), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn retry_flow(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(ids): ApiPath<(Uuid, Uuid, Uuid)>,
) -> Result<Json<Flow>, ApiError> {
    act(state, caller, ids, Op::Retry).await
}

/// Decide the pending approval of a flow: approve (the phase completes and the flow moves on;
/// for a `decision` gate the phase runs again) or reject (the phase and the flow fail).
/// Recorded with who, when and the comment.
#[utoipa::path(post, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}/approvals", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("flow_id" = Uuid, Path)),
    request_body = ApprovalDecision,
    responses((status = 200, body = Flow), (status = 404, body = ErrorEnvelope),
              (status = 409, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn create_flow_approval(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, flow_id)): ApiPath<(Uuid, Uuid, Uuid)>,
    ApiJson(body): ApiJson<ApprovalDecision>,
) -> Result<Json<Flow>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::WriteEngagement, client_id, engagement_id)
        .await?;
    let mut c = Checks::new();
    c.one_of(
        "decision",
        Some(body.decision.as_str()),
        &["approve", "reject"],
    );
    c.text("comment", body.comment.as_deref(), 4000, false);
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    load(&mut tx, client_id, engagement_id, flow_id).await?;
    c.finish()?;
    let approve = body.decision == "approve";
    store::decide_approval(
        &mut tx,
        client_id,
        flow_id,
        caller.user_id.0,
        approve,
        body.comment.as_deref(),
    )
    .await?;
    audit::record_change(
        &mut tx,
        &caller,
        Some(client_id),
        if approve {
            "flow.approved"
        } else {
            "flow.rejected"
        },
        "data",
        "flow",
        flow_id.to_string(),
        json!({"comment": body.comment}),
    )
    .await?;
    let flow = load(&mut tx, client_id, engagement_id, flow_id).await?;
    tx.commit().await?;
    Ok(Json(flow))
}

/// The events of a flow as server-sent events (`text/event-stream`): every transition, from
/// the start or after the event named by the `Last-Event-ID` header. Each event has the id of
/// the stored event, its kind as event name and a JSON payload. Any server instance streams
/// the events of a flow run by any worker. The stream ends once the flow is completed or
/// cancelled and every event was sent.
#[utoipa::path(get, path = "/api/v1/clients/{client_id}/engagements/{engagement_id}/flows/{flow_id}/events", tag = "flows",
    params(("client_id" = Uuid, Path), ("engagement_id" = Uuid, Path), ("flow_id" = Uuid, Path),
           ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event")),
    responses((status = 200, content_type = "text/event-stream", body = String),
              (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn get_flow_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((client_id, engagement_id, flow_id)): ApiPath<(Uuid, Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let scope = caller
        .authorize_engagement(&state, Action::ReadEngagement, client_id, engagement_id)
        .await?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::new(ErrorCode::BadRequest, "Last-Event-ID must be an event id")
            })?,
    };
    let mut tx = modernize_db::tenant::begin(&state.db.app, scope).await?;
    load(&mut tx, client_id, engagement_id, flow_id).await?;
    tx.commit().await?;
    // Listen before the first read: nothing committed after that read is missed.
    let mut listener = PgListener::connect_with(&state.db.app).await?;
    listener.listen(CHANNEL).await?;
    let feed = Feed {
        pool: state.db.app.clone(),
        scope,
        client_id,
        flow_id,
        after,
        listener: Some(listener),
        buffer: Vec::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct Feed {
    pool: sqlx::PgPool,
    scope: TenantScope,
    client_id: Uuid,
    flow_id: Uuid,
    after: i64,
    listener: Option<PgListener>,
    buffer: Vec<events::FlowEventRow>,
    done: bool,
}

impl Feed {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if !self.buffer.is_empty() {
                let e = self.buffer.remove(0);
                self.after = e.id;
                let data = json!({"flow_id": e.flow_id, "kind": e.kind, "at": e.created_at,
                                  "payload": e.payload});
                return Some(
                    Event::default()
                        .id(e.id.to_string())
                        .event(e.kind)
                        .data(data.to_string()),
                );
            }
            if self.done {
                return None;
            }
            match self.fetch().await {
                Ok((rows, finished)) => {
                    if rows.is_empty() && finished {
                        self.done = true;
                        continue;
                    }
                    if !rows.is_empty() {
                        self.buffer = rows;
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read flow events"),
            }
            self.wait().await;
        }
    }

    async fn fetch(&self) -> Result<(Vec<events::FlowEventRow>, bool), sqlx::Error> {
        let mut tx = modernize_db::tenant::begin(&self.pool, self.scope)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let rows =
            events::list_after(&mut tx, self.client_id, self.flow_id, self.after, 500).await?;
        let (status,): (String,) = sqlx::query_as(
            "SELECT status FROM migration.crewai_flow_state_extensions \
              WHERE flow_id = $1 AND client_account_id = $2",
        )
        .bind(self.flow_id)
        .bind(self.client_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((rows, status == "completed" || status == "cancelled"))
    }

    /// Until a notification for this flow arrives (or a poll interval passes).
    async fn wait(&mut self) {
        let flow = self.flow_id.to_string();
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(Duration::from_secs(2)).await;
            return;
        };
        let deadline = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                n = listener.recv() => match n {
                    Ok(n) if n.payload() == flow => return,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "flow event listener lost; polling");
                        self.listener = None;
                        return;
                    }
                },
            }
        }
    }
}
