//! Secure key release: exportable keys, their release policies and `POST …/release`.
//!
//! The policy grammar and its evaluation are `strongbox_authz::release_policy`'s; a policy is
//! checked there when it is set, so a stored policy always parses.
//!
//! A release verifies the caller's attestation token (`target`): a JWS from a registered
//! attestation authority (see `strongbox_identity::Identity::sign_release_response`), signature, `exp`/`nbf`/`iat`, a lifetime
//! (`exp` − `iat`, else `nbf`) of at most [`MAX_TOKEN_LIFETIME`], then the policy rules of that
//! authority. Dotted claim names are paths into nested objects only; a token that also holds a
//! claim literally named like (part of) such a path is refused as ambiguous. A token serves one
//! release: the first success records its hash in storage (`skrseen/{exp}/{sha256}`, shared by
//! every node, kept until the token expires), and any later use is refused.
//!
//! The key material (PKCS#8, or raw for `oct`) is wrapped to the RSA key the token carries in
//! `x-ms-runtime.keys` (the one with `kid` `TpmEphemeralEncryptionKey`, else the first RSA key)
//! per `enc`. HSM-backed keys cannot be exportable here: the PKCS#11 token generates them
//! non-extractable.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strongbox_authz::release_policy::{ReleaseDecision, ReleaseRules, claim};
use strongbox_barrier::BTxn;
use strongbox_crypto::release::{ReleaseEnc, release_material, wrap_for_release};
use strongbox_types::{Error, ErrorKind, ObjectName, Result};

use super::{KEYS, KeyPayload, KeyView, Keys, material_of};
use crate::Services;
use strongbox_identity::{SecurityEvent, jwk_verify_key};

pub(super) const DEFAULT_CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// Clock skew allowed on the attestation token's `exp`, `nbf` and `iat`.
const SKEW: i64 = 60;
/// The longest attestation token lifetime accepted: `exp` − `iat` (or `nbf`), 8 hours, which is
/// what Microsoft Azure Attestation issues. A longer-lived token is refused: it could be replayed
/// for longer than an attestation stays fresh.
pub(super) const MAX_TOKEN_LIFETIME: i64 = 8 * 3600;
/// How many expired "seen" records one release removes at most.
const SEEN_SWEEP: usize = 100;

/// A key version's release policy, as stored and shown (`data` is base64url of the policy JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    pub content_type: String,
    pub immutable: bool,
    pub data: String,
}

/// What a release returns before the API signs it: the key version and the wrapped material
/// (`key_hsm`: base64url of `{"schema_version", "header": {"kid", "alg", "enc"}, "ciphertext"}`).
#[derive(Debug)]
pub struct ReleasedKey {
    pub view: KeyView,
    pub enc: &'static str,
    pub key_hsm: String,
}

/// Inputs of `POST /keys/{name}/{version}/release`. `Debug` leaves out the token.
pub struct ReleaseRequest<'a> {
    pub target: &'a str,
    pub nonce: Option<&'a str>,
    pub enc: Option<&'a str>,
}

impl std::fmt::Debug for ReleaseRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReleaseRequest").field("target_len", &self.target.len()).field("enc", &self.enc).finish()
    }
}

fn invalid(why: impl std::fmt::Display) -> Error {
    Error::bad(format!("The key release policy is invalid: {why}"))
}
/// Checks a policy given on create, import or update; `content_type` defaults to JSON.
pub(crate) fn validate_policy(p: ReleasePolicy) -> Result<ReleasePolicy> {
    let content_type = if p.content_type.trim().is_empty() { DEFAULT_CONTENT_TYPE.to_owned() } else { p.content_type };
    if !content_type.to_ascii_lowercase().starts_with("application/json") {
        return Err(invalid("'contentType' must be application/json."));
    }
    let bytes =
        strongbox_crypto::b64url_decode(&p.data).map_err(|_| invalid("'data' is not base64url of a JSON document."))?;
    ReleaseRules::parse(&bytes).map_err(invalid)?;
    Ok(ReleasePolicy { content_type, immutable: p.immutable, data: strongbox_crypto::b64url(&bytes) })
}

