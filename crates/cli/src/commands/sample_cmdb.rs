//! A generated CMDB export: the inventory of `modernize bench import` and of the demo
//! engagement created on first start. Deterministic: the same number of rows gives the same
//! file.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The columns of the generated export.
pub const HEADERS: &[&str] = &[
    "CI ID",
    "Host Name",
    "FQDN",
    "IP Address",
    "MAC Address",
    "Operating System",
    "OS Version",
    "Environment",
    "Business Criticality",
    "CPU Cores",
    "Memory (MB)",
    "Storage (GB)",
    "Application",
    "Owner",
    "Location",
    "Depends On",
];

/// A small deterministic generator (SplitMix64): the same N gives the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Writes a CMDB export of `rows` servers: unique names, addresses and CI ids; operating
/// systems, environments and criticalities in realistic proportions; every tenth server
/// depends on an earlier one. Returns the file size.
pub fn generate(path: &Path, rows: u64) -> anyhow::Result<u64> {
    const OS: &[(&str, &[&str])] = &[
        ("Microsoft Windows Server 2019 Standard", &["10.0.17763"]),
        ("Microsoft Windows Server 2016 Datacenter", &["10.0.14393"]),
        ("Red Hat Enterprise Linux 8", &["8.6", "8.8"]),
        ("Red Hat Enterprise Linux 7", &["7.9"]),
        ("Ubuntu 20.04 LTS", &["20.04"]),
        ("SUSE Linux Enterprise Server 15", &["15 SP4"]),
        ("Oracle Linux 7", &["7.9"]),
    ];
    const ENV: &[&str] = &[
        "Production",
        "Production",
        "Production",
        "Development",
        "Test",
        "UAT",
        "DR",
    ];
    const CRIT: &[&str] = &["Critical", "High", "High", "Medium", "Medium", "Low"];
    const APPS: &[&str] = &[
        "Payroll",
        "CRM",
        "Billing",
        "Inventory",
        "HR Portal",
        "Data Warehouse",
        "Intranet",
        "Order Hub",
        "Claims",
        "Reporting",
    ];
    const OWNERS: &[&str] = &["Infra Team", "App Support", "DBA Team", "Finance IT"];
    const SITES: &[&str] = &["DC1 Frankfurt", "DC2 Dublin", "DC3 Ashburn"];
    const MEM: &[&str] = &["4096", "8192", "16384", "32768", "65536"];
    const DISK: &[&str] = &["80", "120", "250", "500", "1000", "2000"];
    const CPU: &[&str] = &["2", "4", "8", "16", "32"];

    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::with_capacity(1 << 20, file));
    out.write_record(HEADERS)?;
    let mut rng = Rng(0x5eed);
    for i in 0..rows {
        let name = format!("srv{i:07}");
        let (os, versions) = OS[(rng.next() % OS.len() as u64) as usize];
        let depends = if i >= 10 && i % 10 == 0 {
            format!("srv{:07}", rng.next() % i)
        } else {
            String::new()
        };
        out.write_record([
            format!("CI{:09}", i + 1).as_str(),
            name.as_str(),
            format!("{name}.corp.example.com").as_str(),
            format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255).as_str(),
            format!(
                "00:50:56:{:02x}:{:02x}:{:02x}",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            )
            .as_str(),
            os,
            rng.pick(versions),
            rng.pick(ENV),
            rng.pick(CRIT),
            rng.pick(CPU),
            rng.pick(MEM),
            rng.pick(DISK),
            rng.pick(APPS),
            rng.pick(OWNERS),
            rng.pick(SITES),
            depends.as_str(),
        ])?;
    }
    let mut inner = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    inner.flush()?;
    Ok(std::fs::metadata(path)?.len())
}
