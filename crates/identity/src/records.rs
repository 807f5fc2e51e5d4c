//! The stored record of an application or managed identity (`sp/{client id}`) and its
//! credentials.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServicePrincipalRec {
    pub client_id: String,
    pub object_id: String,
    pub display_name: String,
    pub enabled: bool,
    pub secrets: Vec<ClientSecretRec>,
    #[serde(default)]
    pub certs: Vec<ClientCertRec>,
    #[serde(default)]
    pub federated: Vec<FederatedRec>,
    #[serde(default)]
    pub created: i64,
    /// `ManagedIdentity` for identities served by `strongbox agent`; empty for applications.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// A pending one-time enrolment code of a managed identity (hash only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment: Option<EnrollmentRec>,
    /// Credentials replaced by a routine rotation (not a revocation): `(id, until)`. They can no
    /// longer obtain tokens, but tokens they obtained stay valid until `until`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<(String, i64)>,
    /// Registered as a public client (Entra's `isFallbackPublicClient`): it may start user
    /// sign-ins (device code) without a credential of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_client: bool,
}

impl ServicePrincipalRec {
    /// Ids of the credentials whose tokens stay valid.
    pub(crate) fn credential_ids(&self, now: i64) -> Vec<String> {
        let mut v: Vec<String> = self.secrets.iter().map(|s| s.id.clone()).collect();
        v.extend(self.retired.iter().filter(|(_, until)| *until > now).map(|(id, _)| id.clone()));
        v.extend(self.certs.iter().map(|c| c.id.clone()));
        v.extend(self.federated.iter().map(|f| f.id.clone()));
        v
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ClientSecretRec {
    pub id: String,
    /// Argon2id PHC string.
    pub hash: String,
    pub expires: Option<i64>,
    /// The first three characters of the secret (Entra's `hint`).
    #[serde(default)]
    pub hint: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub created: i64,
}

/// Without the hash: a record must not put credential material in a log line or panic text.
impl std::fmt::Debug for ClientSecretRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretRec")
            .field("id", &self.id)
            .field("expires", &self.expires)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClientCertRec {
    pub id: String,
    /// SHA-1 and SHA-256 of the DER certificate, hex.
    pub sha1: String,
    pub sha256: String,
    pub der_b64: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FederatedRec {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    #[serde(default)]
    pub created: i64,
}

/// A managed identity's pending one-time enrolment code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EnrollmentRec {
    /// SHA-256 of the code, hex.
    pub code_sha256: String,
    pub expires: i64,
}
