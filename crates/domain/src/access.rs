//! Roles, scopes and the permission matrix (role × action × scope).
//!
//! A role is granted at one of three scopes (the `ck_role_scope` rule of `user_roles`):
//! platform (`admin` only, no client or engagement), a client account (covers all of its
//! engagements), or one engagement. The matrix below is the single place where rights are
//! decided; `docs/permissions.md` presents it for people.

use crate::ids::{ClientAccountId, EngagementId};
use serde::{Deserialize, Serialize};

/// The roles of `user_roles.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Analyst,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "admin" => Some(Role::Admin),
            "analyst" => Some(Role::Analyst),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// Where a grant applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "snake_case")]
pub enum Scope {
    Platform,
    Client {
        client_account_id: ClientAccountId,
    },
    Engagement {
        client_account_id: ClientAccountId,
        engagement_id: EngagementId,
    },
}

/// One active, unexpired role of the caller, on an active client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create client accounts, change their limits, activate or deactivate them.
    ManageClients,
    /// See a client account.
    ReadClient,
    /// Change a client account's profile (name, contact, settings).
    UpdateClient,
    /// Create engagements in a client.
    CreateEngagement,
    /// See an engagement and its data (inventory, flows, reports).
    ReadEngagement,
    /// Change an engagement's data: imports, flows, mappings, assets.
    WriteEngagement,
    /// Change, activate or deactivate the engagement itself.
    ManageEngagement,
    /// Create users, change them, grant and revoke roles within the target.
    ManageUsers,
    /// Store, rotate and use platform credentials of a client.
    ManageCredentials,
    /// Read the security audit log of the target.
    ReadAudit,
    /// Mark audit events reviewed; platform-wide administration.
    ManagePlatform,
}

/// The resource a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Platform,
    Client(ClientAccountId),
    Engagement(ClientAccountId, EngagementId),
}

impl Target {
    fn client(self) -> Option<ClientAccountId> {
        match self {
            Target::Platform => None,
            Target::Client(c) | Target::Engagement(c, _) => Some(c),
        }
    }
}

