//! A staged import whose apply failed stays applicable: the apply's transaction rolled back
//! (no asset, dependency or row outcome was written, the staged rows are still `staged`), and
//! the session returns to review (`staged`, or `mapping_review` if a column needs review) with
//! the failure in `error_code` / `error_message`, so that its decisions can be changed and the
//! apply run again. A successful apply clears the error.

use modernize_domain::tenancy::TenantScope;
use sqlx::PgPool;
use uuid::Uuid;

use super::store::Tx;
use super::{ImportError, begin};

impl ImportError {
    /// Whether running the same work again may succeed without any change: the database
    /// could not be reached, the transaction was cancelled by a conflict (serialisation,
    /// deadlock) or the server was short of resources or shutting down. A value or a
    /// constraint the database refused fails again until the data or the mapping changes.
    pub fn is_transient(&self) -> bool {
        let sql = match self {
            ImportError::Database(e) => e,
            ImportError::Db(modernize_db::DbError::Sql(e)) => e,
            _ => return false,
        };
        match sql {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| ["08", "40", "53", "57"].iter().any(|p| c.starts_with(p))),
            _ => false,
        }
    }
}

/// Returns a session whose apply failed to review, with the failure recorded. Only a session
/// still waiting to be applied is changed.
pub(super) async fn back_to_review(
    pool: &PgPool,
    scope: TenantScope,
    import_id: Uuid,
    error: &ImportError,
) -> Result<(), ImportError> {
    let mut tx = begin(pool, scope).await?;
    sqlx::query(
        "UPDATE migration.import_sessions AS s \
            SET status = CASE WHEN EXISTS (SELECT 1 FROM migration.import_column_mappings m \
                        WHERE m.import_session_id = s.id AND m.status = 'needs_review') \
                    THEN 'mapping_review' ELSE 'staged' END, \
                error_code = $2, error_message = $3, completed_at = NULL \
          WHERE s.id = $1 AND s.status IN ('staged', 'mapping_review')",
    )
    .bind(import_id)
    .bind(error.code())
    .bind(error.to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Clears the failure of an earlier apply (in the transaction of the apply that succeeded).
pub(super) async fn clear(tx: &mut Tx, import_id: Uuid) -> Result<(), ImportError> {
    sqlx::query(
        "UPDATE migration.import_sessions SET error_code = NULL, error_message = NULL \
          WHERE id = $1 AND error_code IS NOT NULL",
    )
    .bind(import_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
