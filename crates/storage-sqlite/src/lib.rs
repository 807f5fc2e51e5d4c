//! SQLite backend: the embedded default.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a commit is on disk before it is
//! acknowledged. Writes: one writer thread owns the write connection and folds whatever commits
//! are queued into a single SQLite transaction (group commit), one savepoint per logical
//! transaction so a failed precondition rolls back only its own writes.
//!
//! Reads run inline on the calling task, on a small pool of read-only connections. A point read
//! in WAL mode from the page cache takes microseconds, far less than handing the query to
//! another thread and waking the task again (what an async driver does, and what dominated the
//! profile of the first version of this backend).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use strongbox_storage::{Cond, Entry, Op, Storage, StorageError, StorageResult, Txn};
use tokio::sync::oneshot;

const MAX_BATCH: usize = 512;
const READERS: usize = 4;

pub struct SqliteStorage {
    readers: [Mutex<Connection>; READERS],
    next: AtomicUsize,
    writer: mpsc::SyncSender<Pending>,
    writer_thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStorage")
    }
}

struct Pending {
    txn: Txn,
    reply: oneshot::Sender<StorageResult<()>>,
}

fn backend(e: rusqlite::Error) -> StorageError {
    StorageError::Backend(e.to_string())
}

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(Duration::from_secs(10))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// The schema migrations, in order: version `i + 1` is `MIGRATIONS[i]`. Append only; never edit
/// a released one. The version is SQLite's `PRAGMA user_version`.
const MIGRATIONS: &[&str] =
    &["CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID"];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Applies the missing migrations, each with its version in one transaction; a file written by a
/// newer release is refused. A file from before versioning (version 0 with a `kv` table) is
/// adopted by migration 1, which creates nothing then.
fn migrate(c: &Connection) -> StorageResult<i32> {
    let current: i32 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(backend)?;
    if current > SCHEMA_VERSION {
        return Err(StorageError::Backend(format!(
            "the database schema is at version {current}, newer than this Strongbox understands ({SCHEMA_VERSION}): \
             run a newer release"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let version = i + 1;
        c.execute_batch(&format!("BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {version}; COMMIT;")).map_err(|e| {
            let _ = c.execute_batch("ROLLBACK");
            backend(e)
        })?;
    }
    Ok(SCHEMA_VERSION)
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> StorageResult<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(|e| StorageError::Backend(e.to_string()))?
    }

    fn open_blocking(path: &Path) -> StorageResult<Self> {
        let w = Connection::open(path).map_err(backend)?;
        configure(&w).map_err(backend)?;
        migrate(&w)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                    .map_err(backend)?;
            r.busy_timeout(Duration::from_secs(10)).map_err(backend)?;
            readers.push(Mutex::new(r));
        }
        let readers: [Mutex<Connection>; READERS] =
            readers.try_into().map_err(|_| StorageError::Backend("cannot open the sqlite readers".into()))?;
        let (tx, rx) = mpsc::sync_channel(4096);
        let writer_thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(w, rx))
            .map_err(|e| StorageError::Backend(format!("cannot start the sqlite writer: {e}")))?;
        Ok(Self { readers, next: AtomicUsize::new(0), writer: tx, writer_thread })
    }

    /// Finishes queued commits and closes every connection (SQLite checkpoints the WAL when the
    /// last one closes). Dropping the storage does the same, without waiting.
    pub async fn close(self) {
        let Self { readers, writer, writer_thread, .. } = self;
        drop(readers);
        drop(writer);
        let _ = tokio::task::spawn_blocking(move || writer_thread.join()).await;
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.next.fetch_add(1, Ordering::Relaxed) % READERS;
        // The pool in round-robin order, from `start`.
        let mut pool = self.readers.iter().cycle().skip(start).take(READERS);
        let [first, ..] = &self.readers;
        let home = pool.clone().next().unwrap_or(first);
        if let Some(g) = pool.find_map(|r| r.try_lock().ok()) {
            return g;
        }
        // All busy: wait for one. A poisoned connection is still a valid connection.
        home.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        match apply_batch(&mut conn, &batch) {
            Ok(results) => {
                for (p, r) in batch.drain(..).zip(results) {
                    let _ = p.reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "sqlite group commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                for p in batch.drain(..) {
                    let _ = p.reply.send(Err(StorageError::Backend(e.to_string())));
                }
            }
        }
    }
}

