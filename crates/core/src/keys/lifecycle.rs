//! A key's life: create, import, read, update, list, delete, recover, purge, backup, restore.

use strongbox_crypto::handle::KeySpec;
use strongbox_crypto::keys::{JsonWebKey, KeyKind, KeyMaterial};
use strongbox_types::{Error, ErrorKind, ObjectName, Result};

use super::kinds::{KeyFamily, Kty, check_ops, default_ops, hsm_payload, key_type, parse_curve};
use super::{CreateKey, KeyListing, KeyPayload, KeyProps, KeyUpdate, KeyView, Keys, ReleasePolicy, payload, release};
use crate::objects::NewVersion;
use crate::vaults::VaultRecord;

impl Keys {
    pub(crate) async fn add_version(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        p: KeyPayload,
        props: KeyProps,
    ) -> Result<KeyView> {
        let KeyProps { tags, enabled, nbf, exp } = props;
        let hsm = p.hsm.clone();
        let new = NewVersion { payload: p, content_type: None, tags, enabled, nbf, exp };
        let created = match self.store.refuse_managed(v, name, "create").await {
            Ok(()) => self.store.create(v, name, new).await,
            Err(e) => Err(e),
        };
        self.runtime.forget_ops(&v.name, &name.key());
        let o = match created {
            Ok(o) => o,
            Err(e) => {
                // The new token object belongs to no version: do not leave it behind.
                if let (Some(id), Ok(p)) = (hsm, self.runtime.provider()) {
                    let _ = p.destroy(&id);
                }
                return Err(e);
            }
        };
        self.view(v, o)
    }

    /// A new key of `t` per `spec`: in the token for `-HSM` types, in software otherwise.
    pub(crate) fn new_payload(&self, t: Kty, spec: KeySpec, key_ops: Option<Vec<String>>) -> Result<KeyPayload> {
        if t.hsm {
            let (id, handle) = self.runtime.provider()?.generate(spec)?;
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
        let handle = self.runtime.handle(v, name, version, old)?;
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
            family: KeyFamily::Rsa,
            hsm: old.hsm.is_some(),
        };
        let mut p = self.new_payload(t, spec, Some(old.key_ops.clone()))?;
        // A rotated version keeps the export settings of the one it replaces.
        p.exportable = old.exportable;
        p.release_policy = old.release_policy.clone();
        Ok(p)
    }

    /// `POST /keys/{name}/create`.
    pub async fn create(&self, vault: &str, name: &str, req: CreateKey) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        let t = key_type(&v, &req.kty)?;
        if let Some(ops) = &req.key_ops {
            check_ops(ops)?;
        }
        let release_policy = req.release_policy.clone().map(release::validate_policy).transpose()?;
        let exportable = req.exportable.unwrap_or(false);
        release::check_new(t.hsm, exportable, release_policy.as_ref())?;
        let spec = match t.family {
            KeyFamily::Rsa => {
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
            KeyFamily::Ec => {
                if req.key_size.is_some() {
                    return Err(Error::bad("'key_size' does not apply to EC keys; use 'crv'."));
                }
                if req.public_exponent.is_some() {
                    return Err(Error::bad("'public_exponent' does not apply to EC keys."));
                }
                KeySpec::Ec(parse_curve(req.crv.as_deref())?)
            }
            KeyFamily::Oct => {
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
        let mut p = self.new_payload(t, spec, req.key_ops)?;
        p.exportable = exportable;
        p.release_policy = release_policy;
        let props = KeyProps { tags: req.tags, enabled: req.enabled, nbf: req.nbf, exp: req.exp };
        self.add_version(&v, &name, p, props).await
    }

    /// `PUT /keys/{name}`: import of a private JWK as a software key.
    pub async fn import(
        &self,
        vault: &str,
        name: &str,
        jwk: &JsonWebKey,
        hsm: bool,
        props: KeyProps,
    ) -> Result<KeyView> {
        self.import_with_release(vault, name, jwk, hsm, props, false, None).await
    }

    /// [`Keys::import`] with the secure key release settings (`exportable` requires a policy).
    #[allow(clippy::too_many_arguments)]
    pub async fn import_with_release(
        &self,
        vault: &str,
        name: &str,
        jwk: &JsonWebKey,
        hsm: bool,
        props: KeyProps,
        exportable: bool,
        release_policy: Option<ReleasePolicy>,
    ) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
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
            let (id, handle) = self.runtime.provider()?.import(jwk)?;
            let ops = jwk.key_ops.clone().unwrap_or_else(|| default_ops(handle.kind()));
            hsm_payload(t.name, ops, id)
        } else {
            let material = KeyMaterial::import_jwk(jwk)?;
            let ops = jwk.key_ops.clone().unwrap_or_else(|| default_ops(material.kind()));
            payload(t.name, ops, &material)
        };
        p.exportable = exportable;
        p.release_policy = release_policy;
        self.add_version(&v, &name, p, props).await
    }

