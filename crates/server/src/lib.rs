//! Composition root. Opens the data folder (SQLite, seal key file, local CA), unseals the
//! barrier, bootstraps the default vault and administrator, and serves HTTPS.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use strongbox_api::ApiConfig;
use strongbox_barrier::{Barrier, KeyFileSeal};
use strongbox_core::leases::Leases;
use strongbox_core::{CoreConfig, Services};
use strongbox_crypto::x509::{self, CertPem};
use strongbox_types::{Clock, SecretString, SystemClock};

pub use strongbox_hsm::Pkcs11Config;

mod issuer_fetch;
pub mod logwriter;
mod metrics_http;
mod storage;
mod tls;
mod transport;

pub use storage::{CopyReport, StorageSpec, copy as copy_storage};
pub use tls::{ClientAuth, TlsFiles, policy_provider};
pub use transport::{TransportConfig, default_max_connections, open_file_limit};

#[derive(Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// The database (`--storage`): SQLite in the data folder by default.
    pub storage: StorageSpec,
    /// Addresses to listen on; the first one's port is the public port.
    pub listen: Vec<SocketAddr>,
    pub dns_suffix: String,
    /// Host of the authority and the management API (`--public-host`; default `localhost`).
    pub public_host: String,
    /// Host of the authority when it differs from `public_host` (`--authority-host`).
    pub authority_host: Option<String>,
    /// The port clients connect to when it is not the first listener's (a proxy or a container
    /// port mapping in between; `--public-port`).
    pub public_port: Option<u16>,
    /// The operator's certificate and key files; `None`: a certificate issued by the generated
    /// local CA.
    pub tls_files: Option<TlsFiles>,
    /// The CA bundle that issued `tls_files`, named in `bootstrap.json` for clients (`--tls-ca`).
    pub tls_ca: Option<PathBuf>,
    /// Client-certificate TLS (`--tls-client-ca`, `--mtls-listen`).
    pub client_auth: Option<ClientAuth>,
    pub default_vault: String,
    pub token_lifetime: i64,
    /// How often the deployment's background jobs run (`--jobs-interval`): soft-delete purge,
    /// key rotation, certificate renewal, ended role activations. They run on the one node that
    /// holds the `jobs` lease (see `strongbox_core::leases`).
    pub jobs_interval: Duration,
    /// This node's name in leases and `/_strongbox/health` (`--node-name`; default: host name).
    pub node_name: String,
    /// `--read-only`: a node on a PostgreSQL standby; serves reads, answers writes 503 naming
    /// the primary, runs no background jobs; SIGHUP after the standby's promotion makes it
    /// read-write.
    pub read_only: bool,
    /// `--primary-url`: where writes go, named in a read-only node's 503 answers.
    pub primary_url: Option<String>,
    /// `--metrics-listen`: plain-HTTP address of `/metrics`, `/healthz`, `/readyz` (off: `None`).
    pub metrics_listen: Option<SocketAddr>,
    /// Entries of the optional read cache in front of SQLite (0, the default, turns it off).
    /// Safe because this process is the only writer of its SQLite file. Measured: it helps a few
    /// hot keys but costs memory, write throughput and tail latency once the working set does
    /// not fit (see bench/README.md), so it is off unless asked for.
    pub cache_entries: usize,
    /// The PKCS#11 token for HSM-protected keys (`-HSM` key types); `None`: those are refused.
    pub pkcs11: Option<strongbox_hsm::Pkcs11Config>,
    /// Extra PEM CA file trusted (besides the system roots) when fetching trusted issuers'
    /// discovery documents and JWKS (`STRONGBOX_TRUSTED_ISSUER_CA`).
    pub trusted_issuer_ca: Option<PathBuf>,
    /// How often the keys of trusted issuers registered by discovery URL are re-fetched.
    pub issuer_refresh_interval: Duration,
    /// Let trusted-issuer and attestation-authority discovery fetch from loopback, private,
    /// link-local and unique-local addresses (`--issuer-fetch-allow-private`; default: refused).
    pub issuer_fetch_allow_private: bool,
    /// Connection limits and timeouts of the HTTPS listeners.
    pub transport: TransportConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the client address (`--trusted-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub clock: Arc<dyn Clock>,
    /// `--dev`: the movable clock (also set as `clock`) that `POST /_strongbox/dev/time-shift`
    /// moves.
    pub dev_clock: Option<strongbox_types::ShiftedClock>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("dns_suffix", &self.dns_suffix)
            .field("public_host", &self.public_host)
            .field("tls_files", &self.tls_files)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            storage: StorageSpec::default(),
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8443))],
            dns_suffix: "vault.localhost".into(),
            public_host: "localhost".into(),
            authority_host: None,
            public_port: None,
            tls_files: None,
            tls_ca: None,
            client_auth: None,
            default_vault: "default".into(),
            token_lifetime: 3600,
            jobs_interval: Duration::from_secs(60),
            node_name: host_name(),
            read_only: false,
            primary_url: None,
            metrics_listen: None,
            cache_entries: 0,
            pkcs11: None,
            trusted_issuer_ca: std::env::var_os("STRONGBOX_TRUSTED_ISSUER_CA")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            issuer_refresh_interval: Duration::from_secs(3600),
            issuer_fetch_allow_private: false,
            transport: TransportConfig::default(),
            trusted_proxies: Vec::new(),
            clock: Arc::new(SystemClock),
            dev_clock: None,
        }
    }
}

/// The contents of `bootstrap.json` (mode 0600): everything a client needs to connect.
#[derive(Clone, Serialize, Deserialize)]
pub struct BootstrapFile {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub authority: String,
    pub vault_url: String,
    /// The CA file clients trust for the server's certificate: the generated local CA, or
    /// `--tls-ca` with an operator certificate (absent: the system trust store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    pub resource: String,
}

impl std::fmt::Debug for BootstrapFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapFile")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("authority", &self.authority)
            .field("vault_url", &self.vault_url)
            .finish_non_exhaustive()
    }
}

pub struct Running {
    pub addrs: Vec<SocketAddr>,
    pub bootstrap_path: PathBuf,
    pub bootstrap: BootstrapFile,
    /// PEM of the CA clients trust for the server's certificate: the generated local CA, or the
    /// `--tls-ca` bundle (empty when an operator certificate comes without one).
    pub ca_pem: String,
    pub core: Arc<Services>,
    stop: tokio::sync::watch::Sender<bool>,
    /// The listeners: they stop on `stop` and close their connections.
    listeners: Vec<tokio::task::JoinHandle<()>>,
    /// Background jobs: aborted at shutdown.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    leases: Arc<Leases>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("addrs", &self.addrs).finish_non_exhaustive()
    }
}

impl Running {
    /// Stops accepting, closes every open connection and stops the background jobs.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Waits until every listener (and its connections) has stopped, then gives up this node's
    /// leases so another node takes its background jobs over at once.
    pub async fn wait(self) {
        for t in self.listeners.into_iter().chain(self.tasks) {
            let _ = t.await;
        }
        self.leases.release_all().await;
    }
}

/// Writes a file only its owner can read (0600), atomically: a new temporary file (never an
/// existing path, so not through a planted link), synced, then renamed over `path`. Used for
/// every credential or key file the server, the agent and the CLI write.
pub fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().context("the file has no file name")?.to_string_lossy().into_owned();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates the data folder (0700), or checks an existing one: a folder other users can enter
/// or list is refused (the database, the seal key and the CA key live there), with the command
/// that fixes it.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data folder {}", dir.display()))?;
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read data folder {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("the data folder {} is not a folder", dir.display());
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "the data folder {} is accessible to other users (mode {mode:03o}); it holds the database and the seal \
             key: run `chmod 700 {}` and start again",
            dir.display(),
            dir.display()
        );
    }
    // owned by the user we run as: the owner of a file we create there (no `geteuid` without
    // `unsafe` or a new crate)
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(format!(".owner-check.{}", std::process::id()));
    let _ = std::fs::remove_file(&probe);
    let me = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
        .and_then(|f| f.metadata())
        .map(|m| m.uid());
    let _ = std::fs::remove_file(&probe);
    let me = me.with_context(|| format!("cannot write in the data folder {}", dir.display()))?;
    if meta.uid() != me {
        bail!(
            "the data folder {} belongs to another user (uid {}, the server runs as uid {me}); it holds the \
             database and the seal key: run `chown {me} {}` or start the server as its owner",
            dir.display(),
            meta.uid(),
            dir.display()
        );
    }
    Ok(())
}

fn load_or_create_ca(dir: &Path) -> anyhow::Result<CertPem> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca-key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok(CertPem {
            cert: std::fs::read_to_string(&cert_path)?,
            key: SecretString::new(std::fs::read_to_string(&key_path)?),
        });
    }
    let ca = x509::generate_ca("Strongbox Local Development CA")?;
    write_private(&key_path, ca.key.expose().as_bytes())?;
    std::fs::write(&cert_path, &ca.cert)?;
    Ok(ca)
}

/// Starts the server and returns once it is listening.
pub async fn start(cfg: ServerConfig) -> anyhow::Result<Running> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Some((&first_addr, extra_addrs)) = cfg.listen.split_first() else {
        bail!("no listen address given");
    };
    check_host("--dns-suffix", &cfg.dns_suffix, false)?;
    check_host("--public-host", &cfg.public_host, true)?;
    if let Some(h) = &cfg.authority_host {
        check_host("--authority-host", h, true)?;
    }
    if cfg.public_port == Some(0) {
        bail!("--public-port must be between 1 and 65535");
    }
    // names the server certificate must cover; operator files are checked before anything is
    // created, so a bad certificate leaves no half-made data folder behind
    let names = tls::Names {
        dns_suffix: cfg.dns_suffix.clone(),
        hosts: {
            let mut h = vec![cfg.public_host.clone()];
            h.extend(cfg.authority_host.clone().filter(|a| *a != cfg.public_host));
            h
        },
    };
    let operator_key = cfg.tls_files.as_ref().map(|f| tls::load_files(f, &names)).transpose()?;
    let client_roots = cfg.client_auth.as_ref().map(|c| tls::load_roots(&c.ca)).transpose()?;
    let tls_ca_pem = match &cfg.tls_ca {
        Some(p) if cfg.tls_files.is_some() => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the TLS CA file {} (--tls-ca)", p.display()))?,
        ),
        Some(_) => bail!("--tls-ca names the CA of an operator certificate: it needs --tls-cert and --tls-key"),
        None => None,
    };
    prepare_data_dir(&cfg.data_dir)?;

    // Bind first: with port 0 (tests) the real port is part of the token audience.
    let mut listeners = Vec::new();
    let first = std::net::TcpListener::bind(first_addr).with_context(|| format!("cannot listen on {first_addr}"))?;
    let port = first.local_addr()?.port();
    listeners.push(first);
    for addr in extra_addrs {
        let a = if addr.port() == 0 { SocketAddr::new(addr.ip(), port) } else { *addr };
        match std::net::TcpListener::bind(a) {
            Ok(l) => listeners.push(l),
            Err(e) => tracing::warn!(address = %a, error = %e, "extra listener not started"),
        }
    }

    let storage_spec = cfg.storage.in_folder(&cfg.data_dir);
    let opened = storage::open(&storage_spec, cfg.cache_entries, Services::WATCHED_PREFIXES).await?;
    // A node on a standby (streaming replica) serves reads only, and says so.
    let in_recovery = match &opened.postgres {
        Some(pg) => pg.in_recovery().await.map_err(|e| anyhow::anyhow!("{}: {e}", storage_spec.describe()))?,
        None => false,
    };
    if cfg.read_only && opened.postgres.is_none() {
        bail!("--read-only is for a node on a PostgreSQL standby (a streaming replica); this storage is SQLite");
    }
    if in_recovery && !cfg.read_only {
        bail!(
            "the database {} is a standby (in recovery): start this node with --read-only to serve reads from it, \
             or point --storage at the primary",
            storage_spec.describe()
        );
    }
    let read_only = Arc::new(std::sync::atomic::AtomicBool::new(cfg.read_only));
    // Other nodes' changes: listening starts before the services load their caches, so no
    // change between the load and the first notification is missed. A standby cannot LISTEN
    // (PostgreSQL refuses it during recovery): there the caches' own expiry applies.
    let services: Arc<std::sync::OnceLock<std::sync::Weak<Services>>> = Arc::default();
    let listening = match &opened.postgres {
        Some(pg) if !in_recovery => Some(AbortOnDrop(listen_for_changes(pg, &services, &storage_spec).await?)),
        _ => None,
    };
    let metrics = cfg.metrics_listen.map(|_| Arc::new(strongbox_api::metrics::Metrics::new()));
    let mut gate = storage::Gate::new(
        opened.storage,
        read_only.clone(),
        match &cfg.primary_url {
            Some(u) => format!("This node is read-only: its database is a standby. Send writes to the primary, {u}."),
            None => "This node is read-only: its database is a standby. Send writes to the primary.".to_owned(),
        },
    );
    gate.metrics.clone_from(&metrics);
    let storage: Arc<dyn strongbox_storage::Storage> = Arc::new(gate);
    let barrier = Arc::new(Barrier::new(storage));
    let seal = KeyFileSeal::new(cfg.data_dir.join("seal.key"));
    let initialized = barrier.is_initialized().await?;
    if cfg.read_only && !initialized {
        bail!("the database {} holds no deployment yet: a read-only node cannot create one", storage_spec.describe());
    }
    if !initialized {
        let created_seal = !seal.exists();
        let kek = if created_seal { seal.create()? } else { seal.load()? };
        if let Err(e) = barrier.initialize(&kek).await {
            // another node initialised the shared database first: a seal key this start made
            // opens nothing, so it goes, and the operator copies the first node's
            if e.kind == strongbox_types::ErrorKind::Conflict {
                if created_seal {
                    let _ = std::fs::remove_file(seal.path());
                }
                bail!(
                    "another node initialized {} at the same time: copy that node's data folder (seal.key, ca.pem, \
                     ca-key.pem, bootstrap.json) to {} and start again",
                    storage_spec.describe(),
                    cfg.data_dir.display()
                );
            }
            return Err(e.into());
        }
        tracing::info!(seal = %seal.path().display(), storage = %storage_spec.describe(), "initialized a new root key under the development key-file seal");
    }
    if !seal.exists() {
        bail!(
            "the database {} is initialized but the seal key file {} is missing: the vault stays sealed{}",
            storage_spec.describe(),
            seal.path().display(),
            if storage_spec.is_shared() {
                " (a node that joins a shared database needs a copy of the first node's data folder)"
            } else {
                ""
            }
        );
    }
    barrier.unseal(&seal.load()?).await.with_context(|| {
        format!("the seal key file {} does not open the root key of {}", seal.path().display(), storage_spec.describe())
    })?;

    let authority_host = cfg.authority_host.clone().unwrap_or_else(|| cfg.public_host.clone());
    let core_cfg = CoreConfig {
        dns_suffix: cfg.dns_suffix.clone(),
        public_port: cfg.public_port.unwrap_or(port),
        authority_host: authority_host.clone(),
        token_lifetime: cfg.token_lifetime,
    };
    let core = Arc::new(Services::open(barrier, cfg.clock.clone(), core_cfg.clone()).await?);
    let _ = services.set(Arc::downgrade(&core));
    if let Some(p11) = &cfg.pkcs11 {
        let provider = strongbox_hsm::Pkcs11Provider::open(p11)
            .map_err(|e| anyhow::anyhow!("PKCS#11 token for HSM keys: {}", e.message))?;
        tracing::info!(token = %p11.token, module = %p11.module.display(), "HSM-protected keys use a PKCS#11 token");
        core.keys.set_provider(Arc::new(provider));
    }
    let fetcher =
        issuer_fetch::HttpIssuerFetcher::new(cfg.trusted_issuer_ca.as_deref(), cfg.issuer_fetch_allow_private)?;
    core.identity.set_issuer_key_fetcher(Arc::new(fetcher));
    let created = core.bootstrap(&cfg.default_vault).await?;

    // the server certificate: the operator's, or one issued now by the generated local CA
    let (server_key, ca_pem, ca_file) = match (operator_key, tls_ca_pem) {
        (Some(key), ca_pem) => {
            let ca_file = cfg.tls_ca.as_deref().map(std::fs::canonicalize).transpose()?;
            (key, ca_pem.unwrap_or_default(), ca_file)
        }
        (None, _) => {
            let ca = load_or_create_ca(&cfg.data_dir)?;
            let ca_file = std::fs::canonicalize(cfg.data_dir.join("ca.pem"))?;
            let mut cert_names = vec!["localhost".to_owned(), cfg.dns_suffix.clone(), format!("*.{}", cfg.dns_suffix)];
            for h in &names.hosts {
                if !cert_names.contains(h) {
                    cert_names.push(h.clone());
                }
            }
            cert_names.extend(["127.0.0.1".to_owned(), "::1".to_owned()]);
            let issued = x509::issue_server_cert(&ca, &cert_names)?;
            let key = tls::certified_key(
                issued.cert.as_bytes(),
                &issued.key,
                &names,
                SystemClock.now(),
                "the generated server certificate",
            )?;
            (key, ca.cert, Some(ca_file))
        }
    };

    let bootstrap_path = cfg.data_dir.join("bootstrap.json");
    let bootstrap = match created {
        Some(c) => BootstrapFile {
            tenant_id: c.tenant_id,
            client_id: c.client_id,
            client_secret: c.client_secret,
            authority: core_cfg.authority(),
            vault_url: core_cfg.vault_url(&cfg.default_vault),
            ca_file,
            resource: core_cfg.resource(),
        },
        None => {
            let text = std::fs::read_to_string(&bootstrap_path).with_context(|| {
                format!("{} is missing; the bootstrap secret was only shown there", bootstrap_path.display())
            })?;
            let mut b: BootstrapFile = serde_json::from_str(&text).context("bootstrap.json is not valid")?;
            // The port or suffix may have changed since the first start.
            b.authority = core_cfg.authority();
            b.vault_url = core_cfg.vault_url(&cfg.default_vault);
            b.ca_file = ca_file;
            b.resource = core_cfg.resource();
            b
        }
    };
    let mut text = serde_json::to_vec_pretty(&bootstrap)?;
    text.push(b'\n');
    write_private(&bootstrap_path, &text)?;

    let cert_store = Arc::new(tls::CertStore::new(server_key));
    let plain_tls = Arc::new(tls::server_config(cert_store.clone(), None)?);
    let client_tls =
        client_roots.as_ref().map(|r| tls::server_config(cert_store.clone(), Some(r))).transpose()?.map(Arc::new);
    let leases = Arc::new(core.leases(&cfg.node_name)?);
    let job_runs = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let job_failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let lag_ms = Arc::new(std::sync::atomic::AtomicI64::new(-1));
    let app = strongbox_api::router(
        core.clone(),
        ApiConfig {
            default_vault: cfg.default_vault.clone(),
            body_timeout: cfg.transport.body_timeout,
            trusted_proxies: cfg.trusted_proxies.clone(),
            dev_clock: cfg.dev_clock.clone(),
            node: Some(strongbox_api::NodeInfo {
                leases: leases.clone(),
                storage: if cfg.storage.is_shared() { "postgres" } else { "sqlite" },
                job_runs: job_runs.clone(),
                read_only: read_only.clone(),
                replication_lag_ms: lag_ms.clone(),
                primary: cfg.primary_url.clone(),
            }),
            metrics: metrics.clone(),
        },
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let transport = Arc::new(cfg.transport.clone());
    // one connection budget over all listeners
    let slots = Arc::new(tokio::sync::Semaphore::new(transport.max_connections.max(1)));
    let mut served = Vec::new();
    let mut addrs = Vec::new();
    for l in listeners {
        l.set_nonblocking(true)?;
        addrs.push(l.local_addr()?);
        let addr = l.local_addr()?;
        let tls = match (&client_tls, &cfg.client_auth) {
            (Some(t), Some(c)) if c.listeners.is_empty() || c.listeners.iter().any(|a| listener_matches(*a, addr)) => {
                tracing::info!(address = %addr, "this listener requires a client certificate");
                t.clone()
            }
            _ => plain_tls.clone(),
        };
        let l = tokio::net::TcpListener::from_std(l)?;
        served.push(tokio::spawn(transport::serve(
            l,
            tls,
            app.clone(),
            transport.clone(),
            slots.clone(),
            stopped.clone(),
        )));
    }
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(tls::watch(cert_store, cfg.tls_files.clone(), names)));
    if let Some(pg) = opened.postgres.clone() {
        let role = RoleWatch { pg, read_only: read_only.clone(), lag_ms: lag_ms.clone(), services, spec: storage_spec };
        tasks.push(tokio::spawn(role.run(listening)));
    }

    tasks.push(tokio::spawn(run_jobs(
        core.clone(),
        leases.clone(),
        cfg.jobs_interval,
        JobCounters { runs: job_runs.clone(), failures: job_failures.clone() },
        read_only.clone(),
    )));
    if let (Some(addr), Some(m)) = (cfg.metrics_listen, &metrics) {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (--metrics-listen)"))?;
        tracing::info!(address = %l.local_addr()?, "metrics on http://{}/metrics", l.local_addr()?);
        let app = metrics_http::router(metrics_http::MetricsState {
            core: core.clone(),
            leases: leases.clone(),
            metrics: m.clone(),
            job_runs: job_runs.clone(),
            job_failures: job_failures.clone(),
            read_only: read_only.clone(),
            lag_ms: lag_ms.clone(),
        });
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::warn!(error = %e, "the metrics listener stopped");
            }
        }));
    }
    let identity_core = core.clone();
    let every = cfg.jobs_interval;
    let identity_read_only = read_only.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if identity_read_only.load(std::sync::atomic::Ordering::Relaxed) {
                continue;
            }
            // per node: token signing-key rotation (compare-and-set, so nodes agree) and re-read
            // of keys other nodes rotated, expired assertion ids, this node's stale status rows
            if let Err(e) = identity_core.identity.maintenance().await {
                tracing::warn!(error = %e, "identity maintenance failed");
            }
            if let Err(e) = identity_core.keyring_upkeep().await {
                tracing::warn!(error = %e, "keyring upkeep failed");
            }
        }
    }));

    // trusted external issuers registered by discovery URL: re-fetch their keys
    let issuer_core = core.clone();
    // never a busy loop, whatever a library caller configured
    let every = cfg.issuer_refresh_interval.max(Duration::from_secs(1));
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match issuer_core.identity.refresh_trusted_issuers().await {
                Ok(n) => tracing::debug!(refreshed = n, "refreshed trusted issuers' keys"),
                Err(e) => tracing::warn!(error = %e, "trusted issuer key refresh failed"),
            }
            match issuer_core.identity.refresh_attestation_authorities().await {
                Ok(n) => tracing::debug!(refreshed = n, "refreshed attestation authorities' keys"),
                Err(e) => tracing::warn!(error = %e, "attestation authority key refresh failed"),
            }
        }
    }));

    Ok(Running { addrs, bootstrap_path, bootstrap, ca_pem, core, stop, listeners: served, tasks, leases })
}

/// `strongbox server --init`: prepares the storage (creates the SQLite file or the PostgreSQL
/// schema and applies the schema migrations, under a lock on PostgreSQL) and returns a line
/// saying what is there, without creating a deployment or serving. The first start creates the
/// deployment (root key, CA, bootstrap administrator) as before.
pub async fn init_storage(cfg: &ServerConfig) -> anyhow::Result<String> {
    let spec = cfg.storage.in_folder(&cfg.data_dir);
    if !spec.is_shared() {
        prepare_data_dir(&cfg.data_dir)?;
    }
    let opened = storage::open(&spec, 0, &[]).await?;
    let version = match &opened.postgres {
        Some(pg) => pg.schema_version().await.map_err(|e| anyhow::anyhow!("{}: {e}", spec.describe()))?,
        None => strongbox_storage_sqlite::SCHEMA_VERSION,
    };
    let deployment = match opened.storage.get(strongbox_barrier::ROOT_PATH).await {
        Ok(Some(_)) => "holds a deployment",
        Ok(None) => "holds no deployment yet (the first start creates it)",
        Err(e) => bail!("{}: {e}", spec.describe()),
    };
    Ok(format!("storage {} ready at schema version {version}; it {deployment}", spec.describe()))
}

/// The lease of the deployment's scheduled jobs.
pub const JOBS_LEASE: &str = "jobs";

/// Entries read per run of the re-encryption job.
const REENCRYPT_PAGE: usize = 2000;

/// The scheduled jobs: on the node holding [`JOBS_LEASE`], every `every`, each job fenced by the
/// lease (renewed before each), so a node that lost the lease mid-run commits nothing more.
/// How often the scheduled jobs ran and failed on this node (for health and metrics).
struct JobCounters {
    runs: Arc<std::sync::atomic::AtomicU64>,
    failures: Arc<std::sync::atomic::AtomicU64>,
}

async fn run_jobs(
    core: Arc<Services>,
    leases: Arc<Leases>,
    every: Duration,
    counters: JobCounters,
    read_only: Arc<std::sync::atomic::AtomicBool>,
) {
    let JobCounters { runs, failures } = counters;
    let failed = || {
        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let tick = every.min(strongbox_core::leases::RENEW_EVERY);
    let mut last_run: Option<std::time::Instant> = None;
    // the re-encryption pass: where the next page starts, and the term a pass last finished for
    let mut reencrypt_from = String::new();
    let mut reencrypted_for: Option<u32> = None;
    loop {
        tokio::time::sleep(tick).await;
        // a node on a standby writes nothing, leases included
        if read_only.load(std::sync::atomic::Ordering::Relaxed) {
            continue;
        }
        let hold = || async {
            match leases.hold(JOBS_LEASE).await {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew or take the background-jobs lease");
                    None
                }
            }
        };
        if hold().await.is_none() {
            last_run = None;
            continue;
        }
        if last_run.is_some_and(|t| t.elapsed() < every) {
            continue;
        }
        last_run = Some(std::time::Instant::now());
        runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(fence) = hold().await else { continue };
        match Barrier::fenced(fence, core.purge_expired()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "purged soft-deleted objects past their retention"),
            Err(e) => {
                failed();
                tracing::warn!(error = %e, "background purge failed");
            }
        }
        let Some(fence) = hold().await else { continue };
        match Barrier::fenced(fence, core.keys.rotate_due()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rotated = n, "rotated keys whose rotation policy came due"),
            Err(e) => {
                failed();
                tracing::warn!(error = %e, "scheduled key rotation failed");
            }
        }
        let Some(fence) = hold().await else { continue };
        match Barrier::fenced(fence, core.certificates.renew_due()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(renewed = n, "renewed certificates whose lifetime action came due"),
            Err(e) => {
                failed();
                tracing::warn!(error = %e, "scheduled certificate renewal failed");
            }
        }
        // ended just-in-time activations: records removed, expiry recorded as a security event
        // (decisions already stopped honouring them at their end time)
        let Some(fence) = hold().await else { continue };
        match Barrier::fenced(fence, core.access.pim_sweep()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "ended expired role activations"),
            Err(e) => {
                failed();
                tracing::warn!(error = %e, "role activation sweep failed");
            }
        }
        // keyring rotation by use and age (a compare-and-set on the keyring record)
        if hold().await.is_none() {
            continue;
        }
        if let Err(e) = core.rotate_keyring_if_due().await {
            failed();
            tracing::warn!(error = %e, "scheduled keyring rotation failed");
        }
        // values of older terms move to the active one, a page per run, until a pass is complete
        let active = core.keyring_status().await.map(|k| (k.active, k.terms.len())).ok();
        if let Some((term, terms)) = active
            && terms > 1
            && reencrypted_for != Some(term)
            && hold().await.is_some()
        {
            match core.reencrypt_old_values(&reencrypt_from, REENCRYPT_PAGE).await {
                Ok((n, next)) => {
                    if n > 0 {
                        tracing::info!(rewritten = n, term, "re-encrypted values of older keyring terms");
                    }
                    match next {
                        Some(k) => reencrypt_from = k,
                        None => {
                            reencrypt_from.clear();
                            reencrypted_for = Some(term);
                            tracing::info!(term, "re-encryption pass complete: every value is under the active term");
                        }
                    }
                }
                Err(e) => {
                    failed();
                    tracing::warn!(error = %e, "re-encryption of older keyring terms failed");
                }
            }
        }
    }
}

/// Aborts the task when dropped (a task owned by another task).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens for other nodes' changes on `pg` and hands them to the services once they exist.
async fn listen_for_changes(
    pg: &strongbox_storage_postgres::PostgresStorage,
    services: &Arc<std::sync::OnceLock<std::sync::Weak<Services>>>,
    spec: &StorageSpec,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let target = services.clone();
    let on_change: Arc<dyn Fn(strongbox_storage_postgres::Changed<'_>) + Send + Sync> = Arc::new(move |c| {
        if let Some(core) = target.get().and_then(std::sync::Weak::upgrade) {
            core.invalidate(match c {
                strongbox_storage_postgres::Changed::Key(k) => Some(k),
                strongbox_storage_postgres::Changed::Anything => None,
            });
        }
    });
    pg.listen(on_change)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for changes on the PostgreSQL storage {}: {e}", spec.describe()))
}

/// A PostgreSQL node's role: on a standby it measures the replication lag; on SIGHUP it checks
/// whether the database was promoted and, if so, makes the node read-write (and starts
/// listening for other nodes' changes).
struct RoleWatch {
    pg: Arc<strongbox_storage_postgres::PostgresStorage>,
    read_only: Arc<std::sync::atomic::AtomicBool>,
    /// Replication lag in ms; -1 when not measured (not a standby).
    lag_ms: Arc<std::sync::atomic::AtomicI64>,
    services: Arc<std::sync::OnceLock<std::sync::Weak<Services>>>,
    spec: StorageSpec,
}

impl RoleWatch {
    async fn run(self, mut listening: Option<AbortOnDrop>) {
        use std::sync::atomic::Ordering;
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| tracing::warn!(error = %e, "cannot install the SIGHUP handler: promotion needs a restart"))
            .ok();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            let signalled = tokio::select! {
                _ = tick.tick() => false,
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
            };
            if self.read_only.load(Ordering::Relaxed) {
                match self.pg.replication_lag().await {
                    Ok(Some(lag)) => self.lag_ms.store((lag * 1000.0) as i64, Ordering::Relaxed),
                    Ok(None) => self.lag_ms.store(-1, Ordering::Relaxed),
                    Err(e) => tracing::debug!(error = %e, "replication lag not measured"),
                }
            }
            if !signalled || !self.read_only.load(Ordering::Relaxed) {
                continue;
            }
            match self.pg.in_recovery().await {
                Ok(true) => tracing::info!("SIGHUP: the database is still a standby; this node stays read-only"),
                Ok(false) => {
                    self.read_only.store(false, Ordering::Relaxed);
                    self.lag_ms.store(-1, Ordering::Relaxed);
                    tracing::info!(storage = %self.spec.describe(), "SIGHUP: the database accepts writes (promoted); this node is read-write now");
                    if let Some(core) = self.services.get().and_then(std::sync::Weak::upgrade) {
                        core.invalidate(None);
                    }
                    if listening.is_none() {
                        match listen_for_changes(&self.pg, &self.services, &self.spec).await {
                            Ok(t) => listening = Some(AbortOnDrop(t)),
                            Err(e) => tracing::warn!(error = %e, "other nodes' changes are seen by polling only"),
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "SIGHUP: cannot tell whether the database was promoted"),
            }
        }
    }
}

/// The machine's host name (Linux), else `node`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}

/// Whether a `--mtls-listen` address names a bound listener (port 0 there means the shared
/// port the first listener got).
fn listener_matches(wanted: SocketAddr, bound: SocketAddr) -> bool {
    wanted.ip() == bound.ip() && (wanted.port() == bound.port() || wanted.port() == 0)
}

/// A host name flag: lower-case-insensitive DNS labels (letters, digits, hyphens), no scheme,
/// port or path; an IP address where `ip_ok`.
fn check_host(flag: &str, host: &str, ip_ok: bool) -> anyhow::Result<()> {
    if ip_ok && host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        bail!("{flag} '{host}' is not a host name (DNS labels of letters, digits and hyphens, no scheme or port)");
    }
    Ok(())
}
