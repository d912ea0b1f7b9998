//! Imports of real and generated inventory files into a fresh database.

mod import_support;

use import_support::*;
use modernize_engine::import::{ImportOptions, run_import};
use uuid::Uuid;

#[tokio::test]
async fn rvtools_import_reimport_and_dry_run() {
    let w = world().await;
    let file = sample("rvtools/migration-planner__example1.xlsx");

    // A dry run first: same counts as the real import, nothing written.
    let dry = w.import(&file, true).await;
    assert_eq!(dry.status, "dry_run_completed");
    assert_eq!(w.assets().await, 0, "a dry run writes no asset");

    let r = w.import(&file, false).await;
    assert_eq!(r.layout, "rvtools");
    assert!(r.layout_confidence >= 0.8, "{}", r.layout_confidence);
    assert_eq!(r.rows_read, 9);
    assert_eq!(r.assets_created, 9, "{r:#?}");
    assert_eq!(r.rows_rejected, 0);
    no_rows_lost(&r);
    assert_eq!(
        (dry.rows_read, dry.assets_created, dry.rows_rejected),
        (r.rows_read, r.assets_created, r.rows_rejected)
    );
    assert_eq!(w.assets().await, 9);
    let servers = w
        .count(
            "SELECT count(*) FROM migration.assets WHERE engagement_id = $1 \
             AND asset_type = 'server' AND memory_gb > 0 AND storage_gb >= 0 \
             AND source_system = 'rvtools' \
             AND raw_data IS NOT NULL AND import_session_id IS NOT NULL",
        )
        .await;
    if servers != 9 {
        type Row = (String, Option<f64>, Option<f64>, Option<serde_json::Value>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT asset_name, memory_gb, storage_gb, raw_data \
                 FROM migration.assets WHERE engagement_id = $1",
        )
        .bind(w.engagement)
        .fetch_all(&w.db.owner)
        .await
        .unwrap();
        panic!("servers with memory, storage, OS and provenance: {rows:#?}");
    }
    let with_os = w
        .count(
            "SELECT count(*) FROM migration.assets WHERE engagement_id = $1 \
             AND os_version IS NOT NULL",
        )
        .await;
    // vm-9 is a trimmed row: no OS columns in vInfo.
    assert_eq!(with_os, 8);
    let with_ip = w
        .count(
            "SELECT count(*) FROM migration.assets WHERE engagement_id = $1 \
             AND ip_address IS NOT NULL",
        )
        .await;
    assert!(with_ip > 0, "IP addresses from vNetwork");
    let staged = w
        .count(
            "SELECT count(*) FROM migration.import_rows AS r \
             JOIN migration.import_sessions AS s ON s.id = r.import_session_id \
             WHERE s.engagement_id = $1 AND s.status = 'committed'",
        )
        .await;
    assert_eq!(staged, 9, "raw rows staged");

    // The same file again: nothing new, nothing changed.
    let again = w.import(&file, false).await;
    assert_eq!(again.assets_created, 0, "{again:#?}");
    assert_eq!(again.assets_updated, 0, "{again:#?}");
    assert_eq!(again.assets_unchanged, 9);
    assert_eq!(w.assets().await, 9, "no duplicates after a re-import");
    let (status, _) = w.session_status(again.import_id).await;
    assert_eq!(status, "committed");
}

#[tokio::test]
async fn konveyor_applications_become_application_assets() {
    let w = world().await;
    let r = w
        .import(
            &sample("konveyor/tackle2-ui__sample-applications.csv"),
            false,
        )
        .await;
    no_rows_lost(&r);
    assert!(r.assets_created >= 1, "{r:#?}");
    let apps = w
        .count(
            "SELECT count(*) FROM migration.assets WHERE engagement_id = $1 \
             AND asset_type = 'application'",
        )
        .await;
    assert_eq!(apps as u64, r.assets_created, "{r:#?}");
    assert!(
        r.column_mappings
            .iter()
            .any(|m| m.source_column == "Application Name" && m.target.is_some()),
        "{:#?}",
        r.column_mappings
    );
}

