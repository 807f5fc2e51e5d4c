//! Trusted external OIDC issuers (`issuer/{name}`): their keys (a static JWKS, or fetched from a
//! discovery document and refreshed, see `issuer_keys`), federated credentials matched against
//! their tokens (`assertions`), and, with [`UserTokens`] settings, their user tokens accepted on
//! the data plane (`external`).
//!
//! Every change drops this node's issuer snapshot, updates its revocation table at once and is
//! recorded as a security event.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strongbox_barrier::keyspace;
use strongbox_barrier::{BTxn, Change};
use strongbox_types::{Error, ErrorKind, Result};

use crate::applications::check_text;
use crate::status::PrincipalStatus;
use crate::user_tokens::UserTokens;
use crate::{Identity, SecurityEvent};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrustedIssuerRec {
    pub name: String,
    pub issuer: String,
    /// `{"keys": [...]}`.
    pub jwks: Value,
    #[serde(default)]
    pub discovery_url: Option<String>,
    #[serde(default)]
    pub jwks_fetched: i64,
    #[serde(default)]
    pub created: i64,
    /// Set when the issuer's user tokens are accepted on the data plane (`external`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_tokens: Option<UserTokens>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedIssuerView {
    pub name: String,
    pub issuer: String,
    pub key_ids: Vec<String>,
    pub discovery_url: Option<String>,
    pub jwks_fetched: Option<i64>,
    /// Whether user tokens of this issuer are accepted on the data plane.
    pub accept_user_tokens: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_tokens: Option<UserTokens>,
}

/// The `kid`s of a JWKS document (for listings).
pub(crate) fn jwks_key_ids(jwks: &Value) -> Vec<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.get("kid").and_then(Value::as_str)).map(str::to_owned).collect())
        .unwrap_or_default()
}

impl From<&TrustedIssuerRec> for TrustedIssuerView {
    fn from(r: &TrustedIssuerRec) -> Self {
        let key_ids = jwks_key_ids(&r.jwks);
        Self {
            name: r.name.clone(),
            issuer: r.issuer.clone(),
            key_ids,
            discovery_url: r.discovery_url.clone(),
            jwks_fetched: (r.jwks_fetched > 0).then_some(r.jwks_fetched),
            accept_user_tokens: r.user_tokens.is_some(),
            user_tokens: r.user_tokens.clone(),
        }
    }
}

/// How many keys of a JWKS (`{"keys": [...]}`) this server can verify with.
pub(super) fn usable_keys(jwks: &Value) -> usize {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|k| strongbox_crypto::jwt::VerifyKey::from_jwk(k).is_some()).count())
        .unwrap_or(0)
}

