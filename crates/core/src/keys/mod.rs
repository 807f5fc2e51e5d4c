//! Keys: a collection of versioned objects whose payload is either software key material (RSA,
//! EC; barrier-encrypted) or, for `-HSM` key types, only the handle of a key inside the PKCS#11
//! token (the [`KeyProvider`] the server configures).
//!
//! Which vault takes which `kty` (Azure's rules): standard vaults RSA and EC; premium vaults also
//! RSA-HSM and EC-HSM; managed HSM pools only RSA-HSM, EC-HSM and oct-HSM. `-HSM` types need a
//! configured token: without one they are refused with `NotImplemented`, never kept in software.
//!
//! Every version is used through a `KeyHandle` (software or HSM), parsed once and cached (a
//! version's key never changes, so that cache needs no invalidation except on purge).
//! Operations check `enabled`, `key_ops` and (encrypt, wrapKey and sign only, as Azure does) `nbf`
//! and `exp` before touching the key; the part of a version they need is cached too (see
//! `runtime::OpMeta`) so a hot sign/decrypt reads no storage.
//!
//! The [`Keys`] service is split by concern: `kinds.rs` (key types, curves, operations,
//! payloads), `runtime.rs` (the HSM provider and the in-memory caches), `lifecycle.rs` (create,
//! import, read, update, delete, recover, purge, backup, restore), `ops.rs` (sign, verify,
//! encrypt, decrypt), `rotation.rs` (rotation policies) and `release.rs` (secure key release).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_barrier::keyspace::{self, KEY_ROTATION_POLICIES, RELEASE_TOKENS_SEEN};
use strongbox_barrier::{Barrier, View};
use strongbox_crypto::handle::KeyProvider;
use strongbox_crypto::keys::JsonWebKey;
use strongbox_types::{Clock, ErrorKind, Result, SecretBytes, SecretString};

use crate::DeletedInfo;
use crate::objects::{Attributes, Collection, CommonUpdate, Object, ObjectStore, Page, Spec};
use crate::records::Tags;
use crate::vaults::{VaultRecord, Vaults};

mod kinds;
mod lifecycle;
mod ops;
mod release;
mod rotation;
mod runtime;

pub(crate) use kinds::{material_of, payload};
pub use release::{ReleasePolicy, ReleaseRequest, ReleasedKey};
pub use rotation::{ActionType, LifetimeAction, RotationPolicy, parse_duration};
pub(crate) use runtime::KeyRuntime;

pub(crate) const KEYS: Spec = Spec {
    heads: keyspace::KEY_HEADS,
    versions: keyspace::KEY_VERSIONS,
    deleted: keyspace::DELETED_KEYS,
    noun: "key",
    title: "Key",
    not_found: ErrorKind::KeyNotFound,
    disabled: ErrorKind::KeyDisabled,
    backup_aad: b"strongbox/backup/v1/key",
    managed: Some(ErrorKind::KeyManaged),
};

/// The keys collection of the object store.
pub(crate) struct KeyObjects;

impl Collection for KeyObjects {
    type Payload = KeyPayload;
    const SPEC: Spec = KEYS;
}

/// The stored payload of a key version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyPayload {
    /// As created or imported (`RSA`, `EC`).
    pub kty: String,
    pub key_ops: Vec<String>,
    /// `KeyMaterial::to_storage`, hex; empty for HSM-backed keys.
    #[serde(default)]
    pub material: SecretString,
    /// HSM-backed keys: the provider's handle id (PKCS#11 `CKA_ID`, hex). Never key material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsm: Option<String>,
    /// May be released (secure key release); requires `release_policy`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exportable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_policy: Option<ReleasePolicy>,
}

/// A key version as the API shows it (public parts only).
#[derive(Debug, Clone)]
pub struct KeyView {
    pub name: String,
    pub version: String,
    /// Public JWK (no `kid`: the API layer knows the host).
    pub key: Option<JsonWebKey>,
    pub tags: Option<Tags>,
    pub attributes: Attributes,
    pub deleted: Option<DeletedInfo>,
    /// Backs a certificate (Azure `managed: true`): changed only through the certificates API.
    pub managed: bool,
    pub exportable: bool,
    pub release_policy: Option<ReleasePolicy>,
}

#[derive(Debug)]
pub struct KeyListing {
    pub items: Vec<KeyView>,
    pub next: Option<String>,
}

/// `POST /keys/{name}/create`.
#[derive(Debug, Default)]
pub struct CreateKey {
    pub kty: String,
    pub key_size: Option<usize>,
    pub public_exponent: Option<u64>,
    pub crv: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    /// Secure key release: `exportable` requires `release_policy`.
    pub exportable: Option<bool>,
    pub release_policy: Option<ReleasePolicy>,
}

