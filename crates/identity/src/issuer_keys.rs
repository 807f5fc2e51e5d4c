//! Keys of trusted external issuers fetched from their OIDC discovery document. This crate does no
//! HTTP: the server installs an [`IssuerKeyFetcher`] and calls [`Identity::refresh_trusted_issuers`]
//! on a schedule; an assertion with an unknown `kid` also triggers a refresh of its issuer, at
//! most once a minute per issuer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, Result};

use crate::trusted_issuers::{TrustedIssuerRec, usable_keys};
use crate::{Identity, SecurityEvent};

/// Seconds between two key fetches of one issuer caused by an unknown `kid`.
const UNKNOWN_KID_REFRESH: i64 = 60;

pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Value>> + Send + 'a>>;

/// Fetches an issuer's keys: reads `discovery_url`, checks that its `issuer` equals `issuer`,
/// then reads its `jwks_uri` and returns the JWKS (`{"keys": [...]}`). Errors carry a message
/// fit for the caller (no secrets; the URL's host, not the whole URL).
pub trait IssuerKeyFetcher: Send + Sync {
    fn fetch<'a>(&'a self, issuer: &'a str, discovery_url: &'a str) -> FetchFuture<'a>;
}

/// The host part of an URL, for error messages.
pub(crate) fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.chars().take(200).collect()
}

impl Identity {
    /// Installs the component that fetches trusted issuers' discovery documents and JWKS.
    pub fn set_issuer_key_fetcher(&self, fetcher: Arc<dyn IssuerKeyFetcher>) {
        if let Ok(mut f) = self.issuer_fetcher.write() {
            *f = Some(fetcher);
        }
    }

    /// Fetches (and checks) the JWKS of `issuer` from `discovery_url`.
    pub(crate) async fn fetch_issuer_jwks(&self, issuer: &str, discovery_url: &str) -> Result<Value> {
        if !discovery_url.starts_with("https://") {
            return Err(Error::bad("The discovery URL must be an https URL."));
        }
        let fetcher = self.issuer_fetcher.read().ok().and_then(|f| f.clone()).ok_or_else(|| {
            Error::new(ErrorKind::NotImplemented, "This server has no issuer key fetcher: give 'jwks' instead.")
        })?;
        let host = url_host(discovery_url);
        let jwks = fetcher
            .fetch(issuer, discovery_url)
            .await
            .map_err(|e| Error::bad(format!("Could not fetch the issuer's keys from '{host}': {}", e.message)))?;
        if usable_keys(&jwks) == 0 {
            return Err(Error::bad(format!("The JWKS served by '{host}' has no usable key (RSA, or EC P-256/P-384).")));
        }
        Ok(jwks)
    }

    /// Re-fetches the keys of one issuer and stores them; `None` when it has no discovery URL,
    /// was deleted meanwhile or the fetch failed (logged as a security event; old keys stay).
    async fn refresh_issuer(&self, rec: &TrustedIssuerRec) -> Option<TrustedIssuerRec> {
        let url = rec.discovery_url.as_deref()?;
        if let Ok(mut m) = self.issuer_attempts.lock() {
            m.insert(rec.name.clone(), self.now());
        }
        let jwks = match self.fetch_issuer_jwks(&rec.issuer, url).await {
            Ok(j) => j,
            Err(e) => {
                self.security_event(SecurityEvent::new("issuer.refresh", "failure", "", &rec.name, &e.message)).await;
                return None;
            }
        };
        let issuers = &self.store.issuers;
        let (mut fresh, stamp) = issuers.get_versioned::<TrustedIssuerRec>(&rec.name).await.ok()??;
        if fresh.discovery_url.as_deref() != Some(url) || fresh.issuer != rec.issuer {
            return None; // replaced meanwhile
        }
        let changed = fresh.jwks != jwks;
        fresh.jwks = jwks;
        fresh.jwks_fetched = self.now();
        let txn = issuers.put(issuers.unchanged(BTxn::new(), &rec.name, &stamp), &rec.name, &fresh).ok()?;
        issuers.commit(txn).await.ok()?;
        self.forget_issuer_snapshot();
        if changed {
            self.security_event(SecurityEvent::new("issuer.refresh", "success", "", &rec.name, "keys changed")).await;
        }
        Some(fresh)
    }

    /// Re-fetches the keys of every trusted issuer registered with a discovery URL. Returns
    /// how many were refreshed; failures keep the previous keys.
    pub async fn refresh_trusted_issuers(&self) -> Result<usize> {
        let rows: Vec<(String, TrustedIssuerRec)> = self.store.issuers.scan("", "", 1000).await?;
        let mut done = 0;
        for (_, rec) in &rows {
            if rec.discovery_url.is_some() && self.refresh_issuer(rec).await.is_some() {
                done += 1;
            }
        }
        Ok(done)
    }

    /// An assertion named a `kid` the stored keys lack: refresh the issuer unless that was
    /// tried less than a minute ago.
    pub(crate) async fn refresh_issuer_for_unknown_kid(&self, rec: &TrustedIssuerRec) -> Option<TrustedIssuerRec> {
        rec.discovery_url.as_ref()?;
        let now = self.now();
        {
            let m = self.issuer_attempts.lock().ok()?;
            if m.get(&rec.name).is_some_and(|t| now - t < UNKNOWN_KID_REFRESH)
                || now - rec.jwks_fetched < UNKNOWN_KID_REFRESH
            {
                return None;
            }
        }
        self.refresh_issuer(rec).await
    }
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn host_of_urls() {
        assert_eq!(url_host("https://idp.example.com/.well-known/openid-configuration"), "idp.example.com");
        assert_eq!(url_host("https://u:p@idp.example.com:8443?x"), "idp.example.com:8443");
        assert_eq!(url_host("idp.example.com/x"), "idp.example.com");
    }
}
