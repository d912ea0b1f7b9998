//! Google Migration Center exports: the disk, performance and tag files imported on their own
//! after the VM inventory enrich its machines (no duplicates, unknown machines rejected), and a
//! workbook holding vmInfo with its companion sheets joins them.

mod import_support;

use import_support::*;
use modernize_engine::import::ImportOptions;
use serde_json::json;

const GIB: u64 = 1024 * 1024 * 1024;

fn vm_info() -> String {
    from_template(
        "gcp_migration_center_vmInfo",
        &[
            &[
                ("MachineId", "gcp-1"),
                ("MachineName", "gcp-vm-1"),
                ("PrimaryIPAddress", "10.7.0.1"),
                ("MemoryGiB", "8"),
                ("AllocatedProcessorCoreCount", "2"),
                ("TotalDiskAllocatedGiB", "100"),
                ("MachineTypeLabel", "n2-standard-2"),
                ("OsName", "Debian 11"),
            ],
            &[
                ("MachineId", "gcp-2"),
                ("MachineName", "gcp-vm-2"),
                ("PrimaryIPAddress", "10.7.0.2"),
                ("MemoryGiB", "16"),
                ("AllocatedProcessorCoreCount", "4"),
                ("TotalDiskAllocatedGiB", "250"),
                ("MachineTypeLabel", "n2-standard-4"),
                ("OsName", "Debian 12"),
            ],
        ],
    )
}

fn disk_info() -> String {
    from_template(
        "gcp_migration_center_diskInfo",
        &[
            &[
                ("MachineId", "gcp-1"),
                ("DiskLabel", "boot"),
                ("SizeInGib", "50"),
                ("UsedInGib", "20"),
            ],
            &[
                ("MachineId", "gcp-1"),
                ("DiskLabel", "data"),
                ("SizeInGib", "70.5"),
                ("UsedInGib", "35"),
            ],
            &[
                ("MachineId", "gcp-2"),
                ("DiskLabel", "boot"),
                ("SizeInGib", "200"),
                ("UsedInGib", "150"),
            ],
            &[
                ("MachineId", "gcp-404"),
                ("DiskLabel", "boot"),
                ("SizeInGib", "10"),
            ],
        ],
    )
}

fn perf_info() -> String {
    let (two, four, six) = (
        (2 * GIB).to_string(),
        (4 * GIB).to_string(),
        (6 * GIB).to_string(),
    );
    let sample = |id: &'static str, at: &'static str, cpu: &'static str, free: &str| {
        vec![
            ("MachineId", id.to_string()),
            ("TimeStamp", at.to_string()),
            ("CpuUtilizationPercentage", cpu.to_string()),
            ("AvailableMemoryBytes", free.to_string()),
        ]
    };
    let rows = [
        sample("gcp-1", "2024-05-01 10:00:00", "10", &two),
        sample("gcp-1", "2024-05-01 10:05:00", "30", &four),
        sample("gcp-1", "2024-05-01 10:10:00", "50", &six),
        sample("gcp-2", "2024-05-01 10:00:00", "80", &four),
    ];
    let refs: Vec<Vec<(&str, &str)>> = rows
        .iter()
        .map(|r| r.iter().map(|(k, v)| (*k, v.as_str())).collect())
        .collect();
    let slices: Vec<&[(&str, &str)]> = refs.iter().map(Vec::as_slice).collect();
    from_template("gcp_migration_center_perfInfo", &slices)
}

fn tag_info() -> String {
    from_template(
        "gcp_migration_center_tagInfo",
        &[
            &[("MachineId", "gcp-1"), ("Key", "env"), ("Value", "prod")],
            &[("MachineId", "gcp-1"), ("Key", "owner"), ("Value", "ann")],
            &[("MachineId", "gcp-2"), ("Key", "env"), ("Value", "dev")],
        ],
    )
}

