//! `strongbox`: run the server, manage secrets and vaults (modelled on `az keyvault`).

mod client;

use std::net::SocketAddr;
use std::path::PathBuf;

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

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (first start creates the data folder, CA, seal key, default vault and bootstrap admin).
    Server(ServerArgs),
    /// Manage secrets.
    Secret {
        #[command(subcommand)]
        cmd: SecretCmd,
    },
    /// Manage vaults.
    Vault {
        #[command(subcommand)]
        cmd: VaultCmd,
    },
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
    /// Access token lifetime in seconds.
    #[arg(long, env = "STRONGBOX_TOKEN_LIFETIME", default_value_t = 3600)]
    token_lifetime: i64,
    /// Entries of an in-memory read cache (ciphertext only) for hot-key workloads; 0 = off.
    #[arg(long, env = "STRONGBOX_CACHE_ENTRIES", default_value_t = 0)]
    cache_entries: usize,
}

#[derive(Args, Clone)]
struct Conn {
    /// bootstrap.json written by the server (otherwise AZURE_* variables and STRONGBOX_CA_FILE are used).
    #[arg(long, env = "STRONGBOX_BOOTSTRAP", global = true)]
    bootstrap: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "json", global = true)]
    output: Output,
}

#[derive(Args, Clone)]
struct VaultSel {
    /// Vault name (https://{name}.{dns-suffix}).
    #[arg(long)]
    vault_name: Option<String>,
    /// Full vault URL (instead of --vault-name).
    #[arg(long, env = "STRONGBOX_VAULT_URL")]
    vault_url: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Json,
    Table,
}

