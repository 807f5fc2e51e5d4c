//! The barrier is the only door from the services to storage. Everything that passes through it
//! is encrypted with AES-256-GCM under the current keyring term, with the storage key as
//! associated data, so a value copied to another key (or another deployment) fails to decrypt.
//!
//! Key hierarchy: a *seal* yields a key-encryption key (KEK); the KEK opens the root key stored
//! at [`ROOT_PATH`]; the root key opens the keyring at [`KEYRING_PATH`]; keyring terms encrypt
//! every value. While sealed, nothing can be read or written.
//!
//! Envelope layout: `term (u32 BE) ‖ format (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.

mod keyring;
pub mod keyspace;
mod seal;
mod view;

pub use keyring::{KeyringStatus, ROTATE_AFTER_ENCRYPTIONS, ROTATE_AFTER_SECONDS, USAGE_PATH};
pub use keyspace::Area;
pub use seal::KeyFileSeal;
pub use view::{CAS_RETRIES, Change, View, decode, encode};

tokio::task_local! {
    /// The lease whose holding every commit of the current task requires (see [`Fence`]).
    static FENCE: Fence;
}

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_crypto::aead::AeadKey;
use strongbox_storage::{Cond, Op, Storage, StorageError, Txn, prefix_end};
use strongbox_types::{Error, ErrorKind, Result, SecretBytes};
use tokio::sync::RwLock;

pub const ROOT_PATH: &str = "sys/barrier/root";
pub const KEYRING_PATH: &str = "sys/barrier/keyring";
const FORMAT_V1: u8 = 1;
const HEADER: usize = 5;

struct Term {
    key: AeadKey,
}

struct Unsealed {
    active: u32,
    terms: BTreeMap<u32, Term>,
    root: AeadKey,
    /// When each term was made (Unix seconds; absent for the first term of older deployments).
    installed: BTreeMap<u32, i64>,
    /// Values this node encrypted under the active term since it last added them to the stored
    /// count ([`Barrier::flush_usage`]).
    encryptions: std::sync::atomic::AtomicU64,
}

/// A stored value together with the exact bytes it was read from, so a later transaction can
/// require that nobody changed it in between (compare-and-set across server nodes).
pub struct Versioned {
    pub value: SecretBytes,
    pub stamp: Stamp,
}

/// Opaque: the ciphertext as read.
#[derive(Clone, PartialEq, Eq)]
pub struct Stamp(Vec<u8>);

impl std::fmt::Debug for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stamp({} bytes)", self.0.len())
    }
}

/// A lease's fencing condition: a record and the exact bytes this node last wrote to it.
///
/// Work run inside [`Barrier::fenced`] commits only while the record is unchanged, in the same
/// storage transaction as its writes: once another node has taken the lease over (which
/// rewrites the record), none of the old holder's writes can commit, however late they come.
#[derive(Clone, Debug)]
pub struct Fence {
    key: String,
    stamp: Stamp,
}

impl Fence {
    /// The condition "`key` still holds exactly `stamp`".
    pub fn new(key: impl Into<String>, stamp: Stamp) -> Self {
        Self { key: key.into(), stamp }
    }
}

/// A transaction of plaintext writes, encrypted by [`Barrier::commit`].
#[derive(Default)]
pub struct BTxn {
    conds: Vec<Cond>,
    ops: Vec<(String, Option<Vec<u8>>)>,
}

impl std::fmt::Debug for BTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.ops.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("BTxn").field("keys", &keys).finish_non_exhaustive()
    }
}

