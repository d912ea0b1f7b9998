//! The relation roles of a relationship file's columns as people decided them: which roles a
//! column may be given (those the relationship processor reads), and the processor of a
//! reviewed relationship file built from the decisions.
//!
//! Relation roles are stored in `import_column_mappings` as `target_kind = 'attribute'` with
//! the role as `target` (the column's stored kind, see `MappingRow::stored_kind`).

use modernize_ingest::layout::{DetectionKind, RelationField};

use super::ImportError;
use super::plan::{Decision, Processor, TablePlan};

/// The roles a column of a relationship file may be given: those the relationship processor
/// reads. The layouts also name other columns (timestamps, processes, applications); those
/// are kept as proposed but cannot be chosen.
pub const RELATION_ROLES: [RelationField; 6] = [
    RelationField::Source,
    RelationField::Target,
    RelationField::TargetIp,
    RelationField::Type,
    RelationField::Strength,
    RelationField::Port,
];

/// The name of a relation role as the API and the stored mappings write it (`target_ip`).
pub fn role_name(field: RelationField) -> String {
    serde_json::to_value(field)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The relation field named `name` (any field of the layouts).
pub fn parse_role(name: &str) -> Option<RelationField> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// Whether a column may be given the role `name` (see [`RELATION_ROLES`]).
pub fn is_editable_role(name: &str) -> bool {
    parse_role(name).is_some_and(|f| RELATION_ROLES.contains(&f))
}

/// The names of [`RELATION_ROLES`], for messages.
pub fn editable_role_names() -> Vec<String> {
    RELATION_ROLES.into_iter().map(role_name).collect()
}

/// The processor of a reviewed import: for a relationship file, the relation fields as
/// decided (approved: the layout's role; edited: the chosen role, or none for ignore;
/// rejected: none); an asset file's processor is returned as it is.
pub(super) fn with_decided_roles(
    table: &TablePlan,
    decisions: &[&Decision],
    processor: Processor,
) -> Result<Processor, ImportError> {
    if table.kind() != DetectionKind::Dependencies {
        return Ok(processor);
    }
    let mut fields = Vec::new();
    let mut pending = Vec::new();
    for (i, header) in table.headers.iter().enumerate() {
        let proposed = table
            .relation_fields
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, f)| *f);
        let decision = decisions.iter().find(|d| d.source_column == *header);
        let field = match decision.map(|d| (d.status.as_str(), d)) {
            None | Some(("approved", _)) => proposed,
            Some(("rejected", _)) => None,
            Some(("edited", d)) => match (d.target_kind.as_str(), d.target.as_deref()) {
                ("ignore", _) => None,
                ("attribute", Some(role)) => Some(parse_role(role).ok_or_else(|| {
                    ImportError::Internal(format!(
                        "column '{header}' has the unknown relation role '{role}'"
                    ))
                })?),
                (kind, _) => {
                    return Err(ImportError::Internal(format!(
                        "column '{header}' of a relationship file has an invalid decision \
                         ({kind})"
                    )));
                }
            },
            Some(_) => {
                pending.push(header.clone());
                None
            }
        };
        if let Some(f) = field {
            fields.push((i, f));
        }
    }
    if !pending.is_empty() {
        return Err(ImportError::MappingReviewPending(pending));
    }
    Ok(Processor::Relations(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        assert_eq!(
            editable_role_names(),
            ["source", "target", "target_ip", "type", "strength", "port"]
        );
        for f in RELATION_ROLES {
            assert_eq!(parse_role(&role_name(f)), Some(f));
        }
        assert!(is_editable_role("target_ip"));
        assert!(!is_editable_role("timestamp"), "known, but not read");
        assert!(!is_editable_role("weight"));
        assert_eq!(parse_role("timestamp"), Some(RelationField::Timestamp));
    }
}