/// Checks the export settings of a new key version.
pub(crate) fn check_new(hsm: bool, exportable: bool, policy: Option<&ReleasePolicy>) -> Result<()> {
    if exportable && policy.is_none() {
        return Err(Error::bad("An exportable key requires a release policy ('release_policy')."));
    }
    if exportable && hsm {
        return Err(Error::new(
            ErrorKind::NotImplemented,
            "Exportable HSM-protected keys are not supported: this server's PKCS#11 token keeps its keys non-extractable, so they could never be released. Use a software key type (RSA, EC) for secure key release.",
        ));
    }
    Ok(())
}

/// Applies an update's `release_policy` and `exportable` to a version's payload.
pub(crate) fn apply_update(p: &mut KeyPayload, policy: Option<&ReleasePolicy>, exportable: Option<bool>) -> Result<()> {
    if let Some(e) = exportable
        && e != p.exportable
    {
        return Err(Error::bad("The 'exportable' attribute of a key version cannot be changed after it is created."));
    }
    if let Some(new) = policy {
        if p.release_policy.as_ref().is_some_and(|cur| cur.immutable) {
            return Err(Error::bad("The key release policy is immutable and cannot be changed."));
        }
        p.release_policy = Some(new.clone());
    }
    Ok(())
}

/// The storage key recording that `token` (expiring at `exp`) was used for a release. Ordered by
/// expiry, so expired records are found by a scan from the start. Only the signed part
/// (`header.claims`) is hashed: the signature's encoding is not unique (padding a decoder
/// ignores, ECDSA's `(r, n - s)`), so hashing it would let one token pass as many.
#[cfg(test)]
fn seen_key(token: &str, exp: i64) -> String {
    format!("{}{}", strongbox_barrier::keyspace::RELEASE_TOKENS_SEEN.prefix, seen_rel(token, exp))
}

/// [`seen_key`] relative to `RELEASE_TOKENS_SEEN`.
fn seen_rel(token: &str, exp: i64) -> String {
    let exp = exp.clamp(0, crate::objects::MAX_TIMESTAMP);
    let signed = token.rsplit_once('.').map_or(token, |(signed, _sig)| signed);
    format!("{exp:012}/{}", strongbox_crypto::hex(&strongbox_crypto::sha256(signed.as_bytes())))
}

fn replayed() -> Error {
    denied("this attestation token has already been used for a key release; obtain a fresh token")
}

/// The RSA key to wrap to: `x-ms-runtime.keys[]` with `kid` `TpmEphemeralEncryptionKey`, else
/// the first RSA key there.
fn runtime_key(claims: &Value) -> Option<(Vec<u8>, Vec<u8>, String)> {
    let keys = claim(claims, "x-ms-runtime")?.get("keys")?.as_array()?;
    let rsa = |k: &&Value| k.get("kty").and_then(Value::as_str) == Some("RSA");
    let chosen = keys
        .iter()
        .filter(rsa)
        .find(|k| k.get("kid").and_then(Value::as_str) == Some("TpmEphemeralEncryptionKey"))
        .or_else(|| keys.iter().find(rsa))?;
    let n = strongbox_crypto::b64url_decode(chosen.get("n")?.as_str()?).ok()?;
    let e = strongbox_crypto::b64url_decode(chosen.get("e")?.as_str()?).ok()?;
    let kid = chosen.get("kid").and_then(Value::as_str).unwrap_or_default().to_owned();
    Some((n, e, kid))
}

fn denied(why: &str) -> Error {
    Error::new(
        ErrorKind::OperationNotPermitted,
        format!("Target environment attestation statement cannot be verified: {why}."),
    )
}

