//! Learning from users' corrections of column mappings.
//!
//! A correction (a mapping a user edited or rejected during the import review) is stored as an
//! `agent_learning_patterns` row of its client: `insight_type = 'field_mapping_suggestion'`,
//! `discovered_by = 'field_mapping_agent'`, `validated = true` (a person made it).
//!
//! - **Key.** A pattern is identified by its client, the *learning key* of the source column
//!   (`heuristics::normalize(header).learning_key()`: every word singularised and concatenated,
//!   so "Srv Name", "srv_name" and "SrvNames" share a key, and units stay distinct) and the
//!   corrected target (kind and name). Repeating the same correction strengthens that one row
//!   (`raw_evidence.evidence_count` + 1, the latest evidence replaces the previous one) instead
//!   of adding a row; a different correction of the same key is another row.
//! - **Embedding.** `normalise(0.8 · embed(header) + 0.2 · embed(sample values))` with the
//!   local deterministic embedder ([`modernize_ingest::embed`], 1536 dimensions). The header
//!   dominates, so the cosine with `embed(header)` alone stays high and a search by column name
//!   finds the pattern; the sample values separate columns with alike names but different
//!   contents. Without sample values it is `embed(header)`.
//! - **Hints.** [`mapping_hints`] gives, per learning key, the latest decision (by
//!   `raw_evidence.decided_at`), with a weight of 0.9 for one correction, +0.03 for each
//!   repetition (at most 0.99), −0.1 for each other target the same key was corrected to
//!   before (at least 0.6): a user who changed their mind sees the column again for review.
//!   Each hint carries its pattern's id as [`LearnedCorrection::reference`].
//! - **Usage.** An import whose proposed mapping applies a pattern (same or similar name)
//!   counts it: [`record_applied`] adds 1 to `applied_count` and sets `last_applied_at`, in the
//!   import's own transaction (a failed import counts nothing). When the import commits,
//!   [`record_outcomes`] sets `success_rate`: the share of the pattern's decided uses whose
//!   column was applied to the pattern's target rather than edited elsewhere or rejected.
//! - **Isolation.** Everything runs on the caller's connection, whose transaction must be
//!   scoped to the client (`modernize_db::tenant::begin`): row-level security applies on top of
//!   the `client_account_id` filter of every query, so patterns never cross clients.

use modernize_ingest::attributes::AssetAttribute;
use modernize_ingest::embed::embed;
use modernize_ingest::mapping::heuristics::normalize;
use modernize_ingest::mapping::{ColumnMapping, LearnedCorrection, Target};
use pgvector::Vector;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Insight type of mapping corrections.
pub const INSIGHT_TYPE: &str = "field_mapping_suggestion";
/// The agent whose proposals the corrections teach.
pub const DISCOVERED_BY: &str = "field_mapping_agent";
/// Sample values kept (and embedded) per correction, each at most [`MAX_SAMPLE_CHARS`].
pub const MAX_SAMPLES: usize = 5;
pub const MAX_SAMPLE_CHARS: usize = 100;
/// Import sessions remembered in the evidence of one pattern (the most recent).
const MAX_SESSIONS: usize = 20;

/// Weight of a correction made once.
pub const BASE_WEIGHT: f64 = 0.9;
const REPEAT_BONUS: f64 = 0.03;
const MAX_WEIGHT: f64 = 0.99;
const CONFLICT_PENALTY: f64 = 0.1;
const MIN_WEIGHT: f64 = 0.6;

/// A mapping target as stored: kind `attribute`, `custom` or `ignore`, and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTarget {
    pub kind: String,
    pub target: Option<String>,
}

impl StoredTarget {
    pub fn new(kind: &str, target: Option<&str>) -> Self {
        StoredTarget {
            kind: kind.to_string(),
            target: if kind == "ignore" {
                None
            } else {
                target.map(str::to_string)
            },
        }
    }

