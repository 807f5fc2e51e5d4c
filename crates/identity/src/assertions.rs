//! RFC 7523 client assertions at the token endpoint, two kinds:
//!
//! - **certificate**: `iss` = `sub` = the client id, signed by the private key of a certificate
//!   registered on the service principal, found by the `x5t#S256` or `x5t` header (MSAL pads
//!   `x5t` with `=`; compared padding-insensitively). `aud` must be our token endpoint, `exp`
//!   (MSAL sends floats) in the future, `nbf` (if present) reached, and `jti` never seen before:
//!   ids are remembered in storage until the assertion expires, so a replay is refused on every
//!   node.
//! - **federated**: a token from a trusted external issuer (e.g. a Kubernetes service-account
//!   token), verified against the issuer's JWKS and matched on issuer + subject + audience to a
//!   federated credential of the principal. These are presented again and again until they
//!   expire (azure-identity re-reads the same file), so `jti` is not used for replay here.

use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_crypto::jwt::{self, Unverified, VerifyKey};

use crate::error::{Aadsts, OAuthError, internal};
use crate::records::ServicePrincipalRec;
use crate::{Identity, SKEW, external};

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Certificate assertions may not live longer than this (it bounds the replay memory).
const MAX_ASSERTION_LIFETIME: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct JtiRec {
    exp: i64,
}

fn sig_failed() -> OAuthError {
    OAuthError::BadClientCredential(Aadsts::new(700027, "Client assertion failed signature validation."))
}

fn time_range() -> OAuthError {
    OAuthError::AssertionRejected(Aadsts::new(700024, "Client assertion is not within its valid time range."))
}

fn malformed(what: &str) -> OAuthError {
    OAuthError::InvalidRequest(Aadsts::new(50027, format!("JWT token is invalid or malformed: {what}.")))
}

/// Thumbprints arrive base64url with or without padding (MSAL pads), sometimes standard base64.
fn thumb(s: &str) -> Option<Vec<u8>> {
    let norm: String = s
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    strongbox_crypto::b64url_decode(&norm).ok()
}

impl Identity {
    /// Verifies `assertion` for `sp`; returns the id of the credential that matched.
    pub(crate) async fn verify_client_assertion(
        &self,
        sp: &ServicePrincipalRec,
        assertion: &str,
    ) -> Result<String, OAuthError> {
        let u = jwt::parse(assertion).map_err(|_| malformed("not a compact JWS with JSON header and claims"))?;
        let iss = u.str_claim("iss").unwrap_or_default();
        if iss.eq_ignore_ascii_case(&sp.client_id) {
            self.verify_certificate_assertion(sp, &u).await
        } else {
            self.verify_federated_assertion(sp, &u).await
        }
    }

