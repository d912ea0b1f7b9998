//! Layout detection on the real samples and header templates, and on variants of them.

use std::path::PathBuf;

use modernize_ingest::AssetAttribute as A;
use modernize_ingest::layout::{
    self, Combine, Detection, DetectionKind, LayoutId, MappingTarget, RelationField, TableHeaders,
};
use modernize_ingest::source::{self, Limits};

fn sample(rel: &str) -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/samples"
    ));
    assert!(
        dir.is_dir(),
        "the samples directory {} is missing: it must sit beside the repository (shared/samples)",
        dir.display()
    );
    let p = dir.join(rel);
    assert!(p.is_file(), "sample {} is missing", p.display());
    p
}

fn detect_file(rel: &str) -> Vec<Detection> {
    let src = source::open_path(&sample(rel), &Limits::default())
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    layout::detect(&src.table_headers())
}

fn best(rel: &str, layout: LayoutId, kind: DetectionKind) -> Detection {
    let d = detect_file(rel);
    let first = d[0].clone();
    assert_eq!(first.layout, layout, "{rel}: {d:#?}");
    assert!(first.confidence >= 0.8, "{rel}: {}", first.confidence);
    assert_eq!(first.kind, kind, "{rel}");
    assert_eq!(d.last().unwrap().layout, LayoutId::GenericTable);
    first
}

fn target(d: &Detection, column: &str) -> MappingTarget {
    d.mapping_of(column)
        .unwrap_or_else(|| panic!("{column} not mapped in {:?}", d.layout))
        .target
}

fn attr(d: &Detection, column: &str) -> A {
    match target(d, column) {
        MappingTarget::Attribute(a) => a,
        other => panic!("{column}: {other:?}"),
    }
}

#[test]
fn every_header_template_is_detected() {
    use DetectionKind::*;
    let cases = [
        (
            "aws_migration_hub_import_template",
            LayoutId::AwsMigrationHub,
            Assets,
        ),
        (
            "aws_migration_evaluator_template",
            LayoutId::AwsMigrationEvaluator,
            Assets,
        ),
        (
            "azure_migrate_import_template",
            LayoutId::AzureMigrateImport,
            Assets,
        ),
        (
            "azure_migrate_dependency_export",
            LayoutId::AzureMigrateDependencies,
            Dependencies,
        ),
        (
            "gcp_migration_center_vmInfo",
            LayoutId::GcpMigrationCenterVm,
            Assets,
        ),
        (
            "gcp_migration_center_diskInfo",
            LayoutId::GcpMigrationCenterDisk,
            Disks,
        ),
        (
            "gcp_migration_center_perfInfo",
            LayoutId::GcpMigrationCenterPerf,
            Performance,
        ),
        (
            "gcp_migration_center_tagInfo",
            LayoutId::GcpMigrationCenterTags,
            Tags,
        ),
        (
            "servicenow_cmdb_ci_server",
            LayoutId::ServicenowCmdbCiServer,
            Assets,
        ),
        (
            "servicenow_cmdb_rel_ci",
            LayoutId::ServicenowCmdbRelCi,
            Dependencies,
        ),
    ];
    for (file, layout, kind) in cases {
        let d = best(&format!("headers/{file}.header.csv"), layout, kind);
        // Every column of a known layout has a mapping with confidence 1.
        assert!(d.mapping.iter().all(|m| m.confidence == 1.0));
        assert!(
            d.signature_missing.is_empty(),
            "{file}: {:?}",
            d.signature_missing
        );
    }
}

