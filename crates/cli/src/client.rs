//! A small Key Vault client for the CLI: azure-identity style configuration, the challenge
//! dance, a client-credentials token, and JSON calls that surface Azure errors.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use strongbox_server::BootstrapFile;
use strongbox_types::{Clock, SecretString, SystemClock};

use crate::login::{self, SavedLogin};

const API_VERSION: &str = "2025-07-01";

/// Who the CLI acts as.
enum Credential {
    /// A service principal (bootstrap file or `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`).
    ClientSecret { client_id: String, client_secret: SecretString },
    /// A person's saved `strongbox login` (refreshed, and saved again, when it has expired).
    User { login: Box<SavedLogin>, file: PathBuf },
}

pub(crate) struct Connection {
    tenant_id: String,
    cred: Credential,
    authority: String,
    ca_pem: Option<Vec<u8>>,
    default_vault_url: Option<String>,
    /// `https://{dns suffix}[:port]` of a saved sign-in: vault URLs are built on it.
    resource: Option<String>,
}

impl Connection {
    /// In order: a bootstrap file (`--bootstrap` / `STRONGBOX_BOOTSTRAP`); the azure-identity
    /// variables `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`,
    /// `AZURE_AUTHORITY_HOST` (+ `STRONGBOX_CA_FILE`) when a client id or secret is set; the
    /// saved `strongbox login` (`STRONGBOX_LOGIN_FILE` or the per-user config folder).
    pub(crate) fn resolve(bootstrap: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(p) = bootstrap.filter(|p| !p.as_os_str().is_empty()) {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            let b: BootstrapFile = serde_json::from_str(&text).context("the bootstrap file is not valid")?;
            // no CA file: an operator certificate the system trust store verifies
            let ca = b
                .ca_file
                .as_deref()
                .map(|f| std::fs::read(f).with_context(|| format!("cannot read CA file {}", f.display())))
                .transpose()?;
            return Ok(Self {
                tenant_id: b.tenant_id,
                cred: Credential::ClientSecret { client_id: b.client_id, client_secret: b.client_secret },
                authority: b.authority,
                ca_pem: ca,
                default_vault_url: Some(b.vault_url),
                resource: None,
            });
        }
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if set("AZURE_CLIENT_ID") || set("AZURE_CLIENT_SECRET") {
            return Self::from_env();
        }
        let file = login::login_file(None);
        match file.as_deref().map(login::load).transpose()?.flatten() {
            Some(l) => Self::from_login(l, file.unwrap_or_default()),
            None => bail!(
                "no credentials: pass --bootstrap FILE, set AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and \
                 AZURE_AUTHORITY_HOST, or sign in with `strongbox login`"
            ),
        }
    }

    fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).map_err(|_| anyhow!("{k} is not set (or pass --bootstrap FILE)"));
        let ca_pem = match std::env::var("STRONGBOX_CA_FILE") {
            Ok(f) => Some(std::fs::read(&f).with_context(|| format!("cannot read STRONGBOX_CA_FILE {f}"))?),
            Err(_) => None,
        };
        Ok(Self {
            tenant_id: var("AZURE_TENANT_ID")?,
            cred: Credential::ClientSecret {
                client_id: var("AZURE_CLIENT_ID")?,
                client_secret: SecretString::new(var("AZURE_CLIENT_SECRET")?),
            },
            authority: var("AZURE_AUTHORITY_HOST")?.trim_end_matches('/').to_owned(),
            ca_pem,
            default_vault_url: None,
            resource: None,
        })
    }

    fn from_login(l: SavedLogin, file: PathBuf) -> anyhow::Result<Self> {
        let ca_path = l.ca_file.clone().or_else(|| std::env::var_os("STRONGBOX_CA_FILE").map(PathBuf::from));
        let ca_pem = match ca_path {
            Some(f) => Some(std::fs::read(&f).with_context(|| format!("cannot read CA file {}", f.display()))?),
            None => None,
        };
        let authority = l.authority.trim_end_matches('/').to_owned();
        Ok(Self {
            tenant_id: l.tenant.clone(),
            // the bare server host (the authority) serves the default vault and the management API
            default_vault_url: Some(authority.clone()),
            authority,
            resource: Some(l.resource.trim_end_matches('/').to_owned()),
            ca_pem,
            cred: Credential::User { login: Box::new(l), file },
        })
    }

    fn authority_port(&self) -> Option<u16> {
        let hostport = self.authority.strip_prefix("https://")?.split('/').next()?;
        match hostport.rsplit_once(':') {
            Some((_, p)) => p.parse().ok(),
            None => Some(443),
        }
    }

    /// `https://{name}.{suffix}`: the suffix (with port) comes from the bootstrap vault URL, or
    /// from `STRONGBOX_DNS_SUFFIX` (default `vault.localhost`) and the authority's port.
    pub(crate) fn vault_url_for(&self, name: &str) -> anyhow::Result<String> {
        if let Some(r) = &self.resource {
            let host = r.strip_prefix("https://").context("the signed-in resource must be https")?;
            return Ok(format!("https://{name}.{host}"));
        }
        if let Some(u) = &self.default_vault_url {
            let host = u.strip_prefix("https://").context("vault URL must be https")?;
            let (_, suffix) = host.split_once('.').context("vault URL has no DNS suffix")?;
            return Ok(format!("https://{name}.{}", suffix.trim_end_matches('/')));
        }
        let suffix = std::env::var("STRONGBOX_DNS_SUFFIX").unwrap_or_else(|_| "vault.localhost".into());
        Ok(match self.authority_port() {
            Some(443) | None => format!("https://{name}.{suffix}"),
            Some(p) => format!("https://{name}.{suffix}:{p}"),
        })
    }

    /// Where commands without --vault-name / --vault-url go: the bootstrap file's vault, or the
    /// authority host, which serves the default vault and the `/_strongbox` management API
    /// (so `vault create`, `ad …` and `role …` work with the `AZURE_*` variables as with a
    /// saved sign-in).
    pub(crate) fn default_vault_url(&self) -> String {
        self.default_vault_url.as_deref().unwrap_or(&self.authority).trim_end_matches('/').to_owned()
    }
}