    pub async fn get(&self, vault: &str, name: &str, version: Option<&str>) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.store.get(&v, &name, version).await?;
        self.view(&v, o)
    }

    pub async fn update(&self, vault: &str, name: &str, version: Option<&str>, upd: KeyUpdate) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        if let Some(ops) = &upd.key_ops {
            check_ops(ops)?;
        }
        let new_policy = upd.release_policy.clone().map(release::validate_policy).transpose()?;
        self.store.refuse_managed(&v, &name, "update").await?;
        let o = self
            .store
            .update(&v, &name, version, |m, p| {
                if let Some(ops) = &upd.key_ops {
                    p.key_ops = ops.clone();
                }
                release::apply_update(p, new_policy.as_ref(), upd.exportable)?;
                upd.common.apply(m);
                Ok(())
            })
            .await;
        // Forget before answering, so the next operation sees the change.
        self.runtime.forget_ops(&v.name, &name.key());
        self.view(&v, o?)
    }

    pub async fn list(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<KeyListing> {
        let v = self.vaults.record(vault).await?;
        let p = self.store.list(&v, false, resume, max).await?;
        self.listing(&v, p)
    }

    pub async fn list_deleted(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<KeyListing> {
        let v = self.vaults.record(vault).await?;
        let p = self.store.list(&v, true, resume, max).await?;
        self.listing(&v, p)
    }

    pub async fn list_versions(&self, vault: &str, name: &str, resume: Option<&str>, max: usize) -> Result<KeyListing> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        let p = self.store.list_versions(&v, &name, resume, max).await?;
        self.listing(&v, p)
    }

    pub async fn delete(&self, vault: &str, name: &str) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        // Deleted bundles carry the public key, as Azure's do.
        self.store.refuse_managed(&v, &name, "delete").await?;
        let o = self.store.delete(&v, &name).await;
        self.runtime.forget_ops(&v.name, &name.key());
        self.view(&v, o?)
    }

    pub async fn get_deleted(&self, vault: &str, name: &str) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.store.get_deleted(&v, &name).await?;
        self.view(&v, o)
    }

    pub async fn recover(&self, vault: &str, name: &str) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        self.store.refuse_managed(&v, &name, "recover").await?;
        let o = self.store.recover(&v, &name).await;
        self.runtime.forget_ops(&v.name, &name.key());
        self.view(&v, o?)
    }

    pub async fn purge(&self, vault: &str, name: &str) -> Result<()> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        // The key store's purge hook (runtime.rs) also drops the cached handles and destroys
        // HSM token objects.
        self.store.refuse_managed(&v, &name, "purge").await?;
        self.store.purge(&v, &name).await
    }

    /// `POST /keys/{name}/backup`: every version, encrypted under the deployment backup key.
    pub async fn backup(&self, vault: &str, name: &str) -> Result<Vec<u8>> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        // An HSM key's record holds only a token handle, and a restore needs the name purged,
        // which destroys the token objects: such a backup could never be restored. Refuse it
        // honestly until backups carry the key wrapped under a token-resident backup key.
        if !self.runtime.hsm_ids_of(&v.name, &name.key()).await?.is_empty() {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "Backups of HSM-protected keys are not supported yet: the key cannot leave the HSM.",
            ));
        }
        self.store.backup(&v, &name).await
    }

    pub async fn restore(&self, vault: &str, blob: &[u8]) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let o = self.store.restore(&v, blob).await?;
        self.runtime.forget_ops(&v.name, &o.name.to_ascii_lowercase());
        self.view(&v, o)
    }
}
