//! The token service: one tenant, service principals (client secrets as Argon2id hashes,
//! registered certificates for RFC 7523 client assertions, federated credentials trusted from
//! external OIDC issuers), ES256 access tokens with rotating signing keys, and validation of
//! those tokens on every request.
//!
//! Revocation: every token names the credential that obtained it (`sbx_cred`). Each request,
//! also on a token-cache hit, checks the principal's status (exists, enabled, credential still
//! registered) in an in-memory table. Changes made on this node update the table at once; rows
//! older than [`STATUS_TTL`] are re-read from storage, so a change made by another node sharing
//! the database takes effect within that time.

mod assertion;
mod attestation;
mod external;
mod issuer_keys;
mod limits;
mod manage;
mod managed;
mod signing;
mod users;

pub use attestation::AttestationAuthorityView;
pub(crate) use attestation::{jwk_verify_key, normalize_authority};
pub use external::{PrincipalMapping, UserTokens, external_object_id};
pub use issuer_keys::{FetchFuture, IssuerKeyFetcher};
pub use manage::{CredentialView, FederatedCredentialView, NewCredential, ServicePrincipalView, TrustedIssuerView};
pub use managed::NewManagedIdentity;
pub use signing::IdentityPolicy;
pub use users::{DeviceAuthorization, DeviceRequest, PageRefusal, UserChange, UserView};

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Barrier};
use strongbox_crypto::jws::{self, PublicKey};
use strongbox_types::{Clock, Error, ErrorKind, Result, SecretString};

use crate::events::SecurityEvent;
use crate::{BootstrapCredential, Core, decode, encode};

const TENANT_PATH: &str = "sys/tenant";
const BOOTSTRAP_PATH: &str = "sys/bootstrap";
pub(crate) const SP_PREFIX: &str = "sp/";
/// Clock skew tolerated on `exp`/`nbf`.
const SKEW: i64 = 60;
/// Verified tokens are remembered (by SHA-256 of the token) until they expire, so the hot path
/// does not verify an ECDSA signature per request. Bounded; cleared when full.
const TOKEN_CACHE_MAX: usize = 20_000;
/// How long a principal's status row is trusted before it is re-read from storage (the bound
/// on revocation delay across nodes; on the node that made the change it is immediate).
pub const STATUS_TTL: i64 = 30;
/// Status rows of client applications as public clients (`publicclient/{client id}`).
pub(crate) const PUBLIC_CLIENT_PREFIX: &str = "publicclient/";
/// The "credential" a public-client status row lists while the application is one.
const PUBLIC_CLIENT_CRED: &str = "public-client";
/// Built-in public clients, always registered: the Strongbox CLI (`strongbox login`) and Azure
/// CLI's well-known application id (the default of azure-identity's `DeviceCodeCredential` and
/// `InteractiveBrowserCredential`). `(client id, display name)`.
pub const BUILTIN_PUBLIC_CLIENTS: [(&str, &str); 2] =
    [("5b1d3a2e-7c41-4f0e-9d6a-3c8b2f1e0a77", "Strongbox CLI"), ("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Azure CLI")];

#[derive(Serialize, Deserialize)]
struct TenantRec {
    tenant_id: String,
}