    /// The mapping target, when it is one the field-mapping agent knows.
    pub fn to_target(&self) -> Option<Target> {
        match (self.kind.as_str(), self.target.as_deref()) {
            ("attribute", Some(name)) => AssetAttribute::parse(name).map(Target::Attribute),
            ("custom", Some(name)) if !name.trim().is_empty() => {
                Some(Target::Custom(name.to_string()))
            }
            ("ignore", _) => Some(Target::Ignore),
            _ => None,
        }
    }
}

/// One user's correction of a proposed mapping.
#[derive(Debug, Clone)]
pub struct MappingCorrection {
    pub client_account_id: Uuid,
    pub engagement_id: Option<Uuid>,
    pub master_flow_id: Option<Uuid>,
    pub import_session_id: Option<Uuid>,
    /// The table (sheet) of the column.
    pub table: String,
    /// The header as read.
    pub source_column: String,
    /// A few values of the column (at most [`MAX_SAMPLES`] are kept).
    pub sample_values: Vec<String>,
    /// What the column was mapped to before the correction, with its confidence.
    pub proposed: StoredTarget,
    pub proposed_confidence: f64,
    /// What the user decided.
    pub corrected: StoredTarget,
    pub decided_by: Option<Uuid>,
}

/// The learning key of a header (see the module documentation).
pub fn learning_key(source_column: &str) -> String {
    normalize(source_column).learning_key()
}

/// The embedding of a correction: header and sample values (see the module documentation).
pub fn correction_embedding(source_column: &str, samples: &[String]) -> Vec<f32> {
    let name = embed(source_column);
    let joined = samples.join(" ");
    let values = embed(&joined);
    if values.iter().all(|x| *x == 0.0) {
        return name;
    }
    let mut v: Vec<f64> = name
        .iter()
        .zip(&values)
        .map(|(n, s)| 0.8 * f64::from(*n) + 0.2 * f64::from(*s))
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v.into_iter().map(|x| x as f32).collect()
}

fn clean_samples(samples: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in samples {
        let t: String = s.trim().chars().take(MAX_SAMPLE_CHARS).collect();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
        if out.len() == MAX_SAMPLES {
            break;
        }
    }
    out
}

/// The weight of a pattern confirmed `evidence` times, whose key was corrected to `conflicts`
/// other targets as well.
pub fn weight(evidence: i64, conflicts: usize) -> f64 {
    let w = (BASE_WEIGHT + REPEAT_BONUS * (evidence.max(1) - 1) as f64).min(MAX_WEIGHT);
    let w = (w - CONFLICT_PENALTY * conflicts as f64).max(MIN_WEIGHT);
    (w * 1000.0).round() / 1000.0
}

