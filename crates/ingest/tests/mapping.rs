//! Field mapping: vendor header synonyms, real sample headers, content evidence, conflicts,
//! learned corrections, layout hints, determinism.

use modernize_ingest::AssetAttribute as A;
use modernize_ingest::embed;
use modernize_ingest::mapping::{
    ColumnMapping, Hints, LearnedCorrection, MappingStatus, Target, ValueShape, propose,
};

fn samples_dir() -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/samples"
    ));
    assert!(
        dir.is_dir(),
        "sample files not found at {}: the shared/samples directory must sit beside the repository",
        dir.display()
    );
    dir
}

fn header_line(relative: &str) -> Vec<String> {
    let path = samples_dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read sample {}: {e}", path.display()));
    let first = text.lines().next().expect("a header line");
    first
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(str::to_string)
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn rows(v: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    v.iter()
        .map(|r| {
            r.iter()
                .map(|c| (!c.is_empty()).then(|| c.to_string()))
                .collect()
        })
        .collect()
}

fn find<'a>(m: &'a [ColumnMapping], header: &str) -> &'a ColumnMapping {
    m.iter()
        .find(|c| c.source_column == header)
        .unwrap_or_else(|| panic!("no mapping for {header}"))
}

fn target_of(m: &[ColumnMapping], header: &str) -> Target {
    find(m, header).target.clone()
}

fn assert_unique_attributes(m: &[ColumnMapping]) {
    let mut seen = std::collections::HashSet::new();
    for c in m {
        if let Target::Attribute(a) = c.target {
            assert!(
                seen.insert(a),
                "{} mapped twice (again by '{}')",
                a.as_str(),
                c.source_column
            );
        }
    }
}

#[test]
fn vendor_header_synonyms_map_with_confidence() {
    let cases: &[(&str, A)] = &[
        // CMDB style
        ("Server Name", A::AssetName),
        ("IP Addr", A::IpAddress),
        ("Operating System", A::OsVersion),
        ("Env", A::Environment),
        ("App Owner", A::BusinessOwner),
        ("RAM (GB)", A::MemoryGb),
        ("Disk TB", A::StorageGb),
        ("vCPU", A::CpuCores),
        ("Host Name", A::Hostname),
        ("FQDN", A::Fqdn),
        ("MAC Address", A::MacAddress),
        ("Business Criticality", A::BusinessCriticality),
        ("Support Group", A::TechnicalOwner),
        ("Data Center", A::Datacenter),
        ("6R Strategy", A::SixRStrategy),
        ("Migration Wave", A::MigrationWave),
        // RVTools
        ("VM", A::AssetName),
        ("CPUs", A::CpuCores),
        ("Primary IP Address", A::IpAddress),
        ("VM UUID", A::SourceId),
        ("OS according to the configuration file", A::OsVersion),
        ("Total disk capacity MiB", A::StorageGb),
        ("DNS Name", A::Fqdn),
        // ServiceNow
        ("sys_id", A::SourceId),
        ("host_name", A::Hostname),
        ("cpu_core_count", A::CpuCores),
        ("support_group", A::TechnicalOwner),
        ("sys_class_name", A::AssetType),
        // AWS
        ("RAM.TotalSizeInMB", A::MemoryGb),
        ("CPU.NumberOfCores", A::CpuCores),
        ("VMware.VMName", A::AssetName),
        ("CPU.UsagePct.Avg", A::CpuUtilizationPercent),
        // Azure
        ("*Memory (In MB)", A::MemoryGb),
        ("*Cores", A::CpuCores),
        ("IP addresses", A::IpAddress),
        // GCP
        ("MemoryGiB", A::MemoryGb),
        ("AllocatedProcessorCoreCount", A::CpuCores),
        ("PrimaryMACAddress", A::MacAddress),
        ("TotalDiskAllocatedGiB", A::StorageGb),
    ];
    for (header, attr) in cases {
        let m = propose(&s(&[header]), &[], &Hints::default());
        assert_eq!(
            m[0].target,
            Target::Attribute(*attr),
            "{header}: {}",
            m[0].reason
        );
        assert!(m[0].confidence >= 0.8, "{header}: {}", m[0].confidence);
        assert_eq!(m[0].status, MappingStatus::Approved, "{header}");
        assert!(
            m[0].reason.contains(header),
            "reason names the header: {}",
            m[0].reason
        );
    }
    // Separately, "Memory MB" is memory in MB.
    let m = propose(&s(&["Memory MB"]), &[], &Hints::default());
    assert_eq!(m[0].target, Target::Attribute(A::MemoryGb));
    assert_eq!(m[0].unit.map(|u| u.as_str()), Some("MB"));
}

