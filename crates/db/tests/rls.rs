//! Row-level security isolates tenants for the runtime role: without a tenant nothing is
//! visible, with a tenant exactly its rows; other tenants' rows can be neither changed nor
//! created; partitions cannot be queried directly; and foreign keys cannot point at another
//! tenant's engagement or master flow.

use modernize_db::tenant;
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use modernize_testkit::TestDb;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// The tables of the "Tables" section of docs/schema.md with their RLS column: (table, RLS).
fn documented_tables() -> Vec<(String, bool)> {
    let doc = include_str!("../../../docs/schema.md");
    let section = doc
        .split("\n## Tables\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/schema.md has a section \"Tables\"");
    section
        .lines()
        .filter_map(|line| {
            // | `table` | purpose | RLS |
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let rls = cells.get(cells.len().checked_sub(2)?)?;
            Some((name.to_owned(), rls.starts_with("yes")))
        })
        .collect()
}

/// Tables documented with row-level security: every one of them holds tenant rows.
fn rls_tables() -> Vec<String> {
    let tables: Vec<String> = documented_tables()
        .into_iter()
        .filter(|(_, rls)| *rls)
        .map(|(t, _)| t)
        .collect();
    // The tenant tables of the design document are among them.
    for table in DESIGN_TENANT_TABLES {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} documented without RLS"
        );
    }
    tables
}

/// Design tables that hold tenant data (docs/schema.md, "Tenancy model").
const DESIGN_TENANT_TABLES: &[&str] = &[
    "client_accounts",
    "user_roles",
    "engagements",
    "crewai_flow_state_extensions",
    "discovery_flows",
    "assessment_flows",
    "collection_flows",
    "assets",
    "asset_dependencies",
    "platform_credentials",
    "agent_task_history",
    "llm_usage_log",
    "agent_learning_patterns",
    "security_audit_logs",
];

/// Rows of one tenant that other rows refer to.
#[derive(Debug, Clone, Copy)]
struct Tenant {
    client: Uuid,
    engagement: Uuid,
    master_flow: Uuid,
    discovery_flow: Uuid,
    asset1: Uuid,
    asset2: Uuid,
}

impl Tenant {
    fn new() -> Tenant {
        Tenant {
            client: Uuid::new_v4(),
            engagement: Uuid::new_v4(),
            master_flow: Uuid::new_v4(),
            discovery_flow: Uuid::new_v4(),
            asset1: Uuid::new_v4(),
            asset2: Uuid::new_v4(),
        }
    }

    fn scope(&self) -> TenantScope {
        TenantScope::Client {
            client_account_id: ClientAccountId(self.client),
            user_id: None,
        }
    }
}

/// Rows shared by all tenants (tables without RLS).
#[derive(Debug, Clone, Copy)]
struct Shared {
    user: Uuid,
    adapter: Uuid,
}

/// The tenant column of a table.
fn tenant_column(table: &str) -> &'static str {
    if table == "client_accounts" {
        "id"
    } else {
        "client_account_id"
    }
}

