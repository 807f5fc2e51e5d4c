//! `strongbox login`: a person signs in with the device code flow (RFC 8628). The CLI shows a
//! URL and a code; the person opens the page, enters the code, user name, password and TOTP
//! code, and approves. The tokens (access + refresh) are saved to a 0600 file, which the other
//! commands use when no explicit credential (`--bootstrap`, `AZURE_CLIENT_*`) is given;
//! `strongbox logout` deletes it.
//!
//! The file is `--out` / `STRONGBOX_LOGIN_FILE`, else `$XDG_CONFIG_HOME/strongbox/login.json`,
//! else `~/.config/strongbox/login.json`. Nothing here prints a token.

use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strongbox_types::{Clock, SecretString, SystemClock};

/// The public client id `strongbox login` presents (any GUID works; this one is fixed so
/// sign-ins by the CLI are recognisable in the security events).
pub(crate) const CLI_CLIENT_ID: &str = "5b1d3a2e-7c41-4f0e-9d6a-3c8b2f1e0a77";

#[derive(clap::Args)]
pub(crate) struct LoginArgs {
    /// The Strongbox authority (https://host:port).
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    authority: String,
    #[arg(long, env = "AZURE_TENANT_ID")]
    tenant: String,
    /// The token audience (the vault resource, e.g. https://vault.localhost:8443); the same
    /// audience serves the vault data plane and the `/_strongbox` management API.
    #[arg(long, env = "STRONGBOX_RESOURCE")]
    resource: String,
    #[arg(long, env = "STRONGBOX_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Where to save the tokens (mode 0600); default $XDG_CONFIG_HOME/strongbox/login.json or
    /// ~/.config/strongbox/login.json.
    #[arg(long, env = "STRONGBOX_LOGIN_FILE")]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct LogoutArgs {
    /// The saved sign-in to delete (default: where `strongbox login` saves it).
    #[arg(long, env = "STRONGBOX_LOGIN_FILE")]
    file: Option<PathBuf>,
}

/// A saved sign-in. Tokens are [`SecretString`]s: zeroed on drop, redacted in `Debug`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedLogin {
    pub access_token: SecretString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<SecretString>,
    /// Unix seconds when the access token expires.
    pub expires_on: i64,
    pub authority: String,
    pub tenant: String,
    pub client_id: String,
    /// The audience the tokens were issued for.
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl SavedLogin {
    /// The access token is usable for at least another minute.
    pub(crate) fn access_is_fresh(&self, now: i64) -> bool {
        now + 60 < self.expires_on
    }

    /// Takes the tokens of a token endpoint reply (device code or refresh token grant).
    pub(crate) fn update_from_reply(&mut self, reply: &Value, now: i64) -> anyhow::Result<()> {
        let access =
            reply.get("access_token").and_then(Value::as_str).context("the token reply has no access_token")?;
        self.access_token = SecretString::new(access.to_owned());
        if let Some(r) = reply.get("refresh_token").and_then(Value::as_str) {
            self.refresh_token = Some(SecretString::new(r.to_owned()));
        }
        self.expires_on = now + reply.get("expires_in").and_then(Value::as_i64).unwrap_or(0);
        Ok(())
    }
}

/// Where the sign-in is kept: `explicit`, else `STRONGBOX_LOGIN_FILE`, else the per-user
/// config folder. `None` when there is no home folder to put it in.
pub(crate) fn login_file(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return Some(p.to_owned());
    }
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = var("STRONGBOX_LOGIN_FILE") {
        return Some(p);
    }
    let config = var("XDG_CONFIG_HOME").or_else(|| var("HOME").map(|h| h.join(".config")))?;
    Some(config.join("strongbox").join("login.json"))
}

