//! Compact JWS with ES256 only (RFC 7515 / RFC 7518 §3.4), used for the token service.
//!
//! Verification accepts exactly `alg = ES256` and a `kid` we issued; there is no algorithm
//! negotiation, so `none`/HMAC confusion attacks have nothing to work with.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use serde::{Deserialize, Serialize};
use strongbox_types::{Error, Result, SecretBytes};

use crate::{b64url, b64url_decode};

/// A P-256 signing key for tokens. Holds the private key; prints only its id.
pub struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
    pkcs8: SecretBytes,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate(kid: String) -> Result<Self> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| Error::internal("P-256 key generation failed"))?;
        Self::from_pkcs8(kid, SecretBytes::new(doc.as_ref().to_vec()))
    }

    pub fn from_pkcs8(kid: String, pkcs8: SecretBytes) -> Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.expose())
            .map_err(|_| Error::internal("stored token signing key is not a P-256 PKCS#8 key"))?;
        Ok(Self { kid, pair, pkcs8 })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn pkcs8(&self) -> &SecretBytes {
        &self.pkcs8
    }

    pub fn public(&self) -> PublicKey {
        PublicKey { kid: self.kid.clone(), point: self.pair.public_key().as_ref().to_vec() }
    }

    /// Signs `claims` as a compact JWS with header `{alg: ES256, typ: JWT, kid}`.
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let h = serde_json::to_vec(&header).map_err(|_| Error::internal("header encoding"))?;
        let c = serde_json::to_vec(claims).map_err(|_| Error::internal("claims encoding"))?;
        let mut out = b64url(&h);
        out.push('.');
        out.push_str(&b64url(&c));
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self.pair.sign(&rng, out.as_bytes()).map_err(|_| Error::internal("ES256 signing failed"))?;
        out.push('.');
        out.push_str(&b64url(sig.as_ref()));
        Ok(out)
    }
}

/// The public half of a [`SigningKey`]: an uncompressed P-256 point (`04 ‖ x ‖ y`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub point: Vec<u8>,
}

/// One entry of a JWKS document (RFC 7517).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub kid: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl PublicKey {
    pub fn jwk(&self) -> Jwk {
        let (x, y) = self.point.get(1..).unwrap_or_default().split_at(self.point.len().saturating_sub(1) / 2);
        Jwk {
            kty: "EC".into(),
            use_: "sig".into(),
            alg: "ES256".into(),
            kid: self.kid.clone(),
            crv: "P-256".into(),
            x: b64url(x),
            y: b64url(y),
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Why a token failed verification. Deliberately coarse: details go to the log, not the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsError {
    Malformed,
    UnknownKey,
    BadSignature,
}

/// Verifies a compact JWS against `keys` (found by `kid`) and returns the decoded claims.
pub fn verify<C: for<'de> Deserialize<'de>>(token: &str, keys: &[PublicKey]) -> Result<C, JwsError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };
    let header: Header =
        b64url_decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(JwsError::Malformed)?;
    if header.alg != "ES256" {
        return Err(JwsError::Malformed);
    }
    let kid = header.kid.ok_or(JwsError::UnknownKey)?;
    let key = keys.iter().find(|k| k.kid == kid).ok_or(JwsError::UnknownKey)?;
    let sig = b64url_decode(s).map_err(|_| JwsError::Malformed)?;
    let signed_len = h.len() + 1 + c.len();
    let signed = token.get(..signed_len).ok_or(JwsError::Malformed)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| JwsError::BadSignature)?;
    let claims = b64url_decode(c).map_err(|_| JwsError::Malformed)?;
    serde_json::from_slice(&claims).map_err(|_| JwsError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject() {
        let k = SigningKey::generate("k1".into()).unwrap();
        let t = k.sign(&serde_json::json!({"sub": "x", "n": 1})).unwrap();
        let c: serde_json::Value = verify(&t, &[k.public()]).unwrap();
        assert_eq!(c["sub"], "x");
        // another key with the same kid must not verify
        let k2 = SigningKey::generate("k1".into()).unwrap();
        assert_eq!(verify::<serde_json::Value>(&t, &[k2.public()]).unwrap_err(), JwsError::BadSignature);
        // tampered claims
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64url(br#"{"sub":"admin","n":1}"#);
        parts[1] = &forged;
        assert!(verify::<serde_json::Value>(&parts.join("."), &[k.public()]).is_err());
        // alg none
        let none = format!("{}.{}.", b64url(br#"{"alg":"none","kid":"k1"}"#), b64url(b"{}"));
        assert_eq!(verify::<serde_json::Value>(&none, &[k.public()]).unwrap_err(), JwsError::Malformed);
        assert!(!format!("{k:?}").contains(&crate::hex(k.pkcs8().expose())));
    }

    #[test]
    fn jwk_coordinates_are_32_bytes() {
        let k = SigningKey::generate("k".into()).unwrap();
        let j = k.public().jwk();
        assert_eq!(b64url_decode(&j.x).unwrap().len(), 32);
        assert_eq!(b64url_decode(&j.y).unwrap().len(), 32);
    }
}
