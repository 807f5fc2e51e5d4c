//! SQLite backend: the embedded default.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a commit is on disk before it is
//! acknowledged. Throughput: all writes go through one writer task that folds whatever commits
//! are queued into a single SQLite transaction (group commit), one savepoint per logical
//! transaction so a failed precondition rolls back only its own writes. Reads use a pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use strongbox_storage::{Cond, Entry, Op, Storage, StorageError, StorageResult, Txn};
use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 512;

pub struct SqliteStorage {
    readers: SqlitePool,
    writer: mpsc::Sender<Pending>,
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

fn backend(e: sqlx::Error) -> StorageError {
    StorageError::Backend(e.to_string())
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> StorageResult<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .pragma("foreign_keys", "OFF");
        let mut conn = SqliteConnection::connect_with(&opts).await.map_err(backend)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID")
            .execute(&mut conn)
            .await
            .map_err(backend)?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(opts.read_only(true))
            .await
            .map_err(backend)?;
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer_loop(conn, rx));
        Ok(Self { readers, writer: tx })
    }
}

async fn writer_loop(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        match apply_batch(&mut conn, &batch).await {
            Ok(results) => {
                for (p, r) in batch.drain(..).zip(results) {
                    let _ = p.reply.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "sqlite group commit failed");
                let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
                for p in batch.drain(..) {
                    let _ = p.reply.send(Err(StorageError::Backend(e.to_string())));
                }
            }
        }
    }
}

async fn apply_batch(conn: &mut SqliteConnection, batch: &[Pending]) -> Result<Vec<StorageResult<()>>, sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let mut results = Vec::with_capacity(batch.len());
    for p in batch {
        sqlx::query("SAVEPOINT t").execute(&mut *conn).await?;
        if conds_hold(conn, &p.txn.conds).await? {
            for op in &p.txn.ops {
                match op {
                    Op::Put(k, v) => {
                        sqlx::query(
                            "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
                        )
                        .bind(k.as_bytes())
                        .bind(v.as_slice())
                        .execute(&mut *conn)
                        .await?;
                    }
                    Op::Delete(k) => {
                        sqlx::query("DELETE FROM kv WHERE k = ?1").bind(k.as_bytes()).execute(&mut *conn).await?;
                    }
                }
            }
            results.push(Ok(()));
        } else {
            sqlx::query("ROLLBACK TO t").execute(&mut *conn).await?;
            results.push(Err(StorageError::ConditionFailed));
        }
        sqlx::query("RELEASE t").execute(&mut *conn).await?;
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(results)
}

async fn conds_hold(conn: &mut SqliteConnection, conds: &[Cond]) -> Result<bool, sqlx::Error> {
    for c in conds {
        let (k, expected) = match c {
            Cond::Absent(k) => (k, None),
            Cond::Equals(k, v) => (k, Some(v)),
        };
        let row = sqlx::query("SELECT v FROM kv WHERE k = ?1").bind(k.as_bytes()).fetch_optional(&mut *conn).await?;
        let current: Option<Vec<u8>> = row.map(|r| r.get(0));
        let ok = match expected {
            None => current.is_none(),
            Some(v) => current.as_ref() == Some(v),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn key_string(bytes: Vec<u8>) -> StorageResult<String> {
    String::from_utf8(bytes).map_err(|_| StorageError::Backend("non-UTF-8 key in database".into()))
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT v FROM kv WHERE k = ?1")
            .bind(key.as_bytes())
            .fetch_optional(&self.readers)
            .await
            .map_err(backend)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn scan(&self, start: &str, end: &str, limit: usize) -> StorageResult<Vec<Entry>> {
        let rows = sqlx::query("SELECT k, v FROM kv WHERE k >= ?1 AND k < ?2 ORDER BY k LIMIT ?3")
            .bind(start.as_bytes())
            .bind(end.as_bytes())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.readers)
            .await
            .map_err(backend)?;
        rows.into_iter().map(|r| Ok((key_string(r.get(0))?, r.get(1)))).collect()
    }

    async fn commit(&self, txn: Txn) -> StorageResult<()> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Pending { txn, reply })
            .await
            .map_err(|_| StorageError::Backend("sqlite writer stopped".into()))?;
        rx.await.map_err(|_| StorageError::Backend("sqlite writer stopped".into()))?
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
}
