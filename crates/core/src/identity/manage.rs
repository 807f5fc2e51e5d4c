//! Directory management: service principals (list, show, enable/disable, delete), their
//! credentials (client secrets with expiry — several at once, so a secret can be rotated without
//! downtime —, certificates, federated credentials) and trusted external issuers.
//!
//! Every change updates this node's revocation table at once and is recorded as a security
//! event. Secrets are shown once, at creation; listings carry ids, expiry and a 3-character hint.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strongbox_barrier::{BTxn, Stamp};
use strongbox_types::{Error, ErrorKind, Result, SecretString};

use super::external::{UserTokens, issuer_status, issuer_status_key};
use super::{
    ClientCertRec, ClientSecretRec, FederatedRec, SP_PREFIX, ServicePrincipalRec, public_client_key,
    public_client_status, status_of,
};
use crate::events::SecurityEvent;
use crate::{CAS_RETRIES, Core, decode, encode};

pub(super) const ISSUER_PREFIX: &str = "issuer/";
const MAX_SECRETS: usize = 20;
const MAX_CERTS: usize = 20;
/// Entra's limit of federated credentials per application.
const MAX_FEDERATED: usize = 20;
/// The audience Entra expects in federated tokens by default.
pub const DEFAULT_FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A service principal as the management API shows it (no secret material).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalView {
    pub app_id: String,
    pub object_id: String,
    pub display_name: String,
    pub account_enabled: bool,
    /// `Application` or `ManagedIdentity`.
    pub service_principal_type: &'static str,
    /// Registered as a public client: may start device-code sign-ins without a credential.
    pub is_fallback_public_client: bool,
    pub created: i64,
    pub password_credentials: Vec<CredentialView>,
    pub key_credentials: Vec<CredentialView>,
    pub federated_identity_credentials: Vec<FederatedCredentialView>,
}

/// One secret or certificate credential (never the secret itself).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    pub key_id: String,
    /// `Password` or `AsymmetricX509Cert`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub display_name: String,
    /// First characters of a secret (secrets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// SHA-1 thumbprint, upper-case hex (certificates only, as `az` shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_key_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Unix seconds.
    pub start: i64,
    /// Unix seconds; absent = never expires.
    pub end: Option<i64>,
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialView {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

/// A new client secret, shown once.
pub struct NewCredential {
    pub app_id: String,
    pub tenant: String,
    pub key_id: String,
    pub password: SecretString,
    pub end: Option<i64>,
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("app_id", &self.app_id)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrustedIssuerRec {
    pub name: String,
    pub issuer: String,
    /// `{"keys": [...]}`.
    pub jwks: Value,
    #[serde(default)]
    pub discovery_url: Option<String>,
    #[serde(default)]
    pub jwks_fetched: i64,
    #[serde(default)]
    pub created: i64,
    /// Set when the issuer's user tokens are accepted on the data plane (`external`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_tokens: Option<UserTokens>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedIssuerView {
    pub name: String,
    pub issuer: String,
    pub key_ids: Vec<String>,
    pub discovery_url: Option<String>,
    pub jwks_fetched: Option<i64>,
    /// Whether user tokens of this issuer are accepted on the data plane.
    pub accept_user_tokens: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_tokens: Option<UserTokens>,
}

/// The `kid`s of a JWKS document (for listings).
pub(super) fn jwks_key_ids(jwks: &Value) -> Vec<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.get("kid").and_then(Value::as_str)).map(str::to_owned).collect())
        .unwrap_or_default()
}

impl From<&TrustedIssuerRec> for TrustedIssuerView {
    fn from(r: &TrustedIssuerRec) -> Self {
        let key_ids = jwks_key_ids(&r.jwks);
        Self {
            name: r.name.clone(),
            issuer: r.issuer.clone(),
            key_ids,
            discovery_url: r.discovery_url.clone(),
            jwks_fetched: (r.jwks_fetched > 0).then_some(r.jwks_fetched),
            accept_user_tokens: r.user_tokens.is_some(),
            user_tokens: r.user_tokens.clone(),
        }
    }
}

/// How many keys of a JWKS (`{"keys": [...]}`) this server can verify with.
pub(super) fn usable_keys(jwks: &Value) -> usize {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|k| strongbox_crypto::jwt::VerifyKey::from_jwk(k).is_some()).count())
        .unwrap_or(0)
}

