//! One key version inside the token ([`HsmKey`]) and its operations: sign and verify, RSA
//! encrypt and decrypt, AES (GCM, CBC, CBC-PAD, key wrap), with the same input checks and
//! messages as software keys.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use strongbox_crypto::aes::{AesAlg, AesMode, BLOCK_LEN, GCM_IV_LEN, GCM_TAG_LEN, SymOutput, SymParams};
use strongbox_crypto::handle::KeyHandle;
use strongbox_crypto::keys::{
    CipherAlg, EncAlg, JsonWebKey, KeyKind, PublicKeyMaterial, SignAlg, UNDECRYPTABLE, check_sign_input,
    pkcs1_digest_info_prefix, wrong_cipher_alg,
};
use strongbox_types::{Error, ErrorKind, Result, SecretBytes};

use crate::token::{OAEP256_NO, OAEP256_YES, Token, ck};

pub(crate) enum Kind {
    /// RSA or EC: the public key (for the JWK and input checks) and its token object.
    Asym { public: Box<PublicKeyMaterial>, object: ObjectHandle },
    /// AES key of this many bits.
    Oct(usize),
}

/// A key version inside the token.
pub(crate) struct HsmKey {
    pub(crate) token: Arc<Token>,
    /// The private (RSA/EC) or secret (AES) key object. Object handles are valid in every session
    /// of the application.
    pub(crate) object: ObjectHandle,
    pub(crate) kind: Kind,
}

impl fmt::Debug for HsmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsmKey").field("token", &self.token.label).field("kind", &self.kind()).finish_non_exhaustive()
    }
}

fn hash_mech(alg: SignAlg) -> (MechanismType, PkcsMgfType) {
    match alg.digest_len() {
        48 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        64 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
        _ => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
    }
}

fn oaep(alg: EncAlg) -> Option<Mechanism<'static>> {
    match alg {
        EncAlg::Rsa15 => None,
        EncAlg::RsaOaep => Some(Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            PkcsOaepSource::empty(),
        ))),
        EncAlg::RsaOaep256 => Some(Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::empty(),
        ))),
    }
}

fn oaep256_unsupported(label: &str) -> Error {
    Error::new(
        ErrorKind::NotImplemented,
        format!(
            "RSA-OAEP-256 is not available for HSM-protected keys on this server: its PKCS#11 token ('{label}') does not support OAEP with SHA-256. Use RSA-OAEP or RSA1_5 with this key."
        ),
    )
}

/// Whether a `C_DecryptInit` failure means "this mechanism/parameter is not supported".
fn init_unsupported(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::ArgumentsBad | RvError::MechanismInvalid | RvError::MechanismParamInvalid,
            Function::DecryptInit
        )
    )
}

/// The mechanism and token input for signing or verifying `digest` with `alg` (after the same
/// checks as software keys): a DigestInfo for `CKM_RSA_PKCS`, the bare digest for PSS and ECDSA.
fn sign_input(kind: KeyKind, alg: SignAlg, digest: &[u8]) -> Result<(Mechanism<'static>, Vec<u8>)> {
    check_sign_input(kind, alg, digest)?;
    let mech = match kind {
        KeyKind::Ec(_) => Mechanism::Ecdsa,
        _ if matches!(alg, SignAlg::PS256 | SignAlg::PS384 | SignAlg::PS512) => {
            let (hash_alg, mgf) = hash_mech(alg);
            Mechanism::RsaPkcsPss(PkcsPssParams { hash_alg, mgf, s_len: (alg.digest_len() as u64).into() })
        }
        _ => Mechanism::RsaPkcs,
    };
    let input = match pkcs1_digest_info_prefix(alg) {
        Some(prefix) => [prefix, digest].concat(),
        None => digest.to_vec(),
    };
    Ok((mech, input))
}

impl HsmKey {
    fn public(&self) -> Result<&PublicKeyMaterial> {
        match &self.kind {
            Kind::Asym { public, .. } => Ok(public),
            Kind::Oct(_) => Err(Error::internal("not an asymmetric key")),
        }
    }

