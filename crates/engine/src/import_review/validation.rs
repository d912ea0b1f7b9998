//! The shape of each decision entry, checked before the database is read.

use super::decisions::DecisionInput;
use super::{MAX_CUSTOM_NAME, MAX_DECISIONS, ReviewError, problem};
use crate::learning::StoredTarget;
use modernize_ingest::attributes::AssetAttribute;

pub(super) enum Act {
    Approve,
    Edit(StoredTarget),
    Reject,
}

/// Checks the shape of each entry (no database).
pub(super) fn parse_entries(
    inputs: &[DecisionInput],
    approve_all: bool,
) -> Result<Vec<Act>, ReviewError> {
    let mut problems = Vec::new();
    if inputs.is_empty() && !approve_all {
        problems.push(problem(
            "decisions",
            "give at least one decision, or approve_all: true",
        ));
    }
    if inputs.len() > MAX_DECISIONS {
        problems.push(problem(
            "decisions",
            format!("at most {MAX_DECISIONS} decisions per request"),
        ));
    }
    let mut acts = Vec::with_capacity(inputs.len());
    for (i, d) in inputs.iter().enumerate() {
        let f = |name: &str| format!("decisions[{i}].{name}");
        match d.source_column.as_deref() {
            None => problems.push(problem(f("source_column"), "is required")),
            Some(s) if s.chars().count() > 255 => problems.push(problem(
                f("source_column"),
                "must be at most 255 characters",
            )),
            _ => {}
        }
        if d.table.as_deref().is_some_and(|t| t.chars().count() > 255) {
            problems.push(problem(f("table"), "must be at most 255 characters"));
        }
        let act = match d.action.as_deref() {
            Some("approve") | Some("reject") => {
                if d.target_kind.is_some() {
                    problems.push(problem(
                        f("target_kind"),
                        "only an edit names a target; use action edit",
                    ));
                }
                if d.target.is_some() {
                    problems.push(problem(
                        f("target"),
                        "only an edit names a target; use action edit",
                    ));
                }
                if d.action.as_deref() == Some("approve") {
                    Act::Approve
                } else {
                    Act::Reject
                }
            }
            Some("edit") => {
                let target = d.target.as_deref().map(str::trim);
                match d.target_kind.as_deref() {
                    Some("attribute") => match target {
                        Some(t) if AssetAttribute::parse(t).is_some() => {}
                        Some(_) => problems.push(problem(
                            f("target"),
                            "is not an asset attribute (see the attribute names of the \
                             mapping documentation)",
                        )),
                        None => problems.push(problem(
                            f("target"),
                            "is required: the asset attribute to map to",
                        )),
                    },
                    Some("custom") => match target {
                        None | Some("") => problems.push(problem(
                            f("target"),
                            "is required: the name of the custom attribute",
                        )),
                        Some(t) if t.chars().count() > MAX_CUSTOM_NAME => problems.push(problem(
                            f("target"),
                            format!("must be at most {MAX_CUSTOM_NAME} characters"),
                        )),
                        Some(t) if t.chars().any(char::is_control) => problems
                            .push(problem(f("target"), "must not contain control characters")),
                        _ => {}
                    },
                    // The role itself is checked against the file (relationship files only).
                    Some("relation") => match target {
                        None | Some("") => problems.push(problem(
                            f("target"),
                            "is required: the relation role (source, target, target_ip, type, \
                             strength or port)",
                        )),
                        Some(t) if t.chars().count() > MAX_CUSTOM_NAME => problems.push(problem(
                            f("target"),
                            format!("must be at most {MAX_CUSTOM_NAME} characters"),
                        )),
                        _ => {}
                    },
                    Some("ignore") => {
                        if d.target.is_some() {
                            problems.push(problem(f("target"), "must be absent for ignore"));
                        }
                    }
                    Some(_) => problems.push(problem(
                        f("target_kind"),
                        "must be one of: attribute, custom, relation, ignore",
                    )),
                    None => problems.push(problem(
                        f("target_kind"),
                        "is required for an edit: attribute, custom, relation or ignore",
                    )),
                }
                Act::Edit(StoredTarget::new(
                    d.target_kind.as_deref().unwrap_or_default(),
                    target,
                ))
            }
            Some(_) => {
                problems.push(problem(
                    f("action"),
                    "must be one of: approve, edit, reject",
                ));
                Act::Reject
            }
            None => {
                problems.push(problem(f("action"), "is required: approve, edit or reject"));
                Act::Reject
            }
        };
        acts.push(act);
    }
    if problems.is_empty() {
        Ok(acts)
    } else {
        Err(ReviewError::Invalid(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(action: &str, kind: Option<&str>, target: Option<&str>) -> DecisionInput {
        DecisionInput {
            table: None,
            source_column: Some("Srv".into()),
            action: Some(action.into()),
            target_kind: kind.map(str::to_string),
            target: target.map(str::to_string),
        }
    }

    fn fields(r: Result<Vec<Act>, ReviewError>) -> Vec<String> {
        match r {
            Err(ReviewError::Invalid(p)) => p.into_iter().map(|p| p.field).collect(),
            Err(e) => panic!("{e}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn entries_are_checked_one_by_one() {
        assert!(fields(parse_entries(&[input("approve", None, None)], false)).is_empty());
        assert!(
            fields(parse_entries(
                &[input("edit", Some("attribute"), Some("hostname"))],
                false
            ))
            .is_empty()
        );
        assert!(fields(parse_entries(&[input("edit", Some("ignore"), None)], false)).is_empty());
        assert!(
            fields(parse_entries(
                &[input("edit", Some("relation"), Some("target_ip"))],
                false
            ))
            .is_empty()
        );
        let bad = [
            input("edit", Some("attribute"), Some("host")),
            input("edit", Some("custom"), Some("  ")),
            input("edit", Some("ignore"), Some("x")),
            input("edit", Some("nothing"), None),
            input("approve", Some("attribute"), None),
            input("maybe", None, None),
            DecisionInput::default(),
            input("edit", Some("relation"), None),
        ];
        assert_eq!(
            fields(parse_entries(&bad, false)),
            vec![
                "decisions[0].target",
                "decisions[1].target",
                "decisions[2].target",
                "decisions[3].target_kind",
                "decisions[4].target_kind",
                "decisions[5].action",
                "decisions[6].source_column",
                "decisions[6].action",
                "decisions[7].target",
            ]
        );
        assert_eq!(fields(parse_entries(&[], false)), vec!["decisions"]);
        assert!(fields(parse_entries(&[], true)).is_empty());
        let long = "x".repeat(256);
        assert_eq!(
            fields(parse_entries(
                &[input("edit", Some("custom"), Some(&long))],
                false
            )),
            vec!["decisions[0].target"]
        );
    }
}
