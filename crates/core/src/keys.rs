//! Keys: a collection of versioned objects whose payload is software key material (RSA and EC;
//! HSM-backed keys and `oct` keys come with the PKCS#11 work and managed HSM pools).
//!
//! Private key material lives only inside the barrier-encrypted records and in parsed handles
//! cached in memory (a version's material never changes, so the cache needs no invalidation
//! except on purge). Operations check `enabled`, `nbf`, `exp` and `key_ops` before touching the
//! key.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use strongbox_crypto::keys::{Curve, EncAlg, JsonWebKey, KeyKind, KeyMaterial, SignAlg};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretBytes, SecretString};

use crate::objects::{Attributes, Collection, CommonUpdate, NewVersion, Object, Page};
use crate::records::Tags;
use crate::vaults::VaultRecord;
use crate::{Core, DeletedInfo};

pub(crate) const KEYS: Collection = Collection {
    live: "key",
    versions: "keyv",
    deleted: "dkey",
    noun: "key",
    title: "Key",
    not_found: ErrorKind::KeyNotFound,
    disabled: ErrorKind::KeyDisabled,
    backup_aad: b"strongbox/backup/v1/key",
};

const ALL_OPS: &[&str] = &["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"];
const HANDLE_CACHE_MAX: usize = 10_000;

/// The stored payload of a key version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyPayload {
    /// As created or imported (`RSA`, `EC`).
    pub kty: String,
    pub key_ops: Vec<String>,
    /// `KeyMaterial::to_storage`, hex.
    pub material: SecretString,
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
}

/// The result of a key operation: the versioned key it used, and the output.
#[derive(Debug)]
pub struct KeyOpResult {
    pub name: String,
    pub version: String,
    pub value: SecretBytes,
}

pub(crate) type HandleCache = RwLock<HashMap<String, Arc<KeyMaterial>>>;

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

/// `kty` of a vault key. Standard vaults refuse HSM forms as Azure does; premium vaults will
/// hold them once the PKCS#11 provider lands; `oct` belongs to managed HSM pools.
fn software_kty(v: &VaultRecord, kty: &str) -> Result<&'static str> {
    match kty {
        "RSA" => Ok("RSA"),
        "EC" => Ok("EC"),
        "RSA-HSM" | "EC-HSM" if v.sku == crate::Sku::Standard => Err(Error::bad(format!(
            "HSM-protected keys ({kty}) require a premium vault; vault '{}' is standard.",
            v.name
        ))),
        "RSA-HSM" | "EC-HSM" => Err(Error::new(
            ErrorKind::NotImplemented,
            "HSM-protected keys are not available in this Strongbox release yet.",
        )),
        "oct" | "oct-HSM" => Err(Error::bad("Symmetric (oct) keys are only supported in managed HSM pools.")),
        other => Err(Error::bad(format!(
            "Invalid key type '{}'. Supported key types are RSA and EC.",
            other.chars().take(32).collect::<String>()
        ))),
    }
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
    }
}

