//! The tenancy context of a unit of database work.
//!
//! Row-level security in PostgreSQL reads the context from transaction-local settings; this type
//! is what the application decides before it opens such a transaction.

use crate::ids::{ClientAccountId, UserId};

/// Who a transaction acts for. Row-level security policies see exactly this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantScope {
    /// Work on behalf of one client account: only its rows are visible.
    Client {
        client_account_id: ClientAccountId,
        user_id: Option<UserId>,
    },
    /// Platform administration across tenants (a platform administrator's request, or platform
    /// maintenance). Must only be chosen after the caller has been proven to be one.
    Platform { user_id: Option<UserId> },
    /// No tenant: tenant tables show no rows at all.
    None,
}

impl TenantScope {
    /// The client account whose rows are visible, if the scope is a single client.
    pub fn client_account_id(&self) -> Option<ClientAccountId> {
        match self {
            TenantScope::Client {
                client_account_id, ..
            } => Some(*client_account_id),
            _ => None,
        }
    }

    /// The acting user, when known.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            TenantScope::Client { user_id, .. } | TenantScope::Platform { user_id } => *user_id,
            TenantScope::None => None,
        }
    }

    /// Whether the scope spans all tenants.
    pub fn is_platform(&self) -> bool {
        matches!(self, TenantScope::Platform { .. })
    }
}
