//! The tables behind header evidence: synonyms of every attribute (vendor exports and CMDB
//! habits) with their strength, token rules, the abbreviations CMDB exports use, and the words
//! of headers that describe another system. Headers here are written naturally; they are
//! normalised like source headers.

use super::heuristics::Rule;
use crate::attributes::AssetAttribute;
use AssetAttribute as A;

/// Synonyms: (attribute, strength, headers). Headers are normalised like source headers.
#[rustfmt::skip]
pub(super) const SYNONYMS: &[(AssetAttribute, f64, &[&str])] = &[
    (A::AssetName, 0.95, &["asset name", "name", "server name", "vm name", "vm", "machine name", "computer name", "device name", "ci name", "display name", "vmware vm name", "instance name", "system name", "node name", "resource name", "virtual machine", "virtual machine name", "server"]),
    (A::AssetName, 0.9, &["configuration item", "configuration item name"]),
    (A::AssetName, 0.85, &["asset", "object name", "title", "machine", "computer"]),
    (A::Hostname, 0.95, &["hostname", "host name", "server hostname", "guest hostname", "computer hostname", "vm hostname"]),
    (A::Hostname, 0.85, &["netbios name", "short name", "short hostname"]),
    (A::Fqdn, 0.95, &["fqdn", "fully qualified domain name", "dns name", "fully qualified name", "dns hostname", "full hostname", "dns host name"]),
    (A::SourceId, 0.95, &["source id", "sys id", "external id", "vm uuid", "uuid", "asset id", "ci id", "instance id", "instance uuid", "resource id", "machine id", "server id", "unique id", "arn"]),
    (A::SourceId, 0.9, &["vm id", "bios uuid", "id", "object id", "guid"]),
    (A::SourceId, 0.75, &["smbios id", "vmware moref id", "moref", "serial number"]),
    (A::IpAddress, 0.95, &["ip", "ip address", "ip addr", "primary ip address", "primary ip", "ipv4 address", "ipv4", "private ip address", "private ip", "management ip", "mgmt ip", "internal ip", "server ip", "vm ip", "primary ipv4 address", "host ip address", "server ip address", "management ip address"]),
    (A::IpAddress, 0.8, &["ipv6 address", "ipv6", "ip list", "all ip address", "ip address list semi colon delimited", "ip address list", "guest ip"]),
    (A::IpAddress, 0.6, &["public ip address", "public ip"]),
    (A::MacAddress, 0.95, &["mac", "mac address", "mac addr", "primary mac address", "primary mac"]),
    (A::MacAddress, 0.85, &["physical address", "hardware address", "nic mac address"]),
    (A::OsType, 0.95, &["os type", "os family", "operating system type", "operating system family", "os platform", "guest os family", "os kind"]),
    (A::OsType, 0.8, &["platform", "os name", "os", "operating system", "operating system name", "guest os", "os according to the vmware tool", "guest operating system"]),
    (A::OsVersion, 0.95, &["os version", "operating system version", "guest os version"]),
    (A::OsVersion, 0.9, &["os name", "os", "operating system", "operating system name", "guest os", "os according to the configuration file", "guest operating system", "os description", "os full name", "os release"]),
    (A::OsVersion, 0.85, &["os according to the vmware tool"]),
    (A::Environment, 0.95, &["environment", "env", "environment type", "environment name"]),
    (A::Environment, 0.85, &["used for", "lifecycle stage", "stage", "landscape", "lifecycle"]),
    (A::Datacenter, 0.95, &["datacenter", "data center", "datacentre", "data centre", "dc", "hosting location", "site", "site name", "physical location", "datacenter name", "datacenter location"]),
    (A::Datacenter, 0.8, &["location", "facility"]),
    (A::Region, 0.95, &["region", "cloud region", "aws region", "azure region", "gcp region"]),
    (A::AvailabilityZone, 0.95, &["availability zone", "az", "zone"]),
    (A::RackLocation, 0.95, &["rack", "rack location", "rack position"]),
    (A::RackLocation, 0.85, &["cluster", "cluster name", "enclosure", "chassis"]),
    (A::ApplicationName, 0.95, &["application", "application name", "app", "app name", "business application", "application service"]),
    (A::ApplicationName, 0.8, &["business service", "service name", "workload", "service"]),
    (A::ApplicationVersion, 0.95, &["application version", "app version", "software version"]),
    (A::ApplicationVersion, 0.6, &["version", "release"]),
    (A::TechnologyStack, 0.95, &["technology stack", "tech stack", "technology", "technologies", "stack", "middleware"]),
    (A::TechnologyStack, 0.8, &["software", "installed software", "runtime", "framework", "language", "database type", "db type", "database engine"]),
    (A::Dependencies, 0.95, &["dependencies", "dependency", "depends on", "upstream", "upstream dependencies", "connected to", "related applications"]),
    (A::Dependencies, 0.75, &["connections", "related ci", "integrations", "interfaces", "downstream"]),
    (A::BusinessUnit, 0.95, &["business unit", "bu", "department", "division", "business area", "line of business", "lob"]),
    (A::BusinessUnit, 0.8, &["organization", "organisation", "org", "company", "cost center", "cost centre"]),
    (A::BusinessOwner, 0.95, &["business owner", "app owner", "application owner", "owner", "service owner", "product owner", "business contact", "owner email"]),
    (A::BusinessOwner, 0.85, &["owned by", "system owner", "responsible", "accountable"]),
    (A::TechnicalOwner, 0.95, &["technical owner", "tech owner", "it owner", "technical contact", "support group", "support team", "it contact", "technical lead", "assignment group"]),
    (A::TechnicalOwner, 0.85, &["assigned to", "managed by", "supported by", "admin", "administrator", "sysadmin", "custodian", "system administrator"]),
    (A::TechnicalOwner, 0.6, &["contributors", "contact"]),
    (A::BusinessCriticality, 0.95, &["business criticality", "criticality", "crit", "service tier", "criticality tier", "business impact", "importance", "business priority", "criticality level"]),
    (A::BusinessCriticality, 0.8, &["tier", "critical", "mission critical", "impact", "sla", "sla tier", "application tier"]),
    (A::CpuCores, 0.95, &["cpu", "vcpu", "core", "cpu core", "cpu core count", "num cpu", "number cpu", "cpu number core", "allocated processor core count", "virtual cpu", "processor core", "core count", "cpu qty", "vcpu count", "number of vcpus", "number core"]),
    (A::CpuCores, 0.9, &["cpu count", "processor", "number processor", "logical processor", "cpu number logical core", "logical core", "processor count"]),
    (A::CpuCores, 0.8, &["cpu number processor", "cpu socket", "socket"]),
    (A::MemoryGb, 0.95, &["memory", "ram", "mem", "total memory", "ram total size", "memory size", "ram size", "memory capacity", "allocated memory", "memory allocated", "configured memory", "vm memory", "memory gb"]),
    (A::MemoryGb, 0.9, &["physical memory", "installed memory", "total ram"]),
    (A::StorageGb, 0.95, &["storage", "disk", "disk space", "disk size", "total disk", "total disk capacity", "total disk allocated", "provisioned storage", "disk capacity", "storage capacity", "total storage", "allocated storage", "storage allocated", "hdd", "total disk size", "disk total", "storage size"]),
    (A::StorageGb, 0.9, &["provisioned", "provisioned space"]),
    (A::StorageGb, 0.7, &["storage in use", "in use", "used storage", "total disk used", "disk used", "storage used", "used space"]),
    (A::CpuUtilizationPercent, 0.95, &["cpu utilization", "cpu utilisation", "cpu usage", "cpu util", "cpu load", "processor utilization"]),
    (A::MemoryUtilizationPercent, 0.95, &["memory utilization", "memory utilisation", "memory usage", "ram usage", "ram utilization", "mem util", "memory util"]),
    (A::SixRStrategy, 0.95, &["6r", "6r strategy", "7r", "six r", "migration strategy", "disposition", "target disposition", "migration approach", "r strategy"]),
    (A::SixRStrategy, 0.8, &["strategy", "treatment", "migration pattern"]),
    (A::MigrationComplexity, 0.95, &["migration complexity", "complexity"]),
    (A::MigrationPriority, 0.95, &["migration priority"]),
    (A::MigrationPriority, 0.7, &["priority"]),
    (A::MigrationWave, 0.95, &["migration wave", "wave", "wave number", "application wave"]),
    (A::MigrationWave, 0.8, &["move group", "migration group"]),
    (A::AssetType, 0.95, &["asset type", "ci type", "sys class name", "device type", "resource type", "asset class", "ci class"]),
    (A::AssetType, 0.75, &["type", "class", "category"]),
    (A::AssetSubtype, 0.95, &["asset subtype", "subtype", "sub type", "server type"]),
    (A::AssetSubtype, 0.7, &["classification", "server role", "role"]),
];