#[derive(Subcommand)]
enum SecretCmd {
    /// Create a secret or a new version of it.
    Set {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        /// The value (or use --file).
        #[arg(long, conflicts_with = "file")]
        value: Option<String>,
        /// Read the value from a file.
        #[arg(long)]
        file: Option<PathBuf>,
        #[arg(long)]
        content_type: Option<String>,
        /// Tags as key=value (repeatable).
        #[arg(long)]
        tags: Vec<String>,
        #[arg(long)]
        disabled: bool,
        /// Expiry, Unix seconds.
        #[arg(long)]
        expires: Option<i64>,
        /// Not-before, Unix seconds.
        #[arg(long)]
        not_before: Option<i64>,
        #[command(flatten)]
        c: Conn,
    },
    /// Show a secret (latest version unless --version).
    Show {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        c: Conn,
    },
    /// List secrets (metadata only).
    List {
        #[command(flatten)]
        v: VaultSel,
        #[command(flatten)]
        c: Conn,
    },
    /// List the versions of a secret.
    ListVersions {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Change attributes, tags or content type of a version.
    SetAttributes {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[arg(long)]
        version: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long)]
        content_type: Option<String>,
        #[arg(long)]
        tags: Vec<String>,
        #[arg(long)]
        expires: Option<i64>,
        #[arg(long)]
        not_before: Option<i64>,
        #[command(flatten)]
        c: Conn,
    },
    /// Soft-delete a secret (all versions).
    Delete {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Recover a soft-deleted secret.
    Recover {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Permanently delete a soft-deleted secret.
    Purge {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
    /// List soft-deleted secrets.
    ListDeleted {
        #[command(flatten)]
        v: VaultSel,
        #[command(flatten)]
        c: Conn,
    },
    /// Show a soft-deleted secret.
    ShowDeleted {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Write an encrypted backup of all versions to a file.
    Backup {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        name: String,
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        c: Conn,
    },
    /// Restore a secret from a backup file.
    Restore {
        #[command(flatten)]
        v: VaultSel,
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        c: Conn,
    },
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
}

fn tags(list: &[String]) -> anyhow::Result<Option<Value>> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut m = serde_json::Map::new();
    for t in list {
        let (k, v) = t.split_once('=').with_context(|| format!("tag '{t}' is not key=value"))?;
        m.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    Ok(Some(Value::Object(m)))
}

fn attributes(enabled: Option<bool>, nbf: Option<i64>, exp: Option<i64>) -> Value {
    let mut a = serde_json::Map::new();
    if let Some(e) = enabled {
        a.insert("enabled".into(), json!(e));
    }
    if let Some(n) = nbf {
        a.insert("nbf".into(), json!(n));
    }
    if let Some(e) = exp {
        a.insert("exp".into(), json!(e));
    }
    Value::Object(a)
}

#[tokio::main]
async fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRONGBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Server(a) => server(a).await,
        Cmd::Secret { cmd } => secret(cmd).await,
        Cmd::Vault { cmd } => vault(cmd).await,
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
    cfg.cache_entries = a.cache_entries;
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

async fn connect(c: &Conn, v: Option<&VaultSel>) -> anyhow::Result<Client> {
    let conn = Connection::resolve(c.bootstrap.as_deref())?;
    let url = match v {
        Some(VaultSel { vault_url: Some(u), .. }) => u.trim_end_matches('/').to_owned(),
        Some(VaultSel { vault_name: Some(n), .. }) => conn.vault_url_for(n)?,
        _ => conn.default_vault_url()?,
    };
    Client::new(conn, url).await
}

fn print(out: Output, v: &Value) {
    match out {
        Output::Json => println!("{}", serde_json::to_string_pretty(v).unwrap_or_default()),
        Output::Table => {
            let rows: Vec<&Value> = match v.get("value").and_then(Value::as_array) {
                Some(items) if v.get("id").is_none() => items.iter().collect(),
                _ => vec![v],
            };
            println!("{:<70} {:<8} {:<12} ContentType", "Id", "Enabled", "Updated");
            for r in rows {
                println!(
                    "{:<70} {:<8} {:<12} {}",
                    r.get("id").and_then(Value::as_str).unwrap_or(""),
                    r.pointer("/attributes/enabled").map(ToString::to_string).unwrap_or_default(),
                    r.pointer("/attributes/updated").map(ToString::to_string).unwrap_or_default(),
                    r.get("contentType").and_then(Value::as_str).unwrap_or("")
                );
            }
        }
    }
}

async fn secret(cmd: SecretCmd) -> anyhow::Result<()> {
    match cmd {
        SecretCmd::Set { v, name, value, file, content_type, tags: t, disabled, expires, not_before, c } => {
            let value = match (value, file) {
                (Some(v), None) => v,
                (None, Some(f)) => {
                    std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?
                }
                _ => anyhow::bail!("give the value with --value or --file"),
            };
            let mut body =
                json!({ "value": value, "attributes": attributes(disabled.then_some(false), not_before, expires) });
            if let Some(ct) = content_type {
                body["contentType"] = json!(ct);
            }
            if let Some(t) = tags(&t)? {
                body["tags"] = t;
            }
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &cl.call("PUT", &format!("/secrets/{name}"), Some(body)).await?);
        }
        SecretCmd::Show { v, name, version, c } => {
            let cl = connect(&c, Some(&v)).await?;
            let path = format!("/secrets/{name}/{}", version.unwrap_or_default());
            print(c.output, &cl.call("GET", &path, None).await?);
        }
        SecretCmd::List { v, c } => {
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &json!({ "value": cl.list("/secrets").await? }));
        }
        SecretCmd::ListVersions { v, name, c } => {
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &json!({ "value": cl.list(&format!("/secrets/{name}/versions")).await? }));
        }
        SecretCmd::SetAttributes { v, name, version, enabled, content_type, tags: t, expires, not_before, c } => {
            let mut body = json!({ "attributes": attributes(enabled, not_before, expires) });
            if let Some(ct) = content_type {
                body["contentType"] = json!(ct);
            }
            if let Some(t) = tags(&t)? {
                body["tags"] = t;
            }
            let cl = connect(&c, Some(&v)).await?;
            let path = format!("/secrets/{name}/{}", version.unwrap_or_default());
            print(c.output, &cl.call("PATCH", &path, Some(body)).await?);
        }
        SecretCmd::Delete { v, name, c } => {
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &cl.call("DELETE", &format!("/secrets/{name}"), None).await?);
        }
        SecretCmd::Recover { v, name, c } => {
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &cl.call("POST", &format!("/deletedsecrets/{name}/recover"), None).await?);
        }
        SecretCmd::Purge { v, name, c } => {
            let cl = connect(&c, Some(&v)).await?;
            cl.call("DELETE", &format!("/deletedsecrets/{name}"), None).await?;
        }
        SecretCmd::ListDeleted { v, c } => {
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &json!({ "value": cl.list("/deletedsecrets").await? }));
        }
        SecretCmd::ShowDeleted { v, name, c } => {
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &cl.call("GET", &format!("/deletedsecrets/{name}"), None).await?);
        }
        SecretCmd::Backup { v, name, file, c } => {
            let cl = connect(&c, Some(&v)).await?;
            let r = cl.call("POST", &format!("/secrets/{name}/backup"), None).await?;
            let blob = r.get("value").and_then(Value::as_str).context("backup reply has no value")?;
            std::fs::write(&file, blob).with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!("backup of '{name}' written to {}", file.display());
        }
        SecretCmd::Restore { v, file, c } => {
            let blob = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let cl = connect(&c, Some(&v)).await?;
            print(c.output, &cl.call("POST", "/secrets/restore", Some(json!({ "value": blob.trim() }))).await?);
        }
    }
    Ok(())
}

async fn vault(cmd: VaultCmd) -> anyhow::Result<()> {
    match cmd {
        VaultCmd::Create { name, sku, retention_days, purge_protection, c } => {
            let cl = connect(&c, None).await?;
            let body = json!({ "sku": sku, "retentionDays": retention_days, "purgeProtection": purge_protection });
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
    }
    Ok(())
}
