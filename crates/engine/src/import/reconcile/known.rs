//! Fingerprints of identity keys and values, and the batch-local view of the assets a batch
//! of rows can match ([`Index`]). The import-wide key index lives in the database
//! ([`super::keys`]); a batch loads only the entries its rows' keys hit.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use modernize_ingest::attributes::AssetAttribute as A;
use modernize_ingest::identity::{IdentityKey, KeyKind};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

/// A 64-bit fingerprint of a tagged text.
fn fingerprint(tag: u8, text: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    h.write_u8(tag);
    h.write(text.as_bytes());
    h.finish()
}

/// The fingerprint of an identity key, as stored in the import's key index.
pub(super) fn key_fingerprint(key: &IdentityKey) -> i64 {
    fingerprint(key.kind as u8, &key.value) as i64
}

/// The fingerprint of a stored or supplied value: numbers equal to 9 significant digits
/// match (a size computed twice compares equal), other values by their JSON text.
fn value_fingerprint(value: &Json) -> u64 {
    match value {
        Json::Number(n) => match n.as_f64() {
            Some(x) => fingerprint(b'n', &format!("{x:.8e}")),
            None => fingerprint(b'n', &n.to_string()),
        },
        Json::String(s) => fingerprint(b's', s),
        other => fingerprint(b'j', &other.to_string()),
    }
}

/// The key of `raw_data` that holds the custom attributes.
const CUSTOM: &str = "custom_attributes";

/// The position of a column of the asset document in [`Known::values`].
fn column_slot(column: &str) -> Option<u8> {
    if column == "raw_data" {
        return Some(A::ALL.len() as u8);
    }
    A::ALL
        .iter()
        .position(|a| a.as_str() == column)
        .map(|i| i as u8)
}

/// The fingerprints of an asset's source id and FQDN keys, as first seen by the import.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Strong {
    pub source: Option<i64>,
    pub fqdn: Option<i64>,
}

impl Strong {
    pub fn of(keys: &[IdentityKey]) -> Strong {
        let of = |kind: KeyKind| keys.iter().find(|k| k.kind == kind).map(key_fingerprint);
        Strong {
            source: of(KeyKind::SourceId),
            fqdn: of(KeyKind::Fqdn),
        }
    }

    fn get(&self, kind: KeyKind) -> Option<i64> {
        match kind {
            KeyKind::SourceId => self.source,
            KeyKind::Fqdn => self.fqdn,
            _ => None,
        }
    }
}

/// An asset of the engagement as a batch sees it (stored, created earlier by this import, or
/// created by this batch).
pub(super) struct Known {
    pub id: Uuid,
    pub strong: Strong,
    /// Created by this import (a later row matching it leaves it "unchanged" in the report).
    pub created: bool,
    /// Created by this batch: written by an INSERT at the batch's end, not an UPDATE.
    pub new_here: bool,
    /// Fingerprints of its non-null attribute columns and `raw_data`, as they will be after
    /// this import's writes so far, sorted by column slot.
    values: Vec<(u8, u64)>,
    /// Its `raw_data` (source columns and `custom_attributes`) as it will be.
    raw: Map<String, Json>,
}

impl Known {
    pub fn new(id: Uuid, strong: Strong, created: bool, new_here: bool) -> Known {
        Known {
            id,
            strong,
            created,
            new_here,
            values: Vec::new(),
            raw: Map::new(),
        }
    }

    fn value(&self, slot: u8) -> Option<u64> {
        self.values
            .binary_search_by_key(&slot, |(s, _)| *s)
            .ok()
            .map(|i| self.values[i].1)
    }

    /// Whether any value of `doc` differs from the asset's.
    pub fn differs(&self, doc: &Map<String, Json>) -> bool {
        doc.iter().any(|(k, v)| match column_slot(k) {
            Some(slot) => v.is_null() || self.value(slot) != Some(value_fingerprint(v)),
            None => false,
        })
    }