/// Inserts one row with primary key `id` into `table` for tenant `t`.
/// Parameters: $1 id, $2 client, $3 engagement, $4 master flow, $5 discovery flow,
/// $6/$7 assets, $8 user, $9 adapter.
async fn insert_row(
    conn: &mut PgConnection,
    table: &str,
    t: &Tenant,
    shared: &Shared,
    id: Uuid,
) -> Result<(), sqlx::Error> {
    let sql = match table {
        "client_accounts" => {
            "INSERT INTO migration.client_accounts (id, name, slug) VALUES ($1, 'Client', $1::text)"
        }
        "engagements" => {
            "INSERT INTO migration.engagements (id, client_account_id, name) VALUES ($1, $2, 'E')"
        }
        "user_roles" => {
            "INSERT INTO migration.user_roles (id, user_id, role, client_account_id) \
             VALUES ($1, $8, 'analyst', $2)"
        }
        "crewai_flow_state_extensions" => {
            "INSERT INTO migration.crewai_flow_state_extensions \
                (flow_id, flow_type, client_account_id, engagement_id) \
             VALUES ($1, 'discovery', $2, $3)"
        }
        "discovery_flows" => {
            "INSERT INTO migration.discovery_flows \
                (id, flow_id, master_flow_id, client_account_id, engagement_id, user_id) \
             VALUES ($1, gen_random_uuid(), $4, $2, $3, $8)"
        }
        "assessment_flows" | "collection_flows" => {
            if table == "assessment_flows" {
                "INSERT INTO migration.assessment_flows \
                    (id, flow_id, master_flow_id, client_account_id, engagement_id, discovery_flow_id) \
                 VALUES ($1, gen_random_uuid(), $4, $2, $3, $5)"
            } else {
                "INSERT INTO migration.collection_flows \
                    (id, flow_id, master_flow_id, client_account_id, engagement_id, discovery_flow_id) \
                 VALUES ($1, gen_random_uuid(), $4, $2, $3, $5)"
            }
        }
        "assets" => {
            "INSERT INTO migration.assets \
                (id, master_flow_id, discovery_flow_id, client_account_id, engagement_id, asset_name) \
             VALUES ($1, $4, $5, $2, $3, 'asset')"
        }
        "asset_dependencies" => {
            "INSERT INTO migration.asset_dependencies \
                (id, client_account_id, source_asset_id, target_asset_id, dependency_type) \
             VALUES ($1, $2, $6, $7, $1::text)"
        }
        "platform_credentials" => {
            "INSERT INTO migration.platform_credentials \
                (id, client_account_id, platform_adapter_id, credential_name, encrypted_credentials) \
             VALUES ($1, $2, $9, $1::text, '\\x00'::bytea)"
        }
        "agent_task_history" => {
            "INSERT INTO migration.agent_task_history \
                (id, task_id, master_flow_id, client_account_id, agent_name) \
             VALUES ($1, $1::text, $4, $2, 'agent')"
        }
        "llm_usage_log" => {
            "INSERT INTO migration.llm_usage_log \
                (id, client_account_id, engagement_id, user_id, provider, model, \
                 prompt_tokens, completion_tokens, total_tokens) \
             VALUES ($1, $2, $3, $8, 'openai', 'gpt', 1, 1, 2)"
        }
        "agent_learning_patterns" => {
            "INSERT INTO migration.agent_learning_patterns \
                (id, client_account_id, engagement_id, master_flow_id, insight_type, embedding, \
                 raw_evidence) \
             VALUES ($1, $2, $3, $4, 'risk_pattern', \
                     array_fill(0.5::real, ARRAY[1536])::vector, '{}')"
        }
        "jobs" => {
            "INSERT INTO migration.jobs (id, client_account_id, kind) VALUES ($1, $2, 'test')"
        }
        "planning_flows" | "execution_flows" => {
            if table == "planning_flows" {
                "INSERT INTO migration.planning_flows \
                    (id, flow_id, master_flow_id, client_account_id, engagement_id) \
                 VALUES ($1, gen_random_uuid(), $4, $2, $3)"
            } else {
                "INSERT INTO migration.execution_flows \
                    (id, flow_id, master_flow_id, client_account_id, engagement_id) \
                 VALUES ($1, gen_random_uuid(), $4, $2, $3)"
            }
        }
        "flow_events" => {
            "INSERT INTO migration.flow_events (flow_id, client_account_id, kind) \
             VALUES ($4, $2, $1::text)"
        }
        "flow_approvals" => {
            "INSERT INTO migration.flow_approvals \
                (id, flow_id, client_account_id, phase, decided_at, decision) \
             VALUES ($1, $4, $2, 'review', now(), 'approve')"
        }
        "import_sessions" => {
            "INSERT INTO migration.import_sessions \
                (id, client_account_id, engagement_id, flow_id, file_name) \
             VALUES ($1, $2, $3, $4, 'inventory.csv')"
        }
        "import_rows" => {
            "INSERT INTO migration.import_rows \
                (import_session_id, client_account_id, table_name, row_number, asset_id) \
             VALUES ($5, $2, $1::text, 2, $6)"
        }
        "import_column_mappings" => {
            "INSERT INTO migration.import_column_mappings \
                (import_session_id, client_account_id, table_name, source_column, target, \
                 target_kind, confidence, status) \
             VALUES ($5, $2, 'inventory.csv', $1::text, 'hostname', 'attribute', 0.9, \
                     'approved')"
        }
        // One lane per client: a second insert for the same client touches the existing lane.
        "job_lanes" => {
            "INSERT INTO migration.job_lanes (id, client_account_id) VALUES ($1, $2) \
             ON CONFLICT (lane) DO UPDATE SET last_served_at = now()"
        }
        "security_audit_logs" => {
            "INSERT INTO migration.security_audit_logs \
                (id, client_account_id, event_type, event_category, actor_user_id, action, result) \
             VALUES ($1, $2, 'login', 'auth', $8::text, 'login', 'success')"
        }
        other => panic!("no insert for {other}"),
    };
    sqlx::query(sql)
        .bind(id)
        .bind(t.client)
        .bind(t.engagement)
        .bind(t.master_flow)
        .bind(t.discovery_flow)
        .bind(t.asset1)
        .bind(t.asset2)
        .bind(shared.user)
        .bind(shared.adapter)
        .execute(conn)
        .await
        .map(drop)
}