/// A fresh client secret record and the secret (`sbx~` + 256 random bits, base64url).
pub(super) fn new_secret(
    now: i64,
    expires: Option<i64>,
    display_name: &str,
) -> Result<(ClientSecretRec, SecretString)> {
    let secret =
        SecretString::new(format!("sbx~{}", strongbox_crypto::b64url(&strongbox_crypto::random_array::<32>()?)));
    let hint: String = secret.expose().chars().take(3).collect();
    let rec = ClientSecretRec {
        id: uuid::Uuid::new_v4().to_string(),
        hash: strongbox_crypto::password::hash_generated(secret.expose()),
        expires,
        hint,
        display_name: display_name.to_owned(),
        created: now,
    };
    Ok((rec, secret))
}

fn not_found(id: &str) -> Error {
    Error::new(
        ErrorKind::RouteNotFound,
        format!("Service principal '{}' was not found.", id.chars().take(64).collect::<String>()),
    )
}

fn secret_view(s: &ClientSecretRec, now: i64) -> CredentialView {
    CredentialView {
        key_id: s.id.clone(),
        kind: "Password",
        display_name: s.display_name.clone(),
        hint: Some(s.hint.clone()),
        custom_key_identifier: None,
        subject: None,
        start: s.created,
        end: s.expires,
        expired: s.expires.is_some_and(|e| e <= now),
    }
}

fn cert_view(c: &ClientCertRec, now: i64) -> CredentialView {
    CredentialView {
        key_id: c.id.clone(),
        kind: "AsymmetricX509Cert",
        display_name: c.display_name.clone(),
        hint: None,
        custom_key_identifier: Some(c.sha1.to_ascii_uppercase()),
        subject: Some(c.subject.clone()),
        start: c.not_before,
        end: Some(c.not_after),
        expired: c.not_after <= now,
    }
}

fn fed_view(f: &FederatedRec) -> FederatedCredentialView {
    FederatedCredentialView {
        id: f.id.clone(),
        name: f.name.clone(),
        issuer: f.issuer.clone(),
        subject: f.subject.clone(),
        audiences: f.audiences.clone(),
    }
}

fn sp_view(sp: &ServicePrincipalRec, now: i64) -> ServicePrincipalView {
    ServicePrincipalView {
        app_id: sp.client_id.clone(),
        object_id: sp.object_id.clone(),
        display_name: sp.display_name.clone(),
        account_enabled: sp.enabled,
        service_principal_type: if sp.kind.is_empty() { "Application" } else { "ManagedIdentity" },
        is_fallback_public_client: sp.public_client,
        created: sp.created,
        password_credentials: sp.secrets.iter().map(|s| secret_view(s, now)).collect(),
        key_credentials: sp.certs.iter().map(|c| cert_view(c, now)).collect(),
        federated_identity_credentials: sp.federated.iter().map(fed_view).collect(),
    }
}

fn check_text(what: &str, v: &str, max: usize) -> Result<()> {
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(Error::bad(format!("'{what}' must be 1-{max} printable characters.")));
    }
    Ok(())
}

/// A certificate credential record from PEM or DER (public part only, not expired).
pub(super) fn cert_rec(data: &[u8], now: i64, display_name: &str) -> Result<ClientCertRec> {
    if data.windows(11).any(|w| w == b"PRIVATE KEY") {
        return Err(Error::bad("Upload the certificate only, never its private key."));
    }
    let info = strongbox_crypto::jwt::parse_certificate(data)?;
    if info.not_after <= now {
        return Err(Error::bad("The certificate has expired."));
    }
    Ok(ClientCertRec {
        id: uuid::Uuid::new_v4().to_string(),
        sha1: strongbox_crypto::hex(&info.sha1),
        sha256: strongbox_crypto::hex(&info.sha256),
        der_b64: strongbox_crypto::b64url(&info.der),
        subject: info.subject.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
        display_name: display_name.to_owned(),
        created: now,
    })
}

