//! Applications in the directory: service principals (list, show, enable/disable, delete) and
//! their credentials (client secrets with expiry — several at once, so a secret can be rotated
//! without downtime —, certificates, federated credentials). Trusted issuers are in
//! `trusted_issuers`, managed identities in `managed_identities`.
//!
//! Every change updates this node's revocation table at once and is recorded as a security
//! event. Secrets are shown once, at creation; listings carry ids, expiry and a 3-character hint.

use serde::Serialize;
use strongbox_barrier::{BTxn, Stamp};
use strongbox_types::{Error, ErrorKind, Result, SecretString};

use crate::records::{ClientCertRec, ClientSecretRec, FederatedRec, ServicePrincipalRec};
use crate::status::{public_client_key, public_client_status, status_of};
use crate::{Identity, SecurityEvent};

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

/// A fresh client secret record and the secret (`sbx~` + 256 random bits, base64url).
pub(crate) fn new_secret(
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

fn busy() -> Error {
    Error::new(ErrorKind::Conflict, "The service principal was changed concurrently; retry.")
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

pub(crate) fn check_text(what: &str, v: &str, max: usize) -> Result<()> {
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(Error::bad(format!("'{what}' must be 1-{max} printable characters.")));
    }
    Ok(())
}

/// A certificate credential record from PEM or DER (public part only, not expired).
pub(crate) fn cert_rec(data: &[u8], now: i64, display_name: &str) -> Result<ClientCertRec> {
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

impl Identity {
    /// The record (with its relative key and stamp) of a service principal named by app id or
    /// object id.
    pub(crate) async fn find_sp(&self, id: &str) -> Result<(String, ServicePrincipalRec, Stamp)> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(not_found(id));
        }
        let principals = &self.store.principals;
        let rel = id.to_ascii_lowercase();
        if let Some((sp, stamp)) = principals.get_versioned::<ServicePrincipalRec>(&rel).await? {
            return Ok((rel, sp, stamp));
        }
        for sp in self.all_sps().await? {
            if sp.object_id.eq_ignore_ascii_case(id)
                && let Some((sp, stamp)) = principals.get_versioned::<ServicePrincipalRec>(&sp.client_id).await?
            {
                return Ok((sp.client_id.clone(), sp, stamp));
            }
        }
        Err(not_found(id))
    }

    async fn all_sps(&self) -> Result<Vec<ServicePrincipalRec>> {
        let rows: Vec<(String, ServicePrincipalRec)> = self.store.principals.scan_all("").await?;
        Ok(rows.into_iter().map(|(_, sp)| sp).collect())
    }

    /// Read-modify-write of one principal with compare-and-set; refreshes the status table.
    pub(crate) async fn update_sp<T>(
        &self,
        id: &str,
        f: impl Fn(&mut ServicePrincipalRec, i64) -> Result<T>,
    ) -> Result<(ServicePrincipalRec, T)> {
        let principals = &self.store.principals;
        let f = &f;
        let (sp, out, now) = self
            .barrier
            .transact(busy, || async move {
                let (rel, mut sp, stamp) = self.find_sp(id).await?;
                let now = self.now();
                let out = f(&mut sp, now)?;
                let txn = principals.put(principals.unchanged(BTxn::new(), &rel, &stamp), &rel, &sp)?;
                Ok((txn, (sp, out, now)))
            })
            .await?;
        self.put_status(&principals.key(&sp.client_id), status_of(Some(&sp), now));
        self.put_status(&public_client_key(&sp.client_id), public_client_status(Some(&sp), false, now));
        Ok((sp, out))
    }

    pub async fn list_service_principals(&self) -> Result<Vec<ServicePrincipalView>> {
        let now = self.now();
        Ok(self.all_sps().await?.iter().map(|sp| sp_view(sp, now)).collect())
    }

    pub async fn get_service_principal(&self, id: &str) -> Result<ServicePrincipalView> {
        let (_, sp, _) = self.find_sp(id).await?;
        Ok(sp_view(&sp, self.now()))
    }

    /// Disabling stops new tokens at once and rejects existing ones (crate
    /// documentation: immediately on this node, within the status TTL elsewhere).
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
        let principals = &self.store.principals;
        let sp = self
            .barrier
            .transact(busy, || async move {
                let (rel, sp, stamp) = self.find_sp(id).await?;
                Ok((principals.delete(principals.unchanged(BTxn::new(), &rel, &stamp), &rel), sp))
            })
            .await?;
        let now = self.now();
        self.put_status(&principals.key(&sp.client_id), status_of(None, now));
        self.put_status(&public_client_key(&sp.client_id), public_client_status(None, false, now));
        self.security_event(SecurityEvent::new("principal.delete", "success", "", &sp.client_id, "")).await;
        Ok(())
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
        Ok(NewCredential { app_id: sp.client_id, tenant: self.tenant_id.clone(), key_id: rec.id, password, end })
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
}