/// Abbreviated CMDB headers, each alone: the attribute, approved at the default threshold,
/// a little below the full spelling, with a reason that shows how the header was read.
#[test]
fn abbreviated_cmdb_headers_map_to_their_attributes() {
    let cases: &[(&str, A)] = &[
        ("Srv Name", A::AssetName),
        ("SrvName", A::AssetName),
        ("SVR_NAME", A::AssetName),
        ("srvr name", A::AssetName),
        ("CI", A::AssetName),
        ("Hst Name", A::Hostname),
        ("HostNm", A::Hostname),
        ("Svr Hostname", A::Hostname),
        ("Srv IP", A::IpAddress),
        ("Srv IP Addr", A::IpAddress),
        ("Mgmt IP Addr", A::IpAddress),
        ("MAC Adr", A::MacAddress),
        ("OS Ver", A::OsVersion),
        ("OS_VERS", A::OsVersion),
        ("Envt", A::Environment),
        ("Env Type", A::Environment),
        ("Biz Crit", A::BusinessCriticality),
        ("Crit Level", A::BusinessCriticality),
        ("Crit Lvl", A::BusinessCriticality),
        ("Mem Size", A::MemoryGb),
        ("Tot Mem (GB)", A::MemoryGb),
        ("Stor (GB)", A::StorageGb),
        ("Stor Cap GB", A::StorageGb),
        ("Dsk Size", A::StorageGb),
        ("Appl Name", A::ApplicationName),
        ("Appl", A::ApplicationName),
        ("App Ver", A::ApplicationVersion),
        ("DC Loc", A::Datacenter),
        ("DC Name", A::Datacenter),
        ("CPU Cnt", A::CpuCores),
        ("Nbr of Cores", A::CpuCores),
        ("Proc Count", A::CpuCores),
        ("Mem Utilization %", A::MemoryUtilizationPercent),
        ("Dept", A::BusinessUnit),
        ("Biz Owner", A::BusinessOwner),
        ("Svc Owner", A::BusinessOwner),
        ("Mig Wave", A::MigrationWave),
        ("Mig Prio", A::MigrationPriority),
        ("Rgn", A::Region),
        ("CI Typ", A::AssetType),
    ];
    for (header, attr) in cases {
        let m = propose(&s(&[header]), &[], &Hints::default());
        assert_eq!(
            m[0].target,
            Target::Attribute(*attr),
            "{header}: {}",
            m[0].reason
        );
        assert!(
            (0.8..0.95).contains(&m[0].confidence),
            "{header}: {}",
            m[0].confidence
        );
        assert_eq!(m[0].status, MappingStatus::Approved, "{header}");
        assert!(
            m[0].reason.contains("abbreviations written out"),
            "{header}: {}",
            m[0].reason
        );
    }
    // Headers already listed as written keep their full confidence.
    for header in ["Env", "Crit", "Mem", "App", "DC", "IP Addr", "CI Name"] {
        let m = propose(&s(&[header]), &[], &Hints::default());
        assert_eq!(m[0].confidence, 0.95, "{header}: {}", m[0].reason);
        assert!(!m[0].reason.contains("abbreviations"), "{}", m[0].reason);
    }
    // Abbreviations of other systems and of nothing the asset has stay custom.
    for header in [
        "Src IP",
        "Dst Hst",
        "Dest Srv Name",
        "Srv Desc",
        "Hst",
        "Tgt Port",
    ] {
        let m = propose(&s(&[header]), &[], &Hints::default());
        assert!(
            matches!(m[0].target, Target::Custom(_)),
            "{header} → {:?} ({})",
            m[0].target,
            m[0].reason
        );
    }
    // An ambiguous abbreviation is proposed for review, not approved.
    let m = propose(&s(&["Loc"]), &[], &Hints::default());
    assert_eq!(m[0].target, Target::Attribute(A::Datacenter));
    assert_eq!(m[0].status, MappingStatus::NeedsReview);
}

