//! Trusted attestation authorities (for secure key release) and the signature of release
//! responses.
//!
//! An attestation authority is an issuer with a JWKS, like a trusted OIDC issuer, but it is kept
//! under its own record prefix (`attestauthority/`), so an attestation authority is never
//! accepted as a sign-in issuer and a sign-in issuer never as an attestation authority. Keys are
//! given as a static JWKS or fetched through the server's [`crate::IssuerKeyFetcher`] from
//! `{authority}/.well-known/openid-configuration` (Microsoft Azure Attestation serves its keys
//! at `{authority}/certs`, named there); an unknown `kid` re-fetches them at most once a minute.
//!
//! Release responses are signed (ES256) with the token service's current signing key, whose
//! public half is published at the tenant's JWKS (`…/discovery/v2.0/keys`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strongbox_barrier::BTxn;
use strongbox_crypto::jwt::VerifyKey;
use strongbox_types::{Error, ErrorKind, Result};

use crate::trusted_issuers::jwks_key_ids;
use crate::{Identity, SecurityEvent, issuer_keys};

/// Seconds between two key fetches of one authority caused by an unknown `kid`.
const UNKNOWN_KID_REFRESH: i64 = 60;

/// A registered attestation authority as stored (`attestauthority/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttestationAuthority {
    pub name: String,
    /// The tokens' `iss` and the policies' `authority` (compared without a trailing `/`).
    pub authority: String,
    /// `{"keys": [...]}`.
    pub jwks: Value,
    #[serde(default)]
    pub discovery_url: Option<String>,
    #[serde(default)]
    pub jwks_fetched: i64,
    #[serde(default)]
    pub created: i64,
}

/// An attestation authority as the management API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationAuthorityView {
    pub name: String,
    pub authority: String,
    pub key_ids: Vec<String>,
    pub discovery_url: Option<String>,
    pub jwks_fetched: Option<i64>,
}

impl From<&AttestationAuthority> for AttestationAuthorityView {
    fn from(r: &AttestationAuthority) -> Self {
        let key_ids = jwks_key_ids(&r.jwks);
        Self {
            name: r.name.clone(),
            authority: r.authority.clone(),
            key_ids,
            discovery_url: r.discovery_url.clone(),
            jwks_fetched: (r.jwks_fetched > 0).then_some(r.jwks_fetched),
        }
    }
}

/// An authority URL in the form compared (no trailing `/`).
pub fn normalize_authority(a: &str) -> &str {
    a.trim_end_matches('/')
}

/// The verification key of one JWKS entry: `n`/`e` or `x`/`y`, else the first `x5c`
/// certificate's key (Microsoft Azure Attestation publishes only `x5c`).
pub fn jwk_verify_key(jwk: &Value) -> Option<VerifyKey> {
    if let Some(k) = VerifyKey::from_jwk(jwk) {
        return Some(k);
    }
    let cert = jwk.get("x5c")?.as_array()?.first()?.as_str()?;
    // x5c entries are standard base64 (with padding).
    let der = strongbox_crypto::b64url_decode(&cert.replace('+', "-").replace('/', "_")).ok()?;
    strongbox_crypto::jwt::parse_certificate(&der).ok().map(|c| c.key)
}

fn usable(jwks: &Value) -> usize {
    jwks.get("keys").and_then(Value::as_array).map_or(0, |a| a.iter().filter(|k| jwk_verify_key(k).is_some()).count())
}

