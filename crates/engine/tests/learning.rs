//! Learning from mapping corrections: patterns stored with a 1536-dimensional embedding and
//! their evidence, strengthened rather than duplicated, the latest decision winning, never
//! crossing clients (application filter and row-level security), and the loop through the
//! import pipeline: stage → correct in the review → stage again → the correction is proposed.

use std::io::Write;

use modernize_domain::ids::{ClientAccountId, UserId};
use modernize_domain::tenancy::TenantScope;
use modernize_engine::import::{ApplyOptions, ImportOptions, apply_import, stage_import};
use modernize_engine::import_review::{self, DecisionInput, DecisionRequest};
use modernize_engine::learning::{
    MappingCorrection, StoredTarget, mapping_hints, nearest_corrections, record_mapping_correction,
};
use modernize_ingest::attributes::AssetAttribute;
use modernize_ingest::mapping::Target;
use modernize_testkit::TestDb;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

async fn tenant(owner: &PgPool, slug: &str) -> (Uuid, Uuid) {
    let (client,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.client_accounts (name, slug) VALUES ($1, $1) RETURNING id",
    )
    .bind(slug)
    .fetch_one(owner)
    .await
    .unwrap();
    let (engagement,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.engagements (client_account_id, name) VALUES ($1, 'E') RETURNING id",
    )
    .bind(client)
    .fetch_one(owner)
    .await
    .unwrap();
    (client, engagement)
}

fn scope(client: Uuid) -> TenantScope {
    TenantScope::Client {
        client_account_id: ClientAccountId(client),
        user_id: None,
    }
}

fn correction(client: Uuid, column: &str, kind: &str, target: Option<&str>) -> MappingCorrection {
    MappingCorrection {
        client_account_id: client,
        engagement_id: None,
        master_flow_id: None,
        import_session_id: None,
        table: "servers".into(),
        source_column: column.into(),
        sample_values: vec!["web01".into(), "db01".into()],
        proposed: StoredTarget::new("attribute", Some("hostname")),
        proposed_confidence: 0.62,
        corrected: StoredTarget::new(kind, target),
        decided_by: None,
    }
}

/// A user of the platform who reviews mappings.
async fn analyst(db: &TestDb) -> Uuid {
    let mut conn = db.owner.acquire().await.unwrap();
    let UserId(id) =
        modernize_db::identity::create_user(&mut conn, "analyst@alpha.example", None, None)
            .await
            .unwrap();
    id
}