#[test]
fn vendor_mappings_carry_attributes_and_units() {
    let d = best(
        "headers/aws_migration_hub_import_template.header.csv",
        LayoutId::AwsMigrationHub,
        DetectionKind::Assets,
    );
    assert_eq!(attr(&d, "ExternalId"), A::SourceId);
    assert_eq!(attr(&d, "IPAddress"), A::IpAddress);
    assert_eq!(attr(&d, "MACAddress"), A::MacAddress);
    let ram = d.mapping_of("RAM.TotalSizeInMB").unwrap();
    assert_eq!(ram.target, MappingTarget::Attribute(A::MemoryGb));
    assert_eq!(ram.to_gb, Some(1.0 / 1024.0));

    let d = best(
        "headers/azure_migrate_import_template.header.csv",
        LayoutId::AzureMigrateImport,
        DetectionKind::Assets,
    );
    assert_eq!(attr(&d, "*Server name"), A::AssetName);
    assert_eq!(attr(&d, "*Cores"), A::CpuCores);
    for disk in ["Disk 1 size (In GB)", "Disk 2 size (In GB)"] {
        let m = d.mapping_of(disk).unwrap();
        assert_eq!(m.target, MappingTarget::Attribute(A::StorageGb));
        assert_eq!(m.combine, Combine::Sum);
        assert_eq!(m.to_gb, Some(1.0));
    }
    assert_eq!(
        target(&d, "Disk 1 read ops (operations per second)"),
        MappingTarget::Custom
    );

    let d = best(
        "headers/azure_migrate_dependency_export.header.csv",
        LayoutId::AzureMigrateDependencies,
        DetectionKind::Dependencies,
    );
    assert_eq!(
        target(&d, "Source server name"),
        MappingTarget::Relation(RelationField::Source)
    );
    assert_eq!(
        target(&d, "Destination port"),
        MappingTarget::Relation(RelationField::Port)
    );

    let d = best(
        "headers/servicenow_cmdb_rel_ci.header.csv",
        LayoutId::ServicenowCmdbRelCi,
        DetectionKind::Dependencies,
    );
    assert_eq!(
        target(&d, "parent"),
        MappingTarget::Relation(RelationField::Source)
    );
    assert_eq!(
        target(&d, "child"),
        MappingTarget::Relation(RelationField::Target)
    );

    let d = best(
        "headers/servicenow_cmdb_ci_server.header.csv",
        LayoutId::ServicenowCmdbCiServer,
        DetectionKind::Assets,
    );
    assert_eq!(attr(&d, "sys_id"), A::SourceId);
    assert_eq!(d.mapping_of("ram").unwrap().to_gb, Some(1.0 / 1024.0));
    assert_eq!(d.mapping_of("disk_space").unwrap().to_gb, Some(1.0));

    let d = best(
        "headers/gcp_migration_center_tagInfo.header.csv",
        LayoutId::GcpMigrationCenterTags,
        DetectionKind::Tags,
    );
    assert_eq!(target(&d, "Key"), MappingTarget::TagKey);
    assert_eq!(target(&d, "Value"), MappingTarget::TagValue);
}