impl Identity {
    /// Registers (or replaces) an attestation authority: with `jwks` those keys are stored as
    /// given; without, they are fetched now from the authority's discovery document (and again
    /// when a token names an unknown `kid`).
    pub async fn put_attestation_authority(
        &self,
        name: &str,
        authority: &str,
        jwks: Option<Value>,
    ) -> Result<AttestationAuthorityView> {
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::bad("The attestation authority name must be 1-64 characters of [0-9a-zA-Z-]."));
        }
        let authority = normalize_authority(authority);
        if authority.len() > 600 || authority.chars().any(char::is_control) {
            return Err(Error::bad("'authority' must be at most 600 printable characters."));
        }
        if !authority.starts_with("https://") && !authority.starts_with("http://") {
            return Err(Error::bad("The authority must be an https URL (the attestation tokens' 'iss' claim)."));
        }
        let (jwks, discovery_url, fetched) = match jwks {
            Some(j) => (j, None, 0),
            None => {
                let url = format!("{authority}/.well-known/openid-configuration");
                let j = self.fetch_attestation_jwks(authority, &url).await?;
                (j, Some(url), self.now())
            }
        };
        if usable(&jwks) == 0 {
            return Err(Error::bad("The JWKS has no usable key (RSA, EC P-256/P-384, or an x5c certificate)."));
        }
        let rec = AttestationAuthority {
            name: name.to_ascii_lowercase(),
            authority: authority.to_owned(),
            jwks,
            discovery_url,
            jwks_fetched: fetched,
            created: self.now(),
        };
        let view = &self.store.attestation_authorities;
        view.commit(view.put(BTxn::new(), &rec.name, &rec)?).await?;
        self.security_event(SecurityEvent::new("attestation-authority.put", "success", "", &rec.name, "")).await;
        Ok(AttestationAuthorityView::from(&rec))
    }

    pub async fn list_attestation_authorities(&self) -> Result<Vec<AttestationAuthorityView>> {
        let rows: Vec<(String, AttestationAuthority)> = self.store.attestation_authorities.scan("", "", 1000).await?;
        Ok(rows.iter().map(|(_, r)| AttestationAuthorityView::from(r)).collect())
    }

    pub async fn delete_attestation_authority(&self, name: &str) -> Result<()> {
        let view = &self.store.attestation_authorities;
        let rel = name.to_ascii_lowercase();
        if !view.exists(&rel).await? {
            return Err(Error::new(ErrorKind::RouteNotFound, "No attestation authority with that name."));
        }
        view.commit(view.delete(BTxn::new(), &rel)).await?;
        self.security_event(SecurityEvent::new("attestation-authority.delete", "success", "", name, "")).await;
        Ok(())
    }

    /// The registered authority whose URL is `iss`.
    pub async fn attestation_authority(&self, iss: &str) -> Result<Option<AttestationAuthority>> {
        let iss = normalize_authority(iss);
        if iss.is_empty() {
            return Ok(None);
        }
        let all: Vec<(String, AttestationAuthority)> = self.store.attestation_authorities.scan_all("").await?;
        Ok(all.into_iter().map(|(_, r)| r).find(|r| r.authority == iss))
    }

    /// Re-fetches the keys of every attestation authority registered without a static JWKS
    /// (the server's issuer-refresh loop calls it). Returns how many were refreshed; a failure
    /// keeps the previous keys and is recorded as a security event.
    pub async fn refresh_attestation_authorities(&self) -> Result<usize> {
        let rows: Vec<(String, AttestationAuthority)> = self.store.attestation_authorities.scan("", "", 1000).await?;
        let mut done = 0;
        for (_, rec) in &rows {
            if rec.discovery_url.is_some() && self.refresh_attestation_authority(rec).await.is_some() {
                done += 1;
            }
        }
        Ok(done)
    }

    /// A token named a `kid` the stored keys lack: re-fetch the keys of a discovered authority,
    /// unless that was tried less than a minute ago.
    pub async fn refresh_attestation_authority(&self, rec: &AttestationAuthority) -> Option<AttestationAuthority> {
        let url = rec.discovery_url.as_deref()?;
        let now = self.now();
        let throttle = format!("attestation:{}", rec.name);
        {
            let mut m = self.issuer_attempts.lock().ok()?;
            if m.get(&throttle).is_some_and(|t| now - t < UNKNOWN_KID_REFRESH)
                || now - rec.jwks_fetched < UNKNOWN_KID_REFRESH
            {
                return None;
            }
            m.insert(throttle, now);
        }
        let jwks = match self.fetch_attestation_jwks(&rec.authority, url).await {
            Ok(j) => j,
            Err(e) => {
                let ev = SecurityEvent::new("attestation-authority.refresh", "failure", "", &rec.name, &e.message);
                self.security_event(ev).await;
                return None;
            }
        };
        let view = &self.store.attestation_authorities;
        let (mut fresh, stamp) = view.get_versioned::<AttestationAuthority>(&rec.name).await.ok()??;
        if fresh.authority != rec.authority {
            return None;
        }
        fresh.jwks = jwks;
        fresh.jwks_fetched = now;
        let txn = view.put(view.unchanged(BTxn::new(), &rec.name, &stamp), &rec.name, &fresh).ok()?;
        view.commit(txn).await.ok()?;
        Some(fresh)
    }

    /// Fetches an authority's JWKS through the server's fetcher (the discovery document's
    /// `issuer` must equal `authority`). Entries with only `x5c` count as usable here.
    async fn fetch_attestation_jwks(&self, authority: &str, discovery_url: &str) -> Result<Value> {
        if !discovery_url.starts_with("https://") {
            return Err(Error::bad(
                "The authority must be an https URL for its keys to be fetched; give 'jwks' otherwise.",
            ));
        }
        let fetcher = self.issuer_fetcher.read().ok().and_then(|f| f.clone()).ok_or_else(|| {
            Error::new(ErrorKind::NotImplemented, "This server has no issuer key fetcher: give 'jwks' instead.")
        })?;
        let host = issuer_keys::url_host(discovery_url);
        let jwks = fetcher.fetch(authority, discovery_url).await.map_err(|e| {
            Error::bad(format!("Could not fetch the attestation authority's keys from '{host}': {}", e.message))
        })?;
        if usable(&jwks) == 0 {
            return Err(Error::bad(format!("The JWKS served by '{host}' has no usable key.")));
        }
        Ok(jwks)
    }

    /// Signs a release response (compact JWS, ES256, the token service's current key).
    pub fn sign_release_response(&self, payload: &Value) -> Result<String> {
        let keys = self.keyset().ok_or_else(|| Error::internal("token signing keys unavailable"))?;
        keys.signer.sign(payload)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    /// Azure Attestation publishes only `x5c`: the certificate's key verifies the tokens.
    #[test]
    fn x5c_only_jwks_entries_verify() {
        let (pem, key) =
            strongbox_crypto::jwt::generate_client_certificate("maa", 1_700_000_000, 4_000_000_000).unwrap();
        let der = strongbox_crypto::jwt::parse_certificate(pem.as_bytes()).unwrap().der;
        let mut std_b64 = strongbox_crypto::b64url(&der).replace('-', "+").replace('_', "/");
        while !std_b64.len().is_multiple_of(4) {
            std_b64.push('=');
        }
        let jwk = json!({"kty": "EC", "kid": "k", "x5c": [std_b64]});
        let vk = jwk_verify_key(&jwk).unwrap();
        let token =
            strongbox_crypto::jwt::sign_es256(&key, &json!({"alg": "ES256", "kid": "k"}), &json!({"a": 1})).unwrap();
        assert!(strongbox_crypto::jwt::parse(&token).unwrap().verify(&vk).is_ok());
        let jwks = json!({"keys": [jwk, {"kty": "RSA", "kid": "broken"}]});
        assert_eq!(usable(&jwks), 1);
        assert_eq!(normalize_authority("https://a.example/"), "https://a.example");
    }
}
