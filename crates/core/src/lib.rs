//! The services behind the API: vaults, secrets (versions, soft-delete, recovery, purge,
//! backup/restore), and the identity service (`strongbox-identity`, held as [`Core::identity`]).
//! Knows nothing of HTTP or the wire JSON; every read and write goes through the [`Barrier`].

mod bounded;
pub mod certificates;
mod groups;
mod keys;
mod objects;
mod pim;
mod policies;
pub mod rbac;
pub use objects::{Attributes, CommonUpdate};
mod records;
mod rotation;
mod secrets;
mod vaults;

pub use certificates::{
    CertListing, CertOperationView, CertPolicy, CertUpdate, CertView, Contact, CreateCertificate, ImportCertificate,
    IssuerInput, IssuerView, MergeCertificate, PolicyInput,
};
pub use groups::Group;
pub use keys::{CipherInput, CreateKey, KeyListing, KeyOpResult, KeyProps, KeyStorageSummary, KeyUpdate, KeyView};
pub use keys::{ReleasePolicy, ReleaseRequest, ReleasedKey};
pub use pim::{ActivationRequest, EligibleAssignment, RequestStatus};
pub use policies::{AccessPolicy, Permissions, PolicyArea, PolicyCheck, VaultAuthUpdate};
pub use rbac::{NewDenyAssignment, NewRoleDefinition};
pub use rotation::{ActionType, LifetimeAction, RotationPolicy, parse_duration};
pub use secrets::{DeletedInfo, Listing, SecretUpdate, SecretView, SetSecret};
pub use strongbox_identity::BootstrapCredential;
use strongbox_identity::{Identity, IdentityConfig, Principal, SecurityEvent};
pub use vaults::{Sku, VaultInfo};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Serialize, de::DeserializeOwned};
use strongbox_barrier::{BTxn, Barrier, Versioned};
use strongbox_crypto::aead::AeadKey;
use strongbox_types::{Clock, Error, ErrorKind, Result, SecretBytes};

/// Deployment settings the services need.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Vault hosts are `{vault}.{dns_suffix}`.
    pub dns_suffix: String,
    /// The port clients use (omitted from URLs when 443).
    pub public_port: u16,
    /// Host name of the built-in authority (`https://{authority_host}[:port]`).
    pub authority_host: String,
    /// Access token lifetime in seconds.
    pub token_lifetime: i64,
}

impl CoreConfig {
    fn port_suffix(&self) -> String {
        if self.public_port == 443 { String::new() } else { format!(":{}", self.public_port) }
    }
    /// The token audience and challenge resource: `https://{dns_suffix}[:port]`.
    pub fn resource(&self) -> String {
        format!("https://{}{}", self.dns_suffix, self.port_suffix())
    }
    /// The authority base (`AZURE_AUTHORITY_HOST`): `https://{authority_host}[:port]`.
    pub fn authority(&self) -> String {
        format!("https://{}{}", self.authority_host, self.port_suffix())
    }
    pub fn vault_url(&self, vault: &str) -> String {
        format!("https://{vault}.{}{}", self.dns_suffix, self.port_suffix())
    }
}

pub struct Core {
    barrier: Arc<Barrier>,
    clock: Arc<dyn Clock>,
    cfg: CoreConfig,
    /// The identity service (directory, tokens, authentication, security events).
    pub identity: Arc<Identity>,
    backup_key: AeadKey,
    vaults: RwLock<HashMap<String, Arc<vaults::VaultRecord>>>,
    key_handles: keys::HandleCache,
    key_runtime: keys::KeyRuntime,
    rbac: RwLock<strongbox_authz::Index>,
    rbac_sync: rbac::SyncState,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

const BACKUP_KEY_PATH: &str = "sys/backup-key";

impl Core {
    /// Loads (creating on first start) the tenant, token signing key and backup key.
    /// The barrier must be unsealed.
    pub async fn open(barrier: Arc<Barrier>, clock: Arc<dyn Clock>, cfg: CoreConfig) -> Result<Self> {
        let identity_cfg =
            IdentityConfig { authority: cfg.authority(), resource: cfg.resource(), token_lifetime: cfg.token_lifetime };
        let groups = Arc::new(groups::GroupDirectory(barrier.clone()));
        let identity = Arc::new(Identity::open(barrier.clone(), clock.clone(), identity_cfg, groups).await?);
        let backup_key = match barrier.get(BACKUP_KEY_PATH).await? {
            Some(k) => k,
            None => {
                let k = strongbox_crypto::random_key()?;
                match barrier
                    .commit(BTxn::new().absent(BACKUP_KEY_PATH).put(BACKUP_KEY_PATH, k.expose().to_vec()))
                    .await
                {
                    Ok(()) => k,
                    // another node created it first: use theirs
                    Err(e) if e.kind == ErrorKind::Conflict => {
                        barrier.get(BACKUP_KEY_PATH).await?.ok_or_else(|| Error::internal("backup key vanished"))?
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let (index, generation) = rbac::load_index(&barrier).await?;
        let rbac = RwLock::new(index);
        Ok(Self {
            rbac,
            rbac_sync: rbac::SyncState::new(generation),
            barrier,
            clock,
            cfg,
            identity,
            backup_key: AeadKey::new(&backup_key)?,
            vaults: RwLock::new(HashMap::new()),
            key_handles: RwLock::new(HashMap::new()),
            key_runtime: keys::KeyRuntime::default(),
        })
    }

    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn tenant_id(&self) -> &str {
        self.identity.tenant_id()
    }

    /// Forgets the keys held in memory; every data request then gets 503 until unsealed.
    pub async fn seal(&self) {
        self.barrier.seal().await;
    }

    pub async fn is_sealed(&self) -> bool {
        self.barrier.is_sealed().await
    }

    /// First-start setup: the default vault and the bootstrap administrator. Returns the
    /// administrator's credential only when it was created by this call.
    pub async fn bootstrap(&self, default_vault: &str) -> Result<Option<BootstrapCredential>> {
        if self.vault_info(default_vault).await.is_err() {
            match self.create_vault(default_vault, Sku::Standard, 90, false).await {
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        let Some(admin) = self.identity.ensure_bootstrap_admin().await? else { return Ok(None) };
        let assignment = uuid::Uuid::new_v4().to_string();
        self.create_role_assignment(&assignment, &admin.object_id, strongbox_authz::KEY_VAULT_ADMINISTRATOR, "/")
            .await?;
        Ok(Some(admin.credential))
    }

    async fn read_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.barrier.get(key).await? {
            None => Ok(None),
            Some(b) => decode(key, &b).map(Some),
        }
    }

    async fn read_json_versioned<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, strongbox_barrier::Stamp)>> {
        match self.barrier.get_versioned(key).await? {
            None => Ok(None),
            Some(Versioned { value, stamp }) => Ok(Some((decode(key, &value)?, stamp))),
        }
    }
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::internal(format!("record encoding failed: {e}")))
}

fn decode<T: DeserializeOwned>(key: &str, b: &SecretBytes) -> Result<T> {
    serde_json::from_slice(b.expose()).map_err(|_| Error::internal(format!("record at {key} is corrupt")))
}

/// How many times an operation re-reads and retries after losing a compare-and-set race.
const CAS_RETRIES: usize = 8;

#[cfg(test)]
mod tests;
