//! Role-based access control as Key Vault defines it: role definitions grant data actions
//! (with `*` wildcards, minus `notDataActions`), assignments bind a role to a principal at a
//! scope, and a grant at a scope covers everything below it. Deny by default.
//!
//! Scopes are absolute paths: `/` (the whole deployment), `/vaults/{vault}`,
//! `/vaults/{vault}/{secrets|keys|certificates}`, `/vaults/{vault}/{collection}/{name}`.
//! Names compare case-insensitively, as object names do.
//!
//! The decision is a pure function over an [`Index`], which groups assignments by principal so
//! a decision looks only at the caller's own assignments (microseconds, whatever the total).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

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
}

impl RoleDefinition {
    /// Whether the role grants `action` (a full data action such as
    /// `Microsoft.KeyVault/vaults/secrets/getSecret/action`).
    pub fn grants(&self, action: &str) -> bool {
        self.data_actions.iter().any(|p| matches(p, action))
            && !self.not_data_actions.iter().any(|p| matches(p, action))
    }
}

/// Case-insensitive match with `*` standing for any run of characters.
pub fn matches(pattern: &str, action: &str) -> bool {
    matches_lc(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// [`matches`] for arguments already in lower case (no allocation: the decision hot path).
fn matches_lc(p: &str, a: &str) -> bool {
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

fn covers_lc(assigned: &str, resource: &str) -> bool {
    let a = assigned.trim_end_matches('/');
    let r = resource.trim_end_matches('/');
    a.is_empty() || r == a || (r.starts_with(a) && r.as_bytes().get(a.len()) == Some(&b'/'))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// GUID chosen by the client (`PUT …/roleAssignments/{name}`).
    pub id: String,
    pub principal_id: String,
    pub role_id: String,
    pub scope: String,
}

/// The outcome of a decision, with the assignment that allowed it (for audit and headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow { assignment_id: String },
    Deny,
}

/// Assignments grouped by principal, and the roles they refer to.
#[derive(Debug, Default, Clone)]
pub struct Index {
    by_principal: HashMap<String, Vec<Assignment>>,
    roles: HashMap<String, RoleDefinition>,
}

impl Index {
    pub fn new(
        roles: impl IntoIterator<Item = RoleDefinition>,
        assignments: impl IntoIterator<Item = Assignment>,
    ) -> Self {
        // Role ids and patterns are kept in lower case so decisions compare without allocating.
        let roles = roles
            .into_iter()
            .map(|mut r| {
                r.data_actions.iter_mut().for_each(|a| *a = a.to_ascii_lowercase());
                r.not_data_actions.iter_mut().for_each(|a| *a = a.to_ascii_lowercase());
                (r.id.to_ascii_lowercase(), r)
            })
            .collect();
        let mut idx = Self { roles, ..Self::default() };
        for a in assignments {
            idx.add(a);
        }
        idx
    }

    pub fn add(&mut self, mut a: Assignment) {
        a.scope = a.scope.to_ascii_lowercase();
        a.role_id = a.role_id.to_ascii_lowercase();
        self.by_principal.entry(a.principal_id.to_ascii_lowercase()).or_default().push(a);
    }

    pub fn remove(&mut self, id: &str) {
        for list in self.by_principal.values_mut() {
            list.retain(|a| a.id != id);
        }
    }

    pub fn role(&self, id: &str) -> Option<&RoleDefinition> {
        self.roles.get(&id.to_ascii_lowercase())
    }

    /// Decides whether any of `principals` (the caller and its groups) may perform `action` on
    /// `resource`.
    pub fn decide(&self, principals: &[&str], action: &str, resource: &str) -> Decision {
        let action = action.to_ascii_lowercase();
        let resource = resource.to_ascii_lowercase();
        for p in principals {
            let list = match self.by_principal.get(*p) {
                Some(l) => l,
                None => match self.by_principal.get(&p.to_ascii_lowercase()) {
                    Some(l) => l,
                    None => continue,
                },
            };
            for a in list {
                let granted = self.roles.get(&a.role_id).is_some_and(|r| {
                    r.data_actions.iter().any(|p| matches_lc(p, &action))
                        && !r.not_data_actions.iter().any(|p| matches_lc(p, &action))
                });
                if granted && covers_lc(&a.scope, &resource) {
                    return Decision::Allow { assignment_id: a.id.clone() };
                }
            }
        }
        Decision::Deny
    }
}

fn role(id: &str, name: &str, description: &str, data_actions: &[&str]) -> RoleDefinition {
    RoleDefinition {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        built_in: true,
        actions: Vec::new(),
        not_actions: Vec::new(),
        data_actions: data_actions.iter().map(|a| format!("Microsoft.KeyVault/{a}")).collect(),
        not_data_actions: Vec::new(),
    }
}

pub const KEY_VAULT_ADMINISTRATOR: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
pub const KEY_VAULT_SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";

/// The built-in Key Vault data roles (Azure's names, ids and data actions).
pub fn builtin_roles() -> Vec<RoleDefinition> {
    vec![
        role(
            KEY_VAULT_ADMINISTRATOR,
            "Key Vault Administrator",
            "Perform all data plane operations on a key vault and all objects in it.",
            &["vaults/*"],
        ),
        role(
            "a4417e6f-fecd-4de8-b567-7b0420556985",
            "Key Vault Certificates Officer",
            "Perform any action on the certificates of a key vault.",
            &["vaults/certificatecas/*", "vaults/certificates/*", "vaults/certificatecontacts/write"],
        ),
        role(
            "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
            "Key Vault Certificate User",
            "Read entire certificate contents including secret and key portion.",
            &[
                "vaults/certificates/read",
                "vaults/secrets/getSecret/action",
                "vaults/secrets/readMetadata/action",
                "vaults/keys/read",
            ],
        ),
        role(
            "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
            "Key Vault Crypto Officer",
            "Perform any action on the keys of a key vault.",
            &["vaults/keys/*", "vaults/keyrotationpolicies/*"],
        ),
        role(
            "e147488a-f6f5-4113-8e2d-b22465e65bf6",
            "Key Vault Crypto Service Encryption User",
            "Read metadata of keys and perform wrap/unwrap operations.",
            &["vaults/keys/read", "vaults/keys/wrap/action", "vaults/keys/unwrap/action"],
        ),
        role(
            "08bbd89e-9f13-488c-ac41-acfcb10c90ab",
            "Key Vault Crypto Service Release User",
            "Release keys.",
            &["vaults/keys/release/action"],
        ),
        role(
            "12338af0-0e69-4776-bea7-57ae8d297424",
            "Key Vault Crypto User",
            "Perform cryptographic operations using keys.",
            &[
                "vaults/keys/read",
                "vaults/keys/update/action",
                "vaults/keys/backup/action",
                "vaults/keys/encrypt/action",
                "vaults/keys/decrypt/action",
                "vaults/keys/wrap/action",
                "vaults/keys/unwrap/action",
                "vaults/keys/sign/action",
                "vaults/keys/verify/action",
            ],
        ),
        role(
            "21090545-7ca7-4776-b22c-e363652d74d2",
            "Key Vault Reader",
            "Read metadata of key vaults and its certificates, keys, and secrets.",
            &["vaults/*/read", "vaults/secrets/readMetadata/action"],
        ),
        role(
            "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
            "Key Vault Secrets Officer",
            "Perform any action on the secrets of a key vault.",
            &["vaults/secrets/*"],
        ),
        role(
            KEY_VAULT_SECRETS_USER,
            "Key Vault Secrets User",
            "Read secret contents.",
            &["vaults/secrets/getSecret/action", "vaults/secrets/readMetadata/action"],
        ),
        role(
            "8b54135c-b56d-4d72-a534-26097cfdc8d8",
            "Key Vault Data Access Administrator",
            "Manage access to Key Vault by adding or removing role assignments for the Key Vault data roles.",
            &[],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: &str, p: &str, role: &str, scope: &str) -> Assignment {
        Assignment { id: id.into(), principal_id: p.into(), role_id: role.into(), scope: scope.into() }
    }

    #[test]
    fn wildcards_and_scopes() {
        assert!(matches("Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action"));
        assert!(matches("Microsoft.KeyVault/vaults/*/read", "microsoft.keyvault/vaults/keys/read"));
        assert!(!matches("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/delete"));
        assert!(!matches("Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/keys/read"));
        assert!(covers("/", "/vaults/v/secrets/x"));
        assert!(covers("/vaults/V", "/vaults/v/secrets/x"));
        assert!(covers("/vaults/v/secrets/x", "/vaults/v/secrets/X"));
        assert!(!covers("/vaults/v/secrets/x", "/vaults/v/secrets/xy"));
        assert!(!covers("/vaults/v/secrets/x", "/vaults/v"));
        assert!(!covers("/vaults/v", "/vaults/vv"));
    }

    #[test]
    fn deny_by_default_and_object_scope() {
        let idx = Index::new(builtin_roles(), [a("1", "p1", KEY_VAULT_SECRETS_USER, "/vaults/v/secrets/one")]);
        let get = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
        assert_eq!(idx.decide(&["p1"], get, "/vaults/v/secrets/one"), Decision::Allow { assignment_id: "1".into() });
        assert_eq!(idx.decide(&["p1"], get, "/vaults/v/secrets/two"), Decision::Deny);
        assert_eq!(
            idx.decide(&["p1"], "Microsoft.KeyVault/vaults/secrets/setSecret/action", "/vaults/v/secrets/one"),
            Decision::Deny
        );
        assert_eq!(idx.decide(&["p2"], get, "/vaults/v/secrets/one"), Decision::Deny);
        assert_eq!(
            idx.decide(&["other", "P1"], get, "/vaults/v/secrets/one"),
            Decision::Allow { assignment_id: "1".into() },
            "group membership"
        );
    }

    #[test]
    fn every_builtin_role_against_sample_actions() {
        // (role, action, allowed) for a representative action of each family
        let r = |name: &str| builtin_roles().into_iter().find(|r| r.name == name).unwrap();
        let table = [
            ("Key Vault Administrator", "Microsoft.KeyVault/vaults/keys/sign/action", true),
            ("Key Vault Reader", "Microsoft.KeyVault/vaults/keys/read", true),
            ("Key Vault Reader", "Microsoft.KeyVault/vaults/secrets/getSecret/action", false),
            ("Key Vault Reader", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", true),
            ("Key Vault Secrets User", "Microsoft.KeyVault/vaults/secrets/setSecret/action", false),
            ("Key Vault Secrets Officer", "Microsoft.KeyVault/vaults/secrets/purge/action", true),
            ("Key Vault Crypto User", "Microsoft.KeyVault/vaults/keys/sign/action", true),
            ("Key Vault Crypto User", "Microsoft.KeyVault/vaults/keys/delete", false),
            ("Key Vault Crypto Officer", "Microsoft.KeyVault/vaults/keys/purge/action", true),
            ("Key Vault Crypto Service Encryption User", "Microsoft.KeyVault/vaults/keys/unwrap/action", true),
            ("Key Vault Crypto Service Encryption User", "Microsoft.KeyVault/vaults/keys/decrypt/action", false),
            ("Key Vault Data Access Administrator", "Microsoft.KeyVault/vaults/secrets/getSecret/action", false),
        ];
        for (role, action, allowed) in table {
            assert_eq!(r(role).grants(action), allowed, "{role} / {action}");
        }
    }
}