    /// `raw_data` accumulates like the attribute columns: the source columns of `doc`'s
    /// `raw_data` are added to the asset's (a column it supplies replaces the value), those it
    /// does not supply are kept, and so are custom attributes (`custom_attributes`) by name.
    /// Rewrites `doc`'s `raw_data` to the accumulated document.
    pub fn accumulate_raw(&self, doc: &mut Map<String, Json>) {
        if self.raw.is_empty() {
            return;
        }
        let Some(Json::Object(supplied)) = doc.get_mut("raw_data") else {
            return;
        };
        let mut raw = self.raw.clone();
        for (k, v) in std::mem::take(supplied) {
            match (k.as_str(), v, raw.get_mut(CUSTOM)) {
                (CUSTOM, Json::Object(custom), Some(Json::Object(kept))) => kept.extend(custom),
                (_, v, _) => {
                    raw.insert(k, v);
                }
            }
        }
        *supplied = raw;
    }

    pub fn merge(&mut self, doc: &Map<String, Json>) {
        if let Some(Json::Object(raw)) = doc.get("raw_data") {
            self.raw = raw.clone();
        }
        for (k, v) in doc {
            let Some(slot) = column_slot(k) else { continue };
            if v.is_null() {
                continue;
            }
            let fp = value_fingerprint(v);
            match self.values.binary_search_by_key(&slot, |(s, _)| *s) {
                Ok(i) => self.values[i].1 = fp,
                Err(i) => self.values.insert(i, (slot, fp)),
            }
        }
    }

    pub fn has(&self, attr: A) -> bool {
        column_slot(attr.as_str()).is_some_and(|slot| self.value(slot).is_some())
    }
}

/// The assets a batch can match, by key fingerprint. Filled from the database entries of the
/// batch's keys; keys added while processing the batch are remembered in `fresh` so that
/// they reach the import's key index when the batch is written.
#[derive(Default)]
pub(super) struct Index {
    pub assets: Vec<Known>,
    by_key: HashMap<i64, u32>,
    by_id: HashMap<Uuid, u32>,
    pub fresh: Vec<(i64, u32)>,
}

impl Index {
    /// An entry of the import's key index (loaded, not fresh).
    pub fn load(&mut self, key: i64, id: Uuid, strong: Strong, created: bool) {
        let slot = match self.by_id.get(&id) {
            Some(s) => *s,
            None => self.push(Known::new(id, strong, created, false)),
        };
        self.by_key.entry(key).or_insert(slot);
    }

    pub fn push(&mut self, known: Known) -> u32 {
        let slot = self.assets.len() as u32;
        self.by_id.insert(known.id, slot);
        self.assets.push(known);
        slot
    }

    pub fn slot_of(&self, id: Uuid) -> Option<usize> {
        self.by_id.get(&id).map(|s| *s as usize)
    }

    /// Adds the keys an asset is found by (the first asset to claim a key keeps it).
    pub fn add(&mut self, keys: &[IdentityKey], slot: usize) {
        for k in keys {
            let fp = key_fingerprint(k);
            if let Entry::Vacant(e) = self.by_key.entry(fp) {
                e.insert(slot as u32);
                self.fresh.push((fp, slot as u32));
            }
        }
    }

    /// The first asset (in key precedence) found by `keys`, except that a weaker key never
    /// matches an asset whose source id or FQDN contradicts the row's (two VMs of the same
    /// name with different UUIDs stay two assets).
    pub fn find_consistent(&self, keys: &[IdentityKey]) -> Option<usize> {
        let own = Strong::of(keys);
        keys.iter().find_map(|k| {
            let slot = *self.by_key.get(&key_fingerprint(k))? as usize;
            let theirs = &self.assets[slot].strong;
            let conflict = [KeyKind::SourceId, KeyKind::Fqdn].iter().any(|kind| {
                *kind < k.kind
                    && match (own.get(*kind), theirs.get(*kind)) {
                        (Some(a), Some(b)) => a != b,
                        _ => false,
                    }
            });
            (!conflict).then_some(slot)
        })
    }
}
