//! The services behind the API, composed in the root [`Services`]: vaults, the versioned-object
//! store (`objects/`: versions, soft delete, recovery, purge, backup/restore) and the services
//! on it (secrets, keys, certificates), access control, and the identity service
//! (`strongbox-identity`, held as [`Services::identity`]). Knows nothing of HTTP or the wire JSON;
//! every read and write goes through the [`Barrier`].

pub mod access;
mod bounded;
pub mod certificates;
mod keys;
pub mod leases;
mod objects;
pub use objects::{Attributes, CommonUpdate};
mod records;
mod secrets;
mod vaults;

pub use access::{
    AccessPolicy, AccessPolicyArea, AccessPolicyCheck, AccessPolicyPermissions, ActivationRequest, EligibleAssignment,
    Group, NewDenyAssignment, NewRoleDefinition, PermissionModelUpdate, RequestStatus,
};
pub use certificates::{
    CertListing, CertOperationView, CertPolicy, CertUpdate, CertView, Certificates, Contact, CreateCertificate,
    ImportCertificate, IssuerInput, IssuerView, MergeCertificate, PolicyInput,
};
pub use keys::{ActionType, Keys, LifetimeAction, RotationPolicy, parse_duration};
pub use keys::{CipherInput, CreateKey, KeyListing, KeyOpResult, KeyProps, KeyStorageSummary, KeyUpdate, KeyView};
pub use keys::{ReleasePolicy, ReleaseRequest, ReleasedKey};
pub use secrets::{DeletedInfo, Listing, SecretUpdate, SecretView, Secrets, SetSecret};
pub use strongbox_barrier::{KeyringStatus, ROTATE_AFTER_ENCRYPTIONS, ROTATE_AFTER_SECONDS};
pub use strongbox_identity::BootstrapCredential;
use strongbox_identity::{Identity, IdentityConfig, Principal, SecurityEvent};
pub use vaults::{Sku, VaultInfo, Vaults};

use std::sync::Arc;

use strongbox_barrier::keyspace::{self, BACKUP_KEY};
use strongbox_barrier::{BTxn, Barrier, View};
use strongbox_crypto::aead::AeadKey;
use strongbox_types::{Clock, Error, ErrorKind, Result};

pub use access::Access;
use certificates::CertificateDeps;
use objects::{ObjectStore, Purgeable, Purger, StoreDeps};

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