/// Records `c` as a learning pattern of its client (or strengthens the identical one); returns
/// the pattern's id. Runs on the caller's tenant-scoped transaction.
pub async fn record_mapping_correction(
    conn: &mut PgConnection,
    c: &MappingCorrection,
) -> Result<Uuid, sqlx::Error> {
    let key = learning_key(&c.source_column);
    let samples = clean_samples(&c.sample_values);
    let corrected = StoredTarget::new(&c.corrected.kind, c.corrected.target.as_deref());
    let proposed = StoredTarget::new(&c.proposed.kind, c.proposed.target.as_deref());
    let embedding = Vector::from(correction_embedding(&c.source_column, &samples));
    // Serialises writers of the same key of the same client (find-then-insert below).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("learning:{}:{key}", c.client_account_id))
        .execute(&mut *conn)
        .await?;
    let probe = json!({
        "learning_key": key,
        "corrected": {"kind": corrected.kind, "target": corrected.target},
    });
    let existing: Option<(Uuid, Value)> = sqlx::query_as(
        "SELECT id, raw_evidence FROM migration.agent_learning_patterns \
          WHERE client_account_id = $1 AND insight_type = $2 AND discovered_by = $3 \
            AND raw_evidence @> $4 \
          ORDER BY created_at LIMIT 1 FOR UPDATE",
    )
    .bind(c.client_account_id)
    .bind(INSIGHT_TYPE)
    .bind(DISCOVERED_BY)
    .bind(&probe)
    .fetch_optional(&mut *conn)
    .await?;
    let (evidence_count, mut sessions) = match &existing {
        Some((_, old)) => (
            old.get("evidence_count")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                + 1,
            old.get("import_session_ids")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        ),
        None => (1, Vec::new()),
    };
    if let Some(id) = c.import_session_id {
        let id = Value::String(id.to_string());
        sessions.retain(|s| *s != id);
        sessions.push(id);
        if sessions.len() > MAX_SESSIONS {
            sessions.drain(..sessions.len() - MAX_SESSIONS);
        }
    }
    let (now,): (chrono::DateTime<chrono::Utc>,) = sqlx::query_as("SELECT clock_timestamp()")
        .fetch_one(&mut *conn)
        .await?;
    let evidence = json!({
        "learning_key": key,
        "source_column": c.source_column,
        "sample_values": samples,
        "proposed": {
            "kind": proposed.kind,
            "target": proposed.target,
            "confidence": c.proposed_confidence,
        },
        "corrected": {"kind": corrected.kind, "target": corrected.target},
        "import_session_id": c.import_session_id,
        "import_session_ids": sessions,
        "table": c.table,
        "decided_by": c.decided_by,
        "decided_at": now.to_rfc3339(),
        "evidence_count": evidence_count,
    });
    let confidence = weight(evidence_count, 0);
    match existing {
        Some((id, _)) => {
            sqlx::query(
                "UPDATE migration.agent_learning_patterns \
                    SET raw_evidence = $3, embedding = $4, confidence_score = $5, \
                        validated = true, engagement_id = coalesce($6, engagement_id), \
                        master_flow_id = coalesce($7, master_flow_id) \
                  WHERE id = $1 AND client_account_id = $2",
            )
            .bind(id)
            .bind(c.client_account_id)
            .bind(&evidence)
            .bind(&embedding)
            .bind(confidence)
            .bind(c.engagement_id)
            .bind(c.master_flow_id)
            .execute(&mut *conn)
            .await?;
            Ok(id)
        }
        None => {
            let (id,): (Uuid,) = sqlx::query_as(
                "INSERT INTO migration.agent_learning_patterns \
                    (client_account_id, engagement_id, master_flow_id, insight_type, embedding, \
                     raw_evidence, confidence_score, discovered_by, validated) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true) RETURNING id",
            )
            .bind(c.client_account_id)
            .bind(c.engagement_id)
            .bind(c.master_flow_id)
            .bind(INSIGHT_TYPE)
            .bind(&embedding)
            .bind(&evidence)
            .bind(confidence)
            .bind(DISCOVERED_BY)
            .fetch_one(&mut *conn)
            .await?;
            Ok(id)
        }
    }
}

/// One stored correction pattern, as [`mapping_hints`] reads it.
#[derive(Debug, Clone)]
struct Pattern {
    id: Uuid,
    key: String,
    source_column: String,
    corrected: StoredTarget,
    evidence_count: i64,
}

/// The mapping corrections learned for this client, one per learning key: the latest decision,
/// weighted by its evidence (see the module documentation). Ordered by source column.
pub async fn mapping_hints(
    conn: &mut PgConnection,
    client_account_id: Uuid,
) -> Result<Vec<LearnedCorrection>, sqlx::Error> {
    let rows: Vec<(Uuid, Value)> = sqlx::query_as(
        "SELECT id, raw_evidence FROM migration.agent_learning_patterns \
          WHERE client_account_id = $1 AND insight_type = $2 AND discovered_by = $3 \
            AND validated AND (expires_at IS NULL OR expires_at > now()) \
          ORDER BY (raw_evidence->>'decided_at')::timestamptz DESC NULLS LAST, created_at DESC, id",
    )
    .bind(client_account_id)
    .bind(INSIGHT_TYPE)
    .bind(DISCOVERED_BY)
    .fetch_all(&mut *conn)
    .await?;
    // Latest first: the first pattern of a key decides, the others count as conflicts.
    let mut by_key: BTreeMap<String, (Pattern, usize)> = BTreeMap::new();
    for (id, evidence) in rows {
        let Ok(p) = parse_pattern(id, &evidence) else {
            continue;
        };
        match by_key.get_mut(&p.key) {
            Some((latest, conflicts)) => {
                if latest.corrected != p.corrected {
                    *conflicts += 1;
                }
            }
            None => {
                by_key.insert(p.key.clone(), (p, 0));
            }
        }
    }
    let mut out: Vec<LearnedCorrection> = by_key
        .into_values()
        .filter_map(|(p, conflicts)| {
            Some(LearnedCorrection {
                target: p.corrected.to_target()?,
                source_column: p.source_column,
                weight: weight(p.evidence_count, conflicts),
                reference: Some(p.id.to_string()),
            })
        })
        .collect();
    out.sort_by(|a, b| a.source_column.cmp(&b.source_column));
    Ok(out)
}

