//! The identity service: one tenant, its directory (applications and service principals with
//! client secrets as Argon2id hashes, registered certificates for RFC 7523 client assertions and
//! federated credentials trusted from external OIDC issuers; managed identities; users), the
//! token endpoint (ES256 access tokens with rotating signing keys), validation of those tokens
//! on every request ([`Identity::authenticate`]), attestation authorities for key release,
//! failed sign-in limits and security events.
//!
//! Knows nothing of HTTP, nor of the vault services: the groups named by external tokens are
//! looked up through a [`GroupLookup`] the vault services provide, and trusted issuers' keys are
//! fetched through the server's [`IssuerKeyFetcher`].
//!
//! Revocation: every token names the credential that obtained it (`sbx_cred`). Each request,
//! also on a token-cache hit, checks the principal's status (exists, enabled, credential still
//! registered) in an in-memory table. Changes made on this node update the table at once; rows
//! older than [`STATUS_TTL`] are re-read from storage, so a change made by another node sharing
//! the database takes effect within that time.

mod applications;
mod assertions;
mod attestation;
mod authentication;
mod device_code;
mod error;
mod events;
mod external;
mod issuer_keys;
mod limits;
mod managed_identities;
mod records;
mod signing;
mod status;
mod token;
mod trusted_issuers;
mod user_tokens;
mod users;

pub use applications::{
    CredentialView, DEFAULT_FEDERATED_AUDIENCE, FederatedCredentialView, NewCredential, ServicePrincipalView,
};
pub use attestation::{AttestationAuthority, AttestationAuthorityView, jwk_verify_key, normalize_authority};
pub use device_code::{DeviceAuthorization, DeviceRequest, PageRefusal};
pub use error::{Aadsts, AuthFailure, OAuthError};
pub use events::{SecurityEvent, SecurityLog};
pub use external::external_object_id;
pub use issuer_keys::{FetchFuture, IssuerKeyFetcher};
pub use managed_identities::NewManagedIdentity;
pub use signing::IdentityPolicy;
pub use token::{TokenGrant, TokenRequest};
pub use trusted_issuers::TrustedIssuerView;
pub use user_tokens::{PrincipalMapping, UserTokens};
pub use users::{UserChange, UserView};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use strongbox_barrier::keyspace;
use strongbox_barrier::{Barrier, View};
use strongbox_crypto::jws::{self, PublicKey};
use strongbox_types::{Clock, Error, Result, SecretString};

use records::ServicePrincipalRec;
use status::{CachedToken, PrincipalStatus};

/// Clock skew tolerated on `exp`/`nbf`.
const SKEW: i64 = 60;
/// Verified tokens are remembered (by SHA-256 of the token) until they expire, so the hot path
/// does not verify an ECDSA signature per request. Bounded; cleared when full.
const TOKEN_CACHE_MAX: usize = 20_000;
/// How long a principal's status row is trusted before it is re-read from storage (the bound
/// on revocation delay across nodes; on the node that made the change it is immediate).
pub const STATUS_TTL: i64 = 30;
/// Built-in public clients, always registered: the Strongbox CLI (`strongbox login`) and Azure
/// CLI's well-known application id (the default of azure-identity's `DeviceCodeCredential` and
/// `InteractiveBrowserCredential`). `(client id, display name)`.
pub const BUILTIN_PUBLIC_CLIENTS: [(&str, &str); 2] =
    [("5b1d3a2e-7c41-4f0e-9d6a-3c8b2f1e0a77", "Strongbox CLI"), ("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Azure CLI")];

/// What the identity service needs of the deployment's settings.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The authority base (`AZURE_AUTHORITY_HOST`): `https://{authority_host}[:port]`.
    pub authority: String,
    /// The token audience: `https://{dns_suffix}[:port]`.
    pub resource: String,
    /// Access token lifetime in seconds.
    pub token_lifetime: i64,
}

/// The future of [`GroupLookup::group_id`].
pub type GroupFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<String>>> + Send + 'a>>;

/// Looks up groups, which the vault services own: the identity service resolves the `groupMap`
/// of a trusted issuer and keeps only existing groups of an external token's group claim.
pub trait GroupLookup: Send + Sync {
    /// The object id of the group `id_or_name` names (by object id, or by display name);
    /// `Ok(None)` when no such group exists.
    fn group_id<'a>(&'a self, id_or_name: &'a str) -> GroupFuture<'a>;
}

/// Who is calling, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub object_id: String,
    pub app_id: String,
    pub tenant_id: String,
    /// Authentication methods of a user sign-in (`pwd`, `mfa`, …); empty for applications.
    pub amr: Vec<String>,
    /// Strongbox group object ids (lower case) the caller's token puts it in: the mapped group
    /// claim of a corporate IdP token (see [`UserTokens`]). Fixed for the token's lifetime;
    /// RBAC grants and denies of these groups apply as for stored memberships. Empty for our
    /// own tokens.
    pub token_groups: Vec<String>,
}