fn apply_batch(conn: &mut Connection, batch: &[Pending]) -> rusqlite::Result<Vec<StorageResult<()>>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut put =
            tx.prepare_cached("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v")?;
        let mut del = tx.prepare_cached("DELETE FROM kv WHERE k = ?1")?;
        let mut get = tx.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
        for p in batch {
            tx.execute_batch("SAVEPOINT t")?;
            let mut ok = true;
            for c in &p.txn.conds {
                let (k, expected) = match c {
                    Cond::Absent(k) => (k, None),
                    Cond::Equals(k, v) => (k, Some(v)),
                };
                let current: Option<Vec<u8>> = get.query_row(params![k.as_bytes()], |r| r.get(0)).optional()?;
                ok = match expected {
                    None => current.is_none(),
                    Some(v) => current.as_ref() == Some(v),
                };
                if !ok {
                    break;
                }
            }
            if ok {
                for op in &p.txn.ops {
                    match op {
                        Op::Put(k, v) => put.execute(params![k.as_bytes(), v.as_slice()])?,
                        Op::Delete(k) => del.execute(params![k.as_bytes()])?,
                    };
                }
                results.push(Ok(()));
            } else {
                tx.execute_batch("ROLLBACK TO t")?;
                results.push(Err(StorageError::ConditionFailed));
            }
            tx.execute_batch("RELEASE t")?;
        }
    }
    tx.commit()?;
    Ok(results)
}

fn key_string(bytes: Vec<u8>) -> rusqlite::Result<String> {
    String::from_utf8(bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        let c = self.reader();
        let mut stmt = c.prepare_cached("SELECT v FROM kv WHERE k = ?1").map_err(backend)?;
        stmt.query_row(params![key.as_bytes()], |r| r.get(0)).optional().map_err(backend)
    }

    async fn scan(&self, start: &str, end: &str, limit: usize) -> StorageResult<Vec<Entry>> {
        let c = self.reader();
        let mut stmt =
            c.prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 AND k < ?2 ORDER BY k LIMIT ?3").map_err(backend)?;
        let rows = stmt
            .query_map(params![start.as_bytes(), end.as_bytes(), i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((key_string(r.get(0)?)?, r.get(1)?))
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    async fn commit(&self, txn: Txn) -> StorageResult<()> {
        let (reply, rx) = oneshot::channel();
        let stopped = || StorageError::Backend("sqlite writer stopped".into());
        // The queue is bounded; when it is full, wait for room off the async worker.
        match self.writer.try_send(Pending { txn, reply }) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(p)) => {
                let w = self.writer.clone();
                tokio::task::spawn_blocking(move || w.send(p)).await.map_err(|_| stopped())?.map_err(|_| stopped())?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        rx.await.map_err(|_| stopped())?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn sqlite_passes_conformance() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(&dir.path().join("kv.db")).await.unwrap();
        strongbox_storage::conformance::run_all(&s).await;
        strongbox_storage::conformance::run_concurrent(Arc::new(s)).await;
    }

    #[tokio::test]
    async fn cached_sqlite_passes_conformance() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStorage::open(&dir.path().join("kv.db")).await.unwrap();
        let c = strongbox_storage::CachedStorage::new(s, 1000);
        strongbox_storage::conformance::run_all(&c).await;
        strongbox_storage::conformance::run_concurrent(Arc::new(c)).await;
    }

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        {
            let s = SqliteStorage::open(&path).await.unwrap();
            s.commit(Txn::new().put("a", b"1".to_vec())).await.unwrap();
        }
        let s = SqliteStorage::open(&path).await.unwrap();
        assert_eq!(s.get("a").await.unwrap(), Some(b"1".to_vec()));
    }

    #[tokio::test]
    async fn journal_is_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.db");
        let _s = SqliteStorage::open(&path).await.unwrap();
        let c = Connection::open(&path).unwrap();
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn schema_is_versioned_and_a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // a file from before versioning: a kv table, user_version 0
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE kv (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID; \
                             INSERT INTO kv VALUES (CAST('a' AS BLOB), CAST('1' AS BLOB));",
            )
            .unwrap();
        }
        let s = SqliteStorage::open(&path).await.unwrap();
        assert_eq!(s.get("a").await.unwrap(), Some(b"1".to_vec()), "old data adopted");
        s.close().await;
        let c = Connection::open(&path).unwrap();
        let v: i32 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        c.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(c);
        let Err(err) = SqliteStorage::open(&path).await else { panic!("a newer file must be refused") };
        assert!(err.to_string().contains("version 99, newer than this Strongbox"), "{err}");
    }
}