fn parse_pattern(id: Uuid, evidence: &Value) -> Result<Pattern, ()> {
    let source_column = evidence
        .get("source_column")
        .and_then(Value::as_str)
        .ok_or(())?
        .to_string();
    let key = evidence
        .get("learning_key")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| learning_key(&source_column));
    let corrected: StoredTarget =
        serde_json::from_value(evidence.get("corrected").cloned().ok_or(())?).map_err(|_| ())?;
    Ok(Pattern {
        id,
        key,
        source_column,
        corrected,
        evidence_count: evidence
            .get("evidence_count")
            .and_then(Value::as_i64)
            .unwrap_or(1),
    })
}

/// The client's correction patterns nearest to a column (cosine similarity of the stored
/// embeddings with [`correction_embedding`] of the column, through the HNSW index), best
/// first, with their similarity (0..1).
pub async fn nearest_corrections(
    conn: &mut PgConnection,
    client_account_id: Uuid,
    source_column: &str,
    sample_values: &[String],
    limit: i64,
) -> Result<Vec<(LearnedCorrection, f64)>, sqlx::Error> {
    let query = Vector::from(correction_embedding(
        source_column,
        &clean_samples(sample_values),
    ));
    let rows: Vec<(Uuid, Value, f64)> = sqlx::query_as(
        "SELECT id, raw_evidence, 1 - (embedding <=> $4) AS similarity \
           FROM migration.agent_learning_patterns \
          WHERE client_account_id = $1 AND insight_type = $2 AND discovered_by = $3 AND validated \
            AND (expires_at IS NULL OR expires_at > now()) \
          ORDER BY embedding <=> $4 LIMIT $5",
    )
    .bind(client_account_id)
    .bind(INSIGHT_TYPE)
    .bind(DISCOVERED_BY)
    .bind(&query)
    .bind(limit.clamp(1, 100))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, evidence, similarity)| {
            let p = parse_pattern(id, &evidence).ok()?;
            Some((
                LearnedCorrection {
                    target: p.corrected.to_target()?,
                    source_column: p.source_column,
                    weight: weight(p.evidence_count, 0),
                    reference: Some(p.id.to_string()),
                },
                similarity.clamp(0.0, 1.0),
            ))
        })
        .collect())
}

