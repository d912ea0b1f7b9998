//! Workbooks holding several tables: every recognisable sheet is imported with its own layout,
//! mapping and row report; notes and empty sheets are left out with a reason; relationship
//! sheets resolve against the assets of the same import; all or nothing.

mod import_support;

use import_support::*;
use modernize_engine::import::{ImportOptions, ImportReport};

fn estate_workbook(dir: &std::path::Path) -> std::path::PathBuf {
    workbook(
        dir,
        "estate.xlsx",
        &[
            sheet(
                "Readme",
                &[
                    &["This workbook lists the estate of the Paris data centre"],
                    &["Prepared by the infrastructure team"],
                ],
            ),
            sheet(
                "Servers",
                &[
                    &[
                        "Hostname",
                        "IP Address",
                        "Operating System",
                        "CPU Cores",
                        "Memory GB",
                        "Environment",
                    ],
                    &["web01", "10.1.0.11", "Ubuntu 22.04", "4", "8", "Production"],
                    &[
                        "app01",
                        "10.1.0.12",
                        "Ubuntu 22.04",
                        "8",
                        "16",
                        "Production",
                    ],
                    &[
                        "db01",
                        "10.1.0.13",
                        "Windows Server 2019",
                        "16",
                        "64",
                        "Production",
                    ],
                ],
            ),
            sheet(
                "Applications",
                &[
                    &[
                        "Application Name",
                        "Owner",
                        "Business Criticality",
                        "Environment",
                    ],
                    &["Billing", "Ann Smith", "High", "Production"],
                    &["Orders", "Bob Jones", "Medium", "Production"],
                ],
            ),
            sheet("Empty", &[]),
            sheet(
                "Dependencies",
                &[
                    &["Source", "Target", "Port"],
                    &["web01", "Billing", "443"],
                    &["Billing", "db01", "1433"],
                    &["Orders", "mainframe01", "23"],
                ],
            ),
        ],
    )
}

fn table<'a>(r: &'a ImportReport, name: &str) -> &'a modernize_engine::import::TableReport {
    r.tables
        .iter()
        .find(|t| t.table == name)
        .unwrap_or_else(|| panic!("no table {name}: {:#?}", r.tables))
}

