//! Users: people who sign in with a password (Argon2id) and a TOTP code (RFC 6238; enrolled at
//! creation, the `otpauth://` URI is shown once), through the device code flow (RFC 8628) and
//! refresh tokens. The tenant policy "MFA required for users" (on by default) refuses a sign-in
//! without a second factor; tokens carry `amr` (`pwd`, plus `mfa` when a TOTP code was checked).
//!
//! Revocation: a user's tokens name the user's credential epoch (`sbx_cred = epoch:N`); a
//! password change, TOTP reset, disable or delete moves or removes it, so existing access tokens
//! fail the status check and refresh tokens are refused.

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Stamp};
use strongbox_types::{Error, ErrorKind, Result, SecretString};

use crate::status::PrincipalStatus;
use crate::{Identity, SecurityEvent};

const TOTP_STEP: i64 = 30;
const MIN_PASSWORD: usize = 12;

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
    pub(crate) fn cred(&self) -> String {
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

pub(crate) fn user_status(u: Option<&UserRec>, now: i64) -> PrincipalStatus {
    match u {
        Some(u) => PrincipalStatus { exists: true, enabled: u.enabled, credentials: vec![u.cred()], loaded: now },
        None => PrincipalStatus { exists: false, enabled: false, credentials: Vec::new(), loaded: now },
    }
}

impl Identity {
    /// The user named by object id or user principal name, with its relative key and stamp.
    pub(crate) async fn find_user(&self, id: &str) -> Result<(String, UserRec, Stamp)> {
        let nf = || Error::new(ErrorKind::RouteNotFound, "The user was not found.");
        let oid = if uuid::Uuid::parse_str(id).is_ok() {
            id.to_ascii_lowercase()
        } else {
            match self.store.user_names.get_bytes(&id.to_ascii_lowercase()).await? {
                Some(b) => String::from_utf8(b.expose().to_vec()).map_err(|_| Error::internal("upn index"))?,
                None => return Err(nf()),
            }
        };
        let (u, stamp) = self.store.users.get_versioned::<UserRec>(&oid).await?.ok_or_else(nf)?;
        Ok((oid, u, stamp))
    }

    pub(crate) async fn update_user_rec<T>(
        &self,
        id: &str,
        f: impl Fn(&mut UserRec, i64) -> Result<T>,
    ) -> Result<(UserRec, T)> {
        let users = &self.store.users;
        let f = &f;
        let busy = || Error::new(ErrorKind::Conflict, "The user was changed concurrently; retry.");
        let (rel, u, out, now) = self
            .barrier
            .transact(busy, || async move {
                let (rel, mut u, stamp) = self.find_user(id).await?;
                let now = self.now();
                let out = f(&mut u, now)?;
                let txn = users.put(users.unchanged(BTxn::new(), &rel, &stamp), &rel, &u)?;
                Ok((txn, (rel, u, out, now)))
            })
            .await?;
        self.put_status(&users.key(&rel), user_status(Some(&u), now));
        Ok((u, out))
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
        let (users, names) = (&self.store.users, &self.store.user_names);
        let idx = upn.to_ascii_lowercase();
        let txn = names.absent(BTxn::new(), &idx);
        let txn = users.put(users.absent(txn, &u.object_id), &u.object_id, &u)?;
        let txn = names.put_bytes(txn, &idx, u.object_id.clone().into_bytes());
        match users.commit(txn).await {
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
        let rows: Vec<(String, UserRec)> = self.store.users.scan("", "", 10_000).await?;
        Ok(rows.iter().map(|(_, u)| view(u)).collect())
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
        let (users, names) = (&self.store.users, &self.store.user_names);
        let (rel, u, stamp) = self.find_user(id).await?;
        let txn = users.delete(users.unchanged(BTxn::new(), &rel, &stamp), &rel);
        users.commit(names.delete(txn, &u.upn.to_ascii_lowercase())).await?;
        self.put_status(&users.key(&rel), user_status(None, self.now()));
        self.security_event(SecurityEvent::new("user.delete", "success", "", &u.object_id, "")).await;
        Ok(())
    }

    /// Password (Argon2id) and TOTP (±1 step, no reuse). Returns the user and `amr`, or a
    /// stable reason code for the security event.
    pub(crate) async fn check_user_credentials(
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
}
