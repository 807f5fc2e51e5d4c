//! Keys: a collection of versioned objects whose payload is either software key material (RSA,
//! EC; barrier-encrypted) or, for `-HSM` key types, only the handle of a key inside the PKCS#11
//! token (the [`KeyProvider`] the server configures).
//!
//! Which vault takes which `kty` (Azure's rules): standard vaults RSA and EC; premium vaults also
//! RSA-HSM and EC-HSM; managed HSM pools only RSA-HSM, EC-HSM and oct-HSM. `-HSM` types need a
//! configured token: without one they are refused with `NotImplemented`, never kept in software.
//!
//! Every version is used through a [`KeyHandle`] (software or HSM), parsed once and cached (a
//! version's key never changes, so that cache needs no invalidation except on purge).
//! Operations check `enabled`, `key_ops` and (encrypt, wrapKey and sign only, as Azure does) `nbf`
//! and `exp` before touching the key; the part of a version they need is cached too (see
//! [`OpMeta`]) so a hot sign/decrypt reads no storage.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use strongbox_crypto::aes::SymParams;
use strongbox_crypto::handle::{KeyHandle, KeyProvider, KeySpec};
use strongbox_crypto::keys::{CipherAlg, Curve, JsonWebKey, KeyKind, KeyMaterial, SignAlg};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretBytes, SecretString};

use crate::objects::{Attributes, BoxFuture, Collection, CommonUpdate, NewVersion, Object, Page, PurgeHook, Spec};
use crate::records::Tags;
use crate::records::VersionRec;
use crate::vaults::VaultRecord;
use crate::{Core, DeletedInfo};
use strongbox_barrier::keyspace;
use strongbox_barrier::{Barrier, View};

mod release;
pub use release::{ReleasePolicy, ReleaseRequest, ReleasedKey};

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

const ALL_OPS: &[&str] = &["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"];
const HANDLE_CACHE_MAX: usize = 10_000;
/// The operations refused outside a key's `nbf`/`exp` window (the others recover existing data).
const WINDOWED_OPS: &[&str] = &["encrypt", "wrapKey", "sign"];

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

/// See [`Core::key_storage_summary`].
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

pub(crate) type HandleCache = RwLock<HashMap<String, Arc<dyn KeyHandle>>>;

/// What an operation needs of a version, cached per `vault/name/version` (and per `vault/name/`
/// for "latest"): the key handle and the attributes it must check. Entries are dropped whenever
/// this node writes the key (create, import, update, delete, recover, purge, restore, rotate),
/// and they live at most [`OP_META_TTL`] seconds, which bounds staleness from writers on other
/// nodes. Versions behind a certificate (`managed`) are not cached: the certificates service
/// changes them.
#[derive(Debug)]
pub(crate) struct OpMeta {
    name: String,
    version: String,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    key_ops: Vec<String>,
    handle: Arc<dyn KeyHandle>,
    cached_at: i64,
}

/// How long (seconds, on the injected clock) an [`OpMeta`] entry may be used.
const OP_META_TTL: i64 = 1;

/// Key state held in memory: the HSM provider, the handle cache and the operation cache. It is
/// also the key store's [`PurgeHook`]: a purge forgets the key's cached state and destroys its
/// HSM token objects.
pub(crate) struct KeyRuntime {
    provider: RwLock<Option<Arc<dyn KeyProvider>>>,
    ops: RwLock<HashMap<String, Arc<OpMeta>>>,
    handles: HandleCache,
    /// The `KEY_VERSIONS` area, read to find a purged key's HSM objects.
    versions: View,
}

impl std::fmt::Debug for KeyRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRuntime").finish_non_exhaustive()
    }
}

impl KeyRuntime {
    pub(crate) fn new(barrier: Arc<Barrier>) -> Self {
        Self {
            provider: RwLock::new(None),
            ops: RwLock::new(HashMap::new()),
            handles: RwLock::new(HashMap::new()),
            versions: View::new(barrier, keyspace::KEY_VERSIONS),
        }
    }