#[tokio::test]
async fn konveyor_dependency_direction_orients_the_edges() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "applications.csv",
        "Record Type 1,Application Name,Description,Business Service,Dependency,Dependency Direction\n\
         1,Customers,Customer service,Retail,,\n\
         1,Orders,Order service,Retail,Customers,southbound\n\
         1,Portal,Web portal,Retail,Customers,northbound\n",
    );
    let r = w.import(&file, false).await;
    no_rows_lost(&r);
    assert_eq!(r.assets_created, 3, "{r:#?}");
    assert_eq!(r.dependencies_created, 2, "{r:#?}");
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
    // Konveyor: a southbound dependency is one the application depends on (Orders ->
    // Customers); a northbound one depends on the application (Customers -> Portal).
    assert_eq!(
        edges,
        [
            ("Customers".to_string(), "Portal".to_string()),
            ("Orders".to_string(), "Customers".to_string()),
        ]
    );
}

const SN_HEADER: &str = "sys_id,name,sys_class_name,ip_address,fqdn,host_name,os,os_version,\
cpu_count,ram,disk_space,environment";

fn servicenow_servers(memory_of_web01: u32) -> String {
    format!(
        "{SN_HEADER}\n\
         a1b2c3d4e5f60718293a4b5c6d7e8f90,web01,cmdb_ci_linux_server,10.1.0.11,web01.acme.local,web01,Linux Red Hat,8.6,4,{memory_of_web01},100,Production\n\
         a1b2c3d4e5f60718293a4b5c6d7e8f91,app01,cmdb_ci_linux_server,10.1.0.12,app01.acme.local,app01,Linux Red Hat,8.6,8,16384,200,Production\n\
         a1b2c3d4e5f60718293a4b5c6d7e8f92,db01,cmdb_ci_win_server,10.1.0.13,db01.acme.local,db01,Windows 2019 Datacenter,10.0,16,65536,2000,Production\n"
    )
}

#[tokio::test]
async fn servicenow_servers_then_relationships_then_a_modified_reimport() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let servers = write(dir.path(), "cmdb_ci_server.csv", &servicenow_servers(8192));
    let r = w.import(&servers, false).await;
    assert_eq!(r.layout, "servicenow_cmdb_ci_server");
    assert_eq!(r.assets_created, 3, "{r:#?}");
    no_rows_lost(&r);

    let rels = write(
        dir.path(),
        "cmdb_rel_ci.csv",
        "parent,type,child,connection_strength,percent_outage,port\n\
         a1b2c3d4e5f60718293a4b5c6d7e8f90,Depends on::Used by,a1b2c3d4e5f60718293a4b5c6d7e8f91,Always,100,8080\n\
         a1b2c3d4e5f60718293a4b5c6d7e8f91,Depends on::Used by,a1b2c3d4e5f60718293a4b5c6d7e8f92,Always,100,1433\n\
         a1b2c3d4e5f60718293a4b5c6d7e8f91,Depends on::Used by,ffffffffffffffffffffffffffffffff,Always,100,1433\n",
    );
    let d = w.import(&rels, false).await;
    assert_eq!(d.layout, "servicenow_cmdb_rel_ci");
    assert_eq!(d.dependencies_created, 2, "{d:#?}");
    assert_eq!(d.dependencies_skipped, 1, "unresolved target skipped");
    assert_eq!(d.assets_created, 0);
    no_rows_lost(&d);
    let edges = w
        .count(
            "SELECT count(*) FROM migration.asset_dependencies AS d \
             JOIN migration.assets AS a ON a.id = d.source_asset_id \
             WHERE a.engagement_id = $1 AND d.discovered_by = 'import' \
               AND d.evidence->>'type' = 'Depends on::Used by'",
        )
        .await;
    assert_eq!(edges, 2);
    // Relationships again: nothing new.
    let again = w.import(&rels, false).await;
    assert_eq!(again.dependencies_created, 0);

    // web01 got more memory: one asset updated, two unchanged, none created.
    let modified = write(
        dir.path(),
        "cmdb_ci_server_2.csv",
        &servicenow_servers(16384),
    );
    let m = w.import(&modified, false).await;
    assert_eq!(
        (m.assets_created, m.assets_updated, m.assets_unchanged),
        (0, 1, 2),
        "{m:#?}"
    );
    assert_eq!(w.assets().await, 3);
    let memory: (f64,) = sqlx::query_as(
        "SELECT memory_gb FROM migration.assets WHERE engagement_id = $1 AND hostname = 'web01'",
    )
    .bind(w.engagement)
    .fetch_one(&w.db.owner)
    .await
    .unwrap();
    assert!((memory.0 - 16.0).abs() < 1e-6, "{memory:?}");
}