impl Keys {
    /// Records that `token` served a release, atomically across every node sharing the storage:
    /// refused when it already has. Also removes a few records of tokens that have expired.
    async fn consume_attestation_token(&self, token: &str, exp: i64, target: &str) -> Result<()> {
        let rel = seen_rel(token, exp);
        let rec = serde_json::json!({ "released": target, "at": self.clock.now() });
        if !self.releases_seen.create(&rel, &rec).await? {
            return Err(replayed());
        }
        // A record is needed while its token is accepted (until exp + SKEW).
        let cutoff = format!("{:012}/", self.clock.now().saturating_sub(SKEW).max(0));
        if let Ok(keys) = self.releases_seen.scan_keys("", "", SEEN_SWEEP).await {
            let expired: Vec<String> = keys.into_iter().filter(|k| k.as_str() < cutoff.as_str()).collect();
            if !expired.is_empty() {
                let txn = expired.iter().fold(BTxn::new(), |t, k| self.releases_seen.delete(t, k));
                if let Err(e) = self.releases_seen.commit(txn).await {
                    tracing::debug!(error = %e, "could not remove expired key release records");
                }
            }
        }
        Ok(())
    }

    async fn attestation_token_seen(&self, token: &str, exp: i64) -> Result<bool> {
        self.releases_seen.exists(&seen_rel(token, exp)).await
    }
}

