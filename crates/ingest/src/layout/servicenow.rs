//! ServiceNow list exports of `cmdb_ci_server` (servers) and `cmdb_rel_ci` (relationships).
//! Exports carry either column names (`ip_address`) or labels (`IP Address`); both normalise
//! to the same text, and the common label spellings are listed where they differ.

use super::{
    DetectionKind, LayoutId, MIB, MappingTarget, RelationField as R, Rule, Spec, attr, to,
};
use crate::attributes::AssetAttribute as A;

pub(crate) const CI_SERVER: Spec = Spec {
    layout: LayoutId::ServicenowCmdbCiServer,
    kind: DetectionKind::Assets,
    signature: &[
        (&["sys_id", "Sys ID"], 2.0),
        (&["sys_class_name", "Class"], 2.0),
        (&["name"], 1.0),
        (&["ip_address"], 1.0),
        (&["fqdn", "Fully qualified domain name"], 1.0),
        (&["host_name"], 1.0),
        (&["os", "Operating System"], 1.0),
        (&["os_version"], 1.0),
        (&["cpu_count"], 1.0),
        (&["ram", "RAM (MB)"], 1.0),
        (&["disk_space", "Disk space (GB)"], 1.0),
        (&["serial_number"], 1.0),
        (&["asset_tag"], 1.0),
        (&["operational_status"], 1.0),
        (&["install_status"], 1.0),
        (&["support_group"], 1.0),
    ],
    rules: &SERVER_RULES,
};

const SERVER_RULES: [Rule; 19] = [
    attr(&["sys_id", "Sys ID"], A::SourceId),
    attr(&["name"], A::AssetName),
    attr(&["sys_class_name", "Class"], A::AssetSubtype),
    attr(&["ip_address"], A::IpAddress),
    attr(&["mac_address"], A::MacAddress),
    attr(&["fqdn", "Fully qualified domain name"], A::Fqdn),
    attr(&["host_name"], A::Hostname),
    attr(&["os", "Operating System"], A::OsType),
    attr(&["os_version"], A::OsVersion),
    attr(&["cpu_count"], A::CpuCores),
    attr(&["cpu_core_count"], A::CpuCores).prio(1),
    attr(&["ram", "RAM (MB)"], A::MemoryGb).size("MB", MIB),
    attr(&["disk_space", "Disk space (GB)"], A::StorageGb).size("GB", 1.0),
    attr(&["environment"], A::Environment),
    attr(&["used_for"], A::Environment).prio(1),
    attr(&["location"], A::Datacenter),
    attr(&["department"], A::BusinessUnit),
    attr(&["owned_by"], A::BusinessOwner),
    attr(&["support_group"], A::TechnicalOwner),
];

pub(crate) const REL_CI: Spec = Spec {
    layout: LayoutId::ServicenowCmdbRelCi,
    kind: DetectionKind::Dependencies,
    signature: &[
        (&["parent"], 2.0),
        (&["child"], 2.0),
        (&["type"], 2.0),
        (&["connection_strength"], 1.0),
        (&["percent_outage"], 1.0),
        (&["port"], 1.0),
    ],
    rules: &REL_RULES,
};

const REL_RULES: [Rule; 6] = [
    to(&["parent"], MappingTarget::Relation(R::Source)),
    to(&["child"], MappingTarget::Relation(R::Target)),
    to(&["type"], MappingTarget::Relation(R::Type)),
    to(
        &["connection_strength"],
        MappingTarget::Relation(R::Strength),
    ),
    to(
        &["percent_outage"],
        MappingTarget::Relation(R::PercentOutage),
    ),
    to(&["port"], MappingTarget::Relation(R::Port)),
];
