//! Similarity search uses the HNSW indexes (cosine distance) and, for the runtime role, returns
//! only the tenant's own rows, nearest first.

use modernize_db::tenant;
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use modernize_testkit::TestDb;
use pgvector::Vector;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const DIM: usize = 1536;

/// Deterministic pseudo-random embeddings (xorshift64*), components in [-1, 1).
struct Embeddings(u64);

impl Embeddings {
    fn next(&mut self) -> Vec<f32> {
        (0..DIM)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 bits
                (x as f32 / (1u32 << 23) as f32) - 1.0
            })
            .collect()
    }
}

struct Tenant {
    client: Uuid,
    engagement: Uuid,
    /// (id, embedding) of every asset and every pattern.
    assets: Vec<(Uuid, Vec<f32>)>,
    patterns: Vec<(Uuid, Vec<f32>)>,
}

async fn seed_tenant(conn: &mut PgConnection, embeddings: &mut Embeddings, rows: usize) -> Tenant {
    let (client, engagement) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::query(
        "INSERT INTO migration.client_accounts (id, name, slug) VALUES ($1, 'C', $1::text)",
    )
    .bind(client)
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO migration.engagements (id, client_account_id, name) VALUES ($1, $2, 'E')",
    )
    .bind(engagement)
    .bind(client)
    .execute(&mut *conn)
    .await
    .unwrap();
    let mut tenant = Tenant {
        client,
        engagement,
        assets: Vec::new(),
        patterns: Vec::new(),
    };
    for i in 0..rows {
        let (id, embedding) = (Uuid::new_v4(), embeddings.next());
        sqlx::query(
            "INSERT INTO migration.assets \
                (id, client_account_id, engagement_id, asset_name, embedding) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(tenant.client)
        .bind(tenant.engagement)
        .bind(format!("asset-{i}"))
        .bind(Vector::from(embedding.clone()))
        .execute(&mut *conn)
        .await
        .unwrap();
        tenant.assets.push((id, embedding));

        let (id, embedding) = (Uuid::new_v4(), embeddings.next());
        sqlx::query(
            "INSERT INTO migration.agent_learning_patterns \
                (id, client_account_id, engagement_id, insight_type, embedding, raw_evidence) \
             VALUES ($1, $2, $3, 'risk_pattern', $4, '{}')",
        )
        .bind(id)
        .bind(tenant.client)
        .bind(tenant.engagement)
        .bind(Vector::from(embedding.clone()))
        .execute(&mut *conn)
        .await
        .unwrap();
        tenant.patterns.push((id, embedding));
    }
    tenant
}

/// Tenant A with 200 assets and 200 patterns, tenant B with 100 of each.
async fn world() -> (TestDb, Tenant, Tenant) {
    let db = TestDb::new().await;
    let mut embeddings = Embeddings(0x9E37_79B9_7F4A_7C15);
    let mut tx = db.owner.begin().await.unwrap();
    let a = seed_tenant(&mut tx, &mut embeddings, 200).await;
    let b = seed_tenant(&mut tx, &mut embeddings, 100).await;
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE migration.assets, migration.agent_learning_patterns")
        .execute(&db.owner)
        .await
        .unwrap();
    (db, a, b)
}

fn knn(table: &str) -> String {
    format!("SELECT id FROM migration.{table} ORDER BY embedding <=> $1 LIMIT 5")
}

/// The plan of the kNN query on `table` with sequential scans disabled, as text.
async fn plan(conn: &mut PgConnection, table: &str, query: &[f32]) -> String {
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let lines: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {}", knn(table)))
        .bind(Vector::from(query.to_vec()))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    lines
        .into_iter()
        .map(|(l,)| l)
        .collect::<Vec<_>>()
        .join("\n")
}

fn scope(t: &Tenant) -> TenantScope {
    TenantScope::Client {
        client_account_id: ClientAccountId(t.client),
        user_id: None,
    }
}

async fn nearest(pool: &PgPool, t: &Tenant, table: &str, query: &[f32]) -> Vec<Uuid> {
    let mut tx = tenant::begin(pool, scope(t)).await.unwrap();
    let rows: Vec<(Uuid,)> = sqlx::query_as(&knn(table))
        .bind(Vector::from(query.to_vec()))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    rows.into_iter().map(|(id,)| id).collect()
}

#[tokio::test]
async fn knn_queries_use_the_hnsw_indexes() {
    let (db, a, _b) = world().await;
    for (table, index, query) in [
        ("assets", "ix_assets_embedding", &a.assets[7].1),
        (
            "agent_learning_patterns",
            "ix_agent_learning_patterns_embedding",
            &a.patterns[7].1,
        ),
    ] {
        let mut tx = db.owner.begin().await.unwrap();
        let text = plan(&mut tx, table, query).await;
        assert!(
            text.contains(&format!("Index Scan using {index}")),
            "{table}: plan without {index}:\n{text}"
        );
        tx.rollback().await.unwrap();

        // Also under row-level security, as the runtime role in a tenant scope.
        let mut tx = tenant::begin(&db.app, scope(&a)).await.unwrap();
        let text = plan(&mut tx, table, query).await;
        assert!(
            text.contains(&format!("Index Scan using {index}")),
            "{table}: runtime-role plan without {index}:\n{text}"
        );
    }
}

#[tokio::test]
async fn knn_as_a_tenant_returns_only_its_rows_nearest_first() {
    let (db, a, b) = world().await;
    for (table, own, other) in [
        ("assets", &a.assets, &b.assets),
        ("agent_learning_patterns", &a.patterns, &b.patterns),
    ] {
        let is_own = |id: &Uuid| own.iter().any(|(o, _)| o == id);

        // The query vector is one of A's rows: that row comes first (distance 0).
        for probe in [0, 42, 199] {
            let (id, embedding) = &own[probe];
            let found = nearest(&db.app, &a, table, embedding).await;
            assert_eq!(found.len(), 5, "{table}: k = 5 rows");
            assert_eq!(found[0], *id, "{table}: identical vector first");
            assert!(
                found.iter().all(is_own),
                "{table}: rows of another tenant returned"
            );
        }

        // B's exact vector, searched in A's scope: B's row (the true nearest) is invisible.
        let (b_id, b_embedding) = &other[3];
        let found = nearest(&db.app, &a, table, b_embedding).await;
        assert_eq!(found.len(), 5, "{table}: k = 5 rows");
        assert!(!found.contains(b_id), "{table}: B's row visible to A");
        assert!(
            found.iter().all(is_own),
            "{table}: rows of another tenant returned"
        );
        // ... while B finds it first.
        let found = nearest(&db.app, &b, table, b_embedding).await;
        assert_eq!(found.first(), Some(b_id), "{table}: B finds its own row");
    }
}
