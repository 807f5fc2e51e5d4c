//! Users: people who sign in with a password (Argon2id) and a TOTP code (RFC 6238; enrolled at
//! creation, the `otpauth://` URI is shown once), through the device code flow (RFC 8628) and
//! refresh tokens. The tenant policy "MFA required for users" (on by default) refuses a sign-in
//! without a second factor; tokens carry `amr` (`pwd`, plus `mfa` when a TOTP code was checked).
//!
//! Revocation: a user's tokens name the user's credential epoch (`sbx_cred = epoch:N`); a
//! password change, TOTP reset, disable or delete moves or removes it, so existing access tokens
//! fail the status check and refresh tokens are refused.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Stamp};
use strongbox_types::{Error, ErrorKind, Result, SecretString};

use super::{
    Claims, OAuthError, PrincipalStatus, SKEW, SP_PREFIX, ServicePrincipalRec, TokenGrant, TokenRequest,
    builtin_public_client, internal, limits, missing,
};
use crate::events::SecurityEvent;
use crate::{CAS_RETRIES, Core, decode, encode};

pub(crate) const USER_PREFIX: &str = "user/";
pub(super) const UPN_PREFIX: &str = "upn/";
const DEVICE_PREFIX: &str = "devicecode/";
const USER_CODE_PREFIX: &str = "usercode/";
const REFRESH_PREFIX: &str = "refresh/";
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 suggests 15 minutes; Entra uses 15 minutes too.
const DEVICE_CODE_TTL: i64 = 900;
const POLL_INTERVAL: i64 = 5;
/// Refresh tokens: single use (rotated on every use), valid 14 days.
const REFRESH_TTL: i64 = 14 * 86_400;
const TOTP_STEP: i64 = 30;
const MIN_PASSWORD: usize = 12;
/// Device codes one address may request within the limiter's window before back-off.
const DEVICE_CODES_PER_ADDRESS: u32 = 30;

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct UserRec {
    pub object_id: String,
    pub upn: String,
    pub display_name: String,
    pub enabled: bool,
    pub password_hash: String,
    /// TOTP secret, hex (inside the barrier like every record).
    pub totp_secret: Option<SecretString>,
    #[serde(default)]
    pub last_totp_step: i64,
    /// Bumped by a password change or TOTP reset (revokes tokens).
    #[serde(default)]
    pub epoch: u64,
    #[serde(default)]
    pub created: i64,
}

/// Without the password hash and TOTP secret.
impl std::fmt::Debug for UserRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRec")
            .field("object_id", &self.object_id)
            .field("upn", &self.upn)
            .field("enabled", &self.enabled)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl UserRec {
    fn cred(&self) -> String {
        format!("epoch:{}", self.epoch)
    }
}

/// A user as the management API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub object_id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub account_enabled: bool,
    pub mfa_enrolled: bool,
    pub created: i64,
}

/// A created or updated user; `otpauth_uri` only when a TOTP secret was just enrolled (shown once).
pub struct UserChange {
    pub user: UserView,
    pub otpauth_uri: Option<SecretString>,
}

impl std::fmt::Debug for UserChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange").field("user", &self.user).finish_non_exhaustive()
    }
}

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

fn view(u: &UserRec) -> UserView {
    UserView {
        object_id: u.object_id.clone(),
        user_principal_name: u.upn.clone(),
        display_name: u.display_name.clone(),
        account_enabled: u.enabled,
        mfa_enrolled: u.totp_secret.is_some(),
        created: u.created,
    }
}

fn digest_key(prefix: &str, secret: &str) -> String {
    format!("{prefix}{}", strongbox_crypto::hex(&strongbox_crypto::sha256(secret.as_bytes())))
}

fn check_password(p: &str) -> Result<()> {
    if p.chars().count() < MIN_PASSWORD || p.len() > 256 {
        return Err(Error::bad(format!("The password must be {MIN_PASSWORD}-256 characters.")));
    }
    Ok(())
}

fn new_totp() -> Result<Vec<u8>> {
    Ok(strongbox_crypto::random_array::<20>()?.to_vec())
}

fn otpauth(upn: &str, secret: &[u8]) -> SecretString {
    let label: String =
        upn.chars().map(|c| if c.is_ascii_alphanumeric() || "@.-_".contains(c) { c } else { '-' }).collect();
    SecretString::new(format!(
        "otpauth://totp/Strongbox:{label}?secret={}&issuer=Strongbox&algorithm=SHA1&digits=6&period=30",
        strongbox_crypto::jwt::base32(secret)
    ))
}

