//! Role assignments and the authorization decision (RBAC issue, first slice): built-in Key
//! Vault roles, assignments at deployment, vault, collection or object scope, deny by default.
//!
//! Assignments live in storage (`rbac/assign/{id}`) and in an in-memory index that every write
//! on this node updates before it returns, so a change applies to the next request. Several
//! nodes on PostgreSQL will need the index reloaded on a change notification; that comes with
//! the HA work.

use serde::{Deserialize, Serialize};
use strongbox_authz::{Assignment, Decision, Index, RoleDefinition, builtin_roles};
use strongbox_barrier::{BTxn, Barrier};
use strongbox_types::{Error, ErrorKind, Result};

use crate::{Core, Principal, decode, encode};

const PREFIX: &str = "rbac/assign/";

#[derive(Serialize, Deserialize)]
struct AssignmentRec {
    id: String,
    principal_id: String,
    role_id: String,
    scope: String,
}

impl From<AssignmentRec> for Assignment {
    fn from(r: AssignmentRec) -> Self {
        Assignment { id: r.id, principal_id: r.principal_id, role_id: r.role_id, scope: r.scope }
    }
}

pub(crate) async fn load_index(barrier: &Barrier) -> Result<Index> {
    let mut assignments = Vec::new();
    let mut start = PREFIX.to_owned();
    loop {
        let rows = barrier.scan_prefix(PREFIX, &start, 1000).await?;
        let Some((last, _)) = rows.last() else { break };
        start = format!("{last}\0");
        for (k, b) in rows {
            assignments.push(Assignment::from(decode::<AssignmentRec>(&k, &b)?));
        }
    }
    Ok(Index::new(builtin_roles(), assignments))
}

fn check_guid(what: &str, s: &str) -> Result<()> {
    if uuid::Uuid::parse_str(s).is_err() {
        return Err(Error::bad(format!("The {what} '{}' is not a GUID.", s.chars().take(64).collect::<String>())));
    }
    Ok(())
}

/// Normalises a scope: leading `/`, no trailing `/`, no empty segments.
pub fn normalize_scope(s: &str) -> String {
    let segs: Vec<&str> = s.split('/').filter(|x| !x.is_empty()).collect();
    format!("/{}", segs.join("/"))
}

impl Core {
    pub fn role_definitions(&self) -> Vec<RoleDefinition> {
        builtin_roles()
    }

    /// Allows or refuses `action` on `resource` (an absolute scope) for `p`.
    pub fn authorize(&self, p: &Principal, action: &str, resource: &str) -> Result<Option<String>> {
        let decision = match self.rbac.read() {
            Ok(idx) => idx.decide(&[p.object_id.as_str()], action, resource),
            Err(_) => Decision::Deny,
        };
        match decision {
            Decision::Allow { assignment_id } => Ok(Some(assignment_id)),
            Decision::Deny => Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "Caller is not authorized to perform action on resource. Caller: appid={};oid={}. Action: '{action}'. Resource: '{resource}'. Assignment: (not found). DecisionReason: 'DeniedWithNoValidRBAC'.",
                    p.app_id, p.object_id
                ),
            )),
        }
    }

    pub async fn create_role_assignment(
        &self,
        id: &str,
        principal_id: &str,
        role_id: &str,
        scope: &str,
    ) -> Result<Assignment> {
        check_guid("role assignment name", id)?;
        check_guid("principalId", principal_id)?;
        let role_id = role_id.rsplit('/').next().unwrap_or(role_id).to_ascii_lowercase();
        if !builtin_roles().iter().any(|r| r.id == role_id) {
            return Err(Error::bad(format!("The role definition '{role_id}' does not exist.")));
        }
        let rec = AssignmentRec {
            id: id.to_ascii_lowercase(),
            principal_id: principal_id.to_ascii_lowercase(),
            role_id,
            scope: normalize_scope(scope),
        };
        let key = format!("{PREFIX}{}", rec.id);
        self.barrier.commit(BTxn::new().absent(&key).put(&key, encode(&rec)?)).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, "A role assignment with this name already exists.")
            } else {
                e
            }
        })?;
        let a = Assignment::from(rec);
        if let Ok(mut idx) = self.rbac.write() {
            idx.add(a.clone());
        }
        Ok(a)
    }

    pub async fn get_role_assignment(&self, id: &str) -> Result<Assignment> {
        let key = format!("{PREFIX}{}", id.to_ascii_lowercase());
        let rec: AssignmentRec = self
            .read_json(&key)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::RoleAssignmentNotFound, "The role assignment was not found."))?;
        Ok(rec.into())
    }

    /// Assignments whose scope is `scope` or below it.
    pub async fn list_role_assignments(&self, scope: &str) -> Result<Vec<Assignment>> {
        let scope = normalize_scope(scope);
        let rows = self.barrier.scan_prefix(PREFIX, PREFIX, 10_000).await?;
        let mut out = Vec::new();
        for (k, b) in rows {
            let a = Assignment::from(decode::<AssignmentRec>(&k, &b)?);
            if strongbox_authz::covers(&scope, &a.scope) {
                out.push(a);
            }
        }
        Ok(out)
    }

    pub async fn delete_role_assignment(&self, id: &str) -> Result<Assignment> {
        let a = self.get_role_assignment(id).await?;
        self.barrier.commit(BTxn::new().delete(format!("{PREFIX}{}", a.id))).await?;
        if let Ok(mut idx) = self.rbac.write() {
            idx.remove(&a.id);
        }
        Ok(a)
    }
}
