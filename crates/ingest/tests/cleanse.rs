//! Cleansing (every category, exact outputs), identity keys, the embedder and the scores.

use modernize_ingest::AssetAttribute as A;
use modernize_ingest::cleanse::{
    CleansedAsset, Cleanser, IssueCode, Severity, Value, cleanse, enums, os,
};
use modernize_ingest::embed::{self, EMBEDDING_DIM};
use modernize_ingest::identity::{KeyKind, identity_keys};
use modernize_ingest::mapping::{ColumnMapping, Hints, propose};
use modernize_ingest::score;
use modernize_ingest::{Record, mapping::Target};

fn mapping(headers: &[&str]) -> Vec<ColumnMapping> {
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    propose(&headers, &[], &Hints::default())
}

fn record(values: &[&str]) -> Record {
    Record {
        table: "servers".into(),
        row: 2,
        values: values
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.to_string()))
            .collect(),
    }
}

fn one(headers: &[&str], values: &[&str]) -> CleansedAsset {
    cleanse(&mapping(headers), &record(values))
}

fn text(a: &CleansedAsset, attr: A) -> Option<&str> {
    a.text(attr)
}

fn codes(a: &CleansedAsset) -> Vec<&'static str> {
    a.issues.iter().map(|i| i.code.as_str()).collect()
}

#[test]
fn operating_systems() {
    let cases = [
        (
            "Microsoft Windows Server 2019 (64-bit)",
            "windows",
            "Windows Server 2019",
        ),
        (
            "Microsoft Windows Server 2008 R2 (64-bit)",
            "windows",
            "Windows Server 2008 R2",
        ),
        (
            "Red Hat Enterprise Linux 8 (64-bit)",
            "linux",
            "Red Hat Enterprise Linux 8",
        ),
        ("CentOS 4/5 or later (64-bit)", "linux", "CentOS 4/5"),
        ("Ubuntu Linux (64-bit)", "linux", "Ubuntu"),
        ("win2k16", "windows", "Windows Server 2016"),
        ("RHEL7.9", "linux", "Red Hat Enterprise Linux 7.9"),
        (
            "SLES 12 SP5",
            "linux",
            "SUSE Linux Enterprise Server 12 SP5",
        ),
        ("Oracle Linux 7", "linux", "Oracle Linux 7"),
        ("AIX 7.2", "aix", "AIX 7.2"),
        ("Solaris 10", "solaris", "Solaris 10"),
        ("HP-UX 11i v3", "hp-ux", "HP-UX 11"),
        ("macOS 14", "macos", "macOS 14"),
        ("FreeBSD 13.2", "unix", "FreeBSD 13.2"),
        ("Amazon Linux 2 (64-bit)", "linux", "Amazon Linux 2"),
        ("Red Hat Fedora (32-bit)", "linux", "Fedora"),
        ("Other 3.x or later Linux (64-bit)", "linux", "Linux"),
    ];
    for (raw, family, version) in cases {
        let a = one(&["Server Name", "Operating System"], &["web01", raw]);
        assert_eq!(text(&a, A::OsType), Some(family), "{raw}");
        assert_eq!(text(&a, A::OsVersion), Some(version), "{raw}");
        assert!(a.provenance[&A::OsType].derived);
        assert!(a.issues.is_empty(), "{raw}: {:?}", a.issues);
    }
    // An unknown OS: kept as written, family other, warning.
    let a = one(&["Server Name", "Operating System"], &["x", "Plan 9"]);
    assert_eq!(text(&a, A::OsVersion), Some("Plan 9"));
    assert_eq!(text(&a, A::OsType), Some("other"));
    assert_eq!(codes(&a), ["unknown_os"]);
    // An os_type column keeps its own family; a bare version stays as written.
    let a = one(&["Name", "OS Type", "OS Version"], &["x", "Linux", "7.9"]);
    assert_eq!(text(&a, A::OsType), Some("linux"));
    assert_eq!(text(&a, A::OsVersion), Some("7.9"));
    assert!(a.issues.is_empty());
    assert_eq!(
        os::parse_os("win2k16").unwrap().family,
        os::OsFamily::Windows
    );
}

