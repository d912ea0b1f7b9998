//! Google Cloud Migration Center manual import CSVs (vmInfo, diskInfo, perfInfo, tagInfo),
//! joined by `MachineId`.

use super::{DetectionKind, LayoutId, MappingTarget, Rule, Spec, attr, to};
use crate::attributes::AssetAttribute as A;

pub(crate) const VM: Spec = Spec {
    layout: LayoutId::GcpMigrationCenterVm,
    kind: DetectionKind::Assets,
    signature: &[
        (&["MachineId"], 2.0),
        (&["MachineName"], 2.0),
        (&["PrimaryIPAddress"], 1.0),
        (&["PrimaryMACAddress"], 1.0),
        (&["PublicIPAddress"], 1.0),
        (&["IpAddressListSemiColonDelimited"], 1.0),
        (&["TotalDiskAllocatedGiB"], 1.0),
        (&["TotalDiskUsedGiB"], 1.0),
        (&["MachineTypeLabel"], 1.0),
        (&["AllocatedProcessorCoreCount"], 2.0),
        (&["MemoryGiB"], 2.0),
        (&["HostingLocation"], 1.0),
        (&["OsType"], 1.0),
        (&["OsName"], 1.0),
        (&["OsVersion"], 1.0),
        (&["MachineStatus"], 1.0),
        (&["IsPhysical"], 1.0),
    ],
    rules: &VM_RULES,
};

const VM_RULES: [Rule; 11] = [
    attr(&["MachineId"], A::SourceId),
    attr(&["MachineName"], A::AssetName),
    attr(&["PrimaryIPAddress"], A::IpAddress),
    attr(&["PrimaryMACAddress"], A::MacAddress),
    attr(&["TotalDiskAllocatedGiB"], A::StorageGb).size("GiB", 1.0),
    attr(&["AllocatedProcessorCoreCount"], A::CpuCores),
    attr(&["MemoryGiB"], A::MemoryGb).size("GiB", 1.0),
    attr(&["HostingLocation"], A::Datacenter),
    attr(&["OsType"], A::OsType),
    attr(&["OsName"], A::OsVersion),
    attr(&["OsVersion"], A::OsVersion).prio(1),
];

pub(crate) const DISK: Spec = Spec {
    layout: LayoutId::GcpMigrationCenterDisk,
    kind: DetectionKind::Disks,
    signature: &[
        (&["MachineId"], 2.0),
        (&["DiskLabel"], 1.0),
        (&["SizeInGib"], 2.0),
        (&["UsedInGib"], 1.0),
        (&["StorageTypeLabel"], 1.0),
    ],
    rules: &DISK_RULES,
};

const DISK_RULES: [Rule; 2] = [
    attr(&["MachineId"], A::SourceId),
    attr(&["SizeInGib"], A::StorageGb).size("GiB", 1.0).sum(),
];

pub(crate) const PERF: Spec = Spec {
    layout: LayoutId::GcpMigrationCenterPerf,
    kind: DetectionKind::Performance,
    signature: &[
        (&["MachineId"], 2.0),
        (&["TimeStamp"], 1.0),
        (&["CpuUtilizationPercentage"], 2.0),
        (&["AvailableMemoryBytes"], 1.0),
        (&["DiskReadOperationsPerSec"], 1.0),
        (&["DiskWriteOperationsPerSec"], 1.0),
        (&["NetworkBytesPerSecSent"], 1.0),
        (&["NetworkBytesPerSecReceived"], 1.0),
    ],
    rules: &PERF_RULES,
};

const PERF_RULES: [Rule; 3] = [
    attr(&["MachineId"], A::SourceId),
    attr(&["CpuUtilizationPercentage"], A::CpuUtilizationPercent),
    to(&["AvailableMemoryBytes"], MappingTarget::Custom).unit("bytes"),
];

pub(crate) const TAGS: Spec = Spec {
    layout: LayoutId::GcpMigrationCenterTags,
    kind: DetectionKind::Tags,
    signature: &[(&["MachineId"], 2.0), (&["Key"], 1.0), (&["Value"], 1.0)],
    rules: &TAG_RULES,
};

const TAG_RULES: [Rule; 3] = [
    attr(&["MachineId"], A::SourceId),
    to(&["Key"], MappingTarget::TagKey),
    to(&["Value"], MappingTarget::TagValue),
];