/// A whole abbreviated CMDB export with values: every column where it belongs, one column
/// per attribute, the full spelling winning over the abbreviation.
#[test]
fn an_abbreviated_cmdb_export_maps_column_by_column() {
    let headers = s(&[
        "CI ID",
        "Srv Name",
        "Hst Nm",
        "IP Addr",
        "OS Ver",
        "Env",
        "Crit",
        "Mem (GB)",
        "Stor (GB)",
        "App",
        "DC",
        "Dept",
        "Mig Wave",
        "Srv Desc",
    ]);
    let samples = rows(&[
        &[
            "CI0001",
            "web-01",
            "web01",
            "10.0.0.11",
            "Windows Server 2019",
            "Prod",
            "High",
            "16",
            "200",
            "Billing",
            "FRA1",
            "Finance",
            "2",
            "front end",
        ],
        &[
            "CI0002",
            "db-01",
            "db01",
            "10.0.0.12",
            "RHEL 8.6",
            "Dev",
            "Low",
            "64",
            "1024",
            "Billing",
            "FRA1",
            "Finance",
            "3",
            "database",
        ],
    ]);
    let m = propose(&headers, &samples, &Hints::default());
    assert_unique_attributes(&m);
    for (header, attr) in [
        ("CI ID", A::SourceId),
        ("Srv Name", A::AssetName),
        ("Hst Nm", A::Hostname),
        ("IP Addr", A::IpAddress),
        ("OS Ver", A::OsVersion),
        ("Env", A::Environment),
        ("Crit", A::BusinessCriticality),
        ("Mem (GB)", A::MemoryGb),
        ("Stor (GB)", A::StorageGb),
        ("App", A::ApplicationName),
        ("DC", A::Datacenter),
        ("Dept", A::BusinessUnit),
        ("Mig Wave", A::MigrationWave),
    ] {
        let c = find(&m, header);
        assert_eq!(c.target, Target::Attribute(attr), "{header}: {}", c.reason);
        assert_eq!(c.status, MappingStatus::Approved, "{header}: {}", c.reason);
    }
    assert_eq!(target_of(&m, "Srv Desc"), Target::Custom("srv_desc".into()));
    // Beside the full spelling, the abbreviation loses the attribute.
    let m = propose(&s(&["Srv Name", "Server Name"]), &[], &Hints::default());
    assert_eq!(
        target_of(&m, "Server Name"),
        Target::Attribute(A::AssetName)
    );
    assert!(matches!(target_of(&m, "Srv Name"), Target::Custom(_)));
}

#[test]
fn things_that_are_not_attributes_stay_custom() {
    for header in [
        "Host",
        "Disks",
        "NICs",
        "Active Memory",
        "Video Ram KiB",
        "cpu_speed",
        "Disk 1 read throughput (MB per second)",
        "Destination IP",
        "Annotation",
        "RAM.UsedSizeInMB.Avg",
    ] {
        let m = propose(&s(&[header]), &[], &Hints::default());
        assert!(
            matches!(m[0].target, Target::Custom(_)),
            "{header} → {:?} ({})",
            m[0].target,
            m[0].reason
        );
    }
    let m = propose(&s(&["Video Ram KiB"]), &[], &Hints::default());
    assert_eq!(m[0].target, Target::Custom("video_ram_kib".into()));
}