    /// Asks the token once whether it accepts OAEP with SHA-256 (see the crate documentation).
    fn oaep256_supported(&self) -> Result<bool> {
        match self.token.oaep256.load(Ordering::Relaxed) {
            OAEP256_YES => return Ok(true),
            OAEP256_NO => return Ok(false),
            _ => {}
        }
        let p = self.public()?;
        let probe = vec![0u8; p.modulus_len()];
        let supported = self.token.with_session(|s| {
            let mech = oaep(EncAlg::RsaOaep256).ok_or_else(|| Error::internal("no OAEP mechanism"))?;
            // A zero ciphertext never decrypts; only where the failure happens matters.
            Ok(!matches!(s.decrypt(&mech, self.object, &probe), Err(e) if init_unsupported(&e)))
        })?;
        self.token.oaep256.store(if supported { OAEP256_YES } else { OAEP256_NO }, Ordering::Relaxed);
        Ok(supported)
    }

    fn aes_alg_fits(&self, alg: CipherAlg) -> Result<AesAlg> {
        match (&self.kind, alg) {
            (Kind::Oct(bits), CipherAlg::Aes(a)) => {
                if a.bits != *bits {
                    return Err(Error::bad(format!(
                        "The algorithm {a} needs a {}-bit key, but this key has {bits} bits.",
                        a.bits
                    )));
                }
                Ok(a)
            }
            _ => Err(wrong_cipher_alg(self.kind(), alg)),
        }
    }
}

/// Validates the symmetric parameters the same way software keys do (by running the software
/// checks on a throwaway key of the right size would be wasteful; the rules are simple).
fn sym_checks(a: AesAlg, p: &SymParams, decrypt: bool) -> Result<()> {
    let bad = |m: String| Err(Error::bad(m));
    match a.mode {
        AesMode::Gcm => {
            if !decrypt && p.iv.is_some() {
                return bad(format!(
                    "'iv' must not be given to encrypt with {a}: the service generates the GCM nonce."
                ));
            }
            if !decrypt && p.tag.is_some() {
                return bad(format!("'tag' must not be given to encrypt with {a}."));
            }
            if decrypt {
                let iv = p.iv.ok_or_else(|| Error::bad(format!("The 'iv' member is required to decrypt with {a}.")))?;
                if iv.len() != GCM_IV_LEN {
                    return bad(format!(
                        "The 'iv' for {a} must be {GCM_IV_LEN} bytes long, but {} bytes were given.",
                        iv.len()
                    ));
                }
                let tag =
                    p.tag.ok_or_else(|| Error::bad(format!("The 'tag' member is required to decrypt with {a}.")))?;
                if tag.len() != GCM_TAG_LEN {
                    return bad(format!(
                        "The 'tag' for {a} must be {GCM_TAG_LEN} bytes long, but {} bytes were given.",
                        tag.len()
                    ));
                }
            }
        }
        AesMode::Cbc | AesMode::CbcPad | AesMode::Kw => {
            if p.aad.is_some() || p.tag.is_some() {
                return bad(format!("'aad' and 'tag' apply only to AES-GCM, not to {a}."));
            }
            if a.mode == AesMode::Kw && p.iv.is_some() {
                return bad(format!("'iv' does not apply to {a} (RFC 3394 uses a fixed IV)."));
            }
            if let Some(iv) = p.iv
                && iv.len() != BLOCK_LEN
            {
                return bad(format!(
                    "The 'iv' for {a} must be {BLOCK_LEN} bytes long, but {} bytes were given.",
                    iv.len()
                ));
            }
            if a.mode != AesMode::Kw && decrypt && p.iv.is_none() {
                return bad(format!("The 'iv' member is required to decrypt with {a}."));
            }
        }
    }
    Ok(())
}

impl KeyHandle for HsmKey {
    /// With [`Pkcs11Config::offload`] (a network HSM whose calls wait) callers keep key
    /// operations off the async workers.
    fn blocking(&self) -> bool {
        self.token.offload
    }

    fn kind(&self) -> KeyKind {
        match &self.kind {
            Kind::Asym { public, .. } => public.kind(),
            Kind::Oct(_) => KeyKind::Oct,
        }
    }

    fn bits(&self) -> usize {
        match &self.kind {
            Kind::Asym { public, .. } => public.bits(),
            Kind::Oct(bits) => *bits,
        }
    }

    fn public_jwk(&self) -> JsonWebKey {
        match &self.kind {
            Kind::Asym { public, .. } => public.public_jwk(),
            Kind::Oct(_) => JsonWebKey { kty: Some("oct".into()), ..JsonWebKey::default() },
        }
    }

    fn sign(&self, alg: SignAlg, digest: &[u8]) -> Result<Vec<u8>> {
        let (mech, input) = sign_input(self.kind(), alg, digest)?;
        self.token.with_session(|s| s.sign(&mech, self.object, &input).map_err(ck("C_Sign")))
    }