/// The credential of the bootstrap administrator, returned once when it is created.
pub struct BootstrapCredential {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl std::fmt::Debug for BootstrapCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapCredential").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// The bootstrap administrator just created: its credential and the object id the caller
/// grants the administrator role to.
#[derive(Debug)]
pub struct BootstrapAdmin {
    pub object_id: String,
    pub credential: BootstrapCredential,
}

/// The result of [`Identity::create_service_principal_for_rbac`]; the password is not stored.
pub struct NewServicePrincipal {
    pub app_id: String,
    pub object_id: String,
    pub display_name: String,
    pub tenant: String,
    pub password: SecretString,
}

impl std::fmt::Debug for NewServicePrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewServicePrincipal").field("app_id", &self.app_id).finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct TenantRec {
    tenant_id: String,
}

#[derive(Serialize, Deserialize)]
struct BootstrapRec {
    admin_object_id: String,
    client_id: String,
}

/// The identity service's windows on the barrier, one per area it owns.
struct Store {
    tenant: View,
    bootstrap: View,
    signing_keys: View,
    policy: View,
    principals: View,
    /// Never written: names the status rows of applications as public clients.
    public_clients: View,
    issuers: View,
    assertion_ids: View,
    attestation_authorities: View,
    users: View,
    user_names: View,
    device_codes: View,
    user_codes: View,
    refresh_tokens: View,
}

impl Store {
    fn new(barrier: &Arc<Barrier>) -> Self {
        let v = |area| View::new(barrier.clone(), area);
        Self {
            tenant: v(keyspace::TENANT),
            bootstrap: v(keyspace::BOOTSTRAP),
            signing_keys: v(keyspace::SIGNING_KEYS),
            policy: v(keyspace::IDENTITY_POLICY),
            principals: v(keyspace::SERVICE_PRINCIPALS),
            public_clients: v(keyspace::PUBLIC_CLIENTS),
            issuers: v(keyspace::TRUSTED_ISSUERS),
            assertion_ids: v(keyspace::ASSERTION_IDS),
            attestation_authorities: v(keyspace::ATTESTATION_AUTHORITIES),
            users: v(keyspace::USERS),
            user_names: v(keyspace::USER_NAMES),
            device_codes: v(keyspace::DEVICE_CODES),
            user_codes: v(keyspace::USER_CODES),
            refresh_tokens: v(keyspace::REFRESH_TOKENS),
        }
    }
}

/// The identity service (see the crate documentation).
pub struct Identity {
    barrier: Arc<Barrier>,
    clock: Arc<dyn Clock>,
    cfg: IdentityConfig,
    tenant_id: String,
    store: Store,
    events: SecurityLog,
    groups: Arc<dyn GroupLookup>,
    keys: RwLock<Arc<signing::KeySet>>,
    cache: RwLock<HashMap<[u8; 32], Arc<CachedToken>>>,
    status: RwLock<HashMap<String, PrincipalStatus>>,
    limiter: Mutex<limits::Limiter>,
    /// When the signing keys were last re-read because of an unknown `kid` (throttles that).
    last_key_reload: Mutex<i64>,
    /// Fetches trusted issuers' keys (installed by the server; this crate does no HTTP).
    issuer_fetcher: RwLock<Option<Arc<dyn IssuerKeyFetcher>>>,
    /// When each trusted issuer's keys were last fetched (throttles unknown-`kid` refreshes).
    issuer_attempts: Mutex<HashMap<String, i64>>,
    /// The trusted-issuer records, read at most every few seconds to dispatch foreign tokens
    /// (so a stream of garbage tokens does not become a stream of storage scans); dropped on
    /// every local write to an issuer record.
    issuer_snapshot: Mutex<Option<(i64, Arc<Vec<trusted_issuers::TrustedIssuerRec>>)>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("cfg", &self.cfg).field("tenant_id", &self.tenant_id).finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads (creating on first start) the tenant and the token signing key. The barrier must
    /// be unsealed.
    pub async fn open(
        barrier: Arc<Barrier>,
        clock: Arc<dyn Clock>,
        cfg: IdentityConfig,
        groups: Arc<dyn GroupLookup>,
    ) -> Result<Self> {
        let store = Store::new(&barrier);
        let tenant_id = match store.tenant.get::<TenantRec>("").await? {
            Some(t) => t.tenant_id,
            None => {
                // another node may have created it first: then theirs is read
                store.tenant.create("", &TenantRec { tenant_id: uuid::Uuid::new_v4().to_string() }).await?;
                store.tenant.get::<TenantRec>("").await?.ok_or_else(|| Error::internal("tenant missing"))?.tenant_id
            }
        };
        let keys = signing::load_or_create(&store.signing_keys, &*clock).await?;
        let events = SecurityLog::new(View::new(barrier.clone(), keyspace::SECURITY_EVENTS), clock.clone());
        Ok(Self {
            barrier,
            clock,
            cfg,
            tenant_id,
            store,
            events,
            groups,
            keys: RwLock::new(Arc::new(keys)),
            cache: RwLock::new(HashMap::new()),
            status: RwLock::new(HashMap::new()),
            limiter: Mutex::new(limits::Limiter::default()),
            last_key_reload: Mutex::new(i64::MIN),
            issuer_fetcher: RwLock::new(None),
            issuer_attempts: Mutex::new(HashMap::new()),
            issuer_snapshot: Mutex::new(None),
        })
    }

