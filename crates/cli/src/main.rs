//! `strongbox`: run the server, manage secrets, keys and vaults (modelled on `az keyvault`).

mod ad;
mod agent;
mod certificates;
mod client;
mod keys;
mod login;
mod role;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::client::{Client, Connection};

#[derive(Parser)]
#[command(name = "strongbox", version, about = "A self-hosted key vault that speaks the Azure Key Vault API")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// The command tree as run: the derived one (kept in one place so the help-text test sees
/// exactly what users see).
fn cli_command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommands(|c| {
        let kind = match c.get_name() {
            k @ ("secret" | "key" | "certificate") => k.to_owned(),
            _ => return c,
        };
        c.mut_subcommands(|s| match s.get_about().map(ToString::to_string) {
            Some(a) if a.contains("{kind}") => s.about(a.replace("{kind}", &kind)),
            _ => s,
        })
    })
}

impl Cli {
    fn parse_from_command() -> Self {
        use clap::FromArgMatches;
        let matches = cli_command().get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (first start creates the data folder, CA, seal key, default vault and bootstrap admin).
    Server(ServerArgs),
    /// Manage secrets.
    Secret {
        #[command(subcommand)]
        cmd: SecretCmd,
    },
    /// Manage certificates (create, import, CSR + merge, renewal policy, contacts, issuers).
    Certificate {
        #[command(subcommand)]
        cmd: certificates::CertCmd,
    },
    /// The vault's built-in private certificate authorities.
    Ca {
        #[command(subcommand)]
        cmd: certificates::CaCmd,
    },
    /// Manage keys and use them for cryptography.
    Key {
        #[command(subcommand)]
        cmd: keys::KeyCmd,
    },
    /// Manage vaults.
    Vault {
        #[command(subcommand)]
        cmd: VaultCmd,
    },
    /// Manage identities (the directory).
    Ad {
        #[command(subcommand)]
        cmd: AdCmd,
    },
    /// Run beside a workload: serve a managed identity's tokens (App Service protocol).
    Agent(agent::AgentArgs),
    /// Sign in as a user with the device code flow (password + TOTP in the browser).
    Login(login::LoginArgs),
    /// Forget the saved sign-in of `strongbox login` (deletes the token file).
    Logout(login::LogoutArgs),
    /// Role definitions and assignments, deny assignments, just-in-time activation.
    Role {
        #[command(subcommand)]
        cmd: role::RoleCmd,
    },
}

#[derive(Subcommand)]
enum AdCmd {
    /// Service principals.
    Sp {
        #[command(subcommand)]
        cmd: SpCmd,
    },
    #[command(flatten)]
    More(ad::AdMore),
    /// Groups: role assignments, deny assignments and access policies made to a group apply to its members.
    Group {
        #[command(subcommand)]
        cmd: role::GroupCmd,
    },
}

#[derive(Subcommand)]
enum SpCmd {
    /// Create a service principal with a client secret (printed once), like `az ad sp create-for-rbac`.
    /// It has no role until one is assigned.
    CreateForRbac {
        #[arg(long)]
        name: String,
        /// Register it as a public client (`isFallbackPublicClient`): it may start device-code sign-ins.
        #[arg(long)]
        public_client: bool,
        #[command(flatten)]
        c: Conn,
    },
    #[command(flatten)]
    More(ad::SpMore),
}

#[derive(Args)]
struct ServerArgs {
    /// Data folder (database, seal key, CA, bootstrap.json).
    #[arg(long, env = "STRONGBOX_DATA_DIR", default_value = "./strongbox-data")]
    data_dir: PathBuf,
    /// Address:port to listen on (repeatable). Default: 127.0.0.1:8443 and [::1]:8443.
    #[arg(long, env = "STRONGBOX_LISTEN", value_delimiter = ',')]
    listen: Vec<SocketAddr>,
    /// Vault host suffix: vaults are served at https://{vault}.{suffix}.
    #[arg(long, env = "STRONGBOX_DNS_SUFFIX", default_value = "vault.localhost")]
    dns_suffix: String,
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

#[derive(Args, Clone)]
pub(crate) struct Conn {
    /// bootstrap.json written by the server (otherwise AZURE_* variables and STRONGBOX_CA_FILE
    /// are used, and without AZURE_CLIENT_ID/AZURE_CLIENT_SECRET the saved `strongbox login`).
    #[arg(long, env = "STRONGBOX_BOOTSTRAP", global = true)]
    bootstrap: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "json", global = true)]
    pub output: Output,
}

