//! Operating systems: family and a normalised product/version from messy values such as
//! "Microsoft Windows Server 2019 (64-bit)", "win2k16", "RHEL7.9", "SLES 12 SP5" or
//! "CentOS 4/5 or later (64-bit)".

use serde::{Deserialize, Serialize};

/// Operating system family (the value stored in `os_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OsFamily {
    Windows,
    Linux,
    Unix,
    Aix,
    Solaris,
    HpUx,
    MacOs,
    Other,
}

impl OsFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Windows => "windows",
            OsFamily::Linux => "linux",
            OsFamily::Unix => "unix",
            OsFamily::Aix => "aix",
            OsFamily::Solaris => "solaris",
            OsFamily::HpUx => "hp-ux",
            OsFamily::MacOs => "macos",
            OsFamily::Other => "other",
        }
    }
}

/// What was recognised in an operating-system value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsInfo {
    pub family: OsFamily,
    /// Canonical product name, e.g. "Windows Server", "Red Hat Enterprise Linux".
    pub product: &'static str,
    /// Version as written, normalised: "2019", "2008 R2", "7.9", "12 SP5", "4/5".
    pub version: Option<String>,
}

impl OsInfo {
    /// Whether the value said more than the family: a product ("Ubuntu") or a version
    /// ("Windows 2019"), not only "Linux" or "Windows".
    pub fn names_a_product(&self) -> bool {
        self.version.is_some() || !matches!(self.product, "Linux" | "Windows" | "Unix")
    }

    /// The value stored in `os_version`: product and version, e.g. "Windows Server 2019".
    pub fn display(&self) -> String {
        match &self.version {
            Some(v) => format!("{} {v}", self.product),
            None => self.product.to_string(),
        }
    }
}

/// Products other than Windows, most specific first: (needles, family, canonical name).
const PRODUCTS: &[(&[&str], OsFamily, &str)] = &[
    (&["red hat fedora", "fedora"], OsFamily::Linux, "Fedora"),
    (
        &[
            "red hat enterprise linux",
            "redhat enterprise linux",
            "rhel",
            "red hat",
            "redhat",
        ],
        OsFamily::Linux,
        "Red Hat Enterprise Linux",
    ),
    (&["centos"], OsFamily::Linux, "CentOS"),
    (&["rocky"], OsFamily::Linux, "Rocky Linux"),
    (&["almalinux", "alma linux"], OsFamily::Linux, "AlmaLinux"),
    (
        &["oracle linux", "oracle enterprise linux", "oel"],
        OsFamily::Linux,
        "Oracle Linux",
    ),
    (&["opensuse"], OsFamily::Linux, "openSUSE"),
    (
        &["suse linux enterprise", "sles", "suse"],
        OsFamily::Linux,
        "SUSE Linux Enterprise Server",
    ),
    (&["ubuntu"], OsFamily::Linux, "Ubuntu"),
    (&["debian"], OsFamily::Linux, "Debian"),
    (&["amazon linux"], OsFamily::Linux, "Amazon Linux"),
    (&["photon"], OsFamily::Linux, "VMware Photon OS"),
    (&["coreos"], OsFamily::Linux, "CoreOS"),
    (&["alpine"], OsFamily::Linux, "Alpine Linux"),
    (&["linux", "lnx"], OsFamily::Linux, "Linux"),
    (&["aix"], OsFamily::Aix, "AIX"),
    (&["solaris", "sunos"], OsFamily::Solaris, "Solaris"),
    (&["hp-ux", "hpux", "hp ux"], OsFamily::HpUx, "HP-UX"),
    (&["freebsd"], OsFamily::Unix, "FreeBSD"),
    (&["openbsd"], OsFamily::Unix, "OpenBSD"),
    (&["netbsd"], OsFamily::Unix, "NetBSD"),
    (
        &["mac os", "macos", "os x", "osx", "darwin"],
        OsFamily::MacOs,
        "macOS",
    ),
    (&["unix", "tru64", "sco"], OsFamily::Unix, "Unix"),
    (&["esxi", "vmware esx"], OsFamily::Other, "VMware ESXi"),
    (&["netware"], OsFamily::Other, "NetWare"),
    (&["z/os", "zos"], OsFamily::Other, "z/OS"),
    (&["os/400", "ibm i"], OsFamily::Other, "IBM i"),
];

