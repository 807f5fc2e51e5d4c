//! Stored shapes of versioned objects (secrets now; keys and certificates next). Serialized as
//! JSON, then encrypted by the barrier.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) type Tags = BTreeMap<String, String>;

/// Everything about one version except its payload (a secret's value, a key's material).
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
    /// Set on the key and secret versions behind a certificate: they change only through the
    /// certificates API (Azure's `managed: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub managed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VersionRec<P> {
    pub meta: VersionMeta,
    #[serde(rename = "value")]
    pub payload: P,
}

/// The per-name record: original-case name and a copy of the latest version, so listing and
/// reading the latest version do not touch the version records. Lives under the collection's
/// live prefix while live, under its deleted prefix while deleted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HeadRec<P> {
    pub name: String,
    pub latest: VersionMeta,
    /// The latest version's payload, so that "get latest" (the hot path) is one storage read.
    /// The version record keeps its own copy; both are written in the same transaction.
    /// (Absent in records written before this field existed: then the version is read.)
    #[serde(default = "none", rename = "latest_value")]
    pub latest_payload: Option<P>,
    #[serde(default)]
    pub deleted: Option<crate::DeletedInfo>,
}

fn none<P>() -> Option<P> {
    None
}

/// The plaintext inside a backup blob (encrypted under the deployment's backup key).
#[derive(Serialize, Deserialize)]
pub(crate) struct Backup<P> {
    pub format: u32,
    pub kind: String,
    pub name: String,
    pub latest: String,
    pub versions: Vec<VersionRec<P>>,
}