impl Core {
    /// The storage key and record of a service principal named by app id or object id.
    pub(super) async fn find_sp(&self, id: &str) -> Result<(String, ServicePrincipalRec, Stamp)> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(not_found(id));
        }
        let key = format!("{SP_PREFIX}{}", id.to_ascii_lowercase());
        if let Some((sp, stamp)) = self.read_json_versioned::<ServicePrincipalRec>(&key).await? {
            return Ok((key, sp, stamp));
        }
        for sp in self.all_sps().await? {
            if sp.object_id.eq_ignore_ascii_case(id) {
                let key = format!("{SP_PREFIX}{}", sp.client_id);
                if let Some((sp, stamp)) = self.read_json_versioned::<ServicePrincipalRec>(&key).await? {
                    return Ok((key, sp, stamp));
                }
            }
        }
        Err(not_found(id))
    }

    async fn all_sps(&self) -> Result<Vec<ServicePrincipalRec>> {
        let mut out = Vec::new();
        let mut start = SP_PREFIX.to_owned();
        loop {
            let rows = self.barrier.scan_prefix(SP_PREFIX, &start, 500).await?;
            let n = rows.len();
            for (k, v) in &rows {
                out.push(decode::<ServicePrincipalRec>(k, v)?);
            }
            match rows.last() {
                Some((last, _)) if n == 500 => start = format!("{last}\u{0}"),
                _ => return Ok(out),
            }
        }
    }

    /// Read-modify-write of one principal with compare-and-set; refreshes the status table.
    pub(super) async fn update_sp<T>(
        &self,
        id: &str,
        mut f: impl FnMut(&mut ServicePrincipalRec, i64) -> Result<T>,
    ) -> Result<(ServicePrincipalRec, T)> {
        for _ in 0..CAS_RETRIES {
            let (key, mut sp, stamp) = self.find_sp(id).await?;
            let now = self.now();
            let out = f(&mut sp, now)?;
            match self.barrier.commit(BTxn::new().unchanged(&key, &stamp).put(&key, encode(&sp)?)).await {
                Ok(()) => {
                    self.put_status(&key, status_of(Some(&sp), now));
                    self.put_status(&public_client_key(&sp.client_id), public_client_status(Some(&sp), false, now));
                    return Ok((sp, out));
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The service principal was changed concurrently; retry."))
    }

    pub async fn list_service_principals(&self) -> Result<Vec<ServicePrincipalView>> {
        let now = self.now();
        Ok(self.all_sps().await?.iter().map(|sp| sp_view(sp, now)).collect())
    }

    pub async fn get_service_principal(&self, id: &str) -> Result<ServicePrincipalView> {
        let (_, sp, _) = self.find_sp(id).await?;
        Ok(sp_view(&sp, self.now()))
    }

    /// Disabling stops new tokens at once and rejects existing ones (module comment of
    /// `identity`: immediately on this node, within the status TTL elsewhere).
    pub async fn set_service_principal_enabled(&self, id: &str, enabled: bool) -> Result<ServicePrincipalView> {
        let (sp, ()) = self
            .update_sp(id, |sp, _| {
                sp.enabled = enabled;
                Ok(())
            })
            .await?;
        let kind = if enabled { "principal.enable" } else { "principal.disable" };
        self.security_event(SecurityEvent::new(kind, "success", "", &sp.client_id, "")).await;
        Ok(sp_view(&sp, self.now()))
    }

    /// Registers the application as a public client (Entra's `isFallbackPublicClient`), or
    /// stops that: then device-code sign-ins through it are refused and the user tokens it
    /// obtained stop working (refresh tokens too). Managed identities cannot be public clients.
    pub async fn set_service_principal_public_client(
        &self,
        id: &str,
        public_client: bool,
    ) -> Result<ServicePrincipalView> {
        let (sp, ()) = self
            .update_sp(id, |sp, _| {
                if public_client && !sp.kind.is_empty() {
                    return Err(Error::bad("A managed identity cannot be a public client."));
                }
                sp.public_client = public_client;
                Ok(())
            })
            .await?;
        let kind = if public_client { "principal.publicclient.on" } else { "principal.publicclient.off" };
        self.security_event(SecurityEvent::new(kind, "success", "", &sp.client_id, "")).await;
        Ok(sp_view(&sp, self.now()))
    }

    pub async fn delete_service_principal(&self, id: &str) -> Result<()> {
        for _ in 0..CAS_RETRIES {
            let (key, sp, stamp) = self.find_sp(id).await?;
            match self.barrier.commit(BTxn::new().unchanged(&key, &stamp).delete(&key)).await {
                Ok(()) => {
                    self.put_status(&key, status_of(None, self.now()));
                    self.put_status(&public_client_key(&sp.client_id), public_client_status(None, false, self.now()));
                    self.security_event(SecurityEvent::new("principal.delete", "success", "", &sp.client_id, "")).await;
                    return Ok(());
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The service principal was changed concurrently; retry."))
    }

    /// `az ad sp credential reset`: a new client secret (shown once). Without `append` the
    /// principal's other secrets are removed (and their tokens revoked); with it they stay, so
    /// a secret can be rotated without downtime.
    pub async fn reset_credential(
        &self,
        id: &str,
        append: bool,
        display_name: Option<&str>,
        end: Option<i64>,
    ) -> Result<NewCredential> {
        let now = self.now();
        if let Some(e) = end
            && e <= now
        {
            return Err(Error::bad("The end date must be in the future."));
        }
        if let Some(d) = display_name {
            check_text("displayName", d, 120)?;
        }
        // Hash once, outside the CAS loop (Argon2 is deliberately slow).
        let (rec, password) = new_secret(now, end, display_name.unwrap_or_default())?;
        let (sp, ()) = self
            .update_sp(id, |sp, _| {
                if !sp.kind.is_empty() {
                    return Err(Error::bad("A managed identity holds no secret; its agent uses its own key."));
                }
                if !append {
                    sp.secrets.clear();
                }
                if sp.secrets.len() >= MAX_SECRETS {
                    return Err(Error::bad(format!("A service principal may hold at most {MAX_SECRETS} secrets.")));
                }
                sp.secrets.push(rec.clone());
                Ok(())
            })
            .await?;
        self.security_event(SecurityEvent::new("credential.reset", "success", "", &sp.client_id, &rec.id)).await;
        Ok(NewCredential { app_id: sp.client_id, tenant: self.ident.tenant_id.clone(), key_id: rec.id, password, end })
    }

    pub async fn list_credentials(&self, id: &str) -> Result<Vec<CredentialView>> {
        let (_, sp, _) = self.find_sp(id).await?;
        let now = self.now();
        let mut v: Vec<CredentialView> = sp.secrets.iter().map(|s| secret_view(s, now)).collect();
        v.extend(sp.certs.iter().map(|c| cert_view(c, now)));
        Ok(v)
    }

    /// Removes a secret or certificate; tokens it obtained are revoked.
    pub async fn delete_credential(&self, id: &str, key_id: &str) -> Result<()> {
        let (sp, found) = self
            .update_sp(id, |sp, _| {
                let before = sp.secrets.len() + sp.certs.len();
                sp.secrets.retain(|s| !s.id.eq_ignore_ascii_case(key_id));
                sp.certs.retain(|c| !c.id.eq_ignore_ascii_case(key_id));
                let found = sp.secrets.len() + sp.certs.len() < before;
                if found {
                    Ok(true)
                } else {
                    Err(Error::new(ErrorKind::RouteNotFound, "No credential with that keyId."))
                }
            })
            .await?;
        if found {
            self.security_event(SecurityEvent::new("credential.delete", "success", "", &sp.client_id, key_id)).await;
        }
        Ok(())
    }

    /// Registers a certificate (PEM or DER; public part only) for client assertions.
    pub async fn upload_certificate(
        &self,
        id: &str,
        data: &[u8],
        display_name: Option<&str>,
    ) -> Result<CredentialView> {
        if let Some(d) = display_name {
            check_text("displayName", d, 120)?;
        }
        let now = self.now();
        let rec = cert_rec(data, now, display_name.unwrap_or_default())?;
        let (sp, ()) = self
            .update_sp(id, |sp, _| {
                if sp.certs.iter().any(|c| c.sha256 == rec.sha256) {
                    return Err(Error::new(ErrorKind::Conflict, "This certificate is already registered."));
                }
                if sp.certs.len() >= MAX_CERTS {
                    return Err(Error::bad(format!("A service principal may hold at most {MAX_CERTS} certificates.")));
                }
                sp.certs.push(rec.clone());
                Ok(())
            })
            .await?;
        self.security_event(SecurityEvent::new("credential.upload-cert", "success", "", &sp.client_id, &rec.id)).await;
        Ok(cert_view(&rec, now))
    }

    /// A federated credential: tokens from `issuer` (a trusted issuer) with this `subject` and
    /// one of `audiences` may be exchanged for our tokens.
    pub async fn create_federated_credential(
        &self,
        id: &str,
        name: &str,
        issuer: &str,
        subject: &str,
        audiences: Vec<String>,
    ) -> Result<FederatedCredentialView> {
        check_text("name", name, 120)?;
        check_text("issuer", issuer, 600)?;
        check_text("subject", subject, 600)?;
        let audiences = if audiences.is_empty() { vec![DEFAULT_FEDERATED_AUDIENCE.to_owned()] } else { audiences };
        for a in &audiences {
            check_text("audiences", a, 600)?;
        }
        if self.trusted_issuer_by_url(issuer).await?.is_none() {
            return Err(Error::bad(format!(
                "The issuer '{}' is not trusted; register it first (trusted issuers).",
                issuer.chars().take(200).collect::<String>()
            )));
        }
        let rec = FederatedRec {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            audiences,
            created: self.now(),
        };
        let (sp, ()) = self
            .update_sp(id, |sp, _| {
                if sp.federated.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
                    return Err(Error::new(ErrorKind::Conflict, "A federated credential with this name exists."));
                }
                if sp.federated.iter().any(|f| f.issuer == rec.issuer && f.subject == rec.subject) {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        "A federated credential with this issuer and subject exists.",
                    ));
                }
                if sp.federated.len() >= MAX_FEDERATED {
                    return Err(Error::bad(format!("At most {MAX_FEDERATED} federated credentials are allowed.")));
                }
                sp.federated.push(rec.clone());
                Ok(())
            })
            .await?;
        self.security_event(SecurityEvent::new("credential.federated.create", "success", "", &sp.client_id, &rec.id))
            .await;
        Ok(fed_view(&rec))
    }

    pub async fn list_federated_credentials(&self, id: &str) -> Result<Vec<FederatedCredentialView>> {
        let (_, sp, _) = self.find_sp(id).await?;
        Ok(sp.federated.iter().map(fed_view).collect())
    }

    /// By id or name.
    pub async fn delete_federated_credential(&self, id: &str, fed: &str) -> Result<()> {
        let (sp, ()) = self
            .update_sp(id, |sp, _| {
                let before = sp.federated.len();
                sp.federated.retain(|f| !(f.id.eq_ignore_ascii_case(fed) || f.name.eq_ignore_ascii_case(fed)));
                if sp.federated.len() < before {
                    Ok(())
                } else {
                    Err(Error::new(ErrorKind::RouteNotFound, "No federated credential with that id or name."))
                }
            })
            .await?;
        self.security_event(SecurityEvent::new("credential.federated.delete", "success", "", &sp.client_id, fed)).await;
        Ok(())
    }

    /// Trusts an external OIDC issuer. With only a `discovery_url` the server fetches the keys
    /// now (the discovery `issuer` must equal `issuer`) and refreshes them later; with `jwks`
    /// (`{"keys": [...]}`) those keys are stored as given. With `user_tokens` the issuer's user
    /// tokens are also accepted on the data plane (see `identity::external`).
    pub async fn put_trusted_issuer(
        &self,
        name: &str,
        issuer: &str,
        jwks: Option<Value>,
        discovery_url: Option<String>,
        user_tokens: Option<UserTokens>,
    ) -> Result<TrustedIssuerView> {
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::bad("The issuer name must be 1-64 characters of [0-9a-zA-Z-]."));
        }
        check_text("issuer", issuer, 600)?;
        if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
            return Err(Error::bad("The issuer must be an https URL (the token's 'iss' claim)."));
        }
        if let Some(u) = &discovery_url {
            check_text("discoveryUrl", u, 1000)?;
        }
        let mut user_tokens = user_tokens;
        if let Some(t) = user_tokens.as_mut() {
            self.prepare_user_tokens(name, t).await?;
        }
        self.check_issuer_url_free(name, issuer).await?;
        let mut fetched = 0;
        let jwks = match (jwks, &discovery_url) {
            (Some(j), _) => j,
            (None, Some(url)) => {
                let j = self.fetch_issuer_jwks(issuer, url).await?;
                fetched = self.now();
                j
            }
            (None, None) => return Err(Error::bad("Give 'jwks' ({\"keys\": [...]}) or 'discoveryUrl'.")),
        };
        if usable_keys(&jwks) == 0 {
            return Err(Error::bad("The JWKS has no usable key (RSA, or EC P-256/P-384)."));
        }
        let now = self.now();
        let rec = TrustedIssuerRec {
            name: name.to_ascii_lowercase(),
            issuer: issuer.to_owned(),
            jwks,
            discovery_url,
            jwks_fetched: fetched,
            created: now,
            user_tokens,
        };
        let key = format!("{ISSUER_PREFIX}{}", rec.name);
        self.barrier.commit(BTxn::new().put(&key, encode(&rec)?)).await?;
        self.forget_issuer_snapshot();
        self.put_status(&issuer_status_key(&rec.name), issuer_status(Some(&rec), now));
        self.security_event(SecurityEvent::new("issuer.put", "success", "", &rec.name, "")).await;
        Ok(TrustedIssuerView::from(&rec))
    }

    pub async fn list_trusted_issuers(&self) -> Result<Vec<TrustedIssuerView>> {
        let rows = self.barrier.scan_prefix(ISSUER_PREFIX, ISSUER_PREFIX, 1000).await?;
        rows.iter().map(|(k, v)| decode::<TrustedIssuerRec>(k, v).map(|r| TrustedIssuerView::from(&r))).collect()
    }

    pub async fn delete_trusted_issuer(&self, name: &str) -> Result<()> {
        let key = format!("{ISSUER_PREFIX}{}", name.to_ascii_lowercase());
        if self.barrier.get(&key).await?.is_none() {
            return Err(Error::new(ErrorKind::RouteNotFound, "No trusted issuer with that name."));
        }
        self.barrier.commit(BTxn::new().delete(&key)).await?;
        self.forget_issuer_snapshot();
        self.put_status(&issuer_status_key(&name.to_ascii_lowercase()), issuer_status(None, self.now()));
        self.security_event(SecurityEvent::new("issuer.delete", "success", "", name, "")).await;
        Ok(())
    }

    pub(super) async fn trusted_issuer_by_name(&self, name: &str) -> Result<TrustedIssuerRec> {
        let key = format!("{ISSUER_PREFIX}{}", name.to_ascii_lowercase());
        match self.read_json::<TrustedIssuerRec>(&key).await? {
            Some(r) => Ok(r),
            None => Err(Error::new(ErrorKind::RouteNotFound, "No trusted issuer with that name.")),
        }
    }

    /// Normalises and checks user-token settings for issuer `name`: bounds, domains not held by
    /// another issuer, group map resolved to existing group ids.
    async fn prepare_user_tokens(&self, name: &str, t: &mut UserTokens) -> Result<()> {
        t.normalize();
        t.check()?;
        self.check_domains_free(name, t).await?;
        self.resolve_group_map(t).await
    }

    /// Turns acceptance of an issuer's user tokens on (with these settings) or off, keeping its
    /// keys. Turning it off rejects tokens already in use (at once on this node, within the
    /// status TTL elsewhere).
    pub async fn set_trusted_issuer_user_tokens(
        &self,
        name: &str,
        user_tokens: Option<UserTokens>,
    ) -> Result<TrustedIssuerView> {
        let mut user_tokens = user_tokens;
        if let Some(t) = user_tokens.as_mut() {
            self.prepare_user_tokens(name, t).await?;
        }
        let key = format!("{ISSUER_PREFIX}{}", name.to_ascii_lowercase());
        for _ in 0..CAS_RETRIES {
            let Some((mut rec, stamp)) = self.read_json_versioned::<TrustedIssuerRec>(&key).await? else {
                return Err(Error::new(ErrorKind::RouteNotFound, "No trusted issuer with that name."));
            };
            rec.user_tokens = user_tokens.clone();
            let committed = self.barrier.commit(BTxn::new().unchanged(&key, &stamp).put(&key, encode(&rec)?)).await;
            self.forget_issuer_snapshot();
            match committed {
                Ok(()) => {
                    self.put_status(&issuer_status_key(&rec.name), issuer_status(Some(&rec), self.now()));
                    let detail = if rec.user_tokens.is_some() { "user tokens accepted" } else { "user tokens refused" };
                    self.security_event(SecurityEvent::new("issuer.update", "success", "", &rec.name, detail)).await;
                    return Ok(TrustedIssuerView::from(&rec));
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The trusted issuer was changed concurrently; retry."))
    }

    pub(super) async fn trusted_issuer_by_url(&self, iss: &str) -> Result<Option<TrustedIssuerRec>> {
        if iss.is_empty() {
            return Ok(None);
        }
        self.find_record(ISSUER_PREFIX, |r: &TrustedIssuerRec| r.issuer == iss).await
    }
}