#[test]
fn a_bare_os_version_takes_the_product_of_the_os_column() {
    for (os_name, version, family, expected) in [
        (
            "Red Hat Enterprise Linux 8",
            "8.6",
            "linux",
            "Red Hat Enterprise Linux 8.6",
        ),
        (
            "SUSE Linux Enterprise Server 15",
            "15 SP4",
            "linux",
            "SUSE Linux Enterprise Server 15 SP4",
        ),
        ("Oracle Linux 7", "7.9", "linux", "Oracle Linux 7.9"),
        ("Ubuntu 20.04 LTS", "20.04", "linux", "Ubuntu 20.04"),
        ("CentOS", "7.9.2009", "linux", "CentOS 7.9.2009"),
        // A build number that does not continue the product's version keeps both.
        (
            "Microsoft Windows Server 2019 Standard",
            "10.0.17763",
            "windows",
            "Windows Server 2019 (10.0.17763)",
        ),
        // A Windows Server build names its release when the product column has none.
        (
            "Microsoft Windows Server",
            "10.0.20348",
            "windows",
            "Windows Server 2022 (10.0.20348)",
        ),
        (
            "Windows Server",
            "6.3.9600",
            "windows",
            "Windows Server 2012 R2 (6.3.9600)",
        ),
        (
            "Windows Server",
            "10.0.99999",
            "windows",
            "Windows Server 10.0.99999",
        ),
        // A version column that names its product stays as it is.
        (
            "Red Hat Enterprise Linux 8",
            "RHEL 8.8",
            "linux",
            "Red Hat Enterprise Linux 8.8",
        ),
    ] {
        let a = one(
            &["Server Name", "Operating System", "OS Version"],
            &["web-01", os_name, version],
        );
        assert_eq!(text(&a, A::OsType), Some(family), "{os_name} / {version}");
        assert_eq!(
            text(&a, A::OsVersion),
            Some(expected),
            "{os_name} / {version}"
        );
        assert!(codes(&a).is_empty(), "{:?}", codes(&a));
    }
    // Named from two columns: the version's provenance says it was derived.
    let a = one(
        &["Server Name", "Operating System", "OS Version"],
        &["web-01", "Red Hat Enterprise Linux 8", "8.6"],
    );
    let p = &a.provenance[&A::OsVersion];
    assert_eq!((p.column.as_str(), p.derived), ("OS Version", true));
    // An unrecognised OS names nothing: the version stays bare.
    let a = one(
        &["Server Name", "Operating System", "OS Version"],
        &["web-01", "PlanetOS", "8.6"],
    );
    assert_eq!(text(&a, A::OsVersion), Some("8.6"));
}