    fn keyset(&self) -> Option<Arc<signing::KeySet>> {
        self.keys.read().ok().map(|k| k.clone())
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.cfg
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The security event log (shared with the services that record events of their own).
    pub fn security_log(&self) -> &SecurityLog {
        &self.events
    }

    /// Records `ev` in the security event log (see [`SecurityLog::record`]).
    pub async fn security_event(&self, ev: SecurityEvent) {
        self.events.record(ev).await;
    }

    /// Events at or after `since` (oldest first), at most `limit`.
    pub async fn security_events(&self, since: i64, limit: usize) -> Result<Vec<SecurityEvent>> {
        self.events.list(since, limit).await
    }

    /// The issuer of our tokens (`{authority}/{tenant}/v2.0`, as Entra v2 tokens).
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.cfg.authority, self.tenant_id)
    }

    /// The token endpoint (the audience of client assertions).
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.cfg.authority, self.tenant_id)
    }

    /// Whether `tenant` (a path segment) names this deployment's tenant.
    pub fn is_our_tenant(&self, tenant: &str) -> bool {
        tenant == self.tenant_id
    }

    /// The public signing keys (all that may still have valid tokens out).
    pub fn jwks(&self) -> Vec<jws::Jwk> {
        self.keyset().map(|k| k.public.iter().map(PublicKey::jwk).collect()).unwrap_or_default()
    }

    /// Creates the bootstrap administrator (a service principal with one client secret) on
    /// first start; `None` when it exists. The caller grants it the administrator role.
    pub async fn ensure_bootstrap_admin(&self) -> Result<Option<BootstrapAdmin>> {
        if self.store.bootstrap.exists("").await? {
            return Ok(None);
        }
        let (sp, secret) = self.create_service_principal("strongbox-bootstrap-admin", false).await?;
        let rec = BootstrapRec { admin_object_id: sp.object_id.clone(), client_id: sp.client_id.clone() };
        let txn =
            self.store.bootstrap.put(self.store.bootstrap.absent(strongbox_barrier::BTxn::new(), ""), "", &rec)?;
        self.store.bootstrap.commit(txn).await?;
        Ok(Some(BootstrapAdmin {
            object_id: sp.object_id,
            credential: BootstrapCredential {
                tenant_id: self.tenant_id.clone(),
                client_id: sp.client_id,
                client_secret: secret,
            },
        }))
    }

    /// A new service principal with one client secret (returned once, stored only as a hash).
    async fn create_service_principal(
        &self,
        display_name: &str,
        public_client: bool,
    ) -> Result<(ServicePrincipalRec, SecretString)> {
        let now = self.now();
        let (rec, secret) = applications::new_secret(now, None, "")?;
        let sp = ServicePrincipalRec {
            client_id: uuid::Uuid::new_v4().to_string(),
            object_id: uuid::Uuid::new_v4().to_string(),
            display_name: display_name.to_owned(),
            enabled: true,
            secrets: vec![rec],
            certs: Vec::new(),
            federated: Vec::new(),
            created: now,
            kind: String::new(),
            enrollment: None,
            retired: Vec::new(),
            public_client,
        };
        let p = &self.store.principals;
        p.commit(p.put(p.absent(strongbox_barrier::BTxn::new(), &sp.client_id), &sp.client_id, &sp)?).await?;
        self.security_event(SecurityEvent::new("principal.create", "success", "", &sp.client_id, "")).await;
        Ok((sp, secret))
    }

    /// Test and tooling hook: a second, non-administrator service principal.
    pub async fn create_app(&self, display_name: &str) -> Result<(String, SecretString)> {
        let (sp, secret) = self.create_service_principal(display_name, false).await?;
        Ok((sp.client_id, secret))
    }

    /// `az ad sp create-for-rbac`-style creation: a service principal with no role assignment
    /// and one client secret, shown once.
    /// With `public_client` it is registered as a public client too (`isFallbackPublicClient`).
    pub async fn create_service_principal_for_rbac(
        &self,
        display_name: &str,
        public_client: bool,
    ) -> Result<NewServicePrincipal> {
        if display_name.is_empty() || display_name.len() > 120 || display_name.chars().any(char::is_control) {
            return Err(Error::bad("The display name must be 1-120 printable characters."));
        }
        let (sp, password) = self.create_service_principal(display_name, public_client).await?;
        Ok(NewServicePrincipal {
            app_id: sp.client_id,
            object_id: sp.object_id,
            display_name: sp.display_name,
            tenant: self.tenant_id.clone(),
            password,
        })
    }
}

#[cfg(test)]
mod tests;
