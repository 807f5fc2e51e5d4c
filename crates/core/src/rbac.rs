//! Authorization state and decisions: built-in and custom role definitions, role assignments at
//! deployment, vault, collection or object scope, deny assignments, group memberships (from
//! [`crate::groups`]) and just-in-time activations (from [`crate::pim`]). Deny by default.
//!
//! Storage: `rbac/role/{id}` custom roles, `rbac/assign/{id}` assignments, `rbac/deny/{id}` deny
//! assignments, `id/groupmember/…` memberships, and `rbac/generation`, a random token rewritten
//! in the same transaction as every change to any of them (and to vault access policies).
//!
//! Each node keeps an in-memory [`Index`] that its own writes update before they return, so a
//! change applies to that node's next request. Other nodes on the same database notice a
//! change by reading `rbac/generation` at most every [`SYNC_INTERVAL_MS`] (one small read, off
//! the per-request path except once per interval); when it differs from the token seen at their
//! last load they reload the index and forget their cached vault settings. So across nodes a
//! change takes effect within about one interval.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use strongbox_authz::{Assignment, Decision, DenyAssignment, EVERYONE, Index, RoleDefinition, builtin_roles};
use strongbox_barrier::{BTxn, Barrier};
use strongbox_types::{Error, ErrorKind, Result, SecretBytes};

use crate::{Core, Principal, decode, encode};

const ASSIGN: &str = "rbac/assign/";
const ROLE: &str = "rbac/role/";
const DENY: &str = "rbac/deny/";
pub(crate) const GENERATION: &str = "rbac/generation";
/// What writing a custom role needs at each scope it touches.
pub const ROLE_DEFINITION_WRITE: &str = "Microsoft.KeyVault/vaults/roleDefinitions/write/action";
/// What deleting a custom role needs at each scope it touches.
pub const ROLE_DEFINITION_DELETE: &str = "Microsoft.KeyVault/vaults/roleDefinitions/delete/action";
/// How often a node checks whether another node changed the authorization state.
pub const SYNC_INTERVAL_MS: u64 = 1000;

#[derive(Serialize, Deserialize)]
struct AssignmentRec {
    id: String,
    principal_id: String,
    role_id: String,
    scope: String,
    /// End of a just-in-time activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<i64>,
    /// The PIM request that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activation: Option<String>,
}

impl From<AssignmentRec> for Assignment {
    fn from(r: AssignmentRec) -> Self {
        Assignment { id: r.id, principal_id: r.principal_id, role_id: r.role_id, scope: r.scope, expires: r.expires }
    }
}

/// Cross-node freshness of the index.
pub(crate) struct SyncState {
    base: Instant,
    last_check_ms: AtomicU64,
    interval_ms: AtomicU64,
    reloading: AtomicBool,
    seen: Mutex<Option<Vec<u8>>>,
    /// Counts this node's own index updates, so a reload that raced with one is discarded
    /// instead of swapping in an index that misses it.
    local_updates: AtomicU64,
}

