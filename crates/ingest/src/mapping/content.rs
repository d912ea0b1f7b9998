//! Value evidence: what a sample of a column's values looks like (IP and MAC addresses,
//! FQDNs, host names, OS names, numbers, sizes with units, enumerations), and which
//! attributes those shapes support.

use serde::{Deserialize, Serialize};

use crate::attributes::AssetAttribute;
use crate::cleanse::{enums, network, os, size, text};

/// The shape of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueShape {
    Ip,
    IpList,
    Mac,
    Uuid,
    Fqdn,
    HostName,
    Os,
    Environment,
    Criticality,
    Boolean,
    Integer,
    Decimal,
    Size,
    Percent,
    Email,
    Version,
    Text,
}

impl ValueShape {
    pub const ALL: [ValueShape; 17] = [
        ValueShape::Ip,
        ValueShape::IpList,
        ValueShape::Mac,
        ValueShape::Uuid,
        ValueShape::Fqdn,
        ValueShape::HostName,
        ValueShape::Os,
        ValueShape::Environment,
        ValueShape::Criticality,
        ValueShape::Boolean,
        ValueShape::Integer,
        ValueShape::Decimal,
        ValueShape::Size,
        ValueShape::Percent,
        ValueShape::Email,
        ValueShape::Version,
        ValueShape::Text,
    ];