fn user_code() -> Result<String> {
    // 8 characters from an alphabet without look-alikes, shown as XXXX-XXXX.
    const A: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let r = strongbox_crypto::random_array::<8>()?;
    let s: String = r.iter().map(|b| char::from(A[usize::from(*b) % A.len()])).collect();
    Ok(format!("{}-{}", &s[..4], &s[4..]))
}

fn grant_error(status: u16, error: &'static str, d: &str) -> OAuthError {
    OAuthError::new(status, error, d.to_owned())
}

pub(super) fn user_status(u: Option<&UserRec>, now: i64) -> PrincipalStatus {
    match u {
        Some(u) => PrincipalStatus { exists: true, enabled: u.enabled, credentials: vec![u.cred()], loaded: now },
        None => PrincipalStatus { exists: false, enabled: false, credentials: Vec::new(), loaded: now },
    }
}

impl Core {
    async fn find_user(&self, id: &str) -> Result<(String, UserRec, Stamp)> {
        let nf = || Error::new(ErrorKind::RouteNotFound, "The user was not found.");
        let oid = if uuid::Uuid::parse_str(id).is_ok() {
            id.to_ascii_lowercase()
        } else {
            let k = format!("{UPN_PREFIX}{}", id.to_ascii_lowercase());
            match self.barrier.get(&k).await? {
                Some(b) => String::from_utf8(b.expose().to_vec()).map_err(|_| Error::internal("upn index"))?,
                None => return Err(nf()),
            }
        };
        let key = format!("{USER_PREFIX}{oid}");
        let (u, stamp) = self.read_json_versioned::<UserRec>(&key).await?.ok_or_else(nf)?;
        Ok((key, u, stamp))
    }