#[test]
fn rvtools_workbooks_are_detected_with_units_by_header_variant() {
    let cases = [
        ("rvtools/migration-planner__example1.xlsx", "MiB"),
        (
            "rvtools/partnersizingworkshop__BillSampleNextRvtoolsFinal.xlsx",
            "MB",
        ),
        (
            "rvtools/partnersizingworkshop__SizingWorkshop-RVTools.xlsx",
            "MB",
        ),
    ];
    for (file, unit) in cases {
        let d = best(file, LayoutId::Rvtools, DetectionKind::Assets);
        assert_eq!(d.table, "vInfo");
        assert_eq!(attr(&d, "VM"), A::AssetName);
        assert_eq!(attr(&d, "CPUs"), A::CpuCores);
        let memory = d.mapping_of("Memory").unwrap();
        assert_eq!(memory.target, MappingTarget::Attribute(A::MemoryGb));
        assert_eq!(memory.unit.as_deref(), Some(unit), "{file}");
        assert_eq!(memory.to_gb, Some(1.0 / 1024.0));
        let provisioned = d.mapping_of(&format!("Provisioned {unit}")).unwrap();
        assert_eq!(provisioned.target, MappingTarget::Attribute(A::StorageGb));
        let os = d.columns_for(A::OsVersion);
        assert_eq!(os[0].column, "OS according to the VMware Tools");
        assert_eq!(os[1].column, "OS according to the configuration file");
        assert_eq!(attr(&d, "Datacenter"), A::Datacenter);
        assert_eq!(target(&d, "Powerstate"), MappingTarget::Custom);
        assert!(d.related_tables.contains(&"vPartition".to_string()));
    }

    let d = best(cases[0].0, LayoutId::Rvtools, DetectionKind::Assets);
    assert_eq!(attr(&d, "Primary IP Address"), A::IpAddress);
    let ids: Vec<&str> = d
        .columns_for(A::SourceId)
        .iter()
        .map(|m| m.column.as_str())
        .collect();
    assert_eq!(ids, ["VM UUID", "VM ID"]);
    // Custom attributes of vMemory/vDisk are joined and kept.
    assert_eq!(target(&d, "owner"), MappingTarget::Custom);
    assert_eq!(d.related_tables, ["vDisk", "vPartition", "vCPU", "vMemory"]);

    let d = best(cases[1].0, LayoutId::Rvtools, DetectionKind::Assets);
    assert_eq!(attr(&d, "DNS Name"), A::Fqdn);
    assert!(
        d.notes.iter().any(|n| n.contains("NEXT Data Center")),
        "{:?}",
        d.notes
    );
    assert_eq!(attr(&d, layout::rvtools::DISK_TOTAL), A::StorageGb);
}

#[test]
fn konveyor_application_inventories_are_generic_with_lower_confidence() {
    let dir = sample("konveyor/tackle2-ui__sample-applications.csv");
    for entry in std::fs::read_dir(dir.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        let src = source::open_path(&path, &Limits::default()).unwrap();
        let d = layout::detect(&src.table_headers());
        assert!(
            matches!(d[0].layout, LayoutId::GenericTable | LayoutId::GenericCmdb),
            "{}: {:?}",
            path.display(),
            d[0].layout
        );
        assert!(d[0].confidence < 0.8);
    }
}

fn table(headers: &[&str]) -> Vec<TableHeaders> {
    vec![TableHeaders {
        name: "t".into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
    }]
}

#[test]
fn variants_of_known_layouts_are_still_recognised() {
    // A ServiceNow export with labels instead of column names.
    let d = layout::detect(&table(&[
        "Sys ID",
        "Name",
        "Class",
        "IP Address",
        "Fully qualified domain name",
        "Host name",
        "Operating System",
        "OS Version",
        "CPU count",
        "RAM (MB)",
        "Disk space (GB)",
        "Serial number",
        "Asset tag",
        "Operational status",
        "Install status",
        "Support group",
    ]));
    assert_eq!(d[0].layout, LayoutId::ServicenowCmdbCiServer);
    assert!(d[0].confidence >= 0.8);
    assert_eq!(
        d[0].mapping_of("RAM (MB)").unwrap().target,
        MappingTarget::Attribute(A::MemoryGb)
    );

    // An AWS import with only some of the documented columns, in another order.
    let d = layout::detect(&table(&[
        "HostName",
        "ExternalId",
        "OS.Name",
        "OS.Version",
        "IPAddress",
        "RAM.TotalSizeInMB",
        "CPU.NumberOfCores",
        "CPU.UsagePct.Avg",
        "RAM.UsedSizeInMB.Avg",
    ]));
    assert_eq!(d[0].layout, LayoutId::AwsMigrationHub);
    assert!(d[0].confidence >= 0.7, "{}", d[0].confidence);

    // An RVTools vInfo exported to CSV with a reduced column set.
    let d = layout::detect(&table(&[
        "VM",
        "Powerstate",
        "CPUs",
        "Memory",
        "Provisioned MiB",
        "In Use MiB",
        "Datacenter",
        "Cluster",
        "Host",
        "OS according to the configuration file",
        "VM UUID",
    ]));
    assert_eq!(d[0].layout, LayoutId::Rvtools);
    assert!(d[0].confidence >= 0.7, "{}", d[0].confidence);

    // Azure import with eight disks.
    let mut headers = vec![
        "*Server name",
        "IP addresses",
        "*Cores",
        "*Memory (In MB)",
        "*OS name",
    ];
    headers.push("Disk 8 size (In GB)");
    let d = layout::detect(&table(&headers));
    assert_eq!(d[0].layout, LayoutId::AzureMigrateImport);
    assert_eq!(
        d[0].mapping_of("Disk 8 size (In GB)").unwrap().combine,
        Combine::Sum
    );
}

