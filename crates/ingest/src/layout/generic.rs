//! Layouts without a vendor: a generic CMDB/server inventory (recognised by common inventory
//! concepts in its headers), a generic relationship table (a source and a target column, e.g.
//! a workbook's "Dependencies" sheet), and the generic table (anything else). The inventory
//! and the generic table carry no column mapping: the field-mapping step proposes one.

use super::{
    Detection, DetectionKind, LayoutId, MappingTarget, RelationField as R, TableHeaders, find,
    map_columns, normalize, to,
};

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

/// Source columns of a generic relationship table. Vendor spellings (ServiceNow's
/// `parent`/`child`, Azure Migrate's `Source server name`) are left to their layouts.
const SOURCE: &[&str] = &[
    "source",
    "source server",
    "source host",
    "source hostname",
    "source name",
    "source asset",
    "source ci",
    "source machine",
    "source vm",
    "source app",
    "from",
    "from server",
    "from host",
    "from asset",
    "from application",
    "consumer",
    "caller",
    "dependent",
    "dependent server",
    "dependent application",
];
/// Target columns of a generic relationship table.
const TARGET: &[&str] = &[
    "target",
    "target server",
    "target host",
    "target hostname",
    "target name",
    "target asset",
    "target ci",
    "target machine",
    "target vm",
    "target application",
    "target app",
    "destination",
    "destination server",
    "destination host",
    "destination name",
    "to",
    "to server",
    "to host",
    "to asset",
    "to application",
    "provider",
    "callee",
    "depends on",
];
const PORT: &[&str] = &["port", "target port", "destination port", "dst port"];
const TYPE: &[&str] = &[
    "type",
    "relationship type",
    "relation type",
    "dependency type",
];
const STRENGTH: &[&str] = &["strength", "connection strength"];

/// Confidence of a generic relationship table with a source and a target column; each of a
/// port, type and strength column adds 0.05. Vendor relationship layouts that match well rank
/// above it.
const RELATIONS_CONFIDENCE: f64 = 0.5;

static RELATION_RULES: [super::Rule; 5] = [
    to(SOURCE, MappingTarget::Relation(R::Source)),
    to(TARGET, MappingTarget::Relation(R::Target)),
    to(PORT, MappingTarget::Relation(R::Port)),
    to(TYPE, MappingTarget::Relation(R::Type)),
    to(STRENGTH, MappingTarget::Relation(R::Strength)),
];

/// Recognises the best generic relationship table: one with a source and a target column.
pub(crate) fn detect_relations(tables: &[&TableHeaders]) -> Option<Detection> {
    tables
        .iter()
        .filter_map(|t| {
            let normalized: Vec<String> = t.headers.iter().map(|h| normalize(h)).collect();
            let source = find(&normalized, SOURCE)?;
            let target = find(&normalized, TARGET)?;
            let optional = [PORT, TYPE, STRENGTH]
                .iter()
                .filter(|names| find(&normalized, names).is_some())
                .count();
            let mut mapping = map_columns(&t.headers, &RELATION_RULES);
            // Only the first column of each field takes part; the others are ignored.
            let mut seen = Vec::new();
            for (i, m) in mapping.iter_mut().enumerate() {
                let first = match m.target {
                    MappingTarget::Relation(R::Source) => i == source,
                    MappingTarget::Relation(R::Target) => i == target,
                    MappingTarget::Relation(f) => !seen.contains(&f),
                    _ => true,
                };
                if let MappingTarget::Relation(f) = m.target {
                    if first {
                        seen.push(f);
                    } else {
                        m.target = MappingTarget::Custom;
                    }
                }
            }
            Some(Detection {
                layout: LayoutId::GenericCmdb,
                kind: DetectionKind::Dependencies,
                confidence: RELATIONS_CONFIDENCE + 0.05 * optional as f64,
                table: t.name.clone(),
                related_tables: Vec::new(),
                signature_found: vec![t.headers[source].clone(), t.headers[target].clone()],
                signature_missing: Vec::new(),
                mapping,
                notes: Vec::new(),
            })
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
