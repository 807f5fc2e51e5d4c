//! A service's window on the barrier: one [`Area`] of the keyspace, with typed (JSON) reads and
//! writes, paged scans, and the one compare-and-set retry loop every service uses.
//!
//! Keys given to a view are relative to its area's prefix; the full storage key is
//! `prefix ‖ relative`. A view cannot name a key outside its area. Transactions that span areas
//! (a version and its head, a certificate and its key) are built with [`View::put`] and friends
//! on a shared [`BTxn`] and committed once, so they stay atomic.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use strongbox_types::{Error, ErrorKind, Result, SecretBytes};

use crate::keyspace::Area;
use crate::{BTxn, Barrier, Stamp};

/// How many times [`Barrier::transact`] runs an attempt that lost a compare-and-set race.
pub const CAS_RETRIES: usize = 8;

/// Rows read per storage round trip by [`View::scan_all`].
const PAGE: usize = 1000;

/// What [`View::update`]'s closure wants done with the record.
pub enum Change<T, R> {
    /// Write this value (the record must still be as it was read).
    Put(T, R),
    /// Delete the record (it must still be as it was read).
    Delete(R),
    /// Leave it as it is.
    Keep(R),
}

impl Barrier {
    /// Runs `attempt`, which returns a transaction and the value to answer once it is committed,
    /// and commits it; when another writer won a compare-and-set race, runs the attempt again
    /// (re-reading what it read), at most [`CAS_RETRIES`] times, then returns `busy()`. Errors
    /// of the attempt itself end the loop at once.
    ///
    /// `attempt` returns a fresh future per run (`|| async move { … }` over copied references),
    /// so the services' futures stay `Send`.
    pub async fn transact<R, F, Fut>(&self, busy: impl FnOnce() -> Error, mut attempt: F) -> Result<R>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(BTxn, R)>>,
    {
        for _ in 0..CAS_RETRIES {
            let (txn, r) = attempt().await?;
            if self.try_commit(txn).await? {
                return Ok(r);
            }
        }
        Err(busy())
    }

    /// Commits `txn`; `Ok(false)` when one of its conditions failed (another writer won).
    async fn try_commit(&self, txn: BTxn) -> Result<bool> {
        match self.commit(txn).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Encodes a record as stored (JSON).
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::internal(format!("record encoding failed: {e}")))
}

/// Decodes a stored record; `key` names it in the error.
pub fn decode<T: DeserializeOwned>(key: &str, b: &SecretBytes) -> Result<T> {
    serde_json::from_slice(b.expose()).map_err(|_| Error::internal(format!("record at {key} is corrupt")))
}

/// One area of the keyspace, seen through the barrier.
#[derive(Clone)]
pub struct View {
    barrier: Arc<Barrier>,
    area: Area,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "View({})", self.area.prefix)
    }
}

impl View {
    pub fn new(barrier: Arc<Barrier>, area: Area) -> Self {
        Self { barrier, area }
    }

