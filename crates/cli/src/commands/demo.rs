//! Demo data for a first start: a client account and an engagement, so that a new installation
//! has something to look at. Only on an empty database.

use modernize_db::Database;
use modernize_domain::tenancy::TenantScope;

pub async fn seed(db: &Database) -> anyhow::Result<()> {
    hint_bootstrap(db).await?;
    let mut tx =
        modernize_db::tenant::begin(&db.app, TenantScope::Platform { user_id: None }).await?;
    let (clients,): (i64,) = sqlx::query_as("SELECT count(*) FROM migration.client_accounts")
        .fetch_one(&mut *tx)
        .await?;
    if clients > 0 {
        return Ok(());
    }
    let (client_id,): (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO migration.client_accounts (name, slug, description, industry, company_size) \
         VALUES ('Demo Corporation', 'demo', 'Demonstration client created on first start', \
                 'Manufacturing', '1000-5000') RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await?;
    let (engagement_id,): (uuid::Uuid,) = sqlx::query_as(
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
