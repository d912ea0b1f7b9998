//! Azure Migrate: the server import CSV and the agentless dependency export.

use super::{DetectionKind, LayoutId, MappingTarget, RelationField as R, Rule, Spec, attr, to};
use crate::attributes::AssetAttribute as A;

/// Server import: `*Server name, IP addresses, *Cores, *Memory (In MB), *OS name, ...`
/// (mandatory columns carry a `*`, ignored when matching; disks 1..8).
pub(crate) const IMPORT: Spec = Spec {
    layout: LayoutId::AzureMigrateImport,
    kind: DetectionKind::Assets,
    signature: &[
        (&["Server name"], 2.0),
        (&["IP addresses"], 1.0),
        (&["Cores"], 1.0),
        (&["Memory (In MB)"], 2.0),
        (&["OS name"], 1.0),
        (&["OS version"], 1.0),
        (&["OS architecture"], 1.0),
        (&["Server type"], 1.0),
        (&["Hypervisor"], 1.0),
        (&["CPU utilization percentage"], 1.0),
        (&["Memory utilization percentage"], 1.0),
        (&["Number of disks"], 1.0),
        (&["Disk # size (In GB)"], 2.0),
    ],
    rules: &IMPORT_RULES,
};

const IMPORT_RULES: [Rule; 9] = [
    attr(&["Server name"], A::AssetName),
    attr(&["IP addresses"], A::IpAddress),
    attr(&["Cores"], A::CpuCores),
    attr(&["Memory (In MB)"], A::MemoryGb).size("MB", super::MIB),
    attr(&["OS name"], A::OsType),
    attr(&["OS version"], A::OsVersion),
    attr(&["CPU utilization percentage"], A::CpuUtilizationPercent),
    attr(
        &["Memory utilization percentage"],
        A::MemoryUtilizationPercent,
    ),
    attr(&["Disk # size (In GB)"], A::StorageGb)
        .size("GB", 1.0)
        .sum(),
];

/// Dependency export: one row per connection seen in a time slot.
pub(crate) const DEPENDENCIES: Spec = Spec {
    layout: LayoutId::AzureMigrateDependencies,
    kind: DetectionKind::Dependencies,
    signature: &[
        (&["Timeslot"], 1.0),
        (&["Source server name"], 2.0),
        (&["Source application"], 1.0),
        (&["Source process"], 1.0),
        (&["Destination server name"], 2.0),
        (&["Destination IP"], 1.0),
        (&["Destination application"], 1.0),
        (&["Destination process"], 1.0),
        (&["Destination port"], 1.0),
    ],
    rules: &DEPENDENCY_RULES,
};

const DEPENDENCY_RULES: [Rule; 9] = [
    to(&["Timeslot"], MappingTarget::Relation(R::Timestamp)),
    to(&["Source server name"], MappingTarget::Relation(R::Source)),
    to(
        &["Source application"],
        MappingTarget::Relation(R::SourceApplication),
    ),
    to(
        &["Source process"],
        MappingTarget::Relation(R::SourceProcess),
    ),
    to(
        &["Destination server name"],
        MappingTarget::Relation(R::Target),
    ),
    to(&["Destination IP"], MappingTarget::Relation(R::TargetIp)),
    to(
        &["Destination application"],
        MappingTarget::Relation(R::TargetApplication),
    ),
    to(
        &["Destination process"],
        MappingTarget::Relation(R::TargetProcess),
    ),
    to(&["Destination port"], MappingTarget::Relation(R::Port)),
];
