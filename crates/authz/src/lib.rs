//! Role-based access control as Key Vault defines it: role definitions grant data actions
//! (with `*` wildcards, minus `notDataActions`), assignments bind a role to a principal at a
//! scope, and a grant at a scope covers everything below it. Deny assignments win over every
//! grant. Deny by default.
//!
//! Scopes are absolute paths: `/` (the whole deployment), `/vaults/{vault}`,
//! `/vaults/{vault}/{secrets|keys|certificates}`, `/vaults/{vault}/{collection}/{name}`.
//! Names compare case-insensitively, as object names do.
//!
//! The decision is a pure function over an [`Index`]. The index keeps, per principal, the
//! grants and denies that apply to it *including those it gets through its groups*: group
//! membership is expanded when the index changes, never per request, so a decision looks only
//! at one short list (microseconds, whatever the total).

use std::collections::{HashMap, HashSet};

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

fn root_scopes() -> Vec<String> {
    vec!["/".to_owned()]
}

impl RoleDefinition {
    /// Whether the role grants `action` (a full data action such as
    /// `Microsoft.KeyVault/vaults/secrets/getSecret/action`).
    pub fn grants(&self, action: &str) -> bool {
        self.data_actions.iter().any(|p| matches(p, action))
            && !self.not_data_actions.iter().any(|p| matches(p, action))
    }