/// Seeds, as owner, one row in every tenant table for `t` (`extra`: a second row in the
/// tables nothing refers to).
async fn seed_tenant(pool: &PgPool, t: &Tenant, shared: &Shared, extra: bool) {
    let mut conn = pool.acquire().await.unwrap();
    let fixed: &[(&str, Uuid)] = &[
        ("client_accounts", t.client),
        ("engagements", t.engagement),
        ("crewai_flow_state_extensions", t.master_flow),
        ("discovery_flows", t.discovery_flow),
        ("assets", t.asset1),
        ("assets", t.asset2),
        // Its id is the discovery flow's, so that import rows and mappings can refer to it.
        ("import_sessions", t.discovery_flow),
    ];
    for (table, id) in fixed {
        insert_row(&mut conn, table, t, shared, *id)
            .await
            .unwrap_or_else(|e| panic!("seed {table}: {e}"));
    }
    let leaves = [
        "user_roles",
        "assessment_flows",
        "collection_flows",
        "asset_dependencies",
        "platform_credentials",
        "agent_task_history",
        "llm_usage_log",
        "agent_learning_patterns",
        "security_audit_logs",
        "jobs",
        "job_lanes",
        "planning_flows",
        "execution_flows",
        "flow_events",
        "flow_approvals",
        "import_rows",
        "import_column_mappings",
    ];
    let rounds = if extra { 2 } else { 1 };
    for round in 0..rounds {
        for table in leaves {
            if round == 1 && (table == "asset_dependencies" || table == "job_lanes") {
                continue; // one edge per asset pair, one lane per client
            }
            insert_row(&mut conn, table, t, shared, Uuid::new_v4())
                .await
                .unwrap_or_else(|e| panic!("seed {table}: {e}"));
        }
    }
}

struct World {
    db: TestDb,
    a: Tenant,
    b: Tenant,
    shared: Shared,
}

