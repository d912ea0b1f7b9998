//! Applying a mapping to one row: typed values per attribute kind, custom attributes, and
//! the gap-filling and naming checks at the end of the row.

use std::collections::BTreeMap;

use super::{
    CUSTOM_MAX_LEN, CleansedAsset, ColumnPlan, Issue, IssueCode, LIST_ITEM_MAX_LEN, MAX_CPU_CORES,
    Provenance, Value, enums, network, os, size, text,
};
use crate::attributes::{AssetAttribute, ValueKind};
use crate::mapping::ValueShape;
use crate::record::Record;

pub(super) struct Row {
    pub(super) asset: CleansedAsset,
    os_family_from_version: Option<(&'static str, String, f64)>,
    /// The operating system recognised in the `os_type` column: it names the product of a
    /// bare version number in `os_version` ("8.6" of "Red Hat Enterprise Linux 8").
    os_from_type: Option<os::OsInfo>,
}

impl Row {
    pub(super) fn new(record: &Record) -> Row {
        Row {
            asset: CleansedAsset {
                table: record.table.clone(),
                row: record.row,
                values: BTreeMap::new(),
                custom: BTreeMap::new(),
                issues: Vec::new(),
                provenance: BTreeMap::new(),
            },
            os_family_from_version: None,
            os_from_type: None,
        }
    }

    fn issue(&mut self, code: IssueCode, column: Option<&str>, message: String) {
        self.asset.issues.push(Issue {
            code,
            severity: code.severity(),
            column: column.map(str::to_string),
            message,
        });
    }

    fn set(&mut self, plan: &ColumnPlan, attr: AssetAttribute, value: Value) {
        self.asset.values.insert(attr, value);
        self.asset.provenance.insert(
            attr,
            Provenance {
                column: plan.header.clone(),
                confidence: plan.confidence,
                derived: false,
            },
        );
    }

    fn limited(&mut self, plan: &ColumnPlan, value: String, max: usize) -> String {
        let (value, cut) = text::truncate(value, max);
        if cut {
            self.issue(
                IssueCode::ValueTruncated,
                Some(&plan.header),
                format!(
                    "value of '{}' was longer than {max} characters and was truncated",
                    plan.header
                ),
            );
        }
        value
    }

    pub(super) fn attribute(&mut self, plan: &ColumnPlan, attr: AssetAttribute, value: String) {
        let h = plan.header.as_str();
        match attr.kind() {
            ValueKind::Text { max_len } => {
                let value = match attr {
                    AssetAttribute::OsType => self.os_type(plan, &value),
                    AssetAttribute::OsVersion => self.os_version(plan, &value),
                    AssetAttribute::Fqdn => value.trim_end_matches('.').to_string(),
                    _ => value,
                };
                let value = self.limited(plan, value, max_len);
                self.set(plan, attr, Value::Text(value));
            }
            ValueKind::Integer => {
                let n = size::parse_number(&value).or_else(|| {
                    // "Wave 3", "P1": a label followed by the number.
                    let digits: String = value
                        .chars()
                        .rev()
                        .take_while(char::is_ascii_digit)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    (attr != AssetAttribute::CpuCores && !digits.is_empty())
                        .then(|| digits.parse().ok())
                        .flatten()
                });
                match n {
                    Some(n) if n.fract() == 0.0 && n >= 0.0 => {
                        if attr == AssetAttribute::CpuCores && n > MAX_CPU_CORES {
                            self.issue(
                                IssueCode::OutOfRange,
                                Some(h),
                                format!(
                                    "'{h}' value {value} is not a plausible CPU count; dropped"
                                ),
                            );
                        } else if n > f64::from(i32::MAX) {
                            self.issue(
                                IssueCode::OutOfRange,
                                Some(h),
                                format!(
                                    "'{h}' value {value} is too large for a whole number; dropped"
                                ),
                            );
                        } else {
                            self.set(plan, attr, Value::Integer(n as i64));
                        }
                    }
                    _ => self.issue(
                        IssueCode::InvalidNumber,
                        Some(h),
                        format!("'{h}' value '{value}' is not a whole number; dropped"),
                    ),
                }
            }
            ValueKind::SizeGb => self.size(plan, attr, &value),
            ValueKind::Percent => {
                let n = size::parse_number(value.trim_end_matches('%'));
                match n {
                    Some(n) if (0.0..=100.0).contains(&n) => {
                        self.set(plan, attr, Value::Number(n));
                    }
                    Some(_) => self.issue(
                        IssueCode::OutOfRange,
                        Some(h),
                        format!(
                            "'{h}' value {value} is not a percentage between 0 and 100; dropped"
                        ),
                    ),
                    None => self.issue(
                        IssueCode::InvalidNumber,
                        Some(h),
                        format!("'{h}' value '{value}' is not a number; dropped"),
                    ),
                }
            }
            ValueKind::Enumeration(_) => self.enumeration(plan, attr, &value),
            ValueKind::IpAddress => self.ip(plan, &value),
            ValueKind::MacAddress => self.mac(plan, &value),
            ValueKind::DependencyList | ValueKind::TextList => {
                let mut items = Vec::new();
                for item in text::split_list(&value) {
                    items.push(self.limited(plan, item, LIST_ITEM_MAX_LEN));
                }
                self.set(plan, attr, Value::List(items));
            }
        }
    }

