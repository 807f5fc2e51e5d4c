//! Authorization decisions, role assignments and deny assignments.
//!
//! A decision looks at this node's index (see [`super::index`]): the caller's role assignments
//! at or above the resource's scope, including those made to its groups (stored memberships and
//! the groups its token names) and unexpired just-in-time activations (see [`super::pim`]); a
//! deny assignment that matches wins over any grant. Nothing granted means denied.

use strongbox_authz::{Assignment, Decision, DenyAssignment, EVERYONE};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, Result};

use super::Access;
use super::access_policies::AccessPolicyCheck;
use super::names::{check_guid, check_patterns, check_scope, normalize_scope, role_id_of};
use super::store::AssignmentRec;
use crate::Principal;

/// A new deny assignment.
#[derive(Debug, Clone, Default)]
pub struct NewDenyAssignment {
    pub name: String,
    pub description: String,
    pub principals: Vec<String>,
    pub exclude_principals: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    pub scope: String,
}

fn assignment_not_found() -> Error {
    Error::new(ErrorKind::RoleAssignmentNotFound, "The role assignment was not found.")
}

impl Access {
    /// Allows or refuses `action` on `resource` (an absolute scope) for `p`, by RBAC.
    pub fn authorize(&self, p: &Principal, action: &str, resource: &str) -> Result<Option<String>> {
        self.authorize_for_role(p, action, resource, None)
    }

