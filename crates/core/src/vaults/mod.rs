//! The `Vaults` service: vault records (the `VAULTS` area), this node's cache of them, and
//! the per-vault settings other services read (retention, purge protection, permission model).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use strongbox_barrier::keyspace::VAULTS;
use strongbox_barrier::{BTxn, Barrier, View};
use strongbox_types::{Clock, Error, ErrorKind, Result, VaultName};

use crate::CoreConfig;

mod permission_model;
pub use permission_model::{AccessPolicy, AccessPolicyPermissions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sku {
    Standard,
    Premium,
    /// A managed HSM pool: HSM-protected keys only (RSA-HSM, EC-HSM, oct-HSM).
    ManagedHsm,
}

impl Sku {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "standard" => Ok(Self::Standard),
            "premium" => Ok(Self::Premium),
            "managedhsm" => Ok(Self::ManagedHsm),
            _ => Err(Error::bad("The SKU must be 'standard', 'premium' or 'managedhsm' (a managed HSM pool).")),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VaultRecord {
    pub name: String,
    pub sku: Sku,
    pub retention_days: u32,
    pub purge_protection: bool,
    pub created: i64,
    /// RBAC (true, the default) or legacy access policies for the data plane.
    #[serde(default = "crate::vaults::yes")]
    pub enable_rbac_authorization: bool,
    #[serde(default)]
    pub access_policies: Vec<AccessPolicy>,
}

pub(crate) fn yes() -> bool {
    true
}

/// What callers may know about a vault.
#[derive(Debug, Clone, Serialize)]
pub struct VaultInfo {
    pub name: String,
    pub sku: Sku,
    pub retention_days: u32,
    pub purge_protection: bool,
    pub created: i64,
    pub url: String,
    #[serde(rename = "enableRbacAuthorization")]
    pub enable_rbac_authorization: bool,
    #[serde(rename = "accessPolicies")]
    pub access_policies: Vec<AccessPolicy>,
}

impl VaultRecord {
    /// Azure's `recoveryLevel` for objects in this vault (soft delete is always on).
    pub(crate) fn recovery_level(&self) -> &'static str {
        match (self.retention_days == 90, self.purge_protection) {
            (true, false) => "Recoverable+Purgeable",
            (true, true) => "Recoverable",
            (false, false) => "CustomizedRecoverable+Purgeable",
            (false, true) => "CustomizedRecoverable",
        }
    }
}

/// Vault records and this node's cache of them.
pub struct Vaults {
    view: View,
    cache: RwLock<HashMap<String, Arc<VaultRecord>>>,
    cfg: CoreConfig,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Vaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vaults").finish_non_exhaustive()
    }
}

impl Vaults {
    pub(crate) fn new(barrier: Arc<Barrier>, clock: Arc<dyn Clock>, cfg: CoreConfig) -> Self {
        Self { view: View::new(barrier, VAULTS), cache: RwLock::new(HashMap::new()), cfg, clock }
    }

    pub async fn create(&self, name: &str, sku: Sku, retention_days: u32, purge_protection: bool) -> Result<VaultInfo> {
        let name = VaultName::parse(name)?;
        if !(7..=90).contains(&retention_days) {
            return Err(Error::bad("The soft-delete retention period must be between 7 and 90 days."));
        }
        let rec = VaultRecord {
            name: name.as_str().to_owned(),
            sku,
            retention_days,
            purge_protection,
            created: self.clock.now(),
            enable_rbac_authorization: true,
            access_policies: Vec::new(),
        };
        if !self.view.create(name.as_str(), &rec).await? {
            return Err(Error::new(ErrorKind::Conflict, format!("A vault named '{name}' already exists.")));
        }
        let info = self.info(&rec);
        self.cache(rec);
        Ok(info)
    }

    /// Puts a record (just written) in this node's cache.
    pub(crate) fn cache(&self, rec: VaultRecord) -> Arc<VaultRecord> {
        let rec = Arc::new(rec);
        if let Ok(mut m) = self.cache.write() {
            m.insert(rec.name.clone(), rec.clone());
        }
        rec
    }

    /// Empties this node's cache (another node changed the authorization settings).
    pub(crate) fn forget_all(&self) {
        if let Ok(mut m) = self.cache.write() {
            m.clear();
        }
    }

    pub(crate) fn info(&self, r: &VaultRecord) -> VaultInfo {
        VaultInfo {
            name: r.name.clone(),
            sku: r.sku,
            retention_days: r.retention_days,
            purge_protection: r.purge_protection,
            created: r.created,
            url: self.cfg.vault_url(&r.name),
            enable_rbac_authorization: r.enable_rbac_authorization,
            access_policies: r.access_policies.clone(),
        }
    }

    /// The record of a vault (case-insensitive name). Retention never changes and purge
    /// protection can only be turned on; the permission model and access policies change
    /// through the access policies, which refresh this cache on this node, and other nodes
    /// empty their cache when the authorization generation changes (`access/index.rs`).
    pub(crate) async fn record(&self, name: &str) -> Result<Arc<VaultRecord>> {
        let lower = name.to_ascii_lowercase();
        if let Some(v) = self.cache.read().ok().and_then(|m| m.get(&lower).cloned()) {
            return Ok(v);
        }
        let not_found =
            || Error::new(ErrorKind::VaultNotFound, format!("The vault '{lower}' does not exist on this server."));
        if VaultName::parse(&lower).is_err() {
            return Err(not_found());
        }
        let rec: VaultRecord = self.view.get(&lower).await?.ok_or_else(not_found)?;
        Ok(self.cache(rec))
    }

    /// Changes a vault's record under compare-and-set: `change` edits it (an error leaves it as
    /// it was), `also` adds to the same transaction (access control adds its generation bump).
    /// Refreshes this node's cache and returns the new record.
    pub(crate) async fn update_record(
        &self,
        name: &str,
        busy: impl FnOnce() -> Error,
        change: impl Fn(&mut VaultRecord) -> Result<()>,
        also: impl Fn(BTxn) -> Result<BTxn>,
    ) -> Result<Arc<VaultRecord>> {
        let (view, key, change, also) = (&self.view, &name.to_ascii_lowercase(), &change, &also);
        let rec = view
            .barrier()
            .transact(busy, || async move {
                let (mut rec, stamp) = view.get_versioned::<VaultRecord>(key).await?.ok_or_else(|| {
                    Error::new(ErrorKind::VaultNotFound, format!("The vault '{name}' does not exist on this server."))
                })?;
                change(&mut rec)?;
                let txn = also(view.put(view.unchanged(BTxn::new(), key, &stamp), key, &rec)?)?;
                Ok((txn, rec))
            })
            .await?;
        Ok(self.cache(rec))
    }

    pub async fn get(&self, name: &str) -> Result<VaultInfo> {
        let r = self.record(name).await?;
        Ok(self.info(&r))
    }

    pub async fn list(&self) -> Result<Vec<VaultInfo>> {
        let rows = self.view.scan::<VaultRecord>("", "", 10_000).await?;
        Ok(rows.iter().map(|(_, r)| self.info(r)).collect())
    }
}