#[derive(Args, Clone)]
pub(crate) struct VaultSel {
    /// Vault name (https://{name}.{dns-suffix}).
    #[arg(long)]
    vault_name: Option<String>,
    /// Full vault URL (instead of --vault-name).
    #[arg(long, env = "STRONGBOX_VAULT_URL")]
    vault_url: Option<String>,
}

/// A vault and the connection to it.
#[derive(Args, Clone)]
pub(crate) struct InVault {
    #[command(flatten)]
    pub v: VaultSel,
    #[command(flatten)]
    pub c: Conn,
}

/// One object of a vault, by name.
#[derive(Args, Clone)]
pub(crate) struct Named {
    #[command(flatten)]
    pub at: InVault,
    /// Name of the object.
    #[arg(long)]
    pub name: String,
}

/// One version of an object: the latest unless --version.
#[derive(Args, Clone)]
pub(crate) struct Versioned {
    #[command(flatten)]
    pub n: Named,
    /// Version (default: the latest).
    #[arg(long)]
    pub version: Option<String>,
}

/// New attributes and tags of a version.
#[derive(Args, Clone)]
pub(crate) struct Change {
    #[command(flatten)]
    pub at: Versioned,
    #[arg(long)]
    enabled: Option<bool>,
    #[command(flatten)]
    p: Props,
}