#[tokio::test]
async fn a_workbook_of_servers_applications_and_dependencies_imports_every_sheet() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let file = estate_workbook(dir.path());

    // A dry run first: the same counts, nothing written.
    let dry = w.import(&file, true).await;
    assert_eq!(w.assets().await, 0, "a dry run writes no asset");

    let r = w.import(&file, false).await;
    no_rows_lost(&r);
    let tables: Vec<(&str, &str, &str)> = r
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.layout.as_str(), t.kind.as_str()))
        .collect();
    assert_eq!(
        tables,
        [
            ("Servers", "generic_cmdb", "assets"),
            ("Applications", "generic_cmdb", "assets"),
            ("Dependencies", "generic_cmdb", "dependencies"),
        ]
    );
    let skipped: Vec<&str> = r.skipped_tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(skipped, ["Empty", "Readme"], "{:#?}", r.skipped_tables);
    assert!(r.skipped_tables.iter().all(|t| !t.reason.is_empty()));

    assert_eq!(r.rows_read, 8, "{r:#?}");
    assert_eq!(r.rows_rejected, 0, "{:?}", r.rejected_by_code);
    assert_eq!(r.assets_created, 5, "{r:#?}");
    assert_eq!(table(&r, "Servers").assets_created, 3);
    assert_eq!(table(&r, "Applications").assets_created, 2);
    assert_eq!(table(&r, "Dependencies").rows_read, 3);
    assert_eq!(w.assets().await, 5);
    let apps = w
        .count(
            "SELECT count(*) FROM migration.assets WHERE engagement_id = $1 \
             AND asset_type = 'application'",
        )
        .await;
    assert_eq!(apps, 2);
    assert_eq!(w.asset_value("db01", "memory_gb").await, 64.0);
    assert_eq!(
        w.asset_value("Billing", "business_criticality").await,
        "high"
    );

    // The relationship sheet resolves against the servers and applications of this import.
    assert_eq!(r.dependencies_created, 2, "{r:#?}");
    assert_eq!(
        r.dependencies_skipped, 1,
        "mainframe01 is not in the inventory"
    );
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.asset_name, t.asset_name FROM migration.asset_dependencies d \
         JOIN migration.assets s ON s.id = d.source_asset_id \
         JOIN migration.assets t ON t.id = d.target_asset_id \
         WHERE s.engagement_id = $1 ORDER BY 1, 2",
    )
    .bind(w.engagement)
    .fetch_all(&w.db.owner)
    .await
    .unwrap();
    assert_eq!(
        edges,
        [
            ("Billing".to_string(), "db01".to_string()),
            ("web01".to_string(), "Billing".to_string()),
        ]
    );

    // Each sheet has its own mappings and row report.
    let mappings: Vec<(String, i64)> = sqlx::query_as(
        "SELECT table_name, count(*) FROM migration.import_column_mappings \
         WHERE import_session_id = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(r.import_id)
    .fetch_all(&w.db.owner)
    .await
    .unwrap();
    assert_eq!(
        mappings,
        [
            ("Applications".to_string(), 4),
            ("Dependencies".to_string(), 3),
            ("Servers".to_string(), 6),
        ]
    );
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT table_name, count(*) FROM migration.import_rows \
         WHERE import_session_id = $1 GROUP BY 1 ORDER BY 1",
    )
    .bind(r.import_id)
    .fetch_all(&w.db.owner)
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            ("Applications".to_string(), 2),
            ("Dependencies".to_string(), 3),
            ("Servers".to_string(), 3),
        ]
    );

    assert_eq!(
        (dry.rows_read, dry.assets_created, dry.dependencies_created),
        (r.rows_read, r.assets_created, r.dependencies_created),
        "a dry run reports what the import does"
    );

    // The same workbook again: nothing new.
    let again = w.import(&file, false).await;
    assert_eq!(
        (
            again.assets_created,
            again.assets_updated,
            again.assets_unchanged
        ),
        (0, 0, 5),
        "{again:#?}"
    );
    assert_eq!(again.dependencies_created, 0);
    assert_eq!(w.assets().await, 5);
}