    fn authorize_for_role(
        &self,
        p: &Principal,
        action: &str,
        resource: &str,
        target_role: Option<&str>,
    ) -> Result<Option<String>> {
        let now = self.now();
        let decision = self
            .index
            .read(|idx| idx.decide_with_groups(&p.object_id, &p.token_groups, action, resource, now, target_role))
            .unwrap_or(Decision::Deny);
        match decision {
            Decision::Allow { assignment_id } => Ok(Some(assignment_id)),
            Decision::Deny => Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={}\r\nAction: '{action}'\r\nResource: '{resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: 'DeniedWithNoValidRBAC'",
                    p.app_id, p.object_id
                ),
            )),
            Decision::DeniedByAssignment { deny_id } => Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "Caller is not authorized to perform action on resource.\r\nCaller: appid={};oid={}\r\nAction: '{action}'\r\nResource: '{resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: {deny_id}\r\nDecisionReason: 'DeniedWithDenyAssignment'",
                    p.app_id, p.object_id
                ),
            )),
        }
    }

    /// The central check of a request: RBAC, or the vault's access policies when `policy`
    /// names a data-plane permission and the vault does not use RBAC. Picks up changes made by
    /// other nodes first (see [`super::index`]).
    pub async fn authorize_request(
        &self,
        p: &Principal,
        action: &str,
        resource: &str,
        policy: Option<AccessPolicyCheck<'_>>,
    ) -> Result<Option<String>> {
        if let Err(e) = self.sync_authorization(false).await {
            tracing::warn!(error = %e.message, "authorization state not refreshed");
        }
        if let Some(check) = policy
            && let Ok(v) = self.vaults.record(check.vault).await
            && !v.enable_rbac_authorization
        {
            return self.check_access_policy(&v, p, &check).map(|()| None);
        }
        self.authorize(p, action, resource)
    }

    /// The role-assignment condition (Key Vault Data Access Administrator): writing or deleting
    /// an assignment of `role_id` at `scope` needs a grant of `action` that allows that role.
    pub fn authorize_role_write(&self, p: &Principal, action: &str, scope: &str, role_id: &str) -> Result<()> {
        self.authorize_for_role(p, action, scope, Some(&role_id_of(role_id))).map(|_| ())
    }

    // ---- role assignments ----

    pub async fn create_role_assignment(
        &self,
        id: &str,
        principal_id: &str,
        role_id: &str,
        scope: &str,
    ) -> Result<Assignment> {
        self.create_assignment_rec(id, principal_id, role_id, scope, None, None).await
    }

    /// Stores an assignment (an activation when `expires` and `activation` are given), pinning
    /// its role so a concurrent delete of the role fails.
    pub(super) async fn create_assignment_rec(
        &self,
        id: &str,
        principal_id: &str,
        role_id: &str,
        scope: &str,
        expires: Option<i64>,
        activation: Option<String>,
    ) -> Result<Assignment> {
        check_guid("role assignment name", id)?;
        check_guid("principalId", principal_id)?;
        let role_id = role_id_of(role_id);
        let scope = check_scope(scope)?;
        let rec = AssignmentRec {
            id: id.to_ascii_lowercase(),
            principal_id: principal_id.to_ascii_lowercase(),
            role_id: role_id.clone(),
            scope,
            expires,
            activation,
        };
        let store = &self.store;
        let views = &store.role_assignments;
        let txn = views.put(views.absent(BTxn::new(), &rec.id), &rec.id, &rec)?;
        let txn = self.pin_role(txn, &role_id, &rec.scope).await?;
        store.barrier().commit(store.bump(txn)?).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, "A role assignment with this name already exists, or its role changed.")
            } else {
                e
            }
        })?;
        let a = Assignment::from(rec);
        let added = a.clone();
        self.index.update(|i| i.add(added));
        Ok(a)
    }

    pub async fn get_role_assignment(&self, id: &str) -> Result<Assignment> {
        let views = &self.store.role_assignments;
        let rec: AssignmentRec = views.get(&id.to_ascii_lowercase()).await?.ok_or_else(assignment_not_found)?;
        Ok(rec.into())
    }

    /// An assignment as seen through `scope` (the scope of a request): only one at `scope` or
    /// below it is visible there; any other is "not found", as if it did not exist.
    pub async fn get_role_assignment_at(&self, scope: &str, id: &str) -> Result<Assignment> {
        let a = self.get_role_assignment(id).await?;
        if strongbox_authz::covers(&normalize_scope(scope), &a.scope) { Ok(a) } else { Err(assignment_not_found()) }
    }

    /// Assignments whose scope is `scope` or below it (expired activations left out).
    pub async fn list_role_assignments(&self, scope: &str) -> Result<Vec<Assignment>> {
        let scope = normalize_scope(scope);
        let now = self.now();
        let mut out = Vec::new();
        for (_, a) in self.store.role_assignments.scan_all::<AssignmentRec>("").await? {
            let a = Assignment::from(a);
            if strongbox_authz::covers(&scope, &a.scope) && a.expires.is_none_or(|e| now < e) {
                out.push(a);
            }
        }
        Ok(out)
    }

    pub async fn delete_role_assignment(&self, id: &str) -> Result<Assignment> {
        let a = self.get_role_assignment(id).await?;
        let store = &self.store;
        store.barrier().commit(store.bump(store.role_assignments.delete(BTxn::new(), &a.id))?).await?;
        self.index.update(|i| i.remove(&a.id));
        Ok(a)
    }

    // ---- deny assignments ----

    pub async fn put_deny_assignment(&self, id: &str, d: NewDenyAssignment) -> Result<DenyAssignment> {
        check_guid("deny assignment id", id)?;
        if d.principals.is_empty() {
            return Err(Error::bad("A deny assignment needs at least one principal (or the everyone id)."));
        }
        for p in d.principals.iter().chain(&d.exclude_principals) {
            check_guid("principal id", p)?;
        }
        if d.data_actions.is_empty() {
            return Err(Error::bad("A deny assignment needs at least one data action."));
        }
        check_patterns("dataActions", &d.data_actions)?;
        check_patterns("notDataActions", &d.not_data_actions)?;
        if d.name.len() > 256 || d.description.len() > 2048 {
            return Err(Error::bad("The name or description is too long."));
        }
        let everyone = d.principals.iter().any(|p| p == EVERYONE);
        if !everyone && !d.exclude_principals.is_empty() {
            return Err(Error::bad("excludePrincipals applies only to a deny assignment for everyone."));
        }
        let deny = DenyAssignment {
            id: id.to_ascii_lowercase(),
            name: if d.name.is_empty() { id.to_ascii_lowercase() } else { d.name },
            description: d.description,
            principals: d.principals.iter().map(|s| s.to_ascii_lowercase()).collect(),
            exclude_principals: d.exclude_principals.iter().map(|s| s.to_ascii_lowercase()).collect(),
            data_actions: d.data_actions,
            not_data_actions: d.not_data_actions,
            scope: check_scope(&d.scope)?,
        };
        let store = &self.store;
        store.barrier().commit(store.bump(store.deny_assignments.put(BTxn::new(), &deny.id, &deny)?)?).await?;
        let added = deny.clone();
        self.index.update(|i| i.add_deny(added));
        Ok(deny)
    }

    pub async fn get_deny_assignment(&self, id: &str) -> Result<DenyAssignment> {
        self.store
            .deny_assignments
            .get(&id.to_ascii_lowercase())
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "The deny assignment was not found."))
    }

    pub async fn list_deny_assignments(&self) -> Result<Vec<DenyAssignment>> {
        let rows = self.store.deny_assignments.scan_all::<DenyAssignment>("").await?;
        Ok(rows.into_iter().map(|(_, d)| d).collect())
    }

    pub async fn delete_deny_assignment(&self, id: &str) -> Result<DenyAssignment> {
        let d = self.get_deny_assignment(id).await?;
        let store = &self.store;
        store.barrier().commit(store.bump(store.deny_assignments.delete(BTxn::new(), &d.id))?).await?;
        self.index.update(|i| i.remove_deny(&d.id));
        Ok(d)
    }
}
