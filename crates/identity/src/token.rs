//! The token endpoint's client-credentials grant (a client secret, form or Basic, or an RFC 7523
//! client assertion) and the request and grant types of every grant; the user grants (device
//! code, refresh token) are in `device_code`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use strongbox_types::{Error, SecretString};

use crate::error::{Aadsts, OAuthError, internal, missing, unknown_application};
use crate::records::ServicePrincipalRec;
use crate::{Identity, SecurityEvent, assertions, device_code};

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

/// The claims of our access tokens.
#[derive(Serialize, Deserialize)]
pub(crate) struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub oid: String,
    pub sub: String,
    pub appid: String,
    pub azp: String,
    pub ver: String,
    pub idtyp: String,
    pub uti: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The credential that obtained this token (revoked with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbx_cred: Option<String>,
}

impl Identity {
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
                let code = e.event_detail();
                self.security_event(SecurityEvent::new("signin", "failure", &client, &peer, &code)).await;
                // A credential was presented and was wrong (or an assertion did not fit): count
                // it against the client and the address. Malformed requests and throttled ones
                // do not count.
                if e.is_wrong_credential() || matches!(e, OAuthError::AssertionRejected(_)) {
                    self.note_failure(req);
                }
            }
        }
        result
    }

    async fn issue_token_inner(&self, tenant: &str, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        if !self.is_our_tenant(tenant) {
            return Err(OAuthError::InvalidRequest(Aadsts::new(
                90002,
                format!("Tenant '{}' not found.", tenant.chars().take(64).collect::<String>()),
            )));
        }
        match req.grant_type.as_deref() {
            Some("client_credentials") => {}
            Some(device_code::DEVICE_CODE_GRANT) => return self.device_code_grant(req).await,
            Some("refresh_token") => return self.refresh_token_grant(req).await,
            Some(_) => {
                return Err(OAuthError::UnsupportedGrantType(Aadsts::new(
                    70003,
                    "The grant type is not supported; this server supports client_credentials, device_code and refresh_token.",
                )));
            }
            None => return Err(missing("grant_type")),
        }
        let client_id = req.client_id.as_deref().ok_or_else(|| missing("client_id"))?;
        let scope = req.scope.as_deref().ok_or_else(|| missing("scope"))?;
        let resource = self.resource_from_scope(scope)?;
        self.back_off(req)?;
        let unknown = unknown_application;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(unknown());
        }
        let sp: ServicePrincipalRec =
            self.store.principals.get(client_id).await.map_err(internal)?.ok_or_else(unknown)?;
        let now = self.now();
        let cred_id = match (&req.client_secret, &req.client_assertion, req.client_assertion_type.as_deref()) {
            (Some(_), Some(_), _) => {
                return Err(OAuthError::InvalidRequest(Aadsts::new(
                    50027,
                    "Give either client_secret or client_assertion, not both.",
                )));
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
                        return Err(OAuthError::BadClientCredential(Aadsts::new(
                            7000222,
                            "The provided client secret keys are expired. Create new keys for the app.",
                        )));
                    }
                    None => {
                        return Err(OAuthError::BadClientCredential(Aadsts::new(
                            7000215,
                            "Invalid client secret provided.",
                        )));
                    }
                }
            }
            (None, Some(assertion), Some(assertions::JWT_BEARER)) => {
                self.verify_client_assertion(&sp, assertion.expose()).await?
            }
            (None, Some(_), _) => {
                return Err(OAuthError::InvalidRequest(Aadsts::new(
                    700024,
                    format!("client_assertion_type must be '{}'.", assertions::JWT_BEARER),
                )));
            }
            (None, None, _) => {
                return Err(OAuthError::BadClientCredential(Aadsts::new(
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )));
            }
        };
        if !sp.enabled {
            return Err(OAuthError::UnauthorizedClient(Aadsts::new(7000112, "Application is disabled.")));
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
            tid: self.tenant_id.clone(),
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
        let keys = self.keyset().ok_or_else(|| internal(Error::internal("key set lock")))?;
        let token = keys.signer.sign(&claims).map_err(internal)?;
        Ok(TokenGrant {
            access_token: SecretString::new(token),
            expires_in: lifetime,
            refresh_token: None,
            id_token: None,
            client_info: None,
        })
    }
}