#[test]
fn real_sample_headers_map_to_the_right_attributes() {
    let cases: &[(&str, &[(&str, A)])] = &[
        (
            "headers/aws_migration_hub_import_template.header.csv",
            &[
                ("ExternalId", A::SourceId),
                ("IPAddress", A::IpAddress),
                ("MACAddress", A::MacAddress),
                ("HostName", A::Hostname),
                ("CPU.NumberOfCores", A::CpuCores),
                ("OS.Version", A::OsVersion),
                ("OS.Name", A::OsType),
                ("VMware.VMName", A::AssetName),
                ("RAM.TotalSizeInMB", A::MemoryGb),
                ("CPU.UsagePct.Avg", A::CpuUtilizationPercent),
                ("Applications", A::ApplicationName),
                ("ApplicationWave", A::MigrationWave),
            ],
        ),
        (
            "headers/aws_migration_evaluator_template.header.csv",
            &[
                ("Server Name", A::AssetName),
                ("CPU Cores", A::CpuCores),
                ("Memory (MB)", A::MemoryGb),
                ("Provisioned Storage (GB)", A::StorageGb),
                ("Operating System", A::OsVersion),
                ("Environment", A::Environment),
                ("Application", A::ApplicationName),
            ],
        ),
        (
            "headers/azure_migrate_import_template.header.csv",
            &[
                ("*Server name", A::AssetName),
                ("IP addresses", A::IpAddress),
                ("*Cores", A::CpuCores),
                ("*Memory (In MB)", A::MemoryGb),
                ("OS version", A::OsVersion),
                ("CPU utilization percentage", A::CpuUtilizationPercent),
                ("Memory utilization percentage", A::MemoryUtilizationPercent),
                ("Storage in use (In GB)", A::StorageGb),
            ],
        ),
        (
            "headers/gcp_migration_center_vmInfo.header.csv",
            &[
                ("MachineId", A::SourceId),
                ("MachineName", A::AssetName),
                ("PrimaryIPAddress", A::IpAddress),
                ("PrimaryMACAddress", A::MacAddress),
                ("TotalDiskAllocatedGiB", A::StorageGb),
                ("AllocatedProcessorCoreCount", A::CpuCores),
                ("MemoryGiB", A::MemoryGb),
                ("HostingLocation", A::Datacenter),
                ("OsType", A::OsType),
            ],
        ),
        (
            "headers/servicenow_cmdb_ci_server.header.csv",
            &[
                ("sys_id", A::SourceId),
                ("name", A::AssetName),
                ("sys_class_name", A::AssetType),
                ("ip_address", A::IpAddress),
                ("mac_address", A::MacAddress),
                ("fqdn", A::Fqdn),
                ("host_name", A::Hostname),
                ("os_version", A::OsVersion),
                ("cpu_core_count", A::CpuCores),
                ("ram", A::MemoryGb),
                ("disk_space", A::StorageGb),
                ("environment", A::Environment),
                ("department", A::BusinessUnit),
                ("owned_by", A::BusinessOwner),
                ("support_group", A::TechnicalOwner),
            ],
        ),
        (
            "konveyor/tackle2-hub__template_application_import.csv",
            &[
                ("Application Name", A::ApplicationName),
                ("Dependency", A::Dependencies),
                ("Owner", A::BusinessOwner),
            ],
        ),
    ];
    for (file, expected) in cases {
        let headers = header_line(file);
        let m = propose(&headers, &[], &Hints::default());
        assert_eq!(m.len(), headers.len());
        assert_unique_attributes(&m);
        for (header, attr) in *expected {
            let c = find(&m, header);
            assert_eq!(
                c.target,
                Target::Attribute(*attr),
                "{file}: {header}: {}",
                c.reason
            );
        }
        // Dependency-export columns describe other systems: never this asset's identity.
    }
    let dep = header_line("headers/azure_migrate_dependency_export.header.csv");
    let m = propose(&dep, &[], &Hints::default());
    assert!(matches!(target_of(&m, "Destination IP"), Target::Custom(_)));
}

