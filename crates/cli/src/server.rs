//! `strongbox server`: the flags of the server command and running the server until SIGINT or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

/// How log records are written (to stderr).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines (colour only when stderr is a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

/// Sets up logging to stderr: `level` is a filter directive (`info`, `debug`,
/// `info,strongbox::access=off`, …), else `STRONGBOX_LOG`, else `info`. Lines are written by a
/// background thread ([`strongbox_server::logwriter`]); keep the returned guard until the end of
/// `main`, since dropping it flushes the queue.
pub(crate) fn init_logging(
    format: LogFormat,
    level: Option<&str>,
) -> anyhow::Result<strongbox_server::logwriter::LogGuard> {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).map_err(|e| anyhow::anyhow!("--log-level '{l}' is not a log filter: {e}"))?,
        None => EnvFilter::try_from_env("STRONGBOX_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let (writer, guard) = strongbox_server::logwriter::queued_stderr();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(guard)
}

#[derive(Args)]
pub(crate) struct ServerArgs {
    /// `--config FILE` (settings from a TOML file) and `--print-config`.
    #[command(flatten)]
    pub(crate) config_file: crate::config::ConfigFileArgs,
    /// Log format on stderr: `text` or `json` (one object per line).
    #[arg(long, env = "STRONGBOX_LOG_FORMAT", value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    /// Log filter: a level (`error`, `warn`, `info`, `debug`, `trace`) or per-target directives,
    /// e.g. `info,strongbox::access=off` to silence the access log. Default: `STRONGBOX_LOG`,
    /// else `info`.
    #[arg(long, env = "STRONGBOX_LOG_LEVEL")]
    pub(crate) log_level: Option<String>,
    /// Data folder (database, seal key, CA, bootstrap.json).
    #[arg(long, env = "STRONGBOX_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The database: `sqlite:PATH` or `postgres://user:password@host:port/db` (several nodes may
    /// share one). Default: SQLite `strongbox.db` in the data folder.
    #[arg(long, env = "STRONGBOX_STORAGE")]
    storage: Option<String>,
    /// Development mode: a new temporary data folder (removed at exit) unless --data-dir is
    /// given, and ready-to-paste `export` lines for the SDKs and the CLI, credentials included.
    #[arg(long, env = "STRONGBOX_DEV")]
    dev: bool,
    /// With --dev: a JSON file of vaults, secrets, keys and certificates to create at start
    /// (each object's `body` is the REST API's create body).
    #[arg(long, env = "STRONGBOX_SEED", requires = "dev")]
    seed: Option<PathBuf>,
    /// Address:port to listen on (repeatable). Default: 127.0.0.1:8443 and [::1]:8443.
    #[arg(long, env = "STRONGBOX_LISTEN", value_delimiter = ',')]
    listen: Vec<SocketAddr>,
    /// Vault host suffix: vaults are served at https://{vault}.{suffix}.
    #[arg(long, env = "STRONGBOX_DNS_SUFFIX", default_value = "vault.localhost")]
    dns_suffix: String,
    /// Host name of the authority (token endpoint, discovery documents) and the management API,
    /// as clients reach it.
    #[arg(long, env = "STRONGBOX_PUBLIC_HOST", default_value = "localhost")]
    public_host: String,
    /// Host name of the authority when it is not --public-host.
    #[arg(long, env = "STRONGBOX_AUTHORITY_HOST")]
    authority_host: Option<String>,
    /// The port clients connect to, when a proxy or a container port mapping makes it differ
    /// from the first --listen port (it goes into URLs, token issuers and audiences).
    #[arg(long, env = "STRONGBOX_PUBLIC_PORT", value_parser = clap::value_parser!(u16).range(1..))]
    public_port: Option<u16>,
    /// Server certificate chain (PEM, leaf first, intermediates after it) instead of one from the
    /// generated local CA; it must cover *.{dns suffix} and the public and authority hosts.
    /// Reloaded when the file changes or on SIGHUP.
    #[arg(long, env = "STRONGBOX_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM: PKCS#8, RSA or EC, not encrypted).
    #[arg(long, env = "STRONGBOX_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA bundle that issued --tls-cert: named in bootstrap.json for clients (without it,
    /// clients verify the certificate with their system trust store).
    #[arg(long, env = "STRONGBOX_TLS_CA", requires = "tls_cert")]
    tls_ca: Option<PathBuf>,
    /// Require client certificates issued by this PEM CA bundle (mutual TLS), on the listeners
    /// named by --mtls-listen, or on every listener when that is not given.
    #[arg(long, env = "STRONGBOX_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// Listener addresses (of --listen, repeatable) that require a client certificate.
    #[arg(long, env = "STRONGBOX_MTLS_LISTEN", value_delimiter = ',', requires = "tls_client_ca")]
    mtls_listen: Vec<SocketAddr>,
    /// Access token lifetime in seconds (60 to 86400).
    #[arg(long, env = "STRONGBOX_TOKEN_LIFETIME", default_value_t = 3600, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(60..=86_400))]
    token_lifetime: i64,
    /// How often trusted issuers' discovery documents and JWKS are re-fetched: seconds, or a
    /// number with s, m, h or d (30m, 2h); at least 60 seconds.
    #[arg(long, env = "STRONGBOX_ISSUER_REFRESH", default_value = "1h", value_parser = refresh_interval)]
    issuer_refresh: std::time::Duration,
    /// A reverse proxy's address (repeatable, or comma-separated): for connections from it the
    /// client address (sign-in throttling, security events) is taken from X-Forwarded-For.
    #[arg(long = "trusted-proxy", env = "STRONGBOX_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Prepare the storage and exit: create the SQLite file or the PostgreSQL schema and apply the
    /// schema migrations (run it once as the database owner; nodes can then use a role without
    /// CREATE privilege). The first start creates the deployment itself.
    #[arg(long)]
    init: bool,
    /// Serve reads only, from a PostgreSQL standby (streaming replica): writes are answered 503
    /// naming --primary-url, no background job runs. After the standby is promoted, SIGHUP (or a
    /// restart without this flag) makes the node read-write.
    #[arg(long, env = "STRONGBOX_READ_ONLY")]
    read_only: bool,
    /// The URL clients should send writes to, named in a read-only node's 503 answers and health.
    #[arg(long, env = "STRONGBOX_PRIMARY_URL", value_parser = primary_url)]
    primary_url: Option<String>,
    /// Serve Prometheus metrics (`/metrics`) and `/healthz`, `/readyz` over plain HTTP on this
    /// address (e.g. 127.0.0.1:9464), without a credential: keep it on loopback or a monitoring
    /// network. Off by default.
    #[arg(long, env = "STRONGBOX_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// How often the background jobs run (soft-delete purge, key rotation, certificate renewal,
    /// ended role activations): seconds, or a number with s, m or h (1s to 1h). On several
    /// nodes they run on the one that holds the jobs lease.
    #[arg(long, env = "STRONGBOX_JOBS_INTERVAL", default_value = "60s", value_parser = timeout_value)]
    jobs_interval: std::time::Duration,
    /// This node's name in leases and /_strongbox/health. Default: the host name.
    #[arg(long, env = "STRONGBOX_NODE_NAME", value_parser = node_name)]
    node_name: Option<String>,
    /// Entries of an in-memory read cache (ciphertext only) for hot-key workloads; 0 = off
    /// (at most 10,000,000).
    #[arg(long, env = "STRONGBOX_CACHE_ENTRIES", default_value_t = 0, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    cache_entries: u64,
    /// Connections served at once; more wait in the kernel's accept queue (1 to 1,000,000).
    /// Default: 10,000, or the open-file limit less 128 when that is lower.
    #[arg(long, env = "STRONGBOX_MAX_CONNECTIONS", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: Option<u64>,
    /// Time allowed for a TLS handshake: seconds, or a number with s, m or h (1s to 1h).
    #[arg(long, env = "STRONGBOX_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = timeout_value)]
    handshake_timeout: std::time::Duration,
    /// Time allowed for a request's headers to arrive, counted from the handshake for the first
    /// request and from the first byte for later ones (1s to 1h).
    #[arg(long, env = "STRONGBOX_HEADER_TIMEOUT", default_value = "10s", value_parser = timeout_value)]
    header_timeout: std::time::Duration,
    /// Time a connection with no request in flight stays open (1s to 1h).
    #[arg(long, env = "STRONGBOX_IDLE_TIMEOUT", default_value = "75s", value_parser = timeout_value)]
    idle_timeout: std::time::Duration,
    /// Time allowed for a request body to arrive (1s to 1h).
    #[arg(long, env = "STRONGBOX_BODY_TIMEOUT", default_value = "60s", value_parser = timeout_value)]
    body_timeout: std::time::Duration,
    /// PKCS#11 module for HSM-protected keys (e.g. libsofthsm2.so); the user PIN is read from
    /// STRONGBOX_PKCS11_PIN only (never a flag, so it stays out of the process list).
    #[arg(long, env = "STRONGBOX_PKCS11_MODULE")]
    pkcs11_module: Option<PathBuf>,
    /// Label of the PKCS#11 token.
    #[arg(long, env = "STRONGBOX_PKCS11_TOKEN")]
    pkcs11_token: Option<String>,
    /// Run PKCS#11 key operations on a blocking thread pool (up to 32 at once) instead of the
    /// async workers: for network HSMs whose calls wait. Off by default: an in-process token
    /// such as SoftHSM2 is faster inline.
    #[arg(long, env = "STRONGBOX_PKCS11_OFFLOAD")]
    pkcs11_offload: bool,
    /// Let trusted-issuer and attestation-authority discovery fetch from loopback, private and
    /// link-local addresses (issuers inside your own network); refused by default (SSRF).
    #[arg(long, env = "STRONGBOX_ISSUER_FETCH_ALLOW_PRIVATE")]
    issuer_fetch_allow_private: bool,
}