    async fn update_user_rec<T>(
        &self,
        id: &str,
        mut f: impl FnMut(&mut UserRec, i64) -> Result<T>,
    ) -> Result<(UserRec, T)> {
        for _ in 0..CAS_RETRIES {
            let (key, mut u, stamp) = self.find_user(id).await?;
            let now = self.now();
            let out = f(&mut u, now)?;
            match self.barrier.commit(BTxn::new().unchanged(&key, &stamp).put(&key, encode(&u)?)).await {
                Ok(()) => {
                    self.put_status(&key, user_status(Some(&u), now));
                    return Ok((u, out));
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The user was changed concurrently; retry."))
    }

    /// A new user with a password and (always, so MFA can be required) a TOTP secret.
    pub async fn create_user(&self, upn: &str, display_name: &str, password: &SecretString) -> Result<UserChange> {
        if upn.is_empty()
            || upn.len() > 113
            || !upn.bytes().all(|b| b.is_ascii_alphanumeric() || b"@.-_".contains(&b))
            || uuid::Uuid::parse_str(upn).is_ok()
        {
            return Err(Error::bad("The user principal name must be 1-113 characters of [0-9a-zA-Z@._-]."));
        }
        if display_name.is_empty() || display_name.len() > 120 || display_name.chars().any(char::is_control) {
            return Err(Error::bad("The display name must be 1-120 printable characters."));
        }
        check_password(password.expose())?;
        let secret = new_totp()?;
        let now = self.now();
        let u = UserRec {
            object_id: uuid::Uuid::new_v4().to_string(),
            upn: upn.to_owned(),
            display_name: display_name.to_owned(),
            enabled: true,
            password_hash: strongbox_crypto::password::hash(password.expose())?,
            totp_secret: Some(SecretString::new(strongbox_crypto::hex(&secret))),
            last_totp_step: 0,
            epoch: 0,
            created: now,
        };
        let key = format!("{USER_PREFIX}{}", u.object_id);
        let idx = format!("{UPN_PREFIX}{}", upn.to_ascii_lowercase());
        match self
            .barrier
            .commit(
                BTxn::new()
                    .absent(&idx)
                    .absent(&key)
                    .put(&key, encode(&u)?)
                    .put(&idx, u.object_id.clone().into_bytes()),
            )
            .await
        {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {
                return Err(Error::new(ErrorKind::Conflict, "A user with this principal name exists."));
            }
            Err(e) => return Err(e),
        }
        self.security_event(SecurityEvent::new("user.create", "success", "", &u.object_id, "")).await;
        Ok(UserChange { user: view(&u), otpauth_uri: Some(otpauth(&u.upn, &secret)) })
    }

    pub async fn list_users(&self) -> Result<Vec<UserView>> {
        let rows = self.barrier.scan_prefix(USER_PREFIX, USER_PREFIX, 10_000).await?;
        rows.iter().map(|(k, v)| decode::<UserRec>(k, v).map(|u| view(&u))).collect()
    }

    pub async fn get_user(&self, id: &str) -> Result<UserView> {
        Ok(view(&self.find_user(id).await?.1))
    }

    /// Changes the display name, password, enabled flag, or re-enrols TOTP (new URI returned).
    /// A password change or TOTP reset revokes the user's tokens.
    pub async fn update_user(
        &self,
        id: &str,
        display_name: Option<&str>,
        password: Option<&SecretString>,
        enabled: Option<bool>,
        reset_totp: bool,
    ) -> Result<UserChange> {
        if let Some(p) = password {
            check_password(p.expose())?;
        }
        let hash = password.map(|p| strongbox_crypto::password::hash(p.expose())).transpose()?;
        let secret = if reset_totp { Some(new_totp()?) } else { None };
        let (u, ()) = self
            .update_user_rec(id, |u, _| {
                if let Some(d) = display_name {
                    u.display_name = d.to_owned();
                }
                if let Some(e) = enabled {
                    u.enabled = e;
                }
                if let Some(h) = &hash {
                    u.password_hash = h.clone();
                    u.epoch += 1;
                }
                if let Some(s) = &secret {
                    u.totp_secret = Some(SecretString::new(strongbox_crypto::hex(s)));
                    u.last_totp_step = 0;
                    u.epoch += 1;
                }
                Ok(())
            })
            .await?;
        self.security_event(SecurityEvent::new("user.update", "success", "", &u.object_id, "")).await;
        Ok(UserChange { user: view(&u), otpauth_uri: secret.map(|s| otpauth(&u.upn, &s)) })
    }

    pub async fn delete_user(&self, id: &str) -> Result<()> {
        let (key, u, stamp) = self.find_user(id).await?;
        let idx = format!("{UPN_PREFIX}{}", u.upn.to_ascii_lowercase());
        self.barrier.commit(BTxn::new().unchanged(&key, &stamp).delete(&key).delete(&idx)).await?;
        self.put_status(&key, user_status(None, self.now()));
        self.security_event(SecurityEvent::new("user.delete", "success", "", &u.object_id, "")).await;
        Ok(())
    }

    /// RFC 8628 §3.1: a device code for a public client and the resource's `.default` scope.
    pub async fn device_authorization(
        &self,
        tenant: &str,
        client_id: Option<&str>,
        scope: Option<&str>,
        peer: Option<std::net::IpAddr>,
    ) -> Result<DeviceAuthorization, OAuthError> {
        if !self.is_our_tenant(tenant) {
            return Err(OAuthError::new(400, "invalid_request", "AADSTS90002: Tenant not found."));
        }
        // Device codes are created unauthenticated: a budget per address (the limiter's window),
        // then back-off.
        let key = format!("d:{}", limits::addr(peer));
        if let Some(wait) = self.rate_event(&key, DEVICE_CODES_PER_ADDRESS) {
            let mut e = OAuthError::new(
                429,
                "temporarily_unavailable",
                format!("AADSTS50196: Too many sign-in requests from this address. Retry after {wait} seconds."),
            );
            e.retry_after = Some(wait);
            return Err(e);
        }
        let client_id = client_id.ok_or_else(|| missing("client_id"))?;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(OAuthError::new(400, "unauthorized_client", "AADSTS700016: The client_id must be a GUID."));
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
        let dk = digest_key(DEVICE_PREFIX, device_code.expose());
        let uk = format!("{USER_CODE_PREFIX}{code}");
        self.barrier
            .commit(BTxn::new().absent(&uk).put(&dk, encode(&rec).map_err(internal)?).put(&uk, dk.clone().into_bytes()))
            .await
            .map_err(internal)?;
        Ok(DeviceAuthorization {
            device_code,
            user_code: code,
            verification_uri: format!("{}/{}/oauth2/v2.0/deviceauth", self.cfg.authority(), self.ident.tenant_id),
            expires_in: DEVICE_CODE_TTL,
            interval: POLL_INTERVAL,
        })
    }

    /// The registered public client `client_id` names: its id as registered and its display
    /// name. Unknown, disabled and confidential applications (no `isFallbackPublicClient`) are
    /// refused as Entra refuses them.
    pub(super) async fn public_client(&self, client_id: &str) -> Result<(String, String), OAuthError> {
        if let Some(name) = builtin_public_client(client_id) {
            return Ok((client_id.to_ascii_lowercase(), name.to_owned()));
        }
        let unknown = super::unknown_application;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(unknown());
        }
        let key = format!("{SP_PREFIX}{}", client_id.to_ascii_lowercase());
        let sp: ServicePrincipalRec = self.read_json(&key).await.map_err(internal)?.ok_or_else(unknown)?;
        if !sp.enabled {
            return Err(OAuthError::new(400, "unauthorized_client", "AADSTS7000112: Application is disabled."));
        }
        if !sp.public_client || !sp.kind.is_empty() {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'. The application is not registered as a public client (isFallbackPublicClient).",
            ));
        }
        Ok((sp.client_id, sp.display_name))
    }

