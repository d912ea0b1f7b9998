//! The asset attributes a source column can map to: the columns of `migration.assets` that
//! carry imported facts, plus dependency information. A column that maps to none of them is
//! kept as a custom attribute (in `raw_data`) or ignored.

use serde::{Deserialize, Serialize};

/// What kind of value an attribute holds, for cleansing and type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text {
        max_len: usize,
    },
    Integer,
    /// A size or amount normalised to GB.
    SizeGb,
    Percent,
    Enumeration(&'static [&'static str]),
    IpAddress,
    MacAddress,
    /// A list of other assets this one depends on.
    DependencyList,
    /// A list of technologies.
    TextList,
}

macro_rules! attributes {
    ($( $variant:ident => $name:literal, $kind:expr, $doc:literal; )*) => {
        /// A target attribute of an asset.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum AssetAttribute { $( #[doc = $doc] $variant, )* }

        impl AssetAttribute {
            /// Every attribute, in a stable order.
            pub const ALL: &'static [AssetAttribute] = &[$(AssetAttribute::$variant,)*];

            /// The column name in `migration.assets` (and the name in APIs).
            pub fn as_str(self) -> &'static str {
                match self { $(AssetAttribute::$variant => $name,)* }
            }

            /// What values it holds.
            pub fn kind(self) -> ValueKind {
                match self { $(AssetAttribute::$variant => $kind,)* }
            }

            /// One line for people (mapping review screens, reports).
            pub fn description(self) -> &'static str {
                match self { $(AssetAttribute::$variant => $doc,)* }
            }
        }
    };
}

/// Enumerations of `migration.assets` (CHECK constraints of the schema).
pub const ASSET_TYPES: &[&str] = &[
    "server",
    "application",
    "database",
    "service",
    "network",
    "storage",
];
pub const ENVIRONMENTS: &[&str] = &["production", "staging", "development", "test", "dr"];
pub const CRITICALITIES: &[&str] = &["critical", "high", "medium", "low"];
pub const SIX_R: &[&str] = &[
    "rehost",
    "replatform",
    "refactor",
    "repurchase",
    "retire",
    "retain",
];

attributes! {
    AssetName => "asset_name", ValueKind::Text { max_len: 255 }, "Name of the asset (server, VM, application).";
    AssetType => "asset_type", ValueKind::Enumeration(ASSET_TYPES), "Kind of asset: server, application, database, service, network or storage.";
    AssetSubtype => "asset_subtype", ValueKind::Text { max_len: 100 }, "Finer kind, e.g. virtual machine, physical, web server.";
    SourceId => "source_id", ValueKind::Text { max_len: 255 }, "Identifier of the asset in the source system (CMDB sys_id, VM UUID).";
    Hostname => "hostname", ValueKind::Text { max_len: 255 }, "Host name, without domain.";
    Fqdn => "fqdn", ValueKind::Text { max_len: 255 }, "Fully qualified domain name.";
    IpAddress => "ip_address", ValueKind::IpAddress, "Primary IP address (IPv4 or IPv6).";
    MacAddress => "mac_address", ValueKind::MacAddress, "Primary MAC address.";
    OsType => "os_type", ValueKind::Text { max_len: 50 }, "Operating system family, e.g. windows, linux.";
    OsVersion => "os_version", ValueKind::Text { max_len: 50 }, "Operating system name and version.";
    Environment => "environment", ValueKind::Enumeration(ENVIRONMENTS), "Environment: production, staging, development, test or dr.";
    Datacenter => "datacenter", ValueKind::Text { max_len: 100 }, "Data centre or site.";
    Region => "region", ValueKind::Text { max_len: 50 }, "Region.";
    AvailabilityZone => "availability_zone", ValueKind::Text { max_len: 50 }, "Availability zone.";
    RackLocation => "rack_location", ValueKind::Text { max_len: 50 }, "Rack or cluster location.";
    ApplicationName => "application_name", ValueKind::Text { max_len: 255 }, "Application the asset belongs to or runs.";
    ApplicationVersion => "application_version", ValueKind::Text { max_len: 50 }, "Version of the application.";
    TechnologyStack => "technology_stack", ValueKind::TextList, "Technologies (languages, middleware, databases).";
    Dependencies => "dependencies", ValueKind::DependencyList, "Other assets this asset depends on.";
    BusinessUnit => "business_unit", ValueKind::Text { max_len: 100 }, "Owning business unit or department.";
    BusinessOwner => "business_owner", ValueKind::Text { max_len: 255 }, "Business owner.";
    TechnicalOwner => "technical_owner", ValueKind::Text { max_len: 255 }, "Technical owner or support group.";
    BusinessCriticality => "business_criticality", ValueKind::Enumeration(CRITICALITIES), "Criticality: critical, high, medium or low.";
    CpuCores => "cpu_cores", ValueKind::Integer, "Number of CPU cores (vCPUs).";
    MemoryGb => "memory_gb", ValueKind::SizeGb, "Memory in GB.";
    StorageGb => "storage_gb", ValueKind::SizeGb, "Storage in GB (provisioned or total disk).";
    CpuUtilizationPercent => "cpu_utilization_percent", ValueKind::Percent, "CPU utilisation, percent.";
    MemoryUtilizationPercent => "memory_utilization_percent", ValueKind::Percent, "Memory utilisation, percent.";
    SixRStrategy => "six_r_strategy", ValueKind::Enumeration(SIX_R), "6R strategy if already decided.";
    MigrationComplexity => "migration_complexity", ValueKind::Text { max_len: 20 }, "Migration complexity if known.";
    MigrationPriority => "migration_priority", ValueKind::Integer, "Migration priority.";
    MigrationWave => "migration_wave", ValueKind::Integer, "Planned migration wave number.";
}

impl AssetAttribute {
    pub fn parse(name: &str) -> Option<AssetAttribute> {
        AssetAttribute::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = AssetAttribute::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AssetAttribute::ALL.len());
        for a in AssetAttribute::ALL {
            assert_eq!(AssetAttribute::parse(a.as_str()), Some(*a));
            assert!(!a.description().is_empty());
        }
    }
}
