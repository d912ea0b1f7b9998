//! Decisions on the columns of a relationship file (ServiceNow `cmdb_rel_ci`, Azure Migrate
//! dependency export): a column takes a relation role the relationship processor reads
//! (`crate::import::RELATION_ROLES`: source, target, target_ip, type, strength, port) or is
//! ignored. Roles are stored as `target_kind = 'attribute'` with the role as target, and shown
//! as `relation`.
//!
//! Refused with [`ReviewError::InvalidRole`] (nothing changes): a role the processor does not
//! read, an asset attribute or custom attribute for a relationship column, a relation role
//! for a column of an asset file, and decisions that leave the file without a source column
//! or without a target (`target` or `target_ip`) column while it had them.

use super::validation::Act;
use super::{ReviewError, problem};
use crate::import::{editable_role_names, is_editable_role};
use crate::learning::StoredTarget;

/// The kind a relation role is stored with.
const STORED_KIND: &str = "attribute";
/// The kind a relation role is shown with.
pub const SHOWN_KIND: &str = "relation";

/// The kind of a stored mapping as the review shows it.
pub fn shown_kind(relationships: bool, stored: &str) -> String {
    if relationships && stored == STORED_KIND {
        SHOWN_KIND.to_string()
    } else {
        stored.to_string()
    }
}

/// The SQL expression of an import session's relationship tables (their names as stored):
/// the tables of its plan detected as dependencies. A workbook may mix asset and relationship
/// sheets, so the kind of a column is its table's.
pub const RELATIONSHIP_TABLES: &str = "ARRAY(SELECT left(t->'detection'->>'table', 255) \
     FROM jsonb_array_elements(CASE jsonb_typeof(plan->'tables') WHEN 'array' \
          THEN plan->'tables' ELSE '[]' END) AS t \
     WHERE t->'detection'->>'kind' = 'dependencies')";

/// Checks the targets of the entries against their table's kind (`relationships[i]`: entry
/// `i` decides a column of a relationship table) and turns relation roles into their stored
/// form.
pub(super) fn stored_acts(acts: Vec<Act>, relationships: &[bool]) -> Result<Vec<Act>, ReviewError> {
    let mut problems = Vec::new();
    let roles = || editable_role_names().join(", ");
    let out = acts
        .into_iter()
        .enumerate()
        .map(|(i, act)| {
            let Act::Edit(t) = act else { return act };
            let f = |name: &str| format!("decisions[{i}].{name}");
            match (
                t.kind.as_str(),
                relationships.get(i).copied().unwrap_or(false),
            ) {
                (SHOWN_KIND, true) => {
                    let role = t.target.clone().unwrap_or_default();
                    if is_editable_role(&role) {
                        return Act::Edit(StoredTarget::new(STORED_KIND, Some(&role)));
                    }
                    problems.push(problem(
                        f("target"),
                        format!(
                            "'{role}' is not a relation role the import reads; one of: {}",
                            roles()
                        ),
                    ));
                }
                (SHOWN_KIND, false) => problems.push(problem(
                    f("target_kind"),
                    "only the columns of a relationship file take a relation role",
                )),
                ("attribute" | "custom", true) => problems.push(problem(
                    f("target_kind"),
                    format!(
                        "a column of a relationship file takes a relation role ({}) or ignore",
                        roles()
                    ),
                )),
                _ => {}
            }
            Act::Edit(t)
        })
        .collect();
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ReviewError::InvalidRole(problems))
    }
}

/// A column's applied role, if any: (status, stored kind, target).
fn role<'a>(status: &str, kind: &str, target: Option<&'a str>) -> Option<&'a str> {
    (matches!(status, "approved" | "edited") && kind == STORED_KIND)
        .then_some(target)
        .flatten()
}

/// Which endpoints the applied roles give: (source, target or target_ip).
fn endpoints<'a>(roles: impl Iterator<Item = Option<&'a str>>) -> (bool, bool) {
    roles.flatten().fold((false, false), |(s, t), r| {
        (s || r == "source", t || r == "target" || r == "target_ip")
    })
}

