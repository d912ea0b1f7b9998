//! Header evidence: name normalisation (with common CMDB abbreviations written out), and
//! matching against the synonym table and token rules of `synonyms.rs` (vendor exports and
//! CMDB habits).
//!
//! A header is matched as written first. Only when its words as written are no synonym is it
//! matched with its abbreviations written out ("Srv Name" as "server name", "OS Ver" as "os
//! version"), at [`ABBREVIATION_PENALTY`] less than the full spelling. Words that say a column
//! describes another system count in either spelling ("Src IP" is the source's address).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::synonyms::{ABBREVIATIONS, FOREIGN, RULES, SYNONYMS};
use crate::attributes::AssetAttribute;
use crate::cleanse::size::{SizeUnit, unit_in_words};

/// A header broken into words.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedName {
    /// Lower-case words, camelCase split (`"RAM.TotalSizeInMB"` → ram total size in mb).
    pub words: Vec<String>,
    /// Words singularised, without stop words, units, percent markers and qualifiers.
    pub tokens: Vec<String>,
    /// `tokens` concatenated: the key of the synonym table (`"Server Name"`, `"server_name"`
    /// and `"ServerName"` all give `servername`).
    pub core: String,
    /// `tokens` with their abbreviations written out (`"Srv Mem"` → server, memory); equal to
    /// `tokens` when the header has none.
    pub expanded: Vec<String>,
    /// `expanded` concatenated.
    pub expanded_core: String,
    /// A size unit named in the header.
    pub unit: Option<SizeUnit>,
    /// The header says the values are percentages.
    pub percent: bool,
    /// The header names a maximum/peak/minimum rather than the typical value.
    pub extreme: bool,
}

impl NormalizedName {
    /// The key used to match learned corrections: every word, singularised, concatenated
    /// (units kept, so "RAM (GB)" and "RAM (MB)" stay distinct).
    pub fn learning_key(&self) -> String {
        self.words.iter().map(|w| singular(w)).collect()
    }

    /// snake_case name for a custom attribute (`"Video Ram KiB"` → `video_ram_kib`).
    pub fn snake(&self) -> String {
        self.words.join("_")
    }

    /// Whether the header has abbreviations (its written-out words differ).
    pub fn abbreviated(&self) -> bool {
        self.expanded != self.tokens
    }

    /// The header's words with abbreviations written out, e.g. "server name".
    pub fn written_out(&self) -> String {
        self.expanded.join(" ")
    }

    /// Whether the header has `token`, as written or written out.
    fn mentions(&self, token: &str) -> bool {
        self.tokens.iter().chain(&self.expanded).any(|t| t == token)
    }
}

/// How much less a match counts when it needs the header's abbreviations written out.
pub const ABBREVIATION_PENALTY: f64 = 0.05;

/// The words an abbreviation stands for (the word itself when it is none).
fn expand(token: &str) -> Vec<String> {
    match ABBREVIATIONS.iter().find(|(abbr, _)| *abbr == token) {
        Some((_, words)) => words.iter().map(|w| w.to_string()).collect(),
        None => vec![token.to_string()],
    }
}

/// Mixed-case fragments that camelCase splitting would break apart.
const PROTECTED: &[(&str, &str)] = &[
    ("ipv4", " ipv4 "),
    ("ipv6", " ipv6 "),
    ("vcpu", " vcpu "),
    ("vcenter", " vcenter "),
    ("vmware", " vmware "),
    ("vram", " vram "),
];

const STOP_WORDS: &[&str] = &[
    "in", "the", "of", "a", "an", "to", "is", "avg", "average", "mean",
];
const PERCENT_WORDS: &[&str] = &["pct", "percent", "percentage"];
const EXTREME_WORDS: &[&str] = &["max", "maximum", "peak", "min", "minimum", "p95", "p99"];

/// Normalises a header: see [`NormalizedName`].
pub fn normalize(header: &str) -> NormalizedName {
    let mut text = header.to_string();
    for (needle, repl) in PROTECTED {
        if let Some(at) = text.to_ascii_lowercase().find(needle) {
            text.replace_range(at..at + needle.len(), repl);
        }
    }
    let words = split_words(&text);
    let unit = unit_in_words(words.iter().map(String::as_str));
    let percent = header.contains('%') || words.iter().any(|w| PERCENT_WORDS.contains(&w.as_str()));
    let extreme = words.iter().any(|w| EXTREME_WORDS.contains(&w.as_str()));
    let tokens: Vec<String> = words
        .iter()
        .filter(|w| {
            let w = w.as_str();
            let noise = STOP_WORDS.contains(&w)
                || PERCENT_WORDS.contains(&w)
                || EXTREME_WORDS.contains(&w)
                || (w.len() > 1 && SizeUnit::parse(w).is_some());
            !noise
        })
        .map(|w| singular(w))
        .collect();
    let core = tokens.concat();
    let expanded: Vec<String> = tokens.iter().flat_map(|t| expand(t)).collect();
    let expanded_core = expanded.concat();
    NormalizedName {
        words,
        tokens,
        core,
        expanded,
        expanded_core,
        unit,
        percent,
        extreme,
    }
}