impl SyncState {
    pub(crate) fn new(seen: Option<Vec<u8>>) -> Self {
        Self {
            base: Instant::now(),
            last_check_ms: AtomicU64::new(0),
            interval_ms: AtomicU64::new(SYNC_INTERVAL_MS),
            reloading: AtomicBool::new(false),
            seen: Mutex::new(seen),
            local_updates: AtomicU64::new(0),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Every entry under `prefix`, page by page.
pub(crate) async fn scan_all(barrier: &Barrier, prefix: &str) -> Result<Vec<(String, SecretBytes)>> {
    let mut out = Vec::new();
    let mut start = prefix.to_owned();
    loop {
        let rows = barrier.scan_prefix(prefix, &start, 1000).await?;
        let Some((last, _)) = rows.last() else { break };
        start = format!("{last}\0");
        let n = rows.len();
        out.extend(rows);
        if n < 1000 {
            break;
        }
    }
    Ok(out)
}

async fn generation(barrier: &Barrier) -> Result<Option<Vec<u8>>> {
    Ok(barrier.get(GENERATION).await?.map(|b| b.expose().to_vec()))
}

/// Adds the generation bump to a transaction that changes authorization state.
pub(crate) fn bump(txn: BTxn) -> Result<BTxn> {
    Ok(txn.put(GENERATION, strongbox_crypto::random_array::<16>()?.to_vec()))
}

/// Loads the index, and the generation token read before loading it.
pub(crate) async fn load_index(barrier: &Barrier) -> Result<(Index, Option<Vec<u8>>)> {
    let seen = generation(barrier).await?;
    let mut roles = builtin_roles();
    for (k, b) in scan_all(barrier, ROLE).await? {
        roles.push(decode::<RoleDefinition>(&k, &b)?);
    }
    let mut assignments = Vec::new();
    for (k, b) in scan_all(barrier, ASSIGN).await? {
        assignments.push(Assignment::from(decode::<AssignmentRec>(&k, &b)?));
    }
    let mut denies = Vec::new();
    for (k, b) in scan_all(barrier, DENY).await? {
        denies.push(decode::<DenyAssignment>(&k, &b)?);
    }
    let memberships = crate::groups::load_memberships(barrier).await?;
    Ok((Index::build(roles, assignments, denies, memberships), seen))
}

pub(crate) fn check_guid(what: &str, s: &str) -> Result<()> {
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

/// Checks an absolute scope's shape: `/`, `/vaults/{v}`, `/vaults/{v}/{collection}[/{name}]`.
pub fn check_scope(s: &str) -> Result<String> {
    let n = normalize_scope(s);
    let segs: Vec<&str> = n.split('/').filter(|x| !x.is_empty()).collect();
    let ok = match segs.as_slice() {
        [] => true,
        ["vaults", _] => true,
        ["vaults", _, c] | ["vaults", _, c, _] => {
            ["secrets", "keys", "certificates"].iter().any(|x| x.eq_ignore_ascii_case(c))
        }
        _ => false,
    };
    if !ok || n.len() > 400 {
        return Err(Error::bad(format!(
            "The scope '{}' is not valid: use '/', '/vaults/{{vault}}' or '/vaults/{{vault}}/{{secrets|keys|certificates}}[/{{name}}]'.",
            n.chars().take(100).collect::<String>()
        )));
    }
    Ok(n)
}

/// Role id from a role definition id (`/providers/Microsoft.Authorization/roleDefinitions/{id}`
/// or the bare GUID).
pub fn role_id_of(s: &str) -> String {
    s.trim_end_matches('/').rsplit('/').next().unwrap_or(s).to_ascii_lowercase()
}

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

fn check_patterns(what: &str, list: &[String]) -> Result<()> {
    if list.len() > 200 {
        return Err(Error::bad(format!("Too many {what} (at most 200).")));
    }
    for p in list {
        let ok =
            !p.is_empty() && p.len() <= 256 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"./*_-".contains(&b));
        if !ok {
            return Err(Error::bad(format!(
                "The {what} entry '{}' is not a valid action pattern.",
                p.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(())
}

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

impl Core {
    pub(crate) fn with_index<T>(&self, f: impl FnOnce(&mut Index) -> T) -> Option<T> {
        self.rbac.write().ok().map(|mut idx| {
            self.rbac_sync.local_updates.fetch_add(1, Ordering::AcqRel);
            f(&mut idx)
        })
    }

    pub(crate) fn index_groups_of(&self, principal: &str) -> Vec<String> {
        self.rbac.read().map(|i| i.groups_of(principal)).unwrap_or_default()
    }

    /// Re-reads the generation token when the sync interval has passed (or `force`), and
    /// reloads the index when another node changed the authorization state.
    pub async fn sync_authorization(&self, force: bool) -> Result<()> {
        let s = &self.rbac_sync;
        let now = s.elapsed_ms();
        let last = s.last_check_ms.load(Ordering::Relaxed);
        if !force && now.saturating_sub(last) < s.interval_ms.load(Ordering::Relaxed) && last != 0 {
            return Ok(());
        }
        if s.reloading.swap(true, Ordering::AcqRel) {
            return Ok(()); // someone else is checking; use the current index meanwhile
        }
        let result = async {
            s.last_check_ms.store(now.max(1), Ordering::Relaxed);
            let current = generation(&self.barrier).await?;
            let seen = s.seen.lock().map(|g| g.clone()).unwrap_or(None);
            if current != seen {
                let before = s.local_updates.load(Ordering::Acquire);
                let (idx, token) = load_index(&self.barrier).await?;
                let swapped = match self.rbac.write() {
                    // a local write landed meanwhile: keep the current index; the next check
                    // reloads again because `seen` is left as it was
                    Ok(mut g) if s.local_updates.load(Ordering::Acquire) == before => {
                        *g = idx;
                        true
                    }
                    _ => false,
                };
                self.vaults.forget_all();
                if swapped && let Ok(mut g) = s.seen.lock() {
                    *g = token;
                }
            }
            Ok(())
        }
        .await;
        s.reloading.store(false, Ordering::Release);
        result
    }

    /// Sets how often this node looks for changes made by other nodes (tests use 0).
    pub fn set_authorization_sync_interval(&self, ms: u64) {
        self.rbac_sync.interval_ms.store(ms, Ordering::Relaxed);
    }

    // ---- role definitions ----

    pub fn role_definitions(&self) -> Vec<RoleDefinition> {
        let mut out = builtin_roles();
        if let Ok(idx) = self.rbac.read() {
            let mut custom: Vec<RoleDefinition> = idx.roles().filter(|r| !r.built_in).cloned().collect();
            custom.sort_by(|a, b| a.name.cmp(&b.name));
            out.extend(custom);
        }
        out
    }

    pub async fn role_definition(&self, id: &str) -> Result<RoleDefinition> {
        let id = role_id_of(id);
        if let Some(r) = builtin_roles().into_iter().find(|r| r.id == id) {
            return Ok(r);
        }
        self.read_json::<RoleDefinition>(&format!("{ROLE}{id}"))
            .await?
            .ok_or_else(|| Error::new(ErrorKind::RoleDefinitionNotFound, "The role definition was not found."))
    }

    /// Finds a role by id or (case-insensitive) name.
    pub async fn find_role(&self, id_or_name: &str) -> Result<RoleDefinition> {
        if let Some(r) = self.role_definitions().into_iter().find(|r| r.name.eq_ignore_ascii_case(id_or_name)) {
            return self.role_definition(&r.id).await;
        }
        self.role_definition(id_or_name).await
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

    /// A role definition as seen through `scope` ([`Core::role_visible_at`]); 404 otherwise.
    pub async fn role_definition_at(&self, scope: &str, id: &str) -> Result<RoleDefinition> {
        let r = self.role_definition(id).await?;
        if Self::role_visible_at(&r, scope) {
            Ok(r)
        } else {
            Err(Error::new(ErrorKind::RoleDefinitionNotFound, "The role definition was not found."))
        }
    }

    /// Creates or replaces a custom role. Returns the stored definition. No caller check: for
    /// callers acting on a principal's behalf use [`Core::put_role_definition_as`].
    pub async fn put_role_definition(&self, id: &str, def: NewRoleDefinition) -> Result<RoleDefinition> {
        self.write_role_definition(id, def, None).await
    }

    /// [`Core::put_role_definition`] for principal `p`, who needs
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
        for (k, b) in scan_all(&self.barrier, ASSIGN).await? {
            let a = decode::<AssignmentRec>(&k, &b)?;
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
        if builtin_roles().iter().any(|r| r.id == id) {
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
        let key = format!("{ROLE}{id}");
        for _ in 0..crate::CAS_RETRIES {
            let old = self.read_json_versioned::<RoleDefinition>(&key).await?;
            // no scopes given: an update keeps the role's, a new role is deployment-wide
            let scopes = match (&old, asked.is_empty()) {
                (Some((o, _)), true) => o.assignable_scopes.clone(),
                (None, true) => vec!["/".to_owned()],
                (_, false) => asked.clone(),
            };
            let uses = match &old {
                Some(_) => self.role_use_scopes(&id).await?,
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
            let txn = match &old {
                Some((_, stamp)) => BTxn::new().unchanged(&key, stamp),
                None => BTxn::new().absent(&key),
            };
            match self.barrier.commit(bump(txn.put(&key, encode(&role)?))?).await {
                Ok(()) => {
                    let stored = role.clone();
                    self.with_index(|i| i.upsert_role(stored));
                    return Ok(role);
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The role definition changed concurrently; retry."))
    }

    /// Deletes a custom role; refused while any assignment (or eligible assignment) uses it.
    /// No caller check: see [`Core::delete_role_definition_as`].
    pub async fn delete_role_definition(&self, id: &str) -> Result<RoleDefinition> {
        self.remove_role_definition(id, None).await
    }

    /// [`Core::delete_role_definition`] for principal `p`, who needs
    /// [`ROLE_DEFINITION_DELETE`] at every scope the role is assignable to (and assigned at).
    pub async fn delete_role_definition_as(&self, p: &Principal, id: &str) -> Result<RoleDefinition> {
        self.remove_role_definition(id, Some(p)).await
    }

    async fn remove_role_definition(&self, id: &str, caller: Option<&Principal>) -> Result<RoleDefinition> {
        let id = role_id_of(id);
        if builtin_roles().iter().any(|r| r.id == id) {
            return Err(Error::bad("Built-in role definitions cannot be deleted."));
        }
        let key = format!("{ROLE}{id}");
        for _ in 0..crate::CAS_RETRIES {
            let (role, stamp) = self
                .read_json_versioned::<RoleDefinition>(&key)
                .await?
                .ok_or_else(|| Error::new(ErrorKind::RoleDefinitionNotFound, "The role definition was not found."))?;
            // storage, not the index: another node may have just assigned the role; such an
            // assignment rewrites the role record, so the stamp check below catches it
            let uses = self.role_use_scopes(&id).await?;
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
            match self.barrier.commit(bump(BTxn::new().unchanged(&key, &stamp).delete(&key))?).await {
                Ok(()) => {
                    self.with_index(|i| i.remove_role(&id));
                    return Ok(role);
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The role definition changed concurrently; retry."))
    }

    /// Adds to `txn` what pins role `role_id` for a new assignment: nothing for a built-in role;
    /// for a custom role, a rewrite of its record conditioned on its stamp (so a concurrent
    /// delete fails its own stamp check).
    /// A custom role is only assignable at or below one of its `assignableScopes`.
    pub(crate) async fn pin_role(&self, txn: BTxn, role_id: &str, scope: &str) -> Result<BTxn> {
        if builtin_roles().iter().any(|r| r.id == role_id) {
            return Ok(txn);
        }
        let key = format!("{ROLE}{role_id}");
        match self.barrier.get_versioned(&key).await? {
            Some(v) => {
                let role: RoleDefinition = decode(&key, &v.value)?;
                if !role.assignable_scopes.iter().any(|s| strongbox_authz::covers(s, scope)) {
                    return Err(Error::bad(format!(
                        "The role '{}' cannot be assigned at scope '{scope}' (assignable scopes: {}).",
                        role.name,
                        role.assignable_scopes.join(", ")
                    )));
                }
                Ok(txn.unchanged(&key, &v.stamp).put(&key, v.value.expose().to_vec()))
            }
            None => Err(Error::bad(format!("The role definition '{role_id}' does not exist."))),
        }
    }

    // ---- decisions ----

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
        let decision = match self.rbac.read() {
            Ok(idx) => idx.decide_with_groups(&p.object_id, &p.token_groups, action, resource, now, target_role),
            Err(_) => Decision::Deny,
        };
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
    /// other nodes first (see the module note).
    pub async fn authorize_request(
        &self,
        p: &Principal,
        action: &str,
        resource: &str,
        policy: Option<crate::policies::PolicyCheck<'_>>,
    ) -> Result<Option<String>> {
        if let Err(e) = self.sync_authorization(false).await {
            tracing::warn!(error = %e.message, "authorization state not refreshed");
        }
        if let Some(check) = policy
            && let Ok(v) = self.vault(check.vault).await
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

    pub(crate) async fn create_assignment_rec(
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
        let key = format!("{ASSIGN}{}", rec.id);
        let txn = self.pin_role(BTxn::new().absent(&key).put(&key, encode(&rec)?), &role_id, &rec.scope).await?;
        self.barrier.commit(bump(txn)?).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, "A role assignment with this name already exists, or its role changed.")
            } else {
                e
            }
        })?;
        let a = Assignment::from(rec);
        let added = a.clone();
        self.with_index(|i| i.add(added));
        Ok(a)
    }

    pub async fn get_role_assignment(&self, id: &str) -> Result<Assignment> {
        let key = format!("{ASSIGN}{}", id.to_ascii_lowercase());
        let rec: AssignmentRec = self
            .read_json(&key)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::RoleAssignmentNotFound, "The role assignment was not found."))?;
        Ok(rec.into())
    }

    /// An assignment as seen through `scope` (the scope of a request): only one at `scope` or
    /// below it is visible there; any other is "not found", as if it did not exist.
    pub async fn get_role_assignment_at(&self, scope: &str, id: &str) -> Result<Assignment> {
        let a = self.get_role_assignment(id).await?;
        if strongbox_authz::covers(&normalize_scope(scope), &a.scope) {
            Ok(a)
        } else {
            Err(Error::new(ErrorKind::RoleAssignmentNotFound, "The role assignment was not found."))
        }
    }

    /// Assignments whose scope is `scope` or below it (expired activations left out).
    pub async fn list_role_assignments(&self, scope: &str) -> Result<Vec<Assignment>> {
        let scope = normalize_scope(scope);
        let now = self.now();
        let mut out = Vec::new();
        for (k, b) in scan_all(&self.barrier, ASSIGN).await? {
            let a = Assignment::from(decode::<AssignmentRec>(&k, &b)?);
            if strongbox_authz::covers(&scope, &a.scope) && a.expires.is_none_or(|e| now < e) {
                out.push(a);
            }
        }
        Ok(out)
    }

    pub async fn delete_role_assignment(&self, id: &str) -> Result<Assignment> {
        let a = self.get_role_assignment(id).await?;
        self.barrier.commit(bump(BTxn::new().delete(format!("{ASSIGN}{}", a.id)))?).await?;
        self.with_index(|i| i.remove(&a.id));
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
        let key = format!("{DENY}{}", deny.id);
        self.barrier.commit(bump(BTxn::new().put(&key, encode(&deny)?))?).await?;
        let added = deny.clone();
        self.with_index(|i| i.add_deny(added));
        Ok(deny)
    }

    pub async fn get_deny_assignment(&self, id: &str) -> Result<DenyAssignment> {
        self.read_json(&format!("{DENY}{}", id.to_ascii_lowercase()))
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "The deny assignment was not found."))
    }

    pub async fn list_deny_assignments(&self) -> Result<Vec<DenyAssignment>> {
        scan_all(&self.barrier, DENY).await?.iter().map(|(k, b)| decode(k, b)).collect()
    }

    pub async fn delete_deny_assignment(&self, id: &str) -> Result<DenyAssignment> {
        let d = self.get_deny_assignment(id).await?;
        self.barrier.commit(bump(BTxn::new().delete(format!("{DENY}{}", d.id)))?).await?;
        self.with_index(|i| i.remove_deny(&d.id));
        Ok(d)
    }
}

#[cfg(test)]
#[path = "authz_tests.rs"]
mod tests;