/// The root of the services. How a service is built and reaches the others:
///
/// - every service is constructed in [`Services::open`] with what it needs, given explicitly: the
///   `Arc<Barrier>` (from which it builds the [`View`]s of the keyspace areas it owns), the
///   `Arc<dyn Clock>`, a clone of the [`CoreConfig`] if it needs one, and `Arc`s of the services
///   it uses (e.g. `Arc<Vaults>`, `Arc<ObjectStore<…>>`);
/// - the versioned-object stores share one `StoreDeps` (barrier, clock, backup key);
/// - the root holds each service as a field (`core.vaults`, `core.secrets`, `core.keys`), so
///   callers write `core.vaults.get(..)`;
/// - work that spans services stays on the root: the scheduled purge (every collection) and
///   key release ([`Services::release_key`], which needs the keys and the attestation authorities
///   of the identity service).
pub struct Services {
    pub(crate) barrier: Arc<Barrier>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cfg: CoreConfig,
    /// The identity service (directory, tokens, authentication, security events).
    pub identity: Arc<Identity>,
    pub vaults: Arc<Vaults>,
    pub secrets: Arc<Secrets>,
    pub keys: Arc<Keys>,
    pub certificates: Arc<Certificates>,
    purger: Purger,
    /// Access control: RBAC, groups, PIM, access policies.
    pub access: Arc<Access>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

/// Reads the deployment's backup key, creating it on first start.
async fn load_backup_key(barrier: &Arc<Barrier>) -> Result<AeadKey> {
    let view = View::new(barrier.clone(), BACKUP_KEY);
    // a single-record area: the record's relative key is empty
    let key = match view.get_bytes("").await? {
        Some(k) => k,
        None => {
            let k = strongbox_crypto::random_key()?;
            match view.commit(view.put_bytes(view.absent(BTxn::new(), ""), "", k.expose().to_vec())).await {
                Ok(()) => k,
                // another node created it first: use theirs
                Err(e) if e.kind == ErrorKind::Conflict => {
                    view.get_bytes("").await?.ok_or_else(|| Error::internal("backup key vanished"))?
                }
                Err(e) => return Err(e),
            }
        }
    };
    AeadKey::new(&key)
}

impl Services {
    /// Loads (creating on first start) the tenant, token signing key and backup key, and builds
    /// the services. The barrier must be unsealed.
    pub async fn open(barrier: Arc<Barrier>, clock: Arc<dyn Clock>, cfg: CoreConfig) -> Result<Self> {
        let identity_cfg =
            IdentityConfig { authority: cfg.authority(), resource: cfg.resource(), token_lifetime: cfg.token_lifetime };
        let groups = Arc::new(access::GroupDirectory::new(&barrier));
        let identity = Arc::new(Identity::open(barrier.clone(), clock.clone(), identity_cfg, groups).await?);
        let deps = StoreDeps {
            barrier: barrier.clone(),
            clock: clock.clone(),
            backup_key: Arc::new(load_backup_key(&barrier).await?),
        };
        let key_runtime = Arc::new(keys::KeyRuntime::new(barrier.clone()));
        let secret_store = Arc::new(ObjectStore::new(&deps, None));
        let key_store = Arc::new(ObjectStore::new(&deps, Some(key_runtime.clone() as Arc<dyn objects::PurgeHook>)));
        let cert_store = Arc::new(ObjectStore::new(&deps, None));
        let purged: Vec<Arc<dyn Purgeable>> = vec![secret_store.clone(), key_store.clone(), cert_store.clone()];
        let vaults = Arc::new(Vaults::new(barrier.clone(), clock.clone(), cfg.clone()));
        let secrets = Arc::new(Secrets::new(vaults.clone(), secret_store.clone()));
        let keys =
            Arc::new(Keys::new(barrier.clone(), clock.clone(), vaults.clone(), key_store.clone(), key_runtime.clone()));
        let certificates = Arc::new(Certificates::new(CertificateDeps {
            barrier: barrier.clone(),
            clock: clock.clone(),
            vaults: vaults.clone(),
            certs: cert_store.clone(),
            keys: key_store.clone(),
            secrets: secret_store.clone(),
            key_runtime: key_runtime.clone(),
        }));
        let access = Access::open(
            barrier.clone(),
            clock.clone(),
            vaults.clone(),
            identity.security_log().clone(),
            identity.tenant_id().to_owned(),
            identity.issuer(),
        )
        .await?;
        Ok(Self {
            access: Arc::new(access),
            vaults,
            secrets,
            keys,
            certificates,
            purger: Purger::new(barrier.clone(), purged),
            barrier,
            clock,
            cfg,
            identity,
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
        if self.vaults.get(default_vault).await.is_err() {
            match self.vaults.create(default_vault, Sku::Standard, 90, false).await {
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        let Some(admin) = self.identity.ensure_bootstrap_admin().await? else { return Ok(None) };
        let assignment = uuid::Uuid::new_v4().to_string();
        self.access
            .create_role_assignment(&assignment, &admin.object_id, strongbox_authz::KEY_VAULT_ADMINISTRATOR, "/")
            .await?;
        Ok(Some(admin.credential))
    }

    /// Storage keys whose changes by another node this node must hear about at once (see
    /// [`Services::invalidate`]); on PostgreSQL they are announced with `NOTIFY`.
    pub const WATCHED_PREFIXES: &'static [&'static str] = &[
        keyspace::RBAC_GENERATION.prefix,
        keyspace::VAULTS.prefix,
        keyspace::KEY_HEADS.prefix,
        keyspace::KEY_VERSIONS.prefix,
        keyspace::USERS.prefix,
        keyspace::SERVICE_PRINCIPALS.prefix,
        keyspace::PUBLIC_CLIENTS.prefix,
        keyspace::TRUSTED_ISSUERS.prefix,
        strongbox_barrier::KEYRING_PATH,
    ];

    /// Another node changed `key` (one of [`Self::WATCHED_PREFIXES`]; `None`: anything may have
    /// changed): forget what this node caches from it, so its next request reads storage. The
    /// caches' own expiry (1 s for authorization and key operations, 30 s for revocation) stays
    /// as the fallback when notifications are lost.
    pub fn invalidate(&self, key: Option<&str>) {
        let Some(k) = key else {
            self.reload_keyring_soon();
            self.access.mark_stale();
            self.vaults.forget_all();
            self.keys.forget_ops(None);
            self.identity.forget_status(None);
            return;
        };
        if k == strongbox_barrier::KEYRING_PATH {
            self.reload_keyring_soon();
        } else if k.starts_with(keyspace::RBAC_GENERATION.prefix) {
            self.access.mark_stale();
        } else if k.starts_with(keyspace::VAULTS.prefix) {
            self.vaults.forget_all();
        } else if let Some(rest) =
            k.strip_prefix(keyspace::KEY_HEADS.prefix).or_else(|| k.strip_prefix(keyspace::KEY_VERSIONS.prefix))
        {
            let mut parts = rest.splitn(3, '/');
            match (parts.next(), parts.next()) {
                (Some(vault), Some(name)) => self.keys.forget_ops(Some((vault, name))),
                _ => self.keys.forget_ops(None),
            }
        } else {
            // users, applications, public clients, trusted issuers: their status rows
            self.identity.forget_status(Some(k));
        }
    }

    /// Re-reads the keyring in the background (another node may have rotated it).
    fn reload_keyring_soon(&self) {
        let barrier = self.barrier.clone();
        tokio::spawn(async move {
            if let Err(e) = barrier.reload_keyring().await
                && e.kind != ErrorKind::Sealed
            {
                tracing::warn!(error = %e, "keyring reload failed");
            }
        });
    }

    /// `strongbox operator rotate`: a new keyring term for new writes (see
    /// `strongbox_barrier::keyring`).
    pub async fn rotate_keyring(&self) -> Result<u32> {
        self.barrier.rotate(self.now()).await
    }

    pub async fn keyring_status(&self) -> Result<KeyringStatus> {
        self.barrier.keyring_status().await
    }

    /// Per node, on every maintenance tick: adds this node's encryption count to the stored one
    /// and re-reads the keyring (the fallback when a rotation's notification was missed).
    pub async fn keyring_upkeep(&self) -> Result<()> {
        self.barrier.flush_usage().await?;
        self.barrier.reload_keyring().await?;
        Ok(())
    }

    /// The scheduled rotation (on the node holding the jobs lease): rotates when the active term
    /// has encrypted [`strongbox_barrier::ROTATE_AFTER_ENCRYPTIONS`] values or is
    /// [`strongbox_barrier::ROTATE_AFTER_SECONDS`] old.
    pub async fn rotate_keyring_if_due(&self) -> Result<Option<u32>> {
        self.barrier
            .rotate_if_due(
                self.now(),
                strongbox_barrier::ROTATE_AFTER_ENCRYPTIONS,
                strongbox_barrier::ROTATE_AFTER_SECONDS,
            )
            .await
    }

    /// One page of the background re-encryption: values of older keyring terms (from `start`, at
    /// most `limit` read) rewritten under the active term. The barrier's own records and the
    /// leases (whose stored bytes are fences) are left alone. Returns how many were rewritten and
    /// the next page's start (`None`: the pass is complete).
    pub async fn reencrypt_old_values(&self, start: &str, limit: usize) -> Result<(usize, Option<String>)> {
        self.barrier.reencrypt_page(start, limit, &[keyspace::BARRIER.prefix, keyspace::LEASES.prefix]).await
    }

    /// This node's handle on the deployment's leases (see [`leases`]).
    pub fn leases(&self, node_name: &str) -> Result<leases::Leases> {
        leases::Leases::new(self.barrier.clone(), self.clock.clone(), node_name)
    }

    /// Purges every deleted object whose `scheduledPurgeDate` has passed. Returns how many.
    pub async fn purge_expired(&self) -> Result<usize> {
        self.purger.purge_expired(self.now()).await
    }
}

#[cfg(test)]
mod tests;
