//! The records RBAC is made of — role definitions, assignments, deny assignments — with the two
//! rules every decision uses: action patterns (`*` wildcards, case-insensitive) and scope
//! coverage (a scope covers itself and everything below it).

use serde::{Deserialize, Serialize};

/// Azure's object id for "everyone" in deny assignments (SystemDefined principal).
pub const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

/// A role: what it allows (data plane only; control-plane `actions` are kept for display).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDefinition {
    /// GUID (Azure's ids for the built-in roles).
    pub id: String,
    pub name: String,
    pub description: String,
    pub built_in: bool,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    /// Where the role may be assigned (`/` = anywhere).
    #[serde(default = "root_scopes")]
    pub assignable_scopes: Vec<String>,
    /// An ABAC-style condition on role-assignment writes: when set, the role's
    /// `roleAssignments` actions only apply to assignments of these role ids (Key Vault Data
    /// Access Administrator).
    #[serde(default)]
    pub assignable_roles: Option<Vec<String>>,
}

pub(crate) fn root_scopes() -> Vec<String> {
    vec!["/".to_owned()]
}

impl RoleDefinition {
    /// Whether the role grants `action` (a full data action such as
    /// `Microsoft.KeyVault/vaults/secrets/getSecret/action`).
    pub fn grants(&self, action: &str) -> bool {
        self.data_actions.iter().any(|p| matches(p, action))
            && !self.not_data_actions.iter().any(|p| matches(p, action))
    }

    pub(crate) fn grants_lc(&self, action: &str) -> bool {
        self.data_actions.iter().any(|p| matches_lc(p, action))
            && !self.not_data_actions.iter().any(|p| matches_lc(p, action))
    }
}

/// Case-insensitive match with `*` standing for any run of characters.
pub fn matches(pattern: &str, action: &str) -> bool {
    matches_lc(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// [`matches`] for arguments already in lower case (no allocation: the decision hot path).
pub(crate) fn matches_lc(p: &str, a: &str) -> bool {
    let mut parts = p.split('*');
    let Some(first) = parts.next() else { return false };
    let Some(mut rest) = a.strip_prefix(first) else { return false };
    let mut parts = parts.peekable();
    if parts.peek().is_none() {
        return rest.is_empty();
    }
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(pos) => rest = &rest[pos + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether an assignment at `assigned` covers `resource` (same scope or an ancestor).
pub fn covers(assigned: &str, resource: &str) -> bool {
    covers_lc(&assigned.to_ascii_lowercase(), &resource.to_ascii_lowercase())
}

pub(crate) fn covers_lc(assigned: &str, resource: &str) -> bool {
    let a = assigned.trim_end_matches('/');
    let r = resource.trim_end_matches('/');
    a.is_empty() || r == a || (r.starts_with(a) && r.as_bytes().get(a.len()) == Some(&b'/'))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// GUID chosen by the client (`PUT …/roleAssignments/{name}`).
    pub id: String,
    /// A user, service principal, managed identity or group.
    pub principal_id: String,
    pub role_id: String,
    pub scope: String,
    /// End of a just-in-time activation (Unix seconds); `None` = permanent.
    #[serde(default)]
    pub expires: Option<i64>,
}

/// A deny assignment: the listed principals (or [`EVERYONE`]) may not perform the matching data
/// actions at the scope or below it, whatever roles they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenyAssignment {
    pub id: String,
    pub name: String,
    pub description: String,
    pub principals: Vec<String>,
    pub exclude_principals: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    pub scope: String,
}

impl DenyAssignment {
    pub(crate) fn denies_lc(&self, action: &str, resource: &str) -> bool {
        self.data_actions.iter().any(|p| matches_lc(p, action))
            && !self.not_data_actions.iter().any(|p| matches_lc(p, action))
            && covers_lc(&self.scope, resource)
    }
}

/// The outcome of a decision, with the assignment that decided it (for audit and messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        assignment_id: String,
    },
    /// No grant applies.
    Deny,
    /// A deny assignment applies (it wins over any grant).
    DeniedByAssignment {
        deny_id: String,
    },
}
