//! HSM-backed keys over PKCS#11: a [`KeyProvider`] whose private and secret keys are generated or
//! imported inside a token as sensitive, non-extractable objects and used there. Storage keeps
//! only the handle id (the objects' `CKA_ID`, hex); the public half is read back from the token.
//!
//! Every operation runs in the token: key generation and import, signing and verification
//! (`CKM_RSA_PKCS` over a DigestInfo, `CKM_RSA_PKCS_PSS` and `CKM_ECDSA` over the digest), RSA
//! encryption and decryption (`CKM_RSA_PKCS`, `CKM_RSA_PKCS_OAEP`; verification and encryption
//! with the public key object), and every AES operation (`CKM_AES_GCM`, `CKM_AES_CBC`,
//! `CKM_AES_CBC_PAD`, and AES key wrap through `C_WrapKey`/`C_UnwrapKey`). The public key is also
//! read once into software, for the JWK the API returns and for input checks (digest and
//! plaintext sizes) that give the same 400s as software keys.
//!
//! RSA-OAEP-256 and tokens that lack it (SoftHSM2 2.6 accepts only SHA-1 in `CKM_RSA_PKCS_OAEP`
//! parameters): the provider asks the token once, per process, whether `C_DecryptInit` accepts
//! OAEP with SHA-256. If not, RSA-OAEP-256 encrypt, decrypt, wrap and unwrap with HSM keys answer
//! `NotImplemented` with a message naming the token's limitation — there is no software fallback,
//! and encryption is refused too so that no ciphertext is produced that the key could not open.
//! Doing raw RSA (`CKM_RSA_X_509`) in the token and OAEP decoding in this process was rejected:
//! the key would have to allow raw private-key exponentiation (a signing and decryption oracle
//! for anyone holding the PIN), and a decoder outside the token that is not constant time turns
//! the API into a Manger-style padding oracle.
//!
//! AES key wrap (A128KW/A192KW/A256KW): SoftHSM2 refuses `CKM_AES_KEY_WRAP` in `C_Encrypt`, so the
//! key to wrap becomes a short-lived session object (not on the token, extractable) that the HSM
//! key wraps with `C_WrapKey`; unwrap is `C_UnwrapKey` into such an object whose value is read
//! and the object destroyed. The HSM key itself never leaves the token.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use strongbox_crypto::aes::{AesAlg, AesMode, BLOCK_LEN, GCM_IV_LEN, GCM_TAG_LEN, SymOutput, SymParams};
use strongbox_crypto::handle::{KeyHandle, KeyProvider, KeySpec};
use strongbox_crypto::keys::{
    CipherAlg, EncAlg, JsonWebKey, KeyKind, OCT_SIZES, PrivateComponents, PublicKeyMaterial, RSA_SIZES, SignAlg,
    UNDECRYPTABLE, check_sign_input, curve_from_oid_der, curve_oid_der, pkcs1_digest_info_prefix, wrong_cipher_alg,
};
use strongbox_types::{Error, ErrorKind, Result, SecretBytes, SecretString};

/// Where the token is: the PKCS#11 module, the token label and the user PIN.
#[derive(Clone)]
pub struct Pkcs11Config {
    pub module: PathBuf,
    pub token: String,
    pub pin: SecretString,
    /// Run key operations on a blocking thread pool instead of the async workers: for tokens
    /// whose calls wait (network HSMs). An in-process software token like SoftHSM2 is faster
    /// inline (measured: a third of the RSA rate lost to the hand-off), so it is off by default.
    pub offload: bool,
}

impl fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Config").field("module", &self.module).field("token", &self.token).finish_non_exhaustive()
    }
}

impl Pkcs11Config {
    /// From `STRONGBOX_PKCS11_MODULE`, `STRONGBOX_PKCS11_TOKEN` and `STRONGBOX_PKCS11_PIN`;
    /// `None` when the module is not set. A module without token or PIN is an error.
    pub fn from_env() -> Result<Option<Self>> {
        let Some(module) = std::env::var_os("STRONGBOX_PKCS11_MODULE").filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        let token = std::env::var("STRONGBOX_PKCS11_TOKEN").map_err(|_| {
            Error::bad("STRONGBOX_PKCS11_MODULE is set but STRONGBOX_PKCS11_TOKEN (the token label) is not.")
        })?;
        let pin = std::env::var("STRONGBOX_PKCS11_PIN")
            .map_err(|_| Error::bad("STRONGBOX_PKCS11_MODULE is set but STRONGBOX_PKCS11_PIN is not."))?;
        let offload = std::env::var("STRONGBOX_PKCS11_OFFLOAD").is_ok_and(|v| v == "1" || v == "true");
        Ok(Some(Self { module: PathBuf::from(module), token, pin: SecretString::new(pin), offload }))
    }
}