async fn world() -> World {
    let db = TestDb::new().await;
    let shared = Shared {
        user: Uuid::new_v4(),
        adapter: Uuid::new_v4(),
    };
    sqlx::query(
        "INSERT INTO migration.users (id, auth0_user_id, email) \
         VALUES ($1, $1::text, $1::text || '@example.com')",
    )
    .bind(shared.user)
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO migration.platform_adapters (id, adapter_name, adapter_type, version) \
         VALUES ($1, 'servicenow', 'discovery', '1.0')",
    )
    .bind(shared.adapter)
    .execute(&db.owner)
    .await
    .unwrap();
    let (a, b) = (Tenant::new(), Tenant::new());
    seed_tenant(&db.owner, &a, &shared, true).await;
    seed_tenant(&db.owner, &b, &shared, false).await;
    // Platform-level rows (no tenant): visible in platform scope only.
    for sql in [
        "INSERT INTO migration.user_roles (user_id, role) VALUES ($1, 'admin')",
        "INSERT INTO migration.agent_task_history (task_id, agent_name) \
         VALUES ($1::text || '-platform', 'agent')",
        "INSERT INTO migration.llm_usage_log \
            (provider, model, prompt_tokens, completion_tokens, total_tokens) \
         VALUES ('openai', 'gpt', 1, 1, 2)",
        "INSERT INTO migration.security_audit_logs \
            (event_type, event_category, actor_user_id, action, result) \
         VALUES ('deploy', 'config', 'system', 'deploy', 'success')",
        "INSERT INTO migration.jobs (kind) VALUES ('platform')",
        "INSERT INTO migration.job_lanes DEFAULT VALUES",
    ] {
        sqlx::query(sql)
            .bind(shared.user)
            .execute(&db.owner)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    World { db, a, b, shared }
}