impl Services {
    /// Verifies the attestation token and returns its claims and authority; errors carry a
    /// stable reason code for the audit event. Nothing of the token is echoed.
    /// Returns the claims, the authority and the token's `exp`.
    async fn verify_attestation(
        &self,
        token: &str,
    ) -> std::result::Result<(Value, String, i64), (Error, &'static str)> {
        let parsed = strongbox_crypto::jwt::parse(token).map_err(|_| {
            (Error::bad("The 'target' member is not a signed attestation token (compact JWS)."), "malformed")
        })?;
        let iss = parsed.str_claim("iss").unwrap_or_default();
        let rec = match self.identity.attestation_authority(iss).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err((
                    denied("the token's issuer is not a registered attestation authority"),
                    "untrusted-issuer",
                ));
            }
            Err(e) => return Err((e, "storage")),
        };
        let verifies = |jwks: &Value| -> (bool, bool) {
            let keys = jwks.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
            let kid = parsed.header.kid.as_deref();
            let matching: Vec<&Value> =
                keys.iter().filter(|k| kid.is_none() || k.get("kid").and_then(Value::as_str) == kid).collect();
            let ok = matching.iter().filter_map(|k| jwk_verify_key(k)).any(|k| parsed.verify(&k).is_ok());
            (ok, !matching.is_empty())
        };
        let (mut ok, known_kid) = verifies(&rec.jwks);
        if !ok
            && !known_kid
            && let Some(fresh) = self.identity.refresh_attestation_authority(&rec).await
        {
            ok = verifies(&fresh.jwks).0;
        }
        if !ok {
            return Err((denied("the token's signature does not verify with the authority's keys"), "bad-signature"));
        }
        let now = self.now();
        let exp = match parsed.time_claim("exp") {
            Some(exp) if now <= exp.saturating_add(SKEW) => exp,
            _ => return Err((denied("the token has expired or has no expiry"), "expired")),
        };
        let (nbf, iat) = (parsed.time_claim("nbf"), parsed.time_claim("iat"));
        if nbf.is_some_and(|t| now.saturating_add(SKEW) < t) || iat.is_some_and(|t| now.saturating_add(SKEW) < t) {
            return Err((denied("the token is not valid yet"), "not-yet-valid"));
        }
        // The lifetime is measured from issue (else from nbf); a token with neither cannot show
        // that it is fresh.
        let lifetime = iat.or(nbf).and_then(|start| exp.checked_sub(start));
        if lifetime.is_none_or(|l| l > MAX_TOKEN_LIFETIME + SKEW) {
            let why = format!(
                "the token's lifetime (exp - iat, or exp - nbf) must be at most {} hours, and 'iat' or 'nbf' is required",
                MAX_TOKEN_LIFETIME / 3600
            );
            return Err((denied(&why), "lifetime"));
        }
        Ok((parsed.claims, rec.authority, exp))
    }

    /// `POST /keys/{name}/{version}/release`. `actor` is the caller's object id (for the
    /// security event).
    pub async fn release_key(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        req: ReleaseRequest<'_>,
        actor: &str,
    ) -> Result<ReleasedKey> {
        let enc = ReleaseEnc::parse(req.enc)?;
        let v = self.vaults.record(vault).await?;
        let oname = ObjectName::parse(name)?;
        let o = self.keys.store.get(&v, &oname, version.filter(|s| !s.is_empty())).await?;
        let target_id = format!("{}/{}/{}", v.name, o.name, o.meta.version);
        let p = o.payload.clone().ok_or_else(|| Error::internal("key payload missing"))?;
        let now = self.now();
        let result = async {
            if !o.meta.enabled {
                return Err((Error::new(KEYS.disabled, "Operation release is not allowed on a disabled key."), "disabled"));
            }
            if o.meta.nbf.is_some_and(|n| now < n) || o.meta.exp.is_some_and(|e| now >= e) {
                let e = Error::new(
                    ErrorKind::OperationNotPermitted,
                    "Operation release is not allowed: the key is not yet valid or has expired.",
                );
                return Err((e, "key-not-valid"));
            }
            if p.hsm.is_some() {
                let e = Error::new(
                    ErrorKind::NotImplemented,
                    "HSM-protected keys cannot be released by this server: the PKCS#11 token keeps them non-extractable.",
                );
                return Err((e, "hsm"));
            }
            let policy = match (&p.release_policy, p.exportable) {
                (Some(pol), true) => pol,
                _ => {
                    let e = Error::new(
                        ErrorKind::OperationNotPermitted,
                        "The key is not exportable: only keys created or imported as exportable, with a release policy, can be released.",
                    );
                    return Err((e, "not-exportable"));
                }
            };
            let bytes = strongbox_crypto::b64url_decode(&policy.data).map_err(|e| (e, "policy"))?;
            let rules = ReleaseRules::parse(&bytes).map_err(|e| (invalid(e), "policy"))?;
            let (claims, authority, token_exp) = self.verify_attestation(req.target).await?;
            if self.keys.attestation_token_seen(req.target, token_exp).await.map_err(|e| (e, "storage"))? {
                return Err((replayed(), "replayed"));
            }
            match rules.evaluate(&authority, &claims) {
                ReleaseDecision::Granted => {}
                ReleaseDecision::Ambiguous(path) => {
                    let why = format!("the token holds the claim '{path}' both as a dotted name and as nested objects");
                    return Err((denied(&why), "ambiguous-claim"));
                }
                ReleaseDecision::NotSatisfied => {
                    let why = "the token's claims do not satisfy the key's release policy";
                    return Err((denied(why), "policy-not-satisfied"));
                }
            }
            let (n, e, runtime_kid) = runtime_key(&claims).ok_or_else(|| {
                let e = Error::bad(
                    "The attestation token carries no RSA runtime key ('x-ms-runtime.keys') to wrap the released key to.",
                );
                (e, "no-runtime-key")
            })?;
            let material = material_of(&p).map_err(|e| (e, "material"))?;
            let plain = release_material(&material).map_err(|e| (e, "material"))?;
            let ct = wrap_for_release(enc, &n, &e, plain.expose()).map_err(|e| (e, "wrap"))?;
            let blob = serde_json::json!({
                "schema_version": "1.0",
                "header": { "kid": runtime_kid, "alg": "dir", "enc": enc.as_str() },
                "ciphertext": strongbox_crypto::b64url(&ct),
            });
            let blob = serde_json::to_vec(&blob).map_err(|_| (Error::internal("release blob encoding"), "encode"))?;
            // Last, so a refused request does not use up the token; atomic, so two concurrent
            // uses (on any nodes) cannot both succeed.
            self.keys.consume_attestation_token(req.target, token_exp, &target_id).await.map_err(|e| {
                let reason = if e.kind == ErrorKind::OperationNotPermitted { "replayed" } else { "storage" };
                (e, reason)
            })?;
            Ok((strongbox_crypto::b64url(&blob), authority))
        }
        .await;
        match result {
            Ok((key_hsm, authority)) => {
                self.identity
                    .security_event(SecurityEvent::new("KeyRelease", "success", actor, &target_id, &authority))
                    .await;
                let view = self.keys.view(&v, o)?;
                Ok(ReleasedKey { view, enc: enc.as_str(), key_hsm })
            }
            Err((e, reason)) => {
                self.identity
                    .security_event(SecurityEvent::new("KeyRelease", "failure", actor, &target_id, reason))
                    .await;
                Err(e)
            }
        }
    }

    /// Signs the release response payload the API built (see `strongbox_identity::Identity::sign_release_response`).
    pub fn sign_release(&self, payload: &Value) -> Result<String> {
        self.identity.sign_release_response(payload)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    const A: &str = "https://attest.example";

    #[test]
    fn seen_keys_sort_by_expiry_and_hide_the_token() {
        let a = seen_key("header.claims.sig", 1_800_000_000);
        assert!(a.starts_with("skrseen/001800000000/"));
        assert!(!a.contains("claims"));
        assert!(seen_key("t", 5) < seen_key("t", 1_000));
        assert_eq!(seen_key("t", i64::MAX), seen_key("t", crate::objects::MAX_TIMESTAMP));
        assert_ne!(seen_key("h.c1.s", 5), seen_key("h.c2.s", 5));
        // another encoding of the same signature is the same token
        assert_eq!(seen_key("h.c.sig", 5), seen_key("h.c.sig==", 5));
        assert_eq!(seen_key("h.c.sig", 5), seen_key("h.c.other", 5));
    }

    #[test]
    fn bad_policies_are_refused_clearly() {
        let doc = |v: Value| strongbox_crypto::b64url(&serde_json::to_vec(&v).unwrap());
        let set = |data: String| validate_policy(ReleasePolicy { content_type: String::new(), immutable: false, data });
        // the grammar's own refusals (strongbox_authz::release_policy) reach the caller as 400s
        let e = set(doc(
            json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [{"claim": "c", "notEquals": 1}]}]}),
        ))
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadParameter);
        assert!(e.message.starts_with("The key release policy is invalid: ") && e.message.contains("notEquals"));
        assert!(set("!!".into()).unwrap_err().message.contains("base64url"));
        let ok =
            set(doc(json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [{"claim": "c", "equals": 1}]}]})))
                .unwrap();
        assert_eq!(ok.content_type, DEFAULT_CONTENT_TYPE);
    }

    #[test]
    fn runtime_key_prefers_the_tpm_ephemeral_key() {
        let c = json!({"x-ms-runtime": {"keys": [
            {"kty": "RSA", "kid": "other", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "TpmEphemeralEncryptionKey", "n": "AQID", "e": "AQAB"}
        ]}});
        assert_eq!(runtime_key(&c).unwrap().2, "TpmEphemeralEncryptionKey");
        assert!(runtime_key(&json!({"x-ms-runtime": {}})).is_none());
    }

    #[test]
    fn immutable_policy_cannot_change() {
        let pol = ReleasePolicy { content_type: DEFAULT_CONTENT_TYPE.into(), immutable: true, data: "e30".into() };
        let mut p = KeyPayload {
            kty: "RSA".into(),
            key_ops: vec![],
            material: Default::default(),
            hsm: None,
            exportable: true,
            release_policy: Some(pol.clone()),
        };
        let e = apply_update(&mut p, Some(&pol), None).unwrap_err();
        assert!(e.message.contains("immutable"));
        assert!(apply_update(&mut p, None, Some(false)).is_err());
        assert!(apply_update(&mut p, None, Some(true)).is_ok());
    }
}
