//! Identity reconciliation keys of a cleansed asset, strongest first: the source system's
//! identifier, the FQDN, the host name, the IP address, the MAC address, the name. The
//! matching against stored assets happens in the discovery flow; this module only produces
//! normalised keys in order of precedence.

use serde::{Deserialize, Serialize};

use crate::attributes::AssetAttribute;
use crate::cleanse::{CleansedAsset, network};
use crate::mapping::content;

/// The kind of an identity key, in order of precedence (strongest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `source_system:source_id` (or the bare id when the system is unknown).
    SourceId,
    Fqdn,
    Hostname,
    /// Weak: addresses are reused (DHCP, NAT); loopback and link-local never become keys.
    IpAddress,
    /// Weak: virtual NICs are recreated.
    MacAddress,
    /// Weakest: display names collide.
    Name,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::SourceId => "source_id",
            KeyKind::Fqdn => "fqdn",
            KeyKind::Hostname => "hostname",
            KeyKind::IpAddress => "ip",
            KeyKind::MacAddress => "mac",
            KeyKind::Name => "name",
        }
    }
}

/// One normalised key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdentityKey {
    pub kind: KeyKind,
    pub value: String,
}

/// The keys of an asset in precedence order, at most one per kind. Normalisation: lower
/// case; FQDN without trailing dot; host name without domain (from the host name, else the
/// FQDN, else a name that is a host label or an FQDN); IP in canonical form; MAC as
/// `aa:bb:cc:dd:ee:ff`; name with single spaces. `source_system` (e.g. "servicenow",
/// "vcenter:vc01") qualifies the source id, so ids of two systems never meet.
pub fn identity_keys(asset: &CleansedAsset, source_system: Option<&str>) -> Vec<IdentityKey> {
    let mut keys = Vec::new();
    let mut push = |kind: KeyKind, value: String| {
        if !value.is_empty() {
            keys.push(IdentityKey { kind, value });
        }
    };
    let text = |a: AssetAttribute| asset.text(a).map(|s| s.trim().to_lowercase());

    if let Some(id) = text(AssetAttribute::SourceId) {
        let value = match source_system.map(str::trim).filter(|s| !s.is_empty()) {
            Some(system) => format!("{}:{id}", system.to_lowercase()),
            None => id,
        };
        push(KeyKind::SourceId, value);
    }
    let name = text(AssetAttribute::AssetName);
    let fqdn = text(AssetAttribute::Fqdn)
        .or_else(|| text(AssetAttribute::Hostname).filter(|h| content::is_fqdn(h)))
        .or_else(|| name.clone().filter(|n| content::is_fqdn(n)))
        .map(|f| f.trim_end_matches('.').to_string());
    if let Some(f) = &fqdn {
        push(KeyKind::Fqdn, f.clone());
    }
    let short = |s: &str| s.split('.').next().unwrap_or_default().to_string();
    let hostname = text(AssetAttribute::Hostname)
        .filter(|h| network::parse_ip(h).is_none())
        .map(|h| short(&h))
        .or_else(|| fqdn.as_deref().map(short))
        .or_else(|| name.clone().filter(|n| content::is_host_label(n)));
    if let Some(h) = hostname {
        push(KeyKind::Hostname, h);
    }
    if let Some(ip) = asset
        .text(AssetAttribute::IpAddress)
        .and_then(network::parse_ip)
        .filter(|ip| !network::is_weak_ip(ip))
    {
        push(KeyKind::IpAddress, ip.to_string());
    }
    if let Some(mac) = asset
        .text(AssetAttribute::MacAddress)
        .and_then(network::parse_mac)
        .filter(|m| m != "00:00:00:00:00:00" && m != "ff:ff:ff:ff:ff:ff")
    {
        push(KeyKind::MacAddress, mac);
    }
    if let Some(n) = name {
        push(
            KeyKind::Name,
            n.split_whitespace().collect::<Vec<_>>().join(" "),
        );
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_follows_declaration_order() {
        assert!(KeyKind::SourceId < KeyKind::Fqdn);
        assert!(KeyKind::Fqdn < KeyKind::Hostname);
        assert!(KeyKind::Hostname < KeyKind::IpAddress);
        assert!(KeyKind::IpAddress < KeyKind::MacAddress);
        assert!(KeyKind::MacAddress < KeyKind::Name);
    }
}
