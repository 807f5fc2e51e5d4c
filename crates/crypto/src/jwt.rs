//! Verification of JWTs that others sign: client assertions (RFC 7523) signed by a registered
//! certificate's key, and federated tokens from a trusted issuer (verified against its JWKS).
//!
//! Accepted algorithms: RS256/384/512, PS256/384/512 and ES256/ES384, each only with a key of the
//! matching type. `none` and HMAC are refused outright, so there is no algorithm confusion.
//! Also: X.509 parsing for registered client certificates (thumbprints, public key, validity)
//! and the TOTP (RFC 6238) code function.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;
use strongbox_types::{Error, Result};

use crate::{b64url_decode, jws::JwsError};

/// A public key that can verify a foreign JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyKey {
    /// Big-endian modulus and exponent, without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed point (`04 ‖ x ‖ y`) on P-256 (65 bytes) or P-384 (97 bytes).
    Ec { point: Vec<u8> },
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    b.iter().copied().skip_while(|&x| x == 0).collect()
}

impl VerifyKey {
    /// From one JWKS entry (`kty` RSA with `n`/`e`, or EC P-256/P-384 with `x`/`y`).
    pub fn from_jwk(jwk: &Value) -> Option<Self> {
        let s = |k: &str| jwk.get(k).and_then(Value::as_str);
        match s("kty")? {
            "RSA" => Some(Self::Rsa {
                n: strip_zeros(&b64url_decode(s("n")?).ok()?),
                e: strip_zeros(&b64url_decode(s("e")?).ok()?),
            }),
            "EC" => {
                let len = match s("crv")? {
                    "P-256" => 32,
                    "P-384" => 48,
                    _ => return None,
                };
                let x = b64url_decode(s("x")?).ok()?;
                let y = b64url_decode(s("y")?).ok()?;
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Some(Self::Ec { point })
            }
            _ => None,
        }
    }

    /// Short description for listings (`RSA-2048`, `EC-P256`).
    pub fn describe(&self) -> String {
        match self {
            Self::Rsa { n, .. } => format!("RSA-{}", n.len() * 8),
            Self::Ec { point } if point.len() == 97 => "EC-P384".into(),
            Self::Ec { .. } => "EC-P256".into(),
        }
    }
}

/// The JOSE header fields we look at.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwtHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    /// SHA-1 thumbprint of the signing certificate, base64url (MSAL pads it with `=`).
    #[serde(default)]
    pub x5t: Option<String>,
    #[serde(default, rename = "x5t#S256")]
    pub x5t_s256: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
}

/// A parsed but not yet verified compact JWS.
pub struct Unverified<'a> {
    pub header: JwtHeader,
    pub claims: Value,
    signed: &'a str,
    sig: Vec<u8>,
}

impl std::fmt::Debug for Unverified<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unverified").field("alg", &self.header.alg).finish_non_exhaustive()
    }
}

/// Splits and decodes a compact JWS (header and claims must be JSON objects).
pub fn parse(token: &str) -> Result<Unverified<'_>, JwsError> {
    if token.len() > 16 * 1024 {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };
    let header: JwtHeader =
        b64url_decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(JwsError::Malformed)?;
    let claims: Value =
        b64url_decode(c).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(JwsError::Malformed)?;
    if !claims.is_object() {
        return Err(JwsError::Malformed);
    }
    let sig = b64url_decode(s).map_err(|_| JwsError::Malformed)?;
    let signed = token.get(..h.len() + 1 + c.len()).ok_or(JwsError::Malformed)?;
    Ok(Unverified { header, claims, signed, sig })
}

impl Unverified<'_> {
    /// Checks the signature with `key` under the header's `alg`.
    pub fn verify(&self, key: &VerifyKey) -> Result<(), JwsError> {
        let msg = self.signed.as_bytes();
        let ok = match (self.header.alg.as_str(), key) {
            (alg @ ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"), VerifyKey::Rsa { n, e }) => {
                let params: &signature::RsaParameters = match alg {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                    "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                    "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.verify(params, msg, &self.sig).is_ok()
            }
            ("ES256", VerifyKey::Ec { point }) if point.len() == 65 => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(msg, &self.sig).is_ok()
            }
            ("ES384", VerifyKey::Ec { point }) if point.len() == 97 => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point).verify(msg, &self.sig).is_ok()
            }
            ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384", _) => false,
            _ => return Err(JwsError::Malformed),
        };
        if ok { Ok(()) } else { Err(JwsError::BadSignature) }
    }

    /// A string claim.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric date claim; floats (MSAL sends them) are truncated.
    pub fn time_claim(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        #[allow(clippy::cast_possible_truncation)]
        v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64))
    }

    /// `aud` as a list (it may be a string or an array).
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        }
    }
}