    fn os_type(&mut self, plan: &ColumnPlan, value: &str) -> String {
        match os::parse_os(value) {
            Some(info) => {
                let family = info.family.as_str().to_string();
                self.os_from_type = Some(info);
                family
            }
            None => {
                self.issue(
                    IssueCode::UnknownOs,
                    Some(&plan.header),
                    format!("operating system '{value}' in '{}' is not recognised; os_type set to other", plan.header),
                );
                os::OsFamily::Other.as_str().to_string()
            }
        }
    }

    fn os_version(&mut self, plan: &ColumnPlan, value: &str) -> String {
        match os::parse_os(value) {
            Some(info) => {
                self.os_family_from_version =
                    Some((info.family.as_str(), plan.header.clone(), plan.confidence));
                info.display()
            }
            None => {
                if !value.starts_with(|c: char| c.is_ascii_digit()) {
                    self.issue(
                        IssueCode::UnknownOs,
                        Some(&plan.header),
                        format!(
                            "operating system '{value}' in '{}' is not recognised; kept as written",
                            plan.header
                        ),
                    );
                    self.os_family_from_version = Some((
                        os::OsFamily::Other.as_str(),
                        plan.header.clone(),
                        plan.confidence,
                    ));
                }
                value.to_string()
            }
        }
    }

    fn size(&mut self, plan: &ColumnPlan, attr: AssetAttribute, value: &str) {
        let h = plan.header.as_str();
        let Some((n, value_unit)) = size::parse_size(value) else {
            self.issue(
                IssueCode::InvalidNumber,
                Some(h),
                format!("'{h}' value '{value}' is not a size; dropped"),
            );
            return;
        };
        if n < 0.0 {
            self.issue(
                IssueCode::OutOfRange,
                Some(h),
                format!("'{h}' value {value} is negative; dropped"),
            );
            return;
        }
        let unit = match value_unit.or(plan.unit) {
            Some(u) => u,
            None => {
                let u = size::guess_unit(n, attr == AssetAttribute::StorageGb);
                self.issue(
                    IssueCode::UnitAssumed,
                    Some(h),
                    format!("'{h}' value {value} has no unit; read as {}", u.as_str()),
                );
                u
            }
        };
        self.set(plan, attr, Value::Number(size::to_gb(n, unit)));
    }