const DEFAULT_DATA_DIR: &str = "./strongbox-data";

/// Starts the server and serves until SIGINT or SIGTERM, then shuts down gracefully.
pub(crate) async fn run(a: ServerArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // dev mode: a fresh folder of our own, removed at exit
    let dev_dir = if a.dev && a.data_dir == std::path::Path::new(DEFAULT_DATA_DIR) {
        let tag: [u8; 6] = strongbox_crypto::random_array().map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        Some(std::env::temp_dir().join(format!("strongbox-dev-{hex}")))
    } else {
        None
    };
    let data_dir = dev_dir.clone().unwrap_or(a.data_dir);
    let result = serve(a.dev, data_dir.clone(), started, ServerArgs { data_dir, ..a }).await;
    if let Some(d) = dev_dir {
        match std::fs::remove_dir_all(&d) {
            Ok(()) => println!("strongbox: dev mode: removed {}", d.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!("strongbox: dev mode: cannot remove {}: {e}", d.display()),
        }
    }
    result
}

/// The `export` lines dev mode prints: the azure-identity variables, the vault URL, the CA for
/// Python (requests, `az`), Node.js and OpenSSL-based clients, and the CLI's bootstrap file.
fn dev_exports(running: &strongbox_server::Running) -> String {
    let b = &running.bootstrap;
    let mut lines = vec![
        format!("export AZURE_TENANT_ID={}", b.tenant_id),
        format!("export AZURE_CLIENT_ID={}", b.client_id),
        format!("export AZURE_CLIENT_SECRET={}", b.client_secret.expose()),
        format!("export AZURE_AUTHORITY_HOST={}", b.authority),
        format!("export AZURE_KEYVAULT_URL={}", b.vault_url),
        format!("export STRONGBOX_BOOTSTRAP={}", running.bootstrap_path.display()),
    ];
    if let Some(ca) = &b.ca_file {
        let ca = ca.display();
        lines.extend([
            format!("export REQUESTS_CA_BUNDLE={ca}"),
            format!("export SSL_CERT_FILE={ca}"),
            format!("export NODE_EXTRA_CA_CERTS={ca}"),
            format!("export STRONGBOX_CA_FILE={ca}"),
        ]);
    }
    lines.join("\n")
}

async fn serve(dev: bool, data_dir: PathBuf, started: std::time::Instant, a: ServerArgs) -> anyhow::Result<()> {
    let seed = a.seed.as_deref().map(crate::seed::load).transpose()?;
    let mut cfg = strongbox_server::ServerConfig::new(data_dir);
    if dev {
        let clock = strongbox_types::ShiftedClock::default();
        cfg.clock = std::sync::Arc::new(clock.clone());
        cfg.dev_clock = Some(clock);
    }
    cfg.listen = if a.listen.is_empty() {
        vec![SocketAddr::from(([127, 0, 0, 1], 8443)), SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 8443))]
    } else {
        a.listen
    };
    cfg.dns_suffix = a.dns_suffix;
    cfg.public_host = a.public_host;
    cfg.authority_host = a.authority_host;
    cfg.public_port = a.public_port;
    if let (Some(cert), Some(key)) = (a.tls_cert, a.tls_key) {
        cfg.tls_files = Some(strongbox_server::TlsFiles { cert, key });
    }
    cfg.tls_ca = a.tls_ca;
    if let Some(ca) = a.tls_client_ca {
        for m in &a.mtls_listen {
            if !cfg.listen.iter().any(|l| l.ip() == m.ip() && (l.port() == m.port() || l.port() == 0)) {
                anyhow::bail!("--mtls-listen {m} is not one of the --listen addresses");
            }
        }
        cfg.client_auth = Some(strongbox_server::ClientAuth { ca, listeners: a.mtls_listen });
    }
    cfg.token_lifetime = a.token_lifetime;
    if let Some(s) = &a.storage {
        cfg.storage = strongbox_server::StorageSpec::parse(s)?;
    }
    // range-checked by the flag's parser; the conversions cannot fail on 64-bit targets
    cfg.cache_entries = usize::try_from(a.cache_entries).context("--cache-entries is too large")?;
    if let Some(n) = a.max_connections {
        cfg.transport.max_connections = usize::try_from(n).context("--max-connections is too large")?;
        if let Some(limit) = strongbox_server::open_file_limit().filter(|l| *l <= cfg.transport.max_connections) {
            eprintln!(
                "strongbox: warning: --max-connections {n} is not below the open-file limit {limit}; raise it (ulimit -n)"
            );
        }
    }
    cfg.transport.handshake_timeout = a.handshake_timeout;
    cfg.transport.header_timeout = a.header_timeout;
    cfg.transport.idle_timeout = a.idle_timeout;
    cfg.transport.body_timeout = a.body_timeout;
    cfg.issuer_refresh_interval = a.issuer_refresh;
    cfg.jobs_interval = a.jobs_interval;
    cfg.read_only = a.read_only;
    cfg.metrics_listen = a.metrics_listen;
    cfg.primary_url = a.primary_url;
    if let Some(n) = a.node_name {
        cfg.node_name = n;
    }
    cfg.issuer_fetch_allow_private = a.issuer_fetch_allow_private;
    cfg.trusted_proxies = a.trusted_proxy;
    if let Some(module) = a.pkcs11_module.filter(|m| !m.as_os_str().is_empty()) {
        let token = a.pkcs11_token.context("--pkcs11-module needs --pkcs11-token (STRONGBOX_PKCS11_TOKEN)")?;
        let pin = std::env::var("STRONGBOX_PKCS11_PIN").context("--pkcs11-module needs STRONGBOX_PKCS11_PIN")?;
        cfg.pkcs11 = Some(strongbox_server::Pkcs11Config {
            module,
            token,
            pin: strongbox_types::SecretString::new(pin),
            offload: a.pkcs11_offload,
        });
    }
    if a.init {
        let line = strongbox_server::init_storage(&cfg).await?;
        println!("strongbox: {line}");
        return Ok(());
    }
    let running = strongbox_server::start(cfg).await?;
    // fixtures exist before the ready line, so a test that waits for it finds them
    if let Some(seed) = &seed {
        match crate::seed::apply(seed, &running.bootstrap_path).await {
            Ok(n) => println!("strongbox: dev mode: seeded {n} objects"),
            Err(e) => {
                running.shutdown();
                running.wait().await;
                return Err(e);
            }
        }
    }
    let addrs: Vec<String> = running.addrs.iter().map(ToString::to_string).collect();
    println!(
        "strongbox: ready in {} ms, listening on {}; default vault {}",
        started.elapsed().as_millis(),
        addrs.join(", "),
        running.bootstrap.vault_url
    );
    println!("strongbox: credentials for clients are in {} (mode 0600)", running.bootstrap_path.display());
    if dev {
        println!(
            "strongbox: dev mode: data in {} (removed at exit); for the SDKs, az and this CLI paste:\n{}",
            running.bootstrap_path.parent().map(|p| p.display().to_string()).unwrap_or_default(),
            dev_exports(&running)
        );
        let probe = running.bootstrap.vault_url.trim_start_matches("https://").to_owned();
        let probe = if probe.contains(':') { probe } else { format!("{probe}:443") };
        if std::net::ToSocketAddrs::to_socket_addrs(probe.as_str()).is_err() {
            let host = probe.rsplit_once(':').map_or(probe.as_str(), |(h, _)| h);
            println!(
                "strongbox: dev mode: {host} does not resolve here; install libnss-myhostname (or use systemd-resolved), \
                 or add '127.0.0.1 {host}' to /etc/hosts"
            );
        }
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    println!("strongbox: shutting down");
    running.shutdown();
    running.wait().await;
    Ok(())
}

