//! AWS: the Migration Hub (Application Discovery Service) server import template, and the
//! Migration Evaluator consolidated data import template.

use super::{DetectionKind, LayoutId, MIB, MappingTarget, Rule, Spec, attr, to};
use crate::attributes::AssetAttribute as A;

/// Migration Hub import: `ExternalId, SMBiosId, IPAddress, ..., RAM.TotalSizeInMB, ...`.
pub(crate) const MIGRATION_HUB: Spec = Spec {
    layout: LayoutId::AwsMigrationHub,
    kind: DetectionKind::Assets,
    signature: &[
        (&["ExternalId"], 2.0),
        (&["SMBiosId"], 1.0),
        (&["IPAddress"], 1.0),
        (&["HostName"], 1.0),
        (&["VMware.MoRefId"], 1.0),
        (&["VMware.VMName"], 1.0),
        (&["CPU.NumberOfCores", "CPU.NumberOfProcessors"], 2.0),
        (&["OS.Name"], 2.0),
        (&["OS.Version"], 1.0),
        (&["RAM.TotalSizeInMB"], 2.0),
        (&["CPU.UsagePct.Avg", "CPU.UsagePct.Max"], 1.0),
        (&["RAM.UsedSizeInMB.Avg", "RAM.UsedSizeInMB.Max"], 1.0),
    ],
    rules: &HUB_RULES,
};

const HUB_RULES: [Rule; 14] = [
    attr(&["ExternalId"], A::SourceId),
    attr(&["VMware.VMName"], A::AssetName),
    attr(&["HostName"], A::Hostname),
    attr(&["IPAddress"], A::IpAddress),
    attr(&["MACAddress"], A::MacAddress),
    attr(&["CPU.NumberOfCores"], A::CpuCores),
    attr(&["CPU.NumberOfLogicalCores"], A::CpuCores).prio(1),
    attr(&["OS.Name"], A::OsType),
    attr(&["OS.Version"], A::OsVersion),
    attr(&["RAM.TotalSizeInMB"], A::MemoryGb).size("MB", MIB),
    attr(&["CPU.UsagePct.Avg"], A::CpuUtilizationPercent),
    attr(&["Applications"], A::ApplicationName),
    attr(&["ApplicationWave"], A::MigrationWave),
    to(&["Tags"], MappingTarget::Custom),
];

/// Migration Evaluator: `Server Name, CPU Cores, Memory (MB), Provisioned Storage (GB), ...`.
pub(crate) const MIGRATION_EVALUATOR: Spec = Spec {
    layout: LayoutId::AwsMigrationEvaluator,
    kind: DetectionKind::Assets,
    signature: &[
        (&["Server Name"], 2.0),
        (&["CPU Cores"], 1.0),
        (&["Memory (MB)"], 1.0),
        (&["Provisioned Storage (GB)"], 2.0),
        (&["Operating System"], 1.0),
        (&["Is Virtual?"], 1.0),
        (&["Hypervisor Name"], 1.0),
        (&["Cpu String"], 1.0),
        (&["Cpu Utilization Peak (%)"], 1.0),
        (&["Memory Utilization Peak (%)"], 1.0),
        (&["Time In-Use (%)"], 1.0),
        (&["Annual Cost (USD)"], 1.0),
    ],
    rules: &EVALUATOR_RULES,
};

const EVALUATOR_RULES: [Rule; 9] = [
    attr(&["Server Name"], A::AssetName),
    attr(&["CPU Cores"], A::CpuCores),
    attr(&["Memory (MB)"], A::MemoryGb).size("MB", MIB),
    attr(&["Provisioned Storage (GB)"], A::StorageGb).size("GB", 1.0),
    attr(&["Operating System"], A::OsVersion),
    attr(&["Environment"], A::Environment),
    attr(&["Application"], A::ApplicationName),
    attr(&["Cpu Utilization Peak (%)"], A::CpuUtilizationPercent),
    attr(
        &["Memory Utilization Peak (%)"],
        A::MemoryUtilizationPercent,
    ),
];
