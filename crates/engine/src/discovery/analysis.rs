//! The analysis phase of the discovery flow: the mapping review gate, then the apply of the
//! staged import (cleansing, identity reconciliation, dependencies; all or nothing).
//!
//! A failed apply writes nothing and leaves the import in review with its staged rows
//! (`crate::import::apply_import`): the phase fails with the error's code and says so; after
//! the mapping decisions are changed (if they caused it), retrying the flow runs the phase
//! again and applies the import. Failures that may pass by themselves (the database was
//! unreachable, a transaction conflict) are retried by the queue first.

use super::ImportConfig;
use super::steps::{
    db, describe_staged, finish, flow_creator, flow_lock, flow_session, scope, start,
};
use crate::flows::registry::{StepContext, StepError};
use crate::flows::tracking::TaskOutcome;
use crate::import::{self, ApplyOptions, FailedImport};
use serde_json::{Value, json};
use uuid::Uuid;

/// The step error of an apply that failed or was refused.
fn apply_failed(import_id: Uuid, e: &FailedImport) -> StepError {
    let refused = matches!(
        e.code(),
        "import_not_found" | "import_not_applicable" | "mapping_review_pending"
    );
    if refused {
        return StepError::permanent(format!("{}: {}", e.code(), e.error));
    }
    let message = format!(
        "{}: {}; nothing was written and the staged rows are kept: change the mapping decisions \
         of import {import_id} if they caused this, then retry the flow",
        e.code(),
        e.error
    );
    if e.error.is_transient() {
        StepError::retryable(message)
    } else {
        StepError::permanent(message)
    }
}

pub(super) async fn analysis(ctx: &mut StepContext) -> Result<(), StepError> {
    let cfg = ImportConfig::from_flow(&ctx.config)?;
    let lock = flow_lock(ctx.pool(), ctx.flow_id).await?;
    let Some(session) = flow_session(ctx, true).await? else {
        return Err(StepError::permanent(
            "import_not_found: the flow has no staged import",
        ));
    };
    match session.status.as_str() {
        // Applied by an earlier run whose phase did not complete (e.g. its worker died).
        "committed" | "dry_run_completed" => {
            ctx.set_output(outcome_of(session.id, &session.summary));
            lock.commit().await.map_err(db)?;
            return Ok(());
        }
        "failed" => {
            return Err(StepError::permanent(
                session.error.unwrap_or_else(|| "import_failed".into()),
            ));
        }
        _ => {}
    }
    let import_id = session.id;

    // The field-mapping agent: every column must be decided before the import is applied.
    let task = start(
        ctx,
        "field_mapping_agent",
        "review_mappings",
        json!({"import_id": import_id}),
    )
    .await?;
    let reviewed = review_mappings(ctx, import_id).await;
    let review = finish(ctx, task, reviewed)?;
    let pending = review["needs_review"].as_u64().unwrap_or(0);
    if pending > 0 {
        let columns: Vec<&str> = review["review"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["source_column"].as_str())
            .collect();
        ctx.await_decision(format!(
            "{pending} column mapping(s) of import {import_id} need review: {}",
            columns.join(", ")
        ));
        ctx.set_output(review);
        lock.commit().await.map_err(db)?;
        return Ok(());
    }

    // Cleansing, identity reconciliation and dependencies: one all-or-nothing apply.
    let input = json!({"import_id": import_id, "dry_run": cfg.dry_run});
    let cleansing = start(ctx, "cleansing_agent", "cleanse_rows", input.clone()).await?;
    let identity = start(
        ctx,
        "identity_reconciliation_agent",
        "reconcile_identities",
        input.clone(),
    )
    .await?;
    let dependencies = start(ctx, "dependency_agent", "extract_dependencies", input).await?;
    let applied = import::apply_import(
        ctx.pool(),
        ctx.client_account_id,
        import_id,
        &ApplyOptions {
            dry_run: cfg.dry_run,
            user_id: flow_creator(ctx).await?,
        },
        &mut |_| {},
    )
    .await;
    lock.commit().await.map_err(db)?;
    let report = match applied {
        Ok(report) => report,
        Err(e) => {
            let err = apply_failed(import_id, &e);
            for t in [cleansing, identity, dependencies] {
                ctx.tasks
                    .fail(t, err.message.clone(), TaskOutcome::default());
            }
            return Err(err);
        }
    };
    let r = serde_json::to_value(&report).unwrap_or(Value::Null);
    let part = |keys: &[&str]| {
        Value::Object(
            keys.iter()
                .map(|k| (k.to_string(), r.get(*k).cloned().unwrap_or(Value::Null)))
                .collect(),
        )
    };
    let outputs = [
        (
            cleansing,
            part(&[
                "rows_read",
                "rows_accepted",
                "rows_fixed",
                "rows_rejected",
                "rejected_by_code",
                "warnings_by_code",
            ]),
        ),
        (
            identity,
            part(&["assets_created", "assets_updated", "assets_unchanged"]),
        ),
        (
            dependencies,
            part(&["dependencies_created", "dependencies_skipped"]),
        ),
    ];
    for (task, output) in outputs {
        ctx.tasks.succeed(
            task,
            TaskOutcome {
                output,
                ..TaskOutcome::default()
            },
        );
    }
    ctx.set_output(outcome_of(import_id, &r));
    Ok(())
}

/// Decides what can be decided: after the flow's decision gate was approved directly, the
/// mappings still pending are approved as proposed, decided by the approving user.
async fn review_mappings(ctx: &StepContext, import_id: Uuid) -> Result<Value, StepError> {
    if let Some(user) = ctx.approved_by {
        let mut tx = modernize_db::tenant::begin(ctx.pool(), scope(ctx, Some(user)))
            .await
            .map_err(db)?;
        let done = sqlx::query(
            "UPDATE migration.import_column_mappings \
                SET status = 'approved', decided_by = $3, decided_at = now() \
              WHERE import_session_id = $1 AND client_account_id = $2 \
                AND status = 'needs_review'",
        )
        .bind(import_id)
        .bind(ctx.client_account_id)
        .bind(user)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut v = describe_staged(ctx, import_id).await?;
        v["approved_by_flow_decision"] = json!(done.rows_affected());
        return Ok(v);
    }
    describe_staged(ctx, import_id).await
}

fn outcome_of(import_id: Uuid, report: &Value) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("import_id".into(), json!(import_id));
    for k in [
        "status",
        "dry_run",
        "layout",
        "rows_read",
        "rows_accepted",
        "rows_fixed",
        "rows_rejected",
        "assets_created",
        "assets_updated",
        "assets_unchanged",
        "dependencies_created",
        "dependencies_skipped",
    ] {
        o.insert(k.into(), report.get(k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(o)
}