#[test]
fn enumerations_and_booleans() {
    let env = [
        ("prod", "production"),
        ("PRD", "production"),
        ("Production", "production"),
        ("live", "production"),
        ("uat", "test"),
        ("QA", "test"),
        ("test", "test"),
        ("tst", "test"),
        ("stage", "staging"),
        ("stg", "staging"),
        ("Staging", "staging"),
        ("pre-prod", "staging"),
        ("dev", "development"),
        ("Development", "development"),
        ("sandbox", "development"),
        ("DR", "dr"),
        ("Disaster Recovery", "dr"),
    ];
    for (raw, want) in env {
        let a = one(&["Name", "Env"], &["x", raw]);
        assert_eq!(text(&a, A::Environment), Some(want), "{raw}");
    }
    let a = one(&["Name", "Env"], &["x", "galaxy"]);
    assert_eq!(text(&a, A::Environment), None);
    assert_eq!(codes(&a), ["unknown_environment"]);
    assert!(!a.is_rejected());

    let crit = [
        ("Tier 1", "critical"),
        ("Mission Critical", "critical"),
        ("P1", "critical"),
        ("critical", "critical"),
        ("Tier 2", "high"),
        ("High", "high"),
        ("P3", "medium"),
        ("Medium", "medium"),
        ("Tier 4", "low"),
        ("low", "low"),
        ("2", "high"),
    ];
    for (raw, want) in crit {
        let a = one(&["Name", "Criticality"], &["x", raw]);
        assert_eq!(text(&a, A::BusinessCriticality), Some(want), "{raw}");
    }
    let a = one(&["Name", "Criticality"], &["x", "whatever"]);
    assert_eq!(codes(&a), ["unknown_criticality"]);

    let a = one(&["Name", "Asset Type"], &["x", "Virtual Machine"]);
    assert_eq!(text(&a, A::AssetType), Some("server"));
    assert_eq!(text(&a, A::AssetSubtype), Some("virtual machine"));
    for (raw, want) in [
        ("cmdb_ci_linux_server", "server"),
        ("Database", "database"),
        ("Business Application", "application"),
        ("Load Balancer", "network"),
        ("SAN", "storage"),
        ("Web Service", "service"),
    ] {
        let a = one(&["Name", "Asset Type"], &["x", raw]);
        assert_eq!(text(&a, A::AssetType), Some(want), "{raw}");
    }
    let a = one(&["Name", "Asset Type"], &["x", "Toaster"]);
    assert_eq!(codes(&a), ["unknown_asset_type"]);

    for (raw, want) in [
        ("Rehost", "rehost"),
        ("Lift and Shift", "rehost"),
        ("Re-platform", "replatform"),
        ("Rearchitect", "refactor"),
        ("Replace", "repurchase"),
        ("Decommission", "retire"),
        ("Retain", "retain"),
    ] {
        let a = one(&["Name", "6R Strategy"], &["x", raw]);
        assert_eq!(text(&a, A::SixRStrategy), Some(want), "{raw}");
    }
    let a = one(&["Name", "6R Strategy"], &["x", "shrug"]);
    assert_eq!(codes(&a), ["unknown_six_r"]);

    for (raw, want) in [
        ("yes", true),
        ("No", false),
        ("Y", true),
        ("n", false),
        ("TRUE", true),
        ("false", false),
        ("1", true),
        ("0", false),
        ("on", true),
        ("OFF", false),
        ("poweredOn", true),
        ("poweredOff", false),
    ] {
        assert_eq!(enums::boolean(raw), Some(want), "{raw}");
    }
    assert_eq!(enums::boolean("maybe"), None);

    // A custom column whose samples are booleans keeps booleans.
    let headers = vec!["VM".to_string(), "Powerstate".to_string()];
    let samples = vec![
        vec![Some("a".to_string()), Some("poweredOn".to_string())],
        vec![Some("b".to_string()), Some("poweredOff".to_string())],
    ];
    let m = propose(&headers, &samples, &Hints::default());
    let a = cleanse(&m, &record(&["vm1", "poweredOff"]));
    assert_eq!(a.custom.get("powerstate"), Some(&Value::Bool(false)));
}

#[test]
fn sizes_to_gb() {
    let cases: [(&str, &str, f64); 9] = [
        ("RAM (GB)", "16", 16.0),
        ("Memory MB", "16384", 16.0),
        ("Memory (MiB)", "2048", 2.0),
        ("Memory GiB", "0.5", 0.5),
        ("Memory KB", "1048576", 1.0),
        ("Memory Bytes", "17179869184", 16.0),
        ("Disk TB", "1.5", 1536.0),
        ("Disk TiB", "2", 2048.0),
        ("Provisioned MB", "86201", 84.181),
    ];
    for (header, raw, want) in cases {
        let a = one(&["Name", header], &["x", raw]);
        let attr = if header.starts_with("Disk") || header.starts_with("Prov") {
            A::StorageGb
        } else {
            A::MemoryGb
        };
        assert_eq!(a.number(attr), Some(want), "{header} {raw}");
        assert!(a.issues.is_empty(), "{header}: {:?}", a.issues);
    }
    // A unit in the value wins over the header's.
    let a = one(&["Name", "RAM (GB)"], &["x", "512 MiB"]);
    assert_eq!(a.number(A::MemoryGb), Some(0.5));
    // No unit anywhere: guessed from the magnitude, with a warning.
    let a = one(&["Name", "Memory"], &["x", "8192"]);
    assert_eq!(a.number(A::MemoryGb), Some(8.0));
    assert_eq!(codes(&a), ["unit_assumed"]);
    let a = one(&["Name", "Memory"], &["x", "64"]);
    assert_eq!(a.number(A::MemoryGb), Some(64.0));
    // Numbers: an unreadable optional number is a warning and the value is dropped.
    let a = one(&["Name", "vCPU"], &["x", "many"]);
    assert_eq!(a.get(A::CpuCores), None);
    assert_eq!(codes(&a), ["invalid_number"]);
    assert!(!a.is_rejected());
    let a = one(&["Name", "vCPU", "Wave"], &["x", "4.0", "Wave 3"]);
    assert_eq!(a.get(A::CpuCores), Some(&Value::Integer(4)));
    assert_eq!(a.get(A::MigrationWave), Some(&Value::Integer(3)));
    let a = one(
        &["Name", "RAM (GB)", "CPU Utilization %"],
        &["x", "-4", "140"],
    );
    assert_eq!(codes(&a), ["out_of_range", "out_of_range"]);
    let a = one(&["Name", "CPU Utilization %"], &["x", "45.5%"]);
    assert_eq!(a.number(A::CpuUtilizationPercent), Some(45.5));
    // Whole numbers beyond the stored INTEGER range (a timestamp in a wave column) are
    // dropped with a warning instead of failing the whole import when written.
    let a = one(
        &["Name", "Wave", "Priority"],
        &["x", "20240115093000", "2147483647"],
    );
    assert_eq!(a.get(A::MigrationWave), None);
    assert_eq!(
        a.get(A::MigrationPriority),
        Some(&Value::Integer(2147483647))
    );
    assert_eq!(codes(&a), ["out_of_range"]);
    assert!(!a.is_rejected());
}