/// Tags and validity of an object version.
#[derive(Args, Clone)]
pub(crate) struct Props {
    /// Tags as key=value (repeatable).
    #[arg(long)]
    tags: Vec<String>,
    /// Expiry, Unix seconds.
    #[arg(long)]
    expires: Option<i64>,
    /// Not-before, Unix seconds.
    #[arg(long)]
    not_before: Option<i64>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Output {
    Json,
    Table,
}

/// Commands that secrets, keys and certificates share (same paths under `/secrets`, `/keys` or
/// `/certificates`); `{kind}` in their help texts is replaced by [`cli_command`].
#[derive(Subcommand)]
pub(crate) enum ObjectCmd {
    /// Show a {kind} (the latest version unless --version).
    Show(Versioned),
    /// List the {kind}s of a vault (metadata only).
    List(InVault),
    /// List the versions of a {kind}.
    ListVersions(Named),
    /// Soft-delete a {kind} (all its versions).
    Delete(Named),
    /// Recover a soft-deleted {kind}.
    Recover(Named),
    /// Permanently delete a soft-deleted {kind}.
    Purge(Named),
    /// List the soft-deleted {kind}s.
    ListDeleted(InVault),
    /// Show a soft-deleted {kind}.
    ShowDeleted(Named),
    /// Write an encrypted backup of a {kind} (all versions) to a file (mode 0600).
    Backup {
        #[command(flatten)]
        n: Named,
        #[arg(long)]
        file: PathBuf,
    },
    /// Restore a {kind} from a backup file.
    Restore {
        #[command(flatten)]
        at: InVault,
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum SecretCmd {
    /// Create a secret or a new version of it.
    Set {
        #[command(flatten)]
        n: Named,
        /// The value (or use --file).
        #[arg(long, conflicts_with = "file", allow_hyphen_values = true)]
        value: Option<String>,
        /// Read the value from a file.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        content_type: Option<String>,
        #[command(flatten)]
        p: Props,
        #[arg(long)]
        disabled: bool,
    },
    /// Change attributes, tags or content type of a version.
    SetAttributes {
        #[command(flatten)]
        change: Change,
        #[arg(long)]
        content_type: Option<String>,
    },
    #[command(flatten)]
    Object(ObjectCmd),
}

#[derive(Subcommand)]
enum VaultCmd {
    /// Create a vault reachable at https://NAME.{dns-suffix}.
    Create {
        name: String,
        #[arg(long, default_value = "standard")]
        sku: String,
        #[arg(long, default_value_t = 90)]
        retention_days: u32,
        #[arg(long)]
        purge_protection: bool,
        /// false: authorise the data plane with access policies instead of RBAC.
        #[arg(long, action = clap::ArgAction::Set, default_value_t = true)]
        enable_rbac_authorization: bool,
        #[command(flatten)]
        c: Conn,
    },
    /// List vaults.
    List {
        #[command(flatten)]
        c: Conn,
    },
    /// Show a vault.
    Show {
        name: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Permission model and access policies.
    #[command(flatten)]
    Auth(role::VaultAuthCmd),
}

impl Props {
    /// `{attributes, tags}` of a create or update body.
    pub fn body(&self, enabled: Option<bool>) -> anyhow::Result<Value> {
        let attrs = [
            ("enabled", enabled.map(Value::from)),
            ("nbf", self.not_before.map(Value::from)),
            ("exp", self.expires.map(Value::from)),
        ];
        let a: serde_json::Map<String, Value> =
            attrs.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect();
        let mut body = json!({ "attributes": a });
        if !self.tags.is_empty() {
            let mut m = serde_json::Map::new();
            for t in &self.tags {
                let (k, v) = t.split_once('=').with_context(|| format!("tag '{t}' is not key=value"))?;
                m.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            body["tags"] = Value::Object(m);
        }
        Ok(body)
    }
}

impl InVault {
    pub async fn client(&self) -> anyhow::Result<Client> {
        connect(&self.c, Some(&self.v)).await
    }

    /// One call, its reply printed.
    pub async fn show(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<()> {
        print(self.c.output, &self.client().await?.call(method, path, body).await?);
        Ok(())
    }

    /// All pages of a list, printed as one.
    pub async fn show_list(&self, path: &str) -> anyhow::Result<()> {
        print(self.c.output, &json!({ "value": self.client().await?.list(path).await? }));
        Ok(())
    }
}

impl Versioned {
    /// `/{kind}/{name}` or `/{kind}/{name}/{version}`.
    pub fn path(&self, kind: &str) -> String {
        match self.version.as_deref() {
            Some(v) if !v.is_empty() => format!("/{kind}/{}/{v}", self.n.name),
            _ => format!("/{kind}/{}", self.n.name),
        }
    }
}

impl Change {
    /// PATCHes the version with the new attributes and tags, and what `more` adds to the body.
    pub async fn send(&self, kind: &str, more: impl FnOnce(&mut Value)) -> anyhow::Result<()> {
        let mut body = self.p.body(self.enabled)?;
        more(&mut body);
        self.at.n.at.show("PATCH", &self.at.path(kind), Some(body)).await
    }
}

pub(crate) fn read_text(f: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))
}

/// A JSON file (any value); the error names the file, not its content.
pub(crate) fn read_json(f: &Path) -> anyhow::Result<Value> {
    serde_json::from_str(&read_text(f)?).with_context(|| format!("{} is not JSON", f.display()))
}

pub(crate) fn write_file(f: &Path, data: impl AsRef<[u8]>) -> anyhow::Result<()> {
    std::fs::write(f, data).with_context(|| format!("cannot write {}", f.display()))
}

#[tokio::main]
async fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRONGBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    if let Err(e) = run(Cli::parse_from_command()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Server(a) => server(a).await,
        Cmd::Secret { cmd } => secret(cmd).await,
        Cmd::Key { cmd } => keys::run(cmd).await,
        Cmd::Certificate { cmd } => certificates::run(cmd).await,
        Cmd::Ca { cmd } => certificates::run_ca(cmd).await,
        Cmd::Vault { cmd } => vault(cmd).await,
        Cmd::Ad { cmd: AdCmd::Sp { cmd: SpCmd::CreateForRbac { name, public_client, c } } } => {
            let cl = connect(&c, None).await?;
            let body = json!({ "displayName": name, "isFallbackPublicClient": public_client });
            print(c.output, &cl.call("POST", "/_strongbox/serviceprincipals", Some(body)).await?);
            Ok(())
        }
        Cmd::Ad { cmd: AdCmd::Sp { cmd: SpCmd::More(m) } } => ad::run_sp(m).await,
        Cmd::Ad { cmd: AdCmd::More(m) } => ad::run_more(m).await,
        Cmd::Agent(a) => agent::run(a).await,
        Cmd::Login(a) => login::run(a).await,
        Cmd::Logout(a) => login::logout(a),
        Cmd::Ad { cmd: AdCmd::Group { cmd } } => role::group(cmd).await,
        Cmd::Role { cmd } => role::run(cmd).await,
    }
}

async fn server(a: ServerArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut cfg = strongbox_server::ServerConfig::new(a.data_dir);
    cfg.listen = if a.listen.is_empty() {
        vec![SocketAddr::from(([127, 0, 0, 1], 8443)), SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 8443))]
    } else {
        a.listen
    };
    cfg.dns_suffix = a.dns_suffix;
    cfg.token_lifetime = a.token_lifetime;
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
    let running = strongbox_server::start(cfg).await?;
    let addrs: Vec<String> = running.addrs.iter().map(ToString::to_string).collect();
    println!(
        "strongbox: ready in {} ms, listening on {}; default vault {}",
        started.elapsed().as_millis(),
        addrs.join(", "),
        running.bootstrap.vault_url
    );
    println!("strongbox: credentials for clients are in {} (mode 0600)", running.bootstrap_path.display());
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

async fn connect(c: &Conn, v: Option<&VaultSel>) -> anyhow::Result<Client> {
    let conn = Connection::resolve(c.bootstrap.as_deref())?;
    let url = match v {
        Some(VaultSel { vault_url: Some(u), .. }) => u.trim_end_matches('/').to_owned(),
        Some(VaultSel { vault_name: Some(n), .. }) => conn.vault_url_for(n)?,
        _ => conn.default_vault_url(),
    };
    Client::new(conn, url).await
}

/// Prints a reply: JSON as is, or for `--output table` objects (and lists of them) as rows of
/// id, enabled, updated and type (content type or key type); other replies as `field  value` lines.
pub(crate) fn print(out: Output, v: &Value) {
    if v.is_null() {
        return;
    }
    match out {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        Output::Table => {
            let rows: Vec<&Value> = match v.get("value").and_then(Value::as_array) {
                Some(items) if v.get("id").is_none() => items.iter().collect(),
                _ if v.get("attributes").is_some_and(|a| a.get("enabled").is_some()) => vec![v],
                _ => return print_fields("", v),
            };
            println!("{:<70} {:<8} {:<12} Type", "Id", "Enabled", "Updated");
            for r in rows {
                let text = |p: &str| r.pointer(p).and_then(Value::as_str);
                println!(
                    "{:<70} {:<8} {:<12} {}",
                    text("/id").or_else(|| text("/kid")).or_else(|| text("/key/kid")).unwrap_or(""),
                    r.pointer("/attributes/enabled").map(ToString::to_string).unwrap_or_default(),
                    r.pointer("/attributes/updated").map(ToString::to_string).unwrap_or_default(),
                    text("/contentType").or_else(|| text("/key/kty")).unwrap_or("")
                );
            }
        }
    }
}

/// `path  value` for every leaf of `v`.
fn print_fields(prefix: &str, v: &Value) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| print_fields(&format!("{prefix}/{k}"), x)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| print_fields(&format!("{prefix}/{i}"), x)),
        Value::String(s) => println!("{:<44} {s}", prefix.trim_start_matches('/')),
        other => println!("{:<44} {other}", prefix.trim_start_matches('/')),
    }
}

