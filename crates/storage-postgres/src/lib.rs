//! PostgreSQL backend: for deployments that already run a replicated PostgreSQL.
//!
//! Layout: one table `kv (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)` in a chosen schema (default
//! `public`). Keys are stored as their UTF-8 bytes, so `ORDER BY k` is bytewise and never depends
//! on a locale collation.
//!
//! Preconditions: every commit runs in its own READ COMMITTED transaction that first takes a
//! transaction-scoped advisory lock (`pg_advisory_xact_lock`) on a stable 64-bit hash of every key
//! it reads (conditions) or writes (ops), in ascending lock-id order. Two commits that touch a
//! common key therefore run one after the other (the second one's statements see the first one's
//! committed writes), commits on disjoint keys run in parallel, and the ordered acquisition rules
//! out deadlocks between commits. This is strict two-phase locking over keys, so commits are
//! serializable exactly like the in-memory reference backend, including racing create-if-absent
//! commits: exactly one wins, the others see the row and report `ConditionFailed`. Hash collisions
//! only serialize unrelated commits; they never affect correctness.
//!
//! Durability: a commit is acknowledged only after PostgreSQL's `COMMIT` returns. Connections whose
//! `synchronous_commit` is `off` are switched to `on` when opened.
//!
//! Change notification: keys that start with one of the prefixes given to
//! [`PostgresStorage::notify_changes_under`] are announced with `pg_notify` inside the committing
//! transaction (PostgreSQL delivers it only if, and when, the transaction commits) on a channel
//! of the schema; [`PostgresStorage::listen`] hands them to a callback on every node. Writes to
//! other keys cost nothing extra.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr, SqlStr};
use strongbox_storage::{Cond, Entry, Op, Storage, StorageError, StorageResult, Txn};

/// The schema used by [`PostgresStorage::connect`].
pub const DEFAULT_SCHEMA: &str = "public";

const MAX_CONNECTIONS: u32 = 16;
/// Attempts for a commit that PostgreSQL aborted with a serialization failure or deadlock (neither
/// happens between commits of this backend, but other sessions may hold locks on the table).
const MAX_ATTEMPTS: u32 = 5;
/// Lock-id namespace for schema/table creation, distinct from every schema name (which has no NUL).
const INIT_LOCK_NS: &[u8] = b"\0strongbox-storage-postgres:init";

pub struct PostgresStorage {
    pool: PgPool,
    /// Connections of their own for `scan` (see [`Readers`]).
    readers: Readers,
    /// The queue of the `get` workers.
    gets: tokio::sync::mpsc::Sender<GetRequest>,
    schema: String,
    sql: Statements,
    /// Key prefixes whose writes are announced on [`Self::channel`].
    notify: Vec<String>,
    channel: String,
}

/// What [`PostgresStorage::listen`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed<'a> {
    /// This key was written or deleted by a committed transaction (of any node).
    Key(&'a str),
    /// Notifications may have been missed (the listening connection was lost and re-opened, or
    /// a transaction touched too many keys to name): anything may have changed.
    Anything,
}

/// Payloads above this many bytes (PostgreSQL's limit is 8000) are sent as "anything changed".
const MAX_PAYLOAD: usize = 7000;
/// The payload meaning [`Changed::Anything`]; never a key (keys are not empty).
const ANYTHING: &str = "";

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// SQL text with the schema-qualified table name baked in.
struct Statements {
    scan: SqlStr,
    lock: SqlStr,
    read: SqlStr,
    upsert: SqlStr,
    delete: SqlStr,
    notify: SqlStr,
}