#[test]
fn network_values() {
    let a = one(
        &["Name", "IP Address", "MAC"],
        &["x", "010.000.000.001", "00-50-56-AB-CD-EF"],
    );
    assert_eq!(text(&a, A::IpAddress), Some("10.0.0.1"));
    assert_eq!(text(&a, A::MacAddress), Some("00:50:56:ab:cd:ef"));
    assert!(a.issues.is_empty());

    let a = one(&["Name", "IP"], &["x", "2001:DB8:0:0::0001"]);
    assert_eq!(text(&a, A::IpAddress), Some("2001:db8::1"));

    let a = one(&["Name", "IP"], &["x", "10.0.0.1, 10.0.0.2"]);
    assert_eq!(text(&a, A::IpAddress), Some("10.0.0.1"));
    assert_eq!(codes(&a), ["multiple_values"]);
    assert_eq!(
        a.custom.get("additional_ip_addresses"),
        Some(&Value::List(vec!["10.0.0.2".into()]))
    );

    let a = one(&["Name", "IP"], &["x", "10.0.0.999"]);
    assert_eq!(a.get(A::IpAddress), None);
    assert_eq!(codes(&a), ["invalid_ip"]);

    let a = one(
        &["Name", "MAC"],
        &["x", "aabb.ccdd.eeff; 00:11:22:33:44:55"],
    );
    assert_eq!(text(&a, A::MacAddress), Some("aa:bb:cc:dd:ee:ff"));
    assert_eq!(codes(&a), ["multiple_values"]);

    let a = one(&["Name", "MAC"], &["x", "00:11:22:33"]);
    assert_eq!(codes(&a), ["invalid_mac"]);
}

#[test]
fn text_values_are_truncated_never_rejected() {
    let long = "h".repeat(300);
    let a = one(
        &["Host Name", "Operating System"],
        &[&long, &format!("Windows {}", "x".repeat(80))],
    );
    assert!(!a.is_rejected());
    assert_eq!(text(&a, A::Hostname).map(str::len), Some(255));
    assert!(a.has_issue(IssueCode::ValueTruncated));
    assert_eq!(
        text(&a, A::OsVersion).map(|v| v.chars().count() <= 50),
        Some(true)
    );

    let a = one(
        &["Name", "App Owner", "Notes"],
        &["  web\t01\u{0}  ", "N/A", "line1\r\nline2"],
    );
    assert_eq!(text(&a, A::AssetName), Some("web 01"));
    assert_eq!(a.get(A::BusinessOwner), None);
    assert_eq!(a.custom.get("note"), None);
    assert_eq!(
        a.custom.get("notes"),
        Some(&Value::Text("line1 line2".into()))
    );

    let huge = "d".repeat(5000);
    let a = one(&["Name", "Description"], &["x", &huge]);
    let Some(Value::Text(d)) = a.custom.get("description") else {
        panic!("description kept");
    };
    assert_eq!(d.len(), 4096);
    assert_eq!(codes(&a), ["value_truncated"]);

    let a = one(
        &["Name", "Technology Stack", "Dependencies"],
        &["x", "Java, Tomcat; Oracle", "app-a|app-b"],
    );
    assert_eq!(
        a.get(A::TechnologyStack),
        Some(&Value::List(vec![
            "Java".into(),
            "Tomcat".into(),
            "Oracle".into()
        ]))
    );
    assert_eq!(
        a.get(A::Dependencies),
        Some(&Value::List(vec!["app-a".into(), "app-b".into()]))
    );
}