async fn secret(cmd: SecretCmd) -> anyhow::Result<()> {
    match cmd {
        SecretCmd::Set { n, value, file, content_type, p, disabled } => {
            let value = match (value, file) {
                (Some(v), None) => v,
                (None, Some(f)) => read_text(&f)?,
                _ => anyhow::bail!("give the value with --value or --file"),
            };
            let mut body = p.body(disabled.then_some(false))?;
            body["value"] = json!(value);
            if let Some(ct) = content_type {
                body["contentType"] = json!(ct);
            }
            n.at.show("PUT", &format!("/secrets/{}", n.name), Some(body)).await
        }
        SecretCmd::SetAttributes { change, content_type } => {
            change
                .send("secrets", |body| {
                    if let Some(ct) = content_type {
                        body["contentType"] = json!(ct);
                    }
                })
                .await
        }
        SecretCmd::Object(cmd) => object("secrets", cmd).await,
    }
}

/// Runs a command that secrets and keys share; `kind` is the collection (`secrets` or `keys`).
pub(crate) async fn object(kind: &str, cmd: ObjectCmd) -> anyhow::Result<()> {
    match cmd {
        ObjectCmd::Show(v) => v.n.at.show("GET", &v.path(kind), None).await,
        ObjectCmd::List(at) => at.show_list(&format!("/{kind}")).await,
        ObjectCmd::ListVersions(n) => n.at.show_list(&format!("/{kind}/{}/versions", n.name)).await,
        ObjectCmd::Delete(n) => n.at.show("DELETE", &format!("/{kind}/{}", n.name), None).await,
        ObjectCmd::Recover(n) => n.at.show("POST", &format!("/deleted{kind}/{}/recover", n.name), None).await,
        ObjectCmd::Purge(n) => n.at.show("DELETE", &format!("/deleted{kind}/{}", n.name), None).await,
        ObjectCmd::ListDeleted(at) => at.show_list(&format!("/deleted{kind}")).await,
        ObjectCmd::ShowDeleted(n) => n.at.show("GET", &format!("/deleted{kind}/{}", n.name), None).await,
        ObjectCmd::Backup { n, file } => {
            let r = n.at.client().await?.call("POST", &format!("/{kind}/{}/backup", n.name), None).await?;
            let blob = r.get("value").and_then(Value::as_str).context("backup reply has no value")?;
            // the blob is encrypted, but it is still the whole object: private to its owner
            strongbox_server::write_private(&file, blob.as_bytes())?;
            eprintln!("backup of '{}' written to {} (mode 0600)", n.name, file.display());
            Ok(())
        }
        ObjectCmd::Restore { at, file } => {
            let blob = read_text(&file)?;
            let cl = at.client().await?;
            let mut restored =
                cl.call("POST", &format!("/{kind}/restore"), Some(json!({ "value": blob.trim() }))).await?;
            print(at.c.output, without_secret_value(kind, &mut restored));
            Ok(())
        }
    }
}