/// POSTs a token request; the reply body (an OAuth error reply is returned as is, with its
/// `error_description`, which never holds a token).
async fn token_request(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> anyhow::Result<Value> {
    let r = http.post(url).form(form).send().await.context("token request failed")?;
    let status = r.status();
    let body: Value = r.json().await.context("token reply is not JSON")?;
    if !status.is_success() && body.get("error_description").is_none() {
        bail!("authentication failed (HTTP {})", status.as_u16());
    }
    Ok(body)
}

/// A saved sign-in's access token for `resource`: the saved one while it is fresh, otherwise a
/// new one from the refresh token (both tokens then replace the saved ones: refresh tokens are
/// single use).
async fn user_token(
    http: &reqwest::Client,
    token_url: &str,
    resource: &str,
    login: &mut SavedLogin,
    file: &Path,
) -> anyhow::Result<()> {
    // one audience serves the data plane and the /_strongbox management API
    if login.resource.trim_end_matches('/') != resource.trim_end_matches('/') {
        bail!(
            "the saved sign-in is for {} but this server wants tokens for {resource}; run `strongbox login --resource {resource}`",
            login.resource
        );
    }
    let now = SystemClock.now();
    if login.access_is_fresh(now) {
        return Ok(());
    }
    let Some(refresh) = login.refresh_token.clone() else {
        bail!("the saved sign-in has expired; run `strongbox login` again");
    };
    let scope = format!("{resource}/.default offline_access");
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", login.client_id.as_str()),
        ("refresh_token", refresh.expose()),
        ("scope", scope.as_str()),
    ];
    let body = token_request(http, token_url, &form).await?;
    if let Some(e) = body.get("error_description").and_then(Value::as_str) {
        bail!("the saved sign-in has expired or was revoked ({e}); run `strongbox login` again");
    }
    login.update_from_reply(&body, SystemClock.now())?;
    login::save(file, login).context("cannot save the refreshed sign-in")?;
    Ok(())
}

/// `(scheme, lowercase host, port)` of a URL.
fn origin(url: &str) -> Option<(String, String, u16)> {
    let u = reqwest::Url::parse(url).ok()?;
    Some((u.scheme().to_owned(), u.host_str()?.to_ascii_lowercase(), u.port_or_known_default()?))
}

/// Whether a token for `resource` (the challenge's) may be sent to `vault_url`, as the Azure SDKs
/// verify challenges: over https only, to the resource's host or a name below it (same port), or
/// to the server the credential itself names (`authority`, which also serves the default vault
/// and the management API).
fn token_may_go_to(vault_url: &str, resource: &str, authority: &str) -> anyhow::Result<()> {
    let (scheme, host, port) = origin(vault_url).with_context(|| format!("{vault_url} is not a valid URL"))?;
    if scheme != "https" {
        bail!("{vault_url} is not https: bearer tokens are only sent over TLS");
    }
    if origin(authority).is_some_and(|a| a == (scheme, host.clone(), port)) {
        return Ok(());
    }
    let under = origin(resource).is_some_and(|(rs, rh, rp)| {
        rs == "https" && rp == port && (host == rh || host.strip_suffix(rh.as_str()).is_some_and(|p| p.ends_with('.')))
    });
    if !under {
        bail!(
            "{vault_url} asked for a token for {resource}, which it is not part of; no token was requested or sent (check the vault URL)"
        );
    }
    Ok(())
}

pub(crate) struct Client {
    http: reqwest::Client,
    vault_url: String,
    token: SecretString,
}

fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("https://")?;
    let hp = rest.split('/').next()?;
    match hp.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((hp.to_owned(), 443)),
    }
}

