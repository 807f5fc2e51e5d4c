//! The built-in token service (the minimum the Azure SDKs need; the identity issue widens it):
//! one tenant, service principals with client secrets (Argon2id hashes only), ES256 access
//! tokens, and validation of those tokens on every request.

use std::collections::HashMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Barrier};
use strongbox_crypto::jws::{self, PublicKey, SigningKey};
use strongbox_types::{Clock, Error, ErrorKind, Result, SecretBytes, SecretString};

use crate::{BootstrapCredential, Core, decode, encode};

const TENANT_PATH: &str = "sys/tenant";
const SIGNING_PREFIX: &str = "sys/signing/";
const BOOTSTRAP_PATH: &str = "sys/bootstrap";
/// Clock skew tolerated on `exp`/`nbf`.
const SKEW: i64 = 60;
/// Verified tokens are remembered (by SHA-256 of the token) until they expire, so the hot path
/// does not verify an ECDSA signature per request. Bounded; cleared when full.
const TOKEN_CACHE_MAX: usize = 20_000;

#[derive(Serialize, Deserialize)]
struct TenantRec {
    tenant_id: String,
}

#[derive(Serialize, Deserialize)]
struct SigningRec {
    kid: String,
    created: i64,
    pkcs8_hex: SecretString,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ClientSecretRec {
    pub id: String,
    /// Argon2id PHC string.
    pub hash: String,
    pub expires: Option<i64>,
}

/// Who is calling, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub object_id: String,
    pub app_id: String,
    pub tenant_id: String,
}

pub(crate) struct IdentityState {
    pub tenant_id: String,
    signer: SigningKey,
    public_keys: Vec<PublicKey>,
    cache: RwLock<HashMap<[u8; 32], (Principal, i64)>>,
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
        let mut keys = load_signing_keys(barrier).await?;
        if keys.is_empty() {
            let kid = uuid::Uuid::new_v4().simple().to_string();
            let k = SigningKey::generate(kid.clone())?;
            let rec = SigningRec {
                kid: kid.clone(),
                created: clock.now(),
                pkcs8_hex: SecretString::new(strongbox_crypto::hex(k.pkcs8().expose())),
            };
            create_once(barrier, &format!("{SIGNING_PREFIX}{kid}"), encode(&rec)?).await?;
            keys = load_signing_keys(barrier).await?;
        }
        // newest key signs; all verify (overlap for a later rotation)
        keys.sort_by_key(|(created, _)| *created);
        let public_keys = keys.iter().map(|(_, k)| k.public()).collect();
        let signer = keys.pop().map(|(_, k)| k).ok_or_else(|| Error::internal("no token signing key"))?;
        Ok(Self { tenant_id, signer, public_keys, cache: RwLock::new(HashMap::new()) })
    }
}

async fn create_once(barrier: &Barrier, key: &str, value: Vec<u8>) -> Result<()> {
    match barrier.commit(BTxn::new().absent(key).put(key, value)).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::Conflict => Ok(()), // created concurrently by another node
        Err(e) => Err(e),
    }
}