/// Rows of `table` per tenant column value, as the owner sees them.
async fn owner_counts(pool: &PgPool, table: &str) -> BTreeMap<Option<Uuid>, i64> {
    let col = tenant_column(table);
    let rows: Vec<(Option<Uuid>, i64)> = sqlx::query_as(&format!(
        "SELECT {col}, count(*) FROM migration.{table} GROUP BY 1"
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().collect()
}

async fn scoped(pool: &PgPool, scope: TenantScope) -> Transaction<'static, Postgres> {
    tenant::begin(pool, scope)
        .await
        .expect("tenant transaction")
}

fn sqlstate(result: Result<(), sqlx::Error>) -> (String, Option<String>) {
    match result {
        Err(sqlx::Error::Database(e)) => (
            e.code().map(|c| c.into_owned()).unwrap_or_default(),
            e.constraint().map(str::to_owned),
        ),
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[tokio::test]
async fn rls_is_enabled_and_forced_on_exactly_the_documented_tables() {
    let db = TestDb::new().await;
    let rows: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity, \
                (SELECT count(*) FROM pg_policy AS p \
                 WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation' AND p.polcmd = '*') \
         FROM pg_class AS c \
         WHERE c.relnamespace = 'migration'::regnamespace AND c.relkind IN ('r', 'p')",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    let with_rls: BTreeSet<&str> = rows.iter().filter(|r| r.1).map(|r| r.0.as_str()).collect();
    let without: BTreeSet<&str> = rows.iter().filter(|r| !r.1).map(|r| r.0.as_str()).collect();
    let documented = documented_tables();
    let documented_rls: BTreeSet<&str> = documented
        .iter()
        .filter(|(_, rls)| *rls)
        .map(|(t, _)| t.as_str())
        .collect();
    let documented_without: BTreeSet<&str> = documented
        .iter()
        .filter(|(_, rls)| !*rls)
        .map(|(t, _)| t.as_str())
        .collect();
    assert_eq!(
        with_rls, documented_rls,
        "tables with RLS vs docs/schema.md"
    );
    assert_eq!(
        without, documented_without,
        "tables without RLS vs docs/schema.md"
    );
    assert!(rls_tables().len() >= DESIGN_TENANT_TABLES.len());
    for (table, enabled, forced, policies) in &rows {
        if *enabled {
            assert!(forced, "{table}: row-level security must be forced");
            assert_eq!(*policies, 1, "{table}: one FOR ALL policy tenant_isolation");
        }
    }
}

#[tokio::test]
async fn without_a_tenant_the_runtime_role_sees_no_rows() {
    let w = world().await;
    for table in &rls_tables() {
        let total: i64 = owner_counts(&w.db.owner, table).await.values().sum();
        assert!(total >= 2, "{table}: seeded for both tenants");
        // No setting at all (plain pooled connection) and TenantScope::None.
        let (plain,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM migration.{table}"))
            .fetch_one(&w.db.app)
            .await
            .unwrap();
        let mut tx = scoped(&w.db.app, TenantScope::None).await;
        let (none,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM migration.{table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(
            (plain, none),
            (0, 0),
            "{table}: rows visible without a tenant"
        );
    }
}

#[tokio::test]
async fn a_tenant_sees_exactly_its_own_rows_and_platform_scope_sees_all() {
    let w = world().await;
    for table in &rls_tables() {
        let counts = owner_counts(&w.db.owner, table).await;
        let own = counts[&Some(w.a.client)];
        let col = tenant_column(table);
        let mut tx = scoped(&w.db.app, w.a.scope()).await;
        let (visible, foreign): (i64, i64) = sqlx::query_as(&format!(
            "SELECT count(*), count(*) FILTER (WHERE {col} IS DISTINCT FROM $1) \
             FROM migration.{table}"
        ))
        .bind(w.a.client)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(visible, own, "{table}: tenant A sees all of its rows");
        assert_eq!(foreign, 0, "{table}: tenant A sees no other rows");
        tx.rollback().await.unwrap();

        let mut tx = scoped(&w.db.app, TenantScope::Platform { user_id: None }).await;
        let (all,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM migration.{table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(
            all,
            counts.values().sum::<i64>(),
            "{table}: platform scope sees all"
        );
    }
}

#[tokio::test]
async fn a_tenant_cannot_update_or_delete_another_tenants_rows() {
    let w = world().await;
    for table in &rls_tables() {
        let before = owner_counts(&w.db.owner, table).await;
        let col = tenant_column(table);
        let update = format!("UPDATE migration.{table} SET {col} = {col} WHERE {col} = $1");
        let delete = format!("DELETE FROM migration.{table} WHERE {col} = $1");

        let mut tx = scoped(&w.db.app, w.a.scope()).await;
        let updated = sqlx::query(&update)
            .bind(w.b.client)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(updated, 0, "{table}: B's rows updated from A's scope");
        let deleted = sqlx::query(&delete)
            .bind(w.b.client)
            .execute(&mut *tx)
            .await;
        if *table == "security_audit_logs" {
            // Append-only (0010): the runtime role has no DELETE privilege at all.
            assert_eq!(
                sqlstate(deleted.map(drop)).0,
                "42501",
                "{table}: DELETE allowed"
            );
            tx.rollback().await.unwrap();
            tx = scoped(&w.db.app, w.a.scope()).await;
        } else {
            assert_eq!(
                deleted.unwrap().rows_affected(),
                0,
                "{table}: B's rows deleted from A's scope"
            );
        }
        // The same statement does reach A's own rows: the zero above is isolation, not a no-op.
        let own = sqlx::query(&update)
            .bind(w.a.client)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(
            own as i64,
            before[&Some(w.a.client)],
            "{table}: A updates its own rows"
        );
        tx.commit().await.unwrap();

        let after = owner_counts(&w.db.owner, table).await;
        assert_eq!(after, before, "{table}: rows unchanged");
    }
}

#[tokio::test]
async fn a_tenant_cannot_insert_rows_of_another_tenant() {
    let w = world().await;
    for table in &rls_tables() {
        // Positive control: A can insert its own row in its scope (a new client account only
        // in platform scope: a tenant cannot create other tenants).
        let control = if *table == "client_accounts" {
            TenantScope::Platform { user_id: None }
        } else {
            w.a.scope()
        };
        let mut tx = scoped(&w.db.app, control).await;
        insert_row(&mut tx, table, &w.a, &w.shared, Uuid::new_v4())
            .await
            .unwrap_or_else(|e| panic!("{table}: own insert refused: {e}"));
        tx.rollback().await.unwrap();

        let mut tx = scoped(&w.db.app, w.a.scope()).await;
        let result = insert_row(&mut tx, table, &w.b, &w.shared, Uuid::new_v4()).await;
        let (code, _) = sqlstate(result);
        assert_eq!(
            code, "42501",
            "{table}: row of tenant B inserted from A's scope"
        );
    }
    let before = owner_counts(&w.db.owner, "assets").await;
    assert_eq!(before[&Some(w.b.client)], 2, "nothing was added to B");
}

#[tokio::test]
async fn foreign_keys_cannot_reference_another_tenants_engagement_or_master_flow() {
    let w = world().await;
    // Tenant A's ids, but B's engagement / B's master flow.
    let with_b_engagement = Tenant {
        engagement: w.b.engagement,
        ..w.a
    };
    let with_b_master = Tenant {
        master_flow: w.b.master_flow,
        ..w.a
    };
    let cases: &[(&str, &Tenant, &str)] = &[
        (
            "crewai_flow_state_extensions",
            &with_b_engagement,
            "fk_crewai_flow_state_extensions_engagement_id_engagements",
        ),
        (
            "discovery_flows",
            &with_b_engagement,
            "fk_discovery_flows_engagement_id_engagements",
        ),
        (
            "assessment_flows",
            &with_b_engagement,
            "fk_assessment_flows_engagement_id_engagements",
        ),
        (
            "collection_flows",
            &with_b_engagement,
            "fk_collection_flows_engagement_id_engagements",
        ),
        (
            "assets",
            &with_b_engagement,
            "fk_assets_engagement_id_engagements",
        ),
        (
            "llm_usage_log",
            &with_b_engagement,
            "fk_llm_usage_log_engagement_id_engagements",
        ),
        (
            "agent_learning_patterns",
            &with_b_engagement,
            "fk_agent_learning_patterns_engagement_id_engagements",
        ),
        (
            "discovery_flows",
            &with_b_master,
            "fk_discovery_flows_master_flow_id_crewai_flow_state_extensions",
        ),
        (
            "assessment_flows",
            &with_b_master,
            "fk_assessment_flows_master_flow_id_crewai_flow_state_extensions",
        ),
        (
            "collection_flows",
            &with_b_master,
            "fk_collection_flows_master_flow_id_crewai_flow_state_extensions",
        ),
        (
            "assets",
            &with_b_master,
            "fk_assets_master_flow_id_crewai_flow_state_extensions",
        ),
        (
            "agent_task_history",
            &with_b_master,
            "fk_agent_task_history_master_flow_id_crewai_flow_state_extensio",
        ),
        (
            "agent_learning_patterns",
            &with_b_master,
            "fk_agent_learning_patterns_master_flow_id_crewai_flow_state_ext",
        ),
    ];
    for (table, tenant, constraint) in cases {
        // As the application would: in A's scope, with an id of B that it learnt somehow.
        let mut tx = scoped(&w.db.app, w.a.scope()).await;
        let (code, name) =
            sqlstate(insert_row(&mut tx, table, tenant, &w.shared, Uuid::new_v4()).await);
        assert_eq!(code, "23503", "{table}: cross-tenant reference accepted");
        assert_eq!(name.as_deref(), Some(*constraint), "{table}");
        drop(tx);
        // Even the owner (no RLS at all) cannot create it.
        let mut conn = w.db.owner.acquire().await.unwrap();
        let (code, _) =
            sqlstate(insert_row(&mut conn, table, tenant, &w.shared, Uuid::new_v4()).await);
        assert_eq!(
            code, "23503",
            "{table}: cross-tenant reference accepted for the owner"
        );
    }
}

#[tokio::test]
async fn the_runtime_role_is_unprivileged_and_cannot_read_partitions() {
    let db = TestDb::new().await;
    let (superuser, bypass): (bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'modernize_app'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert!(
        !superuser && !bypass,
        "modernize_app must be NOSUPERUSER NOBYPASSRLS"
    );
    let (who,): (String,) = sqlx::query_as("SELECT current_user::text")
        .fetch_one(&db.app)
        .await
        .unwrap();
    assert_eq!(
        who, "modernize_app",
        "the app pool runs as the runtime role"
    );

    let (owned,): (i64,) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_class \
                 WHERE relowner = 'modernize_app'::regrole \
                   AND relnamespace IN ('migration'::regnamespace, \
                                        'migration_partitions'::regnamespace)) \
              + (SELECT count(*) FROM pg_proc \
                 WHERE proowner = 'modernize_app'::regrole \
                   AND pronamespace = 'migration'::regnamespace) \
              + (SELECT count(*) FROM pg_type \
                 WHERE typowner = 'modernize_app'::regrole \
                   AND typnamespace = 'migration'::regnamespace) \
              + (SELECT count(*) FROM pg_namespace \
                 WHERE nspowner = 'modernize_app'::regrole)",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(owned, 0, "modernize_app owns objects");

    let partitions: Vec<(String,)> = sqlx::query_as(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_inherits AS i \
         JOIN pg_class AS c ON c.oid = i.inhrelid \
         JOIN pg_namespace AS n ON n.oid = c.relnamespace \
         WHERE i.inhparent IN ('migration.llm_usage_log'::regclass, \
                               'migration.security_audit_logs'::regclass, \
                               'migration.agent_task_history'::regclass) \
           AND c.relkind = 'r'",
    )
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert!(partitions.len() > 3, "dated and default partitions exist");
    for (partition,) in &partitions {
        assert!(
            partition.starts_with("migration_partitions."),
            "{partition}"
        );
        let result = sqlx::query(&format!("SELECT 1 FROM {partition} LIMIT 1"))
            .execute(&db.app)
            .await
            .map(drop);
        let (code, _) = sqlstate(result);
        assert_eq!(code, "42501", "{partition}: readable by the runtime role");
    }
    // The internal task id table is not reachable either.
    let result = sqlx::query("SELECT 1 FROM migration.agent_task_history_task_ids")
        .execute(&db.app)
        .await
        .map(drop);
    assert_eq!(sqlstate(result).0, "42501");
}

#[tokio::test]
async fn provenance_links_cannot_point_at_another_tenants_flow() {
    let w = world().await;
    let mut conn = w.db.owner.acquire().await.unwrap();
    let attempts = [
        (
            "INSERT INTO migration.assets (client_account_id, engagement_id, asset_name, discovery_flow_id) \
             VALUES ($1, $2, 'probe', $3)",
            "fk_assets_discovery_flow_id_discovery_flows",
        ),
        (
            "INSERT INTO migration.assessment_flows (flow_id, client_account_id, engagement_id, discovery_flow_id) \
             VALUES (gen_random_uuid(), $1, $2, $3)",
            "fk_assessment_flows_discovery_flow_id_discovery_flows",
        ),
        (
            "INSERT INTO migration.collection_flows (flow_id, client_account_id, engagement_id, discovery_flow_id) \
             VALUES (gen_random_uuid(), $1, $2, $3)",
            "fk_collection_flows_discovery_flow_id_discovery_flows",
        ),
    ];
    for (sql, constraint) in attempts {
        let result = sqlx::query(sql)
            .bind(w.a.client)
            .bind(w.a.engagement)
            .bind(w.b.discovery_flow)
            .execute(&mut *conn)
            .await;
        let (code, name) = sqlstate(result.map(|_| ()));
        assert_eq!(
            code, "23503",
            "{constraint}: cross-tenant provenance accepted"
        );
        assert_eq!(name.as_deref(), Some(constraint));
        // The same link within the tenant is fine.
        sqlx::query(sql)
            .bind(w.a.client)
            .bind(w.a.engagement)
            .bind(w.a.discovery_flow)
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{constraint}: same-tenant link refused: {e}"));
    }
}