impl Client {
    pub(crate) async fn new(conn: Connection, vault_url: String) -> anyhow::Result<Self> {
        let mut b = reqwest::Client::builder();
        if let Some(ca) = &conn.ca_pem {
            b = b.tls_certs_merge([reqwest::Certificate::from_pem(ca).context("the CA file is not PEM")?]);
        }
        // `*.localhost` names are loopback (RFC 6761); resolve them here so the CLI works even
        // where the system resolver does not know them.
        for url in [&vault_url, &conn.authority] {
            if let Some((host, port)) = host_port(url)
                && host.ends_with(".localhost")
                && (host.as_str(), port).to_socket_addrs().is_err()
            {
                b = b.resolve(&host, SocketAddr::from(([127, 0, 0, 1], port)));
            }
        }
        let http = b.build()?;
        // The challenge tells which resource (token audience) this vault wants.
        let probe = http.get(format!("{vault_url}/secrets?api-version={API_VERSION}&maxresults=1")).send().await?;
        let challenge =
            probe.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned).with_context(
                || format!("{vault_url} did not answer with a Bearer challenge (status {})", probe.status()),
            )?;
        let resource = challenge
            .split(", ")
            .find_map(|p| p.strip_prefix("resource=\"").and_then(|r| r.strip_suffix('"')))
            .context("the challenge has no resource")?
            .to_owned();
        // Before any token is asked for or sent: the challenge may name only a resource this
        // vault URL belongs to (a look-alike server must not learn a token for the real one).
        token_may_go_to(&vault_url, &resource, &conn.authority)?;
        let token_url = format!("{}/{}/oauth2/v2.0/token", conn.authority, conn.tenant_id);
        let token = match conn.cred {
            Credential::ClientSecret { client_id, client_secret } => {
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", client_secret.expose()),
                    ("scope", &format!("{resource}/.default")),
                ];
                let body = token_request(&http, &token_url, &form).await?;
                if let Some(e) = body.get("error_description").and_then(Value::as_str) {
                    bail!("authentication failed: {e}");
                }
                let t = body.get("access_token").and_then(Value::as_str).context("token reply has no access_token")?;
                SecretString::new(t.to_owned())
            }
            Credential::User { mut login, file } => {
                user_token(&http, &token_url, &resource, &mut login, &file).await?;
                login.access_token.clone()
            }
        };
        Ok(Self { http, vault_url, token })
    }

    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}?api-version={API_VERSION}", self.vault_url);
        self.send(method, &url, body).await
    }

    /// A GET that answers `None` when the server says 404 (a lookup that found nothing); any
    /// other failure is an error as with [`Client::call`].
    pub(crate) async fn get_opt(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let url = format!("{}{path}?api-version={API_VERSION}", self.vault_url);
        let r = self.http.get(&url).bearer_auth(self.token.expose()).send().await?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            return Err(api_failure(status, &text));
        }
        Ok(Some(serde_json::from_str(&text)?))
    }

    async fn send(&self, method: &str, url: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let m = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.http.request(m, url).bearer_auth(self.token.expose());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            return Err(api_failure(status, &text));
        }
        if text.is_empty() { Ok(Value::Null) } else { Ok(serde_json::from_str(&text)?) }
    }

    /// Follows `nextLink` to the end.
    pub(crate) async fn list(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut url = format!("{}{path}?api-version={API_VERSION}", self.vault_url);
        let vault = origin(&self.vault_url);
        loop {
            let page = self.send("GET", &url, None).await?;
            if let Some(items) = page.get("value").and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            match page.get("nextLink").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => {
                    // the token goes with the next request: only to the vault that sent the page
                    if vault.is_none() || origin(n) != vault {
                        bail!("the server sent a nextLink to another host; not following it");
                    }
                    url = n.to_owned();
                }
                _ => return Ok(out),
            }
        }
    }
}

/// An answer that is not a success, as `(code) message [HTTP status]` from Azure's error shape.
fn api_failure(status: reqwest::StatusCode, text: &str) -> anyhow::Error {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let code = v.pointer("/error/code").and_then(Value::as_str).unwrap_or("");
    let msg = v.pointer("/error/message").and_then(Value::as_str).unwrap_or("");
    anyhow::anyhow!("({code}) {msg} [HTTP {}]", status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_only_to_hosts_of_the_challenged_resource() {
        let (res, auth) = ("https://vault.localhost:8443", "https://localhost:8443");
        for ok in [
            "https://default.vault.localhost:8443",
            "https://A.Vault.Localhost:8443/",
            "https://vault.localhost:8443",
            "https://localhost:8443",
        ] {
            assert!(token_may_go_to(ok, res, auth).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example:8443",
            "https://evilvault.localhost:8443",
            "https://default.vault.localhost:9443",
            "http://default.vault.localhost:8443",
            "https://vault.localhost:8443@evil.example:8443",
            "https://127.0.0.1:8443",
            "not a url",
        ] {
            assert!(token_may_go_to(bad, res, auth).is_err(), "{bad}");
        }
        assert_eq!(origin("https://A.example/x?y"), Some(("https".into(), "a.example".into(), 443)));
    }
}