#[tokio::test]
async fn two_asset_sheets_are_staged_and_reviewed_table_by_table() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let header: &[&str] = &["Hostname", "IP Address", "Operating System", "Memory GB"];
    let file = workbook(
        dir.path(),
        "cmdb.xlsx",
        &[
            sheet(
                "Linux",
                &[
                    header,
                    &["lx01", "10.3.0.1", "Red Hat Enterprise Linux 8", "16"],
                    &["lx02", "10.3.0.2", "Ubuntu 20.04", "8"],
                ],
            ),
            sheet(
                "Windows",
                &[
                    header,
                    &["win01", "10.4.0.1", "Windows Server 2022", "32"],
                    &["win02", "10.4.0.2", "Windows Server 2016", "16"],
                    &["win03", "10.4.0.3", "Windows Server 2019", "4"],
                ],
            ),
        ],
    );
    // A demanding threshold: every column of both sheets waits for a person.
    let options = ImportOptions {
        threshold: 0.99,
        ..ImportOptions::default()
    };
    let staged = w.stage(&file, options).await;
    assert_eq!(staged.rows_staged, 5);
    let tables: Vec<(&str, u64, u64)> = staged
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows_staged, t.needs_review))
        .collect();
    assert_eq!(tables, [("Linux", 2, 4), ("Windows", 3, 4)]);
    assert_eq!(staged.needs_review, 8);
    assert_eq!(w.session_status(staged.import_id).await.0, "mapping_review");

    // The Linux sheet is approved as proposed; the Windows sheet still waits.
    let decide = |table: &'static str, column: Option<&'static str>, status: &'static str| {
        let pool = w.db.owner.clone();
        let id = staged.import_id;
        async move {
            sqlx::query(
                "UPDATE migration.import_column_mappings SET status = $4, \
                    target = CASE WHEN $4 = 'rejected' THEN NULL ELSE target END, \
                    target_kind = CASE WHEN $4 = 'rejected' THEN 'ignore' ELSE target_kind END \
                 WHERE import_session_id = $1 AND table_name = $2 \
                   AND (($3::text IS NULL AND status = 'needs_review') OR source_column = $3)",
            )
            .bind(id)
            .bind(table)
            .bind(column)
            .bind(status)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected()
        }
    };
    assert_eq!(decide("Linux", None, "approved").await, 4);
    let refused = w.apply(staged.import_id).await.unwrap_err();
    assert_eq!(refused.code(), "mapping_review_pending");
    assert!(
        refused.to_string().contains("Windows.Memory GB") && !refused.to_string().contains("Linux"),
        "{refused}"
    );
    assert_eq!(w.assets().await, 0, "nothing applied while a table waits");

    // Windows: the same column name as in Linux, decided differently.
    assert_eq!(decide("Windows", Some("Memory GB"), "rejected").await, 1);
    assert_eq!(decide("Windows", None, "approved").await, 3);
    let r = w.apply(staged.import_id).await.unwrap();
    no_rows_lost(&r);
    assert_eq!(r.assets_created, 5, "{r:#?}");
    assert_eq!(table(&r, "Linux").assets_created, 2);
    assert_eq!(table(&r, "Windows").assets_created, 3);
    assert_eq!(w.asset_value("lx01", "memory_gb").await, 16.0);
    assert_eq!(
        w.asset_value("win01", "memory_gb").await,
        serde_json::Value::Null,
        "the Windows sheet's memory column was rejected"
    );
    let decided = r
        .column_mappings
        .iter()
        .find(|m| m.table == "Windows" && m.source_column == "Memory GB")
        .unwrap();
    assert_eq!(decided.status, "rejected");
    let still_staged = w
        .count(
            "SELECT count(*) FROM migration.import_rows r JOIN migration.import_sessions s \
             ON s.id = r.import_session_id WHERE s.engagement_id = $1 AND r.status = 'staged'",
        )
        .await;
    assert_eq!(still_staged, 0, "every row of both sheets has its outcome");

    // The one-shot import of the same workbook matches the applied one.
    let again = w.import(&file, false).await;
    assert_eq!(again.assets_created, 0, "{again:#?}");
    assert_eq!(w.assets().await, 5);
}

#[tokio::test]
async fn large_sheets_stream_in_batches_and_a_failure_in_a_later_sheet_writes_nothing() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let header = ["Hostname", "IP Address", "Operating System", "Memory GB"];
    let rows = |prefix: &str, net: u32, n: u32| -> Vec<Vec<String>> {
        let mut out = vec![header.iter().map(|h| h.to_string()).collect()];
        for i in 0..n {
            out.push(vec![
                format!("{prefix}{i:05}"),
                format!("10.{net}.{}.{}", i / 250, i % 250 + 1),
                "Ubuntu 22.04".into(),
                "8".into(),
            ]);
        }
        out
    };
    let book = |bad: bool| {
        let mut second = rows("db", 6, 2500);
        if bad {
            second[1800][0] = "boom".into();
        }
        workbook(
            dir.path(),
            if bad { "bad.xlsx" } else { "good.xlsx" },
            &[
                ("Web".to_string(), rows("web", 5, 2500)),
                ("Databases".to_string(), second),
            ],
        )
    };

    // A constraint that a row of the second sheet violates, after the first sheet's assets
    // were written: the whole import rolls back.
    sqlx::query(
        "ALTER TABLE migration.assets ADD CONSTRAINT ck_assets_test_boom \
         CHECK (asset_name <> 'boom')",
    )
    .execute(&w.db.owner)
    .await
    .unwrap();
    let err = w.try_import(&book(true), false).await.unwrap_err();
    assert_eq!(err.code(), "database_error");
    assert_eq!(w.assets().await, 0, "no asset of the first sheet is left");
    assert_eq!(w.session_status(err.import_id.unwrap()).await.0, "failed");
    sqlx::query("ALTER TABLE migration.assets DROP CONSTRAINT ck_assets_test_boom")
        .execute(&w.db.owner)
        .await
        .unwrap();

    let good = book(false);
    let r = w.import(&good, false).await;
    no_rows_lost(&r);
    assert_eq!(r.assets_created, 5000, "{:?}", r.rejected_by_code);
    assert_eq!(table(&r, "Web").rows_read, 2500);
    assert_eq!(table(&r, "Databases").assets_created, 2500);
    let again = w.import(&good, false).await;
    assert_eq!((again.assets_created, again.assets_unchanged), (0, 5000));
    assert_eq!(w.assets().await, 5000);
}