/// Splits on punctuation and camelCase, lower-cases, and rejoins binary unit suffixes
/// (`"GiB"` would otherwise split into `gi`, `b`).
fn split_words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if !cur.is_empty() && c.is_uppercase() {
            let prev = chars[i - 1];
            // "IPAddress" splits before the A; "CPUs", "NICs" keep their plural s.
            let plural_s = chars.get(i + 1) == Some(&'s')
                && chars.get(i + 2).is_none_or(|n| !n.is_lowercase());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase()) && !plural_s;
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                words.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut merged: Vec<String> = Vec::with_capacity(words.len());
    for w in words {
        // "vCPUs" → "vcpu" + "s" after protection: rejoin the plural.
        if w == "s"
            && let Some(last) = merged.last_mut()
        {
            last.push('s');
            continue;
        }
        if w == "b"
            && let Some(last) = merged.last_mut()
            && matches!(
                last.as_str(),
                "ki" | "mi" | "gi" | "ti" | "pi" | "k" | "m" | "g" | "t"
            )
        {
            last.push('b');
            continue;
        }
        merged.push(w);
    }
    merged
}

/// Naive English singular: addresses → address, dependencies → dependency, cpus → cpu.
pub fn singular(word: &str) -> String {
    if word.len() > 4 && word.ends_with("sses") {
        word[..word.len() - 2].to_string()
    } else if word.len() > 4 && word.ends_with("ies") {
        format!("{}y", &word[..word.len() - 3])
    } else if word.len() > 3
        && word.ends_with('s')
        && !word.ends_with("ss")
        && (!word.ends_with("us") || word.ends_with("pus"))
    {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

/// How a header matched an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMatch {
    /// The whole header is a listed synonym.
    Synonym,
    /// The header's words satisfy a rule (the label says what it mentions).
    Rule(&'static str),
}

/// One attribute a header may mean, with the strength of the header evidence (0..1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeaderEvidence {
    pub attribute: AssetAttribute,
    pub score: f64,
    pub how: HeaderMatch,
    /// The match needed the header's abbreviations written out.
    pub abbreviated: bool,
}

use AssetAttribute as A;

type SynonymTable = HashMap<String, Vec<(AssetAttribute, f64)>>;

fn synonym_table_by(key: fn(NormalizedName) -> String) -> SynonymTable {
    let mut map: SynonymTable = HashMap::new();
    for (attr, score, names) in SYNONYMS {
        for name in *names {
            // The first (strongest) listing of an attribute counts.
            let entry = map.entry(key(normalize(name))).or_default();
            if !entry.iter().any(|(a, _)| a == attr) {
                entry.push((*attr, *score));
            }
        }
    }
    map
}

/// Synonyms by their words as written.
fn synonym_table() -> &'static SynonymTable {
    static TABLE: OnceLock<SynonymTable> = OnceLock::new();
    TABLE.get_or_init(|| synonym_table_by(|n| n.core))
}

/// Synonyms by their words written out ("dc" and "datacenter" are one key).
fn expanded_synonym_table() -> &'static SynonymTable {
    static TABLE: OnceLock<SynonymTable> = OnceLock::new();
    TABLE.get_or_init(|| synonym_table_by(|n| n.expanded_core))
}

/// A token rule: every group must have a token present, no `none` token may be present.
pub(super) struct Rule {
    pub(super) attribute: AssetAttribute,
    pub(super) all: &'static [&'static [&'static str]],
    pub(super) none: &'static [&'static str],
    pub(super) score: f64,
    pub(super) label: &'static str,
}

/// Whether the header names something other than the asset itself (see `synonyms::FOREIGN`); the
/// core "host" alone is the hypervisor host in virtualisation exports.
pub fn refers_to_other_system(name: &NormalizedName) -> bool {
    name.core == "host" || name.expanded_core == "host" || FOREIGN.iter().any(|t| name.mentions(t))
}

impl Rule {
    /// Whether `tokens` satisfy every group, and the header (in either spelling) has none of
    /// the excluded words.
    fn matches(&self, tokens: &[String], name: &NormalizedName) -> bool {
        self.all
            .iter()
            .all(|group| group.iter().any(|g| tokens.iter().any(|t| t == g)))
            && !self.none.iter().any(|t| name.mentions(t))
    }
}

