//! IP and MAC addresses: parsing, canonical forms, and multi-valued cells.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parses one IPv4 or IPv6 address, tolerating what exports contain: a CIDR suffix
/// (`10.0.0.1/24`), an IPv6 zone (`fe80::1%eth0`), brackets (`[::1]`) and zero-padded IPv4
/// octets (`010.000.000.001`). IPv4 comes out dotted-decimal, IPv6 in RFC 5952 form.
pub fn parse_ip(raw: &str) -> Option<IpAddr> {
    let mut s = raw.trim().trim_start_matches('[').trim_end_matches(']');
    if let Some((addr, prefix)) = s.split_once('/')
        && !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_digit())
    {
        s = addr;
    }
    if let Some((addr, _zone)) = s.split_once('%') {
        s = addr;
    }
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    parse_ipv4_lenient(s).map(IpAddr::V4)
}

fn parse_ipv4_lenient(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        octets[n] = part.parse::<u8>().ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(octets))
}

/// Whether an address is a poor identity for an asset (loopback, unspecified, link-local).
pub fn is_weak_ip(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Parses a MAC address written as `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF`,
/// `aabb.ccdd.eeff` or `aabbccddeeff`; returns it as lower-case `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(raw: &str) -> Option<String> {
    let s = raw.trim();
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Separators, if any, must sit on a consistent grid (pairs or Cisco quads).
    let seps: Vec<usize> = s
        .char_indices()
        .filter(|(_, c)| matches!(c, ':' | '-' | '.'))
        .map(|(i, _)| i)
        .collect();
    let pairs = [2, 5, 8, 11, 14];
    let quads = [4, 9];
    if !(seps.is_empty() || seps == pairs || seps == quads) {
        return None;
    }
    let lower = hex.to_ascii_lowercase();
    let mut out = String::with_capacity(17);
    for (i, chunk) in lower.as_bytes().chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(std::str::from_utf8(chunk).ok()?);
    }
    Some(out)
}

/// Splits a cell that may hold several addresses ("10.0.0.1, 10.0.0.2", one per line,
/// semicolons, or spaces).
pub fn split_addresses(raw: &str) -> Vec<&str> {
    raw.split([',', ';', '|', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// The result of reading an IP cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpCell {
    /// The chosen address: the first that is not loopback/link-local, else the first valid.
    pub primary: Option<IpAddr>,
    /// Every other valid address, in order.
    pub others: Vec<IpAddr>,
    /// Parts that are not addresses.
    pub invalid: Vec<String>,
}

/// Reads a cell holding one or more IP addresses.
pub fn read_ip_cell(raw: &str) -> IpCell {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for part in split_addresses(raw) {
        match parse_ip(part) {
            Some(ip) if !valid.contains(&ip) => valid.push(ip),
            Some(_) => {}
            None => invalid.push(part.to_string()),
        }
    }
    let pos = valid.iter().position(|ip| !is_weak_ip(ip)).unwrap_or(0);
    let primary = if valid.is_empty() {
        None
    } else {
        Some(valid.remove(pos))
    };
    IpCell {
        primary,
        others: valid,
        invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ips() {
        assert_eq!(parse_ip("010.000.000.001").unwrap().to_string(), "10.0.0.1");
        assert_eq!(parse_ip("10.1.2.3/24").unwrap().to_string(), "10.1.2.3");
        assert_eq!(
            parse_ip("FE80:0000::0001%eth0").unwrap().to_string(),
            "fe80::1"
        );
        assert!(parse_ip("10.0.0.256").is_none());
        assert!(parse_ip("10.0.0").is_none());
        assert!(parse_ip("web01").is_none());
    }

    #[test]
    fn chooses_a_routable_primary() {
        let cell = read_ip_cell("127.0.0.1; 10.0.0.5, fe80::1");
        assert_eq!(cell.primary.unwrap().to_string(), "10.0.0.5");
        assert_eq!(cell.others.len(), 2);
    }

    #[test]
    fn parses_macs() {
        assert_eq!(parse_mac("AA-BB-CC-DD-EE-FF").unwrap(), "aa:bb:cc:dd:ee:ff");
        assert_eq!(parse_mac("aabb.ccdd.eeff").unwrap(), "aa:bb:cc:dd:ee:ff");
        assert_eq!(parse_mac("AABBCCDDEEFF").unwrap(), "aa:bb:cc:dd:ee:ff");
        assert!(parse_mac("aa:bb:cc:dd:ee").is_none());
        assert!(parse_mac("aab:bcc:dd:ee:ff:0").is_none());
    }
}