    pub(crate) async fn verify_certificate_assertion(
        &self,
        sp: &ServicePrincipalRec,
        u: &Unverified<'_>,
    ) -> Result<String, OAuthError> {
        let (want, sha256) = match (&u.header.x5t_s256, &u.header.x5t) {
            (Some(t), _) => (thumb(t), true),
            (None, Some(t)) => (thumb(t), false),
            (None, None) => {
                return Err(malformed("no certificate thumbprint (x5t or x5t#S256) in the header"));
            }
        };
        let want = want.ok_or_else(|| malformed("the certificate thumbprint is not base64url"))?;
        let cert = sp
            .certs
            .iter()
            .find(|c| {
                let have = if sha256 { &c.sha256 } else { &c.sha1 };
                strongbox_crypto::unhex(have).is_some_and(|h| h == want)
            })
            .ok_or_else(|| {
                OAuthError::BadClientCredential(Aadsts::new(700027, "The certificate with the identifier used to sign the client assertion is not registered on the application."))
            })?;
        let der = strongbox_crypto::b64url_decode(&cert.der_b64).map_err(internal)?;
        let info = jwt::parse_certificate(&der).map_err(internal)?;
        u.verify(&info.key).map_err(|_| sig_failed())?;
        let now = self.now();
        if u.str_claim("sub").is_none_or(|s| !s.eq_ignore_ascii_case(&sp.client_id)) {
            return Err(OAuthError::BadClientCredential(Aadsts::new(
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter.",
            )));
        }
        self.check_audience(u)?;
        let exp = self.check_times(u, now)?;
        if exp > now + MAX_ASSERTION_LIFETIME {
            return Err(time_range());
        }
        if now > cert.not_after + SKEW || now + SKEW < cert.not_before {
            return Err(OAuthError::BadClientCredential(Aadsts::new(
                700027,
                "The certificate used to sign the client assertion is expired or not yet valid.",
            )));
        }
        let jti = u
            .str_claim("jti")
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| malformed("the 'jti' claim is required"))?;
        let id = strongbox_crypto::hex(&strongbox_crypto::sha256(format!("{}\n{jti}", sp.client_id).as_bytes()));
        match self.store.assertion_ids.create(&id, &JtiRec { exp }).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(OAuthError::BadClientCredential(Aadsts::new(
                    700025,
                    "The client assertion was already used (its jti was seen before).",
                )));
            }
            Err(e) => return Err(internal(e)),
        }
        Ok(cert.id.clone())
    }

    fn check_audience(&self, u: &Unverified<'_>) -> Result<(), OAuthError> {
        let ours =
            [self.token_endpoint(), format!("{}/{}/oauth2/token", self.cfg.authority, self.tenant_id), self.issuer()];
        let ok = u.audiences().iter().any(|a| ours.iter().any(|o| a.trim_end_matches('/').eq_ignore_ascii_case(o)));
        if ok {
            Ok(())
        } else {
            Err(OAuthError::AssertionRejected(Aadsts::new(
                700212,
                format!(
                    "The client assertion audience is not valid: it must be the token endpoint '{}'.",
                    self.token_endpoint()
                ),
            )))
        }
    }

    /// `exp` required and not passed, `nbf` (if present) reached; returns `exp`.
    fn check_times(&self, u: &Unverified<'_>, now: i64) -> Result<i64, OAuthError> {
        let exp = u.time_claim("exp").ok_or_else(|| malformed("the 'exp' claim is required"))?;
        if now > exp.saturating_add(SKEW) {
            return Err(time_range());
        }
        if u.time_claim("nbf").is_some_and(|nbf| nbf > now + SKEW) {
            return Err(time_range());
        }
        Ok(exp)
    }

    async fn verify_federated_assertion(
        &self,
        sp: &ServicePrincipalRec,
        u: &Unverified<'_>,
    ) -> Result<String, OAuthError> {
        let iss = u.str_claim("iss").unwrap_or_default().to_owned();
        let no_issuer = || {
            OAuthError::AssertionRejected(Aadsts::new(
                700211,
                format!(
                    "No matching federated identity record found for presented assertion issuer '{}'.",
                    iss.chars().take(200).collect::<String>()
                ),
            ))
        };
        let mut issuer = self.trusted_issuer_by_url(&iss).await.map_err(internal)?.ok_or_else(no_issuer)?;
        let candidates: Vec<_> = sp.federated.iter().filter(|f| f.issuer == iss).collect();
        if candidates.is_empty() {
            return Err(no_issuer());
        }
        let keys_of = |jwks: &serde_json::Value| -> Vec<(Option<String>, VerifyKey)> {
            jwks.get("keys")
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|k| {
                            let kid = k.get("kid").and_then(serde_json::Value::as_str).map(str::to_owned);
                            VerifyKey::from_jwk(k).map(|v| (kid, v))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut keys = keys_of(&issuer.jwks);
        if let Some(kid) = &u.header.kid
            && !keys.iter().any(|(k, _)| k.as_deref() == Some(kid.as_str()))
            && let Some(fresh) = self.refresh_issuer_for_unknown_kid(&issuer).await
        {
            // the issuer may have rotated its keys since they were last fetched
            issuer = fresh;
            keys = keys_of(&issuer.jwks);
        }
        let by_kid: Vec<&VerifyKey> = match &u.header.kid {
            Some(kid) => keys.iter().filter(|(k, _)| k.as_deref() == Some(kid.as_str())).map(|(_, v)| v).collect(),
            None => keys.iter().map(|(_, v)| v).collect(),
        };
        if !by_kid.iter().any(|k| u.verify(k).is_ok()) {
            return Err(sig_failed());
        }
        let sub = u.str_claim("sub").unwrap_or_default();
        let with_subject: Vec<_> = candidates.into_iter().filter(|f| f.subject == sub).collect();
        if with_subject.is_empty() {
            return Err(OAuthError::AssertionRejected(Aadsts::new(
                700213,
                format!(
                    "No matching federated identity record found for presented assertion subject '{}'.",
                    sub.chars().take(200).collect::<String>()
                ),
            )));
        }
        let auds = u.audiences();
        let matched = with_subject
            .into_iter()
            .find(|f| f.audiences.iter().any(|a| auds.iter().any(|x| x == a)))
            .ok_or_else(|| {
                OAuthError::AssertionRejected(Aadsts::new(
                    700212,
                    "No matching federated identity record found for presented assertion audience.",
                ))
            })?;
        let now = self.now();
        let exp = self.check_times(u, now)?;
        if external::lifetime_too_long(u, exp, now) {
            return Err(OAuthError::AssertionRejected(Aadsts::new(
                700024,
                "Client assertion is not within its valid time range: tokens of a trusted issuer may live at most 24 hours.",
            )));
        }
        Ok(matched.id.clone())
    }

    /// Forgets assertion ids whose assertions have expired.
    pub(crate) async fn purge_expired_jtis(&self) -> strongbox_types::Result<usize> {
        let now = self.now();
        let ids = &self.store.assertion_ids;
        let mut start = String::new();
        let mut purged = 0;
        loop {
            // plain JSON: a record without a readable expiry counts as expired
            let rows: Vec<(String, serde_json::Value)> = ids.scan("", &start, 500).await?;
            let Some((last, _)) = rows.last() else { break };
            let next = format!("{last}\u{0}");
            let expired: Vec<&String> = rows
                .iter()
                .filter(|(_, r)| r.get("exp").and_then(serde_json::Value::as_i64).is_none_or(|exp| exp + SKEW < now))
                .map(|(k, _)| k)
                .collect();
            if !expired.is_empty() {
                purged += expired.len();
                ids.commit(expired.into_iter().fold(BTxn::new(), |txn, k| ids.delete(txn, k))).await?;
            }
            if rows.len() < 500 {
                break;
            }
            start = next;
        }
        Ok(purged)
    }
}