/// Abbreviations of CMDB headers and the words they stand for. A header's words are also read
/// written out ("Srv Name" as "server name", "OS Ver" as "os version"); a header that only
/// matches written out counts a little less than the full spelling (see `heuristics`).
#[rustfmt::skip]
pub(super) const ABBREVIATIONS: &[(&str, &[&str])] = &[
    ("srv", &["server"]), ("svr", &["server"]), ("srvr", &["server"]), ("serv", &["server"]),
    ("hst", &["host"]), ("nm", &["name"]), ("hostnm", &["host", "name"]), ("hstnm", &["host", "name"]),
    ("srvnm", &["server", "name"]), ("env", &["environment"]), ("envt", &["environment"]),
    ("envir", &["environment"]), ("envr", &["environment"]), ("crit", &["criticality"]),
    ("critcl", &["criticality"]), ("mem", &["memory"]), ("stor", &["storage"]), ("strg", &["storage"]),
    ("dsk", &["disk"]), ("cap", &["capacity"]), ("sz", &["size"]), ("tot", &["total"]),
    ("addr", &["address"]), ("adr", &["address"]), ("ipaddr", &["ip", "address"]),
    ("ver", &["version"]), ("vers", &["version"]), ("vsn", &["version"]), ("app", &["application"]),
    ("appl", &["application"]), ("dc", &["datacenter"]), ("loc", &["location"]), ("locn", &["location"]),
    ("ci", &["configuration", "item"]), ("dept", &["department"]), ("biz", &["business"]),
    ("mgmt", &["management"]), ("mgt", &["management"]), ("util", &["utilization"]),
    ("num", &["number"]), ("nbr", &["number"]), ("cnt", &["count"]), ("proc", &["processor"]),
    ("prio", &["priority"]), ("mig", &["migration"]), ("migr", &["migration"]), ("svc", &["service"]),
    ("grp", &["group"]), ("ownr", &["owner"]), ("desc", &["description"]), ("rgn", &["region"]),
    ("src", &["source"]), ("dst", &["destination"]), ("dest", &["destination"]), ("tgt", &["target"]),
    ("hw", &["hardware"]), ("sw", &["software"]), ("phys", &["physical"]), ("virt", &["virtual"]),
    ("lvl", &["level"]), ("typ", &["type"]),
];