/// `10`, `10s`, `2m` or `1h` as a connection timeout: at least a second, at most an hour.
fn timeout_value(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a duration such as 10, 30s or 2m"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("'{s}' is not a duration such as 10, 30s or 2m (units: s, m, h)")),
    };
    match n.checked_mul(mult) {
        Some(secs @ 1..=3600) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(format!("'{s}' is out of range: 1 second to 1 hour")),
    }
}

/// `https://host[:port][/path]`, no user info or query: shown to clients.
fn primary_url(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("https://").ok_or_else(|| format!("'{s}' is not an https:// URL"))?;
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    if host.is_empty() || rest.contains(['@', '?', '#', ' ']) || s.len() > 512 {
        return Err(format!("'{s}' is not a URL clients can be sent to (https://host[:port][/path])"));
    }
    Ok(s.to_owned())
}

/// A node name: 1 to 64 letters, digits, `.`, `-` or `_`.
fn node_name(s: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!("'{s}' is not a node name (1 to 64 letters, digits, '.', '-', '_')"))
    }
}

/// `3600`, `3600s`, `30m`, `2h` or `1d` as a duration for `--issuer-refresh` (at least a minute:
/// an unknown `kid` already triggers a re-fetch, at most once a minute).
fn refresh_interval(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a duration such as 3600, 30m or 2h"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{s}' is not a duration such as 3600, 30m or 2h (units: s, m, h, d)")),
    };
    let secs = n.checked_mul(mult).ok_or_else(|| format!("'{s}' is too long a duration"))?;
    if secs < 60 {
        return Err(format!("'{s}' is too short: the refresh interval is at least 60 seconds"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    #[test]
    fn issuer_refresh_takes_seconds_or_units() {
        use std::time::Duration;
        let p = super::refresh_interval;
        assert_eq!(p("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(p("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(p("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(p("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(p("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "m", "30x", "1h30m", "-5", "59", "0", "99999999999999999999d", "18446744073709551615d"] {
            assert!(p(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn numeric_server_flags_are_range_checked_and_name_the_flag() {
        use clap::Parser;
        let bad: &[&[&str]] = &[
            &["--token-lifetime", "-5"],
            &["--token-lifetime", "0"],
            &["--token-lifetime", "59"],
            &["--token-lifetime", "86401"],
            &["--token-lifetime", "abc"],
            &["--cache-entries", "-1"],
            &["--cache-entries", "10000001"],
            &["--max-connections", "0"],
            &["--max-connections", "-3"],
            &["--max-connections", "1000001"],
            &["--handshake-timeout", "0"],
            &["--header-timeout=-1"],
            &["--idle-timeout", "2h"],
            &["--body-timeout", "5x"],
        ];
        for args in bad {
            let argv = [&["strongbox", "server"][..], args].concat();
            let err = match crate::Cli::try_parse_from(argv) {
                Ok(_) => panic!("{args:?} was accepted"),
                Err(e) => e.to_string(),
            };
            let flag = args[0].split('=').next().unwrap_or_default();
            assert!(err.contains(flag), "{args:?}: the error does not name the flag: {err}");
        }
        let cli = crate::Cli::try_parse_from([
            "strongbox",
            "server",
            "--token-lifetime",
            "600",
            "--max-connections",
            "500",
            "--header-timeout",
            "5s",
            "--idle-timeout",
            "2m",
        ])
        .unwrap();
        let crate::Cmd::Server(a) = cli.cmd else { panic!("not the server command") };
        assert_eq!(a.token_lifetime, 600);
        assert_eq!(a.max_connections, Some(500));
        assert_eq!(a.header_timeout, std::time::Duration::from_secs(5));
        assert_eq!(a.idle_timeout, std::time::Duration::from_secs(120));
        assert_eq!(a.handshake_timeout, std::time::Duration::from_secs(10));
    }

    #[test]
    fn issuer_refresh_reaches_the_server_config() {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from(["strongbox", "server", "--issuer-refresh", "15m"]).unwrap();
        let crate::Cmd::Server(a) = cli.cmd else { panic!("not the server command") };
        assert_eq!(a.issuer_refresh, std::time::Duration::from_secs(900));
        assert!(crate::Cli::try_parse_from(["strongbox", "server", "--issuer-refresh", "10s"]).is_err());
    }

    #[test]
    fn issuer_fetch_allow_private_is_off_unless_asked_for() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let cli = crate::Cli::try_parse_from(args).unwrap();
            let crate::Cmd::Server(a) = cli.cmd else { panic!("not the server command") };
            a.issuer_fetch_allow_private
        };
        assert!(!parse(&["strongbox", "server"]));
        assert!(parse(&["strongbox", "server", "--issuer-fetch-allow-private"]));
    }
}