#[tokio::test]
async fn disk_performance_and_tag_files_enrich_the_machines_imported_earlier() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let vms = w
        .import(&write(dir.path(), "vmInfo.csv", &vm_info()), false)
        .await;
    assert_eq!(vms.assets_created, 2);

    // Disks: one row per machine, sizes summed; the unknown machine is rejected.
    let disks = write(dir.path(), "diskInfo.csv", &disk_info());
    let d = w.import(&disks, false).await;
    no_rows_lost(&d);
    assert_eq!(d.layout, "gcp_migration_center_disk");
    assert_eq!(d.source_system, "gcp_migration_center");
    assert_eq!(d.tables[0].kind, "disks");
    assert_eq!(d.rows_read, 3, "one row per machine: {d:#?}");
    assert_eq!(
        (d.assets_created, d.assets_updated, d.assets_unchanged),
        (0, 2, 0),
        "{d:#?}"
    );
    assert_eq!(d.rows_rejected, 1);
    assert_eq!(d.rejected_by_code.get("unknown_machine"), Some(&1));
    assert_eq!(w.assets().await, 2, "no asset for the unknown machine");
    assert_eq!(w.asset_value("gcp-vm-1", "storage_gb").await, 120.5);
    assert_eq!(w.asset_value("gcp-vm-2", "storage_gb").await, 200.0);
    assert_eq!(
        w.asset_value("gcp-vm-1", "raw_data->'custom_attributes'->'disk_count'")
            .await,
        2
    );
    // What the VM inventory said is kept.
    assert_eq!(
        w.asset_value("gcp-vm-1", "raw_data->>'MachineTypeLabel'")
            .await,
        "n2-standard-2"
    );
    assert_eq!(w.asset_value("gcp-vm-1", "memory_gb").await, 8.0);
    let (status, issues): (String, serde_json::Value) = sqlx::query_as(
        "SELECT status, issues FROM migration.import_rows \
         WHERE import_session_id = $1 AND raw->>'MachineId' = 'gcp-404'",
    )
    .bind(d.import_id)
    .fetch_one(&w.db.owner)
    .await
    .unwrap();
    assert_eq!(status, "rejected");
    assert!(
        issues
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "unknown_machine" && i["severity"] == "error"),
        "{issues}"
    );

    // The same disk file again: nothing changes.
    let again = w.import(&disks, false).await;
    assert_eq!(
        (
            again.assets_created,
            again.assets_updated,
            again.assets_unchanged,
            again.rows_rejected
        ),
        (0, 0, 2, 1),
        "{again:#?}"
    );

    // Performance: average and peak of the samples; memory utilisation from the stored
    // memory size.
    let perf = write(dir.path(), "perfInfo.csv", &perf_info());
    let p = w.import(&perf, false).await;
    no_rows_lost(&p);
    assert_eq!(
        (p.assets_created, p.assets_updated, p.rows_rejected),
        (0, 2, 0),
        "{p:#?}"
    );
    assert_eq!(
        w.asset_value("gcp-vm-1", "cpu_utilization_percent").await,
        30.0
    );
    // Average available 4 GiB of 8 GiB; lowest 2 GiB.
    assert_eq!(
        w.asset_value("gcp-vm-1", "memory_utilization_percent")
            .await,
        50.0
    );
    assert_eq!(
        w.asset_value(
            "gcp-vm-1",
            "raw_data->'custom_attributes'->'memory_utilization_peak_percent'"
        )
        .await
        .as_f64(),
        Some(75.0)
    );
    assert_eq!(
        w.asset_value(
            "gcp-vm-1",
            "raw_data->'custom_attributes'->'cpu_utilization_peak_percent'"
        )
        .await,
        50
    );
    assert_eq!(
        w.asset_value("gcp-vm-2", "memory_utilization_percent")
            .await,
        75.0
    );
    let again = w.import(&perf, false).await;
    assert_eq!(
        (again.assets_updated, again.assets_unchanged),
        (0, 2),
        "{again:#?}"
    );

    // Tags: custom attributes named by their key, beside those of earlier imports.
    let tags = write(dir.path(), "tagInfo.csv", &tag_info());
    let t = w.import(&tags, false).await;
    no_rows_lost(&t);
    assert_eq!((t.assets_created, t.assets_updated), (0, 2), "{t:#?}");
    let custom = w
        .asset_value("gcp-vm-1", "raw_data->'custom_attributes'")
        .await;
    assert_eq!(custom["env"], "prod", "{custom}");
    assert_eq!(custom["owner"], "ann", "{custom}");
    assert_eq!(custom["disk_count"], 2, "{custom}");
    assert_eq!(
        w.asset_value("gcp-vm-2", "raw_data->'custom_attributes'->>'env'")
            .await,
        "dev"
    );
    let again = w.import(&tags, false).await;
    assert_eq!(
        (
            again.assets_created,
            again.assets_updated,
            again.assets_unchanged
        ),
        (0, 0, 2),
        "{again:#?}"
    );
    // The enriched values survived the later imports.
    assert_eq!(w.asset_value("gcp-vm-1", "storage_gb").await, 120.5);
    assert_eq!(
        w.asset_value("gcp-vm-1", "cpu_utilization_percent").await,
        30.0
    );
    assert_eq!(w.assets().await, 2);

    // The VM inventory again: the raw columns and custom attributes of the companion files
    // stay (raw_data accumulates like the attribute columns).
    let before = w.asset_value("gcp-vm-1", "raw_data").await;
    let vm_file = write(dir.path(), "vmInfo.csv", &vm_info());
    let v = w.import(&vm_file, false).await;
    no_rows_lost(&v);
    assert_eq!(v.assets_created, 0, "{v:#?}");
    let after = w.asset_value("gcp-vm-1", "raw_data").await;
    let companion_columns: Vec<&String> = before
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("diskInfo.") || k.starts_with("perfInfo."))
        .collect();
    assert!(!companion_columns.is_empty(), "{before}");
    for k in companion_columns {
        assert_eq!(after[k], before[k], "{k} kept: {after}");
    }
    let custom = w
        .asset_value("gcp-vm-1", "raw_data->'custom_attributes'")
        .await;
    assert_eq!(custom["env"], "prod", "{custom}");
    assert_eq!(custom["owner"], "ann", "{custom}");
    assert_eq!(custom["disk_count"], 2, "{custom}");
    assert_eq!(
        w.asset_value("gcp-vm-1", "cpu_utilization_percent").await,
        30.0,
        "an attribute the inventory does not supply is kept"
    );
    let v = w.import(&vm_file, false).await;
    assert_eq!(
        (v.assets_created, v.assets_updated, v.assets_unchanged),
        (0, 0, 2),
        "{v:#?}"
    );
    assert_eq!(w.assets().await, 2);
}