#[derive(Serialize, Deserialize)]
struct BootstrapRec {
    admin_object_id: String,
    client_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServicePrincipalRec {
    pub client_id: String,
    pub object_id: String,
    pub display_name: String,
    pub enabled: bool,
    pub secrets: Vec<ClientSecretRec>,
    #[serde(default)]
    pub certs: Vec<ClientCertRec>,
    #[serde(default)]
    pub federated: Vec<FederatedRec>,
    #[serde(default)]
    pub created: i64,
    /// `ManagedIdentity` for identities served by `strongbox agent`; empty for applications.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// A pending one-time enrolment code of a managed identity (hash only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment: Option<managed::EnrollmentRec>,
    /// Credentials replaced by a routine rotation (not a revocation): `(id, until)`. They can no
    /// longer obtain tokens, but tokens they obtained stay valid until `until`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<(String, i64)>,
    /// Registered as a public client (Entra's `isFallbackPublicClient`): it may start user
    /// sign-ins (device code) without a credential of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_client: bool,
}

impl ServicePrincipalRec {
    /// Ids of the credentials whose tokens stay valid.
    fn credential_ids(&self, now: i64) -> Vec<String> {
        let mut v: Vec<String> = self.secrets.iter().map(|s| s.id.clone()).collect();
        v.extend(self.retired.iter().filter(|(_, until)| *until > now).map(|(id, _)| id.clone()));
        v.extend(self.certs.iter().map(|c| c.id.clone()));
        v.extend(self.federated.iter().map(|f| f.id.clone()));
        v
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ClientSecretRec {
    pub id: String,
    /// Argon2id PHC string.
    pub hash: String,
    pub expires: Option<i64>,
    /// The first three characters of the secret (Entra's `hint`).
    #[serde(default)]
    pub hint: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub created: i64,
}

/// Without the hash: a record must not put credential material in a log line or panic text.
impl std::fmt::Debug for ClientSecretRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretRec")
            .field("id", &self.id)
            .field("expires", &self.expires)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClientCertRec {
    pub id: String,
    /// SHA-1 and SHA-256 of the DER certificate, hex.
    pub sha1: String,
    pub sha256: String,
    pub der_b64: String,
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FederatedRec {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    #[serde(default)]
    pub created: i64,
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
    /// claim of a corporate IdP token (`identity::external`). Fixed for the token's lifetime;
    /// RBAC grants and denies of these groups apply as for stored memberships. Empty for our
    /// own tokens.
    pub token_groups: Vec<String>,
}

/// What the revocation check needs about one principal.
#[derive(Debug, Clone)]
struct PrincipalStatus {
    exists: bool,
    enabled: bool,
    credentials: Vec<String>,
    loaded: i64,
}

impl PrincipalStatus {
    fn allows(&self, cred: Option<&str>) -> bool {
        self.exists && self.enabled && cred.is_none_or(|c| self.credentials.iter().any(|x| x == c))
    }
}

#[derive(Clone)]
struct CachedToken {
    principal: Principal,
    exp: i64,
    status_key: String,
    cred: Option<String>,
    /// A second status row checked on every request, with the credential it must list:
    /// external user tokens mapped to a local user name their issuer (status key and URL;
    /// turning user tokens off revokes them); our own user tokens name their client
    /// application's public-client row ([`PUBLIC_CLIENT_PREFIX`], [`PUBLIC_CLIENT_CRED`]), so a
    /// token whose `appid` is not (or no longer) a registered public client is refused.
    issuer_check: Option<(String, String)>,
}

pub(crate) struct IdentityState {
    pub tenant_id: String,
    keys: RwLock<Arc<signing::KeySet>>,
    cache: RwLock<HashMap<[u8; 32], Arc<CachedToken>>>,
    status: RwLock<HashMap<String, PrincipalStatus>>,
    limiter: Mutex<limits::Limiter>,
    /// When the signing keys were last re-read because of an unknown `kid` (throttles that).
    last_key_reload: Mutex<i64>,
    /// Fetches trusted issuers' keys (installed by the server; core does no HTTP).
    issuer_fetcher: RwLock<Option<Arc<dyn issuer_keys::IssuerKeyFetcher>>>,
    /// When each trusted issuer's keys were last fetched (throttles unknown-`kid` refreshes).
    issuer_attempts: Mutex<HashMap<String, i64>>,
    /// The trusted-issuer records, read at most every few seconds to dispatch foreign tokens
    /// (so a stream of garbage tokens does not become a stream of storage scans); dropped on
    /// every local write to an issuer record.
    issuer_snapshot: Mutex<Option<(i64, Arc<Vec<manage::TrustedIssuerRec>>)>>,
}

impl IdentityState {
    pub async fn load_or_create(barrier: &Barrier, clock: &dyn Clock) -> Result<Self> {
        let tenant_id = match barrier.get(TENANT_PATH).await? {
            Some(b) => decode::<TenantRec>(TENANT_PATH, &b)?.tenant_id,
            None => {
                let rec = TenantRec { tenant_id: uuid::Uuid::new_v4().to_string() };
                create_once(barrier, TENANT_PATH, encode(&rec)?).await?;
                decode::<TenantRec>(
                    TENANT_PATH,
                    &barrier.get(TENANT_PATH).await?.ok_or_else(|| Error::internal("tenant missing"))?,
                )?
                .tenant_id
            }
        };
        let keys = signing::load_or_create(barrier, clock).await?;
        Ok(Self {
            tenant_id,
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
}

pub(crate) async fn create_once(barrier: &Barrier, key: &str, value: Vec<u8>) -> Result<()> {
    match barrier.commit(BTxn::new().absent(key).put(key, value)).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::Conflict => Ok(()), // created concurrently by another node
        Err(e) => Err(e),
    }
}

/// The result of [`Core::create_service_principal_for_rbac`]; the password is not stored.
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

/// A token request as posted to `/{tenant}/oauth2/v2.0/token` (form fields).
#[derive(Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub scope: Option<String>,
    pub client_assertion_type: Option<String>,
    /// RFC 7523 client assertion (a certificate-signed JWT or a federated token).
    pub client_assertion: Option<SecretString>,
    /// The caller's address, for failed-attempt limiting.
    pub peer: Option<IpAddr>,
    /// RFC 8628 device code (device code grant).
    pub device_code: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// A successful grant.
pub struct TokenGrant {
    pub access_token: SecretString,
    pub expires_in: i64,
    /// User grants only (device code, refresh token).
    pub refresh_token: Option<SecretString>,
    /// User grants only: an OpenID Connect id_token (audience = the client id).
    pub id_token: Option<String>,
    /// User grants only: MSAL's `client_info` (`{"uid": oid, "utid": tenant}`, base64url).
    pub client_info: Option<String>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// An OAuth2 error reply (`error`, `error_description`), with Entra's status and AADSTS codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    /// Seconds to wait (sent as `Retry-After`) when the caller is being throttled.
    pub retry_after: Option<i64>,
}

impl OAuthError {
    pub(crate) fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), retry_after: None }
    }

    /// The AADSTS code of the description (`AADSTS7000215: …` → `AADSTS7000215`).
    pub fn code(&self) -> &str {
        self.description.split(':').next().unwrap_or("")
    }
}

/// Why a bearer token was refused (the text is safe to return in a 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure(pub &'static str);

#[derive(Serialize, Deserialize)]
struct Claims {
    aud: String,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    tid: String,
    oid: String,
    sub: String,
    appid: String,
    azp: String,
    ver: String,
    idtyp: String,
    uti: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
    /// The credential that obtained this token (revoked with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sbx_cred: Option<String>,
}

fn internal(_: Error) -> OAuthError {
    OAuthError::new(500, "temporarily_unavailable", "The token service failed; retry.")
}

/// The issuer of the tokens of `tenant` (`{authority}/{tenant}/v2.0`, as Entra v2 tokens).
pub(crate) fn issuer_of(cfg: &crate::CoreConfig, tenant: &str) -> String {
    format!("{}/{}/v2.0", cfg.authority(), tenant)
}

impl Core {
    /// The issuer of our tokens (`{authority}/{tenant}/v2.0`, as Entra v2 tokens).
    pub fn issuer(&self) -> String {
        issuer_of(&self.cfg, &self.ident.tenant_id)
    }

    /// The token endpoint (the audience of client assertions).
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.cfg.authority(), self.ident.tenant_id)
    }

