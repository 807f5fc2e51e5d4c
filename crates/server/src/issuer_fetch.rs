//! Fetches trusted external issuers' OIDC discovery documents and JWKS over HTTPS, for core's
//! [`IssuerKeyFetcher`]. Only https URLs, no redirects, a timeout and a size bound per response;
//! trust is the system roots plus an optional extra CA file (`STRONGBOX_TRUSTED_ISSUER_CA`).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use strongbox_core::{FetchFuture, IssuerKeyFetcher};
use strongbox_types::{Error, Result};

/// Largest discovery document or JWKS accepted.
const MAX_BODY: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct HttpIssuerFetcher {
    http: reqwest::Client,
}

impl HttpIssuerFetcher {
    /// `ca_file`: an extra PEM trust anchor (or bundle) besides the system roots.
    pub fn new(ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let mut b = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5));
        if let Some(f) = ca_file {
            let pem =
                std::fs::read(f).with_context(|| format!("cannot read the trusted-issuer CA file {}", f.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("the trusted-issuer CA file {} is not PEM", f.display()))?;
            anyhow::ensure!(!certs.is_empty(), "the trusted-issuer CA file {} holds no certificate", f.display());
            b = b.tls_certs_merge(certs);
        }
        Ok(Self { http: b.build().context("cannot build the HTTPS client for trusted issuers")? })
    }

    async fn get_json(&self, what: &str, url: &str) -> Result<Value> {
        if !url.starts_with("https://") {
            return Err(Error::bad(format!("the {what} URL is not https")));
        }
        let mut resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| Error::bad(format!("the {what} request failed ({})", failure_kind(&e))))?;
        if !resp.status().is_success() {
            return Err(Error::bad(format!("the {what} request answered HTTP {}", resp.status().as_u16())));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(Error::bad(format!("the {what} is larger than {MAX_BODY} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| Error::bad(format!("reading the {what} failed ({})", failure_kind(&e))))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(Error::bad(format!("the {what} is larger than {MAX_BODY} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| Error::bad(format!("the {what} is not JSON")))
    }

    async fn fetch_inner(&self, issuer: &str, discovery_url: &str) -> Result<Value> {
        let doc = self.get_json("discovery document", discovery_url).await?;
        let found = doc.get("issuer").and_then(Value::as_str).unwrap_or_default();
        if found != issuer {
            return Err(Error::bad(format!(
                "the discovery document names issuer '{}', not the registered '{}'",
                found.chars().take(200).collect::<String>(),
                issuer.chars().take(200).collect::<String>()
            )));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::bad("the discovery document has no 'jwks_uri'"))?;
        let jwks = self.get_json("JWKS", jwks_uri).await?;
        if !jwks.get("keys").is_some_and(Value::is_array) {
            return Err(Error::bad("the JWKS has no 'keys' array"));
        }
        Ok(jwks)
    }
}

/// A short cause without the URL (the caller names the host).
fn failure_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection or TLS handshake failed"
    } else if e.is_redirect() {
        "redirects are not followed"
    } else if e.is_body() || e.is_decode() {
        "bad response body"
    } else {
        "request error"
    }
}

impl IssuerKeyFetcher for HttpIssuerFetcher {
    fn fetch<'a>(&'a self, issuer: &'a str, discovery_url: &'a str) -> FetchFuture<'a> {
        Box::pin(self.fetch_inner(issuer, discovery_url))
    }
}