/// Headers and two rows copied from the RVTools sample workbooks' vInfo sheets.
#[test]
fn rvtools_vinfo_with_values() {
    let headers = s(&[
        "VM",
        "Powerstate",
        "Template",
        "CPUs",
        "Memory",
        "NICs",
        "Disks",
        "Total disk capacity MiB",
        "Provisioned MiB",
        "In Use MiB",
        "Primary IP Address",
        "Datacenter",
        "Cluster",
        "Host",
        "OS according to the configuration file",
        "OS according to the VMware Tools",
        "VM ID",
        "VM UUID",
        "",
    ]);
    let samples = rows(&[
        &[
            "vm-1",
            "poweredOff",
            "False",
            "1",
            "2224",
            "1",
            "1",
            "100494",
            "105742",
            "96952",
            "",
            "Datacenter",
            "Cluster",
            "10.185.26.9",
            "Amazon Linux 2 (64-bit)",
            "",
            "vm-89952",
            "500b85c1-ef0d-37fb-6897-61c47157f858",
            "",
        ],
        &[
            "wadfs1",
            "poweredOn",
            "False",
            "6",
            "16384",
            "1",
            "1",
            "139434",
            "139434",
            "139425",
            "10.5.126.198",
            "Datacenter1",
            "Cluster1",
            "bovmsp-04.customer.com",
            "Microsoft Windows Server 2008 R2 (64-bit)",
            "Microsoft Windows Server 2008 R2 (64-bit)",
            "vm-92137",
            "500bfe00-a0ed-72f7-0d6d-9a0395fff483",
            "",
        ],
    ]);
    let m = propose(&headers, &samples, &Hints::default());
    assert_unique_attributes(&m);
    let expect = [
        ("VM", A::AssetName),
        ("CPUs", A::CpuCores),
        ("Memory", A::MemoryGb),
        ("Total disk capacity MiB", A::StorageGb),
        ("Primary IP Address", A::IpAddress),
        ("Datacenter", A::Datacenter),
        ("Cluster", A::RackLocation),
        ("OS according to the configuration file", A::OsVersion),
        ("OS according to the VMware Tools", A::OsType),
        ("VM UUID", A::SourceId),
    ];
    for (h, a) in expect {
        assert_eq!(
            target_of(&m, h),
            Target::Attribute(a),
            "{h}: {}",
            find(&m, h).reason
        );
    }
    for h in [
        "Host",
        "Disks",
        "NICs",
        "Powerstate",
        "Provisioned MiB",
        "VM ID",
    ] {
        assert!(matches!(target_of(&m, h), Target::Custom(_)), "{h}");
    }
    // Memory has no unit in the header: the values (median 16384) say MB.
    let mem = find(&m, "Memory");
    assert_eq!(mem.unit.map(|u| u.as_str()), Some("MB"));
    assert!(mem.reason.contains("median"), "{}", mem.reason);
    assert_eq!(find(&m, "Powerstate").shape, Some(ValueShape::Boolean));
    assert_eq!(target_of(&m, ""), Target::Ignore);
}

#[test]
fn content_rescues_a_cryptic_header() {
    let ips: Vec<Vec<Option<String>>> = (0..50)
        .map(|i| {
            vec![
                Some(format!("10.0.{}.{}", i / 10, i + 1)),
                Some(format!("srv{i}")),
            ]
        })
        .collect();
    let m = propose(&s(&["x1", "x2"]), &ips, &Hints::default());
    assert_eq!(m[0].target, Target::Attribute(A::IpAddress));
    assert!(
        m[0].confidence > 0.6 && m[0].confidence < 0.8,
        "{}",
        m[0].confidence
    );
    assert_eq!(m[0].status, MappingStatus::NeedsReview);
    assert!(
        m[0].reason
            .contains("50/50 sampled values look like IP addresses"),
        "{}",
        m[0].reason
    );
    // Host-name-like values alone are too common to name an attribute.
    assert!(matches!(m[1].target, Target::Custom(_)));

    // Values raise a matching header's confidence and lower a contradicted one.
    let good = rows(&[&["web01"], &["db02"], &["app03"]]);
    let bad = rows(&[&["yes"], &["no"], &["yes"]]);
    let with_good = propose(&s(&["Host Name"]), &good, &Hints::default());
    let with_bad = propose(&s(&["Host Name"]), &bad, &Hints::default());
    assert!(with_good[0].confidence > 0.95);
    assert!(with_bad[0].confidence < 0.8);
    assert!(
        with_good[0]
            .reason
            .contains("3/3 sampled values look like host names")
    );
}