/// Noise removed before matching.
const NOISE: &[&str] = &[
    "(64-bit)",
    "(32-bit)",
    "64-bit",
    "32-bit",
    "64 bit",
    "32 bit",
    "x86_64",
    "x86-64",
    "x64",
    "x86",
    "amd64",
    "(r)",
    "(tm)",
    "®",
    "™",
    "microsoft",
    "or later",
];

/// Whether the version number `bare` continues `written` at a component boundary: "8.6"
/// continues "8", "15 SP4" continues "15"; "10.0.17763" does not continue "2019".
pub fn version_continues(bare: &str, written: &str) -> bool {
    let (bare, written) = (bare.to_ascii_lowercase(), written.to_ascii_lowercase());
    bare == written
        || bare
            .strip_prefix(&written)
            .is_some_and(|rest| rest.starts_with(['.', ' ']))
}

/// The Windows Server release of a build number ("10.0.17763" → "2019"); `None` for builds
/// not listed (client releases share build numbers, so this is for servers only).
pub fn windows_server_release(build: &str) -> Option<&'static str> {
    const RELEASES: &[(&str, &str)] = &[
        ("6.0.6001", "2008"),
        ("6.0.6002", "2008"),
        ("6.0.6003", "2008"),
        ("6.1.7600", "2008 R2"),
        ("6.1.7601", "2008 R2"),
        ("6.2.9200", "2012"),
        ("6.3.9600", "2012 R2"),
        ("10.0.14393", "2016"),
        ("10.0.17763", "2019"),
        ("10.0.20348", "2022"),
        ("10.0.26100", "2025"),
    ];
    RELEASES
        .iter()
        .find(|(prefix, _)| version_continues(build, prefix))
        .map(|(_, release)| *release)
}