#[test]
fn naming_the_asset() {
    let a = one(&["IP Address", "Env"], &["", "prod"]);
    assert!(a.is_rejected());
    assert_eq!(codes(&a), ["missing_asset_name"]);
    assert_eq!(a.issues[0].severity, Severity::Error);

    let a = one(&["Host Name", "Env"], &["WEB01.corp.example.com", "prod"]);
    assert!(!a.is_rejected());
    assert_eq!(text(&a, A::Hostname), Some("WEB01"));
    assert_eq!(text(&a, A::Fqdn), Some("WEB01.corp.example.com"));
    assert_eq!(text(&a, A::AssetName), Some("WEB01"));
    assert_eq!(codes(&a), ["asset_name_derived"]);

    let a = one(&["IP", "Env"], &["10.1.1.1", "prod"]);
    assert_eq!(text(&a, A::AssetName), Some("10.1.1.1"));
    let a = one(&["Application Name"], &["Orders"]);
    assert_eq!(text(&a, A::AssetName), Some("Orders"));
}

/// The Konveyor sample with over-long descriptions: every row is kept.
#[test]
fn konveyor_long_descriptions_lose_no_row() {
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/samples/konveyor/tackle2-ui__desc_comments_char_limit_rows.csv"
    ));
    let content = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "sample {} missing ({e}): shared/samples must sit beside the repository",
            path.display()
        )
    });
    let mut lines = content.lines();
    let headers: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows: Vec<Vec<Option<String>>> = lines
        .map(|l| {
            l.split(',')
                .map(|v| (!v.is_empty()).then(|| v.to_string()))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2);
    let m = propose(&headers, &rows, &Hints::default());
    let cleanser = Cleanser::new(&m);
    for (i, values) in rows.into_iter().enumerate() {
        let a = cleanser.cleanse(&Record {
            table: "apps".into(),
            row: i as u64 + 2,
            values,
        });
        assert!(!a.is_rejected(), "{:?}", a.issues);
        assert!(text(&a, A::AssetName).unwrap().starts_with("Import-app-"));
        // Description (row 2) or Comments (row 3) holds 624 characters, kept whole.
        assert!(
            a.custom
                .values()
                .any(|v| matches!(v, Value::Text(d) if d.len() == 624))
        );
    }
}

fn server() -> CleansedAsset {
    one(
        &[
            "sys_id",
            "Server Name",
            "FQDN",
            "IP Address",
            "MAC Address",
            "Operating System",
            "Env",
            "Criticality",
            "vCPU",
            "RAM (GB)",
            "Disk (GB)",
            "App Owner",
            "Application",
        ],
        &[
            "9d385017c611228701d22104cc95c371",
            "Web 01",
            "Web01.Corp.Example.com.",
            "10.0.0.5",
            "00-50-56-AB-CD-EF",
            "RHEL 8",
            "prod",
            "Tier 1",
            "4",
            "16",
            "100",
            "Jane Doe",
            "Orders",
        ],
    )
}

#[test]
fn identity_keys_in_precedence_order() {
    let a = server();
    let keys = identity_keys(&a, Some("ServiceNow"));
    let got: Vec<(KeyKind, &str)> = keys.iter().map(|k| (k.kind, k.value.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                KeyKind::SourceId,
                "servicenow:9d385017c611228701d22104cc95c371"
            ),
            (KeyKind::Fqdn, "web01.corp.example.com"),
            (KeyKind::Hostname, "web01"),
            (KeyKind::IpAddress, "10.0.0.5"),
            (KeyKind::MacAddress, "00:50:56:ab:cd:ef"),
            (KeyKind::Name, "web 01"),
        ]
    );
    let mut sorted = keys.clone();
    sorted.sort_by_key(|k| k.kind);
    assert_eq!(sorted, keys);

    // A name that is an FQDN gives FQDN and host name keys; loopback IPs give none.
    let a = one(&["VM", "IP"], &["DB02.example.org", "127.0.0.1"]);
    let got: Vec<(KeyKind, String)> = identity_keys(&a, None)
        .into_iter()
        .map(|k| (k.kind, k.value))
        .collect();
    assert_eq!(
        got,
        vec![
            (KeyKind::Fqdn, "db02.example.org".to_string()),
            (KeyKind::Hostname, "db02".to_string()),
            (KeyKind::Name, "db02.example.org".to_string()),
        ]
    );
}

