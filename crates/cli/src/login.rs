//! `strongbox login`: a person signs in with the device code flow (RFC 8628). The CLI shows a
//! URL and a code; the person opens the page, enters the code, user name, password and TOTP
//! code, and approves. The tokens (access + refresh) are saved to a 0600 file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use strongbox_types::{Clock, SystemClock};

/// The public client id `strongbox login` presents (any GUID works; this one is fixed so
/// sign-ins by the CLI are recognisable in the security events).
pub const CLI_CLIENT_ID: &str = "5b1d3a2e-7c41-4f0e-9d6a-3c8b2f1e0a77";

#[derive(clap::Args)]
pub(crate) struct LoginArgs {
    /// The Strongbox authority (https://host:port).
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    authority: String,
    #[arg(long, env = "AZURE_TENANT_ID")]
    tenant: String,
    /// The token audience (the vault resource, e.g. https://vault.localhost:8443).
    #[arg(long, env = "STRONGBOX_RESOURCE")]
    resource: String,
    #[arg(long, env = "STRONGBOX_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Where to save the tokens (mode 0600).
    #[arg(long, default_value = "strongbox-login.json")]
    out: PathBuf,
}

pub(crate) async fn run(a: LoginArgs) -> anyhow::Result<()> {
    let mut b = reqwest::Client::builder();
    if let Some(ca) = &a.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        b = b.tls_certs_merge([reqwest::Certificate::from_pem(&pem).context("the CA file is not PEM")?]);
    }
    let http = b.build()?;
    let base = format!("{}/{}/oauth2/v2.0", a.authority.trim_end_matches('/'), a.tenant);
    let scope = format!("{}/.default offline_access", a.resource.trim_end_matches('/'));
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
            let now = SystemClock.now();
            let saved = json!({
                "access_token": v["access_token"],
                "refresh_token": v["refresh_token"],
                "expires_on": now + v["expires_in"].as_i64().unwrap_or(0),
                "authority": a.authority,
                "tenant": a.tenant,
                "client_id": CLI_CLIENT_ID,
            });
            let _ = std::fs::remove_file(&a.out);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&a.out)
                .with_context(|| format!("cannot create {}", a.out.display()))?;
            f.write_all(saved.to_string().as_bytes())?;
            println!("strongbox: signed in; tokens saved to {} (mode 0600)", a.out.display());
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