    /// In the token, with the public key object. A signature that does not verify (or has the
    /// wrong length) is `Ok(false)`.
    fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool> {
        let (mech, input) = sign_input(self.kind(), alg, digest)?;
        let Kind::Asym { object, .. } = &self.kind else {
            return Err(Error::internal("verify with a symmetric key"));
        };
        self.token.with_session(|s| match s.verify(&mech, *object, &input, signature) {
            Ok(()) => Ok(true),
            Err(CkError::Pkcs11(RvError::SignatureInvalid | RvError::SignatureLenRange, _)) => Ok(false),
            Err(e) => Err(ck("C_Verify")(e)),
        })
    }

    fn encrypt(&self, alg: CipherAlg, data: &[u8], p: &SymParams) -> Result<SymOutput> {
        if let Kind::Asym { public, object } = &self.kind {
            let a = match alg {
                CipherAlg::Rsa(a) if public.kind() == KeyKind::Rsa => a,
                _ => return Err(wrong_cipher_alg(public.kind(), alg)),
            };
            if p.iv.is_some() || p.aad.is_some() || p.tag.is_some() {
                return Err(Error::bad(
                    "'iv', 'aad' and 'tag' apply only to symmetric algorithms, which RSA keys do not use.",
                ));
            }
            if a == EncAlg::RsaOaep256 && !self.oaep256_supported()? {
                return Err(oaep256_unsupported(&self.token.label));
            }
            let max = a.max_plaintext_len(public.modulus_len());
            if data.len() > max {
                return Err(Error::bad(format!(
                    "The plaintext is too long for {a} with a {}-bit key: at most {max} bytes are allowed, {} were given.",
                    public.bits(),
                    data.len()
                )));
            }
            let mech = oaep(a).unwrap_or(Mechanism::RsaPkcs);
            let value = self.token.with_session(|s| s.encrypt(&mech, *object, data).map_err(ck("C_Encrypt")))?;
            return Ok(SymOutput { value, iv: None, tag: None });
        }
        let a = self.aes_alg_fits(alg)?;
        sym_checks(a, p, false)?;
        self.token.with_session(|s| match a.mode {
            AesMode::Gcm => {
                let mut iv: [u8; GCM_IV_LEN] = strongbox_crypto::random_array()?;
                let aad = p.aad.unwrap_or_default();
                let params = GcmParams::new(&mut iv, aad, ((GCM_TAG_LEN * 8) as u64).into()).map_err(ck("GCM parameters"))?;
                let mut out = s.encrypt(&Mechanism::AesGcm(params), self.object, data).map_err(ck("AES-GCM encrypt"))?;
                if out.len() < GCM_TAG_LEN {
                    return Err(Error::internal("AES-GCM output too short"));
                }
                let tag = out.split_off(out.len() - GCM_TAG_LEN);
                Ok(SymOutput { value: out, iv: Some(iv.to_vec()), tag: Some(tag) })
            }
            AesMode::Cbc | AesMode::CbcPad => {
                if a.mode == AesMode::Cbc && (data.is_empty() || !data.len().is_multiple_of(BLOCK_LEN)) {
                    return Err(Error::bad(format!(
                        "The plaintext for {a} must be a non-empty multiple of {BLOCK_LEN} bytes (use {a}PAD to pad it); {} bytes were given.",
                        data.len()
                    )));
                }
                let iv: [u8; BLOCK_LEN] = match p.iv {
                    Some(v) => <[u8; BLOCK_LEN]>::try_from(v).map_err(|_| Error::bad("The 'iv' must be 16 bytes long."))?,
                    None => strongbox_crypto::random_array()?,
                };
                let mech = if a.mode == AesMode::Cbc { Mechanism::AesCbc(iv) } else { Mechanism::AesCbcPad(iv) };
                let out = s.encrypt(&mech, self.object, data).map_err(ck("AES-CBC encrypt"))?;
                Ok(SymOutput { value: out, iv: Some(iv.to_vec()), tag: None })
            }
            AesMode::Kw => {
                if data.len() < 16 || !data.len().is_multiple_of(8) {
                    return Err(Error::bad(format!(
                        "The key to wrap with AES key wrap must be at least 16 bytes and a multiple of 8 bytes long; {} bytes were given.",
                        data.len()
                    )));
                }
                // The key to wrap becomes a short-lived session object (see the crate docs).
                let temp = s
                    .create_object(&[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::GENERIC_SECRET),
                        Attribute::Token(false),
                        Attribute::Sensitive(false),
                        Attribute::Extractable(true),
                        Attribute::Value(data.to_vec()),
                    ])
                    .map_err(ck("temporary key object"))?;
                let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, self.object, temp);
                let _ = s.destroy_object(temp);
                Ok(SymOutput { value: wrapped.map_err(ck("C_WrapKey"))?, iv: None, tag: None })
            }
        })
    }

    fn decrypt(&self, alg: CipherAlg, data: &[u8], p: &SymParams) -> Result<SecretBytes> {
        if let Kind::Asym { public, .. } = &self.kind {
            let a = match alg {
                CipherAlg::Rsa(a) if public.kind() == KeyKind::Rsa => a,
                _ => return Err(wrong_cipher_alg(public.kind(), alg)),
            };
            if p.iv.is_some() || p.aad.is_some() || p.tag.is_some() {
                return Err(Error::bad(
                    "'iv', 'aad' and 'tag' apply only to symmetric algorithms, which RSA keys do not use.",
                ));
            }
            if a == EncAlg::RsaOaep256 && !self.oaep256_supported()? {
                return Err(oaep256_unsupported(&self.token.label));
            }
            if data.len() != public.modulus_len() {
                return Err(Error::bad(UNDECRYPTABLE));
            }
            let mech = oaep(a).unwrap_or(Mechanism::RsaPkcs);
            return self.token.with_session(|s| match s.decrypt(&mech, self.object, data) {
                Ok(v) => Ok(SecretBytes::new(v)),
                Err(e) if init_unsupported(&e) && a == EncAlg::RsaOaep256 => {
                    Err(oaep256_unsupported(&self.token.label))
                }
                // Every other failure looks the same (no padding oracle).
                Err(_) => Err(Error::bad(UNDECRYPTABLE)),
            });
        }
        let a = self.aes_alg_fits(alg)?;
        sym_checks(a, p, true)?;
        self.token.with_session(|s| match a.mode {
            AesMode::Gcm => {
                let mut iv = p.iv.unwrap_or_default().to_vec();
                let aad = p.aad.unwrap_or_default();
                let params =
                    GcmParams::new(&mut iv, aad, ((GCM_TAG_LEN * 8) as u64).into()).map_err(ck("GCM parameters"))?;
                let input = [data, p.tag.unwrap_or_default()].concat();
                s.decrypt(&Mechanism::AesGcm(params), self.object, &input)
                    .map(SecretBytes::new)
                    .map_err(|_| Error::bad(UNDECRYPTABLE))
            }
            AesMode::Cbc | AesMode::CbcPad => {
                if data.is_empty() || !data.len().is_multiple_of(BLOCK_LEN) {
                    return Err(Error::bad(UNDECRYPTABLE));
                }
                let iv = <[u8; BLOCK_LEN]>::try_from(p.iv.unwrap_or_default())
                    .map_err(|_| Error::bad("The 'iv' must be 16 bytes long."))?;
                let mech = if a.mode == AesMode::Cbc { Mechanism::AesCbc(iv) } else { Mechanism::AesCbcPad(iv) };
                s.decrypt(&mech, self.object, data).map(SecretBytes::new).map_err(|_| Error::bad(UNDECRYPTABLE))
            }
            AesMode::Kw => {
                if data.len() < 24 || !data.len().is_multiple_of(8) {
                    return Err(Error::bad(UNDECRYPTABLE));
                }
                let template = [
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::GENERIC_SECRET),
                    Attribute::Token(false),
                    Attribute::Sensitive(false),
                    Attribute::Extractable(true),
                ];
                let temp = s
                    .unwrap_key(&Mechanism::AesKeyWrap, self.object, data, &template)
                    .map_err(|_| Error::bad(UNDECRYPTABLE))?;
                let value = s.get_attributes(temp, &[AttributeType::Value]);
                let _ = s.destroy_object(temp);
                let value = value.map_err(ck("C_GetAttributeValue"))?;
                value
                    .into_iter()
                    .find_map(|a| match a {
                        Attribute::Value(v) => Some(SecretBytes::new(v)),
                        _ => None,
                    })
                    .ok_or_else(|| Error::internal("unwrapped key without a value"))
            }
        })
    }
}
