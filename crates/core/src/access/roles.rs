//! Role definitions: the built-in roles of `strongbox-authz` and custom roles stored under
//! ROLE_DEFINITIONS. A custom role is shared by every scope it is assignable to, so writing or
//! deleting one is checked at every scope it reaches, and it cannot be deleted while in use.

use strongbox_authz::{RoleDefinition, builtin_roles};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, Result};

use super::Access;
use super::names::{check_guid, check_patterns, check_scope, normalize_scope, role_id_of};
use super::store::AssignmentRec;
use crate::Principal;

/// What writing a custom role needs at each scope it touches.
pub const ROLE_DEFINITION_WRITE: &str = "Microsoft.KeyVault/vaults/roleDefinitions/write/action";
/// What deleting a custom role needs at each scope it touches.
pub const ROLE_DEFINITION_DELETE: &str = "Microsoft.KeyVault/vaults/roleDefinitions/delete/action";

/// A custom role as a client defines it.
#[derive(Debug, Clone, Default)]
pub struct NewRoleDefinition {
    pub role_name: String,
    pub description: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    pub assignable_scopes: Vec<String>,
}

fn not_found() -> Error {
    Error::new(ErrorKind::RoleDefinitionNotFound, "The role definition was not found.")
}

fn changed_concurrently() -> Error {
    Error::new(ErrorKind::Conflict, "The role definition changed concurrently; retry.")
}

fn is_builtin(id: &str) -> bool {
    builtin_roles().iter().any(|r| r.id == id)
}

impl Access {
    pub fn role_definitions(&self) -> Vec<RoleDefinition> {
        let mut out = builtin_roles();
        let custom = self.index.read(|idx| {
            let mut custom: Vec<RoleDefinition> = idx.roles().filter(|r| !r.built_in).cloned().collect();
            custom.sort_by(|a, b| a.name.cmp(&b.name));
            custom
        });
        out.extend(custom.unwrap_or_default());
        out
    }

    pub async fn role_definition(&self, id: &str) -> Result<RoleDefinition> {
        let id = role_id_of(id);
        if let Some(r) = builtin_roles().into_iter().find(|r| r.id == id) {
            return Ok(r);
        }
        self.store.role_definitions.get::<RoleDefinition>(&id).await?.ok_or_else(not_found)
    }

    /// Finds a role by id or (case-insensitive) name.
    pub async fn find_role(&self, id_or_name: &str) -> Result<RoleDefinition> {
        if let Some(r) = self.role_definitions().into_iter().find(|r| r.name.eq_ignore_ascii_case(id_or_name)) {
            return self.role_definition(&r.id).await;
        }
        self.role_definition(id_or_name).await
    }

    /// Role id of a role given by id or name (for the API layer).
    pub async fn resolve_role_id(&self, role: &str) -> Result<String> {
        Ok(self.find_role(role).await.map(|r| r.id).unwrap_or_else(|_| role_id_of(role)))
    }

    /// Whether role `r` is shown through `scope` (the scope of a request on a vault): built-in
    /// roles always; a custom role when one of its assignable scopes contains `scope` or lies
    /// within it. A role assignable only in another vault is not visible there.
    pub fn role_visible_at(r: &RoleDefinition, scope: &str) -> bool {
        r.built_in
            || r.assignable_scopes
                .iter()
                .any(|s| strongbox_authz::covers(s, scope) || strongbox_authz::covers(scope, s))
    }

    /// A role definition as seen through `scope` ([`Access::role_visible_at`]); 404 otherwise.
    pub async fn role_definition_at(&self, scope: &str, id: &str) -> Result<RoleDefinition> {
        let r = self.role_definition(id).await?;
        if Self::role_visible_at(&r, scope) { Ok(r) } else { Err(not_found()) }
    }

    /// Creates or replaces a custom role. Returns the stored definition. No caller check: for
    /// callers acting on a principal's behalf use [`Access::put_role_definition_as`].
    pub async fn put_role_definition(&self, id: &str, def: NewRoleDefinition) -> Result<RoleDefinition> {
        self.write_role_definition(id, def, None).await
    }

