//! The JSON Web Key as Key Vault sends and receives it, and importing a private JWK: every
//! member is decoded and checked here, with messages that name the problem but never the key
//! material.

use std::fmt;

use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{EcdsaKeyPair, ParsedPublicKey, RsaKeyPair};
use serde::{Deserialize, Serialize};
use strongbox_types::{Error, ErrorKind, Result, SecretBytes};
use zeroize::Zeroizing;

use super::algorithms::{Curve, KeyKind, OCT_SIZES, RSA_EXPONENT, RSA_SIZES, rsa_size_error};
use super::der::{bit_len, strip_leading_zeros};
use super::private::KeyMaterial;
use crate::b64url_decode;

/// A JSON Web Key as Key Vault sends and receives it (wire §5.1; RFC 7517/7518 member names).
/// Private members (`d`, `dp`, `dq`, `qi`, `p`, `q`, `k`) are only ever accepted on import and
/// never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonWebKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    /// BYOK protected key blob (`key_hsm`), import only.
    #[serde(rename = "key_hsm", skip_serializing_if = "Option::is_none")]
    pub key_hsm: Option<String>,
}

impl JsonWebKey {
    /// Whether any private member (`d`, `dp`, `dq`, `qi`, `p`, `q`, `k`) is present.
    pub fn has_private_members(&self) -> bool {
        [&self.d, &self.dp, &self.dq, &self.qi, &self.p, &self.q, &self.k].iter().any(|m| m.is_some())
    }
}

impl fmt::Debug for JsonWebKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn redact(m: &Option<String>) -> Option<&'static str> {
            m.as_ref().map(|_| "[REDACTED]")
        }
        f.debug_struct("JsonWebKey")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("key_ops", &self.key_ops)
            .field("n", &self.n)
            .field("e", &self.e)
            .field("d", &redact(&self.d))
            .field("dp", &redact(&self.dp))
            .field("dq", &redact(&self.dq))
            .field("qi", &redact(&self.qi))
            .field("p", &redact(&self.p))
            .field("q", &redact(&self.q))
            .field("crv", &self.crv)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("k", &redact(&self.k))
            .field("key_hsm", &self.key_hsm.as_ref().map(|b| format!("[{} chars]", b.len())))
            .finish()
    }
}

impl KeyMaterial {
    /// Imports a private JWK (`kty` `RSA`/`EC`/`oct`, with or without `-HSM`). Every rejection is
    /// `BadParameter` with a message naming the problem but never the key material.
    pub fn import_jwk(jwk: &JsonWebKey) -> Result<Self> {
        if jwk.key_hsm.is_some() {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "Importing a protected key blob ('key_hsm', BYOK) is not supported.",
            ));
        }
        let kty = jwk.kty.as_deref().ok_or_else(|| Error::bad("The key's 'kty' member is required."))?;
        match kty {
            "RSA" | "RSA-HSM" => import_rsa(jwk),
            "EC" | "EC-HSM" => import_ec(jwk),
            "oct" | "oct-HSM" => import_oct(jwk),
            _ => {
                Err(Error::bad("The key type ('kty') is not supported; use RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM."))
            }
        }
    }
}

/// A required JWK member, base64url-decoded into zeroizing memory.
fn member(value: &Option<String>, name: &str, kty: &str) -> Result<Zeroizing<Vec<u8>>> {
    let s = value.as_deref().ok_or_else(|| Error::bad(format!("The {kty} key is missing the '{name}' member.")))?;
    let bytes = Zeroizing::new(
        b64url_decode(s).map_err(|_| Error::bad(format!("The '{name}' member is not valid base64url.")))?,
    );
    if bytes.is_empty() {
        return Err(Error::bad(format!("The '{name}' member is empty.")));
    }
    Ok(bytes)
}

fn import_rsa(jwk: &JsonWebKey) -> Result<KeyMaterial> {
    // Public members first, so a public-only JWK gets a message about the missing private part.
    let n_raw = member(&jwk.n, "n", "RSA")?;
    let e_raw = member(&jwk.e, "e", "RSA")?;
    let n = strip_leading_zeros(&n_raw);
    let e = strip_leading_zeros(&e_raw);

    let e_value = if e.len() <= 8 { e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)) } else { u64::MAX };
    if e_value < u64::from(RSA_EXPONENT) {
        return Err(Error::bad("The RSA public exponent ('e') is too small (weak); only 65537 is supported."));
    }
    if e_value != u64::from(RSA_EXPONENT) {
        return Err(Error::bad("The RSA public exponent ('e') is not supported; only 65537 is supported."));
    }
    let bits = bit_len(n);
    if !RSA_SIZES.contains(&bits) {
        return Err(rsa_size_error(bits));
    }

    let d = member(&jwk.d, "d", "RSA")?;
    let p = member(&jwk.p, "p", "RSA")?;
    let q = member(&jwk.q, "q", "RSA")?;
    let dp = member(&jwk.dp, "dp", "RSA")?;
    let dq = member(&jwk.dq, "dq", "RSA")?;
    let qi = member(&jwk.qi, "qi", "RSA")?;

    // Size sanity before the (more expensive) consistency check; leading zeros are tolerated.
    let half = n.len().div_ceil(2);
    let limits: [(&str, &[u8], usize); 6] =
        [("d", &d, n.len()), ("p", &p, half), ("q", &q, half), ("dp", &dp, half), ("dq", &dq, half), ("qi", &qi, half)];
    for (name, value, max) in limits {
        if strip_leading_zeros(value).len() > max {
            return Err(Error::bad(format!("The '{name}' member is too long for a {bits}-bit RSA key.")));
        }
    }

    let components = KeyPairComponents {
        public_key: PublicKeyComponents { n, e },
        d: d.as_slice(),
        p: p.as_slice(),
        q: q.as_slice(),
        dP: dp.as_slice(),
        dQ: dq.as_slice(),
        qInv: qi.as_slice(),
    };
    let pair = RsaKeyPair::from_components(&components).map_err(|_| {
        Error::bad(
            "The RSA key members are inconsistent: n, e, d, p, q, dp, dq and qi do not form a valid private key.",
        )
    })?;
    KeyMaterial::from_rsa_pair(pair)
}

