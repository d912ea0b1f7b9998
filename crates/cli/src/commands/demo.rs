//! Demo data for a first start: a client account, an engagement and an imported inventory
//! (a generated CMDB export of [`DEMO_SERVERS`] servers with their dependencies), so that a
//! new installation has something to look at. Only on a database without any client account.

use anyhow::Context;
use modernize_db::Database;
use modernize_domain::tenancy::TenantScope;
use modernize_engine::import::{ImportOptions, run_import};
use uuid::Uuid;

/// Servers in the demo engagement's inventory.
pub const DEMO_SERVERS: u64 = 240;

pub async fn seed(db: &Database) -> anyhow::Result<()> {
    hint_bootstrap(db).await?;
    let Some((client, engagement)) = create_tenant(db).await? else {
        return Ok(());
    };
    // The client and engagement stay even if the import fails: the server starts, and the
    // inventory can be imported by hand (`modernize import`).
    if let Err(e) = import_inventory(db, client, engagement).await {
        tracing::warn!(error = %format!("{e:#}"), "the demo inventory could not be imported");
    }
    Ok(())
}

/// Creates the demo client and engagement if no client account exists. Several processes
/// starting at once create them once: the check and the insert hold one advisory lock.
async fn create_tenant(db: &Database) -> anyhow::Result<Option<(Uuid, Uuid)>> {
    let mut tx =
        modernize_db::tenant::begin(&db.app, TenantScope::Platform { user_id: None }).await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('modernize.demo_seed'))")
        .execute(&mut *tx)
        .await?;
    let (clients,): (i64,) = sqlx::query_as("SELECT count(*) FROM migration.client_accounts")
        .fetch_one(&mut *tx)
        .await?;
    if clients > 0 {
        return Ok(None);
    }
    let (client_id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.client_accounts (name, slug, description, industry, company_size) \
         VALUES ('Demo Corporation', 'demo', 'Demonstration client created on first start', \
                 'Manufacturing', '1000-5000') RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await?;
    let (engagement_id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.engagements (client_account_id, name, description, engagement_type, \
                                             start_date, estimated_complexity) \
         VALUES ($1, 'Data centre exit', 'Move the Frankfurt data centre to the cloud', 'migration', \
                 CURRENT_DATE, 'medium') RETURNING id",
    )
    .bind(client_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(client_account.id = %client_id, engagement.id = %engagement_id, "created demo client and engagement");
    Ok(Some((client_id, engagement_id)))
}

/// Imports the generated CMDB export into the demo engagement with the product's import.
async fn import_inventory(db: &Database, client: Uuid, engagement: Uuid) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("cannot create a directory for the demo inventory")?;
    let file = dir.path().join("demo-cmdb.csv");
    super::sample_cmdb::generate(&file, DEMO_SERVERS)?;
    let options = ImportOptions {
        source_system: Some("demo_cmdb".into()),
        ..ImportOptions::default()
    };
    let report = run_import(&db.app, client, engagement, &file, &options, &mut |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
    tracing::info!(
        import.id = %report.import_id,
        assets = report.assets_created,
        dependencies = report.dependencies_created,
        "imported the demo inventory"
    );
    Ok(())
}

/// Tells the operator how to get in when no platform administrator exists yet.
async fn hint_bootstrap(db: &Database) -> anyhow::Result<()> {
    let mut tx =
        modernize_db::tenant::begin(&db.app, TenantScope::Platform { user_id: None }).await?;
    let admins = modernize_db::identity::count_platform_admins(&mut tx).await?;
    tx.commit().await?;
    if admins == 0 {
        tracing::warn!(
            "no platform administrator yet: run `modernize admin bootstrap --email you@example.com` \
             to create one and get an API token"
        );
    }
    Ok(())
}