#[rustfmt::skip]
pub(super) const NET_OTHER: &[&str] = &[
    "destination", "source", "gateway", "subnet", "mask", "netmask", "dns", "nat", "remote",
    "peer", "target", "public", "vcenter", "count", "number", "esx", "hypervisor", "sdk", "port",
];

#[rustfmt::skip]
pub(super) const CPU_NOT: &[&str] = &[
    "speed", "mhz", "ghz", "type", "name", "manufacturer", "model", "utilization", "usage",
    "util", "ready", "readiness", "wait", "thread", "reservation", "limit", "share", "hot",
    "string", "family", "overhead", "entitlement", "latency", "add", "affinity",
];

#[rustfmt::skip]
pub(super) const MEM_NOT: &[&str] = &[
    "utilization", "utilisation", "usage", "util", "used", "active", "available", "consumed",
    "balloon", "ballooned", "swap", "swapped", "shared", "reservation", "limit", "overhead",
    "hot", "video", "free", "private", "entitlement", "throughput", "read", "write", "per",
    "second", "latency", "share", "add", "slot",
];

#[rustfmt::skip]
pub(super) const DISK_NOT: &[&str] = &[
    "read", "write", "throughput", "op", "ops", "operation", "iops", "latency", "per", "second",
    "number", "count", "label", "type", "path", "mode", "controller", "datastore", "name",
    "unit", "id", "key", "file", "usage", "used", "use", "free", "unshared", "thin", "uuid",
    "level",
];

