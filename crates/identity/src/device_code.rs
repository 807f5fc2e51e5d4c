//! Users' sign-in through the device code flow (RFC 8628): the device authorization endpoint,
//! the verification page's lookup and decision, the device-code grant, refresh tokens, and the
//! user tokens they mint. A sign-in needs a registered public client (see `BUILTIN_PUBLIC_CLIENTS`
//! and `isFallbackPublicClient`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strongbox_barrier::{BTxn, Stamp};
use strongbox_types::{Error, Result, SecretString};

use crate::authentication::builtin_public_client;
use crate::error::{Aadsts, OAuthError, internal, missing, unknown_application};
use crate::records::ServicePrincipalRec;
use crate::token::{Claims, TokenGrant, TokenRequest};
use crate::users::UserRec;
use crate::{Identity, SKEW, SecurityEvent, limits};

pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 suggests 15 minutes; Entra uses 15 minutes too.
const DEVICE_CODE_TTL: i64 = 900;
const POLL_INTERVAL: i64 = 5;
/// Refresh tokens: single use (rotated on every use), valid 14 days.
const REFRESH_TTL: i64 = 14 * 86_400;
/// Device codes one address may request within the limiter's window before back-off.
const DEVICE_CODES_PER_ADDRESS: u32 = 30;

/// What the verification page shows about a pending device request before sign-in.
#[derive(Debug, Clone)]
pub struct DeviceRequest {
    pub user_code: String,
    pub client_id: String,
    /// The registered application's display name.
    pub app_name: String,
    /// The address that asked for the device code.
    pub requester: String,
    pub requested_at: i64,
    pub expires: i64,
}

/// A refusal on the verification page: the HTTP status and a message safe to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRefusal {
    pub status: u16,
    pub message: &'static str,
    wrong_credentials: bool,
}

impl PageRefusal {
    pub const TOO_MANY: Self = Self::new(429, "Too many failed attempts. Wait a few minutes and try again.");
    pub const BAD_CODE: Self = Self::new(200, "The code is not valid or has expired.");
    const WRONG_CREDENTIALS: Self = Self {
        wrong_credentials: true,
        ..Self::new(200, "The user name, password or verification code is wrong, or the account is disabled.")
    };

    const fn new(status: u16, message: &'static str) -> Self {
        Self { status, message, wrong_credentials: false }
    }

    /// The code was valid but the credentials were not: the page shows the same request again.
    pub fn wrong_credentials(&self) -> bool {
        self.wrong_credentials
    }
}

fn normalize_code(c: &str) -> String {
    c.trim().chars().filter(|c| !c.is_whitespace()).take(16).collect::<String>().to_ascii_uppercase()
}