    pub(crate) fn provider(&self) -> Result<Arc<dyn KeyProvider>> {
        self.provider.read().ok().and_then(|p| p.clone()).ok_or_else(no_provider)
    }

    /// Drops the cached operation state of every version of a key (after any write to it).
    pub(crate) fn forget_ops(&self, vault: &str, lc: &str) {
        let prefix = format!("{vault}/{lc}/");
        if let Ok(mut c) = self.ops.write() {
            c.retain(|k, _| !k.starts_with(&prefix));
        }
    }

    /// The HSM object ids of every version of a key.
    pub(crate) async fn hsm_ids_of(&self, vault: &str, lc: &str) -> Result<Vec<String>> {
        let rows = self.versions.scan_all::<VersionRec<KeyPayload>>(&format!("{vault}/{lc}/")).await?;
        Ok(rows.into_iter().filter_map(|(_, r)| r.payload.hsm).collect())
    }
}

impl PurgeHook for KeyRuntime {
    fn before<'a>(&'a self, vault: &'a str, lc: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(self.hsm_ids_of(vault, lc))
    }

    /// After a key is purged: forget its cached state and destroy its token objects.
    fn purged(&self, vault: &str, lc: &str, hsm_ids: &[String]) {
        let prefix = format!("{vault}/{lc}/");
        if let Ok(mut c) = self.handles.write() {
            c.retain(|k, _| !k.starts_with(&prefix));
        }
        self.forget_ops(vault, lc);
        if hsm_ids.is_empty() {
            return;
        }
        match self.provider() {
            Ok(p) => {
                for id in hsm_ids {
                    if let Err(e) = p.destroy(id) {
                        tracing::warn!(vault = %vault, key = %lc, error = %e, "could not destroy a purged key's HSM object");
                    }
                }
            }
            Err(_) => {
                tracing::warn!(vault = %vault, key = %lc, "purged an HSM key while no token is configured: its token objects remain")
            }
        }
    }
}

fn check_ops(ops: &[String]) -> Result<()> {
    for op in ops {
        if !ALL_OPS.contains(&op.as_str()) {
            return Err(Error::bad(format!(
                "Invalid key operation '{}'. Valid operations are: {}.",
                op.chars().take(32).collect::<String>(),
                ALL_OPS.join(", ")
            )));
        }
    }
    Ok(())
}

