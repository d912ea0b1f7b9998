//! Combining evidence into candidates with a confidence and a reason, giving each attribute
//! to one column (greedy by evidence tier, then confidence, then column order), and naming
//! the columns that end up as custom attributes.

use std::collections::{HashMap, HashSet};

use super::content::ColumnProfile;
use super::heuristics::{self, HeaderMatch, NormalizedName};
use super::{ColumnMapping, Hints, MappingStatus, Target};
use crate::attributes::{AssetAttribute, ValueKind};
use crate::cleanse::size::{self, SizeUnit};

/// Candidates below this confidence are not assigned (the column stays custom).
pub const MIN_CANDIDATE: f64 = 0.4;
/// Confidence of "custom attribute" for a named column no attribute claimed.
pub const CUSTOM_CONFIDENCE: f64 = 0.9;

/// Evidence tiers: a higher tier wins over any confidence of a lower one.
const TIER_LEARNED: u8 = 3;
const TIER_LAYOUT: u8 = 2;
const TIER_SIMILAR: u8 = 1;
const TIER_HEURISTIC: u8 = 0;

#[derive(Debug, Clone)]
struct Candidate {
    column: usize,
    target: Target,
    tier: u8,
    score: f64,
    reason: String,
    /// The reference of the learned correction behind it.
    learned: Option<String>,
}

/// Header evidence `h` weighed with the share `r` of sampled values that fit the attribute:
/// `h·(0.7 + 0.3·r) + (1 − h)·0.5·r`. Values that all fit move the confidence halfway to 1;
/// values that never fit cut it by 30%.
pub fn combine(h: f64, r: f64) -> f64 {
    h * (0.7 + 0.3 * r) + (1.0 - h) * 0.5 * r
}

/// Content-only evidence: `strength · r · n/(n+1)` (few samples count less).
pub fn content_only(strength: f64, agreeing: usize, non_empty: usize) -> f64 {
    let r = agreeing as f64 / non_empty as f64;
    strength * r * non_empty as f64 / (non_empty as f64 + 1.0)
}

