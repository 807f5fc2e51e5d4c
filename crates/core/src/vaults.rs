use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, Result, VaultName};

use crate::{Core, encode};

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
    pub access_policies: Vec<crate::AccessPolicy>,
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
    pub access_policies: Vec<crate::AccessPolicy>,
}

impl VaultRecord {
    /// Azure's `recoveryLevel` for objects in this vault (soft delete is always on).
    pub fn recovery_level(&self) -> &'static str {
        match (self.retention_days == 90, self.purge_protection) {
            (true, false) => "Recoverable+Purgeable",
            (true, true) => "Recoverable",
            (false, false) => "CustomizedRecoverable+Purgeable",
            (false, true) => "CustomizedRecoverable",
        }
    }
}

pub(crate) fn vault_key(name: &str) -> String {
    format!("vault/{name}")
}

impl Core {
    pub async fn create_vault(
        &self,
        name: &str,
        sku: Sku,
        retention_days: u32,
        purge_protection: bool,
    ) -> Result<VaultInfo> {
        let name = VaultName::parse(name)?;
        if !(7..=90).contains(&retention_days) {
            return Err(Error::bad("The soft-delete retention period must be between 7 and 90 days."));
        }
        let rec = VaultRecord {
            name: name.as_str().to_owned(),
            sku,
            retention_days,
            purge_protection,
            created: self.now(),
            enable_rbac_authorization: true,
            access_policies: Vec::new(),
        };
        let key = vault_key(name.as_str());
        self.barrier.commit(BTxn::new().absent(&key).put(&key, encode(&rec)?)).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, format!("A vault named '{name}' already exists."))
            } else {
                e
            }
        })?;
        let info = self.info(&rec);
        self.cache_vault(rec);
        Ok(info)
    }

    pub(crate) fn cache_vault(&self, rec: VaultRecord) -> Arc<VaultRecord> {
        let rec = Arc::new(rec);
        if let Ok(mut m) = self.vaults.write() {
            m.insert(rec.name.clone(), rec.clone());
        }
        rec
    }

    fn info(&self, r: &VaultRecord) -> VaultInfo {
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

    /// Retention never changes and purge protection can only be turned on; the permission
    /// model and access policies change through `access/access_policies.rs`, which refreshes
    /// this cache on this node, and other nodes drop their cache when the authorization
    /// generation changes (`access/index.rs`).
    pub(crate) async fn vault(&self, name: &str) -> Result<Arc<VaultRecord>> {
        let lower = name.to_ascii_lowercase();
        if let Some(v) = self.vaults.read().ok().and_then(|m| m.get(&lower).cloned()) {
            return Ok(v);
        }
        let not_found =
            || Error::new(ErrorKind::VaultNotFound, format!("The vault '{lower}' does not exist on this server."));
        if VaultName::parse(&lower).is_err() {
            return Err(not_found());
        }
        let rec: VaultRecord = self.read_json(&vault_key(&lower)).await?.ok_or_else(not_found)?;
        Ok(self.cache_vault(rec))
    }

    pub async fn vault_info(&self, name: &str) -> Result<VaultInfo> {
        let r = self.vault(name).await?;
        Ok(self.info(&r))
    }

    pub async fn list_vaults(&self) -> Result<Vec<VaultInfo>> {
        let rows = self.barrier.scan_prefix("vault/", "vault/", 10_000).await?;
        rows.iter().map(|(k, v)| crate::decode::<VaultRecord>(k, v).map(|r| self.info(&r))).collect()
    }
}