#[tokio::test]
async fn unreadable_files_fail_clearly_and_change_nothing() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();

    let bytes = std::fs::read(sample("rvtools/migration-planner__example1.xlsx")).unwrap();
    let truncated = dir.path().join("truncated.xlsx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = dir.path().join("garbage.csv");
    std::fs::write(
        &garbage,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let big = write(dir.path(), "big.csv", &servicenow_servers(8192));

    for (path, max, codes) in [
        (
            &truncated,
            u64::MAX,
            &["corrupt_file", "unsupported_format"][..],
        ),
        (
            &garbage,
            u64::MAX,
            &["unsupported_format", "corrupt_file", "no_header"][..],
        ),
        (&big, 100, &["file_too_large"][..]),
    ] {
        let err = w
            .try_import_with(
                path,
                &ImportOptions {
                    max_bytes: max,
                    ..ImportOptions::default()
                },
            )
            .await
            .expect_err("the import must fail");
        assert!(
            codes.contains(&err.code()),
            "{}: code {} ({err})",
            path.display(),
            err.code()
        );
        assert!(!err.to_string().is_empty());
        let id = err.import_id.expect("a session is recorded");
        let (status, code) = w.session_status(id).await;
        assert_eq!(status, "failed");
        assert_eq!(code.as_deref(), Some(err.code()));
        assert_eq!(
            w.assets().await,
            0,
            "{}: inventory unchanged",
            path.display()
        );
    }
}

#[tokio::test]
async fn a_failure_while_writing_leaves_no_partial_assets() {
    let w = world().await;
    // A constraint that the 600th row of the file violates, after a first batch was written.
    sqlx::query(
        "ALTER TABLE migration.assets ADD CONSTRAINT ck_assets_test_boom \
         CHECK (asset_name <> 'boom')",
    )
    .execute(&w.db.owner)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("hostname,ip_address,os,memory_gb\n");
    for i in 0..1200 {
        let name = if i == 600 {
            "boom".to_string()
        } else {
            format!("srv{i:04}")
        };
        csv.push_str(&format!(
            "{name},10.2.{}.{},Ubuntu 22.04,8\n",
            i / 250,
            i % 250 + 1
        ));
    }
    let file = write(dir.path(), "servers.csv", &csv);
    let err = w
        .try_import(&file, false)
        .await
        .expect_err("the constraint fails the import");
    assert_eq!(err.code(), "database_error");
    assert_eq!(w.assets().await, 0, "no partial assets");
    let (status, _) = w.session_status(err.import_id.unwrap()).await;
    assert_eq!(status, "failed");

    // Without the constraint the same file imports completely.
    sqlx::query("ALTER TABLE migration.assets DROP CONSTRAINT ck_assets_test_boom")
        .execute(&w.db.owner)
        .await
        .unwrap();
    let r = w.import(&file, false).await;
    assert_eq!(r.assets_created, 1200, "{:#?}", r.rejected_by_code);
    no_rows_lost(&r);
    let again = w.import(&file, false).await;
    assert_eq!((again.assets_created, again.assets_unchanged), (0, 1200));
    assert_eq!(w.assets().await, 1200);
}

#[tokio::test]
async fn another_clients_engagement_is_not_found() {
    let w = world().await;
    let (other_client, _) = tenant(&w.db.owner, "other").await;
    let err = run_import(
        &w.db.app,
        other_client,
        w.engagement,
        &sample("konveyor/tackle2-ui__sample-applications.csv"),
        &ImportOptions::default(),
        &mut |_| {},
    )
    .await
    .expect_err("not found");
    assert_eq!(err.code(), "engagement_not_found");
    assert!(err.import_id.is_none());
    assert_eq!(w.assets().await, 0);
}

#[tokio::test]
async fn vendor_templates_import_with_their_layout_and_reimport_cleanly() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a str, &'a str, Vec<&'a [(&'a str, &'a str)]>);
    let cases: Vec<Case> = vec![
        (
            "aws_migration_hub_import_template",
            "aws_migration_hub",
            vec![
                &[
                    ("ExternalId", "aws-1"),
                    ("HostName", "aws-web-1"),
                    ("IPAddress", "10.9.0.1"),
                    ("RAM.TotalSizeInMB", "8192"),
                    ("CPU.NumberOfCores", "2"),
                    ("OS.Name", "Ubuntu"),
                    ("OS.Version", "22.04"),
                ],
                &[
                    ("ExternalId", "aws-2"),
                    ("HostName", "aws-db-1"),
                    ("IPAddress", "10.9.0.2"),
                    ("RAM.TotalSizeInMB", "16384"),
                    ("CPU.NumberOfCores", "4"),
                    ("OS.Name", "Windows Server 2019"),
                ],
            ],
        ),
        (
            "azure_migrate_import_template",
            "azure_migrate_import",
            vec![
                &[
                    ("*Server name", "az-app-1"),
                    ("IP addresses", "10.8.0.1"),
                    ("*Cores", "2"),
                    ("*Memory (In MB)", "8192"),
                    ("*OS name", "Windows Server 2016"),
                ],
                &[
                    ("*Server name", "az-app-2"),
                    ("IP addresses", "10.8.0.2"),
                    ("*Cores", "4"),
                    ("*Memory (In MB)", "4096"),
                    ("*OS name", "Red Hat Enterprise Linux 8"),
                ],
            ],
        ),
        (
            "gcp_migration_center_vmInfo",
            "gcp_migration_center_vm",
            vec![
                &[
                    ("MachineId", "gcp-1"),
                    ("MachineName", "gcp-vm-1"),
                    ("PrimaryIPAddress", "10.7.0.1"),
                    ("MemoryGiB", "8"),
                    ("AllocatedProcessorCoreCount", "2"),
                    ("OsName", "Debian 11"),
                ],
                &[
                    ("MachineId", "gcp-2"),
                    ("MachineName", "gcp-vm-2"),
                    ("PrimaryIPAddress", "10.7.0.2"),
                    ("MemoryGiB", "8"),
                    ("AllocatedProcessorCoreCount", "2"),
                    ("OsName", "Debian 12"),
                ],
            ],
        ),
    ];
    let mut expected = 0;
    for (template, layout, rows) in &cases {
        let file = write(
            dir.path(),
            &format!("{template}.csv"),
            &from_template(template, rows),
        );
        let r = w.import(&file, false).await;
        assert_eq!(r.layout, *layout, "{template}");
        assert_eq!(r.assets_created as usize, rows.len(), "{template}: {r:#?}");
        no_rows_lost(&r);
        expected += rows.len() as i64;
        assert_eq!(w.assets().await, expected);
        let again = w.import(&file, false).await;
        assert_eq!(again.assets_created, 0, "{template}: duplicates");
        assert_eq!(again.assets_unchanged as usize, rows.len(), "{template}");
    }
    let memory: (f64,) = sqlx::query_as(
        "SELECT memory_gb FROM migration.assets WHERE engagement_id = $1 AND asset_name = 'az-app-1'",
    )
    .bind(w.engagement)
    .fetch_one(&w.db.owner)
    .await
    .unwrap();
    assert!((memory.0 - 8.0).abs() < 1e-6, "{memory:?}");

    // Azure dependency export between the Azure servers.
    let deps = from_template(
        "azure_migrate_dependency_export",
        &[
            &[
                ("Timeslot", "2024-01-01 10:00"),
                ("Source server name", "az-app-1"),
                ("Destination server name", "az-app-2"),
                ("Destination IP", "10.8.0.2"),
                ("Destination port", "443"),
            ],
            &[
                ("Timeslot", "2024-01-01 11:00"),
                ("Source server name", "az-app-1"),
                ("Destination server name", "az-app-2"),
                ("Destination IP", "10.8.0.2"),
                ("Destination port", "443"),
            ],
        ],
    );
    let d = w.import(&write(dir.path(), "deps.csv", &deps), false).await;
    assert_eq!(d.layout, "azure_migrate_dependencies");
    assert_eq!(d.dependencies_created, 1, "{d:#?}");
    no_rows_lost(&d);
}

