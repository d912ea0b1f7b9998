//! Google Cloud Migration Center manual import CSVs (vmInfo, diskInfo, perfInfo, tagInfo),
//! joined by `MachineId`: the layouts, and the columns the companion tables are folded into
//! per machine (by [`super::gcp_join`]).

use super::join::Agg;
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

/// The join key of every Google Migration Center table.
pub const MACHINE_ID: &str = "MachineId";
pub const DISK_COUNT: &str = "diskInfo.Disks";
pub const DISK_TOTAL_GIB: &str = "diskInfo.Total size GiB";
pub const CPU_AVERAGE: &str = "perfInfo.CPU utilization % (average)";
pub const AVAILABLE_MEMORY_AVERAGE: &str = "perfInfo.Available memory bytes (average)";
pub const AVAILABLE_MEMORY_LOWEST: &str = "perfInfo.Available memory bytes (lowest)";
pub const MEMORY_AVERAGE: &str = "perfInfo.Memory utilization % (average)";
pub const MEMORY_PEAK: &str = "perfInfo.Memory utilization % (peak)";
/// Prefix of the tag columns (`tagInfo.<Key>`).
pub const TAG_PREFIX: &str = "tagInfo.";
/// Most tag keys joined; the values of further keys are left out (and the import says so).
pub const MAX_TAG_KEYS: usize = 1000;

/// The memory utilisation columns and the available-memory column each is computed from.
pub const MEMORY_UTILIZATION: &[(&str, &str)] = &[
    (MEMORY_AVERAGE, AVAILABLE_MEMORY_AVERAGE),
    (MEMORY_PEAK, AVAILABLE_MEMORY_LOWEST),
];

/// Where a joined column goes.
#[derive(Clone, Copy)]
pub(crate) enum Goes {
    /// An asset attribute (with the factor to GB for sizes).
    Attribute(A, Option<f64>),
    /// A custom attribute of that name.
    Custom(&'static str),
}

/// A joined column of a companion table: name, source column spellings (none: counts rows),
/// aggregation, target.
pub(crate) type Column = (&'static str, &'static [&'static str], Agg, Goes);

pub(crate) const DISK_COLUMNS: &[Column] = &[
    (DISK_COUNT, &[], Agg::Count, Goes::Custom("disk_count")),
    (
        DISK_TOTAL_GIB,
        &["SizeInGib"],
        Agg::Sum,
        Goes::Attribute(A::StorageGb, Some(1.0)),
    ),
    (
        "diskInfo.Total used GiB",
        &["UsedInGib"],
        Agg::Sum,
        Goes::Custom("disk_used_gib"),
    ),
];

pub(crate) const PERF_COLUMNS: &[Column] = &[
    (
        "perfInfo.Samples",
        &[],
        Agg::Count,
        Goes::Custom("performance_samples"),
    ),
    (
        CPU_AVERAGE,
        &["CpuUtilizationPercentage"],
        Agg::Mean,
        Goes::Attribute(A::CpuUtilizationPercent, None),
    ),
    (
        "perfInfo.CPU utilization % (peak)",
        &["CpuUtilizationPercentage"],
        Agg::Max,
        Goes::Custom("cpu_utilization_peak_percent"),
    ),
    (
        AVAILABLE_MEMORY_AVERAGE,
        &["AvailableMemoryBytes"],
        Agg::Mean,
        Goes::Custom("available_memory_average_bytes"),
    ),
    (
        AVAILABLE_MEMORY_LOWEST,
        &["AvailableMemoryBytes"],
        Agg::Min,
        Goes::Custom("available_memory_lowest_bytes"),
    ),
    (
        "perfInfo.Disk read operations/s (average)",
        &["DiskReadOperationsPerSec"],
        Agg::Mean,
        Goes::Custom("disk_read_operations_per_second_average"),
    ),
    (
        "perfInfo.Disk write operations/s (average)",
        &["DiskWriteOperationsPerSec"],
        Agg::Mean,
        Goes::Custom("disk_write_operations_per_second_average"),
    ),
    (
        "perfInfo.Network bytes/s sent (average)",
        &["NetworkBytesPerSecSent"],
        Agg::Mean,
        Goes::Custom("network_bytes_per_second_sent_average"),
    ),
    (
        "perfInfo.Network bytes/s received (average)",
        &["NetworkBytesPerSecReceived"],
        Agg::Mean,
        Goes::Custom("network_bytes_per_second_received_average"),
    ),
];

/// The derived memory utilisation columns (present when a performance table is).
pub(crate) const DERIVED: &[(&str, Goes)] = &[
    (
        MEMORY_AVERAGE,
        Goes::Attribute(A::MemoryUtilizationPercent, None),
    ),
    (MEMORY_PEAK, Goes::Custom("memory_utilization_peak_percent")),
];
