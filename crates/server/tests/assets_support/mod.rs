//! Seeding of the inventory tests: two clients, two engagements each, assets and dependencies
//! written directly as the database owner.

#![allow(dead_code)]

use crate::common;
use modernize_domain::access::{Role, Scope};
use modernize_domain::ids::{ClientAccountId, EngagementId};
use modernize_testkit::TestDb;
use serde_json::Value;
use uuid::Uuid;

pub struct World {
    pub client_a: Uuid,
    pub eng_a: Uuid,
    pub eng_a2: Uuid,
    pub client_b: Uuid,
    pub eng_b: Uuid,
    /// Analyst of client A.
    pub analyst: String,
    /// Viewer of client A.
    pub viewer: String,
    /// Administrator of client B.
    pub intruder: String,
}

pub async fn world(db: &TestDb) -> World {
    let client_a = Uuid::new_v4();
    let client_b = Uuid::new_v4();
    let (eng_a, eng_a2, eng_b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for (c, slug) in [(client_a, "alpha"), (client_b, "beta")] {
        sqlx::query("INSERT INTO migration.client_accounts (id, name, slug) VALUES ($1, $2, $2)")
            .bind(c)
            .bind(slug)
            .execute(&db.owner)
            .await
            .unwrap();
    }
    for (e, c) in [(eng_a, client_a), (eng_a2, client_a), (eng_b, client_b)] {
        sqlx::query(
            "INSERT INTO migration.engagements (id, client_account_id, name) VALUES ($1, $2, 'E')",
        )
        .bind(e)
        .bind(c)
        .execute(&db.owner)
        .await
        .unwrap();
    }
    let a = ClientAccountId(client_a);
    let (_, analyst) = common::user_with_token(
        db,
        "analyst@alpha.example",
        &[(
            Role::Analyst,
            Scope::Client {
                client_account_id: a,
            },
        )],
    )
    .await;
    let (_, viewer) = common::user_with_token(
        db,
        "viewer@alpha.example",
        &[(
            Role::Viewer,
            Scope::Engagement {
                client_account_id: a,
                engagement_id: EngagementId(eng_a),
            },
        )],
    )
    .await;
    let (_, intruder) = common::user_with_token(
        db,
        "admin@beta.example",
        &[(
            Role::Admin,
            Scope::Client {
                client_account_id: ClientAccountId(client_b),
            },
        )],
    )
    .await;
    World {
        client_a,
        eng_a,
        eng_a2,
        client_b,
        eng_b,
        analyst,
        viewer,
        intruder,
    }
}

/// Inserts an asset from a JSON object of columns (`asset_name` required).
pub async fn asset(db: &TestDb, client: Uuid, engagement: Uuid, fields: Value) -> Uuid {
    let id = Uuid::new_v4();
    let mut row = fields.as_object().unwrap().clone();
    row.insert("id".into(), Value::String(id.to_string()));
    row.insert(
        "client_account_id".into(),
        Value::String(client.to_string()),
    );
    row.insert(
        "engagement_id".into(),
        Value::String(engagement.to_string()),
    );
    row.entry("created_at")
        .or_insert_with(|| Value::String(chrono::Utc::now().to_rfc3339()));
    sqlx::query(
        "INSERT INTO migration.assets SELECT * FROM jsonb_populate_record(NULL::migration.assets, $1)",
    )
    .bind(Value::Object(row))
    .execute(&db.owner)
    .await
    .unwrap();
    id
}

pub async fn depend(db: &TestDb, client: Uuid, source: Uuid, target: Uuid, kind: &str) {
    sqlx::query(
        "INSERT INTO migration.asset_dependencies \
           (client_account_id, source_asset_id, target_asset_id, dependency_type) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(client)
    .bind(source)
    .bind(target)
    .bind(kind)
    .execute(&db.owner)
    .await
    .unwrap();
}
