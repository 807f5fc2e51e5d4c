use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio::sync::RwLock;

use crate::{Cond, Entry, Op, Storage, StorageError, StorageResult, Txn};

/// Volatile storage for tests and the conformance reference.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.map.read().await.get(key).cloned())
    }

    async fn scan(&self, start: &str, end: &str, limit: usize) -> StorageResult<Vec<Entry>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let map = self.map.read().await;
        Ok(map
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Excluded(end)))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn commit(&self, txn: Txn) -> StorageResult<()> {
        let mut map = self.map.write().await;
        for c in &txn.conds {
            let ok = match c {
                Cond::Absent(k) => !map.contains_key(k),
                Cond::Equals(k, v) => map.get(k) == Some(v),
            };
            if !ok {
                return Err(StorageError::ConditionFailed);
            }
        }
        for op in txn.ops {
            match op {
                Op::Put(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_passes_conformance() {
        crate::conformance::run_all(&super::MemoryStorage::new()).await;
    }
}
