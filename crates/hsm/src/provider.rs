//! [`Pkcs11Provider`], the key provider: generating, importing, finding and destroying key
//! objects on the token, each key version being a private/public object pair (RSA, EC) or one
//! secret object (AES) sharing a random `CKA_ID`.

use std::fmt;
use std::sync::Arc;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use strongbox_crypto::handle::{KeyHandle, KeyProvider, KeySpec};
use strongbox_crypto::keys::{
    JsonWebKey, OCT_SIZES, PrivateComponents, PublicKeyMaterial, RSA_SIZES, curve_from_oid_der, curve_oid_der,
};
use strongbox_types::{Error, Result};

use crate::key::{HsmKey, Kind};
use crate::token::{Pkcs11Config, Token, ck};

/// The PKCS#11 key provider.
pub struct Pkcs11Provider {
    token: Arc<Token>,
}

impl fmt::Debug for Pkcs11Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Provider").field("token", &self.token.label).finish_non_exhaustive()
    }
}

impl Pkcs11Provider {
    /// Loads the module, finds the token by label and logs in.
    pub fn open(cfg: &Pkcs11Config) -> Result<Self> {
        Ok(Self { token: Arc::new(Token::open(cfg)?) })
    }

    /// Whether any object with this handle id is on the token (tests use it after a purge).
    pub fn exists(&self, id: &str) -> Result<bool> {
        let id = parse_id(id)?;
        self.token.with_session(|s| {
            let found = s.find_objects(&[Attribute::Id(id.clone())]).map_err(ck("C_FindObjects"))?;
            Ok(!found.is_empty())
        })
    }

    /// Reads `CKA_SENSITIVE` and `CKA_EXTRACTABLE` of the key's private/secret object.
    pub fn protection(&self, id: &str) -> Result<(bool, bool)> {
        let id = parse_id(id)?;
        self.token.with_session(|s| {
            let obj = match self.token.find(s, &id, ObjectClass::PRIVATE_KEY)? {
                Some(o) => o,
                None => self.token.find(s, &id, ObjectClass::SECRET_KEY)?.ok_or_else(not_on_token)?,
            };
            let attrs = s
                .get_attributes(obj, &[AttributeType::Sensitive, AttributeType::Extractable])
                .map_err(ck("C_GetAttributeValue"))?;
            let (mut sensitive, mut extractable) = (false, true);
            for a in attrs {
                match a {
                    Attribute::Sensitive(v) => sensitive = v,
                    Attribute::Extractable(v) => extractable = v,
                    _ => {}
                }
            }
            Ok((sensitive, extractable))
        })
    }

    fn new_id() -> Result<Vec<u8>> {
        Ok(strongbox_crypto::random_array::<16>()?.to_vec())
    }

    fn private_template(id: &[u8], label: &[u8]) -> Vec<Attribute> {
        vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.to_vec()),
        ]
    }

    fn public_template(id: &[u8], label: &[u8]) -> Vec<Attribute> {
        vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.to_vec()),
        ]
    }
}

fn label_of(id: &[u8]) -> Vec<u8> {
    format!("strongbox-{}", strongbox_crypto::hex(id)).into_bytes()
}

fn parse_id(id: &str) -> Result<Vec<u8>> {
    strongbox_crypto::unhex(id)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::internal("stored HSM key handle is corrupt"))
}

fn not_on_token() -> Error {
    Error::internal("the HSM key object is no longer on the token")
}

impl KeyProvider for Pkcs11Provider {
    fn describe(&self) -> String {
        format!("PKCS#11 token '{}'", self.token.label)
    }