    /// Whether `tenant` (a path segment) names this deployment's tenant.
    pub fn is_our_tenant(&self, tenant: &str) -> bool {
        tenant == self.ident.tenant_id
    }

    /// The public signing keys (all that may still have valid tokens out).
    pub fn jwks(&self) -> Vec<jws::Jwk> {
        self.ident.keyset().map(|k| k.public.iter().map(PublicKey::jwk).collect()).unwrap_or_default()
    }

    pub(crate) async fn ensure_bootstrap_admin(&self) -> Result<Option<BootstrapCredential>> {
        if self.barrier.get(BOOTSTRAP_PATH).await?.is_some() {
            return Ok(None);
        }
        let (sp, secret) = self.create_service_principal("strongbox-bootstrap-admin").await?;
        let rec = BootstrapRec { admin_object_id: sp.object_id.clone(), client_id: sp.client_id.clone() };
        self.barrier.commit(BTxn::new().absent(BOOTSTRAP_PATH).put(BOOTSTRAP_PATH, encode(&rec)?)).await?;
        let assignment = uuid::Uuid::new_v4().to_string();
        self.access
            .create_role_assignment(&assignment, &sp.object_id, strongbox_authz::KEY_VAULT_ADMINISTRATOR, "/")
            .await?;
        Ok(Some(BootstrapCredential {
            tenant_id: self.ident.tenant_id.clone(),
            client_id: sp.client_id,
            client_secret: secret,
        }))
    }