async fn record(db: &TestDb, c: &MappingCorrection) -> Uuid {
    let mut tx = modernize_db::tenant::begin(&db.app, scope(c.client_account_id))
        .await
        .unwrap();
    let id = record_mapping_correction(&mut tx, c).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn hints(db: &TestDb, as_client: Uuid, of: Uuid) -> Vec<(String, Target, f64)> {
    let mut tx = modernize_db::tenant::begin(&db.app, scope(as_client))
        .await
        .unwrap();
    let h = mapping_hints(&mut tx, of).await.unwrap();
    tx.commit().await.unwrap();
    h.into_iter()
        .map(|c| (c.source_column, c.target, c.weight))
        .collect()
}

#[tokio::test]
async fn corrections_are_strengthened_latest_wins_and_stay_with_their_client() {
    let db = TestDb::new().await;
    let (a, _) = tenant(&db.owner, "alpha").await;
    let (b, _) = tenant(&db.owner, "beta").await;

    let first = record(
        &db,
        &correction(a, "Srv Name", "custom", Some("server_alias")),
    )
    .await;
    let (dims, evidence, confidence): (i32, Value, f64) = sqlx::query_as(
        "SELECT vector_dims(embedding), raw_evidence, confidence_score \
           FROM migration.agent_learning_patterns WHERE id = $1",
    )
    .bind(first)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(dims, 1536);
    assert_eq!(confidence, 0.9);
    assert_eq!(evidence["learning_key"], "srvname");
    assert_eq!(evidence["evidence_count"], 1);
    assert_eq!(evidence["proposed"]["target"], "hostname");
    assert_eq!(evidence["corrected"]["target"], "server_alias");
    assert_eq!(
        hints(&db, a, a).await,
        [(
            "Srv Name".to_string(),
            Target::Custom("server_alias".into()),
            0.9
        )]
    );

    // The same correction again, spelled differently: one pattern, stronger.
    let again = record(
        &db,
        &correction(a, "srv_name", "custom", Some("server_alias")),
    )
    .await;
    assert_eq!(again, first);
    let (count, evidence, confidence): (i64, Value, f64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM migration.agent_learning_patterns), raw_evidence, \
                confidence_score FROM migration.agent_learning_patterns WHERE id = $1",
    )
    .bind(first)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(count, 1);
    assert_eq!(evidence["evidence_count"], 2);
    assert_eq!(confidence, 0.93);
    assert_eq!(hints(&db, a, a).await[0].2, 0.93);

    // A later, different decision for the same column wins, with less weight.
    let other = record(
        &db,
        &correction(a, "SrvName", "attribute", Some("hostname")),
    )
    .await;
    assert_ne!(other, first);
    assert_eq!(
        hints(&db, a, a).await,
        [(
            "SrvName".to_string(),
            Target::Attribute(AssetAttribute::Hostname),
            0.8
        )]
    );

    // Client B sees nothing of A: neither by its own id nor by A's (row-level security).
    assert!(hints(&db, b, b).await.is_empty());
    assert!(hints(&db, b, a).await.is_empty());
    let mut tx = modernize_db::tenant::begin(&db.app, scope(b))
        .await
        .unwrap();
    assert!(
        nearest_corrections(&mut tx, a, "Srv Name", &[], 5)
            .await
            .unwrap()
            .is_empty()
    );
    // ... and cannot write a pattern for A.
    let refused = record_mapping_correction(&mut tx, &correction(a, "Owner", "ignore", None)).await;
    assert!(refused.is_err(), "RLS let client B write a pattern of A");
    drop(tx);
    record(&db, &correction(b, "Srv Name", "ignore", None)).await;
    assert_eq!(hints(&db, a, a).await.len(), 1);
    assert_eq!(
        hints(&db, b, b).await,
        [("Srv Name".to_string(), Target::Ignore, 0.9)]
    );

    // Similar names are found through the embedding index.
    let mut tx = modernize_db::tenant::begin(&db.app, scope(a))
        .await
        .unwrap();
    let near = nearest_corrections(&mut tx, a, "SRV-NAME", &["web01".into(), "db01".into()], 5)
        .await
        .unwrap();
    assert_eq!(near.len(), 2);
    assert!(near.iter().all(|n| n.1 > 0.99), "{near:?}");
    let far = nearest_corrections(&mut tx, a, "Owner E-mail", &["a@b.example".into()], 5)
        .await
        .unwrap();
    assert!(far.iter().all(|n| n.1 < 0.5), "{far:?}");
}

fn csv_file(content: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    f.write_all(content.as_bytes()).unwrap();
    f
}

const FIRST: &str =
    "Server,Srv Name,Box\nweb-01,web01,R12-U04\ndb-01,db01,R12-U05\napp-01,app01,R13-U01\n";
const SECOND: &str = "Server,SrvName,Box\nweb-02,web02,R14-U04\ndb-02,db02,R14-U05\n";

