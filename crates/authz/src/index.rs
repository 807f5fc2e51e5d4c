//! The [`Index`]: assignments, deny assignments and group memberships compiled per principal,
//! and the decision over it.

use std::collections::{HashMap, HashSet};

use crate::definitions::{Assignment, Decision, DenyAssignment, EVERYONE, RoleDefinition, covers_lc};

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
    /// An index of roles and assignments, without deny assignments or group memberships.
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

    /// Adds an assignment, or replaces the one with the same id.
    pub fn add(&mut self, a: Assignment) {
        let p = self.insert_assignment(a);
        let deps = self.dependents(&p);
        self.refresh(deps);
    }

    /// Removes the assignment `id` (nothing happens when there is none).
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

    /// Removes the deny assignment `id`.
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

    /// Forgets the role definition `id` (assignments that name it then grant nothing).
    pub fn remove_role(&mut self, id: &str) {
        self.roles.remove(&lc(id));
        self.originals.remove(&lc(id));
    }

    /// Every role definition, as given.
    pub fn roles(&self) -> impl Iterator<Item = &RoleDefinition> {
        self.originals.values()
    }

    /// Records that `member` (a principal or a group) belongs to `group`.
    pub fn add_member(&mut self, group: &str, member: &str) {
        let (g, m) = (lc(group), lc(member));
        self.groups_of.entry(m.clone()).or_default().insert(g.clone());
        self.members_of.entry(g).or_default().insert(m.clone());
        self.refresh(HashSet::from([m]));
    }

    /// Forgets that `member` belongs to `group`.
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

    /// The role definition `id`, as given.
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