#[tokio::test]
async fn ndjson_inventories_import_and_a_bad_line_is_rejected_not_lost() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "servers.ndjson",
        "{\"hostname\": \"n1\", \"ip_address\": \"10.6.0.1\", \"os\": \"Ubuntu 20.04\", \"memory_gb\": 4}\n\
         {\"hostname\": \"n2\", \"ip_address\": \"10.6.0.2\", \"os\": \"Ubuntu 20.04\", \"memory_gb\": 8}\n\
         {\"hostname\": \"n3\", \"ip_addr\n\
         {\"hostname\": \"n4\", \"ip_address\": \"10.6.0.4\", \"os\": \"Windows Server 2022\", \"memory_gb\": 16}\n",
    );
    let r = w.import(&file, false).await;
    assert_eq!(r.rows_read, 4, "{r:#?}");
    assert_eq!(r.assets_created, 3, "{r:#?}");
    assert_eq!(r.rows_rejected, 1);
    no_rows_lost(&r);
    let rejected = w
        .count(
            "SELECT count(*) FROM migration.import_rows AS r \
             JOIN migration.import_sessions AS s ON s.id = r.import_session_id \
             WHERE s.engagement_id = $1 AND r.status = 'rejected'",
        )
        .await;
    assert_eq!(rejected, 1, "the bad line is in the row-level report");
}

