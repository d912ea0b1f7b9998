//! `modernize admin ...`: installation administration from the command line.

use crate::cli::AdminCommand;
use crate::config::Settings;
use anyhow::bail;
use modernize_db::audit::{self, AuditRecord};
use modernize_db::identity;
use modernize_domain::access::{Role, Scope};
use modernize_domain::tenancy::TenantScope;
use modernize_server::auth::api_token;
use serde_json::json;

pub async fn run(cmd: AdminCommand, settings: Settings) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::RotateKeys { generate, json } => {
            super::rotate_keys::run(&settings, generate, json).await
        }
        AdminCommand::Bootstrap { email, name, json } => {
            bootstrap(&settings, &email, name.as_deref(), json).await
        }
    }
}

/// Creates the first platform administrator and an API token for them. Refused once any
/// active platform administrator exists, so it cannot be used to mint a second one.
async fn bootstrap(
    settings: &Settings,
    email: &str,
    name: Option<&str>,
    as_json: bool,
) -> anyhow::Result<()> {
    let email = modernize_domain::validate::email(email).map_err(anyhow::Error::msg)?;
    let db = super::open_migrated(settings).await?;
    let mut tx =
        modernize_db::tenant::begin(&db.app, TenantScope::Platform { user_id: None }).await?;
    // Two bootstraps at once must not both succeed.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('modernize.bootstrap'))")
        .execute(&mut *tx)
        .await?;
    if identity::count_platform_admins(&mut tx).await? > 0 {
        bail!("a platform administrator already exists; create further users through the API");
    }
    let user = identity::create_user(&mut tx, &email, name, None).await?;
    identity::grant_role(&mut tx, user, Role::Admin, Scope::Platform, None, None).await?;
    let minted = api_token::mint();
    let token_id = identity::insert_api_token(
        &mut tx,
        user,
        "bootstrap",
        &minted.display_prefix,
        &minted.digest,
        None,
    )
    .await?;
    for (event_type, target_type, target_id) in [
        ("user.created", "user", user.to_string()),
        ("role.granted", "user", user.to_string()),
        ("token.created", "api_token", token_id.to_string()),
    ] {
        audit::record(
            &mut tx,
            &AuditRecord {
                event_type: event_type.into(),
                event_category: if event_type == "token.created" {
                    "auth"
                } else {
                    "config"
                },
                severity: "WARNING",
                actor_user_id: "system".into(),
                actor_role: Some("bootstrap".into()),
                target_type: Some(target_type.into()),
                target_id: Some(target_id),
                action: "admin bootstrap".into(),
                result: "success",
                details: json!({"email": email, "role": "admin", "scope": "platform"}),
                ..AuditRecord::default()
            },
        )
        .await?;
    }
    tx.commit().await?;
    if as_json {
        println!(
            "{}",
            json!({"user_id": user.to_string(), "token": minted.token})
        );
    } else {
        println!("created platform administrator {email} ({user})");
        println!("API token (shown once, keep it safe): {}", minted.token);
    }
    Ok(())
}