#[test]
fn conflicts_are_resolved_by_confidence() {
    let headers = s(&[
        "Memory MB",
        "RAM (GB)",
        "Server Name",
        "VM Name",
        "IP",
        "Public IP",
    ]);
    let m = propose(&headers, &[], &Hints::default());
    assert_unique_attributes(&m);
    // Equal header evidence: the earlier column wins, the other stays custom.
    assert_eq!(target_of(&m, "Memory MB"), Target::Attribute(A::MemoryGb));
    assert_eq!(target_of(&m, "RAM (GB)"), Target::Custom("ram_gb".into()));
    assert_eq!(
        target_of(&m, "Server Name"),
        Target::Attribute(A::AssetName)
    );
    assert!(matches!(target_of(&m, "VM Name"), Target::Custom(_)));
    assert_eq!(target_of(&m, "IP"), Target::Attribute(A::IpAddress));
    let loser = find(&m, "Public IP");
    assert!(matches!(loser.target, Target::Custom(_)));
    assert_eq!(loser.status, MappingStatus::NeedsReview);
    assert!(loser.reason.contains("given to 'IP'"), "{}", loser.reason);

    // Stronger evidence wins whatever the order: values decide between two OS columns.
    let headers = s(&["OS Version", "OS Name"]);
    let samples = rows(&[
        &["see notes", "Microsoft Windows Server 2019 Datacenter"],
        &["unknown", "Microsoft Windows Server 2012 R2 Standard"],
    ]);
    let m = propose(&headers, &samples, &Hints::default());
    assert_eq!(target_of(&m, "OS Name"), Target::Attribute(A::OsVersion));
    assert_eq!(
        target_of(&m, "OS Version"),
        Target::Custom("os_version".into())
    );
    // Build numbers are versions: the product names then take os_type (and cleansing names
    // the version's product, "Windows Server 2019 (10.0.17763)").
    let samples = rows(&[
        &["10.0.17763", "Microsoft Windows Server 2019 Datacenter"],
        &["6.3.9600", "Microsoft Windows Server 2012 R2 Standard"],
    ]);
    let m = propose(&headers, &samples, &Hints::default());
    assert_eq!(target_of(&m, "OS Version"), Target::Attribute(A::OsVersion));
    assert_eq!(target_of(&m, "OS Name"), Target::Attribute(A::OsType));
}

#[test]
fn learned_corrections_override_heuristics() {
    let hints = Hints {
        learned: vec![
            LearnedCorrection {
                source_column: "Srv Name".into(),
                target: Target::Attribute(A::Hostname),
                weight: 1.0,
                reference: Some("pattern-1".into()),
            },
            LearnedCorrection {
                source_column: "Server Name".into(),
                target: Target::Attribute(A::Fqdn),
                weight: 0.95,
                reference: None,
            },
            LearnedCorrection {
                source_column: "Internal Ref".into(),
                target: Target::Ignore,
                weight: 1.0,
                reference: None,
            },
        ],
        ..Hints::default()
    };
    for header in ["Srv Name", "srv_name", "SrvName", "SRV-NAME"] {
        let m = propose(&s(&[header]), &[], &hints);
        assert_eq!(m[0].target, Target::Attribute(A::Hostname), "{header}");
        assert_eq!(m[0].confidence, 1.0);
        assert!(
            m[0].reason.contains("earlier correction"),
            "{}",
            m[0].reason
        );
        assert_eq!(m[0].learned_reference.as_deref(), Some("pattern-1"));
    }
    let m = propose(
        &s(&["Server Name", "internal_ref", "Host Name"]),
        &[],
        &hints,
    );
    assert_eq!(m[0].target, Target::Attribute(A::Fqdn));
    assert_eq!(m[1].target, Target::Ignore);
    assert_eq!(m[2].target, Target::Attribute(A::Hostname));
    assert_eq!(
        m[1].learned_reference, None,
        "a correction without a reference"
    );
    assert_eq!(m[2].learned_reference, None, "a heuristic proposal");

    // A learned correction beats the layout too.
    let hints2 = Hints {
        layout: vec![("Server Name".into(), A::AssetName, 0.99)],
        ..hints
    };
    let m = propose(&s(&["Server Name"]), &[], &hints2);
    assert_eq!(m[0].target, Target::Attribute(A::Fqdn));
}