/// The matrix: which role, granted at which level, may do what. `None` level = platform.
/// A client-level grant applies to its client and every engagement of it; an engagement-level
/// grant applies to that engagement (and lets its holder see the client it belongs to).
fn role_allows(role: Role, level: Level, action: Action) -> bool {
    use Action::*;
    use Level::*;
    use Role::*;
    match (role, level) {
        (Admin, Global) => true,
        (_, Global) => false,
        (Admin, OfClient) => !matches!(action, ManageClients | ManagePlatform),
        (Admin, OfEngagement) => matches!(
            action,
            ReadClient | ReadEngagement | WriteEngagement | ManageEngagement | ManageUsers
        ),
        (Analyst, OfClient | OfEngagement) => {
            matches!(action, ReadClient | ReadEngagement | WriteEngagement)
        }
        (Viewer, OfClient | OfEngagement) => matches!(action, ReadClient | ReadEngagement),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Global,
    OfClient,
    OfEngagement,
}

/// Whether a grant's scope covers the target, and at which level.
fn covers(scope: Scope, target: Target, action: Action) -> Option<Level> {
    match (scope, target) {
        (Scope::Platform, _) => Some(Level::Global),
        (Scope::Client { client_account_id }, t) if t.client() == Some(client_account_id) => {
            Some(Level::OfClient)
        }
        (
            Scope::Engagement {
                client_account_id,
                engagement_id,
            },
            t,
        ) => match t {
            Target::Engagement(c, e) if c == client_account_id && e == engagement_id => {
                Some(Level::OfEngagement)
            }
            // Seeing the client an engagement belongs to is part of working on it.
            Target::Client(c) if c == client_account_id && action == Action::ReadClient => {
                Some(Level::OfEngagement)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The outcome of an authorization check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// The caller may see the target but not do this: answer 403.
    Forbidden,
    /// The caller has no business with the target: answer as if it did not exist (404), so
    /// that probing reveals nothing.
    Hidden,
}

/// Decides `action` on `target` for a caller holding `grants`.
pub fn decide(grants: &[Grant], action: Action, target: Target) -> Decision {
    if grants.iter().any(|g| {
        covers(g.scope, target, action).is_some_and(|level| role_allows(g.role, level, action))
    }) {
        return Decision::Allowed;
    }
    let visible = grants.iter().any(|g| {
        covers(g.scope, target, Action::ReadClient).is_some()
            || covers(g.scope, target, Action::ReadEngagement).is_some()
    });
    if visible || target == Target::Platform {
        Decision::Forbidden
    } else {
        Decision::Hidden
    }
}

/// Whether the grants include platform administration.
pub fn is_platform_admin(grants: &[Grant]) -> bool {
    grants
        .iter()
        .any(|g| g.role == Role::Admin && g.scope == Scope::Platform)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ids() -> (ClientAccountId, EngagementId, ClientAccountId, EngagementId) {
        (
            ClientAccountId(Uuid::new_v4()),
            EngagementId(Uuid::new_v4()),
            ClientAccountId(Uuid::new_v4()),
            EngagementId(Uuid::new_v4()),
        )
    }

    fn grant(role: Role, scope: Scope) -> Vec<Grant> {
        vec![Grant { role, scope }]
    }

    #[test]
    fn platform_admin_may_do_everything_everywhere() {
        let (a, ea, b, _) = ids();
        let g = grant(Role::Admin, Scope::Platform);
        for action in [
            Action::ManageClients,
            Action::ManagePlatform,
            Action::ReadAudit,
            Action::WriteEngagement,
        ] {
            assert_eq!(decide(&g, action, Target::Client(b)), Decision::Allowed);
            assert_eq!(
                decide(&g, action, Target::Engagement(a, ea)),
                Decision::Allowed
            );
        }
        assert!(is_platform_admin(&g));
    }

    #[test]
    fn client_admin_manages_its_client_but_not_the_platform_or_other_clients() {
        let (a, ea, b, eb) = ids();
        let g = grant(
            Role::Admin,
            Scope::Client {
                client_account_id: a,
            },
        );
        assert_eq!(
            decide(&g, Action::ManageUsers, Target::Client(a)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&g, Action::CreateEngagement, Target::Client(a)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&g, Action::ManageCredentials, Target::Client(a)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&g, Action::WriteEngagement, Target::Engagement(a, ea)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&g, Action::ManageClients, Target::Client(a)),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&g, Action::ManageClients, Target::Platform),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&g, Action::ReadClient, Target::Client(b)),
            Decision::Hidden
        );
        assert_eq!(
            decide(&g, Action::ReadEngagement, Target::Engagement(b, eb)),
            Decision::Hidden
        );
        assert!(!is_platform_admin(&g));
    }

    #[test]
    fn viewers_read_and_analysts_write_engagement_data() {
        let (a, ea, _, _) = ids();
        let viewer = grant(
            Role::Viewer,
            Scope::Client {
                client_account_id: a,
            },
        );
        assert_eq!(
            decide(&viewer, Action::ReadEngagement, Target::Engagement(a, ea)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&viewer, Action::WriteEngagement, Target::Engagement(a, ea)),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&viewer, Action::ManageUsers, Target::Client(a)),
            Decision::Forbidden
        );
        let analyst = grant(
            Role::Analyst,
            Scope::Client {
                client_account_id: a,
            },
        );
        assert_eq!(
            decide(&analyst, Action::WriteEngagement, Target::Engagement(a, ea)),
            Decision::Allowed
        );
        assert_eq!(
            decide(
                &analyst,
                Action::ManageEngagement,
                Target::Engagement(a, ea)
            ),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&analyst, Action::ReadAudit, Target::Client(a)),
            Decision::Forbidden
        );
    }

    #[test]
    fn engagement_grants_stay_within_their_engagement() {
        let (a, ea, _, _) = ids();
        let other = EngagementId(Uuid::new_v4());
        let g = grant(
            Role::Analyst,
            Scope::Engagement {
                client_account_id: a,
                engagement_id: ea,
            },
        );
        assert_eq!(
            decide(&g, Action::WriteEngagement, Target::Engagement(a, ea)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&g, Action::ReadEngagement, Target::Engagement(a, other)),
            Decision::Hidden
        );
        assert_eq!(
            decide(&g, Action::ReadClient, Target::Client(a)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&g, Action::CreateEngagement, Target::Client(a)),
            Decision::Forbidden
        );
        let admin = grant(
            Role::Admin,
            Scope::Engagement {
                client_account_id: a,
                engagement_id: ea,
            },
        );
        assert_eq!(
            decide(&admin, Action::ManageUsers, Target::Engagement(a, ea)),
            Decision::Allowed
        );
        assert_eq!(
            decide(&admin, Action::ManageUsers, Target::Client(a)),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&admin, Action::ManageCredentials, Target::Client(a)),
            Decision::Forbidden
        );
    }

    #[test]
    fn no_grants_means_nothing_is_visible() {
        let (a, ea, _, _) = ids();
        assert_eq!(
            decide(&[], Action::ReadClient, Target::Client(a)),
            Decision::Hidden
        );
        assert_eq!(
            decide(&[], Action::ReadEngagement, Target::Engagement(a, ea)),
            Decision::Hidden
        );
        assert_eq!(
            decide(&[], Action::ManageClients, Target::Platform),
            Decision::Forbidden
        );
    }
}