#[rustfmt::skip]
pub(super) const RULES: &[Rule] = &[
    Rule { attribute: A::IpAddress, all: &[&["ip", "ipv4", "ipv6", "ipaddress"]], none: NET_OTHER, score: 0.8, label: "an IP address" },
    Rule { attribute: A::MacAddress, all: &[&["mac"]], none: &["count", "number"], score: 0.8, label: "a MAC address" },
    Rule { attribute: A::Hostname, all: &[&["hostname"]], none: &["esx", "hypervisor", "vcenter", "parent", "physical", "source", "destination", "target"], score: 0.8, label: "a host name" },
    Rule { attribute: A::Fqdn, all: &[&["fqdn"]], none: &[], score: 0.8, label: "a fully qualified domain name" },
    Rule { attribute: A::OsVersion, all: &[&["os", "operating"], &["version", "release"]], none: &["architecture", "bit", "address", "width", "boot"], score: 0.8, label: "an operating system version" },
    Rule { attribute: A::OsVersion, all: &[&["os", "operating"]], none: &["architecture", "bit", "address", "width", "boot", "service", "pack", "disk", "drive", "type", "family"], score: 0.7, label: "an operating system" },
    Rule { attribute: A::OsType, all: &[&["os", "operating"], &["type", "family", "platform"]], none: &[], score: 0.8, label: "an operating system family" },
    Rule { attribute: A::Environment, all: &[&["environment", "env"]], none: &[], score: 0.8, label: "an environment" },
    Rule { attribute: A::CpuCores, all: &[&["cpu", "vcpu", "core", "processor"]], none: CPU_NOT, score: 0.75, label: "CPUs" },
    Rule { attribute: A::MemoryGb, all: &[&["memory", "ram", "mem"]], none: MEM_NOT, score: 0.75, label: "memory" },
    Rule { attribute: A::StorageGb, all: &[&["disk", "storage", "hdd", "capacity", "provisioned"]], none: DISK_NOT, score: 0.7, label: "disk or storage" },
    Rule { attribute: A::CpuUtilizationPercent, all: &[&["cpu", "processor"], &["utilization", "utilisation", "usage", "util", "load", "busy"]], none: &[], score: 0.8, label: "CPU utilisation" },
    Rule { attribute: A::MemoryUtilizationPercent, all: &[&["memory", "ram", "mem"], &["utilization", "utilisation", "usage", "util"]], none: &[], score: 0.8, label: "memory utilisation" },
    Rule { attribute: A::BusinessOwner, all: &[&["owner"]], none: &["technical", "tech", "it", "support", "system"], score: 0.75, label: "an owner" },
    Rule { attribute: A::TechnicalOwner, all: &[&["technical", "tech", "support", "admin", "administrator", "sysadmin"]], none: &["type", "level", "date", "hour"], score: 0.7, label: "technical ownership or support" },
    Rule { attribute: A::BusinessCriticality, all: &[&["criticality", "critical", "tier", "impact"]], none: &[], score: 0.7, label: "criticality" },
    Rule { attribute: A::ApplicationName, all: &[&["application", "app"]], none: &["version", "owner", "id", "type", "tier", "wave", "count", "number", "process", "port", "pool", "source", "destination"], score: 0.7, label: "an application" },
    Rule { attribute: A::Datacenter, all: &[&["datacenter", "datacentre", "site", "location"]], none: &[], score: 0.7, label: "a data centre or site" },
    Rule { attribute: A::SourceId, all: &[&["uuid", "guid"]], none: &["bios", "smbios"], score: 0.75, label: "a unique identifier" },
    Rule { attribute: A::SixRStrategy, all: &[&["strategy", "disposition", "6r", "7r"]], none: &[], score: 0.7, label: "a migration strategy" },
    Rule { attribute: A::MigrationWave, all: &[&["wave"]], none: &[], score: 0.75, label: "a migration wave" },
];

/// Header words that say the column describes another system (the hypervisor host, a
/// gateway, the other end of a connection): its values must not be taken as this asset's
/// identity from content alone.
#[rustfmt::skip]
pub(super) const FOREIGN: &[&str] = &[
    "gateway", "subnet", "mask", "netmask", "destination", "source", "target", "remote", "peer",
    "parent", "child", "vcenter", "esx", "esxi", "hypervisor", "sdk", "dhcp", "nat",
    "broadcast", "version", "domain", "public", "dns", "server", "switch", "datastore",
    "cluster", "folder", "pool", "url", "repository", "binary", "group",
];