/// Recognises an operating system value; `None` when no known product or family appears
/// (including version-only values such as "10.0.17763").
pub fn parse_os(raw: &str) -> Option<OsInfo> {
    let mut s = raw.trim().to_lowercase();
    for n in NOISE {
        if s.contains(n) {
            s = s.replace(n, " ");
        }
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s == "lin" {
        return Some(OsInfo {
            family: OsFamily::Linux,
            product: "Linux",
            version: None,
        });
    }
    if let Some(at) = find_windows(&s) {
        return Some(windows(&s[at..]));
    }
    for (needles, family, product) in PRODUCTS {
        for needle in *needles {
            if let Some(at) = find_word_start(&s, needle) {
                let rest = &s[at + needle.len()..];
                return Some(OsInfo {
                    family: *family,
                    product,
                    version: version_token(rest),
                });
            }
        }
    }
    None
}

/// Byte offset of `needle` in `s` where it is a word of its own: preceded by the start or a
/// non-alphanumeric character, followed by the end, a digit or a non-letter ("rhel7" and
/// "rhel 7" match, "scottish" does not match "sco").
fn find_word_start(s: &str, needle: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(needle) {
        let at = from + i;
        let before = s[..at].chars().next_back();
        let after = s[at + needle.len()..].chars().next();
        if before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphabetic()) {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

/// Where a Windows name starts: "windows", "w2k8", or "win" followed by a version or "srv"
/// ("win2k16", "win10", "winsrv2019"), but not words such as "winter".
fn find_windows(s: &str) -> Option<usize> {
    if let Some(at) = find_word_start(s, "windows").or_else(|| find_word_start(s, "w2k")) {
        return Some(at);
    }
    let mut from = 0;
    while let Some(i) = s[from..].find("win") {
        let at = from + i;
        let before = s[..at].chars().next_back();
        let rest = &s[at + 3..];
        if before.is_none_or(|c| !c.is_alphanumeric())
            && (rest.is_empty()
                || rest.starts_with(|c: char| c.is_ascii_digit() || c == ' ')
                || rest.starts_with("srv")
                || rest.starts_with("server"))
        {
            return Some(at);
        }
        from = at + 3;
    }
    None
}

fn windows(s: &str) -> OsInfo {
    let r2 = s.contains("r2");
    let mut version: Option<String> = None;
    if let Some(i) = s.find("2k") {
        let digits: String = s[i + 2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        version = Some(match digits.len() {
            0 => "2000".to_string(),
            1 => format!("200{digits}"),
            _ => format!("20{}", &digits[..2]),
        });
    }
    if version.is_none() {
        version = numbers(s).find(|n| n.len() == 4 && (n.starts_with("19") || n.starts_with("20")));
    }
    let server = s.contains("server") || s.contains("srv") || version.is_some();
    if version.is_none() {
        version = if s.contains("xp") {
            Some("XP".to_string())
        } else if s.contains("vista") {
            Some("Vista".to_string())
        } else {
            numbers(s).next()
        };
    }
    let version = version.map(|v| if r2 && server { format!("{v} R2") } else { v });
    OsInfo {
        family: OsFamily::Windows,
        product: if server { "Windows Server" } else { "Windows" },
        version,
    }
}

/// Runs of digits and dots in `s`, in order.
fn numbers(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

/// The first version-like token of `rest` ("8", "7.9", "2.6.x", "4/5"), with a following
/// service pack ("12 SP5").
fn version_token(rest: &str) -> Option<String> {
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let tail = &rest[start..];
    let len = tail
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '/' || c == 'x'))
        .unwrap_or(tail.len());
    let mut version = tail[..len].trim_end_matches(['.', '/']).to_string();
    let after = tail[len..].trim_start();
    let sp = after
        .strip_prefix("service pack")
        .or_else(|| after.strip_prefix("sp"))
        .map(str::trim_start);
    if let Some(sp) = sp {
        let n: String = sp.chars().take_while(char::is_ascii_digit).collect();
        if !n.is_empty() {
            version.push_str(" SP");
            version.push_str(&n);
        }
    }
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(raw: &str) -> (String, &'static str) {
        let os = parse_os(raw).unwrap_or_else(|| panic!("{raw} not recognised"));
        (os.display(), os.family.as_str())
    }

    #[test]
    fn messy_values() {
        assert_eq!(
            d("Microsoft Windows Server 2019 (64-bit)"),
            ("Windows Server 2019".into(), "windows")
        );
        assert_eq!(
            d("Microsoft Windows Server 2008 R2 (64-bit)"),
            ("Windows Server 2008 R2".into(), "windows")
        );
        assert_eq!(d("win2k16"), ("Windows Server 2016".into(), "windows"));
        assert_eq!(d("W2K8R2"), ("Windows Server 2008 R2".into(), "windows"));
        assert_eq!(
            d("Microsoft Windows 10 (64-bit)"),
            ("Windows 10".into(), "windows")
        );
        assert_eq!(
            d("RHEL7.9"),
            ("Red Hat Enterprise Linux 7.9".into(), "linux")
        );
        assert_eq!(
            d("SLES 12 SP5"),
            ("SUSE Linux Enterprise Server 12 SP5".into(), "linux")
        );
        assert_eq!(
            d("CentOS 4/5 or later (64-bit)"),
            ("CentOS 4/5".into(), "linux")
        );
        assert_eq!(d("Other 2.6.x Linux (64-bit)"), ("Linux".into(), "linux"));
        assert_eq!(d("Darwin 19"), ("macOS 19".into(), "macos"));
        assert!(parse_os("10.0.17763").is_none());
        assert!(parse_os("Other (32-bit)").is_none());
    }
}
