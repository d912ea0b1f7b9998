//! Asset scores, both in 0..1: `completeness_score` (share of the attributes assessment needs
//! that are present, per asset type) and `confidence_score` (how much the values can be
//! trusted: mapping confidence, cleansing warnings, corroborating sources).

use crate::attributes::AssetAttribute as A;
use crate::cleanse::CleansedAsset;

/// One requirement: met when any of the attributes is present.
pub type Requirement = &'static [A];

/// What assessment (6R, sizing, wave planning) needs, per asset type.
pub fn requirements(asset_type: &str) -> &'static [Requirement] {
    match asset_type {
        "application" => &[
            &[A::AssetName],
            &[A::Environment],
            &[A::BusinessCriticality],
            &[A::TechnologyStack],
            &[A::BusinessOwner],
            &[A::TechnicalOwner],
            &[A::BusinessUnit],
            &[A::Dependencies],
            &[A::ApplicationVersion],
        ],
        "database" => &[
            &[A::AssetName],
            &[A::Hostname, A::Fqdn, A::IpAddress],
            &[A::TechnologyStack],
            &[A::Environment],
            &[A::BusinessCriticality],
            &[A::ApplicationName],
            &[A::BusinessOwner, A::TechnicalOwner],
            &[A::CpuCores],
            &[A::MemoryGb],
            &[A::StorageGb],
        ],
        "service" => &[
            &[A::AssetName],
            &[A::Environment],
            &[A::BusinessCriticality],
            &[A::TechnologyStack],
            &[A::BusinessOwner, A::TechnicalOwner],
            &[A::Dependencies],
        ],
        "network" => &[
            &[A::AssetName],
            &[A::Hostname, A::Fqdn, A::IpAddress],
            &[A::Datacenter],
            &[A::Environment],
            &[A::BusinessCriticality],
            &[A::TechnicalOwner],
        ],
        "storage" => &[
            &[A::AssetName],
            &[A::StorageGb],
            &[A::Datacenter],
            &[A::Environment],
            &[A::BusinessCriticality],
            &[A::TechnicalOwner],
        ],
        // "server" and anything unknown.
        _ => &[
            &[A::AssetName],
            &[A::Hostname, A::Fqdn, A::IpAddress],
            &[A::OsType],
            &[A::OsVersion],
            &[A::Environment],
            &[A::BusinessCriticality],
            &[A::CpuCores],
            &[A::MemoryGb],
            &[A::StorageGb],
            &[A::BusinessOwner, A::TechnicalOwner],
            &[A::ApplicationName],
        ],
    }
}

/// Completeness of an asset, with what is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Completeness {
    pub score: f64,
    /// Unmet requirements, as attribute names joined with "|" for alternatives.
    pub missing: Vec<String>,
}

/// Share of the requirements of the asset's type (server when unknown) that are met.
pub fn completeness(asset: &CleansedAsset) -> Completeness {
    let asset_type = asset.text(A::AssetType).unwrap_or("server");
    let reqs = requirements(asset_type);
    let missing: Vec<String> = reqs
        .iter()
        .filter(|r| !r.iter().any(|a| asset.has(*a)))
        .map(|r| r.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("|"))
        .collect();
    let score = round3(1.0 - missing.len() as f64 / reqs.len() as f64);
    Completeness { score, missing }
}

/// Each warning lowers confidence by this share, up to [`MAX_WARNING_PENALTY`].
pub const WARNING_PENALTY: f64 = 0.05;
pub const MAX_WARNING_PENALTY: f64 = 0.3;

/// `confidence = (1 − (1 − m)^s) × (1 − min(0.3, 0.05 × w))`, where `m` is the mean mapping
/// confidence of the columns that supplied the values (derived values count with their
/// source column's confidence), `s ≥ 1` the number of sources that agree on this asset, and
/// `w` the number of warnings. A rejected row, or one without values, scores 0.
pub fn confidence_from(mapping_confidences: &[f64], warnings: usize, sources: u32) -> f64 {
    if mapping_confidences.is_empty() {
        return 0.0;
    }
    let m = mapping_confidences.iter().sum::<f64>() / mapping_confidences.len() as f64;
    let s = sources.max(1) as i32;
    let corroborated = 1.0 - (1.0 - m.clamp(0.0, 1.0)).powi(s);
    let penalty = (WARNING_PENALTY * warnings as f64).min(MAX_WARNING_PENALTY);
    round3(corroborated * (1.0 - penalty))
}

/// [`confidence_from`] for one cleansed asset seen in `sources` sources.
pub fn confidence(asset: &CleansedAsset, sources: u32) -> f64 {
    if asset.is_rejected() {
        return 0.0;
    }
    let confidences: Vec<f64> = asset.provenance.values().map(|p| p.confidence).collect();
    confidence_from(&confidences, asset.warnings(), sources)
}

fn round3(x: f64) -> f64 {
    (x.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::ASSET_TYPES;

    #[test]
    fn every_asset_type_has_requirements_starting_with_the_name() {
        for t in ASSET_TYPES {
            assert_eq!(requirements(t)[0], &[A::AssetName][..], "{t}");
        }
    }

    #[test]
    fn confidence_formula() {
        assert_eq!(confidence_from(&[1.0], 0, 1), 1.0);
        assert_eq!(confidence_from(&[0.5], 0, 2), 0.75);
        assert_eq!(confidence_from(&[1.0], 100, 1), 0.7);
    }
}
