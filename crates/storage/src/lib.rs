//! The storage contract. Backends are untrusted: they only ever see ciphertext (the barrier
//! encrypts every value) and plain keys. Keys are UTF-8 strings ordered bytewise.
//!
//! Every backend must pass [`conformance::run_all`].

mod cache;
pub mod conformance;
mod memory;

pub use cache::CachedStorage;
pub use memory::MemoryStorage;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// A transaction's precondition did not hold; nothing was written.
    #[error("transaction precondition failed")]
    ConditionFailed,
    /// The backend failed. The text is for logs; it holds no values.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// The storage cannot take this request now but may soon: the database is unreachable or
    /// restarting, or it is a read-only standby. The text is shown to callers (it names no
    /// host, value or credential); nothing was written, or for a commit cut off while its
    /// `COMMIT` was in flight, possibly all of it (never part).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A precondition checked inside the transaction, atomically with its writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The key must not exist.
    Absent(String),
    /// The key must exist with exactly this value.
    Equals(String, Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(String, Vec<u8>),
    Delete(String),
}

/// Writes applied all-or-nothing, only when every condition holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub conds: Vec<Cond>,
    pub ops: Vec<Op>,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put(mut self, key: impl Into<String>, value: Vec<u8>) -> Self {
        self.ops.push(Op::Put(key.into(), value));
        self
    }
    pub fn delete(mut self, key: impl Into<String>) -> Self {
        self.ops.push(Op::Delete(key.into()));
        self
    }
    pub fn absent(mut self, key: impl Into<String>) -> Self {
        self.conds.push(Cond::Absent(key.into()));
        self
    }
    pub fn equals(mut self, key: impl Into<String>, value: Vec<u8>) -> Self {
        self.conds.push(Cond::Equals(key.into(), value));
        self
    }
}

pub type Entry = (String, Vec<u8>);

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>>;
    /// Entries with `start <= key < end`, ascending, at most `limit`.
    async fn scan(&self, start: &str, end: &str, limit: usize) -> StorageResult<Vec<Entry>>;
    /// Applies `txn` atomically and durably: once this returns `Ok`, the writes survive a crash.
    async fn commit(&self, txn: Txn) -> StorageResult<()>;
}

/// The smallest key strictly greater than `key` (for resuming a scan after it).
pub fn key_after(key: &str) -> String {
    let mut k = String::with_capacity(key.len() + 1);
    k.push_str(key);
    k.push('\0');
    k
}

/// The end bound of a prefix scan: every key starting with `prefix` is `< prefix_end(prefix)`.
/// Prefixes in this project end with `/`, so bumping that last byte is enough.
pub fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0x7f {
            bytes.push(last + 1);
            return String::from_utf8(bytes).unwrap_or_else(|_| "\u{10FFFF}".into());
        }
    }
    "\u{10FFFF}".into()
}