/// A restored secret's reply without its value (a restore must not print the secret; `secret
/// show` does when asked). Other kinds are returned as they are.
fn without_secret_value<'a>(kind: &str, reply: &'a mut Value) -> &'a Value {
    if kind == "secrets"
        && let Some(m) = reply.as_object_mut()
    {
        m.remove("value");
    }
    reply
}

async fn vault(cmd: VaultCmd) -> anyhow::Result<()> {
    match cmd {
        VaultCmd::Create { name, sku, retention_days, purge_protection, enable_rbac_authorization, c } => {
            let cl = connect(&c, None).await?;
            let body = json!({ "sku": sku, "retentionDays": retention_days, "purgeProtection": purge_protection,
                               "enableRbacAuthorization": enable_rbac_authorization });
            print(c.output, &cl.call("PUT", &format!("/_strongbox/vaults/{name}"), Some(body)).await?);
        }
        VaultCmd::List { c } => {
            let cl = connect(&c, None).await?;
            print(c.output, &cl.call("GET", "/_strongbox/vaults", None).await?);
        }
        VaultCmd::Show { name, c } => {
            let cl = connect(&c, None).await?;
            print(c.output, &cl.call("GET", &format!("/_strongbox/vaults/{name}"), None).await?);
        }
        VaultCmd::Auth(cmd) => role::vault_auth(cmd).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// Every command of the tree (but clap's own `help`) has an about text of its own: copy-pasted
    /// descriptions make `--help` useless for telling commands apart.
    #[test]
    fn every_command_has_its_own_help_text() {
        fn walk(c: &clap::Command, path: &str, seen: &mut Vec<(String, String)>, bad: &mut Vec<String>) {
            for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
                let p = format!("{path} {}", sub.get_name());
                match sub.get_about().map(|a| a.to_string()).filter(|a| !a.trim().is_empty()) {
                    None => bad.push(format!("`{p}` has no help text")),
                    Some(a) if a.contains("{kind}") => bad.push(format!("`{p}` has a placeholder left: \"{a}\"")),
                    Some(a) => {
                        let key = a.trim().trim_end_matches('.').to_lowercase();
                        if let Some((other, _)) = seen.iter().find(|(_, k)| *k == key) {
                            bad.push(format!("`{p}` and `{other}` share the help text \"{a}\""));
                        }
                        seen.push((p.clone(), key));
                    }
                }
                walk(sub, &p, seen, bad);
            }
        }
        let (mut seen, mut bad) = (Vec::new(), Vec::new());
        walk(&super::cli_command(), "strongbox", &mut seen, &mut bad);
        assert!(seen.len() > 100, "only {} commands found", seen.len());
        assert!(bad.is_empty(), "{} problems:\n{}", bad.len(), bad.join("\n"));
    }

    #[test]
    fn read_json_names_the_file_not_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("jwks.json");
        std::fs::write(&f, "{\"keys\": [\"fragment-xyz\"]").unwrap();
        let err = format!("{:#}", super::read_json(&f).unwrap_err());
        assert!(err.contains("jwks.json is not JSON") && !err.contains("fragment-xyz"), "{err}");
        std::fs::write(&f, "{\"keys\": []}").unwrap();
        assert_eq!(super::read_json(&f).unwrap(), serde_json::json!({"keys": []}));
    }

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
            let err = match super::Cli::try_parse_from(argv) {
                Ok(_) => panic!("{args:?} was accepted"),
                Err(e) => e.to_string(),
            };
            let flag = args[0].split('=').next().unwrap_or_default();
            assert!(err.contains(flag), "{args:?}: the error does not name the flag: {err}");
        }
        let cli = super::Cli::try_parse_from([
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
        let super::Cmd::Server(a) = cli.cmd else { panic!("not the server command") };
        assert_eq!(a.token_lifetime, 600);
        assert_eq!(a.max_connections, Some(500));
        assert_eq!(a.header_timeout, std::time::Duration::from_secs(5));
        assert_eq!(a.idle_timeout, std::time::Duration::from_secs(120));
        assert_eq!(a.handshake_timeout, std::time::Duration::from_secs(10));
    }

    #[test]
    fn issuer_refresh_reaches_the_server_config() {
        use clap::Parser;
        let cli = super::Cli::try_parse_from(["strongbox", "server", "--issuer-refresh", "15m"]).unwrap();
        let super::Cmd::Server(a) = cli.cmd else { panic!("not the server command") };
        assert_eq!(a.issuer_refresh, std::time::Duration::from_secs(900));
        assert!(super::Cli::try_parse_from(["strongbox", "server", "--issuer-refresh", "10s"]).is_err());
    }

    #[test]
    fn issuer_fetch_allow_private_is_off_unless_asked_for() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let cli = super::Cli::try_parse_from(args).unwrap();
            let super::Cmd::Server(a) = cli.cmd else { panic!("not the server command") };
            a.issuer_fetch_allow_private
        };
        assert!(!parse(&["strongbox", "server"]));
        assert!(parse(&["strongbox", "server", "--issuer-fetch-allow-private"]));
    }
}
