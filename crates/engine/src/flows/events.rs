//! Flow events: one row in `flow_events` per transition, written in the transition's
//! transaction, and a `pg_notify` on [`CHANNEL`] with the flow id as payload, delivered at
//! commit. Any server process listening on the channel streams the flow's new events; the
//! event id (ascending per flow, in commit order, since transitions of one flow are serialized
//! by the lock on its master row) is the `Last-Event-ID` for resuming a stream.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// The NOTIFY channel of flow events; the payload is the flow id.
pub const CHANNEL: &str = "modernize_flow_events";

/// One stored flow event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FlowEventRow {
    pub id: i64,
    pub flow_id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Appends an event of flow `flow_id` on `conn` (the transition's transaction).
pub async fn append(
    conn: &mut PgConnection,
    client_account_id: Uuid,
    flow_id: Uuid,
    kind: &str,
    payload: serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "WITH e AS (
             INSERT INTO migration.flow_events (flow_id, client_account_id, kind, payload)
             VALUES ($1, $2, $3, $4) RETURNING id
         )
         SELECT e.id FROM e CROSS JOIN LATERAL (SELECT pg_notify($5, $1::text)) AS n",
    )
    .bind(flow_id)
    .bind(client_account_id)
    .bind(kind)
    .bind(payload)
    .bind(CHANNEL)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The events of a flow after event `after` (0: from the start), oldest first.
pub async fn list_after(
    conn: &mut PgConnection,
    client_account_id: Uuid,
    flow_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<FlowEventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, flow_id, kind, payload, created_at FROM migration.flow_events
          WHERE flow_id = $1 AND client_account_id = $2 AND id > $3
          ORDER BY id LIMIT $4",
    )
    .bind(flow_id)
    .bind(client_account_id)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}