    fn enumeration(&mut self, plan: &ColumnPlan, attr: AssetAttribute, value: &str) {
        let (parsed, code, what) = match attr {
            AssetAttribute::Environment => (
                enums::environment(value),
                IssueCode::UnknownEnvironment,
                "environment",
            ),
            AssetAttribute::BusinessCriticality => (
                enums::criticality(value),
                IssueCode::UnknownCriticality,
                "criticality",
            ),
            AssetAttribute::SixRStrategy => {
                (enums::six_r(value), IssueCode::UnknownSixR, "6R strategy")
            }
            AssetAttribute::AssetType => match enums::asset_type(value) {
                Some((t, subtype)) => {
                    if let Some(sub) = subtype
                        && !self.asset.has(AssetAttribute::AssetSubtype)
                    {
                        self.set(
                            plan,
                            AssetAttribute::AssetSubtype,
                            Value::Text(sub.to_string()),
                        );
                        if let Some(p) =
                            self.asset.provenance.get_mut(&AssetAttribute::AssetSubtype)
                        {
                            p.derived = true;
                        }
                    }
                    (Some(t), IssueCode::UnknownAssetType, "asset type")
                }
                None => (None, IssueCode::UnknownAssetType, "asset type"),
            },
            _ => (None, IssueCode::InvalidNumber, "value"),
        };
        match parsed {
            Some(v) => self.set(plan, attr, Value::Text(v.to_string())),
            None => self.issue(
                code,
                Some(&plan.header),
                format!(
                    "'{}' value '{value}' is not a known {what}; left empty",
                    plan.header
                ),
            ),
        }
    }

    fn ip(&mut self, plan: &ColumnPlan, value: &str) {
        let h = plan.header.as_str();
        let cell = network::read_ip_cell(value);
        let Some(primary) = cell.primary else {
            self.issue(
                IssueCode::InvalidIp,
                Some(h),
                format!("'{h}' value '{value}' is not an IP address; dropped"),
            );
            return;
        };
        if !cell.others.is_empty() || !cell.invalid.is_empty() {
            self.issue(
                IssueCode::MultipleValues,
                Some(h),
                format!("'{h}' holds several values ('{value}'); kept {primary}, the other addresses are in additional_ip_addresses"),
            );
            if !cell.others.is_empty() {
                self.asset.custom.insert(
                    "additional_ip_addresses".to_string(),
                    Value::List(cell.others.iter().map(ToString::to_string).collect()),
                );
            }
        }
        self.set(
            plan,
            AssetAttribute::IpAddress,
            Value::Text(primary.to_string()),
        );
    }

    fn mac(&mut self, plan: &ColumnPlan, value: &str) {
        let h = plan.header.as_str();
        let parts = network::split_addresses(value);
        let macs: Vec<String> = parts.iter().filter_map(|p| network::parse_mac(p)).collect();
        let Some(first) = macs.first() else {
            self.issue(
                IssueCode::InvalidMac,
                Some(h),
                format!("'{h}' value '{value}' is not a MAC address; dropped"),
            );
            return;
        };
        if parts.len() > 1 {
            self.issue(
                IssueCode::MultipleValues,
                Some(h),
                format!("'{h}' holds several values ('{value}'); kept {first}"),
            );
        }
        self.set(plan, AssetAttribute::MacAddress, Value::Text(first.clone()));
    }

    pub(super) fn custom(&mut self, plan: &ColumnPlan, name: &str, value: String) {
        let typed = match plan.shape {
            Some(ValueShape::Boolean) => enums::boolean(&value).map(Value::Bool),
            Some(ValueShape::Integer) => size::parse_number(&value)
                .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
                .map(|n| Value::Integer(n as i64)),
            Some(ValueShape::Decimal) => size::parse_number(&value).map(Value::Number),
            _ => None,
        };
        let v = match typed {
            Some(v) => v,
            None => Value::Text(self.limited(plan, value, CUSTOM_MAX_LEN)),
        };
        self.asset.custom.insert(name.to_string(), v);
    }

    fn derive(&mut self, attr: AssetAttribute, value: String, from: AssetAttribute) {
        let Some(src) = self.asset.provenance.get(&from).cloned() else {
            return;
        };
        self.asset.values.insert(attr, Value::Text(value));
        self.asset.provenance.insert(
            attr,
            Provenance {
                derived: true,
                ..src
            },
        );
    }