#[tokio::test]
async fn other_rvtools_workbooks_import_every_vm_once() {
    let w = world().await;
    let mut total = 0;
    for file in [
        "rvtools/partnersizingworkshop__BillSampleNextRvtoolsFinal.xlsx",
        "rvtools/partnersizingworkshop__SizingWorkshop-RVTools.xlsx",
    ] {
        let r = w.import(&sample(file), false).await;
        assert_eq!(r.layout, "rvtools", "{file}");
        no_rows_lost(&r);
        assert_eq!(r.rows_rejected, 0, "{file}: {:?}", r.rejected_by_code);
        assert!(r.assets_created > 0, "{file}");
        total += r.assets_created as i64;
        let again = w.import(&sample(file), false).await;
        assert_eq!(again.assets_created, 0, "{file}: duplicates");
        assert_eq!(w.assets().await, total, "{file}");
    }
}

#[tokio::test]
async fn same_name_with_different_source_ids_stays_two_assets() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "cmdb_ci_server.csv",
        &format!(
            "{SN_HEADER}\n\
             11111111111111111111111111111111,srv,cmdb_ci_linux_server,10.5.0.1,,,Linux,8,2,4096,50,Production\n\
             22222222222222222222222222222222,srv,cmdb_ci_linux_server,10.5.0.2,,,Linux,8,2,4096,50,Production\n"
        ),
    );
    let r = w.import(&file, false).await;
    assert_eq!(r.assets_created, 2, "{r:#?}");
    let again = w.import(&file, false).await;
    assert_eq!((again.assets_created, again.assets_unchanged), (0, 2));
    assert_eq!(w.assets().await, 2);
}