    pub fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    /// The full storage key of `rel`.
    pub fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.area.prefix)
    }

    /// `full` without this view's prefix, if it lies in the view.
    pub fn relative<'a>(&self, full: &'a str) -> Option<&'a str> {
        full.strip_prefix(self.area.prefix)
    }

    pub async fn get<T: DeserializeOwned>(&self, rel: &str) -> Result<Option<T>> {
        let key = self.key(rel);
        match self.barrier.get(&key).await? {
            None => Ok(None),
            Some(b) => decode(&key, &b).map(Some),
        }
    }

    /// The record and the stamp a later [`View::unchanged`] condition compares against.
    pub async fn get_versioned<T: DeserializeOwned>(&self, rel: &str) -> Result<Option<(T, Stamp)>> {
        let key = self.key(rel);
        match self.barrier.get_versioned(&key).await? {
            None => Ok(None),
            Some(v) => Ok(Some((decode(&key, &v.value)?, v.stamp))),
        }
    }

    /// Whether a record exists (its value is decrypted and dropped).
    pub async fn exists(&self, rel: &str) -> Result<bool> {
        Ok(self.barrier.get(&self.key(rel)).await?.is_some())
    }

    /// Raw bytes, for records that are not JSON.
    pub async fn get_bytes(&self, rel: &str) -> Result<Option<SecretBytes>> {
        self.barrier.get(&self.key(rel)).await
    }

    /// At most `limit` records under `rel_prefix` whose relative key is `>= start` (pass `""`
    /// to begin), with their relative keys.
    pub async fn scan<T: DeserializeOwned>(
        &self,
        rel_prefix: &str,
        start: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>> {
        let prefix = self.key(rel_prefix);
        let rows = self.barrier.scan_prefix(&prefix, &self.key(start), limit).await?;
        rows.into_iter().map(|(k, b)| Ok((self.strip(&k)?, decode(&k, &b)?))).collect()
    }

    /// Every record under `rel_prefix`, read page by page.
    pub async fn scan_all<T: DeserializeOwned>(&self, rel_prefix: &str) -> Result<Vec<(String, T)>> {
        let mut out = Vec::new();
        let mut start = rel_prefix.to_owned();
        loop {
            let rows: Vec<(String, T)> = self.scan(rel_prefix, &start, PAGE).await?;
            let n = rows.len();
            let Some((last, _)) = rows.last() else { break };
            start = format!("{last}\0");
            out.extend(rows);
            if n < PAGE {
                break;
            }
        }
        Ok(out)
    }

    /// Relative keys only (nothing is decrypted).
    pub async fn scan_keys(&self, rel_prefix: &str, start: &str, limit: usize) -> Result<Vec<String>> {
        let keys = self.barrier.scan_keys(&self.key(rel_prefix), &self.key(start), limit).await?;
        keys.iter().map(|k| self.strip(k)).collect()
    }

    fn strip(&self, full: &str) -> Result<String> {
        self.relative(full)
            .map(str::to_owned)
            .ok_or_else(|| Error::internal(format!("scan of {} returned {full}", self.area.prefix)))
    }

    /// Adds a write of `value` at `rel` to `txn`.
    pub fn put<T: Serialize>(&self, txn: BTxn, rel: &str, value: &T) -> Result<BTxn> {
        Ok(txn.put(self.key(rel), encode(value)?))
    }

    pub fn put_bytes(&self, txn: BTxn, rel: &str, value: Vec<u8>) -> BTxn {
        txn.put(self.key(rel), value)
    }

    pub fn delete(&self, txn: BTxn, rel: &str) -> BTxn {
        txn.delete(self.key(rel))
    }

    /// Condition: nothing is stored at `rel`.
    pub fn absent(&self, txn: BTxn, rel: &str) -> BTxn {
        txn.absent(self.key(rel))
    }

    /// Condition: `rel` still holds what was read with `stamp`.
    pub fn unchanged(&self, txn: BTxn, rel: &str, stamp: &Stamp) -> BTxn {
        txn.unchanged(self.key(rel), stamp)
    }

    pub async fn commit(&self, txn: BTxn) -> Result<()> {
        self.barrier.commit(txn).await
    }

    /// Writes `value` at `rel` only if nothing is there; `Ok(false)` when something was.
    pub async fn create<T: Serialize>(&self, rel: &str, value: &T) -> Result<bool> {
        let txn = self.put(self.absent(BTxn::new(), rel), rel, value)?;
        self.barrier.try_commit(txn).await
    }

    /// Read-modify-write of one record under compare-and-set: `f` sees the current value (or
    /// `None`) and decides; lost races re-read and call `f` again (see [`Barrier::transact`]).
    pub async fn update<T, R>(
        &self,
        rel: &str,
        busy: impl FnOnce() -> Error,
        mut f: impl FnMut(Option<T>) -> Result<Change<T, R>>,
    ) -> Result<R>
    where
        T: Serialize + DeserializeOwned,
    {
        for _ in 0..CAS_RETRIES {
            let current = self.get_versioned::<T>(rel).await?;
            let (value, txn) = match current {
                Some((v, stamp)) => (Some(v), self.unchanged(BTxn::new(), rel, &stamp)),
                None => (None, self.absent(BTxn::new(), rel)),
            };
            let (txn, r) = match f(value)? {
                Change::Put(v, r) => (self.put(txn, rel, &v)?, r),
                Change::Delete(r) => (self.delete(txn, rel), r),
                Change::Keep(r) => return Ok(r),
            };
            if self.barrier.try_commit(txn).await? {
                return Ok(r);
            }
        }
        Err(busy())
    }
}