/// Reads a saved sign-in; `Ok(None)` when there is none. A file others can read is refused:
/// it holds bearer tokens.
pub(crate) fn load(path: &Path) -> anyhow::Result<Option<SavedLogin>> {
    // The checks are made on the opened file (not the path, which could be swapped between a
    // check and the read), and it must be the user's own: a file someone else planted (for
    // root, which can read it anyway) would point the CLI at their server.
    // (not opened unless a regular file: opening a FIFO would block)
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => bail!("the saved sign-in {} is not a regular file", path.display()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read the saved sign-in {}", path.display())),
    }
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read the saved sign-in {}", path.display())),
    };
    let meta = file.metadata().with_context(|| format!("cannot read the saved sign-in {}", path.display()))?;
    if !meta.is_file() {
        bail!("the saved sign-in {} is not a regular file", path.display());
    }
    if let Some(me) = own_uid()
        && meta.uid() != me
    {
        bail!(
            "the saved sign-in {} belongs to another user (uid {}); run `strongbox login` again",
            path.display(),
            meta.uid()
        );
    }
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "the saved sign-in {} is readable by other users (mode {:o}); run `strongbox logout` and `strongbox login` again",
            path.display(),
            meta.permissions().mode() & 0o777
        );
    }
    let mut text = String::new();
    file.read_to_string(&mut text).with_context(|| format!("cannot read the saved sign-in {}", path.display()))?;
    let text = SecretString::new(text);
    // serde's message could quote a fragment of the file: keep only its position
    let saved: SavedLogin = serde_json::from_str(text.expose()).map_err(|e| {
        anyhow::anyhow!(
            "the saved sign-in {} is not valid (line {}, column {}); run `strongbox login` again",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok(Some(saved))
}

/// This process's effective uid: the owner of `/proc/self` (Linux; `None` elsewhere, where
/// only the mode is checked). Without `unsafe`, which the workspace forbids.
fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Writes the sign-in atomically: a new 0600 file beside it, renamed over the old one (so the
/// file is never briefly readable by others, nor half written). A missing folder is made 0700.
pub(crate) fn save(path: &Path, login: &SavedLogin) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let body = strongbox_types::SecretBytes::new(serde_json::to_vec(login)?);
    strongbox_server::write_private(path, body.expose())
}

pub(crate) async fn run(a: LoginArgs) -> anyhow::Result<()> {
    let out = login_file(a.out.as_deref())
        .context("no place for the sign-in: set HOME, XDG_CONFIG_HOME or STRONGBOX_LOGIN_FILE, or pass --out")?;
    let mut b = reqwest::Client::builder();
    let ca_file = match &a.ca_file {
        Some(ca) => {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            b = b.tls_certs_merge([reqwest::Certificate::from_pem(&pem).context("the CA file is not PEM")?]);
            // absolute, so later commands find it from any folder
            Some(std::fs::canonicalize(ca).unwrap_or_else(|_| ca.clone()))
        }
        None => None,
    };
    let http = b.build()?;
    let authority = a.authority.trim_end_matches('/').to_owned();
    let resource = a.resource.trim_end_matches('/').to_owned();
    let base = format!("{authority}/{}/oauth2/v2.0", a.tenant);
    let scope = format!("{resource}/.default offline_access");
    let r = http
        .post(format!("{base}/devicecode"))
        .form(&[("client_id", CLI_CLIENT_ID), ("scope", scope.as_str())])
        .send()
        .await
        .context("device code request failed")?;
    let status = r.status();
    let d: Value = r.json().await.context("device code reply is not JSON")?;
    if !status.is_success() {
        bail!("{}", d.get("error_description").and_then(Value::as_str).unwrap_or("device code refused"));
    }
    let device_code = d.get("device_code").and_then(Value::as_str).context("no device_code")?.to_owned();
    eprintln!("{}", d.get("message").and_then(Value::as_str).unwrap_or_default());
    let interval = d.get("interval").and_then(Value::as_u64).unwrap_or(5).max(1);
    let deadline = SystemClock.now() + d.get("expires_in").and_then(Value::as_i64).unwrap_or(900);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        let r = http
            .post(format!("{base}/token"))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", CLI_CLIENT_ID),
                ("device_code", device_code.as_str()),
            ])
            .send()
            .await?;
        let ok = r.status().is_success();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if ok {
            let mut saved = SavedLogin {
                access_token: SecretString::default(),
                refresh_token: None,
                expires_on: 0,
                authority,
                tenant: a.tenant,
                client_id: CLI_CLIENT_ID.to_owned(),
                resource,
                ca_file,
            };
            saved.update_from_reply(&v, SystemClock.now())?;
            save(&out, &saved)?;
            println!("strongbox: signed in; tokens saved to {} (mode 0600)", out.display());
            return Ok(());
        }
        match v.get("error").and_then(Value::as_str) {
            Some("authorization_pending") if SystemClock.now() < deadline => continue,
            Some("slow_down") => tokio::time::sleep(std::time::Duration::from_secs(5)).await,
            _ => bail!(
                "sign-in failed: {}",
                v.get("error_description").and_then(Value::as_str).unwrap_or("unknown error")
            ),
        }
    }
}

