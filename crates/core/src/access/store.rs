//! Where access control keeps its records: one [`View`] per keyspace area, the shapes of the
//! records that have no public type, and the generation token ([`AccessStore::bump`]) that every
//! authorization write rewrites in its own transaction.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_authz::Assignment;
use strongbox_barrier::keyspace::{
    DENY_ASSIGNMENTS, GROUP_MEMBERS, GROUP_NAMES, GROUPS, PIM_ELIGIBLE, PIM_REQUESTS, RBAC_GENERATION,
    ROLE_ASSIGNMENTS, ROLE_DEFINITIONS,
};
use strongbox_barrier::{BTxn, Barrier, View};
use strongbox_types::Result;

/// The views of the access-control areas. Relative keys are record ids, except
/// `group_names` (`{lower-case name}`), `group_members` (`{group}/{member}`) and `generation`
/// (a single record at `""`).
pub(crate) struct AccessStore {
    /// The generation token (raw bytes, not JSON).
    pub(super) generation: View,
    pub(super) role_assignments: View,
    pub(super) role_definitions: View,
    pub(super) deny_assignments: View,
    pub(super) pim_eligible: View,
    pub(super) pim_requests: View,
    pub(super) groups: View,
    pub(super) group_names: View,
    pub(super) group_members: View,
}

impl AccessStore {
    pub(crate) fn new(barrier: &Arc<Barrier>) -> Self {
        let view = |area| View::new(barrier.clone(), area);
        Self {
            generation: view(RBAC_GENERATION),
            role_assignments: view(ROLE_ASSIGNMENTS),
            role_definitions: view(ROLE_DEFINITIONS),
            deny_assignments: view(DENY_ASSIGNMENTS),
            pim_eligible: view(PIM_ELIGIBLE),
            pim_requests: view(PIM_REQUESTS),
            groups: view(GROUPS),
            group_names: view(GROUP_NAMES),
            group_members: view(GROUP_MEMBERS),
        }
    }

    pub(super) fn barrier(&self) -> &Arc<Barrier> {
        self.generation.barrier()
    }

    /// The current generation token (`None` before the first authorization write).
    pub(super) async fn generation(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.generation.get_bytes("").await?.map(|b| b.expose().to_vec()))
    }

    /// Adds the generation bump (a fresh random token) to a transaction that changes
    /// authorization state, so other nodes notice the change (see [`super::index`]).
    pub(super) fn bump(&self, txn: BTxn) -> Result<BTxn> {
        Ok(self.generation.put_bytes(txn, "", strongbox_crypto::random_array::<16>()?.to_vec()))
    }
}

/// A stored role assignment (an activation carries its end and its request).
#[derive(Serialize, Deserialize)]
pub(super) struct AssignmentRec {
    pub id: String,
    pub principal_id: String,
    pub role_id: String,
    pub scope: String,
    /// End of a just-in-time activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// The PIM request that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
}

impl From<AssignmentRec> for Assignment {
    fn from(r: AssignmentRec) -> Self {
        Assignment { id: r.id, principal_id: r.principal_id, role_id: r.role_id, scope: r.scope, expires: r.expires }
    }
}

/// The display-name index entry of a group.
#[derive(Serialize, Deserialize)]
pub(super) struct GroupNameRec {
    pub id: String,
}

/// One membership.
#[derive(Serialize, Deserialize)]
pub(super) struct MemberRec {
    pub group: String,
    pub member: String,
    pub added: i64,
}
