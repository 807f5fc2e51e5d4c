//! Stored shapes of secrets. Serialized as JSON, then encrypted by the barrier.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strongbox_types::SecretString;

pub(crate) type Tags = BTreeMap<String, String>;

/// Everything about one secret version except its value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct VersionMeta {
    pub version: String,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VersionRec {
    pub meta: VersionMeta,
    pub value: SecretString,
}

/// The per-name record: original-case name and a copy of the latest version, so listing and
/// reading the latest version do not touch the version records. Lives at `sec/…` while live, `dsec/…` while deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HeadRec {
    pub name: String,
    pub latest: VersionMeta,
    /// The latest version's value, so that "get latest" (the hot path) is one storage read.
    /// The version record keeps its own copy; both are written in the same transaction.
    /// (Absent in records written before this field existed: then the version is read.)
    #[serde(default)]
    pub latest_value: Option<SecretString>,
    #[serde(default)]
    pub deleted: Option<crate::DeletedInfo>,
}

/// The plaintext inside a backup blob (encrypted under the deployment's backup key).
#[derive(Serialize, Deserialize)]
pub(crate) struct SecretBackup {
    pub format: u32,
    pub kind: String,
    pub name: String,
    pub latest: String,
    pub versions: Vec<VersionRec>,
}

pub(crate) fn head_key(vault: &str, name_lc: &str) -> String {
    format!("sec/{vault}/{name_lc}")
}
pub(crate) fn deleted_key(vault: &str, name_lc: &str) -> String {
    format!("dsec/{vault}/{name_lc}")
}
pub(crate) fn versions_prefix(vault: &str, name_lc: &str) -> String {
    format!("secv/{vault}/{name_lc}/")
}
pub(crate) fn version_key(vault: &str, name_lc: &str, version: &str) -> String {
    format!("secv/{vault}/{name_lc}/{version}")
}
/// Background purge index, ordered by time: `purge/{scheduled:012}/sec/{vault}/{name}`.
pub(crate) fn purge_key(when: i64, vault: &str, name_lc: &str) -> String {
    format!("purge/{:012}/sec/{vault}/{name_lc}", when.max(0))
}