/// The patterns a proposal applies: the pattern ids of [`mapping_hints`] carried by the
/// proposed mappings, each once, in order.
pub fn applied_patterns(proposed: &[ColumnMapping]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = proposed
        .iter()
        .filter_map(|m| m.learned_reference.as_deref()?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Counts one use of every pattern the proposal applies (`applied_count` + 1,
/// `last_applied_at` now), on the caller's tenant-scoped transaction: the import that used
/// them. Returns how many patterns were counted.
pub async fn record_applied(
    conn: &mut PgConnection,
    client_account_id: Uuid,
    proposed: &[ColumnMapping],
) -> Result<u64, sqlx::Error> {
    let ids = applied_patterns(proposed);
    if ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query(
        "UPDATE migration.agent_learning_patterns \
            SET applied_count = coalesce(applied_count, 0) + 1, last_applied_at = now() \
          WHERE client_account_id = $1 AND id = ANY($2) AND insight_type = $3",
    )
    .bind(client_account_id)
    .bind(&ids)
    .bind(INSIGHT_TYPE)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Settles the outcomes of the learned patterns that proposed column mappings of the committed
/// import `import_id`: each pattern's `success_rate` becomes the share of its decided uses, over
/// every committed import of the client, whose column was applied to the pattern's target.
/// A use is decided once the column is approved, edited or rejected (a column left for review
/// by a one-shot import is not); it is overridden when a person sent the column elsewhere
/// (edited to another target, or rejected: ignored). Recomputed from the mappings, so it is
/// exact and the same however often it runs. Runs on the caller's tenant-scoped transaction.
pub async fn record_outcomes(
    conn: &mut PgConnection,
    client_account_id: Uuid,
    import_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH used AS ( \
             SELECT DISTINCT learned_pattern_id AS id FROM migration.import_column_mappings \
              WHERE import_session_id = $1 AND client_account_id = $2 \
                AND learned_pattern_id IS NOT NULL), \
         applied AS ( \
             SELECT m.learned_pattern_id AS id, \
                    CASE WHEN m.status = 'rejected' THEN 'ignore' ELSE m.target_kind END AS kind, \
                    CASE WHEN m.status = 'rejected' OR m.target_kind = 'ignore' THEN NULL \
                         ELSE m.target END AS target \
               FROM migration.import_column_mappings AS m \
               JOIN migration.import_sessions AS s \
                 ON s.id = m.import_session_id AND s.client_account_id = m.client_account_id \
              WHERE m.client_account_id = $2 AND m.learned_pattern_id IN (SELECT id FROM used) \
                AND m.status <> 'needs_review' AND s.status = 'committed'), \
         rates AS ( \
             SELECT a.id, avg(CASE WHEN a.kind = p.raw_evidence->'corrected'->>'kind' \
                                    AND a.target IS NOT DISTINCT FROM \
                                        p.raw_evidence->'corrected'->>'target' \
                                   THEN 1.0 ELSE 0.0 END)::float8 AS rate \
               FROM applied AS a JOIN migration.agent_learning_patterns AS p ON p.id = a.id \
              GROUP BY a.id) \
         UPDATE migration.agent_learning_patterns AS p SET success_rate = r.rate \
           FROM rates AS r \
          WHERE p.id = r.id AND p.client_account_id = $2 AND p.insight_type = $3",
    )
    .bind(import_id)
    .bind(client_account_id)
    .bind(INSIGHT_TYPE)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use modernize_ingest::embed::{EMBEDDING_DIM, cosine};

    #[test]
    fn weights_grow_with_evidence_and_shrink_with_conflicts() {
        assert_eq!(weight(1, 0), 0.9);
        assert_eq!(weight(2, 0), 0.93);
        assert_eq!(weight(100, 0), 0.99);
        assert_eq!(weight(1, 1), 0.8);
        assert_eq!(weight(1, 9), 0.6);
    }

    #[test]
    fn embedding_is_led_by_the_header() {
        let samples = vec!["web-01".to_string(), "db-02".to_string()];
        let v = correction_embedding("Srv Name", &samples);
        assert_eq!(v.len(), EMBEDDING_DIM);
        assert!(cosine(&v, &embed("srv_name")) > 0.9);
        assert!(cosine(&v, &embed("Owner E-mail")) < 0.5);
        assert_eq!(correction_embedding("Srv Name", &[]), embed("Srv Name"));
    }

    #[test]
    fn targets_round_trip() {
        assert_eq!(
            StoredTarget::new("attribute", Some("hostname")).to_target(),
            Some(Target::Attribute(AssetAttribute::Hostname))
        );
        assert_eq!(
            StoredTarget::new("ignore", Some("x")),
            StoredTarget::new("ignore", None)
        );
        assert_eq!(
            StoredTarget::new("attribute", Some("nope")).to_target(),
            None
        );
    }

    #[test]
    fn samples_are_trimmed_deduplicated_and_capped() {
        let s: Vec<String> = ["a", " a ", "", "b", "c", "d", "e", "f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(clean_samples(&s), vec!["a", "b", "c", "d", "e"]);
    }
}