impl Statements {
    fn new(table: &str) -> Self {
        // The only dynamic part is `table`, built by `quote_ident` from the schema name.
        let sql = |text: String| AssertSqlSafe(Arc::<str>::from(text)).into_sql_str();
        Self {
            scan: sql(format!("SELECT k, v FROM {table} WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3")),
            // unnest emits the (pre-sorted) ids in array order and the target list is evaluated
            // row by row, so the locks are taken in ascending order.
            lock: SqlStr::from_static("SELECT pg_advisory_xact_lock(id) FROM unnest($1::int8[]) AS l(id)"),
            read: sql(format!("SELECT k, v FROM {table} WHERE k = ANY($1::bytea[])")),
            upsert: sql(format!(
                "INSERT INTO {table} (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            )),
            delete: sql(format!("DELETE FROM {table} WHERE k = ANY($1::bytea[])")),
            notify: SqlStr::from_static("SELECT pg_notify($1, $2)"),
        }
    }
}

/// Maps a driver error: the database unreachable, restarting or read-only becomes
/// [`StorageError::Unavailable`] (a 503 the client retries), with the driver's text only in the
/// log; anything else is a backend failure.
fn backend(e: sqlx::Error) -> StorageError {
    let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
    let read_only = code.as_deref() == Some("25006");
    let unreachable = matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    ) || code.as_deref().is_some_and(|c| {
        // connection exceptions, admin/crash shutdown, cannot connect now, too many connections
        c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
    });
    if read_only {
        tracing::warn!(error = %e, "PostgreSQL refused a write: the database is read-only (a standby)");
        StorageError::Unavailable("The database is a read-only standby: writes are not possible on it now.".into())
    } else if unreachable {
        tracing::warn!(error = %e, "PostgreSQL is unreachable or restarting");
        StorageError::Unavailable("The storage is not reachable at the moment; retry later.".into())
    } else {
        StorageError::Backend(e.to_string())
    }
}

/// How long a request waits for a pooled connection (all busy, or the database restarting)
/// before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// `"name"` with embedded quotes doubled: a PostgreSQL quoted identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// FNV-1a 64 over `namespace || 0x00 || key`: a fixed algorithm, so every process (and every
/// version of this crate) agrees on the lock id of a key.
fn lock_id(namespace: &[u8], key: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in namespace.iter().chain(&[0u8]).chain(key) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

fn is_retryable(e: &sqlx::Error) -> bool {
    // 40001 serialization_failure, 40P01 deadlock_detected: the transaction was rolled back.
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40001" || c == "40P01")
}

fn key_string(bytes: Vec<u8>) -> StorageResult<String> {
    String::from_utf8(bytes).map_err(|_| StorageError::Backend("non-UTF-8 key in database".into()))
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user:pass@host:port/db?...`) and uses the `kv` table in the
    /// `public` schema, creating it if missing.
    pub async fn connect(url: &str) -> StorageResult<Self> {
        Self::connect_with_schema(url, DEFAULT_SCHEMA).await
    }

    /// Like [`connect`](Self::connect) but keeps the `kv` table in `schema`, creating the schema
    /// and the table if missing. Separate schemas are fully independent stores.
    pub async fn connect_with_schema(url: &str, schema: &str) -> StorageResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(backend)?;
        Self::connect_with(options, schema).await
    }

    /// Connects with explicit options (TLS, socket, application name...) and schema.
    pub async fn connect_with(options: PgConnectOptions, schema: &str) -> StorageResult<Self> {
        if schema.is_empty() || schema.len() > 63 || schema.contains('\0') {
            return Err(StorageError::Backend("schema name must be 1 to 63 bytes without NUL".into()));
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // No ping before each use (a round trip per commit): a connection that died meanwhile
            // fails its commit, which is answered 503, and the pool drops it.
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    let mode: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
                        .fetch_one(&mut *conn)
                        .await?;
                    if mode == "off" {
                        sqlx::query("SET synchronous_commit TO on").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        let options_for_readers = options;
        let table = format!("{}.kv", quote_ident(schema));
        if let Err(e) = migrate(&pool, schema, &table).await {
            pool.close().await;
            return Err(match e {
                sqlx::Error::Protocol(m) if m.contains("newer than this Strongbox") => StorageError::Backend(m),
                e => backend(e),
            });
        }
        // one channel per schema, so separate stores in one database do not hear each other
        let channel = format!("strongbox_{:016x}", lock_id(b"\0strongbox-storage-postgres:notify", schema.as_bytes()));
        let sql = Statements::new(&table);
        let gets = start_get_workers(&options_for_readers, sql.read.clone());
        let readers = Readers::new(options_for_readers);
        Ok(Self { pool, readers, gets, schema: schema.to_owned(), sql, notify: Vec::new(), channel })
    }

    /// Announces committed writes of keys under these prefixes to every [`listen`](Self::listen)er
    /// of this schema (set before the store is shared).
    pub fn notify_changes_under(&mut self, prefixes: &[&str]) {
        self.notify = prefixes.iter().map(|p| (*p).to_owned()).collect();
    }

    /// Whether the database is a standby in recovery (a streaming replica): it serves reads and
    /// refuses writes.
    pub async fn in_recovery(&self) -> StorageResult<bool> {
        sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&self.pool).await.map_err(backend)
    }

    /// On a standby, seconds since the last transaction it replayed was committed on the primary
    /// (grows while the primary is idle too); `None` on a primary.
    pub async fn replication_lag(&self) -> StorageResult<Option<f64>> {
        sqlx::query_scalar(
            "SELECT CASE WHEN pg_is_in_recovery() THEN \
             COALESCE(EXTRACT(EPOCH FROM (clock_timestamp() - pg_last_xact_replay_timestamp()))::float8, 0) END",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    /// The `LISTEN` channel of this schema.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Listens on this schema's channel on a connection of its own, and calls `on_change` for
    /// every announced key (this node's writes included). When the connection is lost it
    /// reconnects (with a pause of up to 5 s between attempts) and reports
    /// [`Changed::Anything`], since notifications sent meanwhile are gone. Returns once listening.
    pub async fn listen(
        &self,
        on_change: Arc<dyn Fn(Changed<'_>) + Send + Sync>,
    ) -> StorageResult<tokio::task::JoinHandle<()>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await.map_err(backend)?;
        listener.listen(&self.channel).await.map_err(backend)?;
        Ok(tokio::spawn(async move {
            let mut pause = Duration::from_millis(100);
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        pause = Duration::from_millis(100);
                        if n.payload() == ANYTHING {
                            on_change(Changed::Anything);
                        } else {
                            for key in n.payload().split('\n') {
                                on_change(Changed::Key(key));
                            }
                        }
                    }
                    // the connection was lost; the next call reconnects and listens again
                    Ok(None) => {
                        tracing::warn!("storage change notifications: connection lost, reconnecting");
                        on_change(Changed::Anything);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "storage change notifications: cannot reconnect yet");
                        on_change(Changed::Anything);
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }))
    }

    /// The `pg_notify` payload announcing `txn`'s writes, if it writes a watched key.
    fn notice(&self, txn: &Txn) -> Option<String> {
        if self.notify.is_empty() {
            return None;
        }
        let mut keys = txn
            .ops
            .iter()
            .map(|o| match o {
                Op::Put(k, _) | Op::Delete(k) => k.as_str(),
            })
            .filter(|k| !k.is_empty() && !k.contains('\n') && self.notify.iter().any(|p| k.starts_with(p.as_str())))
            .peekable();
        keys.peek()?;
        let mut payload = String::new();
        for k in keys {
            if !payload.is_empty() {
                payload.push('\n');
            }
            payload.push_str(k);
            if payload.len() > MAX_PAYLOAD {
                return Some(ANYTHING.to_owned());
            }
        }
        Some(payload)
    }

    /// The schema version recorded in the database (`strongbox_schema`).
    pub async fn schema_version(&self) -> StorageResult<i32> {
        let versions = format!("{}.strongbox_schema", quote_ident(&self.schema));
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COALESCE(MAX(version), 0) FROM {versions}")))
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    /// The schema holding this store's `kv` table.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Closes every pooled connection, waiting for in-flight operations (the `get` workers'
    /// connections close when the store is dropped).
    pub async fn close(&self) {
        for c in &self.readers.conns {
            if let Some(conn) = c.lock().await.take() {
                let _ = sqlx::Connection::close(conn).await;
            }
        }
        self.pool.close().await;
    }

    /// One attempt. `Ok(Err(ConditionFailed))` is a clean outcome (rolled back, nothing written);
    /// `Err` is a database error, which the caller may retry.
    async fn try_commit(&self, txn: &Txn, lock_ids: &[i64]) -> Result<StorageResult<()>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(self.sql.lock.clone()).bind(lock_ids).execute(&mut *tx).await?;

        if !txn.conds.is_empty() {
            let keys: Vec<&[u8]> = txn
                .conds
                .iter()
                .map(|c| match c {
                    Cond::Absent(k) | Cond::Equals(k, _) => k.as_bytes(),
                })
                .collect();
            let rows = sqlx::query(self.sql.read.clone()).bind(&keys).fetch_all(&mut *tx).await?;
            let mut current: HashMap<Vec<u8>, Vec<u8>> = HashMap::with_capacity(rows.len());
            for row in rows {
                current.insert(row.try_get(0)?, row.try_get(1)?);
            }
            let hold = txn.conds.iter().all(|c| match c {
                Cond::Absent(k) => !current.contains_key(k.as_bytes()),
                Cond::Equals(k, v) => current.get(k.as_bytes()) == Some(v),
            });
            if !hold {
                tx.rollback().await?;
                return Ok(Err(StorageError::ConditionFailed));
            }
        }

        // Later ops on the same key win; one statement may not touch a row twice.
        let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
        for op in &txn.ops {
            match op {
                Op::Put(k, v) => last.insert(k.as_bytes(), Some(v.as_slice())),
                Op::Delete(k) => last.insert(k.as_bytes(), None),
            };
        }
        let (mut put_keys, mut put_values, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
        for (k, v) in last {
            match v {
                Some(v) => {
                    put_keys.push(k);
                    put_values.push(v);
                }
                None => deletes.push(k),
            }
        }
        if !put_keys.is_empty() {
            sqlx::query(self.sql.upsert.clone()).bind(&put_keys).bind(&put_values).execute(&mut *tx).await?;
        }
        if !deletes.is_empty() {
            sqlx::query(self.sql.delete.clone()).bind(&deletes).execute(&mut *tx).await?;
        }
        if let Some(payload) = self.notice(txn) {
            sqlx::query(self.sql.notify.clone()).bind(&self.channel).bind(payload).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }
}

/// The schema migrations, in order: version `i + 1` is `MIGRATIONS[i]` (description, SQL with
/// `{table}` for the schema-qualified `kv` table). Append only; never edit a released one.
const MIGRATIONS: &[(&str, &str)] =
    &[("the key-value table", "CREATE TABLE IF NOT EXISTS {table} (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)")];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Brings the schema to [`SCHEMA_VERSION`]: creates the schema, the `strongbox_schema` table
/// (one row per applied migration) and applies the missing migrations, all in one transaction
/// under an advisory lock, so nodes starting together run each migration once. A database at a
/// newer version than this build is refused (an older binary must not write a newer layout).
/// Nothing is created when the schema is current, so a role without CREATE privilege can use a
/// database prepared by its owner (`strongbox server --init`).
async fn migrate(pool: &PgPool, schema: &str, table: &str) -> Result<i32, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(lock_id(INIT_LOCK_NS, schema.as_bytes()))
        .execute(&mut *tx)
        .await?;
    let exists = |name: &'static str| {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2)",
        )
        .bind(schema.to_owned())
        .bind(name)
    };
    let has_versions: bool = exists("strongbox_schema").fetch_one(&mut *tx).await?;
    let versions = format!("{}.strongbox_schema", quote_ident(schema));
    let current: i32 = if has_versions {
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COALESCE(MAX(version), 0) FROM {versions}")))
            .fetch_one(&mut *tx)
            .await?
    } else {
        0
    };
    if current > SCHEMA_VERSION {
        return Err(sqlx::Error::Protocol(format!(
            "the database schema is at version {current}, newer than this Strongbox understands ({SCHEMA_VERSION}): \
             run a newer release"
        )));
    }
    if current == SCHEMA_VERSION {
        return tx.commit().await.map(|()| current);
    }
    let has_schema: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(&mut *tx)
        .await?;
    if !has_schema {
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema))))
            .execute(&mut *tx)
            .await?;
    }
    if !has_versions {
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {versions} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )))
        .execute(&mut *tx)
        .await?;
    }
    for (i, (description, sql)) in MIGRATIONS.iter().enumerate().skip(usize::try_from(current).unwrap_or(0)) {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        sqlx::raw_sql(AssertSqlSafe(sql.replace("{table}", table))).execute(&mut *tx).await?;
        sqlx::query(AssertSqlSafe(format!("INSERT INTO {versions} (version, description) VALUES ($1, $2)")))
            .bind(version)
            .bind(*description)
            .execute(&mut *tx)
            .await?;
        tracing::info!(schema, version, description, "PostgreSQL schema migration applied");
    }
    tx.commit().await.map(|()| SCHEMA_VERSION)
}

/// Connections held by the store itself rather than borrowed from the pool: sqlx's pool pings
/// every connection it takes back (a second round trip per query) from a task it spawns, which
/// cost a third of the throughput of a secret GET. These are plain connections, opened on first
/// use and replaced after a connection error. A statement whose future was dropped mid-way is
/// finished by sqlx's own ready-for-query wait on the next use.
///
/// `get`s are batched: [`GET_WORKERS`] tasks, each with its connection, take every `get` queued
/// while they were busy (up to [`MAX_BATCH`]) and answer them with one `k = ANY($1)` query, so
/// under load one round trip serves many requests and an idle store answers each at once.
/// Scans use [`SCAN_READERS`] connections behind async mutexes.
struct Readers {
    options: PgConnectOptions,
    conns: [tokio::sync::Mutex<Option<sqlx::PgConnection>>; SCAN_READERS],
    next: std::sync::atomic::AtomicUsize,
}

/// Connections for scans, and tasks (each with a connection) that answer `get`s.
const SCAN_READERS: usize = 2;
const GET_WORKERS: usize = 6;
/// Most `get`s answered by one query.
const MAX_BATCH: usize = 64;

/// A new connection; while the database refuses connections (restarting) it tries again, with
/// growing pauses, for up to [`ACQUIRE_TIMEOUT`], as the pool does for commits.
async fn connect_retrying(options: &PgConnectOptions) -> Result<sqlx::PgConnection, sqlx::Error> {
    use sqlx::ConnectOptions;
    let deadline = tokio::time::Instant::now() + ACQUIRE_TIMEOUT;
    let mut pause = Duration::from_millis(20);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, options.connect()).await {
            Ok(Ok(c)) => return Ok(c),
            Ok(Err(e)) if connection_lost(&e) && tokio::time::Instant::now() + pause < deadline => {
                tracing::debug!(error = %e, "PostgreSQL refuses connections; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        }
    }
}

type ReadFuture<'c, T> = std::pin::Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// Runs `read` on the connection in `slot`, opening one if needed. When an open connection turns
/// out to be dead (the database restarted, the network cut it), it is replaced and `read` runs
/// once more on the new one; a failure on a new connection is the answer.
async fn on_slot<T>(
    slot: &mut Option<sqlx::PgConnection>,
    options: &PgConnectOptions,
    mut read: impl for<'c> FnMut(&'c mut sqlx::PgConnection) -> ReadFuture<'c, T>,
) -> Result<T, sqlx::Error> {
    if let Some(conn) = slot.as_mut() {
        match read(conn).await {
            Err(e) if connection_lost(&e) => {
                tracing::debug!(error = %e, "PostgreSQL reader connection lost; reconnecting");
                *slot = None;
            }
            other => return other,
        }
    }
    let fresh = connect_retrying(options).await?;
    let out = read(slot.insert(fresh)).await;
    if out.as_ref().is_err_and(connection_lost) {
        *slot = None;
    }
    out
}

impl Readers {
    fn new(options: PgConnectOptions) -> Self {
        Self {
            options,
            conns: std::array::from_fn(|_| tokio::sync::Mutex::new(None)),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A free reader (round robin), else waits for the next one in turn.
    async fn take(&self) -> tokio::sync::MutexGuard<'_, Option<sqlx::PgConnection>> {
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = self.conns.len();
        for i in 0..n {
            if let Some(Ok(g)) = self.conns.get((start + i) % n).map(tokio::sync::Mutex::try_lock) {
                return g;
            }
        }
        let [first, ..] = &self.conns;
        self.conns.get(start % n).unwrap_or(first).lock().await
    }

    async fn run<T>(
        &self,
        read: impl for<'c> FnMut(&'c mut sqlx::PgConnection) -> ReadFuture<'c, T>,
    ) -> Result<T, sqlx::Error> {
        let mut slot = self.take().await;
        on_slot(&mut slot, &self.options, read).await
    }
}

/// One queued `get`: the key and where its answer goes.
type GetRequest = (Vec<u8>, tokio::sync::oneshot::Sender<StorageResult<Option<Vec<u8>>>>);

/// Starts the `get` workers; they stop when the returned sender (held by the store) is dropped.
fn start_get_workers(options: &PgConnectOptions, read_many: SqlStr) -> tokio::sync::mpsc::Sender<GetRequest> {
    let (tx, rx) = tokio::sync::mpsc::channel::<GetRequest>(4096);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..GET_WORKERS {
        let (rx, options, sql) = (rx.clone(), options.clone(), read_many.clone());
        tokio::spawn(async move {
            let mut conn: Option<sqlx::PgConnection> = None;
            loop {
                let mut batch: Vec<GetRequest> = Vec::new();
                {
                    let mut queue = rx.lock().await;
                    match queue.recv().await {
                        Some(r) => batch.push(r),
                        None => return,
                    }
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                }
                let keys: Vec<&[u8]> = batch.iter().map(|(k, _)| k.as_slice()).collect();
                let rows =
                    on_slot(&mut conn, &options, |c| Box::pin(sqlx::query(sql.clone()).bind(&keys).fetch_all(c))).await;
                let found: Result<HashMap<Vec<u8>, Vec<u8>>, sqlx::Error> = rows.and_then(|rows| {
                    rows.into_iter().map(|r| Ok((r.try_get::<Vec<u8>, _>(0)?, r.try_get::<Vec<u8>, _>(1)?))).collect()
                });
                match found {
                    Ok(found) => {
                        for (k, reply) in batch {
                            let _ = reply.send(Ok(found.get(&k).cloned()));
                        }
                    }
                    Err(e) => {
                        let e = backend(e);
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
    }
    tx
}

/// Whether a read failed because its pooled connection was dead (closed by a database restart or
/// a network cut): worth one more try on another connection.
fn connection_lost(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::Protocol(_))
        || e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c.starts_with("08") || c == "57P01")
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || StorageError::Backend("the PostgreSQL read workers stopped".into());
        self.gets.send((key.as_bytes().to_vec(), reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn scan(&self, start: &str, end: &str, limit: usize) -> StorageResult<Vec<Entry>> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .readers
            .run(|c| {
                Box::pin(
                    sqlx::query(self.sql.scan.clone())
                        .bind(start.as_bytes())
                        .bind(end.as_bytes())
                        .bind(limit)
                        .fetch_all(c),
                )
            })
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(|r| {
                let k: Vec<u8> = r.try_get(0).map_err(backend)?;
                Ok((key_string(k)?, r.try_get(1).map_err(backend)?))
            })
            .collect()
    }

    async fn commit(&self, txn: Txn) -> StorageResult<()> {
        if txn.conds.is_empty() && txn.ops.is_empty() {
            return Ok(());
        }
        let ns = self.schema.as_bytes();
        let keys = txn.conds.iter().map(|c| match c {
            Cond::Absent(k) | Cond::Equals(k, _) => k,
        });
        let keys = keys.chain(txn.ops.iter().map(|o| match o {
            Op::Put(k, _) | Op::Delete(k) => k,
        }));
        let mut lock_ids: Vec<i64> = keys.map(|k| lock_id(ns, k.as_bytes())).collect();
        lock_ids.sort_unstable();
        lock_ids.dedup();

        let mut attempt = 1;
        loop {
            match self.try_commit(&txn, &lock_ids).await {
                Ok(outcome) => return outcome,
                Err(e) if attempt < MAX_ATTEMPTS && is_retryable(&e) => {
                    tracing::debug!(error = %e, attempt, "postgres commit aborted, retrying");
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(backend(e)),
            }
        }
    }
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests {

    use strongbox_storage::conformance;

    use super::testing::{redacted, with_fresh_db};
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_passes_conformance() {
        with_fresh_db(|url| async move {
            let s = PostgresStorage::connect(&url).await.unwrap();
            conformance::run_all(&s).await;
            let s = Arc::new(s);
            conformance::run_concurrent(s.clone()).await;
            s.close().await;
            eprintln!("storage-postgres conformance: run_all and run_concurrent passed against {}", redacted(&url));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn schemas_are_isolated_and_data_survives_reconnect() {
        with_fresh_db(|url| async move {
            let odd = "Tenant \"B\"; DROP TABLE kv; --";
            let a = PostgresStorage::connect_with_schema(&url, "tenant_a").await.unwrap();
            let b = PostgresStorage::connect_with_schema(&url, odd).await.unwrap();
            a.commit(Txn::new().absent("k").put("k", b"a".to_vec())).await.unwrap();
            assert_eq!(b.get("k").await.unwrap(), None, "schemas must not share data");
            b.commit(Txn::new().absent("k").put("k", b"b".to_vec())).await.unwrap();
            assert_eq!(a.get("k").await.unwrap(), Some(b"a".to_vec()));
            a.close().await;
            b.close().await;

            let a = PostgresStorage::connect_with_schema(&url, "tenant_a").await.unwrap();
            assert_eq!(a.get("k").await.unwrap(), Some(b"a".to_vec()), "data must survive reconnect");
            assert_eq!(a.schema(), "tenant_a");
            a.close().await;
            assert!(PostgresStorage::connect_with_schema(&url, "").await.is_err());
        })
        .await;
    }

    /// Committed writes of watched keys reach another store's listener (in order, fast);
    /// unwatched keys and commits that failed their condition are not announced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn watched_writes_are_announced_to_listeners_after_commit() {
        with_fresh_db(|url| async move {
            let mut writer = PostgresStorage::connect(&url).await.unwrap();
            writer.notify_changes_under(&["rbac/", "user/"]);
            let reader = PostgresStorage::connect(&url).await.unwrap();
            let other_schema = PostgresStorage::connect_with_schema(&url, "elsewhere").await.unwrap();
            assert_ne!(reader.channel(), other_schema.channel());
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let on_change: Arc<dyn Fn(Changed<'_>) + Send + Sync> = Arc::new(move |c| {
                let _ = tx.send(match c {
                    Changed::Key(k) => k.to_owned(),
                    Changed::Anything => "*".to_owned(),
                });
            });
            let task = reader.listen(on_change.clone()).await.unwrap();
            let elsewhere = other_schema.listen(Arc::new(|_| panic!("another schema heard a change"))).await.unwrap();

            writer.commit(Txn::new().put("secret/x", vec![1])).await.unwrap(); // not watched
            writer.commit(Txn::new().absent("gone").put("x", vec![0])).await.unwrap();
            let failed = writer.commit(Txn::new().absent("x").put("rbac/never", vec![1])).await;
            assert_eq!(failed, Err(StorageError::ConditionFailed));
            let t = std::time::Instant::now();
            writer
                .commit(Txn::new().put("rbac/generation", vec![1]).delete("user/u1").put("other", vec![2]))
                .await
                .unwrap();
            let first = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.unwrap().unwrap();
            let latency = t.elapsed();
            let second = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.unwrap().unwrap();
            assert_eq!((first.as_str(), second.as_str()), ("rbac/generation", "user/u1"));
            assert!(latency < Duration::from_millis(500), "notification took {latency:?}");

            // a transaction naming too many keys says "anything"
            let mut big = Txn::new();
            for i in 0..2000 {
                big = big.put(format!("user/{i:06}"), vec![1]);
            }
            writer.commit(big).await.unwrap();
            let all = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.unwrap().unwrap();
            assert_eq!(all, "*");
            assert!(rx.try_recv().is_err(), "unexpected extra notification");
            task.abort();
            elsewhere.abort();
            eprintln!("storage-postgres: a watched write was heard by another store in {latency:?}");
        })
        .await;
    }

    /// Nodes starting together apply each migration once; a newer schema is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn migrations_run_once_and_a_newer_schema_is_refused() {
        with_fresh_db(|url| async move {
            let starts: Vec<_> = (0..6)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { PostgresStorage::connect_with_schema(&url, "racing").await })
                })
                .collect();
            let mut stores = Vec::new();
            for s in starts {
                stores.push(s.await.unwrap().expect("a concurrent start failed"));
            }
            assert_eq!(stores[0].schema_version().await.unwrap(), SCHEMA_VERSION);
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            let rows: i64 =
                sqlx::query_scalar("SELECT count(*) FROM racing.strongbox_schema").fetch_one(&mut conn).await.unwrap();
            assert_eq!(rows, i64::from(SCHEMA_VERSION), "a migration ran more than once");
            for s in stores {
                s.close().await;
            }
            // a database written by a newer release
            sqlx::query("INSERT INTO racing.strongbox_schema (version, description) VALUES (99, 'future')")
                .execute(&mut conn)
                .await
                .unwrap();
            let err = PostgresStorage::connect_with_schema(&url, "racing").await.unwrap_err();
            assert!(err.to_string().contains("version 99, newer than this Strongbox"), "{err}");
            // a table made before migrations were versioned is adopted as version 1
            sqlx::raw_sql(
                "CREATE SCHEMA legacy; CREATE TABLE legacy.kv (k BYTEA PRIMARY KEY, v BYTEA NOT NULL); \
                           INSERT INTO legacy.kv VALUES ('\\x6b'::bytea, '\\x76'::bytea)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            let legacy = PostgresStorage::connect_with_schema(&url, "legacy").await.unwrap();
            assert_eq!(legacy.get("k").await.unwrap(), Some(b"v".to_vec()));
            assert_eq!(legacy.schema_version().await.unwrap(), SCHEMA_VERSION);
            legacy.close().await;
            let _ = sqlx::Connection::close(conn).await;
        })
        .await;
    }

    /// Many concurrent `get`s (batched by the workers) each get their own key's value, including
    /// missing keys and one key asked for many times in one batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_gets_are_answered_each_with_its_own_value() {
        with_fresh_db(|url| async move {
            let s = Arc::new(PostgresStorage::connect(&url).await.unwrap());
            let mut txn = Txn::new();
            for i in 0..50 {
                txn = txn.put(format!("k/{i:03}"), format!("v{i}").into_bytes());
            }
            s.commit(txn).await.unwrap();
            let tasks: Vec<_> = (0..400)
                .map(|n| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        let i = if n % 5 == 0 { 7 } else { n % 70 }; // 50..69 are missing
                        let got = s.get(&format!("k/{i:03}")).await.unwrap();
                        (i, got)
                    })
                })
                .collect();
            for t in tasks {
                let (i, got) = t.await.unwrap();
                let want = (i < 50).then(|| format!("v{i}").into_bytes());
                assert_eq!(got, want, "key k/{i:03}");
            }
            s.close().await;
        })
        .await;
    }

    /// Compare-and-swap increments from many tasks: none may be lost or applied twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn compare_and_swap_is_linearizable() {
        with_fresh_db(|url| async move {
            let s = Arc::new(PostgresStorage::connect(&url).await.unwrap());
            s.commit(Txn::new().put("ctr", 0u64.to_be_bytes().to_vec())).await.unwrap();
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..20 {
                        loop {
                            let cur = s.get("ctr").await.unwrap().unwrap();
                            let n = u64::from_be_bytes(cur.as_slice().try_into().unwrap());
                            let next = (n + 1).to_be_bytes().to_vec();
                            match s.commit(Txn::new().equals("ctr", cur).put("ctr", next)).await {
                                Ok(()) => break,
                                Err(StorageError::ConditionFailed) => continue,
                                Err(e) => panic!("backend error: {e}"),
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let end = s.get("ctr").await.unwrap().unwrap();
            assert_eq!(u64::from_be_bytes(end.as_slice().try_into().unwrap()), 160);

            // Write skew: "put b if a is absent" racing "put a if b is absent": exactly one wins.
            for round in 0..20 {
                let (ka, kb) = (format!("skew/{round}/a"), format!("skew/{round}/b"));
                let t1 = tokio::spawn({
                    let (s, ka, kb) = (s.clone(), ka.clone(), kb.clone());
                    async move { s.commit(Txn::new().absent(ka).put(kb, vec![1])).await }
                });
                let t2 = tokio::spawn({
                    let s = s.clone();
                    async move { s.commit(Txn::new().absent(kb).put(ka, vec![2])).await }
                });
                let wins = [t1.await.unwrap(), t2.await.unwrap()]
                    .into_iter()
                    .filter(|r| match r {
                        Ok(()) => true,
                        Err(StorageError::ConditionFailed) => false,
                        Err(e) => panic!("backend error: {e}"),
                    })
                    .count();
                assert_eq!(wins, 1, "write skew in round {round}");
            }
            s.close().await;
        })
        .await;
    }
}
