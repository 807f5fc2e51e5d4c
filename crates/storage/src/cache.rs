//! A read cache in front of a storage backend, for deployments where this process is the only
//! writer (the embedded SQLite default). It holds ciphertext exactly as stored (never
//! plaintext), remembers absent keys too, and is bounded by entry count.
//!
//! Eviction is two-generational (an approximation of LRU with O(1) work): entries live in a
//! `hot` map; when it reaches half the capacity it becomes `cold` and a new `hot` starts; a hit
//! in `cold` is promoted. So at most `capacity` entries are held.
//!
//! Consistency: every commit bumps a sequence number under the cache lock after the backend has
//! committed, then updates the entries it wrote. A read that missed only fills the cache if no
//! commit happened between its sequence snapshot and its insert, so a slow read can never put
//! an old value over a newer one.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{Entry, Op, Storage, StorageResult, Txn};

type Slot = Option<Vec<u8>>;

struct State {
    hot: HashMap<String, Slot>,
    cold: HashMap<String, Slot>,
    seq: u64,
}

pub struct CachedStorage<S> {
    inner: S,
    half: usize,
    state: Mutex<State>,
}

impl<S> std::fmt::Debug for CachedStorage<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStorage").field("capacity", &(self.half * 2)).finish_non_exhaustive()
    }
}

impl<S: Storage> CachedStorage<S> {
    /// `capacity`: the most entries held (values and remembered absences).
    pub fn new(inner: S, capacity: usize) -> Self {
        let half = (capacity / 2).max(1);
        let state = State { hot: HashMap::with_capacity(half), cold: HashMap::new(), seq: 0 };
        Self { inner, half, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the maps half-updated in a way that
        // matters (every entry is a whole value), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn insert(&self, st: &mut State, key: String, slot: Slot) {
        if st.hot.len() >= self.half {
            // Pre-sized, so the hot map never rehashes (a multi-millisecond stall) under the lock.
            let fresh = HashMap::with_capacity(self.half);
            let retired = std::mem::replace(&mut st.cold, std::mem::replace(&mut st.hot, fresh));
            // Freeing tens of thousands of entries takes milliseconds: do it on another thread,
            // not on a request's path while holding the lock.
            if !retired.is_empty() {
                std::thread::spawn(move || drop(retired));
            }
        }
        st.cold.remove(&key);
        st.hot.insert(key, slot);
    }
}

#[async_trait]
impl<S: Storage> Storage for CachedStorage<S> {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        let snapshot = {
            let mut st = self.lock();
            if let Some(slot) = st.hot.get(key) {
                return Ok(slot.clone());
            }
            if let Some(slot) = st.cold.remove(key) {
                let out = slot.clone();
                self.insert(&mut st, key.to_owned(), slot);
                return Ok(out);
            }
            st.seq
        };
        let value = self.inner.get(key).await?;
        let mut st = self.lock();
        if st.seq == snapshot {
            self.insert(&mut st, key.to_owned(), value.clone());
        }
        Ok(value)
    }

    async fn scan(&self, start: &str, end: &str, limit: usize) -> StorageResult<Vec<Entry>> {
        self.inner.scan(start, end, limit).await
    }

    async fn commit(&self, txn: Txn) -> StorageResult<()> {
        let writes: Vec<(String, Slot)> = txn
            .ops
            .iter()
            .map(|op| match op {
                Op::Put(k, v) => (k.clone(), Some(v.clone())),
                Op::Delete(k) => (k.clone(), None),
            })
            .collect();
        let result = self.inner.commit(txn).await;
        let mut st = self.lock();
        st.seq += 1;
        match &result {
            Ok(()) => {
                for (k, slot) in writes {
                    self.insert(&mut st, k, slot);
                }
            }
            // Not applied (condition failed) or unknown (backend error): forget what we hold.
            Err(_) => {
                for (k, _) in writes {
                    st.hot.remove(&k);
                    st.cold.remove(&k);
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStorage;

    #[tokio::test]
    async fn cached_memory_passes_conformance() {
        crate::conformance::run_all(&CachedStorage::new(MemoryStorage::new(), 64)).await;
        crate::conformance::run_concurrent(std::sync::Arc::new(CachedStorage::new(MemoryStorage::new(), 64))).await;
    }

    #[tokio::test]
    async fn capacity_is_bounded_and_reads_stay_correct() {
        let c = CachedStorage::new(MemoryStorage::new(), 10);
        for i in 0..100 {
            c.commit(Txn::new().put(format!("k{i}"), vec![i])).await.unwrap();
        }
        for i in 0..100 {
            assert_eq!(c.get(&format!("k{i}")).await.unwrap(), Some(vec![i]));
        }
        let st = c.lock();
        assert!(st.hot.len() + st.cold.len() <= 10);
    }

    #[tokio::test]
    async fn failed_commit_does_not_poison_the_cache() {
        let c = CachedStorage::new(MemoryStorage::new(), 100);
        c.commit(Txn::new().put("a", b"1".to_vec())).await.unwrap();
        assert_eq!(c.get("a").await.unwrap(), Some(b"1".to_vec()));
        let failed = c.commit(Txn::new().absent("a").put("a", b"2".to_vec())).await;
        assert!(failed.is_err());
        assert_eq!(c.get("a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(c.get("missing").await.unwrap(), None);
        c.commit(Txn::new().put("missing", b"now".to_vec())).await.unwrap();
        assert_eq!(
            c.get("missing").await.unwrap(),
            Some(b"now".to_vec()),
            "a remembered absence is replaced by a write"
        );
    }
}
