//! The storage a server opens (`--storage`): the embedded SQLite file (the default, in the data
//! folder) or a PostgreSQL database that several nodes share.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use strongbox_storage::{CachedStorage, Storage};
use strongbox_storage_postgres::PostgresStorage;
use strongbox_storage_sqlite::SqliteStorage;
use strongbox_types::{SecretString, redact_url_password};

/// How long a starting server waits for PostgreSQL before it gives up (a service manager
/// restarts it).
const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where the data lives.
#[derive(Clone)]
pub enum StorageSpec {
    /// A SQLite file; `None`: `strongbox.db` in the data folder.
    Sqlite(Option<PathBuf>),
    /// A PostgreSQL connection URL (`postgres://user:pw@host:port/db?sslmode=…`). It may hold a
    /// password, so it is kept wrapped and only ever shown redacted.
    Postgres(SecretString),
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self::Sqlite(None)
    }
}

impl std::fmt::Debug for StorageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StorageSpec {
    /// Parses `sqlite:PATH` or `postgres://…` / `postgresql://…`; `flag` names the setting in
    /// errors.
    pub fn parse_flag(flag: &str, s: &str) -> anyhow::Result<Self> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                bail!("{flag} sqlite:PATH needs a file path");
            }
            return Ok(Self::Sqlite(Some(PathBuf::from(path))));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(SecretString::new(s.to_owned())));
        }
        bail!("{flag} '{}' is neither sqlite:PATH nor postgres://…", redact_url_password(s))
    }

    /// [`Self::parse_flag`] for `--storage`.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Self::parse_flag("--storage", s)
    }

    /// For logs and errors: the SQLite path, or the URL with any password as `***`.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(Some(p)) => format!("sqlite:{}", p.display()),
            Self::Sqlite(None) => "sqlite:strongbox.db (in the data folder)".to_owned(),
            Self::Postgres(url) => redact_url_password(url.expose()),
        }
    }

    /// The same storage with the default SQLite file named: `strongbox.db` in `data_dir`.
    pub(crate) fn in_folder(&self, data_dir: &Path) -> Self {
        match self {
            Self::Sqlite(None) => Self::Sqlite(Some(data_dir.join("strongbox.db"))),
            other => other.clone(),
        }
    }

    /// Whether other processes may write the same data (a shared database).
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Opens the storage (`spec` after [`StorageSpec::in_folder`]). `cache_entries` puts the read
/// cache in front; it is refused on a shared database, where other nodes' writes would not
/// reach it.
/// An open storage, and the PostgreSQL store behind it (for change notifications).
pub(crate) struct Opened {
    pub storage: Arc<dyn Storage>,
    pub postgres: Option<Arc<PostgresStorage>>,
}

/// Opens the storage (`spec` after [`StorageSpec::in_folder`]); on PostgreSQL, writes of the keys
/// under `watched` are announced to the other nodes (see [`PostgresStorage::listen`]).
pub(crate) async fn open(spec: &StorageSpec, cache_entries: usize, watched: &[&str]) -> anyhow::Result<Opened> {
    match open_storage(spec, cache_entries).await? {
        Store::Other(storage) => Ok(Opened { storage, postgres: None }),
        Store::Postgres(mut pg) => {
            pg.notify_changes_under(watched);
            let pg = Arc::new(*pg);
            Ok(Opened { storage: pg.clone(), postgres: Some(pg) })
        }
    }
}

enum Store {
    Other(Arc<dyn Storage>),
    Postgres(Box<PostgresStorage>),
}

async fn open_storage(spec: &StorageSpec, cache_entries: usize) -> anyhow::Result<Store> {
    match spec {
        StorageSpec::Sqlite(path) => {
            let db_path = path.as_deref().context("no SQLite file named")?;
            let sqlite = open_sqlite(db_path).await?;
            Ok(Store::Other(if cache_entries > 0 {
                Arc::new(CachedStorage::new(sqlite, cache_entries))
            } else {
                Arc::new(sqlite)
            }))
        }
        StorageSpec::Postgres(url) => {
            if cache_entries > 0 {
                bail!(
                    "--cache-entries keeps a read cache that only this process's writes update: it cannot be used with \
                     PostgreSQL storage, which other nodes write too"
                );
            }
            let connected = tokio::time::timeout(CONNECT_WAIT, PostgresStorage::connect(url.expose())).await;
            let pg = match connected {
                Ok(Ok(pg)) => pg,
                // the driver's message names the host or the server's complaint, never the URL
                Ok(Err(e)) => bail!("cannot open the PostgreSQL storage {}: {e}", spec.describe()),
                Err(_) => bail!(
                    "cannot open the PostgreSQL storage {}: no connection within {} s",
                    spec.describe(),
                    CONNECT_WAIT.as_secs()
                ),
            };
            tracing::info!(storage = %spec.describe(), "storage: PostgreSQL");
            Ok(Store::Postgres(Box::new(pg)))
        }
    }
}

