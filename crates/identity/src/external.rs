//! User tokens of an external OIDC issuer (a corporate IdP) accepted directly on the data plane.
//!
//! A trusted issuer may carry [`UserTokens`] settings: the audiences the IdP puts in tokens meant
//! for this vault, the claim that names the person, and how that claim becomes a principal:
//!
//! - `user` (default): the claim value is the UPN of an existing Strongbox user; the principal is
//!   that user (its object id, so its role assignments and group memberships apply). A disabled
//!   or deleted user is rejected like its own tokens (status check on every request).
//! - `external`: no local user; the object id is derived from the issuer URL and the claim value
//!   ([`external_object_id`]), so roles can be assigned to a person of the IdP directly.
//!
//! Groups: with `groupClaim` and `groupMap` set, the values of that claim (an array of strings
//! or one string, at most [`MAX_GROUP_VALUES`] read) are looked up in `groupMap`, an explicit
//! map from IdP group value (exact, case-sensitive) to a Strongbox group object id. The mapped
//! groups that still exist are carried with the principal (`Principal::token_groups`), so RBAC
//! grants and denies (and access policies) of those groups apply to the caller as if it were a
//! stored member. Unmapped values are ignored: an IdP group name never stands for a local id.
//! Token groups do not make the caller eligible for PIM activations (those follow stored
//! memberships only).
//!
//! `amr` is carried over as the IdP sent it, so MFA-requiring PIM activations work when the IdP
//! did MFA. The tenant's "MFA required for users" policy governs sign-ins at our own token
//! endpoint; an IdP token without `mfa` is accepted, just without `mfa` in the principal.
//!
//! Verification: the issuer's JWKS (an unknown `kid` triggers the throttled refresh of a
//! discovery-based issuer), `exp` required and `nbf` with [`SKEW`], `aud` one of the configured
//! audiences. A verified token is cached by digest until it expires, like ours; every request
//! also re-checks that the issuer still accepts user tokens (same [`crate::STATUS_TTL`] bound).

use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use strongbox_crypto::jwt::{self, Unverified, VerifyKey};
use strongbox_types::{Error, Result};

use crate::error::AuthFailure;
use crate::status::CachedToken;
use crate::trusted_issuers::{TrustedIssuerRec, issuer_status, issuer_status_key};
use crate::user_tokens::{PrincipalMapping, UserTokens};
use crate::users::UserRec;
use crate::{Identity, Principal, SKEW, SecurityEvent, TOKEN_CACHE_MAX};

/// Longest lifetime accepted for a token of a trusted issuer (a federated assertion or an IdP
/// user token): 24 hours, counted as `exp - iat` when the token has `iat` and always as
/// `exp - now`. (Entra's own tokens live 60-90 minutes, Kubernetes projected tokens 1 hour by
/// default; a token valid for weeks is a stolen-token risk, not a real need.)
pub(crate) const MAX_FOREIGN_TOKEN_LIFETIME: i64 = 24 * 3600;
/// Seconds a snapshot of the trusted-issuer records serves foreign-token dispatch.
const ISSUER_SNAPSHOT_TTL: i64 = 5;