/// Attributes and tags given when a key version is created or imported.
#[derive(Debug, Default)]
pub struct KeyProps {
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// `PATCH /keys/{name}/{version}`: fields left `None` stay.
#[derive(Debug, Default)]
pub struct KeyUpdate {
    pub key_ops: Option<Vec<String>>,
    pub common: CommonUpdate,
    /// A new release policy (refused when the current one is immutable).
    pub release_policy: Option<ReleasePolicy>,
    /// Must equal the version's setting when given.
    pub exportable: Option<bool>,
}

/// The result of a key operation: the versioned key it used, and the output (with the `iv` and
/// `tag` of symmetric encryption).
#[derive(Debug)]
pub struct KeyOpResult {
    pub name: String,
    pub version: String,
    pub value: SecretBytes,
    pub iv: Option<Vec<u8>>,
    pub tag: Option<Vec<u8>>,
}

/// See [`Keys::storage_summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStorageSummary {
    pub fields: Vec<String>,
    pub material_len: usize,
    pub hsm_handle: Option<String>,
}

/// Inputs of encrypt/decrypt/wrapKey/unwrapKey besides the key and algorithm. `value` is
/// plaintext or a key to wrap, so `Debug` shows only lengths.
#[derive(Default)]
pub struct CipherInput {
    pub value: Vec<u8>,
    pub iv: Option<Vec<u8>>,
    pub aad: Option<Vec<u8>>,
    pub tag: Option<Vec<u8>>,
}

impl std::fmt::Debug for CipherInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CipherInput")
            .field("value_len", &self.value.len())
            .field("iv_len", &self.iv.as_ref().map(Vec::len))
            .field("aad_len", &self.aad.as_ref().map(Vec::len))
            .field("tag_len", &self.tag.as_ref().map(Vec::len))
            .finish()
    }
}

/// Keys: the key store, the in-memory key runtime (HSM provider, handle and operation caches),
/// rotation policies (`KEY_ROTATION_POLICIES`) and the record of attestation tokens used for a
/// release (`RELEASE_TOKENS_SEEN`).
pub struct Keys {
    vaults: Arc<Vaults>,
    store: Arc<ObjectStore<KeyObjects>>,
    runtime: Arc<KeyRuntime>,
    rotation_policies: View,
    releases_seen: View,
    clock: Arc<dyn Clock>,
}

impl Keys {
    /// Another node wrote the key `lc` of `vault` (`None`: possibly any key): drop the cached
    /// operation state.
    pub(crate) fn forget_ops(&self, key: Option<(&str, &str)>) {
        match key {
            Some((vault, lc)) => self.runtime.forget_ops(&vault.to_ascii_lowercase(), &lc.to_ascii_lowercase()),
            None => {
                if let Ok(mut c) = self.runtime.ops.write() {
                    c.clear();
                }
            }
        }
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl Keys {
    /// `runtime` is the one the key store was given as its purge hook.
    pub(crate) fn new(
        barrier: Arc<Barrier>,
        clock: Arc<dyn Clock>,
        vaults: Arc<Vaults>,
        store: Arc<ObjectStore<KeyObjects>>,
        runtime: Arc<KeyRuntime>,
    ) -> Self {
        Self {
            rotation_policies: View::new(barrier.clone(), KEY_ROTATION_POLICIES),
            releases_seen: View::new(barrier, RELEASE_TOKENS_SEEN),
            vaults,
            store,
            runtime,
            clock,
        }
    }

    pub(crate) fn view(&self, v: &VaultRecord, o: Object<KeyPayload>) -> Result<KeyView> {
        let (exportable, release_policy) =
            o.payload.as_ref().map_or((false, None), |p| (p.exportable, p.release_policy.clone()));
        let key = match &o.payload {
            Some(p) => {
                let mut jwk = self.runtime.handle(v, &o.name, &o.meta.version, p)?.public_jwk();
                jwk.kty = Some(p.kty.clone());
                jwk.key_ops = Some(p.key_ops.clone());
                Some(jwk)
            }
            None => None,
        };
        Ok(KeyView {
            attributes: Attributes::of(v, &o.meta),
            name: o.name,
            version: o.meta.version,
            key,
            tags: o.meta.tags,
            deleted: o.deleted,
            managed: o.meta.managed,
            exportable,
            release_policy,
        })
    }

    fn listing(&self, v: &VaultRecord, p: Page<KeyPayload>) -> Result<KeyListing> {
        let items = p.items.into_iter().map(|o| self.view(v, o)).collect::<Result<Vec<_>>>()?;
        Ok(KeyListing { items, next: p.next })
    }

    /// Installs the HSM provider `-HSM` keys use (the server does this at start when a PKCS#11
    /// token is configured).
    pub fn set_provider(&self, provider: Arc<dyn KeyProvider>) {
        self.runtime.set_provider(provider);
    }
}

#[cfg(test)]
mod tests;