fn default_ops(kind: KeyKind) -> Vec<String> {
    let ops: &[&str] = match kind {
        KeyKind::Rsa => &["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
        KeyKind::Ec(_) => &["sign", "verify"],
        KeyKind::Oct => &["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    };
    ops.iter().map(|s| (*s).to_owned()).collect()
}

/// A vault key type: its name as created (`RSA-HSM`), its family and whether it lives in the HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kty {
    pub name: &'static str,
    pub family: Family,
    pub hsm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Rsa,
    Ec,
    Oct,
}

/// Azure's rules for which vault takes which `kty` (see the module documentation).
fn key_type(v: &VaultRecord, kty: &str) -> Result<Kty> {
    use crate::Sku;
    let t = match kty {
        "RSA" => Kty { name: "RSA", family: Family::Rsa, hsm: false },
        "EC" => Kty { name: "EC", family: Family::Ec, hsm: false },
        "oct" => Kty { name: "oct", family: Family::Oct, hsm: false },
        "RSA-HSM" => Kty { name: "RSA-HSM", family: Family::Rsa, hsm: true },
        "EC-HSM" => Kty { name: "EC-HSM", family: Family::Ec, hsm: true },
        "oct-HSM" => Kty { name: "oct-HSM", family: Family::Oct, hsm: true },
        other => {
            return Err(Error::bad(format!(
                "Invalid key type '{}'. Supported key types are RSA, EC, RSA-HSM, EC-HSM and (managed HSM pools) oct-HSM.",
                other.chars().take(32).collect::<String>()
            )));
        }
    };
    // Azure's answer to a key type the vault kind does not hold: 400 BadParameter with the inner
    // code KeyTypeNotSupported and "Invalid kty value: …" (plus why, here).
    let unsupported =
        |why: &str| Err(Error::new(ErrorKind::KeyTypeNotSupported, format!("Invalid kty value: {}. {why}", t.name)));
    match v.sku {
        Sku::ManagedHsm if !t.hsm => {
            unsupported("A managed HSM pool holds only HSM-protected keys (RSA-HSM, EC-HSM, oct-HSM).")
        }
        Sku::Standard | Sku::Premium if t.family == Family::Oct => {
            unsupported("Symmetric (oct) keys are only supported in managed HSM pools.")
        }
        Sku::Standard if t.hsm => {
            unsupported(&format!("HSM-protected keys require a premium vault; vault '{}' is standard.", v.name))
        }
        _ => Ok(t),
    }
}

fn no_provider() -> Error {
    Error::new(
        ErrorKind::NotImplemented,
        "HSM-protected keys need a PKCS#11 token, and this server has none configured (STRONGBOX_PKCS11_MODULE, STRONGBOX_PKCS11_TOKEN, STRONGBOX_PKCS11_PIN).",
    )
}

fn parse_curve(crv: Option<&str>) -> Result<Curve> {
    match crv.unwrap_or("P-256") {
        "P-256" => Ok(Curve::P256),
        "P-384" => Ok(Curve::P384),
        "P-521" => Ok(Curve::P521),
        "P-256K" | "SECP256K1" => Ok(Curve::P256K),
        other => Err(Error::bad(format!(
            "Invalid curve name '{}'. Supported curves are P-256, P-384, P-521 and P-256K.",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

pub(crate) fn material_of(p: &KeyPayload) -> Result<KeyMaterial> {
    let bytes = strongbox_crypto::unhex(p.material.expose())
        .ok_or_else(|| Error::internal("stored key material is corrupt"))?;
    KeyMaterial::from_storage(SecretBytes::new(bytes).expose())
}

pub(crate) fn payload(kty: &str, key_ops: Vec<String>, m: &KeyMaterial) -> KeyPayload {
    KeyPayload {
        kty: kty.to_owned(),
        key_ops,
        material: SecretString::new(strongbox_crypto::hex(m.to_storage().expose())),
        hsm: None,
        exportable: false,
        release_policy: None,
    }
}

fn hsm_payload(kty: &str, key_ops: Vec<String>, id: String) -> KeyPayload {
    KeyPayload {
        kty: kty.to_owned(),
        key_ops,
        material: SecretString::default(),
        hsm: Some(id),
        exportable: false,
        release_policy: None,
    }
}

/// A key operation's input, owned (and the data wiped on drop) so it can move to a thread.
struct OwnedInput {
    value: SecretBytes,
    iv: Option<Vec<u8>>,
    aad: Option<Vec<u8>>,
    tag: Option<Vec<u8>>,
}

fn owned_input(i: &CipherInput) -> OwnedInput {
    OwnedInput { value: SecretBytes::new(i.value.clone()), iv: i.iv.clone(), aad: i.aad.clone(), tag: i.tag.clone() }
}

/// Runs a key operation: inline for software keys (microseconds of CPU), on the blocking pool
/// for keys whose operations wait on a device ([`KeyHandle::blocking`]), so a slow or busy HSM
/// never stalls the async workers that serve every other request.
async fn run_key_op<T: Send + 'static>(
    h: &Arc<dyn KeyHandle>,
    op: impl FnOnce(&dyn KeyHandle) -> Result<T> + Send + 'static,
) -> Result<T> {
    if !h.blocking() {
        return op(h.as_ref());
    }
    // A bounded number of device operations in flight (a network HSM serves a few dozen
    // sessions; more threads would only queue inside the module).
    static DEVICE_OPS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
        std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(32)));
    let h = h.clone();
    crate::bounded::run_bounded(&DEVICE_OPS, "the key operation was interrupted", move || op(h.as_ref())).await
}

fn op_cache_key(vault: &str, lc: &str, version: Option<&str>) -> String {
    format!("{vault}/{lc}/{}", version.unwrap_or_default().to_ascii_lowercase())
}

impl Core {
    fn key_view(&self, v: &VaultRecord, o: Object<KeyPayload>) -> Result<KeyView> {
        let (exportable, release_policy) =
            o.payload.as_ref().map_or((false, None), |p| (p.exportable, p.release_policy.clone()));
        let key = match &o.payload {
            Some(p) => {
                let mut jwk = self.key_handle(v, &o.name, &o.meta.version, p)?.public_jwk();
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

    fn key_listing(&self, v: &VaultRecord, p: Page<KeyPayload>) -> Result<KeyListing> {
        let items = p.items.into_iter().map(|o| self.key_view(v, o)).collect::<Result<Vec<_>>>()?;
        Ok(KeyListing { items, next: p.next })
    }

    /// Installs the HSM provider `-HSM` keys use (the server does this at start when a PKCS#11
    /// token is configured).
    pub fn set_key_provider(&self, provider: Arc<dyn KeyProvider>) {
        if let Ok(mut p) = self.key_runtime.provider.write() {
            *p = Some(provider);
        }
    }

    pub(crate) fn key_provider(&self) -> Result<Arc<dyn KeyProvider>> {
        self.key_runtime.provider()
    }

    /// Drops the cached operation state of every version of a key (after any write to it).
    pub(crate) fn forget_key_ops(&self, vault: &str, lc: &str) {
        self.key_runtime.forget_ops(vault, lc);
    }

    /// The key of a version, parsed (software) or found in the token (HSM) once and cached.
    fn key_handle(&self, v: &VaultRecord, name: &str, version: &str, p: &KeyPayload) -> Result<Arc<dyn KeyHandle>> {
        let id = format!("{}/{}/{version}", v.name, name.to_ascii_lowercase());
        if let Some(k) = self.key_runtime.handles.read().ok().and_then(|c| c.get(&id).cloned()) {
            return Ok(k);
        }
        let k: Arc<dyn KeyHandle> = match &p.hsm {
            Some(hid) => self.key_provider()?.open(hid)?,
            None => Arc::new(material_of(p)?),
        };
        if let Ok(mut c) = self.key_runtime.handles.write() {
            if c.len() >= HANDLE_CACHE_MAX {
                c.clear();
            }
            c.insert(id, k.clone());
        }
        Ok(k)
    }

    pub(crate) async fn store_key(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        p: KeyPayload,
        props: KeyProps,
    ) -> Result<KeyView> {
        let KeyProps { tags, enabled, nbf, exp } = props;
        let hsm = p.hsm.clone();
        let new = NewVersion { payload: p, content_type: None, tags, enabled, nbf, exp };
        let created = match self.key_store.refuse_managed(v, name, "create").await {
            Ok(()) => self.obj_create(&KEYS, v, name, new).await,
            Err(e) => Err(e),
        };
        self.forget_key_ops(&v.name, &name.key());
        let o = match created {
            Ok(o) => o,
            Err(e) => {
                // The new token object belongs to no version: do not leave it behind.
                if let (Some(id), Ok(p)) = (hsm, self.key_provider()) {
                    let _ = p.destroy(&id);
                }
                return Err(e);
            }
        };
        self.key_view(v, o)
    }

    /// A new key of `t` per `spec`: in the token for `-HSM` types, in software otherwise.
    pub(crate) fn new_key_payload(&self, t: Kty, spec: KeySpec, key_ops: Option<Vec<String>>) -> Result<KeyPayload> {
        if t.hsm {
            let (id, handle) = self.key_provider()?.generate(spec)?;
            let ops = key_ops.unwrap_or_else(|| default_ops(handle.kind()));
            return Ok(hsm_payload(t.name, ops, id));
        }
        let material = match spec {
            KeySpec::Rsa(bits) => KeyMaterial::generate_rsa(bits)?,
            KeySpec::Ec(curve) => KeyMaterial::generate_ec(curve)?,
            KeySpec::Oct(bits) => KeyMaterial::generate_oct(bits)?,
        };
        let ops = key_ops.unwrap_or_else(|| default_ops(material.kind()));
        Ok(payload(t.name, ops, &material))
    }

    /// For rotation: a new key of the same type, size or curve, and operations as `old`.
    pub(crate) fn rotated_payload(
        &self,
        v: &VaultRecord,
        name: &str,
        version: &str,
        old: &KeyPayload,
    ) -> Result<KeyPayload> {
        let handle = self.key_handle(v, name, version, old)?;
        let spec = match handle.kind() {
            KeyKind::Rsa => KeySpec::Rsa(handle.bits()),
            KeyKind::Ec(c) => KeySpec::Ec(c),
            KeyKind::Oct => KeySpec::Oct(handle.bits()),
        };
        let t = Kty {
            name: match (old.kty.as_str(), old.hsm.is_some()) {
                ("RSA-HSM", true) => "RSA-HSM",
                ("EC-HSM", true) => "EC-HSM",
                ("oct-HSM", true) => "oct-HSM",
                ("EC", _) => "EC",
                ("oct", _) => "oct",
                _ => "RSA",
            },
            family: Family::Rsa,
            hsm: old.hsm.is_some(),
        };
        let mut p = self.new_key_payload(t, spec, Some(old.key_ops.clone()))?;
        // A rotated version keeps the export settings of the one it replaces.
        p.exportable = old.exportable;
        p.release_policy = old.release_policy.clone();
        Ok(p)
    }

    /// `POST /keys/{name}/create`.
    pub async fn create_key(&self, vault: &str, name: &str, req: CreateKey) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let t = key_type(&v, &req.kty)?;
        if let Some(ops) = &req.key_ops {
            check_ops(ops)?;
        }
        let release_policy = req.release_policy.clone().map(release::validate_policy).transpose()?;
        let exportable = req.exportable.unwrap_or(false);
        release::check_new(t.hsm, exportable, release_policy.as_ref())?;
        let spec = match t.family {
            Family::Rsa => {
                if req.public_exponent.is_some_and(|e| e != 65_537) {
                    return Err(Error::bad("Only the public exponent 65537 is supported."));
                }
                if req.crv.is_some() {
                    return Err(Error::bad("'crv' does not apply to RSA keys."));
                }
                let bits = req.key_size.unwrap_or(2048);
                if !strongbox_crypto::keys::RSA_SIZES.contains(&bits) {
                    return Err(Error::bad(format!(
                        "The key size {bits} is not supported for RSA keys; use 2048, 3072 or 4096."
                    )));
                }
                KeySpec::Rsa(bits)
            }
            Family::Ec => {
                if req.key_size.is_some() {
                    return Err(Error::bad("'key_size' does not apply to EC keys; use 'crv'."));
                }
                if req.public_exponent.is_some() {
                    return Err(Error::bad("'public_exponent' does not apply to EC keys."));
                }
                KeySpec::Ec(parse_curve(req.crv.as_deref())?)
            }
            Family::Oct => {
                if req.crv.is_some() || req.public_exponent.is_some() {
                    return Err(Error::bad("'crv' and 'public_exponent' do not apply to symmetric (oct) keys."));
                }
                let bits = req.key_size.unwrap_or(256);
                if !strongbox_crypto::keys::OCT_SIZES.contains(&bits) {
                    return Err(Error::bad(format!(
                        "The key size {bits} is not supported for symmetric keys; use 128, 192 or 256."
                    )));
                }
                KeySpec::Oct(bits)
            }
        };
        // Key generation is CPU-bound (RSA) or a blocking call into the token.
        let mut p = self.new_key_payload(t, spec, req.key_ops)?;
        p.exportable = exportable;
        p.release_policy = release_policy;
        let props = KeyProps { tags: req.tags, enabled: req.enabled, nbf: req.nbf, exp: req.exp };
        self.store_key(&v, &name, p, props).await
    }

    /// `PUT /keys/{name}`: import of a private JWK as a software key.
    pub async fn import_key(
        &self,
        vault: &str,
        name: &str,
        jwk: &JsonWebKey,
        hsm: bool,
        props: KeyProps,
    ) -> Result<KeyView> {
        self.import_key_with_release(vault, name, jwk, hsm, props, false, None).await
    }

    /// [`Core::import_key`] with the secure key release settings (`exportable` requires a policy).
    #[allow(clippy::too_many_arguments)]
    pub async fn import_key_with_release(
        &self,
        vault: &str,
        name: &str,
        jwk: &JsonWebKey,
        hsm: bool,
        props: KeyProps,
        exportable: bool,
        release_policy: Option<ReleasePolicy>,
    ) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let kty_in = jwk.kty.as_deref().ok_or_else(|| Error::bad("The key's 'kty' member is required."))?;
        let t = if hsm {
            key_type(&v, &format!("{}-HSM", kty_in.trim_end_matches("-HSM")))?
        } else {
            key_type(&v, kty_in)?
        };
        if let Some(ops) = &jwk.key_ops {
            check_ops(ops)?;
        }
        let release_policy = release_policy.map(release::validate_policy).transpose()?;
        release::check_new(t.hsm, exportable, release_policy.as_ref())?;
        let mut p = if t.hsm {
            let (id, handle) = self.key_provider()?.import(jwk)?;
            let ops = jwk.key_ops.clone().unwrap_or_else(|| default_ops(handle.kind()));
            hsm_payload(t.name, ops, id)
        } else {
            let material = KeyMaterial::import_jwk(jwk)?;
            let ops = jwk.key_ops.clone().unwrap_or_else(|| default_ops(material.kind()));
            payload(t.name, ops, &material)
        };
        p.exportable = exportable;
        p.release_policy = release_policy;
        self.store_key(&v, &name, p, props).await
    }

    pub async fn get_key(&self, vault: &str, name: &str, version: Option<&str>) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.obj_get(&KEYS, &v, &name, version).await?;
        self.key_view(&v, o)
    }

    pub async fn update_key(&self, vault: &str, name: &str, version: Option<&str>, upd: KeyUpdate) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if let Some(ops) = &upd.key_ops {
            check_ops(ops)?;
        }
        let new_policy = upd.release_policy.clone().map(release::validate_policy).transpose()?;
        self.key_store.refuse_managed(&v, &name, "update").await?;
        let o = self
            .obj_update::<KeyPayload, _>(&KEYS, &v, &name, version, |m, p| {
                if let Some(ops) = &upd.key_ops {
                    p.key_ops = ops.clone();
                }
                release::apply_update(p, new_policy.as_ref(), upd.exportable)?;
                upd.common.apply(m);
                Ok(())
            })
            .await;
        // Forget before answering, so the next operation sees the change.
        self.forget_key_ops(&v.name, &name.key());
        self.key_view(&v, o?)
    }

    pub async fn list_keys(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<KeyListing> {
        let v = self.vault(vault).await?;
        let p = self.obj_list(&KEYS, &v, false, resume, max).await?;
        self.key_listing(&v, p)
    }

    pub async fn list_deleted_keys(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<KeyListing> {
        let v = self.vault(vault).await?;
        let p = self.obj_list(&KEYS, &v, true, resume, max).await?;
        self.key_listing(&v, p)
    }

    pub async fn list_key_versions(
        &self,
        vault: &str,
        name: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<KeyListing> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let p = self.obj_list_versions(&KEYS, &v, &name, resume, max).await?;
        self.key_listing(&v, p)
    }

    pub async fn delete_key(&self, vault: &str, name: &str) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        // Deleted bundles carry the public key, as Azure's do.
        self.key_store.refuse_managed(&v, &name, "delete").await?;
        let o = self.obj_delete::<KeyPayload>(&KEYS, &v, &name).await;
        self.forget_key_ops(&v.name, &name.key());
        self.key_view(&v, o?)
    }

    pub async fn get_deleted_key(&self, vault: &str, name: &str) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.obj_get_deleted::<KeyPayload>(&KEYS, &v, &name).await?;
        self.key_view(&v, o)
    }

    pub async fn recover_key(&self, vault: &str, name: &str) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        self.key_store.refuse_managed(&v, &name, "recover").await?;
        let o = self.obj_recover::<KeyPayload>(&KEYS, &v, &name).await;
        self.forget_key_ops(&v.name, &name.key());
        self.key_view(&v, o?)
    }

    pub async fn purge_key(&self, vault: &str, name: &str) -> Result<()> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        // purge_now (objects.rs) also drops the cached handles and destroys HSM token objects.
        self.key_store.refuse_managed(&v, &name, "purge").await?;
        self.obj_purge(&KEYS, &v, &name).await
    }

    /// The HSM handle ids of every version of a key (live or deleted).
    pub async fn backup_key(&self, vault: &str, name: &str) -> Result<Vec<u8>> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        // An HSM key's record holds only a token handle, and a restore needs the name purged,
        // which destroys the token objects: such a backup could never be restored. Refuse it
        // honestly until backups carry the key wrapped under a token-resident backup key.
        if !self.key_runtime.hsm_ids_of(&v.name, &name.key()).await?.is_empty() {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "Backups of HSM-protected keys are not supported yet: the key cannot leave the HSM.",
            ));
        }
        self.obj_backup::<KeyPayload>(&KEYS, &v, &name).await
    }

    pub async fn restore_key(&self, vault: &str, blob: &[u8]) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let o = self.obj_restore::<KeyPayload>(&KEYS, &v, blob).await?;
        self.forget_key_ops(&v.name, &o.name.to_ascii_lowercase());
        self.key_view(&v, o)
    }

    /// Loads the key for an operation and enforces `enabled`, `key_ops` and, for the protecting
    /// operations ([`WINDOWED_OPS`]), `nbf` and `exp`. A hot
    /// key is served from the operation cache without reading storage.
    async fn key_for(&self, vault: &str, name: &str, version: Option<&str>, op: &str) -> Result<Arc<OpMeta>> {
        let version = version.filter(|s| !s.is_empty());
        let now = self.now();
        let ck = op_cache_key(&vault.to_ascii_lowercase(), &name.to_ascii_lowercase(), version);
        let cached = self.key_runtime.ops.read().ok().and_then(|c| c.get(&ck).cloned());
        let m = match cached {
            Some(m) if now >= m.cached_at && now - m.cached_at <= OP_META_TTL => m,
            _ => {
                let v = self.vault(vault).await?;
                let name = ObjectName::parse(name)?;
                let o = self.obj_get::<KeyPayload>(&KEYS, &v, &name, version).await?;
                let p = o.payload.ok_or_else(|| Error::internal("key payload missing"))?;
                let handle = self.key_handle(&v, &o.name, &o.meta.version, &p)?;
                let m = Arc::new(OpMeta {
                    name: o.name,
                    version: o.meta.version,
                    enabled: o.meta.enabled,
                    nbf: o.meta.nbf,
                    exp: o.meta.exp,
                    key_ops: p.key_ops,
                    handle,
                    cached_at: now,
                });
                if !o.meta.managed
                    && let Ok(mut c) = self.key_runtime.ops.write()
                {
                    if c.len() >= HANDLE_CACHE_MAX {
                        c.clear();
                    }
                    c.insert(ck, m.clone());
                }
                m
            }
        };
        if !m.enabled {
            return Err(Error::new(KEYS.disabled, "Operation get is not allowed on a disabled key."));
        }
        // Azure's rule: outside `nbf`..`exp` a key no longer protects new data (encrypt, wrapKey,
        // sign), but still recovers what it protected (decrypt, unwrapKey, verify), so data
        // encrypted under a key that has since expired is never locked out.
        if WINDOWED_OPS.contains(&op) && (m.nbf.is_some_and(|n| now < n) || m.exp.is_some_and(|e| now >= e)) {
            return Err(Error::new(
                ErrorKind::OperationNotPermitted,
                format!(
                    "Operation {op} is not allowed: the key is not yet valid or has expired (decrypt, unwrapKey and verify still are)."
                ),
            ));
        }
        if !m.key_ops.iter().any(|k| k == op) {
            return Err(Error::new(
                ErrorKind::OperationNotPermitted,
                format!("Operation {op} is not permitted on this key (key_ops: {}).", m.key_ops.join(", ")),
            ));
        }
        Ok(m)
    }

    pub async fn key_sign(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        alg: &str,
        digest: &[u8],
    ) -> Result<KeyOpResult> {
        let alg = SignAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, "sign").await?;
        let digest = digest.to_vec();
        let sig = run_key_op(&m.handle, move |h| h.sign(alg, &digest)).await?;
        Ok(KeyOpResult {
            name: m.name.clone(),
            version: m.version.clone(),
            value: SecretBytes::new(sig),
            iv: None,
            tag: None,
        })
    }

    pub async fn key_verify(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        alg: &str,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let alg = SignAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, "verify").await?;
        let (digest, signature) = (digest.to_vec(), signature.to_vec());
        run_key_op(&m.handle, move |h| h.verify(alg, &digest, &signature)).await
    }

    /// encrypt / wrapKey (`op` names the key operation that must be allowed).
    pub async fn key_encrypt(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        op: &str,
        alg: &str,
        input: &CipherInput,
    ) -> Result<KeyOpResult> {
        let alg = CipherAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, op).await?;
        let input = owned_input(input);
        let out = run_key_op(&m.handle, move |h| {
            let params = SymParams { iv: input.iv.as_deref(), aad: input.aad.as_deref(), tag: input.tag.as_deref() };
            h.encrypt(alg, input.value.expose(), &params)
        })
        .await?;
        Ok(KeyOpResult {
            name: m.name.clone(),
            version: m.version.clone(),
            value: SecretBytes::new(out.value),
            iv: out.iv,
            tag: out.tag,
        })
    }

    /// decrypt / unwrapKey.
    pub async fn key_decrypt(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        op: &str,
        alg: &str,
        input: &CipherInput,
    ) -> Result<KeyOpResult> {
        let alg = CipherAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, op).await?;
        let input = owned_input(input);
        let value = run_key_op(&m.handle, move |h| {
            let params = SymParams { iv: input.iv.as_deref(), aad: input.aad.as_deref(), tag: input.tag.as_deref() };
            h.decrypt(alg, input.value.expose(), &params)
        })
        .await?;
        Ok(KeyOpResult { name: m.name.clone(), version: m.version.clone(), value, iv: None, tag: None })
    }

    /// What storage holds for a key version, described without the key itself (tests and
    /// diagnostics): the payload's member names, the length of the software material and the HSM
    /// handle, for the version record and the head's copy of the latest version.
    pub async fn key_storage_summary(&self, vault: &str, name: &str, version: &str) -> Result<Vec<KeyStorageSummary>> {
        let v = self.vault(vault).await?;
        let lc = ObjectName::parse(name)?.key();
        let mut out = Vec::new();
        for (k, member) in
            [(KEYS.version_key(&v.name, &lc, version), "value"), (KEYS.head_key(&v.name, &lc), "latest_value")]
        {
            let Some(raw) = self.barrier.get(&k).await? else { continue };
            let doc: serde_json::Value = crate::decode(&k, &raw)?;
            let Some(p) = doc.get(member).and_then(|p| p.as_object()) else { continue };
            out.push(KeyStorageSummary {
                fields: p.keys().cloned().collect(),
                material_len: p.get("material").and_then(|m| m.as_str()).map_or(0, str::len),
                hsm_handle: p.get("hsm").and_then(|h| h.as_str()).map(str::to_owned),
            });
        }
        Ok(out)
    }

    /// `POST /rng`: 1–128 random bytes.
    pub fn random_bytes(&self, count: usize) -> Result<Vec<u8>> {
        if !(1..=128).contains(&count) {
            return Err(Error::bad("'count' must be between 1 and 128."));
        }
        let mut b = vec![0u8; count];
        strongbox_crypto::fill_random(&mut b)?;
        Ok(b)
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
