//! Layouts without a vendor: a generic CMDB/server inventory (recognised by common inventory
//! concepts in its headers) and the generic table (anything else). Neither carries a column
//! mapping: the field-mapping step proposes one.

use super::{Detection, DetectionKind, LayoutId, TableHeaders, find, normalize};

/// Inventory concepts and their usual header spellings.
const CONCEPTS: &[(&str, &[&str])] = &[
    (
        "name",
        &[
            "hostname",
            "host name",
            "server name",
            "servername",
            "asset name",
            "ci name",
            "computer name",
            "machine name",
            "device name",
            "vm name",
            "vm",
            "name",
            "server",
        ],
    ),
    (
        "ip address",
        &[
            "ip address",
            "ip",
            "ipv4",
            "ipv4 address",
            "primary ip",
            "ip addresses",
        ],
    ),
    (
        "operating system",
        &[
            "operating system",
            "os",
            "os name",
            "os type",
            "os version",
            "platform",
        ],
    ),
    (
        "cpu",
        &[
            "cpu",
            "cpus",
            "vcpu",
            "vcpus",
            "cores",
            "cpu cores",
            "cpu count",
            "num cpu",
            "processors",
        ],
    ),
    (
        "memory",
        &[
            "memory",
            "ram",
            "memory gb",
            "ram gb",
            "memory mb",
            "ram mb",
            "memory (gb)",
            "ram (gb)",
        ],
    ),
    (
        "storage",
        &[
            "storage",
            "disk",
            "disk gb",
            "storage gb",
            "disk size",
            "disk (gb)",
            "storage (gb)",
        ],
    ),
    ("environment", &["environment", "env", "tier"]),
    (
        "owner",
        &[
            "owner",
            "business owner",
            "technical owner",
            "application owner",
            "support group",
        ],
    ),
    (
        "application",
        &["application", "application name", "app", "app name"],
    ),
    (
        "location",
        &["datacenter", "data center", "location", "site", "region"],
    ),
    ("criticality", &["criticality", "business criticality"]),
    (
        "asset type",
        &["asset type", "type", "ci type", "class", "category"],
    ),
    ("fqdn", &["fqdn", "dns name", "domain"]),
    ("mac address", &["mac address", "mac"]),
];

/// How many concepts make a full generic match.
const FULL_MATCH: f64 = 6.0;
/// Upper bound of the generic CMDB confidence.
const MAX_CONFIDENCE: f64 = 0.7;
/// Confidence of the generic table fallback.
pub const GENERIC_TABLE_CONFIDENCE: f64 = 0.1;

/// Scores the best table as a generic CMDB: `min(concepts found / 6, 1) × 0.7`.
pub(crate) fn detect_cmdb(tables: &[&TableHeaders]) -> Option<Detection> {
    tables
        .iter()
        .map(|t| {
            let normalized: Vec<String> = t.headers.iter().map(|h| normalize(h)).collect();
            let (mut found, mut missing) = (Vec::new(), Vec::new());
            for (concept, names) in CONCEPTS {
                if find(&normalized, names).is_some() {
                    found.push(concept.to_string());
                } else {
                    missing.push(concept.to_string());
                }
            }
            let confidence = (found.len() as f64 / FULL_MATCH).min(1.0) * MAX_CONFIDENCE;
            Detection {
                layout: LayoutId::GenericCmdb,
                kind: DetectionKind::Assets,
                confidence,
                table: t.name.clone(),
                related_tables: Vec::new(),
                signature_found: found,
                signature_missing: missing,
                mapping: Vec::new(),
                notes: Vec::new(),
            }
        })
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
}

/// The fallback for any table.
pub(crate) fn generic_table(table: &TableHeaders) -> Detection {
    Detection {
        layout: LayoutId::GenericTable,
        kind: DetectionKind::Assets,
        confidence: GENERIC_TABLE_CONFIDENCE,
        table: table.name.clone(),
        related_tables: Vec::new(),
        signature_found: Vec::new(),
        signature_missing: Vec::new(),
        mapping: Vec::new(),
        notes: Vec::new(),
    }
}