/// Refuses decisions that take away the source or the target column of a relationship file.
/// `before` and `after` list each column's (status, stored kind, target).
pub(super) fn check_endpoints(
    before: &[(&str, &str, Option<&str>)],
    after: &[(&str, &str, Option<&str>)],
) -> Result<(), ReviewError> {
    let had = endpoints(before.iter().map(|c| role(c.0, c.1, c.2)));
    let has = endpoints(after.iter().map(|c| role(c.0, c.1, c.2)));
    let mut missing = Vec::new();
    if had.0 && !has.0 {
        missing.push("the role source");
    }
    if had.1 && !has.1 {
        missing.push("the role target or target_ip");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(ReviewError::InvalidRole(vec![problem(
        "decisions",
        format!(
            "a relationship file needs a column with the role source and one with target or \
             target_ip; no column would have {}",
            missing.join(" nor ")
        ),
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: Result<Vec<Act>, ReviewError>) -> Vec<String> {
        match r {
            Err(ReviewError::InvalidRole(p)) => p.into_iter().map(|p| p.field).collect(),
            Err(e) => panic!("{e}"),
            Ok(_) => Vec::new(),
        }
    }

    fn edit(kind: &str, target: Option<&str>) -> Act {
        Act::Edit(StoredTarget::new(kind, target))
    }

    #[test]
    fn roles_fit_the_file() {
        let acts = stored_acts(
            vec![
                Act::Approve,
                edit("relation", Some("target_ip")),
                edit("ignore", None),
            ],
            &[true; 3],
        )
        .unwrap();
        assert!(
            matches!(&acts[1], Act::Edit(t) if *t == StoredTarget::new("attribute", Some("target_ip")))
        );
        assert_eq!(
            fields(stored_acts(
                vec![
                    edit("relation", Some("weight")),
                    edit("relation", Some("timestamp")),
                    edit("attribute", Some("hostname")),
                    edit("custom", Some("x")),
                ],
                &[true; 4]
            )),
            [
                "decisions[0].target",
                "decisions[1].target",
                "decisions[2].target_kind",
                "decisions[3].target_kind"
            ]
        );
        assert_eq!(
            fields(stored_acts(
                vec![edit("relation", Some("source"))],
                &[false]
            )),
            ["decisions[0].target_kind"]
        );
        // In a workbook mixing asset and relationship sheets, each entry by its own table.
        assert_eq!(
            fields(stored_acts(
                vec![
                    edit("relation", Some("source")),
                    edit("attribute", Some("hostname")),
                    edit("relation", Some("target")),
                ],
                &[true, false, false]
            )),
            ["decisions[2].target_kind"]
        );
        assert_eq!(shown_kind(true, "attribute"), "relation");
        assert_eq!(shown_kind(false, "attribute"), "attribute");
        assert_eq!(shown_kind(true, "ignore"), "ignore");
    }

    #[test]
    fn the_endpoints_stay() {
        let file = [
            ("approved", "attribute", Some("source")),
            ("approved", "attribute", Some("target")),
            ("approved", "ignore", None),
        ];
        let swapped = [
            ("edited", "attribute", Some("target")),
            ("edited", "attribute", Some("source")),
            ("approved", "ignore", None),
        ];
        assert!(check_endpoints(&file, &swapped).is_ok());
        let by_ip = [
            ("approved", "attribute", Some("source")),
            ("rejected", "attribute", Some("target")),
            ("edited", "attribute", Some("target_ip")),
        ];
        assert!(check_endpoints(&file, &by_ip).is_ok());
        let no_source = [
            ("rejected", "attribute", Some("source")),
            ("approved", "attribute", Some("target")),
            ("approved", "ignore", None),
        ];
        let err = check_endpoints(&file, &no_source).unwrap_err();
        assert!(
            matches!(err, ReviewError::InvalidRole(ref p) if p[0].message.contains("the role source"))
        );
        // A file that never had them is not refused for it.
        assert!(check_endpoints(&no_source, &no_source).is_ok());
    }
}