#[tokio::test]
async fn an_rvtools_workbook_is_still_one_table_joined_onto_vinfo() {
    let w = world().await;
    let r = w
        .import(&sample("rvtools/migration-planner__example1.xlsx"), false)
        .await;
    no_rows_lost(&r);
    assert_eq!(r.layout, "rvtools");
    assert_eq!(r.assets_created, 9);
    assert_eq!(r.tables.len(), 1, "{:#?}", r.tables);
    assert_eq!(r.tables[0].table, "vInfo");
    assert_eq!(
        r.tables[0].joined_tables,
        ["vDisk", "vPartition", "vCPU", "vMemory"]
    );
    let skipped: Vec<&str> = r.skipped_tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(skipped, ["vHost"]);
    let tables = w
        .count(
            "SELECT count(DISTINCT r.table_name) FROM migration.import_rows r \
             JOIN migration.import_sessions s ON s.id = r.import_session_id \
             WHERE s.engagement_id = $1",
        )
        .await;
    assert_eq!(tables, 1, "only vInfo rows are imported");
}

#[tokio::test]
async fn relation_roles_are_decided_by_the_columns_own_sheet_in_a_mixed_workbook() {
    use modernize_engine::import_review::{DecisionInput, DecisionRequest, decide};
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let file = estate_workbook(dir.path());
    let options = ImportOptions {
        threshold: 0.99,
        ..ImportOptions::default()
    };
    let staged = w.stage(&file, options).await;
    let (user,): (uuid::Uuid,) = sqlx::query_as(
        "INSERT INTO migration.users (auth0_user_id, email) \
         VALUES ('reviewer', 'reviewer@example.com') RETURNING id",
    )
    .fetch_one(&w.db.owner)
    .await
    .unwrap();
    let edit = |table: &str, column: &str, kind: &str, target: &str| DecisionInput {
        table: Some(table.into()),
        source_column: Some(column.into()),
        action: Some("edit".into()),
        target_kind: Some(kind.into()),
        target: Some(target.into()),
    };
    let request = |decisions| DecisionRequest {
        client_account_id: w.client,
        engagement_id: w.engagement,
        import_id: staged.import_id,
        user_id: user,
        decisions,
        approve_all: true,
    };
    let mut conn = w.db.owner.acquire().await.unwrap();

    // A relation role on a column of an asset sheet is refused, nothing decided.
    let wrong = [edit("Servers", "Hostname", "relation", "source")];
    let refused = decide(&mut conn, &request(&wrong)).await.unwrap_err();
    assert!(
        format!("{refused:?}").contains("relation role"),
        "{refused:?}"
    );
    assert_eq!(w.session_status(staged.import_id).await.0, "mapping_review");

    // The Dependencies sheet read the other way round: its target is the source.
    let swap = [
        edit("Dependencies", "Source", "relation", "target"),
        edit("Dependencies", "Target", "relation", "source"),
    ];
    let outcome = decide(&mut conn, &request(&swap)).await.unwrap();
    assert_eq!(outcome.needs_review, 0);
    let shown: Vec<(&str, &str)> = outcome
        .columns
        .iter()
        .filter(|c| c.table == "Dependencies" && c.status == "edited")
        .map(|c| (c.source_column.as_str(), c.target_kind.as_str()))
        .collect();
    assert_eq!(shown, [("Source", "relation"), ("Target", "relation")]);
    drop(conn);

    let r = w.apply(staged.import_id).await.unwrap();
    no_rows_lost(&r);
    assert_eq!(r.dependencies_created, 2, "{r:#?}");
    assert_eq!(
        w.edges().await,
        [
            ("Billing".to_string(), "web01".to_string()),
            ("db01".to_string(), "Billing".to_string()),
        ],
        "the decided roles reverse the sheet's edges"
    );
}