impl Core {
    fn key_view(&self, v: &VaultRecord, o: Object<KeyPayload>) -> Result<KeyView> {
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
        })
    }

    fn key_listing(&self, v: &VaultRecord, p: Page<KeyPayload>) -> Result<KeyListing> {
        let items = p.items.into_iter().map(|o| self.key_view(v, o)).collect::<Result<Vec<_>>>()?;
        Ok(KeyListing { items, next: p.next })
    }

    /// The parsed key for a version, parsed once and cached.
    fn key_handle(&self, v: &VaultRecord, name: &str, version: &str, p: &KeyPayload) -> Result<Arc<KeyMaterial>> {
        let id = format!("{}/{}/{version}", v.name, name.to_ascii_lowercase());
        if let Some(k) = self.key_handles.read().ok().and_then(|c| c.get(&id).cloned()) {
            return Ok(k);
        }
        let k = Arc::new(material_of(p)?);
        if let Ok(mut c) = self.key_handles.write() {
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
        let new = NewVersion { payload: p, content_type: None, tags, enabled, nbf, exp };
        let o = self.obj_create(&KEYS, v, name, new).await?;
        self.key_view(v, o)
    }

    /// `POST /keys/{name}/create`.
    pub async fn create_key(&self, vault: &str, name: &str, req: CreateKey) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let kty = software_kty(&v, &req.kty)?;
        if let Some(ops) = &req.key_ops {
            check_ops(ops)?;
        }
        let material = match kty {
            "RSA" => {
                if req.public_exponent.is_some_and(|e| e != 65_537) {
                    return Err(Error::bad("Only the public exponent 65537 is supported."));
                }
                if req.crv.is_some() {
                    return Err(Error::bad("'crv' does not apply to RSA keys."));
                }
                KeyMaterial::generate_rsa(req.key_size.unwrap_or(2048))?
            }
            _ => {
                if req.key_size.is_some() {
                    return Err(Error::bad("'key_size' does not apply to EC keys; use 'crv'."));
                }
                KeyMaterial::generate_ec(parse_curve(req.crv.as_deref())?)?
            }
        };
        let ops = req.key_ops.unwrap_or_else(|| default_ops(material.kind()));
        let props = KeyProps { tags: req.tags, enabled: req.enabled, nbf: req.nbf, exp: req.exp };
        self.store_key(&v, &name, payload(kty, ops, &material), props).await
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
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let kty_in = jwk.kty.as_deref().ok_or_else(|| Error::bad("The key's 'kty' member is required."))?;
        let kty = if hsm {
            software_kty(&v, &format!("{}-HSM", kty_in.trim_end_matches("-HSM")))?
        } else {
            software_kty(&v, kty_in)?
        };
        let material = KeyMaterial::import_jwk(jwk)?;
        let ops = match &jwk.key_ops {
            Some(ops) => {
                check_ops(ops)?;
                ops.clone()
            }
            None => default_ops(material.kind()),
        };
        self.store_key(&v, &name, payload(kty, ops, &material), props).await
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
        let o = self
            .obj_update::<KeyPayload, _>(&KEYS, &v, &name, version, |m, p| {
                if let Some(ops) = &upd.key_ops {
                    p.key_ops = ops.clone();
                }
                upd.common.apply(m);
                Ok(())
            })
            .await?;
        self.key_view(&v, o)
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
        let o = self.obj_delete::<KeyPayload>(&KEYS, &v, &name).await?;
        self.key_view(&v, o)
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
        let o = self.obj_recover::<KeyPayload>(&KEYS, &v, &name).await?;
        self.key_view(&v, o)
    }

    pub async fn purge_key(&self, vault: &str, name: &str) -> Result<()> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        self.obj_purge(&KEYS, &v, &name).await?;
        let prefix = format!("{}/{}/", v.name, name.key());
        if let Ok(mut c) = self.key_handles.write() {
            c.retain(|k, _| !k.starts_with(&prefix));
        }
        Ok(())
    }

    pub async fn backup_key(&self, vault: &str, name: &str) -> Result<Vec<u8>> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        self.obj_backup::<KeyPayload>(&KEYS, &v, &name).await
    }

    pub async fn restore_key(&self, vault: &str, blob: &[u8]) -> Result<KeyView> {
        let v = self.vault(vault).await?;
        let o = self.obj_restore::<KeyPayload>(&KEYS, &v, blob).await?;
        self.key_view(&v, o)
    }

    /// Loads the key for an operation and enforces `enabled`, `nbf`, `exp` and `key_ops`.
    async fn key_for(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        op: &str,
    ) -> Result<(String, String, Arc<KeyMaterial>)> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.obj_get::<KeyPayload>(&KEYS, &v, &name, version).await?;
        let now = self.now();
        if o.meta.nbf.is_some_and(|n| now < n) || o.meta.exp.is_some_and(|e| now >= e) {
            return Err(Error::new(
                ErrorKind::OperationNotPermitted,
                format!("Operation {op} is not allowed: the key is not yet valid or has expired."),
            ));
        }
        let p = o.payload.ok_or_else(|| Error::internal("key payload missing"))?;
        if !p.key_ops.iter().any(|k| k == op) {
            return Err(Error::new(
                ErrorKind::OperationNotPermitted,
                format!("Operation {op} is not permitted on this key (key_ops: {}).", p.key_ops.join(", ")),
            ));
        }
        let k = self.key_handle(&v, &o.name, &o.meta.version, &p)?;
        Ok((o.name, o.meta.version, k))
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
        let (name, version, k) = self.key_for(vault, name, version, "sign").await?;
        let sig = k.sign(alg, digest)?;
        Ok(KeyOpResult { name, version, value: SecretBytes::new(sig) })
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
        let (_, _, k) = self.key_for(vault, name, version, "verify").await?;
        k.verify(alg, digest, signature)
    }

    /// encrypt / wrapKey (`op` names the key operation that must be allowed).
    pub async fn key_encrypt(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        op: &str,
        alg: &str,
        data: &[u8],
    ) -> Result<KeyOpResult> {
        let alg = EncAlg::parse(alg)?;
        let (name, version, k) = self.key_for(vault, name, version, op).await?;
        Ok(KeyOpResult { name, version, value: SecretBytes::new(k.encrypt(alg, data)?) })
    }

    /// decrypt / unwrapKey.
    pub async fn key_decrypt(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        op: &str,
        alg: &str,
        data: &[u8],
    ) -> Result<KeyOpResult> {
        let alg = EncAlg::parse(alg)?;
        let (name, version, k) = self.key_for(vault, name, version, op).await?;
        Ok(KeyOpResult { name, version, value: k.decrypt(alg, data)? })
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