/// What we keep of a registered client certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub sha1: [u8; 20],
    pub sha256: [u8; 32],
    pub key: VerifyKey,
    pub not_before: i64,
    pub not_after: i64,
    pub subject: String,
    pub der: Vec<u8>,
}

/// Parses one certificate given as PEM (the first `CERTIFICATE` block) or DER.
pub fn parse_certificate(data: &[u8]) -> Result<CertInfo> {
    let bad = || Error::bad("The certificate could not be parsed: give a PEM or DER X.509 certificate.");
    let der = if data.windows(11).any(|w| w == b"-----BEGIN ") {
        let mut found = None;
        for pem in x509_parser::pem::Pem::iter_from_buffer(data) {
            let pem = pem.map_err(|_| bad())?;
            if pem.label == "CERTIFICATE" {
                found = Some(pem.contents);
                break;
            }
        }
        found.ok_or_else(bad)?
    } else {
        data.to_vec()
    };
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&der).map_err(|_| bad())?;
    let key = match cert.public_key().parsed().map_err(|_| bad())? {
        x509_parser::public_key::PublicKey::RSA(r) => {
            VerifyKey::Rsa { n: strip_zeros(r.modulus), e: strip_zeros(r.exponent) }
        }
        x509_parser::public_key::PublicKey::EC(p) if matches!(p.data().len(), 65 | 97) => {
            VerifyKey::Ec { point: p.data().to_vec() }
        }
        _ => return Err(Error::bad("The certificate's key must be RSA or EC P-256/P-384.")),
    };
    let sha1d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let mut sha1 = [0u8; 20];
    sha1.copy_from_slice(sha1d.as_ref());
    Ok(CertInfo {
        sha1,
        sha256: crate::sha256(&der),
        key,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        subject: cert.subject().to_string(),
        der,
    })
}

/// A P-256 key and a self-signed client certificate for it (CN = `common_name`), valid between
/// the two Unix times: what `strongbox agent` registers for its managed identity.
pub fn generate_client_certificate(
    common_name: &str,
    not_before: i64,
    not_after: i64,
) -> Result<(String, strongbox_types::SecretBytes)> {
    let err = |_| Error::internal("client certificate generation failed");
    let key = rcgen::KeyPair::generate().map_err(err)?;
    let mut p = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    p.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).map_err(|_| Error::bad("bad time"))?;
    p.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).map_err(|_| Error::bad("bad time"))?;
    let cert = p.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), strongbox_types::SecretBytes::new(key.serialize_der())))
}

/// Signs `claims` under `header` (which must say `"alg": "ES256"`) with a P-256 PKCS#8 key.
pub fn sign_es256(pkcs8: &strongbox_types::SecretBytes, header: &Value, claims: &Value) -> Result<String> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.expose())
        .map_err(|_| Error::bad("the key is not a P-256 PKCS#8 key"))?;
    let mut out = crate::b64url(header.to_string().as_bytes());
    out.push('.');
    out.push_str(&crate::b64url(claims.to_string().as_bytes()));
    let sig = pair
        .sign(&aws_lc_rs::rand::SystemRandom::new(), out.as_bytes())
        .map_err(|_| Error::internal("ES256 signing failed"))?;
    out.push('.');
    out.push_str(&crate::b64url(sig.as_ref()));
    Ok(out)
}

/// Time-based one-time password (RFC 6238 with RFC 4226 truncation): HMAC-SHA1, 30 s steps,
/// 6 digits — what authenticator apps use by default.
pub fn totp(secret: &[u8], unix_time: i64, step: i64, digits: u32) -> u32 {
    let counter = (unix_time.max(0) / step.max(1)) as u64;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = aws_lc_rs::hmac::sign(&key, &counter.to_be_bytes());
    let h = tag.as_ref();
    // RFC 4226 §5.3 dynamic truncation: the low nibble of the last byte (the 20th of an
    // HMAC-SHA1 tag) is the offset (at most 15) of the 4 bytes that make the 31-bit code.
    let off = h.last().map_or(0, |&b| usize::from(b & 0x0f));
    let word = h.get(off..).and_then(<[u8]>::first_chunk::<4>).map_or(0, |w| u32::from_be_bytes(*w));
    let bin = word & 0x7fff_ffff;
    bin % 10u32.pow(digits.min(9))
}