    /// Plural noun for reasons ("48/50 sampled values look like IP addresses").
    pub fn label(self) -> &'static str {
        match self {
            ValueShape::Ip => "IP addresses",
            ValueShape::IpList => "lists of IP addresses",
            ValueShape::Mac => "MAC addresses",
            ValueShape::Uuid => "UUIDs",
            ValueShape::Fqdn => "fully qualified domain names",
            ValueShape::HostName => "host names",
            ValueShape::Os => "operating system names",
            ValueShape::Environment => "environment names",
            ValueShape::Criticality => "criticality levels",
            ValueShape::Boolean => "yes/no values",
            ValueShape::Integer => "whole numbers",
            ValueShape::Decimal => "decimal numbers",
            ValueShape::Size => "sizes with units",
            ValueShape::Percent => "percentages",
            ValueShape::Email => "e-mail addresses",
            ValueShape::Version => "version numbers",
            ValueShape::Text => "free text",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Classifies one (non-empty) value.
pub fn classify(raw: &str) -> ValueShape {
    let v = raw.trim();
    if enums::boolean(v).is_some() && !v.bytes().all(|b| b.is_ascii_digit()) {
        return ValueShape::Boolean;
    }
    if network::parse_ip(v).is_some() {
        return ValueShape::Ip;
    }
    let parts = network::split_addresses(v);
    if parts.len() > 1 && parts.iter().all(|p| network::parse_ip(p).is_some()) {
        return ValueShape::IpList;
    }
    if v.contains([':', '-', '.']) && network::parse_mac(v).is_some() {
        return ValueShape::Mac;
    }
    if is_uuid(v) {
        return ValueShape::Uuid;
    }
    if let Some(n) = size::parse_number(v) {
        return if n.fract() == 0.0 {
            ValueShape::Integer
        } else {
            ValueShape::Decimal
        };
    }
    if is_version(v) {
        return ValueShape::Version;
    }
    if let Some(num) = v.strip_suffix('%')
        && size::parse_number(num).is_some()
    {
        return ValueShape::Percent;
    }
    if matches!(size::parse_size(v), Some((_, Some(_)))) {
        return ValueShape::Size;
    }
    // Enumeration words are short; skip their tables for longer values.
    if v.len() <= 32 && enums::environment(v).is_some() {
        return ValueShape::Environment;
    }
    if v.len() <= 32 && enums::criticality(v).is_some() {
        return ValueShape::Criticality;
    }
    if v.contains('@') && v.rsplit('@').next().is_some_and(|d| d.contains('.')) {
        return ValueShape::Email;
    }
    if os::parse_os(v).is_some() {
        return ValueShape::Os;
    }
    if is_fqdn(v) {
        return ValueShape::Fqdn;
    }
    if is_host_label(v) {
        return ValueShape::HostName;
    }
    ValueShape::Text
}

/// A version number of several parts, optionally with a service pack or release qualifier:
/// "10.0.17763", "7.9.2009", "15 SP4", "2008 R2", "6.5 U3" (a plain "8.6" is a decimal).
pub fn is_version(v: &str) -> bool {
    let mut tokens = v.split_whitespace();
    let Some(number) = tokens.next() else {
        return false;
    };
    let parts: Vec<&str> = number.split('.').collect();
    let numeric = parts.len() <= 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()));
    let qualifier = match (tokens.next(), tokens.next()) {
        (None, _) => None,
        (Some(q), None) => Some(q),
        (Some(_), Some(_)) => return false,
    };
    let qualified = qualifier.is_some_and(|q| {
        let q = q.to_ascii_uppercase();
        ["SP", "R", "U"].iter().any(|prefix| {
            q.strip_prefix(prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    });
    numeric && (qualified || (qualifier.is_none() && parts.len() > 2))
}

/// 8-4-4-4-12 hexadecimal, or 32 hexadecimal digits (ServiceNow sys_id).
pub fn is_uuid(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() == 32 {
        return b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(|c| c.is_ascii_digit());
    }
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A host name label: letters, digits, `-` or `_`, at most 63 characters, with a letter.
pub fn is_host_label(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 63
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && v.bytes().any(|b| b.is_ascii_alphabetic())
        && !v.starts_with('-')
}

/// Two or more host labels separated by dots, the last alphabetic (a top-level domain).
pub fn is_fqdn(v: &str) -> bool {
    let v = v.strip_suffix('.').unwrap_or(v);
    let labels: Vec<&str> = v.split('.').collect();
    v.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| is_host_label(l))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// What a sample of one column looks like.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnProfile {
    /// Sampled values that are not empty (after cleaning placeholders such as "N/A").
    pub non_empty: usize,
    counts: [usize; ValueShape::ALL.len()],
    numbers: Vec<f64>,
}

/// At most this many sample rows are looked at per column.
pub const MAX_SAMPLE_ROWS: usize = 100;

impl ColumnProfile {
    /// Profiles column `column` of `samples` (rows aligned with the headers).
    pub fn build(samples: &[Vec<Option<String>>], column: usize) -> ColumnProfile {
        let mut p = ColumnProfile::default();
        for row in samples.iter().take(MAX_SAMPLE_ROWS) {
            let Some(Some(raw)) = row.get(column) else {
                continue;
            };
            let Some(value) = text::clean(raw) else {
                continue;
            };
            p.non_empty += 1;
            let shape = classify(&value);
            p.counts[shape.index()] += 1;
            match shape {
                ValueShape::Integer | ValueShape::Decimal => {
                    if let Some(n) = size::parse_number(&value) {
                        p.numbers.push(n);
                    }
                }
                ValueShape::Percent => {}
                _ => {}
            }
        }
        p
    }

    /// How many sampled values have this shape.
    pub fn count(&self, shape: ValueShape) -> usize {
        self.counts[shape.index()]
    }

    /// The most frequent shape (ties: the earlier in [`ValueShape::ALL`]).
    pub fn dominant(&self) -> Option<(ValueShape, usize)> {
        ValueShape::ALL
            .iter()
            .map(|s| (*s, self.count(*s)))
            .filter(|(_, n)| *n > 0)
            .fold(None, |best, cur| match best {
                Some((_, n)) if n >= cur.1 => best,
                _ => Some(cur),
            })
    }

    /// Median of the plain numbers sampled.
    pub fn median_number(&self) -> Option<f64> {
        if self.numbers.is_empty() {
            return None;
        }
        let mut v = self.numbers.clone();
        v.sort_by(f64::total_cmp);
        Some(v[v.len() / 2])
    }

    /// How many sampled values fit the attribute, with a label for reasons; `None` when the
    /// attribute is free text (no value check) or nothing was sampled.
    pub fn agreement(&self, attribute: AssetAttribute) -> Option<(usize, &'static str)> {
        if self.non_empty == 0 {
            return None;
        }
        let (shapes, label) = compatible(attribute)?;
        Some((shapes.iter().map(|s| self.count(*s)).sum(), label))
    }

    /// An attribute the values alone point to (distinctive shapes only, at least 80% of the
    /// sampled values), with the strength of that evidence before sample-size discounting.
    pub fn rescue(&self) -> Option<(AssetAttribute, f64, &'static str)> {
        let groups: [(&[ValueShape], AssetAttribute, f64); 7] = [
            (
                &[ValueShape::Ip, ValueShape::IpList],
                AssetAttribute::IpAddress,
                0.75,
            ),
            (&[ValueShape::Mac], AssetAttribute::MacAddress, 0.75),
            (&[ValueShape::Os], AssetAttribute::OsVersion, 0.7),
            (&[ValueShape::Environment], AssetAttribute::Environment, 0.7),
            (&[ValueShape::Fqdn], AssetAttribute::Fqdn, 0.65),
            (
                &[ValueShape::Criticality],
                AssetAttribute::BusinessCriticality,
                0.6,
            ),
            (&[ValueShape::Uuid], AssetAttribute::SourceId, 0.55),
        ];
        groups.iter().find_map(|(shapes, attr, strength)| {
            let n: usize = shapes.iter().map(|s| self.count(*s)).sum();
            (self.non_empty > 0 && n * 5 >= self.non_empty * 4)
                .then(|| (*attr, *strength, shapes[0].label()))
        })
    }
}

/// The value shapes that support an attribute, and their label; `None` for free text.
pub fn compatible(attribute: AssetAttribute) -> Option<(&'static [ValueShape], &'static str)> {
    use AssetAttribute as A;
    use ValueShape as S;
    Some(match attribute {
        A::IpAddress => (&[S::Ip, S::IpList], "IP addresses"),
        A::MacAddress => (&[S::Mac], "MAC addresses"),
        A::Fqdn => (&[S::Fqdn], "fully qualified domain names"),
        A::Hostname => (&[S::HostName, S::Fqdn], "host names"),
        A::OsType => (&[S::Os], "operating system names"),
        A::OsVersion => (
            &[S::Os, S::Integer, S::Decimal, S::Version],
            "operating system names or versions",
        ),
        A::Environment => (&[S::Environment], "environment names"),
        A::BusinessCriticality => (&[S::Criticality, S::Integer], "criticality levels"),
        A::CpuCores | A::MigrationPriority | A::MigrationWave => (&[S::Integer], "whole numbers"),
        A::MemoryGb | A::StorageGb => (&[S::Integer, S::Decimal, S::Size], "sizes"),
        A::CpuUtilizationPercent | A::MemoryUtilizationPercent => {
            (&[S::Integer, S::Decimal, S::Percent], "percentages")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_values() {
        assert_eq!(classify("10.0.0.1"), ValueShape::Ip);
        assert_eq!(classify("10.0.0.1, 10.0.0.2"), ValueShape::IpList);
        assert_eq!(classify("00:50:56:aa:bb:cc"), ValueShape::Mac);
        assert_eq!(
            classify("500b85c1-ef0d-37fb-6897-61c47157f858"),
            ValueShape::Uuid
        );
        assert_eq!(classify("ADCSCA01.next.local"), ValueShape::Fqdn);
        assert_eq!(classify("wadfs1"), ValueShape::HostName);
        assert_eq!(
            classify("Microsoft Windows Server 2012 (64-bit)"),
            ValueShape::Os
        );
        assert_eq!(classify("Prod"), ValueShape::Environment);
        assert_eq!(classify("4096"), ValueShape::Integer);
        assert_eq!(classify("16 GB"), ValueShape::Size);
        assert_eq!(classify("45%"), ValueShape::Percent);
        assert_eq!(classify("poweredOn"), ValueShape::Boolean);
        assert_eq!(classify("John Doe <jdoe@example.com>"), ValueShape::Email);
        assert_eq!(classify("Legacy customers service"), ValueShape::Text);
        for v in ["10.0.17763", "7.9.2009", "15 SP4", "2008 R2", "6.5 U3"] {
            assert_eq!(classify(v), ValueShape::Version, "{v}");
        }
        assert_eq!(classify("8.6"), ValueShape::Decimal);
        for v in [
            "1.2.3.4.5",
            "15 SP",
            "v1.2.3",
            "3 apples",
            "10.0.17763 beta",
        ] {
            assert_ne!(classify(v), ValueShape::Version, "{v}");
        }
    }
}
