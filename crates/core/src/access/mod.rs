//! Access control: who may do what, and where. Deny by default.
//!
//! - [`rbac`]: the decisions (every request asks [`Access::authorize_request`]), role
//!   assignments at deployment, vault, collection or object scope, and deny assignments;
//! - [`roles`]: built-in and custom role definitions;
//! - [`groups`]: named sets of principals that assignments and access policies can name;
//! - [`pim`]: eligible assignments, activation requests and their approval (just-in-time
//!   elevation);
//! - [`access_policies`]: the vault permission model (RBAC or legacy vault access policies)
//!   and the access policies themselves, which live in the vault records (changed through
//!   [`Vaults::update_record`], whose transaction also carries the generation bump).
//!
//! Underneath, [`store`] holds one storage view per area and the generation bump, [`index`]
//! the in-memory authorization index and its cross-node sync, and [`names`] the checks of
//! GUIDs, scopes and action patterns. Those three import nothing from the feature files
//! above; the feature files import only from them (and call each other through [`Access`]).
//! Outside this folder, access control uses the vaults service (records and their cache) and
//! the security log; neither uses access control.

mod access_policies;
mod groups;
mod index;
mod names;
mod pim;
mod rbac;
mod roles;
mod store;

pub use crate::vaults::{AccessPolicy, AccessPolicyPermissions};
pub use access_policies::{AccessPolicyArea, AccessPolicyCheck, MAX_ACCESS_POLICIES, PermissionModelUpdate};
pub use groups::Group;
pub(crate) use groups::GroupDirectory;
pub use index::SYNC_INTERVAL_MS;
pub use names::{check_scope, normalize_scope, role_id_of};
pub use pim::{ActivationRequest, EligibleAssignment, MAX_ACTIVATION_SECS, RequestStatus};
pub use rbac::NewDenyAssignment;
pub use roles::{NewRoleDefinition, ROLE_DEFINITION_DELETE, ROLE_DEFINITION_WRITE};

use std::sync::Arc;

use strongbox_barrier::Barrier;
use strongbox_types::{Clock, Result};

use crate::vaults::Vaults;
use strongbox_identity::SecurityLog;

/// The access-control service: its storage views, this node's authorization index, and what
/// it uses of the rest (vault records, the clock, the security log, the tenant).
pub struct Access {
    store: store::AccessStore,
    index: index::IndexCache,
    vaults: Arc<Vaults>,
    clock: Arc<dyn Clock>,
    log: SecurityLog,
    /// The deployment's tenant (access policies name it).
    tenant_id: String,
    /// The issuer of this deployment's tokens (named in access-policy refusals).
    issuer: String,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("tenant_id", &self.tenant_id).finish_non_exhaustive()
    }
}

impl Access {
    /// Builds the views and loads the index. The barrier must be unsealed.
    pub(crate) async fn open(
        barrier: Arc<Barrier>,
        clock: Arc<dyn Clock>,
        vaults: Arc<Vaults>,
        log: SecurityLog,
        tenant_id: String,
        issuer: String,
    ) -> Result<Self> {
        let store = store::AccessStore::new(&barrier);
        let index = index::IndexCache::load(&store).await?;
        Ok(Self { store, index, vaults, clock, log, tenant_id, issuer })
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests;
