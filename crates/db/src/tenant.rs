//! Transactions scoped to a tenant.
//!
//! Row-level security policies read `app.client_account_id`, `app.platform` and `app.user_id`.
//! They are set with `set_config(..., true)`, i.e. local to the transaction, on the same
//! connection that then runs the queries: a pooled connection never carries one request's
//! tenant into another's.

use crate::error::DbError;
use modernize_domain::tenancy::TenantScope;
use sqlx::{PgPool, Postgres, Transaction};

/// Begins a transaction on the runtime pool in which row-level security sees `scope`.
pub async fn begin(
    pool: &PgPool,
    scope: TenantScope,
) -> Result<Transaction<'static, Postgres>, DbError> {
    let mut tx = pool.begin().await?;
    let client = scope
        .client_account_id()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let user = scope.user_id().map(|id| id.to_string()).unwrap_or_default();
    let platform = if scope.is_platform() { "on" } else { "" };
    sqlx::query(
        "SELECT set_config('app.client_account_id', $1, true), \
                set_config('app.platform', $2, true), \
                set_config('app.user_id', $3, true)",
    )
    .bind(client)
    .bind(platform)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}
