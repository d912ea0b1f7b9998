//! Enumerated attributes: environment, business criticality, asset type, 6R strategy, and
//! booleans. Each parser returns the canonical value of the `migration.assets` CHECK
//! constraint, or `None` for a value it does not recognise.

/// Lower case, punctuation to spaces, single spaces: `" Pre-Prod "` → `"pre prod"`.
pub(crate) fn fold(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

fn lookup(table: &[(&'static str, &[&str])], raw: &str) -> Option<&'static str> {
    let folded = fold(raw);
    let compact: String = folded.chars().filter(|c| *c != ' ').collect();
    let same_without_spaces = |s: &str| s.bytes().filter(|b| *b != b' ').eq(compact.bytes());
    table.iter().find_map(|(canonical, synonyms)| {
        synonyms
            .iter()
            .any(|s| *s == folded || same_without_spaces(s))
            .then_some(*canonical)
    })
}

const ENVIRONMENTS: &[(&str, &[&str])] = &[
    (
        "production",
        &[
            "production",
            "prod",
            "prd",
            "live",
            "prod env",
            "production environment",
            "p",
        ],
    ),
    (
        "staging",
        &[
            "staging",
            "stage",
            "stg",
            "preprod",
            "pre prod",
            "pre production",
            "preproduction",
        ],
    ),
    (
        "test",
        &[
            "test",
            "testing",
            "tst",
            "qa",
            "uat",
            "user acceptance",
            "user acceptance testing",
            "sit",
            "quality",
            "quality assurance",
            "acceptance",
            "acc",
        ],
    ),
    (
        "development",
        &[
            "development",
            "dev",
            "develop",
            "sandbox",
            "sbx",
            "lab",
            "poc",
            "devtest",
        ],
    ),
    (
        "dr",
        &[
            "dr",
            "disaster recovery",
            "drp",
            "dr site",
            "recovery",
            "bcp",
            "failover",
        ],
    ),
];

/// `prod/prd/production/live` → production; `uat/qa/test/tst/sit` → test;
/// `stage/stg/staging/preprod` → staging; `dev/development/sandbox/lab` → development;
/// `dr/disaster recovery` → dr.
pub fn environment(raw: &str) -> Option<&'static str> {
    lookup(ENVIRONMENTS, raw)
}

const CRITICALITIES: &[(&str, &[&str])] = &[
    (
        "critical",
        &[
            "critical",
            "mission critical",
            "business critical",
            "tier 0",
            "tier 1",
            "tier0",
            "tier1",
            "t0",
            "t1",
            "p0",
            "p1",
            "sev1",
            "very high",
            "crit",
            "1 critical",
            "gold",
            "platinum",
        ],
    ),
    (
        "high",
        &[
            "high",
            "tier 2",
            "tier2",
            "t2",
            "p2",
            "important",
            "2 high",
            "silver",
            "hi",
        ],
    ),
    (
        "medium",
        &[
            "medium", "med", "moderate", "normal", "tier 3", "tier3", "t3", "p3", "3 medium",
            "bronze",
        ],
    ),
    (
        "low",
        &[
            "low",
            "tier 4",
            "tier4",
            "t4",
            "p4",
            "minor",
            "non critical",
            "noncritical",
            "4 low",
            "lo",
        ],
    ),
];

/// `tier 1/mission critical/p1/critical` → critical; `tier 2/p2/high` → high;
/// `tier 3/p3/medium/moderate` → medium; `tier 4/p4/low/non-critical` → low.
/// Bare numbers 1–4 are read as tiers.
pub fn criticality(raw: &str) -> Option<&'static str> {
    match raw.trim() {
        "1" => return Some("critical"),
        "2" => return Some("high"),
        "3" => return Some("medium"),
        "4" => return Some("low"),
        _ => {}
    }
    lookup(CRITICALITIES, raw)
}

/// Asset type and, when the value says more, a subtype: `"Virtual Machine"` → (`server`,
/// `virtual machine`). Accepts ServiceNow class names (`cmdb_ci_win_server`).
pub fn asset_type(raw: &str) -> Option<(&'static str, Option<&'static str>)> {
    let f = fold(raw);
    let has = |w: &str| f.split(' ').any(|t| t == w) || f.contains(w);
    let word = |w: &str| f.split(' ').any(|t| t == w);
    let out = if word("vm") || f.contains("virtual machine") || f.contains("vmware instance") {
        ("server", Some("virtual machine"))
    } else if has("physical") || has("bare metal") {
        ("server", Some("physical"))
    } else if has("database") || word("db") || has("db instance") || has("dbms") {
        ("database", None)
    } else if has("server") || word("host") || word("computer") || word("machine") {
        ("server", None)
    } else if has("appl") || word("app") || has("software") {
        ("application", None)
    } else if has("service") || word("api") {
        ("service", None)
    } else if [
        "network",
        "switch",
        "router",
        "firewall",
        "loadbalancer",
        "lb",
    ]
    .iter()
    .any(|w| word(w))
        || f.contains("load balancer")
    {
        ("network", None)
    } else if ["storage", "san", "nas", "array", "filer"]
        .iter()
        .any(|w| word(w) || f == *w)
    {
        ("storage", None)
    } else {
        return None;
    };
    Some(out)
}

const SIX_R: &[(&str, &[&str])] = &[
    (
        "rehost",
        &[
            "rehost",
            "re host",
            "lift and shift",
            "lift shift",
            "migrate",
            "move",
        ],
    ),
    (
        "replatform",
        &[
            "replatform",
            "re platform",
            "lift and reshape",
            "lift tinker and shift",
            "lift and optimize",
        ],
    ),
    (
        "refactor",
        &[
            "refactor",
            "re factor",
            "rearchitect",
            "re architect",
            "rebuild",
            "rewrite",
            "modernize",
        ],
    ),
    (
        "repurchase",
        &[
            "repurchase",
            "re purchase",
            "replace",
            "drop and shop",
            "saas",
        ],
    ),
    (
        "retire",
        &["retire", "decommission", "decom", "sunset", "remove"],
    ),
    ("retain", &["retain", "keep", "revisit", "stay", "remain"]),
];

/// `lift and shift` → rehost, `rearchitect` → refactor, `decommission` → retire, etc.
pub fn six_r(raw: &str) -> Option<&'static str> {
    lookup(SIX_R, raw)
}

/// `yes/no`, `y/n`, `true/false`, `1/0`, `on/off`, `enabled/disabled`, and VMware power
/// states `poweredOn`/`poweredOff`.
pub fn boolean(raw: &str) -> Option<bool> {
    match fold(raw).replace(' ', "").as_str() {
        "yes" | "y" | "true" | "t" | "1" | "on" | "enabled" | "poweredon" | "active" => Some(true),
        "no" | "n" | "false" | "f" | "0" | "off" | "disabled" | "poweredoff" | "inactive" => {
            Some(false)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerations() {
        assert_eq!(environment("Pre-Prod"), Some("staging"));
        assert_eq!(environment("UAT"), Some("test"));
        assert_eq!(environment("banana"), None);
        assert_eq!(criticality("Tier 1"), Some("critical"));
        assert_eq!(criticality("Mission-Critical"), Some("critical"));
        assert_eq!(asset_type("cmdb_ci_win_server"), Some(("server", None)));
        assert_eq!(asset_type("cmdb_ci_db_instance"), Some(("database", None)));
        assert_eq!(six_r("Lift & Shift"), Some("rehost"));
        assert_eq!(boolean("poweredOn"), Some(true));
    }
}