async fn open_sqlite(db_path: &Path) -> anyhow::Result<SqliteStorage> {
    // SQLite gives its -wal/-shm/-journal files the mode of the database file: create that 0600
    // first (an empty file is an empty database) and tighten any older, wider files.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(db_path)
        .with_context(|| format!("cannot create {}", db_path.display()))?;
    restrict_db_files(db_path)?;
    let sqlite = SqliteStorage::open(db_path).await?;
    restrict_db_files(db_path)?;
    Ok(sqlite)
}

/// `strongbox.db` and SQLite's side files: any that other users could read become 0600.
fn restrict_db_files(db: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = db.with_file_name(format!("{name}{suffix}"));
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if !meta.is_file() {
            bail!("{} is not a regular file", p.display());
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode != 0o600 {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot restrict {} to mode 0600", p.display()))?;
            tracing::warn!(file = %p.display(), old_mode = format!("{mode:03o}"), "database file was readable by others: now 0600");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_never_show_a_password() {
        assert!(
            matches!(StorageSpec::parse("sqlite:/tmp/x.db").unwrap(), StorageSpec::Sqlite(Some(p)) if p == Path::new("/tmp/x.db"))
        );
        assert!(
            matches!(StorageSpec::parse("sqlite:///tmp/x.db").unwrap(), StorageSpec::Sqlite(Some(p)) if p == Path::new("/tmp/x.db"))
        );
        assert!(StorageSpec::parse("sqlite:").is_err());
        let pg = StorageSpec::parse("postgres://sb:hunter2@db.example:5432/strongbox").unwrap();
        assert!(pg.is_shared());
        assert_eq!(pg.describe(), "postgres://sb:***@db.example:5432/strongbox");
        assert!(!format!("{pg:?}").contains("hunter2"));
        let e = StorageSpec::parse("mysql://sb:hunter2@db/x").unwrap_err().to_string();
        assert!(e.contains("neither") && !e.contains("hunter2"), "{e}");
    }
}

/// What [`copy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub entries: u64,
    pub bytes: u64,
    /// Hex SHA-256 chained over every entry (key and value, in key order), the same for the
    /// source and the copy.
    pub digest: String,
}

/// Entries per read and per destination transaction.
const COPY_PAGE: usize = 500;

/// A running digest over `(key, value)` entries in key order.
struct Digest([u8; 32], u64, u64);

impl Digest {
    fn new() -> Self {
        Self([0; 32], 0, 0)
    }
    fn add(&mut self, k: &str, v: &[u8]) {
        let mut buf = Vec::with_capacity(32 + 16 + k.len() + v.len());
        buf.extend_from_slice(&self.0);
        buf.extend_from_slice(&(k.len() as u64).to_be_bytes());
        buf.extend_from_slice(k.as_bytes());
        buf.extend_from_slice(&(v.len() as u64).to_be_bytes());
        buf.extend_from_slice(v);
        self.0 = strongbox_crypto::sha256(&buf);
        self.1 += 1;
        self.2 += (k.len() + v.len()) as u64;
    }
    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Every entry of `storage` in key order, page by page, into `each`.
async fn walk(
    storage: &dyn Storage,
    mut each: impl AsyncFnMut(Vec<strongbox_storage::Entry>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let end = "\u{10FFFF}";
    let mut start = String::new();
    loop {
        let page = storage.scan(&start, end, COPY_PAGE).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let Some((last, _)) = page.last() else { return Ok(()) };
        start = strongbox_storage::key_after(last);
        let full = page.len() == COPY_PAGE;
        each(page).await?;
        if !full {
            return Ok(());
        }
    }
}

/// `strongbox storage copy`: copies every entry of `from` into the empty storage `to`, as stored
/// (ciphertext; the same seal opens the copy), then reads the copy back and compares digests.
/// The root key is written last, so an interrupted copy leaves a destination no server opens as
/// a deployment (empty it before trying again). The source must not be written meanwhile: stop
/// its servers first.
pub async fn copy(from: &StorageSpec, to: &StorageSpec) -> anyhow::Result<CopyReport> {
    for (flag, spec) in [("--from", from), ("--to", to)] {
        if matches!(spec, StorageSpec::Sqlite(None)) {
            bail!("{flag} sqlite:PATH needs the database file");
        }
    }
    if from.describe() == to.describe() {
        bail!("--from and --to name the same storage");
    }
    if let StorageSpec::Sqlite(Some(p)) = from
        && !p.is_file()
    {
        bail!("--from {}: no such database file", from.describe());
    }
    let source = store(open_storage(from, 0).await?);
    let dest = store(open_storage(to, 0).await?);
    let root = strongbox_barrier::ROOT_PATH;
    if source.get(root).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_none() {
        bail!("{} holds no Strongbox deployment (no root key)", from.describe());
    }
    if !dest.scan("", "\u{10FFFF}", 1).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_empty() {
        bail!(
            "{} is not empty: copy only into an empty database (a deployment is never merged into another)",
            to.describe()
        );
    }
    let mut read = Digest::new();
    let mut held_root = None;
    walk(&*source, async |page| {
        let mut txn = strongbox_storage::Txn::new();
        for (k, v) in page {
            read.add(&k, &v);
            if k == root {
                held_root = Some(v);
            } else {
                txn = txn.absent(k.clone()).put(k, v);
            }
        }
        dest.commit(txn).await.map_err(|e| anyhow::anyhow!("writing to {}: {e}", to.describe()))
    })
    .await?;
    let root_value = held_root.context("the root key vanished during the copy")?;
    dest.commit(strongbox_storage::Txn::new().absent(root).put(root, root_value))
        .await
        .map_err(|e| anyhow::anyhow!("writing the root key to {}: {e}", to.describe()))?;
    let mut written = Digest::new();
    walk(&*dest, async |page| {
        for (k, v) in page {
            written.add(&k, &v);
        }
        Ok(())
    })
    .await?;
    if written.0 != read.0 || written.1 != read.1 {
        bail!(
            "the copy in {} differs from the source ({} entries read, {} found): was the source written meanwhile?",
            to.describe(),
            read.1,
            written.1
        );
    }
    Ok(CopyReport { entries: read.1, bytes: read.2, digest: read.hex() })
}

fn store(s: Store) -> Arc<dyn Storage> {
    match s {
        Store::Other(s) => s,
        Store::Postgres(pg) => Arc::new(*pg),
    }
}

/// The storage as a node sees it: commits are refused while `read_only` is set (a node on a
/// standby), with `message` naming where writes go; reads pass through.
pub(crate) struct Gate {
    inner: Arc<dyn Storage>,
    read_only: Arc<std::sync::atomic::AtomicBool>,
    message: String,
    /// Storage latency and errors, when metrics are kept.
    pub(crate) metrics: Option<Arc<strongbox_api::metrics::Metrics>>,
}

impl Gate {
    pub(crate) fn new(inner: Arc<dyn Storage>, read_only: Arc<std::sync::atomic::AtomicBool>, message: String) -> Self {
        Self { inner, read_only, message, metrics: None }
    }

    fn timed<T>(&self, kind: &'static str, started: std::time::Instant, r: &strongbox_storage::StorageResult<T>) {
        if let Some(m) = &self.metrics {
            let failed = matches!(
                r,
                Err(strongbox_storage::StorageError::Backend(_) | strongbox_storage::StorageError::Unavailable(_))
            );
            m.storage(kind, started.elapsed(), failed);
        }
    }
}

#[async_trait::async_trait]
impl Storage for Gate {
    async fn get(&self, key: &str) -> strongbox_storage::StorageResult<Option<Vec<u8>>> {
        let t = std::time::Instant::now();
        let r = self.inner.get(key).await;
        self.timed("get", t, &r);
        r
    }
    async fn scan(
        &self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> strongbox_storage::StorageResult<Vec<strongbox_storage::Entry>> {
        let t = std::time::Instant::now();
        let r = self.inner.scan(start, end, limit).await;
        self.timed("scan", t, &r);
        r
    }
    async fn commit(&self, txn: strongbox_storage::Txn) -> strongbox_storage::StorageResult<()> {
        if self.read_only.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(strongbox_storage::StorageError::Unavailable(self.message.clone()));
        }
        let t = std::time::Instant::now();
        let r = self.inner.commit(txn).await;
        self.timed("commit", t, &r);
        r
    }
}