/// Every attribute the header may mean, strongest first, one entry per attribute.
pub fn header_evidence(name: &NormalizedName) -> Vec<HeaderEvidence> {
    let mut out: Vec<HeaderEvidence> = Vec::new();
    let penalty = if name.extreme { 0.1 } else { 0.0 };
    let literal = synonym_table().get(&name.core);
    let (found, abbreviated) = match literal {
        Some(found) => (Some(found), false),
        None if name.abbreviated() => (expanded_synonym_table().get(&name.expanded_core), true),
        None => (None, false),
    };
    for (attribute, score) in found.into_iter().flatten() {
        out.push(HeaderEvidence {
            attribute: *attribute,
            score: score
                - penalty
                - if abbreviated {
                    ABBREVIATION_PENALTY
                } else {
                    0.0
                },
            how: HeaderMatch::Synonym,
            abbreviated,
        });
    }
    // "Disks" / "NICs" without a unit count devices (RVTools); "Disk (TB)" is a size.
    if name.unit.is_none() && name.words.iter().any(|w| w == "disks") {
        out.retain(|e| e.attribute != A::StorageGb);
    }
    let numbered = name
        .tokens
        .iter()
        .any(|t| t.bytes().all(|b| b.is_ascii_digit()));
    for rule in RULES {
        if out.iter().any(|e| e.attribute == rule.attribute)
            || (rule.attribute == A::StorageGb
                && name.unit.is_none()
                && name.words.iter().any(|w| w == "disks"))
        {
            continue;
        }
        let abbreviated = if rule.matches(&name.tokens, name) {
            false
        } else if name.abbreviated() && rule.matches(&name.expanded, name) {
            true
        } else {
            continue;
        };
        let mut score = rule.score - penalty;
        if numbered {
            score -= 0.15;
        }
        if abbreviated {
            score -= ABBREVIATION_PENALTY;
        }
        out.push(HeaderEvidence {
            attribute: rule.attribute,
            score,
            how: HeaderMatch::Rule(rule.label),
            abbreviated,
        });
    }
    // Percent attributes need a percent header or utilisation words; a size header is
    // never a percentage and vice versa.
    out.retain(|e| match e.attribute.kind() {
        crate::attributes::ValueKind::SizeGb => !name.percent,
        _ => true,
    });
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.attribute.cmp(&b.attribute))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_headers() {
        for h in [
            "Server Name",
            "server_name",
            "ServerName",
            "SERVER-NAME",
            "*Server name",
        ] {
            assert_eq!(normalize(h).core, "servername", "{h}");
        }
        let n = normalize("TotalDiskAllocatedGiB");
        assert_eq!(n.words, ["total", "disk", "allocated", "gib"]);
        assert_eq!(n.unit, Some(SizeUnit::Gb));
        assert_eq!(normalize("RAM.TotalSizeInMB").core, "ramtotalsize");
        assert_eq!(normalize("IPAddress").core, "ipaddress");
        assert_eq!(normalize("vCPUs").core, "vcpu");
        assert_eq!(normalize("CPUs").core, "cpu");
        assert_eq!(normalize("NICs").words, ["nics"]);
        assert_eq!(normalize("IPv4 Address").core, "ipv4address");
        assert!(normalize("CPU.UsagePct.Max").extreme);
    }

    #[test]
    fn abbreviations_are_written_out() {
        let n = normalize("SrvName");
        assert_eq!(n.core, "srvname", "the key as written is kept");
        assert_eq!(n.expanded, ["server", "name"]);
        assert!(n.abbreviated());
        assert_eq!(normalize("IPAddr").written_out(), "ip address");
        assert_eq!(normalize("HostNm").expanded_core, "hostname");
        assert_eq!(normalize("OS_VER").expanded_core, "osversion");
        assert_eq!(normalize("Apps").expanded, ["application"]);
        assert_eq!(
            normalize("CI Class").written_out(),
            "configuration item class"
        );
        let plain = normalize("Server Name");
        assert!(!plain.abbreviated());
        assert_eq!(plain.expanded, plain.tokens);
    }

    #[test]
    fn synonyms_and_rules() {
        let top = |h: &str| header_evidence(&normalize(h)).first().map(|e| e.attribute);
        assert_eq!(top("Memory (In MB)"), Some(A::MemoryGb));
        assert_eq!(top("RAM.UsedSizeInMB.Avg"), None);
        assert_eq!(top("Disk 1 read throughput (MB per second)"), None);
        assert_eq!(top("CPU.UsagePct.Avg"), Some(A::CpuUtilizationPercent));
        assert_eq!(top("Destination IP"), None);
        assert_eq!(top("cpu_speed"), None);
        // Written out only when the header as written is no synonym, a little weaker.
        let srv = header_evidence(&normalize("Srv Name"));
        assert_eq!(srv[0].attribute, A::AssetName);
        assert!(srv[0].abbreviated);
        assert!((srv[0].score - (0.95 - ABBREVIATION_PENALTY)).abs() < 1e-9);
        let env = header_evidence(&normalize("Env"));
        assert!(!env[0].abbreviated, "'env' is a synonym as written");
        assert!((env[0].score - 0.95).abs() < 1e-9);
        // A word that names another system counts in either spelling.
        assert_eq!(top("Src IP"), None);
        assert_eq!(top("Dst Hst"), None);
        assert!(refers_to_other_system(&normalize("Hst")));
    }
}