    pub(super) fn resource_from_scope(&self, scope: &str) -> Result<String, OAuthError> {
        let resource = self.cfg.resource();
        if scope.split_whitespace().any(|s| {
            s.strip_suffix("/.default").is_some_and(|r| r.trim_end_matches('/').eq_ignore_ascii_case(&resource))
        }) {
            Ok(resource)
        } else {
            Err(OAuthError::new(
                400,
                "invalid_scope",
                format!(
                    "AADSTS70011: The provided value for the input parameter 'scope' is not valid. Use '{resource}/.default'."
                ),
            ))
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
        let uk = format!("{USER_CODE_PREFIX}{code}");
        let dk = self.barrier.get(&uk).await.ok()??;
        let dk = String::from_utf8_lossy(dk.expose()).into_owned();
        let (rec, stamp) = self.read_json_versioned::<DeviceRec>(&dk).await.ok()??;
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
        let uk = format!("{USER_CODE_PREFIX}{code}");
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
        let Ok(bytes) = encode(&rec) else { return Err(internal_err) };
        if self.barrier.commit(BTxn::new().unchanged(&dk, &stamp).put(&dk, bytes).delete(&uk)).await.is_err() {
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

    /// Password (Argon2id) and TOTP (±1 step, no reuse). Returns the user and `amr`, or a
    /// stable reason code for the security event.
    async fn check_user_credentials(
        &self,
        upn: &str,
        password: &SecretString,
        totp: &str,
    ) -> Result<(UserRec, Vec<String>), &'static str> {
        let found = self.find_user(upn).await.ok();
        // Verify against a dummy hash for unknown users so timing does not reveal them.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = match &found {
            Some((_, u, _)) => u.password_hash.clone(),
            None => DUMMY
                .get_or_init(|| strongbox_crypto::password::hash("not a password of anyone").unwrap_or_default())
                .clone(),
        };
        let pw_ok = strongbox_crypto::password::verify(password.expose(), &hash);
        let Some((_, user, _)) = found else { return Err("AADSTS50034") };
        if !pw_ok {
            return Err("AADSTS50126");
        }
        if !user.enabled {
            return Err("AADSTS50057");
        }
        let policy = self.identity_policy().await.map_err(|_| "AADSTS90033")?;
        let mut amr = vec!["pwd".to_owned()];
        match &user.totp_secret {
            Some(secret) => {
                let key = strongbox_crypto::unhex(secret.expose()).ok_or("AADSTS90033")?;
                let now = self.now();
                let mut matched = None;
                for d in [-1i64, 0, 1] {
                    let t = now + d * TOTP_STEP;
                    let expect = format!("{:06}", strongbox_crypto::jwt::totp(&key, t, TOTP_STEP, 6));
                    if strongbox_crypto::jwt::ct_eq(expect.as_bytes(), totp.trim().as_bytes()) {
                        matched = Some(t / TOTP_STEP);
                    }
                }
                let step = matched.ok_or("AADSTS50076")?;
                if step <= user.last_totp_step {
                    return Err("AADSTS50076"); // a code is good for one sign-in only
                }
                self.update_user_rec(&user.object_id, |u, _| {
                    if step <= u.last_totp_step {
                        return Err(Error::bad("reused"));
                    }
                    u.last_totp_step = step;
                    Ok(())
                })
                .await
                .map_err(|_| "AADSTS50076")?;
                amr.push("mfa".into());
            }
            None if policy.mfa_required_for_users => return Err("AADSTS50079"),
            None => {}
        }
        Ok((user, amr))
    }

    /// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4/3.5).
    pub(super) async fn device_code_grant(&self, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        let code = req.device_code.as_ref().ok_or_else(|| missing("device_code"))?;
        let dk = digest_key(DEVICE_PREFIX, code.expose());
        let expired = || {
            grant_error(
                400,
                "expired_token",
                "AADSTS70020: The provided value for the input parameter 'device_code' is expired or not valid.",
            )
        };
        let (rec, stamp) = self.read_json_versioned::<DeviceRec>(&dk).await.map_err(internal)?.ok_or_else(expired)?;
        if req.client_id.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(&rec.client_id)) {
            return Err(grant_error(
                400,
                "invalid_grant",
                "AADSTS70000: The device code was issued to another client.",
            ));
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
                if let Ok(b) = encode(&polled) {
                    let _ = self.barrier.commit(BTxn::new().unchanged(&dk, &stamp).put(&dk, b)).await;
                }
                if too_fast {
                    Err(grant_error(
                        400,
                        "slow_down",
                        "AADSTS70016: Polling too fast; wait the interval between polls.",
                    ))
                } else {
                    Err(grant_error(
                        400,
                        "authorization_pending",
                        "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                    ))
                }
            }
            "denied" => {
                let _ = self.barrier.commit(BTxn::new().unchanged(&dk, &stamp).delete(&dk)).await;
                Err(grant_error(
                    400,
                    "authorization_declined",
                    "AADSTS70000: The user denied the authorization request.",
                ))
            }
            _ => {
                // One use: delete before minting, so a second poll cannot mint again.
                self.barrier.commit(BTxn::new().unchanged(&dk, &stamp).delete(&dk)).await.map_err(|_| expired())?;
                let uid = rec.user.clone().unwrap_or_default();
                let (_, user, _) = self.find_user(&uid).await.map_err(|_| expired())?;
                if !user.enabled {
                    return Err(grant_error(400, "invalid_grant", "AADSTS50057: The user account is disabled."));
                }
                self.mint_user(&user, &rec.client_id, &rec.resource, rec.amr.clone()).await
            }
        }
    }

    /// `grant_type=refresh_token`: single use; a new refresh token replaces it.
    pub(super) async fn refresh_token_grant(&self, req: &TokenRequest) -> Result<TokenGrant, OAuthError> {
        let rt = req.refresh_token.as_ref().ok_or_else(|| missing("refresh_token"))?;
        let key = digest_key(REFRESH_PREFIX, rt.expose());
        let bad = || {
            grant_error(
                400,
                "invalid_grant",
                "AADSTS70008: The refresh token has expired, was revoked or was already used.",
            )
        };
        let (rec, stamp) = self.read_json_versioned::<RefreshRec>(&key).await.map_err(internal)?.ok_or_else(bad)?;
        if req.client_id.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(&rec.client_id)) {
            return Err(bad());
        }
        self.barrier.commit(BTxn::new().unchanged(&key, &stamp).delete(&key)).await.map_err(|_| bad())?;
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
            tid: self.ident.tenant_id.clone(),
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
        let keys = self.ident.keyset().ok_or_else(|| internal(Error::internal("key set lock")))?;
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
        let key = digest_key(REFRESH_PREFIX, refresh.expose());
        self.barrier.commit(BTxn::new().put(&key, encode(&rec).map_err(internal)?)).await.map_err(internal)?;
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
            "tid": self.ident.tenant_id,
            "preferred_username": user.upn,
            "name": user.display_name,
            "ver": "2.0",
        });
        let id_token = keys.signer.sign(&id_claims).map_err(internal)?;
        let client_info = strongbox_crypto::b64url(
            serde_json::json!({"uid": user.object_id, "utid": self.ident.tenant_id}).to_string().as_bytes(),
        );
        Ok(TokenGrant {
            access_token: SecretString::new(token),
            expires_in: lifetime,
            refresh_token: Some(refresh),
            id_token: Some(id_token),
            client_info: Some(client_info),
        })
    }

    /// Drops expired device codes and refresh tokens.
    pub(super) async fn purge_expired_user_grants(&self) -> Result<()> {
        let now = self.now();
        for prefix in [DEVICE_PREFIX, REFRESH_PREFIX] {
            let rows = self.barrier.scan_prefix(prefix, prefix, 5000).await?;
            let mut txn = BTxn::new();
            let mut n = 0;
            for (k, v) in &rows {
                let exp = if prefix == DEVICE_PREFIX {
                    decode::<DeviceRec>(k, v).map(|r| r.expires).unwrap_or(0)
                } else {
                    decode::<RefreshRec>(k, v).map(|r| r.expires).unwrap_or(0)
                };
                if exp + SKEW < now {
                    txn = txn.delete(k.clone());
                    n += 1;
                }
            }
            if n > 0 {
                self.barrier.commit(txn).await?;
            }
        }
        Ok(())
    }
}