#[test]
fn learned_corrections_apply_to_similar_names() {
    let learned = vec![LearnedCorrection {
        source_column: "Cust Sys Ref Code".into(),
        target: Target::Attribute(A::SourceId),
        weight: 1.0,
        reference: Some("pattern-7".into()),
    }];
    let similar = "CustSysRefCode2";
    let sim = embed::name_similarity(similar, "Cust Sys Ref Code");
    assert!(sim > 0.85, "similarity {sim}");
    let without = propose(
        &s(&[similar]),
        &[],
        &Hints {
            learned: learned.clone(),
            ..Hints::default()
        },
    );
    assert!(matches!(without[0].target, Target::Custom(_)));
    let with = propose(
        &s(&[similar, "Colour"]),
        &[],
        &Hints {
            learned,
            similarity: Some(&embed::name_similarity),
            ..Hints::default()
        },
    );
    assert_eq!(with[0].target, Target::Attribute(A::SourceId));
    assert!(with[0].reason.contains("resembles"), "{}", with[0].reason);
    assert_eq!(with[0].learned_reference.as_deref(), Some("pattern-7"));
    assert!(matches!(with[1].target, Target::Custom(_)));
    assert_eq!(with[1].learned_reference, None);
    assert_eq!(without[0].learned_reference, None);
}

#[test]
fn layout_hints_and_threshold() {
    let hints = Hints {
        layout: vec![("Mem Cfg".into(), A::MemoryGb, 0.9)],
        threshold: 0.97,
        ..Hints::default()
    };
    let m = propose(
        &s(&["Mem Cfg", "Host Name"]),
        &rows(&[&["4096", "web01"]]),
        &hints,
    );
    assert_eq!(m[0].target, Target::Attribute(A::MemoryGb));
    assert!(m[0].reason.contains("detected layout"), "{}", m[0].reason);
    // 0.9 with 1/1 agreeing value is 0.95 < 0.97.
    assert_eq!(m[0].status, MappingStatus::NeedsReview);
}

#[test]
fn deterministic_and_linear_on_wide_tables() {
    let mut headers: Vec<String> = Vec::new();
    let base = [
        "Server Name",
        "IP Addr",
        "Operating System",
        "Env",
        "App Owner",
        "RAM (GB)",
        "Disk TB",
        "vCPU",
        "Custom Field",
        "x",
    ];
    for i in 0..200 {
        headers.push(format!("{} {}", base[i % base.len()], i / base.len()));
    }
    let samples: Vec<Vec<Option<String>>> = (0..100)
        .map(|r| (0..200).map(|c| Some(format!("v{r}-{c}"))).collect())
        .collect();
    let a = propose(&headers, &samples, &Hints::default());
    let b = propose(&headers, &samples, &Hints::default());
    assert_eq!(a, b);
    assert_eq!(a.len(), 200);
    assert_unique_attributes(&a);
    let mut customs: Vec<&Target> = a.iter().map(|m| &m.target).collect();
    customs.dedup();
    assert_eq!(customs.len(), 200, "custom names are unique");
}

#[test]
fn an_os_name_column_beside_an_os_version_column_maps_to_the_os_family() {
    // CMDB exports often split the product ("Operating System") from its version number.
    let headers = s(&["Host Name", "Operating System", "OS Version"]);
    let samples = rows(&[
        &[
            "web-01",
            "Microsoft Windows Server 2019 Standard",
            "10.0.17763",
        ],
        &["db-01", "Red Hat Enterprise Linux 8", "8.6"],
        &["app-01", "SUSE Linux Enterprise Server 15", "15 SP4"],
        &["ora-01", "Oracle Linux 7", "7.9"],
        &["ubu-01", "Ubuntu 20.04 LTS", "20.04"],
    ]);
    let m = propose(&headers, &samples, &Hints::default());
    assert_unique_attributes(&m);
    for (header, attr) in [
        ("Operating System", A::OsType),
        ("OS Version", A::OsVersion),
    ] {
        let c = find(&m, header);
        assert_eq!(c.target, Target::Attribute(attr), "{header}: {}", c.reason);
        assert_eq!(c.status, MappingStatus::Approved, "{header}: {}", c.reason);
    }
    assert!(
        find(&m, "OS Version").reason.contains("5/5 sampled values"),
        "{}",
        find(&m, "OS Version").reason
    );
    // Alone, an operating-system column still carries product and version.
    let m = propose(
        &s(&["Host Name", "Operating System"]),
        &samples.iter().map(|r| r[..2].to_vec()).collect::<Vec<_>>(),
        &Hints::default(),
    );
    assert_eq!(
        target_of(&m, "Operating System"),
        Target::Attribute(A::OsVersion)
    );
}