fn round3(x: f64) -> f64 {
    (x.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

fn content_note(profile: &ColumnProfile, attr: AssetAttribute) -> (Option<f64>, String) {
    match profile.agreement(attr) {
        Some((n, label)) => (
            Some(n as f64 / profile.non_empty as f64),
            format!(
                "; {n}/{} sampled values look like {label}",
                profile.non_empty
            ),
        ),
        None if profile.non_empty == 0 => (None, "; no values sampled".to_string()),
        None => (None, String::new()),
    }
}

/// Adjusts a header-level confidence with the values.
fn with_content(h: f64, profile: &ColumnProfile, attr: AssetAttribute) -> (f64, String) {
    let (r, note) = content_note(profile, attr);
    (r.map_or(h, |r| combine(h, r)), note)
}

pub(super) fn decide(
    headers: &[String],
    samples: &[Vec<Option<String>>],
    hints: &Hints,
) -> Vec<ColumnMapping> {
    let names: Vec<NormalizedName> = headers.iter().map(|h| heuristics::normalize(h)).collect();
    let profiles: Vec<ColumnProfile> = (0..headers.len())
        .map(|i| ColumnProfile::build(samples, i))
        .collect();

    let mut learned: HashMap<String, usize> = HashMap::new();
    for (i, l) in hints.learned.iter().enumerate() {
        let key = heuristics::normalize(&l.source_column).learning_key();
        let keep = learned
            .get(&key)
            .is_none_or(|&j| hints.learned[j].weight < l.weight);
        if keep {
            learned.insert(key, i);
        }
    }
    let mut layout: HashMap<String, (AssetAttribute, f64)> = HashMap::new();
    for (header, attr, conf) in &hints.layout {
        layout.insert(header.clone(), (*attr, *conf));
        layout
            .entry(heuristics::normalize(header).learning_key())
            .or_insert((*attr, *conf));
    }

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut best_weak: HashMap<usize, f64> = HashMap::new();
    for (i, header) in headers.iter().enumerate() {
        let name = &names[i];
        let profile = &profiles[i];
        let key = name.learning_key();
        if let Some(&j) = learned.get(&key) {
            let l = &hints.learned[j];
            candidates.push(Candidate {
                column: i,
                target: l.target.clone(),
                tier: TIER_LEARNED,
                score: l.weight,
                reason: format!(
                    "an earlier correction for this client maps '{}' to {}",
                    l.source_column, l.target
                ),
                learned: l.reference.clone(),
            });
        } else if let Some(sim) = hints.similarity
            && !key.is_empty()
        {
            let best = hints
                .learned
                .iter()
                .map(|l| (sim(header, &l.source_column), l))
                .filter(|(s, _)| *s >= hints.min_similarity)
                .max_by(|a, b| (a.0 * a.1.weight).total_cmp(&(b.0 * b.1.weight)));
            if let Some((s, l)) = best {
                candidates.push(Candidate {
                    column: i,
                    target: l.target.clone(),
                    tier: TIER_SIMILAR,
                    score: s * l.weight,
                    reason: format!(
                        "'{header}' resembles '{}' (similarity {s:.2}), which an earlier correction maps to {}",
                        l.source_column, l.target
                    ),
                    learned: l.reference.clone(),
                });
            }
        }
        if let Some(&(attr, conf)) = layout.get(header).or_else(|| layout.get(&key)) {
            let (score, note) = with_content(conf, profile, attr);
            candidates.push(Candidate {
                column: i,
                target: Target::Attribute(attr),
                tier: TIER_LAYOUT,
                score,
                reason: format!(
                    "the detected layout maps '{header}' to {}{note}",
                    attr.as_str()
                ),
                learned: None,
            });
        }
        let evidence = heuristics::header_evidence(name);
        for e in &evidence {
            let (score, note) = with_content(e.score, profile, e.attribute);
            let what = match (e.how, e.abbreviated) {
                (HeaderMatch::Synonym, false) => {
                    format!("is a synonym of {}", e.attribute.as_str())
                }
                (HeaderMatch::Synonym, true) => format!(
                    "reads as '{}' (abbreviations written out), a synonym of {}",
                    name.written_out(),
                    e.attribute.as_str()
                ),
                (HeaderMatch::Rule(label), false) => format!("mentions {label}"),
                (HeaderMatch::Rule(label), true) => format!(
                    "reads as '{}' (abbreviations written out) and mentions {label}",
                    name.written_out()
                ),
            };
            push_heuristic(
                &mut candidates,
                &mut best_weak,
                i,
                e.attribute,
                score,
                format!("header '{header}' {what}{note}"),
            );
        }
        if evidence.is_empty()
            && !heuristics::refers_to_other_system(name)
            && let Some((attr, strength, label)) = profile.rescue()
        {
            let agreeing = profile.agreement(attr).map_or(0, |(n, _)| n);
            let score = content_only(strength, agreeing, profile.non_empty);
            push_heuristic(
                &mut candidates,
                &mut best_weak,
                i,
                attr,
                score,
                format!(
                    "header '{header}' says nothing recognisable; {agreeing}/{} sampled values look like {label}",
                    profile.non_empty
                ),
            );
        }
    }

    candidates.sort_by(|a, b| {
        b.tier
            .cmp(&a.tier)
            .then(b.score.total_cmp(&a.score))
            .then(a.column.cmp(&b.column))
            .then(target_order(&a.target).cmp(&target_order(&b.target)))
    });

    let mut chosen: Vec<Option<Candidate>> = vec![None; headers.len()];
    let mut taken: HashMap<AssetAttribute, usize> = HashMap::new();
    let mut lost: HashMap<usize, (AssetAttribute, usize, f64)> = HashMap::new();
    for c in candidates {
        if chosen[c.column].is_some() {
            continue;
        }
        if let Target::Attribute(attr) = c.target {
            if let Some(&winner) = taken.get(&attr) {
                lost.entry(c.column).or_insert((attr, winner, c.score));
                continue;
            }
            taken.insert(attr, c.column);
        }
        let column = c.column;
        chosen[column] = Some(c);
    }

    let mut custom_names: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(headers.len());
    for (i, header) in headers.iter().enumerate() {
        let profile = &profiles[i];
        let mut learned_reference = None;
        let (target, confidence, mut reason) = match chosen[i].take() {
            Some(c) => {
                let target = match c.target {
                    Target::Custom(name) => Target::Custom(unique_name(&mut custom_names, name)),
                    other => other,
                };
                learned_reference = c.learned;
                (target, c.score, c.reason)
            }
            None if header.trim().is_empty() && profile.non_empty == 0 => (
                Target::Ignore,
                0.95,
                "empty header and no values sampled; ignored".to_string(),
            ),
            None => {
                let base = if names[i].words.is_empty() {
                    format!("column_{}", i + 1)
                } else {
                    names[i].snake()
                };
                let name = unique_name(&mut custom_names, base);
                let (confidence, reason) = custom_reason(
                    header,
                    &name,
                    &names[i],
                    lost.get(&i).map(|&(a, w, s)| (a, headers[w].as_str(), s)),
                    best_weak.get(&i).copied(),
                );
                (Target::Custom(name), confidence, reason)
            }
        };
        let unit = match &target {
            Target::Attribute(attr) if attr.kind() == ValueKind::SizeGb => {
                let (unit, note) = size_unit(&names[i], profile, *attr);
                reason.push_str(&note);
                unit
            }
            _ => None,
        };
        let confidence = round3(confidence);
        out.push(ColumnMapping {
            column: i,
            source_column: header.clone(),
            target,
            confidence,
            status: if confidence >= hints.threshold {
                MappingStatus::Approved
            } else {
                MappingStatus::NeedsReview
            },
            reason,
            unit,
            shape: profile.dominant().map(|(s, _)| s),
            learned_reference,
        });
    }
    out
}

fn push_heuristic(
    candidates: &mut Vec<Candidate>,
    best_weak: &mut HashMap<usize, f64>,
    column: usize,
    attr: AssetAttribute,
    score: f64,
    reason: String,
) {
    if score < MIN_CANDIDATE {
        let w = best_weak.entry(column).or_insert(0.0);
        *w = w.max(score);
        return;
    }
    candidates.push(Candidate {
        column,
        target: Target::Attribute(attr),
        tier: TIER_HEURISTIC,
        score,
        reason,
        learned: None,
    });
}

fn target_order(t: &Target) -> (u8, Option<AssetAttribute>) {
    match t {
        Target::Attribute(a) => (0, Some(*a)),
        Target::Custom(_) => (1, None),
        Target::Ignore => (2, None),
    }
}

fn unique_name(used: &mut HashSet<String>, base: String) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while used.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    used.insert(name.clone());
    name
}

/// Confidence and reason of a column kept as a custom attribute.
fn custom_reason(
    header: &str,
    name: &str,
    normalized: &NormalizedName,
    lost: Option<(AssetAttribute, &str, f64)>,
    weak: Option<f64>,
) -> (f64, String) {
    if let Some((attr, winner, score)) = lost {
        return (
            1.0 - 0.5 * score,
            format!(
                "{} was given to '{winner}', whose evidence is stronger; '{header}' kept as custom attribute '{name}'",
                attr.as_str()
            ),
        );
    }
    if let Some(w) = weak {
        return (
            (1.0 - w).min(CUSTOM_CONFIDENCE),
            format!(
                "only weak evidence for an asset attribute; '{header}' kept as custom attribute '{name}'"
            ),
        );
    }
    if normalized.words.is_empty() {
        return (
            0.6,
            format!("column without a header; kept as custom attribute '{name}'"),
        );
    }
    if heuristics::refers_to_other_system(normalized) {
        return (
            CUSTOM_CONFIDENCE,
            format!(
                "header '{header}' describes a related system, not the asset; kept as custom attribute '{name}'"
            ),
        );
    }
    (
        CUSTOM_CONFIDENCE,
        format!("no asset attribute matches header '{header}'; kept as custom attribute '{name}'"),
    )
}

/// Unit of bare numbers in a size column: the header's, else inferred from the median of the
/// sampled numbers; values written with their own unit ("16 GB") need none.
fn size_unit(
    name: &NormalizedName,
    profile: &ColumnProfile,
    attr: AssetAttribute,
) -> (Option<SizeUnit>, String) {
    if let Some(unit) = name.unit {
        return (
            Some(unit),
            format!("; values in {} (from the header)", unit.as_str()),
        );
    }
    let storage = attr == AssetAttribute::StorageGb;
    match profile.median_number() {
        Some(median) => {
            let unit = size::guess_unit(median, storage);
            (
                Some(unit),
                format!(
                    "; no unit in the header, numbers read as {} (median {median})",
                    unit.as_str()
                ),
            )
        }
        None => (None, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combination_is_monotonic() {
        assert!(combine(0.95, 1.0) > combine(0.95, 0.5));
        assert!(combine(0.95, 0.0) < 0.8);
        assert!((combine(0.9, 1.0) - 0.95).abs() < 1e-9);
        assert!(content_only(0.75, 50, 50) < 0.8);
    }
}