async fn load_signing_keys(barrier: &Barrier) -> Result<Vec<(i64, SigningKey)>> {
    let rows = barrier.scan_prefix(SIGNING_PREFIX, SIGNING_PREFIX, 100).await?;
    let mut out = Vec::new();
    for (k, b) in rows {
        let rec: SigningRec = decode(&k, &b)?;
        let der =
            strongbox_crypto::unhex(rec.pkcs8_hex.expose()).ok_or_else(|| Error::internal("signing key corrupt"))?;
        out.push((rec.created, SigningKey::from_pkcs8(rec.kid.clone(), SecretBytes::new(der))?));
    }
    Ok(out)
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
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A successful grant.
pub struct TokenGrant {
    pub access_token: SecretString,
    pub expires_in: i64,
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
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
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
}

impl Core {
    /// The issuer of our tokens (`{authority}/{tenant}/v2.0`, as Entra v2 tokens).
    pub fn issuer(&self) -> String {
        format!("{}/{}/v2.0", self.cfg.authority(), self.ident.tenant_id)
    }

    /// Whether `tenant` (a path segment) names this deployment's tenant.
    pub fn is_our_tenant(&self, tenant: &str) -> bool {
        tenant == self.ident.tenant_id
    }

    pub fn jwks(&self) -> Vec<jws::Jwk> {
        self.ident.public_keys.iter().map(PublicKey::jwk).collect()
    }

    pub(crate) async fn ensure_bootstrap_admin(&self) -> Result<Option<BootstrapCredential>> {
        if self.barrier.get(BOOTSTRAP_PATH).await?.is_some() {
            return Ok(None);
        }
        let (sp, secret) = self.create_service_principal("strongbox-bootstrap-admin").await?;
        let rec = BootstrapRec { admin_object_id: sp.object_id.clone(), client_id: sp.client_id.clone() };
        self.barrier.commit(BTxn::new().absent(BOOTSTRAP_PATH).put(BOOTSTRAP_PATH, encode(&rec)?)).await?;
        let assignment = uuid::Uuid::new_v4().to_string();
        self.create_role_assignment(&assignment, &sp.object_id, strongbox_authz::KEY_VAULT_ADMINISTRATOR, "/").await?;
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
        let secret =
            SecretString::new(format!("sbx~{}", strongbox_crypto::b64url(&strongbox_crypto::random_array::<32>()?)));
        let sp = ServicePrincipalRec {
            client_id: uuid::Uuid::new_v4().to_string(),
            object_id: uuid::Uuid::new_v4().to_string(),
            display_name: display_name.to_owned(),
            enabled: true,
            secrets: vec![ClientSecretRec {
                id: uuid::Uuid::new_v4().to_string(),
                hash: strongbox_crypto::password::hash(secret.expose())?,
                expires: None,
            }],
        };
        let key = format!("sp/{}", sp.client_id);
        self.barrier.commit(BTxn::new().absent(&key).put(&key, encode(&sp)?)).await?;
        Ok((sp, secret))
    }

    /// Test and tooling hook: a second, non-administrator service principal.
    pub async fn create_app(&self, display_name: &str) -> Result<(String, SecretString)> {
        let (sp, secret) = self.create_service_principal(display_name).await?;
        Ok((sp.client_id, secret))
    }

    /// `az ad sp create-for-rbac`-style creation: a service principal with no role assignment
    /// and one client secret, shown once.
    pub async fn create_service_principal_for_rbac(&self, display_name: &str) -> Result<NewServicePrincipal> {
        if display_name.is_empty() || display_name.len() > 120 {
            return Err(Error::bad("The display name must be 1-120 characters."));
        }
        let (sp, password) = self.create_service_principal(display_name).await?;
        Ok(NewServicePrincipal {
            app_id: sp.client_id,
            object_id: sp.object_id,
            display_name: sp.display_name,
            tenant: self.ident.tenant_id.clone(),
            password,
        })
    }

    /// The client-credentials grant with a client secret.
    pub async fn issue_token(&self, tenant: &str, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        if !self.is_our_tenant(tenant) {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                format!("AADSTS90002: Tenant '{}' not found.", tenant.chars().take(64).collect::<String>()),
            ));
        }
        match req.grant_type.as_deref() {
            Some("client_credentials") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    400,
                    "unsupported_grant_type",
                    "AADSTS70003: The grant type is not supported; this server supports client_credentials.",
                ));
            }
            None => return Err(missing("grant_type")),
        }
        let client_id = req.client_id.as_deref().ok_or_else(|| missing("client_id"))?;
        if req.client_assertion_type.is_some() {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                "AADSTS50027: Client assertions are not supported yet; use a client secret.",
            ));
        }
        let secret = req.client_secret.as_ref().ok_or_else(|| missing("client_secret"))?;
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
        let unknown = || {
            OAuthError::new(
                400,
                "unauthorized_client",
                "AADSTS700016: Application was not found in the directory. Check the client_id and the tenant.",
            )
        };
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(unknown());
        }
        let internal = |_: Error| OAuthError::new(500, "temporarily_unavailable", "The token service failed; retry.");
        let key = format!("sp/{client_id}");
        let sp: ServicePrincipalRec = self.read_json(&key).await.map_err(internal)?.ok_or_else(unknown)?;
        let now = self.now();
        let valid = sp.enabled
            && sp
                .secrets
                .iter()
                .filter(|s| s.expires.is_none_or(|e| e > now))
                .any(|s| strongbox_crypto::password::verify(secret.expose(), &s.hash));
        if !valid {
            tracing::info!(client_id = %client_id, "token request refused: invalid client secret");
            return Err(OAuthError::new(401, "invalid_client", "AADSTS7000215: Invalid client secret provided."));
        }
        let lifetime = self.cfg.token_lifetime;
        let claims = Claims {
            aud: resource,
            iss: self.issuer(),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            tid: self.ident.tenant_id.clone(),
            oid: sp.object_id.clone(),
            sub: sp.object_id,
            appid: sp.client_id.clone(),
            azp: sp.client_id,
            ver: "2.0".into(),
            idtyp: "app".into(),
            uti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = self.ident.signer.sign(&claims).map_err(internal)?;
        Ok(TokenGrant { access_token: SecretString::new(token), expires_in: lifetime })
    }

    /// Validates a bearer token: signature, expiry (with skew), not-before, audience, issuer
    /// and tenant.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthFailure> {
        let now = self.now();
        let digest = strongbox_crypto::sha256(token.as_bytes());
        if let Some((p, exp)) = self.ident.cache.read().ok().and_then(|c| c.get(&digest).cloned())
            && now < exp + SKEW
        {
            return Ok(p);
        }
        let c: Claims = jws::verify(token, &self.ident.public_keys).map_err(|e| match e {
            jws::JwsError::UnknownKey => {
                AuthFailure("AKV10046: Unable to resolve the key used for signature validation.")
            }
            jws::JwsError::BadSignature => AuthFailure("AKV10031: Token signature validation failed."),
            jws::JwsError::Malformed => AuthFailure("AKV10000: Request is missing a Bearer or PoP token."),
        })?;
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
        let p = Principal { object_id: c.oid, app_id: c.appid, tenant_id: c.tid };
        if let Ok(mut cache) = self.ident.cache.write() {
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.clear();
            }
            cache.insert(digest, (p.clone(), c.exp));
        }
        Ok(p)
    }
}

fn missing(field: &str) -> OAuthError {
    OAuthError::new(
        400,
        "invalid_request",
        format!("AADSTS900144: The request body must contain the following parameter: '{field}'."),
    )
}
