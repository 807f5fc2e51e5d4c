//! Certificates: a collection of versioned objects (the X.509 certificate and its policy), each
//! version backed by a key `keys/{name}/{version}` and a secret `secrets/{name}/{version}` with
//! the same version id, marked `managed`. The three are written, deleted, recovered and purged
//! together in one barrier transaction each.
//!
//! Issuance: `Self` (self-signed, completed synchronously), `Unknown` (a CSR in the pending
//! operation, completed by merge), a built-in CA of the vault, and issuer records. Public CA
//! providers are stored but cannot be reached from here: their pending operations fail with a
//! clear error.
//!
//! `RSA-HSM`/`EC-HSM` policies (premium vaults with a PKCS#11 token): the key is generated in the
//! token, the key record holds only its handle, the certificate or CSR is signed by the token,
//! and the secret holds the certificate chain without a private key (never exportable). Purging
//! the certificate purges the key, which destroys the token object.
//!
//! One file per concern:
//! - [`lifecycle`]: create, import, get, update, list, policy, delete, recover, purge, backup
//!   and restore;
//! - [`versions`]: a version written (and moved on delete/recover) together with its key and
//!   secret;
//! - [`issuance`]: the key of a new version and its signing (self-signed, CA, CSR);
//! - [`pending`]: pending operations (get, cancel, delete, merge);
//! - [`issuers`], [`contacts`]: the per-vault issuer records and contacts;
//! - [`encoding`]: the secret's PFX/PEM forms, import parsing and `secret_as`;
//! - [`renewal`]: the lifetime actions run in the background;
//! - [`ca`]: the built-in private CA; [`policy`]: certificate policies.
//!
//! The service is [`Certificates`], held by the root as `core.certificates`. Storage beyond
//! the three collections, one [`View`] each: [`CERT_OPERATIONS`] pending operations,
//! [`CERT_ISSUERS`] issuers, [`CERT_CONTACTS`] contacts, [`CERT_AUTHORITIES`] CAs, and
//! [`CERT_NOTES`] the `EmailContacts` notifications already raised.

mod ca;
mod contacts;
mod encoding;
mod issuance;
mod issuers;
mod lifecycle;
mod pending;
mod policy;
mod renewal;
mod versions;

pub use ca::{CaView, NewCa};
pub use contacts::Contact;
pub use encoding::{CT_PEM, CT_PKCS12};
pub use issuers::{AdminDetail, IssuerInput, IssuerView};
pub use lifecycle::{CertUpdate, CreateCertificate, ImportCertificate};
pub use pending::{CertOperationView, MergeCertificate, OperationError};
pub use policy::{CertLifetimeAction, CertPolicy, PolicyInput};

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_barrier::keyspace::{
    CERT_AUTHORITIES, CERT_CONTACTS, CERT_HEADS, CERT_ISSUERS, CERT_NOTES, CERT_OPERATIONS, CERT_VERSIONS,
    DELETED_CERTS, PURGE_SCHEDULE,
};
use strongbox_barrier::{Barrier, View};
use strongbox_crypto::certs as x509;
use strongbox_crypto::handle::KeyProvider;
use strongbox_crypto::keys::KeyMaterial;
use strongbox_types::{Clock, Error, ErrorKind, Result, SecretBytes, SecretString};

use crate::DeletedInfo;
use crate::keys::{KeyObjects, KeyRuntime};
use crate::objects::{Attributes, Collection, ObjectStore, Spec};
use crate::records::Tags;
use crate::secrets::SecretObjects;
use crate::vaults::{VaultRecord, Vaults};

pub(crate) const CERTS: Spec = Spec {
    heads: CERT_HEADS,
    versions: CERT_VERSIONS,
    deleted: DELETED_CERTS,
    noun: "certificate",
    title: "Certificate",
    not_found: ErrorKind::CertificateNotFound,
    disabled: ErrorKind::CertificateDisabled,
    backup_aad: b"strongbox/backup/v1/certificate",
    managed: None,
};

/// The stored payload of a certificate version. (The version's `content_type` metadata slot
/// holds the `x5t`, so that lists, which skip payloads, can show it.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CertPayload {
    /// DER of the certificate, standard base64.
    pub cer: String,
    /// DER of the issuer chain (leaf excluded), standard base64.
    #[serde(default)]
    pub chain: Vec<String>,
    /// The certificate's policy (the latest version's copy is the current one).
    pub policy: CertPolicy,
}

/// One certificate version as the API shows it.
#[derive(Debug, Clone)]
pub struct CertView {
    pub name: String,
    pub version: String,
    /// DER (absent in lists).
    pub cer: Option<Vec<u8>>,
    pub x5t: Option<String>,
    /// Present on single-certificate results.
    pub policy: Option<CertPolicy>,
    pub tags: Option<Tags>,
    pub attributes: Attributes,
    pub deleted: Option<DeletedInfo>,
}