    /// A new service principal with one client secret (returned once, stored only as a hash).
    pub(crate) async fn create_service_principal(
        &self,
        display_name: &str,
    ) -> Result<(ServicePrincipalRec, SecretString)> {
        self.create_service_principal_as(display_name, false).await
    }

    async fn create_service_principal_as(
        &self,
        display_name: &str,
        public_client: bool,
    ) -> Result<(ServicePrincipalRec, SecretString)> {
        let now = self.now();
        let (rec, secret) = manage::new_secret(now, None, "")?;
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
        let key = format!("{SP_PREFIX}{}", sp.client_id);
        self.barrier.commit(BTxn::new().absent(&key).put(&key, encode(&sp)?)).await?;
        self.security_event(SecurityEvent::new("principal.create", "success", "", &sp.client_id, "")).await;
        Ok((sp, secret))
    }

    /// Test and tooling hook: a second, non-administrator service principal.
    pub async fn create_app(&self, display_name: &str) -> Result<(String, SecretString)> {
        let (sp, secret) = self.create_service_principal(display_name).await?;
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
        let (sp, password) = self.create_service_principal_as(display_name, public_client).await?;
        Ok(NewServicePrincipal {
            app_id: sp.client_id,
            object_id: sp.object_id,
            display_name: sp.display_name,
            tenant: self.ident.tenant_id.clone(),
            password,
        })
    }

    /// The token endpoint: client_credentials with a client secret (form or Basic) or a client
    /// assertion (certificate-signed, or federated from a trusted issuer). Every outcome is
    /// recorded as a security event; repeated failures per client id and per source address
    /// are throttled with back-off.
    pub async fn issue_token(&self, tenant: &str, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        let client = req.client_id.clone().unwrap_or_default();
        let result = self.issue_token_inner(tenant, req).await;
        let peer = req.peer.map(|p| p.to_string()).unwrap_or_default();
        match &result {
            Ok(_) => {
                let grant = req.grant_type.as_deref().unwrap_or_default();
                self.security_event(SecurityEvent::new("signin", "success", &client, &peer, grant)).await;
            }
            Err(e) => {
                let code = e.code().to_owned();
                self.security_event(SecurityEvent::new("signin", "failure", &client, &peer, &code)).await;
                // A credential was presented and was wrong: count it against the client and the
                // address. Malformed requests and throttled ones do not count.
                if e.status == 401 || (e.status == 400 && e.error == "invalid_client") {
                    self.note_failure(req);
                }
            }
        }
        result
    }

