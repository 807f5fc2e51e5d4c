//! Where the token is ([`Pkcs11Config`]) and the connection to it: the process-wide module
//! context, the logged-in session pool and the lock that serialises changes to the object store.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use strongbox_types::{Error, Result, SecretString};

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

pub(crate) fn ck(what: &str) -> impl FnOnce(CkError) -> Error + '_ {
    move |e| Error::internal(format!("PKCS#11 {what} failed: {e}"))
}

/// OAEP-SHA256 support of the token: unknown, yes, no.
const OAEP256_UNKNOWN: u8 = 0;
pub(crate) const OAEP256_YES: u8 = 1;
pub(crate) const OAEP256_NO: u8 = 2;

pub(crate) struct Token {
    /// Key operations leave the async workers ([`Pkcs11Config::offload`]).
    pub(crate) offload: bool,
    ctx: Pkcs11,
    slot: Slot,
    pub(crate) label: String,
    /// Idle logged-in read-write sessions (a `Session` is `Send` but not `Sync`).
    sessions: Mutex<Vec<Session>>,
    /// Changes to token objects (create, destroy) take this exclusively, every other call
    /// shares it. SoftHSM2's file object store fails (`CKR_GENERAL_ERROR`, seen under parallel
    /// tests) when one session creates a token object while others use the store. Shared by
    /// every provider opened on the same module in this process.
    store: Arc<RwLock<()>>,
    pub(crate) oaep256: AtomicU8,
}

impl Token {
    pub(crate) fn open(cfg: &Pkcs11Config) -> Result<Self> {
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
    pub(crate) fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
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
    pub(crate) fn with_store_session<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
        let _exclusive = self.store.write().map_err(|_| Error::internal("PKCS#11 store lock poisoned"))?;
        self.with_session_unlocked(f)
    }

    pub(crate) fn find(&self, s: &Session, id: &[u8], class: ObjectClass) -> Result<Option<ObjectHandle>> {
        let found =
            s.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())]).map_err(ck("C_FindObjects"))?;
        Ok(found.into_iter().next())
    }
}
