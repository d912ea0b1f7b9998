//! Schema migrations: forward-only SQL files in `crates/db/migrations`, embedded in the binary.
//!
//! sqlx applies them under a PostgreSQL advisory lock, so concurrent `migrate` calls (several
//! servers starting at once) serialise and the later ones find nothing to do.

use crate::RUNTIME_ROLE;
use crate::error::DbError;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

/// Every migration of the product, in order.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies pending migrations; returns how many were applied. Then creates the partitions due
/// and, on an external server, gives the runtime role its password.
pub async fn migrate(owner: &PgPool, app_password: Option<&str>) -> Result<usize, DbError> {
    let before = applied_versions(owner).await?.len();
    MIGRATOR.run(owner).await?;
    let after = applied_versions(owner).await?.len();
    crate::partitions::ensure(owner).await?;
    if let Some(password) = app_password {
        // ALTER ROLE takes no bind parameters: quote the literal on the server with %L.
        let statement: (String,) =
            sqlx::query_as("SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)")
                .bind(RUNTIME_ROLE)
                .bind(password)
                .fetch_one(owner)
                .await?;
        sqlx::raw_sql(&statement.0).execute(owner).await?;
    }
    Ok(after - before)
}

/// One migration as `db status` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
    /// False when the applied file differs from the one in this binary.
    pub checksum_ok: bool,
}

/// Every known migration with whether it is applied, plus applied versions this binary does
/// not know (a newer binary migrated this database).
pub async fn status(owner: &PgPool) -> Result<(Vec<MigrationStatus>, Vec<i64>), DbError> {
    let applied = applied_versions(owner).await?;
    let known: Vec<MigrationStatus> = MIGRATOR
        .iter()
        .map(|m| {
            let found = applied.iter().find(|(v, _)| *v == m.version);
            MigrationStatus {
                version: m.version,
                description: m.description.to_string(),
                applied: found.is_some(),
                checksum_ok: found.is_none_or(|(_, sum)| sum.as_slice() == &*m.checksum),
            }
        })
        .collect();
    let unknown = applied
        .iter()
        .filter(|(v, _)| MIGRATOR.iter().all(|m| m.version != *v))
        .map(|(v, _)| *v)
        .collect();
    Ok((known, unknown))
}

async fn applied_versions(owner: &PgPool) -> Result<Vec<(i64, Vec<u8>)>, DbError> {
    let exists: (bool,) =
        sqlx::query_as("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(owner)
            .await?;
    if !exists.0 {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "SELECT version, checksum FROM public._sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(owner)
    .await?)
}