    fn grants_lc(&self, action: &str) -> bool {
        self.data_actions.iter().any(|p| matches_lc(p, action))
            && !self.not_data_actions.iter().any(|p| matches_lc(p, action))
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
    fn denies_lc(&self, action: &str, resource: &str) -> bool {
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

/// What one principal holds, directly and through its groups.
#[derive(Debug, Default, Clone)]
struct Effective {
    grants: Vec<Assignment>,
    denies: Vec<String>,
}

/// Assignments, deny assignments and group memberships, compiled per principal.
#[derive(Debug, Default, Clone)]
pub struct Index {
    roles: HashMap<String, RoleDefinition>,
    /// the definitions as given (for display); `roles` holds them lower-cased for decisions
    originals: HashMap<String, RoleDefinition>,
    assignments: HashMap<String, Assignment>,
    /// principal → ids of the assignments made to it directly
    direct: HashMap<String, Vec<String>>,
    denies: HashMap<String, DenyAssignment>,
    /// principal → ids of the deny assignments naming it directly
    direct_denies: HashMap<String, Vec<String>>,
    /// deny assignments naming [`EVERYONE`]
    everyone_denies: Vec<String>,
    /// member → groups
    groups_of: HashMap<String, HashSet<String>>,
    /// group → members
    members_of: HashMap<String, HashSet<String>>,
    effective: HashMap<String, Effective>,
}

fn lc(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn lower_role(mut r: RoleDefinition) -> RoleDefinition {
    r.id = lc(&r.id);
    r.data_actions.iter_mut().for_each(|a| *a = lc(a));
    r.not_data_actions.iter_mut().for_each(|a| *a = lc(a));
    if let Some(list) = r.assignable_roles.as_mut() {
        list.iter_mut().for_each(|a| *a = lc(a));
    }
    r
}

impl Index {
    pub fn new(
        roles: impl IntoIterator<Item = RoleDefinition>,
        assignments: impl IntoIterator<Item = Assignment>,
    ) -> Self {
        Self::build(roles, assignments, Vec::new(), Vec::new())
    }

    /// The full index: roles, assignments, deny assignments and `(group, member)` pairs.
    pub fn build(
        roles: impl IntoIterator<Item = RoleDefinition>,
        assignments: impl IntoIterator<Item = Assignment>,
        denies: impl IntoIterator<Item = DenyAssignment>,
        memberships: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let mut idx = Self::default();
        for r in roles {
            idx.upsert_role(r);
        }
        for (g, m) in memberships {
            idx.groups_of.entry(lc(&m)).or_default().insert(lc(&g));
            idx.members_of.entry(lc(&g)).or_default().insert(lc(&m));
        }
        for a in assignments {
            idx.insert_assignment(a);
        }
        for d in denies {
            idx.insert_deny(d);
        }
        let all: HashSet<String> =
            idx.direct.keys().chain(idx.direct_denies.keys()).chain(idx.groups_of.keys()).cloned().collect();
        idx.refresh(all);
        idx
    }

    fn insert_assignment(&mut self, mut a: Assignment) -> String {
        a.id = lc(&a.id);
        a.scope = lc(&a.scope);
        a.role_id = lc(&a.role_id);
        a.principal_id = lc(&a.principal_id);
        let p = a.principal_id.clone();
        if let Some(old) = self.assignments.insert(a.id.clone(), a.clone())
            && let Some(list) = self.direct.get_mut(&old.principal_id)
        {
            list.retain(|x| *x != old.id);
        }
        self.direct.entry(p.clone()).or_default().push(a.id);
        p
    }

    fn insert_deny(&mut self, mut d: DenyAssignment) -> Vec<String> {
        d.id = lc(&d.id);
        d.scope = lc(&d.scope);
        d.data_actions.iter_mut().for_each(|a| *a = lc(a));
        d.not_data_actions.iter_mut().for_each(|a| *a = lc(a));
        d.principals.iter_mut().for_each(|a| *a = lc(a));
        d.exclude_principals.iter_mut().for_each(|a| *a = lc(a));
        let mut touched = self.drop_deny(&d.id);
        for p in &d.principals {
            if p == EVERYONE {
                self.everyone_denies.push(d.id.clone());
            } else {
                self.direct_denies.entry(p.clone()).or_default().push(d.id.clone());
                touched.push(p.clone());
            }
        }
        self.denies.insert(d.id.clone(), d);
        touched
    }

    fn drop_deny(&mut self, id: &str) -> Vec<String> {
        let Some(old) = self.denies.remove(id) else { return Vec::new() };
        self.everyone_denies.retain(|x| x != id);
        for p in &old.principals {
            if let Some(list) = self.direct_denies.get_mut(p) {
                list.retain(|x| x != id);
            }
        }
        old.principals
    }

    /// Principals whose effective lists depend on `p`: itself and, for a group, its members.
    fn dependents(&self, p: &str) -> HashSet<String> {
        let mut s: HashSet<String> = self.members_of.get(p).cloned().unwrap_or_default();
        s.insert(p.to_owned());
        s
    }

    /// Recomputes the effective lists of `principals`.
    fn refresh(&mut self, principals: HashSet<String>) {
        for p in principals {
            let mut sources = vec![p.clone()];
            if let Some(gs) = self.groups_of.get(&p) {
                sources.extend(gs.iter().cloned());
            }
            let mut eff = Effective::default();
            for s in &sources {
                for id in self.direct.get(s).into_iter().flatten() {
                    if let Some(a) = self.assignments.get(id) {
                        eff.grants.push(a.clone());
                    }
                }
                for id in self.direct_denies.get(s).into_iter().flatten() {
                    if !eff.denies.contains(id) {
                        eff.denies.push(id.clone());
                    }
                }
            }
            if eff.grants.is_empty() && eff.denies.is_empty() {
                self.effective.remove(&p);
            } else {
                self.effective.insert(p, eff);
            }
        }
    }

    pub fn add(&mut self, a: Assignment) {
        let p = self.insert_assignment(a);
        let deps = self.dependents(&p);
        self.refresh(deps);
    }

    pub fn remove(&mut self, id: &str) {
        let id = lc(id);
        let Some(old) = self.assignments.remove(&id) else { return };
        if let Some(list) = self.direct.get_mut(&old.principal_id) {
            list.retain(|x| *x != id);
        }
        let deps = self.dependents(&old.principal_id);
        self.refresh(deps);
    }

    /// Adds or replaces a deny assignment.
    pub fn add_deny(&mut self, d: DenyAssignment) {
        let touched = self.insert_deny(d);
        self.refresh_many(touched);
    }

    pub fn remove_deny(&mut self, id: &str) {
        let touched = self.drop_deny(&lc(id));
        self.refresh_many(touched);
    }

    fn refresh_many(&mut self, principals: Vec<String>) {
        let mut all = HashSet::new();
        for p in principals {
            all.extend(self.dependents(&p));
        }
        self.refresh(all);
    }

    /// Adds or replaces a role definition (custom roles).
    pub fn upsert_role(&mut self, r: RoleDefinition) {
        self.originals.insert(lc(&r.id), r.clone());
        let r = lower_role(r);
        self.roles.insert(r.id.clone(), r);
    }

    pub fn remove_role(&mut self, id: &str) {
        self.roles.remove(&lc(id));
        self.originals.remove(&lc(id));
    }

    /// Every role definition, as given.
    pub fn roles(&self) -> impl Iterator<Item = &RoleDefinition> {
        self.originals.values()
    }

    pub fn add_member(&mut self, group: &str, member: &str) {
        let (g, m) = (lc(group), lc(member));
        self.groups_of.entry(m.clone()).or_default().insert(g.clone());
        self.members_of.entry(g).or_default().insert(m.clone());
        self.refresh(HashSet::from([m]));
    }

    pub fn remove_member(&mut self, group: &str, member: &str) {
        let (g, m) = (lc(group), lc(member));
        if let Some(s) = self.groups_of.get_mut(&m) {
            s.remove(&g);
        }
        if let Some(s) = self.members_of.get_mut(&g) {
            s.remove(&m);
        }
        self.refresh(HashSet::from([m]));
    }

    /// Forgets every membership of `group`.
    pub fn remove_group(&mut self, group: &str) {
        let g = lc(group);
        let members = self.members_of.remove(&g).unwrap_or_default();
        for m in &members {
            if let Some(s) = self.groups_of.get_mut(m) {
                s.remove(&g);
            }
        }
        self.refresh(members);
    }

    pub fn role(&self, id: &str) -> Option<&RoleDefinition> {
        self.originals.get(&lc(id))
    }

    /// The groups `principal` belongs to.
    pub fn groups_of(&self, principal: &str) -> Vec<String> {
        self.groups_of.get(&lc(principal)).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// Whether any live assignment refers to role `id`.
    pub fn role_in_use(&self, id: &str) -> bool {
        let id = lc(id);
        self.assignments.values().any(|a| a.role_id == id)
    }

    /// Decides whether `principal` may perform `action` on `resource` at time `now`.
    pub fn decide(&self, principal: &str, action: &str, resource: &str, now: i64) -> Decision {
        self.decide_for_role(principal, action, resource, now, None)
    }

    /// [`Index::decide`] for a role-assignment write or delete of `target_role`: grants whose
    /// role carries an assignable-roles condition only count when it lists `target_role`.
    /// With `target_role` `None`, such grants count (the handler re-checks with the role).
    pub fn decide_for_role(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        now: i64,
        target_role: Option<&str>,
    ) -> Decision {
        self.decide_with_groups(principal, &[], action, resource, now, target_role)
    }

    /// [`Index::decide_for_role`] for a caller that also carries `extra_groups`: group object
    /// ids asserted by its (verified) token rather than stored memberships, e.g. the mapped group
    /// claim of a corporate IdP token. For those groups, deny assignments naming them apply and
    /// an exclusion of them from an everyone-deny counts, as for stored memberships; then the
    /// caller's own grants (direct and through stored groups) are tried, then the grants made
    /// directly to each extra group. `extra_groups` are object ids in lower case (as stored).
    /// With no extra groups this is exactly `decide_for_role` (and allocates nothing beyond it).
    pub fn decide_with_groups(
        &self,
        principal: &str,
        extra_groups: &[String],
        action: &str,
        resource: &str,
        now: i64,
        target_role: Option<&str>,
    ) -> Decision {
        let action = lc(action);
        let resource = lc(resource);
        let target_role = target_role.map(lc);
        // object ids arrive in lower case from our tokens: avoid an allocation when they do
        let key: std::borrow::Cow<'_, str> = if principal.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(lc(principal))
        } else {
            std::borrow::Cow::Borrowed(principal)
        };
        let key = key.as_ref();
        let in_extra = |x: &str| extra_groups.iter().any(|g| g.eq_ignore_ascii_case(x));
        let eff = self.effective.get(key);
        let groups = self.groups_of.get(key);
        let denied = |id: &String| -> Option<Decision> {
            let d = self.denies.get(id)?;
            let excluded =
                d.exclude_principals.iter().any(|x| x == key || groups.is_some_and(|g| g.contains(x)) || in_extra(x));
            (!excluded && d.denies_lc(&action, &resource))
                .then(|| Decision::DeniedByAssignment { deny_id: d.id.clone() })
        };
        // deny assignments first: they win over any grant
        for id in &self.everyone_denies {
            if let Some(d) = denied(id) {
                return d;
            }
        }
        for id in eff.into_iter().flat_map(|e| e.denies.iter()) {
            if let Some(d) = denied(id) {
                return d;
            }
        }
        for g in extra_groups {
            for id in self.direct_denies.get(g.as_str()).into_iter().flatten() {
                if let Some(d) = denied(id) {
                    return d;
                }
            }
        }
        let grant = |a: &Assignment| -> Option<Decision> {
            if a.expires.is_some_and(|e| now >= e) || !covers_lc(&a.scope, &resource) {
                return None;
            }
            let r = self.roles.get(&a.role_id)?;
            if !r.grants_lc(&action) {
                return None;
            }
            if let (Some(allowed), Some(t)) = (&r.assignable_roles, &target_role)
                && !allowed.contains(t)
            {
                return None;
            }
            Some(Decision::Allow { assignment_id: a.id.clone() })
        };
        for a in eff.into_iter().flat_map(|e| e.grants.iter()) {
            if let Some(d) = grant(a) {
                return d;
            }
        }
        for g in extra_groups {
            for id in self.direct.get(g.as_str()).into_iter().flatten() {
                if let Some(d) = self.assignments.get(id).and_then(grant) {
                    return d;
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
        assignable_scopes: root_scopes(),
        assignable_roles: None,
    }
}

pub const KEY_VAULT_ADMINISTRATOR: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
pub const KEY_VAULT_SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
pub const KEY_VAULT_DATA_ACCESS_ADMINISTRATOR: &str = "8b54135c-b56d-4d72-a534-26097cfdc8d8";

/// The roles Key Vault Data Access Administrator may assign and unassign (Azure's ABAC
/// condition on that role lists exactly these eight).
pub const DATA_ACCESS_ADMIN_ASSIGNABLE: [&str; 8] = [
    KEY_VAULT_ADMINISTRATOR,
    "a4417e6f-fecd-4de8-b567-7b0420556985", // Certificates Officer
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", // Crypto Officer
    "e147488a-f6f5-4113-8e2d-b22465e65bf6", // Crypto Service Encryption User
    "12338af0-0e69-4776-bea7-57ae8d297424", // Crypto User
    "21090545-7ca7-4776-b22c-e363652d74d2", // Reader
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", // Secrets Officer
    KEY_VAULT_SECRETS_USER,
];

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
        RoleDefinition {
            assignable_roles: Some(DATA_ACCESS_ADMIN_ASSIGNABLE.iter().map(|s| (*s).to_owned()).collect()),
            ..role(
                KEY_VAULT_DATA_ACCESS_ADMINISTRATOR,
                "Key Vault Data Access Administrator",
                "Manage access to Key Vault by adding or removing role assignments for the Key Vault data roles.",
                // Strongbox serves role assignments on the vault data plane (Managed HSM style),
                // so the role's assignment rights are data actions, limited by the condition.
                &[
                    "vaults/roleAssignments/read/action",
                    "vaults/roleAssignments/write/action",
                    "vaults/roleAssignments/delete/action",
                    "vaults/roleDefinitions/read/action",
                ],
            )
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(id: &str, p: &str, role: &str, scope: &str) -> Assignment {
        Assignment { id: id.into(), principal_id: p.into(), role_id: role.into(), scope: scope.into(), expires: None }
    }

    const GET: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";

    #[test]
    fn wildcards_and_scopes() {
        assert!(matches("Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action"));
        assert!(matches("Microsoft.KeyVault/vaults/*/read", "microsoft.keyvault/vaults/keys/read"));
        assert!(!matches("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/delete"));
        assert!(!matches("Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/keys/read"));
        assert!(matches("*", "Microsoft.KeyVault/vaults/keys/read"));
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
        assert_eq!(idx.decide("p1", GET, "/vaults/v/secrets/one", 0), Decision::Allow { assignment_id: "1".into() });
        assert_eq!(idx.decide("P1", GET, "/vaults/v/secrets/one", 0), Decision::Allow { assignment_id: "1".into() });
        assert_eq!(idx.decide("p1", GET, "/vaults/v/secrets/two", 0), Decision::Deny);
        assert_eq!(
            idx.decide("p1", "Microsoft.KeyVault/vaults/secrets/setSecret/action", "/vaults/v/secrets/one", 0),
            Decision::Deny
        );
        assert_eq!(idx.decide("p2", GET, "/vaults/v/secrets/one", 0), Decision::Deny);
    }

    #[test]
    fn groups_are_expanded_and_follow_membership_changes() {
        let mut idx = Index::build(
            builtin_roles(),
            [a("1", "g1", KEY_VAULT_SECRETS_USER, "/vaults/v")],
            [],
            [("g1".to_owned(), "m1".to_owned())],
        );
        assert_eq!(idx.decide("m1", GET, "/vaults/v/secrets/x", 0), Decision::Allow { assignment_id: "1".into() });
        assert_eq!(idx.decide("m2", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
        idx.add_member("g1", "m2");
        assert!(matches!(idx.decide("m2", GET, "/vaults/v/secrets/x", 0), Decision::Allow { .. }));
        idx.remove_member("G1", "M1");
        assert_eq!(idx.decide("m1", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
        // an assignment to the group after the fact reaches its members
        idx.add(a("2", "g1", KEY_VAULT_ADMINISTRATOR, "/vaults/w"));
        assert!(matches!(
            idx.decide("m2", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
            Decision::Allow { .. }
        ));
        idx.remove("2");
        assert_eq!(idx.decide("m2", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0), Decision::Deny);
        idx.remove_group("g1");
        assert_eq!(idx.decide("m2", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
    }

    fn deny(id: &str, principals: &[&str], exclude: &[&str], actions: &[&str], scope: &str) -> DenyAssignment {
        DenyAssignment {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            principals: principals.iter().map(|s| (*s).to_owned()).collect(),
            exclude_principals: exclude.iter().map(|s| (*s).to_owned()).collect(),
            data_actions: actions.iter().map(|s| (*s).to_owned()).collect(),
            not_data_actions: Vec::new(),
            scope: scope.into(),
        }
    }

    #[test]
    fn deny_assignments_win_at_their_scope_and_below() {
        let mut idx = Index::build(
            builtin_roles(),
            [a("1", "p1", KEY_VAULT_ADMINISTRATOR, "/"), a("2", "g", KEY_VAULT_ADMINISTRATOR, "/")],
            [deny("d1", &["p1"], &[], &["Microsoft.KeyVault/vaults/secrets/*"], "/vaults/v")],
            [("g".to_owned(), "m".to_owned())],
        );
        assert_eq!(
            idx.decide("p1", GET, "/vaults/v/secrets/x", 0),
            Decision::DeniedByAssignment { deny_id: "d1".into() }
        );
        assert_eq!(idx.decide("p1", GET, "/vaults/v", 0), Decision::DeniedByAssignment { deny_id: "d1".into() });
        assert!(matches!(idx.decide("p1", GET, "/vaults/w/secrets/x", 0), Decision::Allow { .. }), "other vault");
        assert!(matches!(
            idx.decide("p1", "Microsoft.KeyVault/vaults/keys/read", "/vaults/v/keys/k", 0),
            Decision::Allow { .. }
        ));
        // a deny on a group reaches its members; everyone-with-exclusions
        idx.add_deny(deny("d2", &["g"], &[], &["*"], "/vaults/v/keys/k"));
        assert!(matches!(
            idx.decide("m", "Microsoft.KeyVault/vaults/keys/read", "/vaults/v/keys/k", 0),
            Decision::DeniedByAssignment { .. }
        ));
        idx.remove_deny("d2");
        assert!(matches!(
            idx.decide("m", "Microsoft.KeyVault/vaults/keys/read", "/vaults/v/keys/k", 0),
            Decision::Allow { .. }
        ));
        idx.add_deny(deny("d3", &[EVERYONE], &["g"], &["Microsoft.KeyVault/vaults/keys/delete"], "/"));
        assert!(matches!(
            idx.decide("p1", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
            Decision::DeniedByAssignment { .. }
        ));
        assert!(
            matches!(
                idx.decide("m", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
                Decision::Allow { .. }
            ),
            "excluded through its group"
        );
        assert!(matches!(
            idx.decide("nobody", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
            Decision::DeniedByAssignment { .. }
        ));
    }

    #[test]
    fn token_groups_grant_and_deny_like_memberships() {
        let tg = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
        let mut jit = a("3", "gj", KEY_VAULT_SECRETS_USER, "/vaults/j");
        jit.expires = Some(100);
        let mut idx = Index::build(
            builtin_roles(),
            [a("1", "g1", KEY_VAULT_SECRETS_USER, "/vaults/v"), a("2", "u", KEY_VAULT_ADMINISTRATOR, "/vaults/w"), jit],
            [],
            [],
        );
        let d = |idx: &Index, groups: &[&str], resource: &str, now: i64| {
            idx.decide_with_groups("u", &tg(groups), GET, resource, now, None)
        };
        // a grant made to a group the token carries applies; without it, nothing
        assert_eq!(d(&idx, &["g1"], "/vaults/v/secrets/x", 0), Decision::Allow { assignment_id: "1".into() });
        assert_eq!(d(&idx, &[], "/vaults/v/secrets/x", 0), Decision::Deny);
        assert_eq!(d(&idx, &["g2"], "/vaults/v/secrets/x", 0), Decision::Deny, "group not in the token");
        assert_eq!(idx.decide("u", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
        // the caller's own grants still apply alongside
        assert_eq!(d(&idx, &["g1"], "/vaults/w/secrets/x", 0), Decision::Allow { assignment_id: "2".into() });
        // expiry of a group's time-bound assignment is respected
        assert!(matches!(d(&idx, &["gj"], "/vaults/j/secrets/x", 99), Decision::Allow { .. }));
        assert_eq!(d(&idx, &["gj"], "/vaults/j/secrets/x", 100), Decision::Deny);
        // a deny on a token group wins over the caller's direct grant
        idx.add_deny(deny("d1", &["g1"], &[], &["Microsoft.KeyVault/vaults/secrets/*"], "/"));
        assert_eq!(d(&idx, &["g1"], "/vaults/w/secrets/x", 0), Decision::DeniedByAssignment { deny_id: "d1".into() });
        assert_eq!(d(&idx, &["g1"], "/vaults/v/secrets/x", 0), Decision::DeniedByAssignment { deny_id: "d1".into() });
        assert!(matches!(d(&idx, &[], "/vaults/w/secrets/x", 0), Decision::Allow { .. }), "deny needs the group");
        idx.remove_deny("d1");
        // an exclusion of a token group from an everyone-deny counts
        idx.add_deny(deny("d2", &[EVERYONE], &["g1"], &[GET], "/"));
        assert!(matches!(d(&idx, &["g1"], "/vaults/v/secrets/x", 0), Decision::Allow { .. }));
        assert!(matches!(d(&idx, &["gj"], "/vaults/j/secrets/x", 0), Decision::DeniedByAssignment { .. }));
    }

    #[test]
    fn activations_expire_and_custom_roles_apply() {
        let custom = RoleDefinition {
            id: "c0ffee00-0000-4000-8000-000000000001".into(),
            name: "Secret lister".into(),
            description: String::new(),
            built_in: false,
            actions: Vec::new(),
            not_actions: Vec::new(),
            data_actions: vec!["Microsoft.KeyVault/vaults/secrets/*".into()],
            not_data_actions: vec!["Microsoft.KeyVault/vaults/secrets/getSecret/action".into()],
            assignable_scopes: root_scopes(),
            assignable_roles: None,
        };
        let mut roles = builtin_roles();
        roles.push(custom.clone());
        let mut jit = a("1", "p", KEY_VAULT_SECRETS_USER, "/vaults/v");
        jit.expires = Some(100);
        let idx = Index::new(roles, [jit, a("2", "q", &custom.id.to_uppercase(), "/")]);
        assert!(matches!(idx.decide("p", GET, "/vaults/v/secrets/x", 99), Decision::Allow { .. }));
        assert_eq!(idx.decide("p", GET, "/vaults/v/secrets/x", 100), Decision::Deny);
        assert_eq!(idx.decide("q", GET, "/vaults/v/secrets/x", 0), Decision::Deny, "notDataActions");
        let meta = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
        assert!(matches!(idx.decide("q", meta, "/vaults/v/secrets/x", 0), Decision::Allow { .. }));
        assert!(idx.role_in_use(&custom.id));
    }

    #[test]
    fn data_access_administrator_only_assigns_data_roles() {
        let idx = Index::new(builtin_roles(), [a("1", "daa", KEY_VAULT_DATA_ACCESS_ADMINISTRATOR, "/vaults/v")]);
        let write = "Microsoft.KeyVault/vaults/roleAssignments/write/action";
        for r in DATA_ACCESS_ADMIN_ASSIGNABLE {
            assert!(matches!(idx.decide_for_role("daa", write, "/vaults/v", 0, Some(r)), Decision::Allow { .. }));
        }
        assert_eq!(
            idx.decide_for_role("daa", write, "/vaults/v", 0, Some(KEY_VAULT_DATA_ACCESS_ADMINISTRATOR)),
            Decision::Deny
        );
        assert_eq!(
            idx.decide_for_role("daa", write, "/vaults/v", 0, Some("c0ffee00-0000-4000-8000-000000000001")),
            Decision::Deny
        );
        assert_eq!(idx.decide("daa", GET, "/vaults/v/secrets/x", 0), Decision::Deny, "no data access itself");
        assert_eq!(idx.decide_for_role("daa", write, "/vaults/w", 0, Some(KEY_VAULT_SECRETS_USER)), Decision::Deny);
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