fn import_ec(jwk: &JsonWebKey) -> Result<KeyMaterial> {
    let crv = jwk.crv.as_deref().ok_or_else(|| Error::bad("The EC key is missing the 'crv' member."))?;
    let curve = Curve::parse(crv)?;
    let fl = curve.field_len();
    let x = member(&jwk.x, "x", "EC")?;
    let y = member(&jwk.y, "y", "EC")?;
    let d = member(&jwk.d, "d", "EC")?;
    for (name, value) in [("x", &x), ("y", &y), ("d", &d)] {
        if value.len() != fl {
            return Err(Error::bad(format!(
                "The '{name}' member must be {fl} bytes long for curve {curve}, but is {} bytes.",
                value.len()
            )));
        }
    }
    let mut point = Vec::with_capacity(1 + 2 * fl);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    if ParsedPublicKey::new(curve.verification(), &point).is_err() {
        return Err(Error::bad(format!("The EC public key ('x', 'y') is not a point on curve {curve}.")));
    }
    let pair = EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), &d, &point).map_err(|_| {
        Error::bad(format!("The EC private key ('d') is not valid for curve {curve} or does not match 'x' and 'y'."))
    })?;
    KeyMaterial::from_ec_pair(curve, pair)
}

fn import_oct(jwk: &JsonWebKey) -> Result<KeyMaterial> {
    let k = member(&jwk.k, "k", "oct")?;
    if !OCT_SIZES.contains(&(k.len() * 8)) {
        return Err(Error::bad(format!(
            "The symmetric key ('k') must be 128, 192 or 256 bits long, but is {} bits.",
            k.len() * 8
        )));
    }
    Ok(KeyMaterial::from_oct_bytes(SecretBytes::new(k.to_vec())))
}

/// Decoded private JWK members for a provider import, validated by [`KeyMaterial::import_jwk`]
/// first. Zeroized on drop; never printed.
pub enum PrivateComponents {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Zeroizing<Vec<u8>>,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
        dp: Zeroizing<Vec<u8>>,
        dq: Zeroizing<Vec<u8>>,
        qi: Zeroizing<Vec<u8>>,
    },
    Ec {
        curve: Curve,
        d: Zeroizing<Vec<u8>>,
        point: Vec<u8>,
    },
    Oct {
        k: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for PrivateComponents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateComponents([REDACTED])")
    }
}

impl PrivateComponents {
    /// Validates the JWK exactly as a software import does, then hands out its members.
    pub fn from_jwk(jwk: &JsonWebKey) -> Result<Self> {
        let checked = KeyMaterial::import_jwk(jwk)?;
        let strip = |v: Zeroizing<Vec<u8>>| Zeroizing::new(strip_leading_zeros(&v).to_vec());
        Ok(match checked.kind() {
            KeyKind::Rsa => Self::Rsa {
                n: strip(member(&jwk.n, "n", "RSA")?).to_vec(),
                e: strip(member(&jwk.e, "e", "RSA")?).to_vec(),
                d: strip(member(&jwk.d, "d", "RSA")?),
                p: strip(member(&jwk.p, "p", "RSA")?),
                q: strip(member(&jwk.q, "q", "RSA")?),
                dp: strip(member(&jwk.dp, "dp", "RSA")?),
                dq: strip(member(&jwk.dq, "dq", "RSA")?),
                qi: strip(member(&jwk.qi, "qi", "RSA")?),
            },
            KeyKind::Ec(curve) => {
                let x = member(&jwk.x, "x", "EC")?;
                let y = member(&jwk.y, "y", "EC")?;
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Self::Ec { curve, d: member(&jwk.d, "d", "EC")?, point }
            }
            KeyKind::Oct => Self::Oct { k: member(&jwk.k, "k", "oct")? },
        })
    }
}