#[tokio::test]
async fn a_companion_file_without_its_inventory_creates_nothing() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let r = w
        .import(&write(dir.path(), "diskInfo.csv", &disk_info()), false)
        .await;
    no_rows_lost(&r);
    assert_eq!(r.status, "committed");
    assert_eq!((r.rows_read, r.rows_rejected), (3, 3), "{r:#?}");
    assert_eq!(r.rejected_by_code.get("unknown_machine"), Some(&3));
    assert_eq!(r.assets_created, 0);
    assert_eq!(w.assets().await, 0);
}

#[tokio::test]
async fn a_staged_companion_file_needs_no_review_and_applies_like_a_one_shot_import() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    w.import(&write(dir.path(), "vmInfo.csv", &vm_info()), false)
        .await;
    let perf = write(dir.path(), "perfInfo.csv", &perf_info());
    let staged = w.stage(&perf, ImportOptions::default()).await;
    assert_eq!(staged.needs_review, 0, "{:#?}", staged.mappings);
    assert_eq!(staged.rows_staged, 2, "one staged row per machine");
    assert_eq!(w.session_status(staged.import_id).await.0, "staged");
    let applied = w.apply(staged.import_id).await.unwrap();
    no_rows_lost(&applied);
    assert_eq!(
        (applied.assets_created, applied.assets_updated),
        (0, 2),
        "{applied:#?}"
    );
    assert_eq!(
        w.asset_value("gcp-vm-1", "memory_utilization_percent")
            .await,
        50.0
    );
    let again = w.import(&perf, false).await;
    assert_eq!((again.assets_updated, again.assets_unchanged), (0, 2));
    assert_eq!(w.assets().await, 2);
}

#[tokio::test]
async fn a_workbook_of_vm_info_and_its_companion_sheets_joins_them_per_machine() {
    let w = world().await;
    let dir = tempfile::tempdir().unwrap();
    let csv_rows = |csv: &str| -> Vec<Vec<String>> {
        csv.lines()
            .map(|l| {
                l.split(',')
                    .map(|c| c.trim_matches('"').to_string())
                    .collect()
            })
            .collect()
    };
    let mut vms = csv_rows(&vm_info());
    // vm-2 does not say its disk total: the sum of its disks is used.
    let total = vms[0]
        .iter()
        .position(|h| h == "TotalDiskAllocatedGiB")
        .unwrap();
    vms[2][total] = String::new();
    let file = workbook(
        dir.path(),
        "migration-center.xlsx",
        &[
            ("vmInfo".into(), vms),
            ("diskInfo".into(), csv_rows(&disk_info())),
            ("perfInfo".into(), csv_rows(&perf_info())),
            ("tagInfo".into(), csv_rows(&tag_info())),
        ],
    );
    let r = w.import(&file, false).await;
    no_rows_lost(&r);
    assert_eq!(r.layout, "gcp_migration_center_vm");
    assert_eq!(r.tables.len(), 1, "{:#?}", r.tables);
    assert_eq!(
        r.tables[0].joined_tables,
        ["diskInfo", "perfInfo", "tagInfo"]
    );
    assert!(r.skipped_tables.is_empty(), "{:#?}", r.skipped_tables);
    assert_eq!((r.assets_created, r.rows_rejected), (2, 0), "{r:#?}");
    assert!(
        r.notes.iter().any(|n| n.contains("1 machine(s)")),
        "gcp-404 is not in vmInfo: {:?}",
        r.notes
    );
    assert_eq!(w.asset_value("gcp-vm-1", "storage_gb").await, 100.0);
    assert_eq!(w.asset_value("gcp-vm-2", "storage_gb").await, 200.0);
    assert_eq!(
        w.asset_value("gcp-vm-1", "cpu_utilization_percent").await,
        30.0
    );
    assert_eq!(
        w.asset_value("gcp-vm-1", "memory_utilization_percent")
            .await,
        50.0
    );
    assert_eq!(
        w.asset_value("gcp-vm-1", "raw_data->'custom_attributes'->'env'")
            .await,
        json!("prod")
    );
    let again = w.import(&file, false).await;
    assert_eq!(
        (
            again.assets_created,
            again.assets_updated,
            again.assets_unchanged
        ),
        (0, 0, 2),
        "{again:#?}"
    );
}