#[derive(Debug)]
pub struct CertListing {
    pub items: Vec<CertView>,
    pub next: Option<String>,
}

/// The certificates collection of the object store.
pub(crate) struct CertObjects;

impl Collection for CertObjects {
    type Payload = CertPayload;
    const SPEC: Spec = CERTS;
}

/// The certificate service (`core.certificates`): the certificate collection and the key and
/// secret collections behind it, the key runtime (HSM provider, cached key operations), and
/// the areas it keeps beside the collections.
pub struct Certificates {
    barrier: Arc<Barrier>,
    clock: Arc<dyn Clock>,
    vaults: Arc<Vaults>,
    certs: Arc<ObjectStore<CertObjects>>,
    keys: Arc<ObjectStore<KeyObjects>>,
    secrets: Arc<ObjectStore<SecretObjects>>,
    key_runtime: Arc<KeyRuntime>,
    /// The purge schedule, written when a certificate and its key and secret are soft-deleted
    /// or recovered together.
    schedule: View,
    /// Pending operations: `{vault}/{name}`.
    operations: View,
    /// Issuer records: `{vault}/{name}`.
    issuers: View,
    /// Contacts: `{vault}`.
    contacts: View,
    /// Built-in CAs: `{vault}/{name}`.
    authorities: View,
    /// `EmailContacts` notifications raised: `{vault}/{name}/{version}`.
    notes: View,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").finish_non_exhaustive()
    }
}

/// What [`Certificates::new`] is built from.
pub(crate) struct CertificateDeps {
    pub barrier: Arc<Barrier>,
    pub clock: Arc<dyn Clock>,
    pub vaults: Arc<Vaults>,
    pub certs: Arc<ObjectStore<CertObjects>>,
    pub keys: Arc<ObjectStore<KeyObjects>>,
    pub secrets: Arc<ObjectStore<SecretObjects>>,
    pub key_runtime: Arc<KeyRuntime>,
}

impl Certificates {
    pub(crate) fn new(d: CertificateDeps) -> Self {
        let view = |area| View::new(d.barrier.clone(), area);
        Self {
            schedule: view(PURGE_SCHEDULE),
            operations: view(CERT_OPERATIONS),
            issuers: view(CERT_ISSUERS),
            contacts: view(CERT_CONTACTS),
            authorities: view(CERT_AUTHORITIES),
            notes: view(CERT_NOTES),
            barrier: d.barrier,
            clock: d.clock,
            vaults: d.vaults,
            certs: d.certs,
            keys: d.keys,
            secrets: d.secrets,
            key_runtime: d.key_runtime,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    async fn vault(&self, name: &str) -> Result<Arc<VaultRecord>> {
        self.vaults.record(name).await
    }

    fn key_provider(&self) -> Result<Arc<dyn KeyProvider>> {
        self.key_runtime.provider()
    }

    /// Drops the cached operation state of the key behind a certificate (after any write).
    fn forget_key_ops(&self, vault: &str, lc: &str) {
        self.key_runtime.forget_ops(vault, lc);
    }
}

/// The relative key of a per-vault record `{vault}/{lower-case name}`.
fn record_key(vault: &str, name: &str) -> String {
    format!("{vault}/{}", name.to_ascii_lowercase())
}

fn b64(der: &[u8]) -> String {
    x509::b64_std(der)
}

fn unb64(s: &str) -> Result<Vec<u8>> {
    x509::b64_std_decode(s).ok_or_else(|| Error::internal("stored certificate is corrupt"))
}

/// A software key as stored in a record (hex of `KeyMaterial::to_storage`).
fn key_hex(k: &KeyMaterial) -> SecretString {
    SecretString::new(strongbox_crypto::hex(k.to_storage().expose()))
}

fn key_from_hex(s: &SecretString) -> Result<KeyMaterial> {
    let b = strongbox_crypto::unhex(s.expose()).ok_or_else(|| Error::internal("stored key is corrupt"))?;
    KeyMaterial::from_storage(SecretBytes::new(b).expose())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_hides_values_passwords_and_keys() {
        let imp = ImportCertificate {
            value: SecretString::new("PFXVALUE-SENTINEL".into()),
            password: Some(SecretString::new("PFXPASS-SENTINEL".into())),
            policy: None,
            tags: None,
            enabled: None,
        };
        let issuer =
            IssuerInput { password: Some(SecretString::new("ISSUERPASS-SENTINEL".into())), ..Default::default() };
        let key = KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap();
        let hex = key_hex(&key);
        let text = format!("{imp:?} {issuer:?} {hex:?}");
        for s in ["PFXVALUE-SENTINEL", "PFXPASS-SENTINEL", "ISSUERPASS-SENTINEL", hex.expose()] {
            assert!(!text.contains(s), "{text}");
        }
    }
}