#[test]
fn embedder_is_deterministic_unit_length_and_meaningful() {
    let v = embed::embed("Server Name");
    assert_eq!(v.len(), EMBEDDING_DIM);
    let norm: f64 = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    assert!((norm - 1.0).abs() < 1e-6);
    assert_eq!(v, embed::embed("Server Name"));
    // Fixed values: a change of the algorithm must be deliberate.
    assert_eq!(embed::fnv1a(b"hello"), 0xa430_d846_80aa_bd0b);
    let nonzero: Vec<(usize, f32)> = v
        .iter()
        .enumerate()
        .filter(|(_, x)| **x != 0.0)
        .take(6)
        .map(|(i, x)| (i, (x * 1e4).round() / 1e4))
        .collect();
    assert_eq!(nonzero, EXPECTED_FIRST_NONZERO);

    let sim = |a: &str, b: &str| embed::cosine(&embed::embed(a), &embed::embed(b));
    assert!((sim("Server Name", "server_name") - 1.0).abs() < 1e-6);
    assert!((sim("Server Name", "ServerName") - 1.0).abs() < 1e-6);
    assert!(sim("SERVERNAME", "Server Name") > 0.5);
    assert!(sim("Server Name", "Srv Name") > sim("Server Name", "Memory (MB)"));
    assert!(sim("Server Name", "Server Hostname") > sim("Server Name", "Annual Cost (USD)"));
    assert!(sim("IP Address", "Primary IP Address") > sim("IP Address", "Operating System"));
    assert_eq!(embed::embed(" - ").iter().filter(|x| **x != 0.0).count(), 0);
}

/// "Server Name": 2 words (weight 1) and 20 trigrams (weight 0.5), no collisions, so every
/// trigram dimension is ±0.5/√7.
const EXPECTED_FIRST_NONZERO: [(usize, f32); 6] = [
    (1, 0.189),
    (170, 0.189),
    (184, 0.189),
    (187, 0.189),
    (322, -0.189),
    (326, 0.189),
];

#[test]
fn scores_on_example_assets() {
    let a = server();
    let c = score::completeness(&a);
    // Server requirements: 11; all met (owner via App Owner).
    assert_eq!(c.score, 1.0, "missing {:?}", c.missing);
    // Mapping confidences are all ≥ 0.9 and no warnings.
    let conf = score::confidence(&a, 1);
    assert!(conf > 0.9 && conf <= 1.0, "{conf}");
    assert!(score::confidence(&a, 2) >= conf);

    let sparse = one(&["Server Name", "Memory"], &["web02", "8192"]);
    let c = score::completeness(&sparse);
    // Named (1) and memory (1) of 11.
    assert_eq!(c.score, 0.182);
    assert!(c.missing.contains(&"hostname|fqdn|ip_address".to_string()));
    // One warning (unit_assumed) lowers confidence by 5%.
    assert_eq!(score::confidence(&sparse, 1), 0.903);

    let app = one(
        &["Application Name", "Asset Type", "Env", "Owner"],
        &["Orders", "application", "prod", "Jane"],
    );
    let c = score::completeness(&app);
    // Application requirements: 9; name (derived), environment and owner are met.
    assert_eq!(c.score, round3(3.0 / 9.0));

    let rejected = one(&["Env"], &["prod"]);
    assert_eq!(score::confidence(&rejected, 3), 0.0);

    assert_eq!(score::confidence_from(&[0.8, 0.6], 0, 1), 0.7);
    assert_eq!(score::confidence_from(&[0.8, 0.6], 0, 2), 0.91);
    assert_eq!(score::confidence_from(&[0.8, 0.6], 10, 1), 0.49);
    assert_eq!(score::confidence_from(&[], 0, 1), 0.0);
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[test]
fn custom_targets_and_ignore_pass_through() {
    // A blank header with no sampled values is ignored; with values it is kept.
    let m = mapping(&["Name", "Colour", ""]);
    assert_eq!(m[2].target, Target::Ignore);
    let a = cleanse(&m, &record(&["x", "blue", "junk"]));
    assert_eq!(a.custom.len(), 1);
    let headers = vec!["Name".to_string(), "Colour".to_string(), String::new()];
    let samples = vec![vec![None, None, Some("junk".to_string())]];
    let m = propose(&headers, &samples, &Hints::default());
    assert_eq!(m[1].target, Target::Custom("colour".into()));
    let a = cleanse(&m, &record(&["x", "blue", "junk"]));
    assert_eq!(a.custom.get("colour"), Some(&Value::Text("blue".into())));
    assert_eq!(a.custom.get("column_3"), Some(&Value::Text("junk".into())));
}