#[tokio::test]
async fn raw_columns_of_earlier_files_are_kept_and_reimports_change_nothing() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let first = write(
        dir.path(),
        "cmdb.csv",
        "hostname,ip_address,memory_gb,rack_position\napp01,10.9.0.1,16,R12-U4\n",
    );
    let second = write(
        dir.path(),
        "hosts.csv",
        "hostname,cpu_cores,rack_position\napp01,8,R14-U2\n",
    );
    assert_eq!(w.import(&first, false).await.assets_created, 1);
    let r = w.import(&second, false).await;
    assert_eq!((r.assets_created, r.assets_updated), (0, 1), "{r:#?}");
    let raw = w.asset_value("app01", "raw_data").await;
    assert_eq!(
        raw["ip_address"], "10.9.0.1",
        "the first file's column stays: {raw}"
    );
    assert_eq!(raw["memory_gb"], "16", "{raw}");
    assert_eq!(raw["cpu_cores"], "8", "{raw}");
    assert_eq!(
        raw["rack_position"], "R14-U2",
        "the later value wins: {raw}"
    );
    assert_eq!(w.asset_value("app01", "memory_gb").await, 16.0);
    assert_eq!(w.asset_value("app01", "cpu_cores").await, 8);

    // Each file again: only the value it changes back is an update; then nothing changes.
    let again = w.import(&first, false).await;
    assert_eq!((again.assets_updated, again.assets_unchanged), (1, 0));
    let raw = w.asset_value("app01", "raw_data").await;
    assert_eq!(raw["rack_position"], "R12-U4", "{raw}");
    assert_eq!(raw["cpu_cores"], "8", "{raw}");
    let again = w.import(&first, false).await;
    assert_eq!((again.assets_updated, again.assets_unchanged), (0, 1));
    assert_eq!(w.assets().await, 1);
}