    async fn issue_token_inner(&self, tenant: &str, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        if !self.is_our_tenant(tenant) {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                format!("AADSTS90002: Tenant '{}' not found.", tenant.chars().take(64).collect::<String>()),
            ));
        }
        match req.grant_type.as_deref() {
            Some("client_credentials") => {}
            Some(users::DEVICE_CODE_GRANT) => return self.device_code_grant(req).await,
            Some("refresh_token") => return self.refresh_token_grant(req).await,
            Some(_) => {
                return Err(OAuthError::new(
                    400,
                    "unsupported_grant_type",
                    "AADSTS70003: The grant type is not supported; this server supports client_credentials, device_code and refresh_token.",
                ));
            }
            None => return Err(missing("grant_type")),
        }
        let client_id = req.client_id.as_deref().ok_or_else(|| missing("client_id"))?;
        let scope = req.scope.as_deref().ok_or_else(|| missing("scope"))?;
        let resource = self.cfg.resource();
        let scope_ok = scope.split_whitespace().any(|s| {
            s.strip_suffix("/.default").is_some_and(|r| r.trim_end_matches('/').eq_ignore_ascii_case(&resource))
        });
        if !scope_ok {
            return Err(OAuthError::new(
                400,
                "invalid_scope",
                format!(
                    "AADSTS70011: The provided value for the input parameter 'scope' is not valid. Use '{resource}/.default'."
                ),
            ));
        }
        self.back_off(req)?;
        let unknown = unknown_application;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(unknown());
        }
        let key = format!("{SP_PREFIX}{client_id}");
        let sp: ServicePrincipalRec = self.read_json(&key).await.map_err(internal)?.ok_or_else(unknown)?;
        let now = self.now();
        let cred_id = match (&req.client_secret, &req.client_assertion, req.client_assertion_type.as_deref()) {
            (Some(_), Some(_), _) => {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    "AADSTS50027: Give either client_secret or client_assertion, not both.",
                ));
            }
            (Some(secret), None, _) => {
                // Every registered hash is checked (no early exit), so timing does not tell
                // which secret came close; each comparison is constant time.
                let mut matched = None;
                let mut expired = false;
                for s in &sp.secrets {
                    if strongbox_crypto::password::verify(secret.expose(), &s.hash) {
                        if s.expires.is_none_or(|e| e > now) {
                            matched = Some(s.id.clone());
                        } else {
                            expired = true;
                        }
                    }
                }
                match matched {
                    Some(id) => id,
                    None if expired => {
                        return Err(OAuthError::new(
                            401,
                            "invalid_client",
                            "AADSTS7000222: The provided client secret keys are expired. Create new keys for the app.",
                        ));
                    }
                    None => {
                        return Err(OAuthError::new(
                            401,
                            "invalid_client",
                            "AADSTS7000215: Invalid client secret provided.",
                        ));
                    }
                }
            }
            (None, Some(assertion), Some(assertion::JWT_BEARER)) => {
                self.verify_client_assertion(&sp, assertion.expose()).await?
            }
            (None, Some(_), _) => {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    format!("AADSTS700024: client_assertion_type must be '{}'.", assertion::JWT_BEARER),
                ));
            }
            (None, None, _) => {
                return Err(OAuthError::new(
                    401,
                    "invalid_client",
                    "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                ));
            }
        };
        if !sp.enabled {
            return Err(OAuthError::new(400, "unauthorized_client", "AADSTS7000112: Application is disabled."));
        }
        self.note_success(req);
        self.mint(&sp, &resource, &cred_id)
    }

    fn mint(&self, sp: &ServicePrincipalRec, resource: &str, cred_id: &str) -> Result<TokenGrant, OAuthError> {
        let now = self.now();
        let lifetime = self.cfg.token_lifetime;
        let claims = Claims {
            aud: resource.to_owned(),
            iss: self.issuer(),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            tid: self.ident.tenant_id.clone(),
            oid: sp.object_id.clone(),
            sub: sp.object_id.clone(),
            appid: sp.client_id.clone(),
            azp: sp.client_id.clone(),
            ver: "2.0".into(),
            idtyp: "app".into(),
            uti: uuid::Uuid::new_v4().simple().to_string(),
            amr: Vec::new(),
            sbx_cred: Some(cred_id.to_owned()),
        };
        let keys = self.ident.keyset().ok_or_else(|| internal(Error::internal("key set lock")))?;
        let token = keys.signer.sign(&claims).map_err(internal)?;
        Ok(TokenGrant {
            access_token: SecretString::new(token),
            expires_in: lifetime,
            refresh_token: None,
            id_token: None,
            client_info: None,
        })
    }

    /// Validates a bearer token: signature, expiry (with skew), not-before, audience, issuer,
    /// tenant, and that its principal and credential have not been disabled or removed.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthFailure> {
        let now = self.now();
        let digest = strongbox_crypto::sha256(token.as_bytes());
        let hit = self.ident.cache.read().ok().and_then(|c| c.get(&digest).cloned());
        if let Some(t) = hit
            && now < t.exp.saturating_add(SKEW)
        {
            self.check_status(&t.status_key, t.cred.as_deref()).await?;
            if let Some((key, iss)) = &t.issuer_check {
                self.check_status(key, Some(iss)).await?;
            }
            return Ok(t.principal.clone());
        }
        let c = match self.verify_our_token(token).await {
            Ok(c) => c,
            // Not verifiable with our keys: a token of a trusted external issuer, perhaps.
            Err(f) => {
                return match external::foreign_issuer(token, &self.issuer()) {
                    Some(iss) => self.authenticate_external(token, digest, &iss).await,
                    None => Err(f),
                };
            }
        };
        if now >= c.exp + SKEW {
            return Err(AuthFailure("AKV10022: Token is expired."));
        }
        if c.nbf > now + SKEW {
            return Err(AuthFailure("AKV10023: Token is not yet valid."));
        }
        if c.aud != self.cfg.resource() {
            return Err(AuthFailure("AKV10022: Invalid audience."));
        }
        if c.iss != self.issuer() {
            return Err(AuthFailure("AKV10032: Invalid issuer."));
        }
        if c.tid != self.ident.tenant_id {
            return Err(AuthFailure("AKV10032: Invalid tenant."));
        }
        let status_key = if c.idtyp == "user" {
            format!("{}{}", users::USER_PREFIX, c.oid)
        } else {
            format!("{SP_PREFIX}{}", c.appid)
        };
        self.check_status(&status_key, c.sbx_cred.as_deref()).await?;
        // A user token's `appid` must name a registered public client (compound identities,
        // `applicationId` in access policies, trust it).
        let app_check = if c.idtyp == "user" {
            let key = public_client_key(&c.appid);
            self.check_status(&key, Some(PUBLIC_CLIENT_CRED)).await?;
            Some((key, PUBLIC_CLIENT_CRED.to_owned()))
        } else {
            None
        };
        let p = Principal { object_id: c.oid, app_id: c.appid, tenant_id: c.tid, amr: c.amr, token_groups: Vec::new() };
        if let Ok(mut cache) = self.ident.cache.write() {
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                digest,
                Arc::new(CachedToken {
                    principal: p.clone(),
                    exp: c.exp,
                    status_key,
                    cred: c.sbx_cred,
                    issuer_check: app_check,
                }),
            );
        }
        Ok(p)
    }

    async fn verify_our_token(&self, token: &str) -> Result<Claims, AuthFailure> {
        let map = |e: jws::JwsError| match e {
            jws::JwsError::UnknownKey => {
                AuthFailure("AKV10046: Unable to resolve the key used for signature validation.")
            }
            jws::JwsError::BadSignature => AuthFailure("AKV10031: Token signature validation failed."),
            jws::JwsError::Malformed => AuthFailure("AKV10000: Request is missing a Bearer or PoP token."),
        };
        let keys = self.ident.keyset().ok_or(AuthFailure("AKV10046: Signing keys unavailable."))?;
        match jws::verify::<Claims>(token, &keys.public) {
            // (a foreign issuer's token does not make us re-read our keys)
            Err(jws::JwsError::UnknownKey)
                if external::foreign_issuer(token, &self.issuer()).is_none() && self.may_reload_keys() =>
            {
                // Another node may have rotated the signing key: re-read the keys (throttled).
                if self.reload_signing_keys().await.is_err() {
                    return Err(map(jws::JwsError::UnknownKey));
                }
                let keys = self.ident.keyset().ok_or(AuthFailure("AKV10046: Signing keys unavailable."))?;
                jws::verify::<Claims>(token, &keys.public).map_err(map)
            }
            other => other.map_err(map),
        }
    }

    fn may_reload_keys(&self) -> bool {
        let now = self.now();
        match self.ident.last_key_reload.lock() {
            Ok(mut last) if now.saturating_sub(*last) >= 5 => {
                *last = now;
                true
            }
            _ => false,
        }
    }

    /// The revocation check (see the module comment).
    async fn check_status(&self, key: &str, cred: Option<&str>) -> Result<(), AuthFailure> {
        let now = self.now();
        // Hot path: decided under the read lock, nothing cloned.
        let fresh = self
            .ident
            .status
            .read()
            .ok()
            .and_then(|m| m.get(key).filter(|s| now.saturating_sub(s.loaded) < STATUS_TTL).map(|s| s.allows(cred)));
        let allowed = match fresh {
            Some(a) => a,
            None => self
                .load_status(key)
                .await
                .map_err(|_| AuthFailure("AKV10032: The principal could not be checked."))?
                .allows(cred),
        };
        if allowed {
            Ok(())
        } else {
            Err(AuthFailure("AKV10032: The principal is disabled or deleted, or its credential was removed."))
        }
    }

    /// The first record under `prefix` that `pick` accepts (every page is scanned).
    pub(crate) async fn find_record<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        pick: impl Fn(&T) -> bool,
    ) -> Result<Option<T>> {
        for (k, v) in crate::scan_all(&self.barrier, prefix).await? {
            let r: T = decode(&k, &v)?;
            if pick(&r) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    async fn load_status(&self, key: &str) -> Result<PrincipalStatus> {
        let status = if key.starts_with(users::USER_PREFIX) {
            let u: Option<users::UserRec> = self.read_json(key).await?;
            users::user_status(u.as_ref(), self.now())
        } else if let Some(app) = key.strip_prefix(PUBLIC_CLIENT_PREFIX) {
            if builtin_public_client(app).is_some() {
                public_client_status(None, true, self.now())
            } else {
                let sp: Option<ServicePrincipalRec> = self.read_json(&format!("{SP_PREFIX}{app}")).await?;
                public_client_status(sp.as_ref(), false, self.now())
            }
        } else if key.starts_with(manage::ISSUER_PREFIX) {
            let r: Option<manage::TrustedIssuerRec> = self.read_json(key).await?;
            external::issuer_status(r.as_ref(), self.now())
        } else {
            let sp: Option<ServicePrincipalRec> = self.read_json(key).await?;
            status_of(sp.as_ref(), self.now())
        };
        self.put_status(key, status.clone());
        Ok(status)
    }

    fn put_status(&self, key: &str, status: PrincipalStatus) {
        if let Ok(mut m) = self.ident.status.write() {
            if m.len() >= TOKEN_CACHE_MAX {
                m.clear();
            }
            m.insert(key.to_owned(), status);
        }
    }

    /// Periodic identity upkeep for the server's background loop: rotates the signing key when
    /// due (and drops keys whose tokens have all expired), re-reads keys other nodes may have
    /// rotated, forgets expired assertion ids and stale status rows.
    pub async fn identity_maintenance(&self) -> Result<()> {
        self.rotate_signing_key_if_due().await?;
        self.purge_expired_jtis().await?;
        self.purge_expired_user_grants().await?;
        let now = self.now();
        if let Ok(mut m) = self.ident.status.write() {
            m.retain(|_, s| now.saturating_sub(s.loaded) < STATUS_TTL);
        }
        if let Ok(mut c) = self.ident.cache.write() {
            c.retain(|_, t| now < t.exp.saturating_add(SKEW));
        }
        Ok(())
    }
}

fn status_of(sp: Option<&ServicePrincipalRec>, now: i64) -> PrincipalStatus {
    match sp {
        Some(sp) => {
            PrincipalStatus { exists: true, enabled: sp.enabled, credentials: sp.credential_ids(now), loaded: now }
        }
        None => PrincipalStatus { exists: false, enabled: false, credentials: Vec::new(), loaded: now },
    }
}

/// The status key of `client_id` as a public client (lower case, as the token's `appid`).
fn public_client_key(client_id: &str) -> String {
    format!("{PUBLIC_CLIENT_PREFIX}{}", client_id.to_ascii_lowercase())
}

/// The display name of a built-in public client.
fn builtin_public_client(client_id: &str) -> Option<&'static str> {
    BUILTIN_PUBLIC_CLIENTS.iter().find(|(id, _)| id.eq_ignore_ascii_case(client_id)).map(|(_, name)| *name)
}

/// An application's row as a public client: it "exists" while it is registered as one.
fn public_client_status(sp: Option<&ServicePrincipalRec>, builtin: bool, now: i64) -> PrincipalStatus {
    let (exists, enabled) = match sp {
        _ if builtin => (true, true),
        Some(sp) => (sp.public_client && sp.kind.is_empty(), sp.enabled),
        None => (false, false),
    };
    PrincipalStatus { exists, enabled, credentials: vec![PUBLIC_CLIENT_CRED.to_owned()], loaded: now }
}

fn missing(field: &str) -> OAuthError {
    OAuthError::new(
        400,
        "invalid_request",
        format!("AADSTS900144: The request body must contain the following parameter: '{field}'."),
    )
}

/// Entra's answer for a `client_id` that names no registered application.
pub(crate) fn unknown_application() -> OAuthError {
    OAuthError::new(
        400,
        "unauthorized_client",
        "AADSTS700016: Application was not found in the directory. Check the client_id and the tenant.",
    )
}

#[cfg(test)]
mod tests;