/// A module can be initialised once per process and finalising it would break every other user,
/// so contexts are shared and kept for the life of the process, each with its store lock (see
/// [`Token::store`]; it must be shared by every provider on the module, not per provider).
fn context(module: &Path) -> Result<(Pkcs11, Arc<RwLock<()>>)> {
    type Contexts = HashMap<PathBuf, (Pkcs11, Arc<RwLock<()>>)>;
    static CONTEXTS: OnceLock<Mutex<Contexts>> = OnceLock::new();
    let map = CONTEXTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().map_err(|_| Error::internal("PKCS#11 context table poisoned"))?;
    if let Some(c) = map.get(module) {
        return Ok(c.clone());
    }
    let ctx = Pkcs11::new(module)
        .map_err(|e| Error::internal(format!("cannot load PKCS#11 module {}: {e}", module.display())))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(Error::internal(format!("C_Initialize failed: {e}"))),
    }
    let entry = (ctx, Arc::new(RwLock::new(())));
    map.insert(module.to_owned(), entry.clone());
    Ok(entry)
}

fn ck(what: &str) -> impl FnOnce(CkError) -> Error + '_ {
    move |e| Error::internal(format!("PKCS#11 {what} failed: {e}"))
}

/// OAEP-SHA256 support of the token: unknown, yes, no.
const OAEP256_UNKNOWN: u8 = 0;
const OAEP256_YES: u8 = 1;
const OAEP256_NO: u8 = 2;

struct Token {
    /// Key operations leave the async workers ([`Pkcs11Config::offload`]).
    offload: bool,
    ctx: Pkcs11,
    slot: Slot,
    label: String,
    /// Idle logged-in read-write sessions (a `Session` is `Send` but not `Sync`).
    sessions: Mutex<Vec<Session>>,
    /// Changes to token objects (create, destroy) take this exclusively, every other call
    /// shares it. SoftHSM2's file object store fails (`CKR_GENERAL_ERROR`, seen under parallel
    /// tests) when one session creates a token object while others use the store. Shared by
    /// every provider opened on the same module in this process.
    store: Arc<RwLock<()>>,
    oaep256: AtomicU8,
}

impl Token {
    fn open(cfg: &Pkcs11Config) -> Result<Self> {
        let (ctx, store) = context(&cfg.module)?;
        let slots = ctx.get_slots_with_initialized_token().map_err(ck("C_GetSlotList"))?;
        let slot = slots
            .into_iter()
            .find(|s| ctx.get_token_info(*s).map(|t| t.label().trim_end() == cfg.token).unwrap_or(false))
            .ok_or_else(|| Error::bad(format!("No initialised PKCS#11 token labelled '{}' was found.", cfg.token)))?;
        let session = ctx.open_rw_session(slot).map_err(ck("C_OpenSession"))?;
        let pin = AuthPin::new(cfg.pin.expose().to_owned().into_boxed_str());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(Error::bad(format!("The PIN for PKCS#11 token '{}' is incorrect.", cfg.token)));
            }
            Err(e) => return Err(Error::internal(format!("PKCS#11 login failed: {e}"))),
        }
        Ok(Self {
            ctx,
            slot,
            label: cfg.token.clone(),
            sessions: Mutex::new(vec![session]),
            store,
            oaep256: AtomicU8::new(OAEP256_UNKNOWN),
            offload: cfg.offload,
        })
    }

    /// Runs `f` on an idle session (opening another one when all are busy).
    fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let _shared = self.store.read().map_err(|_| Error::internal("PKCS#11 store lock poisoned"))?;
        self.with_session_unlocked(f)
    }

    fn with_session_unlocked<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let idle = self.sessions.lock().map_err(|_| Error::internal("PKCS#11 session pool poisoned"))?.pop();
        let session = match idle {
            Some(s) => s,
            // Login state belongs to the application, so a new session is logged in already.
            None => self.ctx.open_rw_session(self.slot).map_err(ck("C_OpenSession"))?,
        };
        let r = f(&session);
        if let Ok(mut pool) = self.sessions.lock() {
            pool.push(session);
        }
        r
    }

    /// [`Self::with_session`] for calls that create or destroy token objects.
    fn with_store_session<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let _exclusive = self.store.write().map_err(|_| Error::internal("PKCS#11 store lock poisoned"))?;
        self.with_session_unlocked(f)
    }

    fn find(&self, s: &Session, id: &[u8], class: ObjectClass) -> Result<Option<ObjectHandle>> {
        let found =
            s.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())]).map_err(ck("C_FindObjects"))?;
        Ok(found.into_iter().next())
    }
}

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

enum Kind {
    /// RSA or EC: the public key (for the JWK and input checks) and its token object.
    Asym { public: Box<PublicKeyMaterial>, object: ObjectHandle },
    /// AES key of this many bits.
    Oct(usize),
}

/// A key version inside the token.
struct HsmKey {
    token: Arc<Token>,
    /// The private (RSA/EC) or secret (AES) key object. Object handles are valid in every session
    /// of the application.
    object: ObjectHandle,
    kind: Kind,
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