/// `cargo test -p modernize-engine --test import -- --ignored --nocapture`: time of a
/// 50,000-row import and of its re-import.
#[tokio::test]
#[ignore]
async fn large_import_timing() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("hostname,ip_address,os,memory_mb,cpu_cores,environment\n");
    for i in 0..50_000 {
        csv.push_str(&format!(
            "host{i:06},10.{}.{}.{},Red Hat Enterprise Linux 8,8192,4,Production\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    let file = write(dir.path(), "large.csv", &csv);
    let started = std::time::Instant::now();
    let r = w.import(&file, false).await;
    println!(
        "import: {:?} ({} created)",
        started.elapsed(),
        r.assets_created
    );
    let started = std::time::Instant::now();
    let again = w.import(&file, false).await;
    println!(
        "re-import: {:?} ({} unchanged)",
        started.elapsed(),
        again.assets_unchanged
    );
    assert_eq!(r.assets_created, 50_000);
    assert_eq!(again.assets_unchanged, 50_000);
}

mod staged {
    use super::*;
    use modernize_engine::import::{ApplyOptions, apply_import, stage_import};

    const REVIEW_CSV: &str = "Srv Name,Box Memory,Team Lead,Tier Level,ip\n\
        alpha,16,Ann,Gold,10.0.0.1\n\
        beta,32,Bob,Silver,10.0.0.2\n\
        gamma,8,Cid,Bronze,10.0.0.3\n";

    async fn decide(
        w: &World,
        id: Uuid,
        column: &str,
        status: &str,
        kind: &str,
        target: Option<&str>,
    ) {
        let done = sqlx::query(
            "UPDATE migration.import_column_mappings SET status = $3, target_kind = $4, \
                    target = $5, decided_at = now() \
             WHERE import_session_id = $1 AND source_column = $2",
        )
        .bind(id)
        .bind(column)
        .bind(status)
        .bind(kind)
        .bind(target)
        .execute(&w.db.owner)
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1, "no mapping row for {column}");
    }

    async fn row_statuses(w: &World, id: Uuid) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT status FROM migration.import_rows WHERE import_session_id = $1 \
             ORDER BY row_number",
        )
        .bind(id)
        .fetch_all(&w.db.owner)
        .await
        .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }

    #[tokio::test]
    async fn staged_import_waits_for_review_and_applies_the_decided_mapping() {
        let w = world().await;
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "inventory.csv", REVIEW_CSV);
        // A demanding threshold: every column waits for a person.
        let options = ImportOptions {
            threshold: 0.99,
            ..ImportOptions::default()
        };
        let staged = w.stage(&file, options).await;
        assert_eq!(staged.rows_staged, 3);
        assert!(staged.needs_review > 0, "{:#?}", staged.mappings);
        assert_eq!(w.assets().await, 0, "staging writes no asset");
        assert_eq!(w.session_status(staged.import_id).await.0, "mapping_review");
        assert_eq!(row_statuses(&w, staged.import_id).await, ["staged"; 3]);

        // Applying before every column is decided is refused and changes nothing.
        let refused = w.apply(staged.import_id).await.unwrap_err();
        assert_eq!(refused.code(), "mapping_review_pending");
        assert_eq!(w.session_status(staged.import_id).await.0, "mapping_review");
        assert_eq!(row_statuses(&w, staged.import_id).await, ["staged"; 3]);

        // Decide: the name column is the asset name, "Team Lead" a custom attribute, "Tier
        // Level" rejected, every other column approved as proposed.
        decide(
            &w,
            staged.import_id,
            "Srv Name",
            "edited",
            "attribute",
            Some("asset_name"),
        )
        .await;
        decide(
            &w,
            staged.import_id,
            "Team Lead",
            "edited",
            "custom",
            Some("team_lead"),
        )
        .await;
        for m in staged
            .mappings
            .iter()
            .filter(|m| m.status == "needs_review")
        {
            if m.source_column != "Srv Name" && m.source_column != "Team Lead" {
                decide(
                    &w,
                    staged.import_id,
                    &m.source_column,
                    "rejected",
                    "ignore",
                    None,
                )
                .await;
            }
        }
        let report = w.apply(staged.import_id).await.unwrap();
        assert_eq!(report.assets_created, 3, "{report:#?}");
        no_rows_lost(&report);
        assert_eq!(w.session_status(staged.import_id).await.0, "committed");
        assert!(
            row_statuses(&w, staged.import_id)
                .await
                .iter()
                .all(|s| s != "staged")
        );
        let (name, lead, tier): (String, Option<String>, Option<String>) = sqlx::query_as(
            "SELECT asset_name, raw_data->'custom_attributes'->>'team_lead', business_criticality \
             FROM migration.assets WHERE engagement_id = $1 AND asset_name = 'beta'",
        )
        .bind(w.engagement)
        .fetch_one(&w.db.owner)
        .await
        .unwrap();
        assert_eq!(name, "beta");
        assert_eq!(
            lead.as_deref(),
            Some("Bob"),
            "custom attribute kept under its name"
        );
        assert_eq!(tier, None, "a rejected column is not applied");
        let edited = report
            .column_mappings
            .iter()
            .find(|m| m.source_column == "Srv Name")
            .unwrap();
        assert_eq!(
            (edited.status.as_str(), edited.target.as_deref()),
            ("edited", Some("asset_name"))
        );

        // A committed import cannot be applied again.
        let again = w.apply(staged.import_id).await.unwrap_err();
        assert_eq!(again.code(), "import_not_applicable");
        assert_eq!(w.assets().await, 3);
    }

    #[tokio::test]
    async fn staged_rvtools_applies_like_a_one_shot_import() {
        let w = world().await;
        let file = sample("rvtools/migration-planner__example1.xlsx");
        let staged = w.stage(&file, ImportOptions::default()).await;
        assert_eq!(staged.layout, "rvtools");
        let mut pending = Vec::new();
        for m in staged
            .mappings
            .iter()
            .filter(|m| m.status == "needs_review")
        {
            pending.push(m.source_column.clone());
        }
        for c in &pending {
            decide(&w, staged.import_id, c, "rejected", "ignore", None).await;
        }
        let applied = w.apply(staged.import_id).await.unwrap();
        let other = world().await;
        let one_shot = other.import(&file, false).await;
        assert_eq!(applied.rows_read, one_shot.rows_read);
        assert_eq!(applied.assets_created, one_shot.assets_created);
        assert_eq!(applied.rows_rejected, one_shot.rows_rejected);
        assert_eq!(applied.dependencies_created, one_shot.dependencies_created);
        // And a one-shot re-import over the applied one changes nothing.
        let again = w.import(&file, false).await;
        assert_eq!(again.assets_created, 0);
        assert_eq!(again.assets_unchanged, applied.assets_created);
    }

    #[tokio::test]
    async fn a_staged_dry_run_writes_no_asset_and_ends_the_session() {
        let w = world().await;
        let file = sample("rvtools/migration-planner__example1.xlsx");
        let staged = w.stage(&file, ImportOptions::default()).await;
        for m in staged
            .mappings
            .iter()
            .filter(|m| m.status == "needs_review")
        {
            decide(
                &w,
                staged.import_id,
                &m.source_column,
                "approved",
                &m.target_kind,
                m.target.as_deref(),
            )
            .await;
        }
        let options = ApplyOptions {
            dry_run: true,
            ..ApplyOptions::default()
        };
        let r = apply_import(&w.db.app, w.client, staged.import_id, &options, &mut |_| {})
            .await
            .unwrap();
        assert_eq!(r.status, "dry_run_completed");
        assert!(r.assets_created > 0);
        assert_eq!(w.assets().await, 0);
        assert_eq!(
            w.session_status(staged.import_id).await.0,
            "dry_run_completed"
        );
    }

    #[tokio::test]
    async fn another_clients_staged_import_is_not_found() {
        let w = world().await;
        let file = sample("rvtools/migration-planner__example1.xlsx");
        let staged = w.stage(&file, ImportOptions::default()).await;
        let (other, _) = tenant(&w.db.owner, "globex").await;
        let err = apply_import(
            &w.db.app,
            other,
            staged.import_id,
            &ApplyOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "import_not_found");
        assert_eq!(
            w.session_status(staged.import_id).await.0,
            w.session_status(staged.import_id).await.0
        );
        assert_eq!(w.assets().await, 0);
    }

    #[tokio::test]
    async fn a_garbled_file_fails_staging_with_its_code() {
        let w = world().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.xlsx");
        std::fs::write(&file, b"PK\x03\x04 this is not a workbook").unwrap();
        let err = stage_import(
            &w.db.app,
            w.client,
            w.engagement,
            &file,
            &ImportOptions::default(),
            &mut |_| {},
        )
        .await
        .unwrap_err();
        let id = err.import_id.expect("the session is recorded");
        let (status, code) = w.session_status(id).await;
        assert_eq!(status, "failed");
        assert_eq!(code.as_deref(), Some(err.code()));
        let rows = w
            .count(
                "SELECT count(*) FROM migration.import_rows r JOIN migration.import_sessions s \
                    ON s.id = r.import_session_id WHERE s.engagement_id = $1",
            )
            .await;
        assert_eq!(rows, 0, "nothing staged");
    }
}