impl Identity {
    /// Trusts an external OIDC issuer. With only a `discovery_url` the server fetches the keys
    /// now (the discovery `issuer` must equal `issuer`) and refreshes them later; with `jwks`
    /// (`{"keys": [...]}`) those keys are stored as given. With `user_tokens` the issuer's user
    /// tokens are also accepted on the data plane (see `external`).
    pub async fn put_trusted_issuer(
        &self,
        name: &str,
        issuer: &str,
        jwks: Option<Value>,
        discovery_url: Option<String>,
        user_tokens: Option<UserTokens>,
    ) -> Result<TrustedIssuerView> {
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::bad("The issuer name must be 1-64 characters of [0-9a-zA-Z-]."));
        }
        check_text("issuer", issuer, 600)?;
        if !issuer.starts_with("https://") && !issuer.starts_with("http://") {
            return Err(Error::bad("The issuer must be an https URL (the token's 'iss' claim)."));
        }
        if let Some(u) = &discovery_url {
            check_text("discoveryUrl", u, 1000)?;
        }
        let mut user_tokens = user_tokens;
        if let Some(t) = user_tokens.as_mut() {
            self.prepare_user_tokens(name, t).await?;
        }
        self.check_issuer_url_free(name, issuer).await?;
        let mut fetched = 0;
        let jwks = match (jwks, &discovery_url) {
            (Some(j), _) => j,
            (None, Some(url)) => {
                let j = self.fetch_issuer_jwks(issuer, url).await?;
                fetched = self.now();
                j
            }
            (None, None) => return Err(Error::bad("Give 'jwks' ({\"keys\": [...]}) or 'discoveryUrl'.")),
        };
        if usable_keys(&jwks) == 0 {
            return Err(Error::bad("The JWKS has no usable key (RSA, or EC P-256/P-384)."));
        }
        let now = self.now();
        let rec = TrustedIssuerRec {
            name: name.to_ascii_lowercase(),
            issuer: issuer.to_owned(),
            jwks,
            discovery_url,
            jwks_fetched: fetched,
            created: now,
            user_tokens,
        };
        let issuers = &self.store.issuers;
        issuers.commit(issuers.put(BTxn::new(), &rec.name, &rec)?).await?;
        self.forget_issuer_snapshot();
        self.put_status(&issuer_status_key(&rec.name), issuer_status(Some(&rec), now));
        self.security_event(SecurityEvent::new("issuer.put", "success", "", &rec.name, "")).await;
        Ok(TrustedIssuerView::from(&rec))
    }

    pub async fn list_trusted_issuers(&self) -> Result<Vec<TrustedIssuerView>> {
        let rows: Vec<(String, TrustedIssuerRec)> = self.store.issuers.scan("", "", 1000).await?;
        Ok(rows.iter().map(|(_, r)| TrustedIssuerView::from(r)).collect())
    }

    pub async fn delete_trusted_issuer(&self, name: &str) -> Result<()> {
        let issuers = &self.store.issuers;
        let rel = name.to_ascii_lowercase();
        if !issuers.exists(&rel).await? {
            return Err(Error::new(ErrorKind::RouteNotFound, "No trusted issuer with that name."));
        }
        issuers.commit(issuers.delete(BTxn::new(), &rel)).await?;
        self.forget_issuer_snapshot();
        self.put_status(&issuer_status_key(&name.to_ascii_lowercase()), issuer_status(None, self.now()));
        self.security_event(SecurityEvent::new("issuer.delete", "success", "", name, "")).await;
        Ok(())
    }

    pub(crate) async fn trusted_issuer_by_name(&self, name: &str) -> Result<TrustedIssuerRec> {
        match self.store.issuers.get::<TrustedIssuerRec>(&name.to_ascii_lowercase()).await? {
            Some(r) => Ok(r),
            None => Err(Error::new(ErrorKind::RouteNotFound, "No trusted issuer with that name.")),
        }
    }

    /// Normalises and checks user-token settings for issuer `name`: bounds, domains not held by
    /// another issuer, group map resolved to existing group ids.
    async fn prepare_user_tokens(&self, name: &str, t: &mut UserTokens) -> Result<()> {
        t.normalize();
        t.check()?;
        self.check_domains_free(name, t).await?;
        self.resolve_group_map(t).await
    }

    /// Turns acceptance of an issuer's user tokens on (with these settings) or off, keeping its
    /// keys. Turning it off rejects tokens already in use (at once on this node, within the
    /// status TTL elsewhere).
    pub async fn set_trusted_issuer_user_tokens(
        &self,
        name: &str,
        user_tokens: Option<UserTokens>,
    ) -> Result<TrustedIssuerView> {
        let mut user_tokens = user_tokens;
        if let Some(t) = user_tokens.as_mut() {
            self.prepare_user_tokens(name, t).await?;
        }
        let updated = self
            .store
            .issuers
            .update(
                &name.to_ascii_lowercase(),
                || Error::new(ErrorKind::Conflict, "The trusted issuer was changed concurrently; retry."),
                |rec: Option<TrustedIssuerRec>| {
                    let Some(mut rec) = rec else {
                        return Err(Error::new(ErrorKind::RouteNotFound, "No trusted issuer with that name."));
                    };
                    rec.user_tokens = user_tokens.clone();
                    Ok(Change::Put(rec.clone(), rec))
                },
            )
            .await;
        self.forget_issuer_snapshot();
        let rec = updated?;
        self.put_status(&issuer_status_key(&rec.name), issuer_status(Some(&rec), self.now()));
        let detail = if rec.user_tokens.is_some() { "user tokens accepted" } else { "user tokens refused" };
        self.security_event(SecurityEvent::new("issuer.update", "success", "", &rec.name, detail)).await;
        Ok(TrustedIssuerView::from(&rec))
    }

    pub(crate) async fn trusted_issuer_by_url(&self, iss: &str) -> Result<Option<TrustedIssuerRec>> {
        if iss.is_empty() {
            return Ok(None);
        }
        let all: Vec<(String, TrustedIssuerRec)> = self.store.issuers.scan_all("").await?;
        Ok(all.into_iter().map(|(_, r)| r).find(|r| r.issuer == iss))
    }
}

/// The status-table key of a trusted issuer (revocation of its user tokens).
pub(crate) fn issuer_status_key(name: &str) -> String {
    format!("{}{name}", keyspace::TRUSTED_ISSUERS.prefix)
}

/// An issuer "allows" a cached token while it exists, accepts user tokens and still has the
/// issuer URL the token was verified under.
pub(crate) fn issuer_status(rec: Option<&TrustedIssuerRec>, now: i64) -> PrincipalStatus {
    match rec {
        Some(r) => PrincipalStatus {
            exists: true,
            enabled: r.user_tokens.is_some(),
            credentials: vec![r.issuer.clone()],
            loaded: now,
        },
        None => PrincipalStatus { exists: false, enabled: false, credentials: Vec::new(), loaded: now },
    }
}