async fn proposal(db: &TestDb, import: Uuid, column: &str) -> (String, Option<String>, String) {
    sqlx::query_as(
        "SELECT target_kind, target, status FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND source_column = $2",
    )
    .bind(import)
    .bind(column)
    .fetch_one(&db.owner)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_next_import_proposes_the_corrected_mapping() {
    let db = TestDb::new().await;
    let (a, ea) = tenant(&db.owner, "alpha").await;
    let (b, eb) = tenant(&db.owner, "beta").await;
    let user = analyst(&db).await;
    let options = ImportOptions::default();
    let file = csv_file(FIRST);
    let staged = stage_import(&db.app, a, ea, file.path(), &options, &mut |_| {})
        .await
        .unwrap();
    let before_srv = proposal(&db, staged.import_id, "Srv Name").await;
    let before_box = proposal(&db, staged.import_id, "Box").await;
    assert_ne!(
        (before_srv.0.as_str(), before_srv.1.as_deref()),
        ("custom", Some("server_alias"))
    );
    assert_ne!(
        (before_box.0.as_str(), before_box.1.as_deref()),
        ("attribute", Some("rack_location"))
    );

    // The analyst corrects two columns and approves the rest.
    let decisions = [
        DecisionInput {
            source_column: Some("Srv Name".into()),
            action: Some("edit".into()),
            target_kind: Some("custom".into()),
            target: Some("server_alias".into()),
            ..Default::default()
        },
        DecisionInput {
            source_column: Some("Box".into()),
            action: Some("edit".into()),
            target_kind: Some("attribute".into()),
            target: Some("rack_location".into()),
            ..Default::default()
        },
    ];
    let mut tx = modernize_db::tenant::begin(&db.app, scope(a))
        .await
        .unwrap();
    let outcome = import_review::decide(
        &mut tx,
        &DecisionRequest {
            client_account_id: a,
            engagement_id: ea,
            import_id: staged.import_id,
            user_id: user,
            decisions: &decisions,
            approve_all: true,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outcome.status, "staged");
    assert_eq!(outcome.edited, 2);
    assert!(
        outcome
            .columns
            .iter()
            .take(2)
            .all(|c| c.learning_pattern_id.is_some())
    );

    // The reviewed import applies with the decided mapping.
    let report = apply_import(
        &db.app,
        a,
        staged.import_id,
        &ApplyOptions {
            dry_run: false,
            user_id: Some(user),
        },
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.status, "committed");
    let (rack,): (Option<String>,) = sqlx::query_as(
        "SELECT rack_location FROM migration.assets WHERE client_account_id = $1 \
            AND import_session_id = $2 AND asset_name = 'web-01'",
    )
    .bind(a)
    .bind(staged.import_id)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(rack.as_deref(), Some("R12-U04"));

    // The next import of the same client proposes the corrections (a differently spelled
    // header included), approved.
    let file = csv_file(SECOND);
    let next = stage_import(&db.app, a, ea, file.path(), &options, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        proposal(&db, next.import_id, "SrvName").await,
        (
            "custom".to_string(),
            Some("server_alias".to_string()),
            "approved".to_string()
        )
    );
    assert_eq!(
        proposal(&db, next.import_id, "Box").await,
        (
            "attribute".to_string(),
            Some("rack_location".to_string()),
            "approved".to_string()
        )
    );

    // Another client importing the same file does not.
    let other = stage_import(&db.app, b, eb, file.path(), &options, &mut |_| {})
        .await
        .unwrap();
    let srv = proposal(&db, other.import_id, "SrvName").await;
    let boxed = proposal(&db, other.import_id, "Box").await;
    assert_ne!(srv.1.as_deref(), Some("server_alias"));
    assert_ne!(boxed.1.as_deref(), Some("rack_location"));
}

/// (applied_count, last_applied_at is set) of a pattern.
async fn usage(db: &TestDb, pattern: Uuid) -> (i32, bool) {
    let (count, last): (Option<i32>, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "SELECT applied_count, last_applied_at FROM migration.agent_learning_patterns \
          WHERE id = $1",
    )
    .bind(pattern)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    (count.unwrap_or(0), last.is_some())
}

#[tokio::test]
async fn a_learned_pattern_counts_each_import_whose_proposal_applies_it() {
    let db = TestDb::new().await;
    let (a, ea) = tenant(&db.owner, "alpha").await;
    let (b, _) = tenant(&db.owner, "beta").await;
    let exact = record(
        &db,
        &correction(a, "Srv Name", "custom", Some("server_alias")),
    )
    .await;
    let similar = record(
        &db,
        &correction(a, "Cust Sys Ref Code", "attribute", Some("source_id")),
    )
    .await;
    let unused = record(&db, &correction(a, "Legacy Ref", "ignore", None)).await;
    let other_client = record(
        &db,
        &correction(b, "Srv Name", "custom", Some("server_alias")),
    )
    .await;
    for p in [exact, similar, unused, other_client] {
        assert_eq!(usage(&db, p).await, (0, false));
    }

    // Staging proposes the exact and the similar-name correction: both are counted once.
    let file = csv_file(
        "Server,Srv Name,CustSysRefCode2\nweb-01,web01,C-1\ndb-01,db01,C-2\napp-01,app01,C-3\n",
    );
    let options = ImportOptions::default();
    let staged = stage_import(&db.app, a, ea, file.path(), &options, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(
        proposal(&db, staged.import_id, "Srv Name").await,
        (
            "custom".to_string(),
            Some("server_alias".to_string()),
            "approved".to_string()
        )
    );
    assert_eq!(
        proposal(&db, staged.import_id, "CustSysRefCode2").await.1,
        Some("source_id".to_string())
    );
    assert_eq!(usage(&db, exact).await, (1, true));
    assert_eq!(usage(&db, similar).await, (1, true));
    assert_eq!(usage(&db, unused).await, (0, false), "not in the file");
    assert_eq!(
        usage(&db, other_client).await,
        (0, false),
        "another client's pattern is never used"
    );

    // The one-shot import counts too.
    modernize_engine::import::run_import(&db.app, a, ea, file.path(), &options, &mut |_| {})
        .await
        .unwrap();
    assert_eq!(usage(&db, exact).await, (2, true));
    assert_eq!(usage(&db, similar).await, (2, true));

    // An import that fails counts nothing: the count is part of its transaction.
    sqlx::query(
        "ALTER TABLE migration.import_rows ADD CONSTRAINT ck_test_no_poison \
            CHECK (raw->>'Server' IS DISTINCT FROM 'poison')",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    let poisoned = csv_file("Server,Srv Name,CustSysRefCode2\nweb-02,web02,C-4\npoison,p,C-5\n");
    let failed = stage_import(&db.app, a, ea, poisoned.path(), &options, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(failed.code(), "database_error", "{failed}");
    assert_eq!(usage(&db, exact).await, (2, true));
    assert_eq!(usage(&db, similar).await, (2, true));
}

async fn success_rate(db: &TestDb, pattern: Uuid) -> Option<f64> {
    let (rate,): (Option<f64>,) =
        sqlx::query_as("SELECT success_rate FROM migration.agent_learning_patterns WHERE id = $1")
            .bind(pattern)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    rate
}

#[tokio::test]
async fn success_rate_is_the_share_of_committed_uses_that_kept_the_pattern() {
    let db = TestDb::new().await;
    let (a, ea) = tenant(&db.owner, "alpha").await;
    let user = analyst(&db).await;
    let pattern = record(
        &db,
        &correction(a, "Srv Name", "custom", Some("server_alias")),
    )
    .await;
    let options = ImportOptions::default();
    let apply = |import: Uuid| {
        let app = db.app.clone();
        async move {
            apply_import(
                &app,
                a,
                import,
                &ApplyOptions {
                    dry_run: false,
                    user_id: Some(user),
                },
                &mut |_| {},
            )
            .await
            .unwrap()
        }
    };

    // Used and kept: known once the import commits.
    let file = csv_file(FIRST);
    let first = stage_import(&db.app, a, ea, file.path(), &options, &mut |_| {})
        .await
        .unwrap();
    let (learned,): (Option<Uuid>,) = sqlx::query_as(
        "SELECT learned_pattern_id FROM migration.import_column_mappings \
          WHERE import_session_id = $1 AND source_column = 'Srv Name'",
    )
    .bind(first.import_id)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(learned, Some(pattern));
    assert_eq!(success_rate(&db, pattern).await, None, "not committed yet");
    let mut tx = modernize_db::tenant::begin(&db.app, scope(a))
        .await
        .unwrap();
    import_review::decide(
        &mut tx,
        &DecisionRequest {
            client_account_id: a,
            engagement_id: ea,
            import_id: first.import_id,
            user_id: user,
            decisions: &[],
            approve_all: true,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(apply(first.import_id).await.status, "committed");
    assert_eq!(success_rate(&db, pattern).await, Some(1.0));

    // Used and overridden by the analyst: half of the uses kept it.
    let file = csv_file(SECOND);
    let second = stage_import(&db.app, a, ea, file.path(), &options, &mut |_| {})
        .await
        .unwrap();
    let mut tx = modernize_db::tenant::begin(&db.app, scope(a))
        .await
        .unwrap();
    import_review::decide(
        &mut tx,
        &DecisionRequest {
            client_account_id: a,
            engagement_id: ea,
            import_id: second.import_id,
            user_id: user,
            decisions: &[DecisionInput {
                source_column: Some("SrvName".into()),
                action: Some("edit".into()),
                target_kind: Some("custom".into()),
                target: Some("dns_alias".into()),
                ..Default::default()
            }],
            approve_all: true,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        success_rate(&db, pattern).await,
        Some(1.0),
        "until it commits"
    );
    assert_eq!(apply(second.import_id).await.status, "committed");
    assert_eq!(success_rate(&db, pattern).await, Some(0.5));

    // The analyst's new correction is the one the next import uses, and keeps.
    let (newer,): (Uuid,) = sqlx::query_as(
        "SELECT id FROM migration.agent_learning_patterns \
          WHERE raw_evidence->'corrected'->>'target' = 'dns_alias'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    let run = |dry_run: bool| {
        let options = ImportOptions {
            dry_run,
            ..ImportOptions::default()
        };
        let (app, path) = (db.app.clone(), file.path().to_path_buf());
        async move {
            modernize_engine::import::run_import(&app, a, ea, &path, &options, &mut |_| {})
                .await
                .unwrap()
                .status
        }
    };
    assert_eq!(run(true).await, "dry_run_completed");
    assert_eq!(
        success_rate(&db, newer).await,
        None,
        "a dry run settles nothing"
    );
    assert_eq!(run(false).await, "committed");
    assert_eq!(success_rate(&db, newer).await, Some(1.0));
    assert_eq!(success_rate(&db, pattern).await, Some(0.5));
}