/// What the device authorization endpoint returns.
pub struct DeviceAuthorization {
    pub device_code: SecretString,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: i64,
    pub interval: i64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization").field("user_code", &self.user_code).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeviceRec {
    user_code: String,
    client_id: String,
    resource: String,
    expires: i64,
    /// `pending`, `approved`, `denied`.
    state: String,
    user: Option<String>,
    amr: Vec<String>,
    /// Time of the last poll while pending (RFC 8628 §3.5 `slow_down`).
    #[serde(default)]
    last_poll: i64,
    /// The client application's display name when the code was issued (shown on the page).
    #[serde(default)]
    app_name: String,
    /// The address that asked for the code (shown on the page).
    #[serde(default)]
    requester: String,
    #[serde(default)]
    created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshRec {
    user: String,
    client_id: String,
    resource: String,
    amr: Vec<String>,
    epoch: u64,
    expires: i64,
}

/// The relative key of a device code or refresh token record: SHA-256 of the secret, hex.
fn digest(secret: &str) -> String {
    strongbox_crypto::hex(&strongbox_crypto::sha256(secret.as_bytes()))
}

fn user_code() -> Result<String> {
    // 8 characters from an alphabet without look-alikes, shown as XXXX-XXXX.
    const A: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let r = strongbox_crypto::random_array::<8>()?;
    let mut s = String::with_capacity(9);
    for (i, b) in r.iter().enumerate() {
        if i == 4 {
            s.push('-');
        }
        s.extend(A.get(usize::from(*b) % A.len()).map(|&c| char::from(c)));
    }
    Ok(s)
}

impl Identity {
    /// RFC 8628 §3.1: a device code for a public client and the resource's `.default` scope.
    pub async fn device_authorization(
        &self,
        tenant: &str,
        client_id: Option<&str>,
        scope: Option<&str>,
        peer: Option<std::net::IpAddr>,
    ) -> Result<DeviceAuthorization, OAuthError> {
        if !self.is_our_tenant(tenant) {
            return Err(OAuthError::InvalidRequest(Aadsts::new(90002, "Tenant not found.")));
        }
        // Device codes are created unauthenticated: a budget per address (the limiter's window),
        // then back-off.
        let key = format!("d:{}", limits::addr(peer));
        if let Some(wait) = self.rate_event(&key, DEVICE_CODES_PER_ADDRESS) {
            return Err(OAuthError::Throttled {
                reason: Aadsts::new(
                    50196,
                    format!("Too many sign-in requests from this address. Retry after {wait} seconds."),
                ),
                retry_after: wait,
            });
        }
        let client_id = client_id.ok_or_else(|| missing("client_id"))?;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(OAuthError::UnauthorizedClient(Aadsts::new(700016, "The client_id must be a GUID.")));
        }
        let resource = self.resource_from_scope(scope.ok_or_else(|| missing("scope"))?)?;
        // Only a registered public client may start a sign-in without a credential of its own:
        // the token's `appid` will name it, and access policies trust `appid`.
        let (client_id, app_name) = self.public_client(client_id).await?;
        let device_code = SecretString::new(format!(
            "sbxd~{}",
            strongbox_crypto::b64url(&strongbox_crypto::random_array::<32>().map_err(internal)?)
        ));
        let code = user_code().map_err(internal)?;
        let now = self.now();
        let rec = DeviceRec {
            user_code: code.clone(),
            client_id,
            resource,
            expires: now + DEVICE_CODE_TTL,
            state: "pending".into(),
            user: None,
            amr: Vec::new(),
            last_poll: 0,
            app_name,
            requester: peer.map(|p| p.to_string()).unwrap_or_default(),
            created: now,
        };
        let (devices, user_codes) = (&self.store.device_codes, &self.store.user_codes);
        let dk = digest(device_code.expose());
        let txn = devices.put(user_codes.absent(BTxn::new(), &code), &dk, &rec).map_err(internal)?;
        // the user code names the device record by its full storage key
        let txn = user_codes.put_bytes(txn, &code, devices.key(&dk).into_bytes());
        devices.commit(txn).await.map_err(internal)?;
        Ok(DeviceAuthorization {
            device_code,
            user_code: code,
            verification_uri: format!("{}/{}/oauth2/v2.0/deviceauth", self.cfg.authority, self.tenant_id),
            expires_in: DEVICE_CODE_TTL,
            interval: POLL_INTERVAL,
        })
    }