    /// A bare version number in `os_version` ("8.6", "10.0.17763", "15 SP4") takes the product
    /// that the `os_type` column names: "Red Hat Enterprise Linux 8.6". When the version does
    /// not continue the one written there, both are kept: "Windows Server 2019 (10.0.17763)";
    /// a known Windows Server build names its release when the product column has none.
    /// A column that names only the family ("Linux") leaves the version as written.
    fn name_bare_os_version(&mut self) {
        let Some(info) = self.os_from_type.take().filter(os::OsInfo::names_a_product) else {
            return;
        };
        let Some(bare) = self
            .asset
            .text(AssetAttribute::OsVersion)
            .filter(|v| os::parse_os(v).is_none() && v.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
        else {
            return;
        };
        // A Windows Server build number names its release when the product column has none.
        let written = info.version.as_deref().or_else(|| {
            (info.product == "Windows Server")
                .then(|| os::windows_server_release(&bare))
                .flatten()
        });
        let named = match written {
            Some(written) if !os::version_continues(&bare, written) => {
                format!("{} {written} ({bare})", info.product)
            }
            _ => format!("{} {bare}", info.product),
        };
        let max_len = match AssetAttribute::OsVersion.kind() {
            ValueKind::Text { max_len } => max_len,
            _ => named.len(),
        };
        let (named, _) = text::truncate(named, max_len);
        self.asset
            .values
            .insert(AssetAttribute::OsVersion, Value::Text(named));
        if let Some(p) = self.asset.provenance.get_mut(&AssetAttribute::OsVersion) {
            p.derived = true;
        }
    }

    /// Fills gaps from other attributes and checks that the asset can be named.
    pub(super) fn finish(&mut self) {
        if !self.asset.has(AssetAttribute::OsType)
            && let Some((family, column, confidence)) = self.os_family_from_version.take()
        {
            self.asset
                .values
                .insert(AssetAttribute::OsType, Value::Text(family.to_string()));
            self.asset.provenance.insert(
                AssetAttribute::OsType,
                Provenance {
                    column,
                    confidence,
                    derived: true,
                },
            );
        }
        self.name_bare_os_version();
        // A host name written as an FQDN: keep the short name, and the FQDN if none.
        if let Some(h) = self
            .asset
            .text(AssetAttribute::Hostname)
            .map(str::to_string)
            && h.contains('.')
            && network::parse_ip(&h).is_none()
        {
            let short = h.split('.').next().unwrap_or_default().to_string();
            self.asset
                .values
                .insert(AssetAttribute::Hostname, Value::Text(short));
            if !self.asset.has(AssetAttribute::Fqdn) {
                self.derive(
                    AssetAttribute::Fqdn,
                    h.trim_end_matches('.').to_string(),
                    AssetAttribute::Hostname,
                );
            }
        }
        if !self.asset.has(AssetAttribute::Hostname)
            && let Some(f) = self.asset.text(AssetAttribute::Fqdn)
            && network::parse_ip(f).is_none()
        {
            let short = f.split('.').next().unwrap_or_default().to_string();
            self.derive(AssetAttribute::Hostname, short, AssetAttribute::Fqdn);
        }
        if !self.asset.has(AssetAttribute::AssetName) {
            let from = [
                AssetAttribute::Hostname,
                AssetAttribute::Fqdn,
                AssetAttribute::IpAddress,
                AssetAttribute::ApplicationName,
            ]
            .into_iter()
            .find_map(|a| self.asset.text(a).map(|v| (a, v.to_string())));
            match from {
                Some((attr, name)) => {
                    self.derive(AssetAttribute::AssetName, name, attr);
                    self.issue(
                        IssueCode::AssetNameDerived,
                        None,
                        format!("no asset name in the row; {} used as the name", attr.as_str()),
                    );
                }
                None => self.issue(
                    IssueCode::MissingAssetName,
                    None,
                    format!(
                        "row {} has no asset name, host name, FQDN, IP address or application name; rejected",
                        self.asset.row
                    ),
                ),
            }
        }
    }
}
