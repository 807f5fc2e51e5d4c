//! Fetches trusted external issuers' OIDC discovery documents and JWKS over HTTPS, for core's
//! [`IssuerKeyFetcher`] (trusted issuers and attestation authorities). Only https URLs, no
//! redirects, no proxy, a timeout and a size bound per response; trust is the system roots plus
//! an optional extra CA file (`STRONGBOX_TRUSTED_ISSUER_CA`).
//!
//! SSRF: unless the server allows it (`--issuer-fetch-allow-private`), only public addresses
//! are fetched. An IP-literal URL is checked before any connection; a host name is resolved by
//! [`PublicOnlyResolver`], which refuses the name when any of its addresses is loopback,
//! private, link-local, unique-local or otherwise not globally routable, and hands the checked
//! addresses to the connector (what was checked is what is connected to: no DNS-rebinding gap).
//! Errors name no remote content (status, `issuer` value): the caller adds the host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;
use strongbox_identity::{FetchFuture, IssuerKeyFetcher};
use strongbox_types::{Error, Result};

/// Largest discovery document or JWKS accepted.
const MAX_BODY: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct HttpIssuerFetcher {
    http: reqwest::Client,
    allow_private: bool,
}

/// Whether `ip` is a globally routable unicast address (what an external issuer's keys may be
/// fetched from). IPv4 inside IPv6 (mapped, compatible, NAT64, 6to4) is judged as the IPv4 one.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || a >= 240 // reserved
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated)
        || (a == 198 && (b == 18 || b == 19))) // benchmarking
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if seg[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        return is_public_v4(embedded(seg[6], seg[7])); // IPv4-compatible (deprecated)
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(seg[6], seg[7])); // NAT64
    }
    if seg[0] == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2])); // 6to4
    }
    // Only global unicast (2000::/3) is public at all; inside it, the special-purpose blocks:
    // 2001::/23 (Teredo 2001::/32, benchmarking 2001:2::/48, ORCHID 2001:10::/28 and the other
    // IETF assignments), documentation 2001:db8::/32 and local-use NAT64 64:ff9b:1::/48 (outside
    // 2000::/3 anyway). Everything else (unique local, link-local, site-local, multicast, SIIT
    // ::ffff:0:0:0/96, discard-only 100::/64, …) lies outside 2000::/3.
    (seg[0] & 0xe000) == 0x2000
        && !(seg[0] == 0x2001 && seg[1] < 0x0200) // 2001::/23
        && !(seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        && !(seg[0] == 0x3fff && seg[1] < 0x1000) // documentation 3fff::/20
}

/// The resolver error when a name has a non-public address.
#[derive(Debug)]
struct NotPublic;

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the host resolves to an address that is not public")
    }
}

impl std::error::Error for NotPublic {}

/// System resolution, then every address checked with [`is_public`] (unless private addresses
/// are allowed); the connector connects only to the addresses returned here.
struct PublicOnlyResolver {
    allow_private: bool,
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(Box::new(NotPublic) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn refused(what: &str) -> Error {
    Error::bad(format!(
        "the {what} host is not a public address (loopback, private and link-local addresses are refused unless \
         the server runs with --issuer-fetch-allow-private)"
    ))
}

impl HttpIssuerFetcher {
    /// `ca_file`: an extra PEM trust anchor (or bundle) besides the system roots.
    /// `allow_private`: also fetch from loopback, private and link-local addresses (issuers
    /// inside the deployment's own network, and tests).
    pub(crate) fn new(ca_file: Option<&Path>, allow_private: bool) -> anyhow::Result<Self> {
        let mut b = reqwest::Client::builder()
            .https_only(true)
            // a proxy would resolve and connect on our behalf, past the address check
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver { allow_private }))
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
        Ok(Self { http: b.build().context("cannot build the HTTPS client for trusted issuers")?, allow_private })
    }

    async fn get_json(&self, what: &str, url: &str) -> Result<Value> {
        let parsed = reqwest::Url::parse(url).map_err(|_| Error::bad(format!("the {what} URL is not valid")))?;
        if parsed.scheme() != "https" {
            return Err(Error::bad(format!("the {what} URL is not https")));
        }
        // IP literals are connected to without the resolver: checked here
        let host = parsed.host_str().ok_or_else(|| Error::bad(format!("the {what} URL has no host")))?;
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        if !self.allow_private && literal.is_some_and(|ip| !is_public(ip)) {
            return Err(refused(what));
        }
        let mut resp = self.http.get(parsed).header("accept", "application/json").send().await.map_err(|e| {
            if is_not_public(&e) {
                refused(what)
            } else {
                Error::bad(format!("the {what} request failed ({})", failure_kind(&e)))
            }
        })?;
        if !resp.status().is_success() {
            return Err(Error::bad(format!("the {what} request was not answered with success")));
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
            return Err(Error::bad("the discovery document's 'issuer' is not the registered issuer"));
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

/// Whether the request failed because the resolver refused a non-public address.
fn is_not_public(e: &reqwest::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cur {
        if c.is::<NotPublic>() {
            return true;
        }
        cur = c.source();
    }
    false
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    #[test]
    fn only_globally_routable_addresses_are_public() {
        for ok in ["8.8.8.8", "1.1.1.1", "20.190.128.1", "2606:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert!(is_public(ok.parse().unwrap()), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.5.6.7",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:c0a8:0101::1",
            "100::1",
            "192.88.99.1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:10::1",
            "64:ff9b:1::a00:1",
            "::ffff:0:7f00:1",
            "3fff::1",
            "4000::1",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
    }

    async fn fetch_err(f: &HttpIssuerFetcher, url: &str) -> String {
        f.fetch("https://issuer.example", url).await.unwrap_err().message
    }

    #[tokio::test]
    async fn non_public_addresses_are_refused_before_any_connection() {
        let f = HttpIssuerFetcher::new(None, false).unwrap();
        // IP literals (never resolved) and names that resolve to loopback (`localhost`)
        for url in [
            "https://127.0.0.1:1/.well-known/openid-configuration",
            "https://[::1]:1/x",
            "https://[::ffff:7f00:1]:1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/x",
            "https://0x7f000001:1/x",
            "https://localhost:1/x",
        ] {
            let e = fetch_err(&f, url).await;
            assert!(e.contains("not a public address") && e.contains("--issuer-fetch-allow-private"), "{url}: {e}");
        }
        // the setting lets them through (here: nothing listens, so the connection fails)
        let open = HttpIssuerFetcher::new(None, true).unwrap();
        for url in ["https://127.0.0.1:1/x", "https://localhost:1/x"] {
            let e = fetch_err(&open, url).await;
            assert!(e.contains("request failed") && !e.contains("public"), "{url}: {e}");
        }
        assert!(fetch_err(&f, "http://8.8.8.8/x").await.contains("not https"));
    }
}