    /// [`Access::put_role_definition`] for principal `p`, who needs
    /// [`ROLE_DEFINITION_WRITE`] at every scope the role is or becomes assignable to and at
    /// every scope where it is assigned (or eligible): a custom role is shared by every scope it
    /// is assignable to, so a right over one of them alone must not change what it grants in
    /// another.
    pub async fn put_role_definition_as(
        &self,
        p: &Principal,
        id: &str,
        def: NewRoleDefinition,
    ) -> Result<RoleDefinition> {
        self.write_role_definition(id, def, Some(p)).await
    }

    /// Scopes where role `id` is assigned (including activations) or eligible, from storage.
    async fn role_use_scopes(&self, id: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (_, a) in self.store.role_assignments.scan_all::<AssignmentRec>("").await? {
            if a.role_id == id {
                out.push(a.scope);
            }
        }
        for e in self.list_eligible_assignments().await? {
            if e.role_id == id {
                out.push(normalize_scope(&e.scope));
            }
        }
        Ok(out)
    }

    /// Refuses unless `p` holds `action` at each of `scopes`.
    fn authorize_all<'a>(
        &self,
        p: &Principal,
        action: &str,
        scopes: impl IntoIterator<Item = &'a String>,
    ) -> Result<()> {
        let mut seen: Vec<String> = Vec::new();
        for s in scopes {
            let s = s.to_ascii_lowercase();
            if !seen.contains(&s) {
                self.authorize(p, action, &s)?;
                seen.push(s);
            }
        }
        Ok(())
    }

    async fn write_role_definition(
        &self,
        id: &str,
        def: NewRoleDefinition,
        caller: Option<&Principal>,
    ) -> Result<RoleDefinition> {
        check_guid("role definition name", id)?;
        let id = id.to_ascii_lowercase();
        if is_builtin(&id) {
            return Err(Error::bad("Built-in role definitions cannot be changed."));
        }
        let name = def.role_name.trim();
        if name.is_empty() || name.len() > 256 {
            return Err(Error::bad("'properties.roleName' is required (1-256 characters)."));
        }
        if def.description.len() > 2048 {
            return Err(Error::bad("The description is longer than 2048 characters."));
        }
        check_patterns("actions", &def.actions)?;
        check_patterns("notActions", &def.not_actions)?;
        check_patterns("dataActions", &def.data_actions)?;
        check_patterns("notDataActions", &def.not_data_actions)?;
        if def.assignable_scopes.len() > 50 {
            return Err(Error::bad("Too many assignableScopes (at most 50)."));
        }
        let asked = def.assignable_scopes.iter().map(|s| check_scope(s)).collect::<Result<Vec<String>>>()?;
        if self.role_definitions().iter().any(|r| r.name.eq_ignore_ascii_case(name) && r.id != id) {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("A role definition named '{name}' already exists (RoleDefinitionWithSameNameExists)."),
            ));
        }
        let store = &self.store;
        let (id, def, asked) = (&id, &def, &asked);
        let role = store
            .barrier()
            .transact(changed_concurrently, || async move {
                let old = store.role_definitions.get_versioned::<RoleDefinition>(id).await?;
                // no scopes given: an update keeps the role's, a new role is deployment-wide
                let scopes = match (&old, asked.is_empty()) {
                    (Some((o, _)), true) => o.assignable_scopes.clone(),
                    (None, true) => vec!["/".to_owned()],
                    (_, false) => asked.clone(),
                };
                let uses = match &old {
                    Some(_) => self.role_use_scopes(id).await?,
                    None => Vec::new(),
                };
                if let Some(p) = caller {
                    let old_scopes = old.iter().flat_map(|(o, _)| o.assignable_scopes.iter());
                    self.authorize_all(p, ROLE_DEFINITION_WRITE, scopes.iter().chain(old_scopes).chain(uses.iter()))?;
                }
                if let Some(outside) = uses.iter().find(|u| !scopes.iter().any(|s| strongbox_authz::covers(s, u))) {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "The role is assigned at scope '{outside}', which the new assignableScopes do not cover. Delete that assignment first."
                        ),
                    ));
                }
                let role = RoleDefinition {
                    id: id.clone(),
                    name: name.to_owned(),
                    description: def.description.clone(),
                    built_in: false,
                    actions: def.actions.clone(),
                    not_actions: def.not_actions.clone(),
                    data_actions: def.data_actions.clone(),
                    not_data_actions: def.not_data_actions.clone(),
                    assignable_scopes: scopes,
                    assignable_roles: None,
                };
                // conditioned on what was checked: a concurrent change or new assignment (which
                // rewrites the role record, see `pin_role`) makes this commit fail and re-check
                let views = &store.role_definitions;
                let txn = match &old {
                    Some((_, stamp)) => views.unchanged(BTxn::new(), id, stamp),
                    None => views.absent(BTxn::new(), id),
                };
                let txn = store.bump(views.put(txn, id, &role)?)?;
                Ok((txn, role))
            })
            .await?;
        let stored = role.clone();
        self.index.update(|i| i.upsert_role(stored));
        Ok(role)
    }

    /// Deletes a custom role; refused while any assignment (or eligible assignment) uses it.
    /// No caller check: see [`Access::delete_role_definition_as`].
    pub async fn delete_role_definition(&self, id: &str) -> Result<RoleDefinition> {
        self.remove_role_definition(id, None).await
    }

    /// [`Access::delete_role_definition`] for principal `p`, who needs
    /// [`ROLE_DEFINITION_DELETE`] at every scope the role is assignable to (and assigned at).
    pub async fn delete_role_definition_as(&self, p: &Principal, id: &str) -> Result<RoleDefinition> {
        self.remove_role_definition(id, Some(p)).await
    }

    async fn remove_role_definition(&self, id: &str, caller: Option<&Principal>) -> Result<RoleDefinition> {
        let id = role_id_of(id);
        if is_builtin(&id) {
            return Err(Error::bad("Built-in role definitions cannot be deleted."));
        }
        let store = &self.store;
        let id = &id;
        let role = store
            .barrier()
            .transact(changed_concurrently, || async move {
                let (role, stamp) =
                    store.role_definitions.get_versioned::<RoleDefinition>(id).await?.ok_or_else(not_found)?;
                // storage, not the index: another node may have just assigned the role; such an
                // assignment rewrites the role record, so the stamp check below catches it
                let uses = self.role_use_scopes(id).await?;
                if let Some(p) = caller {
                    self.authorize_all(p, ROLE_DEFINITION_DELETE, role.assignable_scopes.iter().chain(uses.iter()))?;
                }
                let used = uses.len();
                if used > 0 {
                    return Err(Error::new(
                        ErrorKind::RoleDefinitionInUse,
                        format!(
                            "The role definition '{id}' cannot be deleted: {used} role assignment(s) refer to it. Delete them first."
                        ),
                    ));
                }
                let views = &store.role_definitions;
                let txn = store.bump(views.delete(views.unchanged(BTxn::new(), id, &stamp), id))?;
                Ok((txn, role))
            })
            .await?;
        self.index.update(|i| i.remove_role(id));
        Ok(role)
    }

    /// Adds to `txn` what pins role `role_id` for a new assignment: nothing for a built-in role;
    /// for a custom role, a rewrite of its record conditioned on its stamp (so a concurrent
    /// delete fails its own stamp check).
    /// A custom role is only assignable at or below one of its `assignableScopes`.
    pub(super) async fn pin_role(&self, txn: BTxn, role_id: &str, scope: &str) -> Result<BTxn> {
        if is_builtin(role_id) {
            return Ok(txn);
        }
        let views = &self.store.role_definitions;
        let Some((role, stamp)) = views.get_versioned::<RoleDefinition>(role_id).await? else {
            return Err(Error::bad(format!("The role definition '{role_id}' does not exist.")));
        };
        if !role.assignable_scopes.iter().any(|s| strongbox_authz::covers(s, scope)) {
            return Err(Error::bad(format!(
                "The role '{}' cannot be assigned at scope '{scope}' (assignable scopes: {}).",
                role.name,
                role.assignable_scopes.join(", ")
            )));
        }
        views.put(views.unchanged(txn, role_id, &stamp), role_id, &role)
    }
}