/// RFC 4648 base32 without padding (the `secret=` of an otpauth URI).
pub fn base32(data: &[u8]) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.extend(A.get(((buf >> bits) & 31) as usize).map(|&c| char::from(c)));
        }
    }
    if bits > 0 {
        out.extend(A.get(((buf << (5 - bits)) & 31) as usize).map(|&c| char::from(c)));
    }
    out
}

/// Constant-time equality of two byte strings (the length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64url;

    #[test]
    fn totp_matches_rfc6238_sha1_vectors() {
        let secret = b"12345678901234567890";
        // RFC 6238 Appendix B, SHA-1, 8 digits
        assert_eq!(totp(secret, 59, 30, 8), 94287082);
        assert_eq!(totp(secret, 1111111109, 30, 8), 7081804);
        assert_eq!(totp(secret, 1234567890, 30, 8), 89005924);
        assert_eq!(totp(secret, 20000000000, 30, 8), 65353130);
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn es256_and_rs256_and_ps256_verify() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // ES256 via our own signer
        let k = crate::jws::SigningKey::generate("k".into()).unwrap();
        let t = k.sign(&serde_json::json!({"a": 1})).unwrap();
        let u = parse(&t).unwrap();
        let point = k.public().point;
        u.verify(&VerifyKey::Ec { point: point.clone() }).unwrap();
        let other = crate::jws::SigningKey::generate("k".into()).unwrap().public().point;
        assert_eq!(u.verify(&VerifyKey::Ec { point: other }), Err(JwsError::BadSignature));
        // RSA
        use aws_lc_rs::signature::KeyPair;
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pk = kp.public_key();
        let comps: aws_lc_rs::rsa::PublicKeyComponents<Vec<u8>> = pk.into();
        let key = VerifyKey::Rsa { n: strip_zeros(&comps.n), e: strip_zeros(&comps.e) };
        for (alg, pad) in [
            ("RS256", &signature::RSA_PKCS1_SHA256 as &dyn signature::RsaEncoding),
            ("PS256", &signature::RSA_PSS_SHA256),
        ] {
            let signed = format!("{}.{}", b64url(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()), b64url(b"{}"));
            let mut sig = vec![0u8; kp.public_modulus_len()];
            kp.sign(pad, &rng, signed.as_bytes(), &mut sig).unwrap();
            let tok = format!("{signed}.{}", b64url(&sig));
            parse(&tok).unwrap().verify(&key).unwrap();
            // wrong key type for the algorithm
            assert_eq!(
                parse(&tok).unwrap().verify(&VerifyKey::Ec { point: point.clone() }),
                Err(JwsError::BadSignature)
            );
        }
        let none = format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(b"{}"));
        assert_eq!(parse(&none).unwrap().verify(&key), Err(JwsError::Malformed));
        let hs = format!("{}.{}.AAAA", b64url(br#"{"alg":"HS256"}"#), b64url(b"{}"));
        assert_eq!(parse(&hs).unwrap().verify(&key), Err(JwsError::Malformed));
    }

    #[test]
    fn certificate_thumbprints_and_key() {
        let ca = crate::x509::generate_ca("Client").unwrap();
        let info = parse_certificate(ca.cert.as_bytes()).unwrap();
        assert!(matches!(&info.key, VerifyKey::Ec { point } if point.len() == 65));
        assert!(info.not_after > info.not_before);
        assert!(info.subject.contains("Client"));
        let again = parse_certificate(&info.der).unwrap();
        assert_eq!(again.sha1, info.sha1);
        assert!(parse_certificate(b"garbage").is_err());
    }

    #[test]
    fn agent_certificates_sign_verifiable_assertions() {
        let (pem, key) = generate_client_certificate("agent", 1_700_000_000, 1_900_000_000).unwrap();
        let info = parse_certificate(pem.as_bytes()).unwrap();
        assert_eq!((info.not_before, info.not_after), (1_700_000_000, 1_900_000_000));
        let t = sign_es256(&key, &serde_json::json!({"alg": "ES256"}), &serde_json::json!({"x": 1})).unwrap();
        parse(&t).unwrap().verify(&info.key).unwrap();
        assert!(!format!("{key:?}").contains(&crate::hex(key.expose())));
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