    fn generate(&self, spec: KeySpec) -> Result<(String, Arc<dyn KeyHandle>)> {
        let id = Self::new_id()?;
        let label = label_of(&id);
        let (mut pubt, mut privt) = (Self::public_template(&id, &label), Self::private_template(&id, &label));
        self.token.with_store_session(|s| match spec {
            KeySpec::Rsa(bits) => {
                if !RSA_SIZES.contains(&bits) {
                    return Err(Error::bad(format!(
                        "The key size {bits} is not supported for RSA keys; use 2048, 3072 or 4096."
                    )));
                }
                pubt.extend([
                    Attribute::ModulusBits((bits as u64).into()),
                    Attribute::PublicExponent(vec![1, 0, 1]),
                    Attribute::Verify(true),
                    Attribute::Encrypt(true),
                    Attribute::Wrap(true),
                ]);
                privt.extend([Attribute::Sign(true), Attribute::Decrypt(true), Attribute::Unwrap(true)]);
                s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &pubt, &privt).map_err(ck("RSA key generation"))?;
                Ok(())
            }
            KeySpec::Ec(curve) => {
                pubt.extend([Attribute::EcParams(curve_oid_der(curve).to_vec()), Attribute::Verify(true)]);
                privt.extend([Attribute::Sign(true), Attribute::Derive(false)]);
                s.generate_key_pair(&Mechanism::EccKeyPairGen, &pubt, &privt).map_err(ck("EC key generation"))?;
                Ok(())
            }
            KeySpec::Oct(bits) => {
                if !OCT_SIZES.contains(&bits) {
                    return Err(Error::bad(format!(
                        "The key size {bits} is not supported for symmetric keys; use 128, 192 or 256."
                    )));
                }
                privt.extend(secret_key_usage());
                privt.push(Attribute::ValueLen(((bits / 8) as u64).into()));
                s.generate_key(&Mechanism::AesKeyGen, &privt).map_err(ck("AES key generation"))?;
                Ok(())
            }
        })?;
        let hex = strongbox_crypto::hex(&id);
        let handle = self.open(&hex)?;
        Ok((hex, handle))
    }

    fn import(&self, jwk: &JsonWebKey) -> Result<(String, Arc<dyn KeyHandle>)> {
        let parts = PrivateComponents::from_jwk(jwk)?;
        let id = Self::new_id()?;
        let label = label_of(&id);
        let (mut pubt, mut privt) = (Self::public_template(&id, &label), Self::private_template(&id, &label));
        self.token.with_store_session(|s| {
            match &parts {
                PrivateComponents::Rsa { n, e, d, p, q, dp, dq, qi } => {
                    pubt.extend([
                        Attribute::Class(ObjectClass::PUBLIC_KEY),
                        Attribute::KeyType(KeyType::RSA),
                        Attribute::Modulus(n.clone()),
                        Attribute::PublicExponent(e.clone()),
                        Attribute::Verify(true),
                        Attribute::Encrypt(true),
                        Attribute::Wrap(true),
                    ]);
                    privt.extend([
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::KeyType(KeyType::RSA),
                        Attribute::Modulus(n.clone()),
                        Attribute::PublicExponent(e.clone()),
                        Attribute::PrivateExponent(d.to_vec()),
                        Attribute::Prime1(p.to_vec()),
                        Attribute::Prime2(q.to_vec()),
                        Attribute::Exponent1(dp.to_vec()),
                        Attribute::Exponent2(dq.to_vec()),
                        Attribute::Coefficient(qi.to_vec()),
                        Attribute::Sign(true),
                        Attribute::Decrypt(true),
                        Attribute::Unwrap(true),
                    ]);
                }
                PrivateComponents::Ec { curve, d, point } => {
                    pubt.extend([
                        Attribute::Class(ObjectClass::PUBLIC_KEY),
                        Attribute::KeyType(KeyType::EC),
                        Attribute::EcParams(curve_oid_der(*curve).to_vec()),
                        Attribute::EcPoint(der_octet_string(point)),
                        Attribute::Verify(true),
                    ]);
                    privt.extend([
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::KeyType(KeyType::EC),
                        Attribute::EcParams(curve_oid_der(*curve).to_vec()),
                        Attribute::Value(d.to_vec()),
                        Attribute::Sign(true),
                        Attribute::Derive(false),
                    ]);
                }
                PrivateComponents::Oct { k } => {
                    privt.extend([
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::Value(k.to_vec()),
                    ]);
                    privt.extend(secret_key_usage());
                    s.create_object(&privt).map_err(ck("AES key import"))?;
                    return Ok(());
                }
            }
            let public = s.create_object(&pubt).map_err(ck("public key import"))?;
            if let Err(e) = s.create_object(&privt) {
                let _ = s.destroy_object(public);
                return Err(ck("private key import")(e));
            }
            Ok(())
        })?;
        let hex = strongbox_crypto::hex(&id);
        let handle = self.open(&hex)?;
        Ok((hex, handle))
    }

    fn open(&self, id_hex: &str) -> Result<Arc<dyn KeyHandle>> {
        let id = parse_id(id_hex)?;
        let token = self.token.clone();
        self.token.with_session(|s| {
            if let Some(secret) = token.find(s, &id, ObjectClass::SECRET_KEY)? {
                let attrs = s.get_attributes(secret, &[AttributeType::ValueLen]).map_err(ck("C_GetAttributeValue"))?;
                let bytes = attrs
                    .into_iter()
                    .find_map(|a| match a {
                        Attribute::ValueLen(v) => Some(u64::from(v) as usize),
                        _ => None,
                    })
                    .ok_or_else(|| Error::internal("AES key without CKA_VALUE_LEN"))?;
                return Ok(Arc::new(HsmKey { token: token.clone(), object: secret, kind: Kind::Oct(bytes * 8) })
                    as Arc<dyn KeyHandle>);
            }
            let private = token.find(s, &id, ObjectClass::PRIVATE_KEY)?.ok_or_else(not_on_token)?;
            let public_obj = token.find(s, &id, ObjectClass::PUBLIC_KEY)?.ok_or_else(not_on_token)?;
            let kt = s.get_attributes(private, &[AttributeType::KeyType]).map_err(ck("C_GetAttributeValue"))?;
            let key_type = kt.into_iter().find_map(|a| match a {
                Attribute::KeyType(k) => Some(k),
                _ => None,
            });
            let public = if key_type == Some(KeyType::RSA) {
                let attrs = s
                    .get_attributes(public_obj, &[AttributeType::Modulus, AttributeType::PublicExponent])
                    .map_err(ck("C_GetAttributeValue"))?;
                let (mut n, mut e) = (Vec::new(), Vec::new());
                for a in attrs {
                    match a {
                        Attribute::Modulus(v) => n = v,
                        Attribute::PublicExponent(v) => e = v,
                        _ => {}
                    }
                }
                PublicKeyMaterial::rsa(&n, &e)?
            } else if key_type == Some(KeyType::EC) {
                let attrs = s
                    .get_attributes(public_obj, &[AttributeType::EcParams, AttributeType::EcPoint])
                    .map_err(ck("C_GetAttributeValue"))?;
                let (mut params, mut point) = (Vec::new(), Vec::new());
                for a in attrs {
                    match a {
                        Attribute::EcParams(v) => params = v,
                        Attribute::EcPoint(v) => point = v,
                        _ => {}
                    }
                }
                let curve =
                    curve_from_oid_der(&params).ok_or_else(|| Error::internal("HSM EC key on an unknown curve"))?;
                PublicKeyMaterial::ec(curve, unwrap_octet_string(&point).unwrap_or(&point))?
            } else {
                return Err(Error::internal("HSM key of an unexpected type"));
            };
            Ok(Arc::new(HsmKey {
                token: token.clone(),
                object: private,
                kind: Kind::Asym { public: Box::new(public), object: public_obj },
            }) as Arc<dyn KeyHandle>)
        })
    }

    fn destroy(&self, id_hex: &str) -> Result<()> {
        let id = parse_id(id_hex)?;
        self.token.with_store_session(|s| {
            let objects = s.find_objects(&[Attribute::Id(id.clone())]).map_err(ck("C_FindObjects"))?;
            for o in objects {
                s.destroy_object(o).map_err(ck("C_DestroyObject"))?;
            }
            Ok(())
        })
    }
}

fn secret_key_usage() -> [Attribute; 4] {
    [Attribute::Encrypt(true), Attribute::Decrypt(true), Attribute::Wrap(true), Attribute::Unwrap(true)]
}

/// DER OCTET STRING around an EC point (`CKA_EC_POINT` encoding).
fn der_octet_string(v: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    if v.len() < 0x80 {
        out.push(v.len() as u8);
    } else {
        out.extend([0x81, v.len() as u8]);
    }
    out.extend_from_slice(v);
    out
}

/// The content of a DER OCTET STRING (short or one-byte long form), if `v` is one.
fn unwrap_octet_string(v: &[u8]) -> Option<&[u8]> {
    match v {
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => Some(rest),
        [0x04, len, rest @ ..] if *len < 0x80 && usize::from(*len) == rest.len() => Some(rest),
        _ => None,
    }
}