impl BTxn {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put(mut self, key: impl Into<String>, value: Vec<u8>) -> Self {
        self.ops.push((key.into(), Some(value)));
        self
    }
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push((key.into(), None));
        self
    }
    pub fn absent(mut self, key: impl Into<String>) -> Self {
        self.conds.push(Cond::Absent(key.into()));
        self
    }
    pub fn unchanged(mut self, key: impl Into<String>, stamp: &Stamp) -> Self {
        self.conds.push(Cond::Equals(key.into(), stamp.0.clone()));
        self
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.conds.is_empty()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyringDoc {
    active: u32,
    /// term -> hex of the 32-byte key
    terms: BTreeMap<u32, String>,
    /// term -> when it was made (Unix seconds)
    #[serde(default)]
    installed: BTreeMap<u32, i64>,
}

impl Drop for KeyringDoc {
    fn drop(&mut self) {
        for v in self.terms.values_mut() {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

pub struct Barrier {
    storage: Arc<dyn Storage>,
    state: RwLock<Option<Unsealed>>,
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Barrier")
    }
}

fn storage_err(e: StorageError) -> Error {
    match e {
        StorageError::ConditionFailed => Error::new(ErrorKind::Conflict, "The object was changed concurrently."),
        StorageError::Backend(d) => Error::internal(d),
        StorageError::Unavailable(m) => Error::new(ErrorKind::Unavailable, m),
    }
}

fn sealed() -> Error {
    Error::new(ErrorKind::Sealed, "The vault service is sealed.")
}

impl Barrier {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage, state: RwLock::new(None) }
    }

    pub async fn is_initialized(&self) -> Result<bool> {
        Ok(self.storage.get(ROOT_PATH).await.map_err(storage_err)?.is_some())
    }

    pub async fn is_sealed(&self) -> bool {
        self.state.read().await.is_none()
    }

    /// Creates the root key and the first keyring term, protected by `kek`. Fails if the
    /// storage already holds a root key (never overwrite one).
    pub async fn initialize(&self, kek: &SecretBytes) -> Result<()> {
        let kek = AeadKey::new(kek)?;
        let root = strongbox_crypto::random_key()?;
        let term1 = strongbox_crypto::random_key()?;
        let doc = KeyringDoc {
            active: 1,
            terms: BTreeMap::from([(1, strongbox_crypto::hex(term1.expose()))]),
            installed: BTreeMap::new(),
        };
        let doc_bytes = SecretBytes::new(serde_json::to_vec(&doc).map_err(|e| Error::internal(e.to_string()))?);
        let root_aead = AeadKey::new(&root)?;
        let txn = Txn {
            conds: vec![Cond::Absent(ROOT_PATH.into()), Cond::Absent(KEYRING_PATH.into())],
            ops: vec![
                Op::Put(ROOT_PATH.into(), kek.seal(ROOT_PATH.as_bytes(), root.expose())?),
                Op::Put(KEYRING_PATH.into(), root_aead.seal(KEYRING_PATH.as_bytes(), doc_bytes.expose())?),
            ],
        };
        self.storage.commit(txn).await.map_err(storage_err)
    }

    /// Opens the root key with `kek` and loads the keyring. A wrong KEK leaves the barrier sealed.
    pub async fn unseal(&self, kek: &SecretBytes) -> Result<()> {
        let kek = AeadKey::new(kek)?;
        let sealed_root = self
            .storage
            .get(ROOT_PATH)
            .await
            .map_err(storage_err)?
            .ok_or_else(|| Error::new(ErrorKind::Sealed, "The barrier is not initialized."))?;
        let root = kek
            .open(ROOT_PATH.as_bytes(), &sealed_root)
            .map_err(|_| Error::new(ErrorKind::Sealed, "The unseal key does not open the root key."))?;
        let root = AeadKey::new(&root)?;
        let unsealed = Self::load_keyring(&*self.storage, root).await?;
        *self.state.write().await = Some(unsealed);
        Ok(())
    }

    async fn load_keyring(storage: &dyn Storage, root: AeadKey) -> Result<Unsealed> {
        let (_, doc) = keyring::stored_doc(storage, &root).await?;
        let mut terms = BTreeMap::new();
        for (t, h) in &doc.terms {
            terms.insert(*t, keyring::term_key(h)?);
        }
        if !terms.contains_key(&doc.active) {
            return Err(Error::internal("keyring has no active term"));
        }
        Ok(Unsealed {
            active: doc.active,
            terms,
            root,
            installed: doc.installed.clone(),
            encryptions: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Forgets every key held in memory.
    pub async fn seal(&self) {
        *self.state.write().await = None;
    }

    fn encrypt(st: &Unsealed, key: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let term = st.terms.get(&st.active).ok_or_else(|| Error::internal("active term missing"))?;
        st.encryptions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut out = Vec::with_capacity(HEADER + 12 + plain.len() + 16);
        out.extend_from_slice(&st.active.to_be_bytes());
        out.push(FORMAT_V1);
        term.key.seal_into(key.as_bytes(), plain, &mut out)?;
        Ok(out)
    }

    fn decrypt(st: &Unsealed, key: &str, raw: &[u8]) -> Result<SecretBytes> {
        // The header is the 4-byte big-endian term, then the format byte.
        let (term, body) = match raw.split_first_chunk::<HEADER>() {
            Some((&[t0, t1, t2, t3, format], body)) if format == FORMAT_V1 => {
                (u32::from_be_bytes([t0, t1, t2, t3]), body)
            }
            _ => return Err(Error::internal(format!("stored value at {key} has an unknown format"))),
        };
        let t =
            st.terms.get(&term).ok_or_else(|| Error::internal(format!("value at {key} uses unknown term {term}")))?;
        t.key.open(key.as_bytes(), body).map_err(|_| Error::internal(format!("value at {key} failed authentication")))
    }

    pub async fn get(&self, key: &str) -> Result<Option<SecretBytes>> {
        Ok(self.get_versioned(key).await?.map(|v| v.value))
    }

    pub async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>> {
        let raw = self.storage.get(key).await.map_err(storage_err)?;
        let Some(raw) = raw else {
            return if self.is_sealed().await { Err(sealed()) } else { Ok(None) };
        };
        {
            // the common case, under one read lock: this node knows the value's term
            let guard = self.state.read().await;
            let st = guard.as_ref().ok_or_else(sealed)?;
            if !keyring::misses_a_term(st, std::iter::once(raw.as_slice())) {
                return Ok(Some(Versioned { value: Self::decrypt(st, key, &raw)?, stamp: Stamp(raw) }));
            }
        }
        // another node rotated: take its term, then decrypt
        self.reload_keyring().await?;
        let guard = self.state.read().await;
        let st = guard.as_ref().ok_or_else(sealed)?;
        Ok(Some(Versioned { value: Self::decrypt(st, key, &raw)?, stamp: Stamp(raw) }))
    }

    /// Entries whose key starts with `prefix` and is `>= start` (pass `prefix` to begin), at most `limit`.
    pub async fn scan_prefix(&self, prefix: &str, start: &str, limit: usize) -> Result<Vec<(String, SecretBytes)>> {
        if self.is_sealed().await {
            return Err(sealed());
        }
        let from = if start < prefix { prefix } else { start };
        let rows = self.storage.scan(from, &prefix_end(prefix), limit).await.map_err(storage_err)?;
        let missing = {
            let guard = self.state.read().await;
            let st = guard.as_ref().ok_or_else(sealed)?;
            keyring::misses_a_term(st, rows.iter().map(|(_, raw)| raw.as_slice()))
        };
        if missing {
            self.reload_keyring().await?;
        }
        let guard = self.state.read().await;
        let st = guard.as_ref().ok_or_else(sealed)?;
        rows.into_iter().map(|(k, raw)| Self::decrypt(st, &k, &raw).map(|v| (k, v))).collect()
    }

    /// Only the keys under a prefix (values are not decrypted).
    pub async fn scan_keys(&self, prefix: &str, start: &str, limit: usize) -> Result<Vec<String>> {
        if self.is_sealed().await {
            return Err(sealed());
        }
        let from = if start < prefix { prefix } else { start };
        let rows = self.storage.scan(from, &prefix_end(prefix), limit).await.map_err(storage_err)?;
        Ok(rows.into_iter().map(|(k, _)| k).collect())
    }

    /// Runs `work` so that every commit it makes (on this task) also requires `fence`. A commit
    /// refused because the fence no longer holds fails with an internal error naming the lease
    /// (not `Conflict`, so compare-and-set loops stop at once instead of retrying).
    pub async fn fenced<F: Future>(fence: Fence, work: F) -> F::Output {
        FENCE.scope(fence, work).await
    }

    /// Encrypts and applies `txn` atomically. A failed condition yields `ErrorKind::Conflict`.
    pub async fn commit(&self, txn: BTxn) -> Result<()> {
        let fence = FENCE.try_with(Fence::clone).ok();
        let mut storage_txn = {
            let guard = self.state.read().await;
            let st = guard.as_ref().ok_or_else(sealed)?;
            let mut ops = Vec::with_capacity(txn.ops.len());
            for (k, v) in &txn.ops {
                ops.push(match v {
                    Some(plain) => Op::Put(k.clone(), Self::encrypt(st, k, plain)?),
                    None => Op::Delete(k.clone()),
                });
            }
            Txn { conds: txn.conds.clone(), ops }
        };
        let Some(fence) = fence else {
            return self.storage.commit(storage_txn).await.map_err(storage_err);
        };
        storage_txn.conds.push(Cond::Equals(fence.key.clone(), fence.stamp.0.clone()));
        match self.storage.commit(storage_txn).await {
            Err(StorageError::ConditionFailed) => {
                let now = self.storage.get(&fence.key).await.map_err(storage_err)?;
                if now.as_deref() == Some(fence.stamp.0.as_slice()) {
                    Err(storage_err(StorageError::ConditionFailed))
                } else {
                    Err(Error::internal(format!(
                        "this node no longer holds the lease {}; nothing was written",
                        fence.key
                    )))
                }
            }
            other => other.map_err(storage_err),
        }
    }
}

impl Drop for BTxn {
    fn drop(&mut self) {
        // Plaintext values are about to be freed: wipe them first.
        for (_, v) in &mut self.ops {
            if let Some(v) = v {
                zeroize::Zeroize::zeroize(v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
