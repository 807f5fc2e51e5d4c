//! The permission-model part of a vault record: the legacy access policy entries, in Azure's
//! JSON shape. Only their shape lives here, with the record that stores them; what they mean
//! (the permission names, validation, the check of a request) is access control's
//! (`access/access_policies.rs`).

use serde::{Deserialize, Serialize};

/// The permission lists of one access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicyPermissions {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub certificates: Vec<String>,
}

/// One access policy entry of a vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicy {
    #[serde(default)]
    pub tenant_id: String,
    pub object_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    #[serde(default)]
    pub permissions: AccessPolicyPermissions,
}