    /// The registered public client `client_id` names: its id as registered and its display
    /// name. Unknown, disabled and confidential applications (no `isFallbackPublicClient`) are
    /// refused as Entra refuses them.
    pub(crate) async fn public_client(&self, client_id: &str) -> Result<(String, String), OAuthError> {
        if let Some(name) = builtin_public_client(client_id) {
            return Ok((client_id.to_ascii_lowercase(), name.to_owned()));
        }
        let unknown = unknown_application;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(unknown());
        }
        let sp: ServicePrincipalRec =
            self.store.principals.get(&client_id.to_ascii_lowercase()).await.map_err(internal)?.ok_or_else(unknown)?;
        if !sp.enabled {
            return Err(OAuthError::UnauthorizedClient(Aadsts::new(7000112, "Application is disabled.")));
        }
        if !sp.public_client || !sp.kind.is_empty() {
            return Err(OAuthError::BadClientCredential(Aadsts::new(
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. The application is not registered as a public client (isFallbackPublicClient).",
            )));
        }
        Ok((sp.client_id, sp.display_name))
    }

    pub(crate) fn resource_from_scope(&self, scope: &str) -> Result<String, OAuthError> {
        let resource = self.cfg.resource.clone();
        if scope.split_whitespace().any(|s| {
            s.strip_suffix("/.default").is_some_and(|r| r.trim_end_matches('/').eq_ignore_ascii_case(&resource))
        }) {
            Ok(resource)
        } else {
            Err(OAuthError::InvalidScope(Aadsts::new(
                70011,
                format!("The provided value for the input parameter 'scope' is not valid. Use '{resource}/.default'."),
            )))
        }
    }

    /// The device request a user code names, for the page to show before anyone signs in:
    /// which application asks and from which address. Unknown or expired codes are counted
    /// per address (then 429) and recorded as security events.
    pub async fn device_lookup(&self, user_code: &str, peer: Option<IpAddr>) -> Result<DeviceRequest, PageRefusal> {
        let guess_key = format!("g:{}", limits::addr(peer));
        let code = normalize_code(user_code);
        if self.blocked_any(&[&guess_key], None).is_some() {
            return Err(PageRefusal::TOO_MANY);
        }
        match self.pending_device(&code).await {
            Some((_, rec, _)) => Ok(DeviceRequest {
                user_code: code,
                client_id: rec.client_id,
                app_name: rec.app_name,
                requester: rec.requester,
                requested_at: rec.created,
                expires: rec.expires,
            }),
            None => {
                self.wrong_user_code(&guess_key, peer).await;
                Err(PageRefusal::BAD_CODE)
            }
        }
    }

    async fn wrong_user_code(&self, guess_key: &str, peer: Option<IpAddr>) {
        self.note_failures(&[(guess_key, limits::USER_CODE_GUESSES)], None);
        let peer_s = peer.map(|p| p.to_string()).unwrap_or_default();
        self.security_event(SecurityEvent::new("device.usercode", "failure", "", &peer_s, "unknown_or_expired")).await;
    }

    /// The pending device record of a (normalised) user code.
    async fn pending_device(&self, code: &str) -> Option<(String, DeviceRec, Stamp)> {
        let full = self.store.user_codes.get_bytes(code).await.ok()??;
        let full = String::from_utf8_lossy(full.expose()).into_owned();
        let dk = self.store.device_codes.relative(&full)?.to_owned();
        let (rec, stamp) = self.store.device_codes.get_versioned::<DeviceRec>(&dk).await.ok()??;
        (rec.expires > self.now() && rec.state == "pending").then_some((dk, rec, stamp))
    }

    /// The verification page's decision: the person enters the user code, user name, password
    /// and TOTP code, and approves or denies. Returns a message safe to show on the page.
    /// Limits: per (resolved user, address), however the name is typed, with a per-user ceiling;
    /// per device code; per address.
    pub async fn device_verify(
        &self,
        user_code: &str,
        upn: &str,
        password: &SecretString,
        totp: &str,
        approve: bool,
        peer: Option<IpAddr>,
    ) -> Result<&'static str, PageRefusal> {
        let code = normalize_code(user_code);
        let guess_key = format!("g:{}", limits::addr(peer));
        let code_key = format!("dc:{code}");
        let resolved = self.find_user(upn.trim()).await.ok().map(|(_, u, _)| u.object_id);
        let user_key = limits::user_key(resolved.as_deref(), upn);
        if self.blocked_any(&[&guess_key, &code_key], peer).or_else(|| self.user_throttled(&user_key, peer)).is_some() {
            return Err(PageRefusal::TOO_MANY);
        }
        let Some((dk, mut rec, stamp)) = self.pending_device(&code).await else {
            self.wrong_user_code(&guess_key, peer).await;
            return Err(PageRefusal::BAD_CODE);
        };
        let result = self.check_user_credentials(upn.trim(), password, totp).await;
        let peer_s = peer.map(|p| p.to_string()).unwrap_or_default();
        let (user, amr) = match result {
            Ok(v) => v,
            Err(reason) => {
                self.note_failures(&[(&code_key, limits::DEVICE_CODE_FAILURES)], peer);
                self.note_user_failure(&user_key, peer);
                self.security_event(SecurityEvent::new("signin.user", "failure", upn, &peer_s, reason)).await;
                return Err(PageRefusal::WRONG_CREDENTIALS);
            }
        };
        self.note_user_success(&user_key, peer);
        rec.state = if approve { "approved".into() } else { "denied".into() };
        rec.user = Some(user.object_id.clone());
        rec.amr = amr;
        let internal_err = PageRefusal::new(500, "Internal error.");
        let (devices, user_codes) = (&self.store.device_codes, &self.store.user_codes);
        let Ok(txn) = devices.put(devices.unchanged(BTxn::new(), &dk, &stamp), &dk, &rec) else {
            return Err(internal_err);
        };
        if devices.commit(user_codes.delete(txn, &code)).await.is_err() {
            return Err(PageRefusal::new(409, "The code was used concurrently; start again."));
        }
        let kind = if approve { "device.approve" } else { "device.deny" };
        self.security_event(SecurityEvent::new(kind, "success", &user.object_id, &peer_s, &rec.client_id)).await;
        Ok(if approve {
            "Signed in. You can close this page and return to the application."
        } else {
            "The sign-in was denied."
        })
    }

    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4/3.5).
    pub(crate) async fn device_code_grant(&self, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        let code = req.device_code.as_ref().ok_or_else(|| missing("device_code"))?;
        let devices = &self.store.device_codes;
        let dk = digest(code.expose());
        let expired = || {
            OAuthError::ExpiredToken(Aadsts::new(
                70020,
                "The provided value for the input parameter 'device_code' is expired or not valid.",
            ))
        };
        let (rec, stamp) = devices.get_versioned::<DeviceRec>(&dk).await.map_err(internal)?.ok_or_else(expired)?;
        if req.client_id.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(&rec.client_id)) {
            return Err(OAuthError::InvalidGrant(Aadsts::new(70000, "The device code was issued to another client.")));
        }
        let now = self.now();
        if rec.expires <= now {
            return Err(expired());
        }
        match rec.state.as_str() {
            "pending" => {
                let too_fast = now - rec.last_poll < POLL_INTERVAL;
                let mut polled = rec.clone();
                polled.last_poll = now;
                // Best effort: a lost race with the approval just means the next poll decides.
                if let Ok(txn) = devices.put(devices.unchanged(BTxn::new(), &dk, &stamp), &dk, &polled) {
                    let _ = devices.commit(txn).await;
                }
                if too_fast {
                    Err(OAuthError::SlowDown(Aadsts::new(70016, "Polling too fast; wait the interval between polls.")))
                } else {
                    Err(OAuthError::AuthorizationPending(Aadsts::new(
                        70016,
                        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                    )))
                }
            }
            "denied" => {
                let _ = devices.commit(devices.delete(devices.unchanged(BTxn::new(), &dk, &stamp), &dk)).await;
                Err(OAuthError::AuthorizationDeclined(Aadsts::new(70000, "The user denied the authorization request.")))
            }
            _ => {
                // One use: delete before minting, so a second poll cannot mint again.
                let txn = devices.delete(devices.unchanged(BTxn::new(), &dk, &stamp), &dk);
                devices.commit(txn).await.map_err(|_| expired())?;
                let uid = rec.user.clone().unwrap_or_default();
                let (_, user, _) = self.find_user(&uid).await.map_err(|_| expired())?;
                if !user.enabled {
                    return Err(OAuthError::InvalidGrant(Aadsts::new(50057, "The user account is disabled.")));
                }
                self.mint_user(&user, &rec.client_id, &rec.resource, rec.amr.clone()).await
            }
        }
    }

    /// `grant_type=refresh_token`: single use; a new refresh token replaces it.
    pub(crate) async fn refresh_token_grant(&self, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        let rt = req.refresh_token.as_ref().ok_or_else(|| missing("refresh_token"))?;
        let refresh = &self.store.refresh_tokens;
        let key = digest(rt.expose());
        let bad = || {
            OAuthError::InvalidGrant(Aadsts::new(
                70008,
                "The refresh token has expired, was revoked or was already used.",
            ))
        };
        let (rec, stamp) = refresh.get_versioned::<RefreshRec>(&key).await.map_err(internal)?.ok_or_else(bad)?;
        if req.client_id.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(&rec.client_id)) {
            return Err(bad());
        }
        refresh.commit(refresh.delete(refresh.unchanged(BTxn::new(), &key, &stamp), &key)).await.map_err(|_| bad())?;
        let now = self.now();
        if rec.expires <= now {
            return Err(bad());
        }
        let (_, user, _) = self.find_user(&rec.user).await.map_err(|_| bad())?;
        if !user.enabled || user.epoch != rec.epoch {
            return Err(bad());
        }
        if let Some(scope) = req.scope.as_deref() {
            self.resource_from_scope(scope)?;
        }
        self.mint_user(&user, &rec.client_id, &rec.resource, rec.amr).await
    }

    async fn mint_user(
        &self,
        user: &UserRec,
        client_id: &str,
        resource: &str,
        amr: Vec<String>,
    ) -> Result<TokenGrant, OAuthError> {
        // the same rule as for the device code: `appid` names a registered public client
        let (client_id, _) = self.public_client(client_id).await?;
        let client_id = client_id.as_str();
        let now = self.now();
        let lifetime = self.cfg.token_lifetime;
        let claims = Claims {
            aud: resource.to_owned(),
            iss: self.issuer(),
            iat: now,
            nbf: now,
            exp: now + lifetime,
            tid: self.tenant_id.clone(),
            oid: user.object_id.clone(),
            sub: user.object_id.clone(),
            appid: client_id.to_owned(),
            azp: client_id.to_owned(),
            ver: "2.0".into(),
            idtyp: "user".into(),
            uti: uuid::Uuid::new_v4().simple().to_string(),
            amr: amr.clone(),
            sbx_cred: Some(user.cred()),
        };
        let keys = self.keyset().ok_or_else(|| internal(Error::internal("key set lock")))?;
        let token = keys.signer.sign(&claims).map_err(internal)?;
        let refresh = SecretString::new(format!(
            "sbxr~{}",
            strongbox_crypto::b64url(&strongbox_crypto::random_array::<32>().map_err(internal)?)
        ));
        let rec = RefreshRec {
            user: user.object_id.clone(),
            client_id: client_id.to_owned(),
            resource: resource.to_owned(),
            amr,
            epoch: user.epoch,
            expires: now + REFRESH_TTL,
        };
        let tokens = &self.store.refresh_tokens;
        let txn = tokens.put(BTxn::new(), &digest(refresh.expose()), &rec).map_err(internal)?;
        tokens.commit(txn).await.map_err(internal)?;
        // OpenID Connect id_token for the client (MSAL and azure-identity build their account
        // record from it); signed like access tokens, audience = the client id.
        let id_claims = serde_json::json!({
            "aud": client_id,
            "iss": self.issuer(),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "sub": user.object_id,
            "oid": user.object_id,
            "tid": self.tenant_id,
            "preferred_username": user.upn,
            "name": user.display_name,
            "ver": "2.0",
        });
        let id_token = keys.signer.sign(&id_claims).map_err(internal)?;
        let client_info = strongbox_crypto::b64url(
            serde_json::json!({"uid": user.object_id, "utid": self.tenant_id}).to_string().as_bytes(),
        );
        Ok(TokenGrant {
            access_token: SecretString::new(token),
            expires_in: lifetime,
            refresh_token: Some(refresh),
            id_token: Some(id_token),
            client_info: Some(client_info),
        })
    }

    /// Drops expired device codes and refresh tokens (at most 5000 of each per call).
    pub(crate) async fn purge_expired_user_grants(&self) -> Result<()> {
        let now = self.now();
        // read as plain JSON: a record without a readable expiry counts as expired
        let devices: Vec<(String, Value)> = self.store.device_codes.scan("", "", 5000).await?;
        let tokens: Vec<(String, Value)> = self.store.refresh_tokens.scan("", "", 5000).await?;
        for (view, rows) in [(&self.store.device_codes, devices), (&self.store.refresh_tokens, tokens)] {
            let expires = |r: &Value| r.get("expires").and_then(Value::as_i64).unwrap_or(0);
            let expired: Vec<&String> = rows.iter().filter(|(_, r)| expires(r) + SKEW < now).map(|(k, _)| k).collect();
            if !expired.is_empty() {
                view.commit(expired.into_iter().fold(BTxn::new(), |txn, k| view.delete(txn, k))).await?;
            }
        }
        Ok(())
    }
}