#[test]
fn a_plain_server_inventory_is_a_generic_cmdb() {
    let d = layout::detect(&table(&[
        "Hostname",
        "IP Address",
        "Operating System",
        "CPU Cores",
        "RAM GB",
        "Environment",
        "Owner",
        "Application",
    ]));
    assert_eq!(d[0].layout, LayoutId::GenericCmdb);
    assert!(d[0].confidence > 0.5 && d[0].confidence <= 0.7);
    assert!(d[0].mapping.is_empty());
}

#[test]
fn detections_serialise_with_stable_names() {
    let d = detect_file("headers/servicenow_cmdb_rel_ci.header.csv");
    let json = serde_json::to_value(&d[0]).unwrap();
    assert_eq!(json["layout"], "servicenow_cmdb_rel_ci");
    assert_eq!(json["kind"], "dependencies");
    assert_eq!(json["mapping"][0]["target"]["type"], "relation");
    assert_eq!(json["mapping"][0]["target"]["value"], "source");
}

#[test]
fn google_companion_tables_on_their_own_fold_into_one_row_per_machine() {
    use modernize_ingest::layout::gcp_join::{CPU_AVERAGE, MACHINE_ID};
    use modernize_ingest::layout::joined::JoinedTable;

    let csv = "MachineId,TimeStamp,CpuUtilizationPercentage,AvailableMemoryBytes\n\
               m1,2024-05-01 10:00,10,100\n\
               m2,2024-05-01 10:00,80,50\n\
               m1,2024-05-01 10:05,30,300\n\
               ,2024-05-01 10:05,99,1\n";
    let mut src = source::open(
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        "perfInfo.csv",
        &Limits::default(),
    )
    .unwrap();
    let selection = layout::select(&src.table_headers());
    assert_eq!(selection.tables.len(), 1, "{selection:#?}");
    let d = &selection.tables[0];
    assert_eq!(d.layout, LayoutId::GcpMigrationCenterPerf);
    assert_eq!(d.kind, DetectionKind::Performance);

    let joined = JoinedTable::prepare(&mut src, d).unwrap();
    let headers = joined.headers().to_vec();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<_> = joined.rows(&mut src).unwrap().map(Result::unwrap).collect();
    type Machine<'a> = (u64, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let values: Vec<Machine> = rows
        .iter()
        .map(|r| {
            let v = &r.record.values;
            (
                r.record.row,
                v[col(MACHINE_ID)].as_deref(),
                v[col(CPU_AVERAGE)].as_deref(),
                v[col("perfInfo.CPU utilization % (peak)")].as_deref(),
            )
        })
        .collect();
    // One row per machine, numbered by the row where it first appears.
    assert_eq!(
        values,
        [
            (2, Some("m1"), Some("20"), Some("30")),
            (3, Some("m2"), Some("80"), Some("80")),
        ]
    );
    assert!(
        joined
            .notes()
            .iter()
            .any(|n| n.contains("1 row(s) without a MachineId")),
        "{:?}",
        joined.notes()
    );
    // The layout fixes every column: the machine id is the source id.
    let mapping = joined.mapping().unwrap();
    assert_eq!(mapping.len(), headers.len());
    assert_eq!(
        mapping[col(MACHINE_ID)].target,
        MappingTarget::Attribute(A::SourceId)
    );
    assert_eq!(
        mapping[col(CPU_AVERAGE)].target,
        MappingTarget::Attribute(A::CpuUtilizationPercent)
    );
}