/// The object id of an `external` principal: a version-8 UUID made of the first 16 bytes of
/// SHA-256(`"strongbox-external-principal\n" ‖ issuer ‖ "\n" ‖ claim value`). Stable for as long
/// as the issuer URL and the person's claim value are.
pub fn external_object_id(issuer: &str, value: &str) -> String {
    let d = strongbox_crypto::sha256(format!("strongbox-external-principal\n{issuer}\n{value}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// The unverified `iss` of a compact JWS when it is present and is not `ours`. Used only to
/// choose the verification path; nothing is trusted before the signature is checked.
pub(crate) fn foreign_issuer(token: &str, ours: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    if payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = strongbox_crypto::b64url_decode(payload).ok()?;
    let iss = serde_json::from_slice::<Iss>(&bytes).ok()?.iss?;
    (!iss.is_empty() && iss != ours).then_some(iss)
}

/// Whether the IdP says the `email` claim is unverified (`email_verified` false): such an
/// address may have been typed by the person themself, so it names nobody here.
/// Whether a foreign token expiring at `exp` lives longer than [`MAX_FOREIGN_TOKEN_LIFETIME`]
/// (with [`SKEW`] on the `exp - now` count, for clock differences).
pub(crate) fn lifetime_too_long(u: &Unverified<'_>, exp: i64, now: i64) -> bool {
    let issued_long_ago = u.time_claim("iat").is_some_and(|iat| exp.saturating_sub(iat) > MAX_FOREIGN_TOKEN_LIFETIME);
    issued_long_ago || exp.saturating_sub(now) > MAX_FOREIGN_TOKEN_LIFETIME.saturating_add(SKEW)
}

fn email_unverified(claims: &Value) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

const INVALID_ISSUER: AuthFailure = AuthFailure("AKV10032: Invalid issuer.");
const BAD_SIGNATURE: AuthFailure = AuthFailure("AKV10031: Token signature validation failed.");
const UNKNOWN_KEY: AuthFailure = AuthFailure("AKV10046: Unable to resolve the key used for signature validation.");
const MALFORMED: AuthFailure = AuthFailure("AKV10000: Request is missing a Bearer or PoP token.");

fn keys_of(jwks: &Value) -> Vec<(Option<String>, VerifyKey)> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|k| {
                    let kid = k.get("kid").and_then(Value::as_str).map(str::to_owned);
                    VerifyKey::from_jwk(k).map(|v| (kid, v))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Identity {
    /// Validates a token whose `iss` is not ours against the trusted issuer of that URL (if it
    /// accepts user tokens), maps it to a principal and caches it under `digest`.
    pub(crate) async fn authenticate_external(
        &self,
        token: &str,
        digest: [u8; 32],
        iss: &str,
    ) -> Result<Principal, AuthFailure> {
        let u = jwt::parse(token).map_err(|_| MALFORMED)?;
        // A federation-only issuer is no more trusted on the data plane than an unknown one.
        let Some(mut rec) = self.user_token_issuer(iss).await.map_err(|_| INVALID_ISSUER)? else {
            return Err(INVALID_ISSUER);
        };
        let mut keys = keys_of(&rec.jwks);
        if let Some(kid) = &u.header.kid
            && !keys.iter().any(|(k, _)| k.as_deref() == Some(kid.as_str()))
        {
            // The IdP may have rotated its keys since they were fetched (throttled refresh).
            match self.refresh_issuer_for_unknown_kid(&rec).await {
                Some(fresh) => {
                    rec = fresh;
                    keys = keys_of(&rec.jwks);
                }
                None => return Err(UNKNOWN_KEY),
            }
        }
        let candidates: Vec<&VerifyKey> = match &u.header.kid {
            Some(kid) => keys.iter().filter(|(k, _)| k.as_deref() == Some(kid.as_str())).map(|(_, v)| v).collect(),
            None => keys.iter().map(|(_, v)| v).collect(),
        };
        if candidates.is_empty() {
            return Err(UNKNOWN_KEY);
        }
        if !candidates.iter().any(|k| u.verify(k).is_ok()) {
            return Err(BAD_SIGNATURE);
        }
        let settings = rec.user_tokens.clone().ok_or(INVALID_ISSUER)?;
        let now = self.now();
        let exp = u.time_claim("exp").ok_or(AuthFailure("AKV10022: Token is expired."))?;
        if now >= exp.saturating_add(SKEW) {
            return Err(AuthFailure("AKV10022: Token is expired."));
        }
        if u.time_claim("nbf").is_some_and(|nbf| nbf > now + SKEW) {
            return Err(AuthFailure("AKV10023: Token is not yet valid."));
        }
        if lifetime_too_long(&u, exp, now) {
            return Err(AuthFailure("AKV10022: Token lifetime exceeds the 24 hours accepted for external tokens."));
        }
        let auds = u.audiences();
        let aud_ok = auds.iter().any(|a| {
            settings
                .audiences
                .iter()
                .any(|want| a.trim_end_matches('/').eq_ignore_ascii_case(want.trim_end_matches('/')))
        });
        if !aud_ok {
            return Err(AuthFailure("AKV10022: Invalid audience."));
        }
        let issuer_key = issuer_status_key(&rec.name);
        let mapped = async {
            let (mut p, status_key, issuer_check) = self.map_external_user(&u, &rec, &settings).await?;
            p.token_groups = self.token_groups(&settings, &u.claims).await?;
            Ok::<_, AuthFailure>((p, status_key, issuer_check))
        };
        let (principal, status_key, issuer_check) = match mapped.await {
            Ok(v) => v,
            Err(f) => {
                self.security_event(SecurityEvent::new("signin.external", "failure", "", &rec.name, f.0)).await;
                return Err(f);
            }
        };
        let cred = match settings.principal_mapping {
            PrincipalMapping::External => Some(rec.issuer.clone()),
            PrincipalMapping::User => None,
        };
        self.put_status(&issuer_key, issuer_status(Some(&rec), now));
        if let Err(f) = self.check_status(&status_key, cred.as_deref()).await {
            self.security_event(SecurityEvent::new("signin.external", "failure", &principal.object_id, &rec.name, f.0))
                .await;
            return Err(f);
        }
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                digest,
                std::sync::Arc::new(CachedToken { principal: principal.clone(), exp, status_key, cred, issuer_check }),
            );
        }
        let mapping = match settings.principal_mapping {
            PrincipalMapping::User => "user",
            PrincipalMapping::External => "external",
        };
        self.security_event(SecurityEvent::new("signin.external", "success", &principal.object_id, &rec.name, mapping))
            .await;
        Ok(principal)
    }

    /// The trusted issuer with `iss` that accepts user tokens (several records may name the
    /// same issuer URL, e.g. one for federation only).
    async fn user_token_issuer(&self, iss: &str) -> Result<Option<TrustedIssuerRec>> {
        let all = self.issuer_records().await?;
        Ok(all.iter().find(|r| r.issuer == iss && r.user_tokens.is_some()).cloned())
    }

    /// Every trusted-issuer record, from a snapshot at most [`ISSUER_SNAPSHOT_TTL`] seconds old
    /// (other nodes' changes show within that; this node's at once, see
    /// [`Identity::forget_issuer_snapshot`]).
    async fn issuer_records(&self) -> Result<Arc<Vec<TrustedIssuerRec>>> {
        let now = self.now();
        if let Ok(snap) = self.issuer_snapshot.lock()
            && let Some((at, recs)) = snap.as_ref()
            && now >= *at
            && now - *at < ISSUER_SNAPSHOT_TTL
        {
            return Ok(recs.clone());
        }
        let rows: Vec<(String, TrustedIssuerRec)> = self.store.issuers.scan("", "", 1000).await?;
        let recs = Arc::new(rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>());
        if let Ok(mut snap) = self.issuer_snapshot.lock() {
            *snap = Some((now, recs.clone()));
        }
        Ok(recs)
    }

    /// Drops the issuer snapshot (after any write to a trusted-issuer record on this node).
    pub(crate) fn forget_issuer_snapshot(&self) {
        if let Ok(mut snap) = self.issuer_snapshot.lock() {
            *snap = None;
        }
    }

    /// The principal a verified token maps to, with its status key and (for local users) the
    /// issuer check `(status key, issuer URL)` made on every request.
    async fn map_external_user(
        &self,
        u: &Unverified<'_>,
        rec: &TrustedIssuerRec,
        settings: &UserTokens,
    ) -> Result<(Principal, String, Option<(String, String)>), AuthFailure> {
        let value = u
            .str_claim(&settings.user_claim)
            .filter(|v| !v.is_empty() && v.len() <= 600)
            .ok_or(AuthFailure("AKV10032: The token lacks the claim that identifies the user."))?;
        if settings.user_claim == "email" && email_unverified(&u.claims) {
            return Err(AuthFailure("AKV10032: The issuer has not verified the token's email address."));
        }
        let amr: Vec<String> = u
            .claims
            .get("amr")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).filter(|m| m.len() <= 32).take(16).map(str::to_owned).collect())
            .unwrap_or_default();
        let tenant_id = self.tenant_id.clone();
        match settings.principal_mapping {
            PrincipalMapping::External => {
                let object_id = external_object_id(&rec.issuer, value);
                let p = Principal { object_id, app_id: String::new(), tenant_id, amr, token_groups: Vec::new() };
                Ok((p, issuer_status_key(&rec.name), None))
            }
            PrincipalMapping::User => {
                let no_user = AuthFailure("AKV10032: The token's user is not known to this directory.");
                let in_domain = value
                    .rsplit_once('@')
                    .is_some_and(|(n, d)| !n.is_empty() && settings.domains.iter().any(|x| x.eq_ignore_ascii_case(d)));
                if !in_domain {
                    return Err(AuthFailure(
                        "AKV10032: The token's user is outside the domains this issuer is trusted for.",
                    ));
                }
                let oid = match self.store.user_names.get_bytes(&value.to_ascii_lowercase()).await {
                    Ok(Some(b)) => String::from_utf8(b.expose().to_vec()).map_err(|_| no_user.clone())?,
                    Ok(None) => return Err(no_user),
                    Err(_) => return Err(AuthFailure::UNCHECKED),
                };
                let key = self.store.users.key(&oid);
                let user: Option<UserRec> = self.store.users.get(&oid).await.map_err(|_| AuthFailure::UNCHECKED)?;
                let user = user.ok_or(no_user)?;
                let p = Principal {
                    object_id: user.object_id,
                    app_id: String::new(),
                    tenant_id,
                    amr,
                    token_groups: Vec::new(),
                };
                Ok((p, key, Some((issuer_status_key(&rec.name), rec.issuer.clone()))))
            }
        }
    }

    /// Refuses registering `issuer` under `name` when another trusted issuer has the same URL
    /// (trailing `/` ignored): the two would share external principal ids and federated
    /// matches. Re-registering under the same name (an update) is fine.
    pub(crate) async fn check_issuer_url_free(&self, name: &str, issuer: &str) -> Result<()> {
        let want = issuer.trim_end_matches('/');
        let rows: Vec<(String, TrustedIssuerRec)> = self.store.issuers.scan("", "", 1000).await?;
        for (_, other) in &rows {
            if !other.name.eq_ignore_ascii_case(name) && other.issuer.trim_end_matches('/') == want {
                return Err(Error::new(
                    strongbox_types::ErrorKind::Conflict,
                    format!(
                        "This issuer URL is already registered as the trusted issuer '{}'; update or delete that one \
                         instead (one issuer, one registration).",
                        other.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Refuses user-token settings whose `domains` another trusted issuer already holds.
    pub(crate) async fn check_domains_free(&self, name: &str, t: &UserTokens) -> Result<()> {
        if t.domains.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, TrustedIssuerRec)> = self.store.issuers.scan("", "", 1000).await?;
        for (_, other) in &rows {
            if other.name.eq_ignore_ascii_case(name) {
                continue;
            }
            let held = other.user_tokens.as_ref().map(|u| u.domains.as_slice()).unwrap_or_default();
            if let Some(d) = t.domains.iter().find(|d| held.iter().any(|h| h.eq_ignore_ascii_case(d))) {
                return Err(Error::new(
                    strongbox_types::ErrorKind::Conflict,
                    format!("The domain '{d}' is already federated to the trusted issuer '{}'.", other.name),
                ));
            }
        }
        Ok(())
    }

    /// Computes the object id an `external`-mapped person of trusted issuer `name` gets.
    pub async fn external_principal_id(&self, name: &str, value: &str) -> Result<String> {
        if value.is_empty() || value.len() > 600 {
            return Err(Error::bad("'value' must be 1-600 characters."));
        }
        let rec = self.trusted_issuer_by_name(name).await?;
        Ok(external_object_id(&rec.issuer, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user_tokens::{MAX_GROUP_MAP, MAX_GROUP_VALUES};
    use std::collections::BTreeMap;

    #[test]
    fn external_ids_are_stable_uuids_per_issuer() {
        let a = external_object_id("https://idp.example/", "alice@example.com");
        assert_eq!(a, external_object_id("https://idp.example/", "alice@example.com"));
        assert_ne!(a, external_object_id("https://other.example/", "alice@example.com"));
        assert_ne!(a, external_object_id("https://idp.example/", "bob@example.com"));
        let u = uuid::Uuid::parse_str(&a).unwrap_or_default();
        assert_eq!(u.get_version_num(), 8);
    }

    #[test]
    fn an_unverified_email_names_nobody() {
        use serde_json::json;
        for (c, want) in [
            (json!({"email": "a@x"}), false),
            (json!({"email": "a@x", "email_verified": true}), false),
            (json!({"email": "a@x", "email_verified": false}), true),
            (json!({"email": "a@x", "email_verified": "False"}), true),
        ] {
            assert_eq!(email_unverified(&c), want, "{c}");
        }
    }

    #[test]
    fn foreign_issuer_is_read_without_trusting_it() {
        let b = |v: &str| strongbox_crypto::b64url(v.as_bytes());
        let t = |c: &str| format!("{}.{}.sig", b(r#"{"alg":"RS256"}"#), b(c));
        assert_eq!(foreign_issuer(&t(r#"{"iss":"https://idp"}"#), "https://ours"), Some("https://idp".into()));
        assert_eq!(foreign_issuer(&t(r#"{"iss":"https://ours"}"#), "https://ours"), None);
        assert_eq!(foreign_issuer(&t(r#"{"sub":"x"}"#), "https://ours"), None);
        assert_eq!(foreign_issuer("garbage", "https://ours"), None);
    }

    #[test]
    fn settings_are_checked() {
        let ok = UserTokens {
            audiences: vec!["api://vault".into()],
            user_claim: "upn".into(),
            principal_mapping: PrincipalMapping::User,
            group_claim: None,
            group_map: BTreeMap::new(),
            domains: vec!["corp.example".into()],
        };
        assert!(ok.check().is_ok());
        assert!(UserTokens { audiences: vec![], ..ok.clone() }.check().is_err());
        assert!(UserTokens { user_claim: "name".into(), ..ok.clone() }.check().is_err());
        // the user mapping needs domains and a name@domain claim; external takes no domains
        assert!(UserTokens { domains: vec![], ..ok.clone() }.check().is_err());
        assert!(UserTokens { user_claim: "sub".into(), ..ok.clone() }.check().is_err());
        assert!(UserTokens { domains: vec!["Corp.example".into()], ..ok.clone() }.check().is_err());
        assert!(UserTokens { domains: vec!["a..b".into()], ..ok.clone() }.check().is_err());
        let mut n = UserTokens { domains: vec![" @Corp.Example".into(), "corp.example".into()], ..ok.clone() };
        n.normalize();
        assert_eq!(n.domains, vec!["corp.example".to_owned()]);
        assert!(n.check().is_ok());
        let ext = UserTokens { principal_mapping: PrincipalMapping::External, user_claim: "sub".into(), ..ok.clone() };
        assert!(ext.check().is_err(), "domains with the external mapping");
        assert!(UserTokens { domains: vec![], ..ext }.check().is_ok());
        let old: UserTokens = serde_json::from_str(r#"{"audiences":["a"]}"#).unwrap_or(ok.clone());
        assert_eq!(old.user_claim, "email");
        assert_eq!(old.principal_mapping, PrincipalMapping::User);
        assert!(old.group_claim.is_none() && old.group_map.is_empty());
        // group claim and map go together, within bounds
        let map = BTreeMap::from([("eng".to_owned(), "1b4e28ba-2fa1-4d2b-883f-0016d3cca427".to_owned())]);
        let grouped = UserTokens { group_claim: Some("groups".into()), group_map: map.clone(), ..ok.clone() };
        assert!(grouped.check().is_ok());
        assert!(UserTokens { group_claim: None, ..grouped.clone() }.check().is_err());
        assert!(UserTokens { group_map: BTreeMap::new(), ..grouped.clone() }.check().is_err());
        assert!(UserTokens { group_claim: Some("a b".into()), ..grouped.clone() }.check().is_err());
        let big = (0..=MAX_GROUP_MAP).map(|i| (format!("g{i}"), "x".to_owned())).collect();
        assert!(UserTokens { group_map: big, ..grouped.clone() }.check().is_err());
    }

    #[test]
    fn group_claims_map_only_listed_values() {
        let t = UserTokens {
            audiences: vec!["a".into()],
            user_claim: "email".into(),
            principal_mapping: PrincipalMapping::External,
            group_claim: Some("groups".into()),
            group_map: BTreeMap::from([
                ("Eng".to_owned(), "g-eng".to_owned()),
                ("ops".to_owned(), "g-ops".to_owned()),
                ("ops-alias".to_owned(), "g-ops".to_owned()),
            ]),
            domains: vec![],
        };
        let c = |v: Value| serde_json::json!({ "groups": v });
        assert_eq!(
            t.mapped_groups(&c(serde_json::json!(["Eng", "x", 7, "ops", "ops-alias"]))),
            vec!["g-eng".to_owned(), "g-ops".to_owned()]
        );
        assert_eq!(t.mapped_groups(&c(serde_json::json!("ops"))), vec!["g-ops".to_owned()]);
        assert!(t.mapped_groups(&c(serde_json::json!(["eng", "g-eng"]))).is_empty(), "exact values only");
        assert!(t.mapped_groups(&serde_json::json!({ "roles": ["Eng"] })).is_empty());
        let many: Vec<String> = (0..MAX_GROUP_VALUES).map(|i| format!("n{i}")).chain(["Eng".to_owned()]).collect();
        assert!(t.mapped_groups(&c(serde_json::json!(many))).is_empty(), "values past the cap are not read");
        let none = UserTokens { group_claim: None, group_map: BTreeMap::new(), ..t.clone() };
        assert!(none.mapped_groups(&c(serde_json::json!(["Eng"]))).is_empty());
    }
}
