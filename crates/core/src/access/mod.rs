//! Access control: who may do what, and where. Deny by default.
//!
//! - [`rbac`]: the decisions (every request asks [`Core::authorize_request`]), role
//!   assignments at deployment, vault, collection or object scope, and deny assignments;
//! - [`roles`]: built-in and custom role definitions;
//! - [`groups`]: named sets of principals that assignments and access policies can name;
//! - [`pim`]: eligible assignments, activation requests and their approval (just-in-time
//!   elevation);
//! - [`access_policies`]: the vault permission model (RBAC or legacy vault access policies)
//!   and the access policies themselves, which live in the vault records.
//!
//! Underneath, [`store`] holds one storage view per area and the generation bump, [`index`]
//! the in-memory authorization index and its cross-node sync, and [`names`] the checks of
//! GUIDs, scopes and action patterns. Those three import nothing from the feature files
//! above; the feature files import only from them (and call each other through the service).

mod access_policies;
mod groups;
mod index;
mod names;
mod pim;
mod rbac;
mod roles;
mod store;

pub use access_policies::{
    AccessPolicy, AccessPolicyArea, AccessPolicyCheck, AccessPolicyPermissions, MAX_ACCESS_POLICIES,
    PermissionModelUpdate,
};
pub use groups::Group;
pub use index::SYNC_INTERVAL_MS;
pub use names::{check_scope, normalize_scope, role_id_of};
pub use pim::{ActivationRequest, EligibleAssignment, MAX_ACTIVATION_SECS, RequestStatus};
pub use rbac::NewDenyAssignment;
pub use roles::{NewRoleDefinition, ROLE_DEFINITION_DELETE, ROLE_DEFINITION_WRITE};

use std::sync::Arc;

use strongbox_barrier::Barrier;
use strongbox_types::Result;

/// What access control keeps per node: its storage views and the authorization index.
pub(crate) struct AccessState {
    store: store::AccessStore,
    index: index::IndexCache,
}

impl AccessState {
    /// Builds the views and loads the index. The barrier must be unsealed.
    pub(crate) async fn open(barrier: &Arc<Barrier>) -> Result<Self> {
        let store = store::AccessStore::new(barrier);
        let index = index::IndexCache::load(&store).await?;
        Ok(Self { store, index })
    }
}

#[cfg(test)]
mod tests;