/// `strongbox logout`: deletes the saved sign-in (the refresh token then simply expires).
pub(crate) fn logout(a: LogoutArgs) -> anyhow::Result<()> {
    let Some(path) = login_file(a.file.as_deref()) else {
        println!("strongbox: not signed in");
        return Ok(());
    };
    match std::fs::remove_file(&path) {
        Ok(()) => println!("strongbox: signed out; deleted {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("strongbox: not signed in (no {})", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot delete {}", path.display())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(expires_on: i64) -> SavedLogin {
        SavedLogin {
            access_token: SecretString::new("access-token-value".into()),
            refresh_token: Some(SecretString::new("refresh-token-value".into())),
            expires_on,
            authority: "https://localhost:8443".into(),
            tenant: "t".into(),
            client_id: CLI_CLIENT_ID.into(),
            resource: "https://vault.localhost:8443".into(),
            ca_file: None,
        }
    }

    #[test]
    fn saved_file_is_0600_round_trips_and_debug_hides_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/login.json");
        save(&path, &sample(100)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        // overwriting keeps 0600 even if the old file had been widened
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("readable by other users"));
        save(&path, &sample(200)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.expires_on, 200);
        assert_eq!(back.refresh_token.as_ref().map(SecretString::expose), Some("refresh-token-value"));
        let dbg = format!("{back:?}");
        assert!(!dbg.contains("access-token-value") && !dbg.contains("refresh-token-value"));
        // no leftover temporary files
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        assert!(load(&dir.path().join("none.json")).unwrap().is_none());
        std::fs::write(&path, "{\"access_token\": \"secret-fragment\"").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("not valid") && !err.contains("secret-fragment"), "{err}");
    }

    #[test]
    fn foreign_files_and_symlinks_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs.json");
        save(&theirs, &sample(100)).unwrap();
        let link = dir.path().join("login.json");
        std::os::unix::fs::symlink(&theirs, &link).unwrap();
        // a link to the user's own 0600 file is read (dotfile managers use links) ...
        assert_eq!(load(&link).unwrap().unwrap().expires_on, 100);
        // ... one to a file of another user is not (only root can make one here)
        if std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).is_ok() {
            let err = load(&link).unwrap_err().to_string();
            assert!(err.contains("belongs to another user"), "{err}");
            assert!(load(&theirs).is_err());
        }
        // saving replaces the link itself: nothing is written through it
        let before = std::fs::read(&theirs).unwrap();
        save(&link, &sample(300)).unwrap();
        assert_eq!(std::fs::read(&theirs).unwrap(), before);
        assert!(!std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(load(&link).unwrap().unwrap().expires_on, 300);
        // not a regular file: refused without opening it
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn freshness_and_token_replies() {
        let mut s = sample(1_000);
        assert!(s.access_is_fresh(900));
        assert!(!s.access_is_fresh(940), "within a minute of expiry counts as expired");
        assert!(!s.access_is_fresh(2_000));
        let reply = serde_json::json!({"access_token": "new-a", "refresh_token": "new-r", "expires_in": 3600});
        s.update_from_reply(&reply, 5_000).unwrap();
        assert_eq!((s.access_token.expose(), s.expires_on), ("new-a", 8_600));
        assert_eq!(s.refresh_token.as_ref().map(SecretString::expose), Some("new-r"));
        assert!(s.update_from_reply(&serde_json::json!({"error": "invalid_grant"}), 0).is_err());
    }
}
