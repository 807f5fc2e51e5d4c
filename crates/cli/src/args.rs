//! The argument groups every vault command shares (connection, vault, object name, version,
//! attributes and tags) and the connection they open.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::{Map, Value, json};

use crate::client::{Client, Connection};
use crate::output::{Output, obj, print};

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

impl Props {
    /// `{attributes, tags}` of a create or update body.
    pub(crate) fn body(&self, enabled: Option<bool>) -> anyhow::Result<Map<String, Value>> {
        let attrs = [
            ("enabled", enabled.map(Value::from)),
            ("nbf", self.not_before.map(Value::from)),
            ("exp", self.expires.map(Value::from)),
        ];
        let a: Map<String, Value> = attrs.into_iter().filter_map(|(k, v)| Some((k.to_owned(), v?))).collect();
        let mut body = obj([("attributes", Value::Object(a))]);
        if !self.tags.is_empty() {
            let mut m = Map::new();
            for t in &self.tags {
                let (k, v) = t.split_once('=').with_context(|| format!("tag '{t}' is not key=value"))?;
                m.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            body.insert("tags".to_owned(), Value::Object(m));
        }
        Ok(body)
    }
}

impl InVault {
    pub(crate) async fn client(&self) -> anyhow::Result<Client> {
        connect(&self.c, Some(&self.v)).await
    }

    /// One call, its reply printed.
    pub(crate) async fn show(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<()> {
        print(self.c.output, &self.client().await?.call(method, path, body).await?);
        Ok(())
    }

    /// All pages of a list, printed as one.
    pub(crate) async fn show_list(&self, path: &str) -> anyhow::Result<()> {
        print(self.c.output, &json!({ "value": self.client().await?.list(path).await? }));
        Ok(())
    }
}

impl Versioned {
    /// `/{kind}/{name}` or `/{kind}/{name}/{version}`.
    pub(crate) fn path(&self, kind: &str) -> String {
        match self.version.as_deref() {
            Some(v) if !v.is_empty() => format!("/{kind}/{}/{v}", self.n.name),
            _ => format!("/{kind}/{}", self.n.name),
        }
    }
}

impl Change {
    /// PATCHes the version with the new attributes and tags, and what `more` adds to the body.
    pub(crate) async fn send(&self, kind: &str, more: impl FnOnce(&mut Map<String, Value>)) -> anyhow::Result<()> {
        let mut body = self.p.body(self.enabled)?;
        more(&mut body);
        self.at.n.at.show("PATCH", &self.at.path(kind), Some(Value::Object(body))).await
    }
}

/// A client for the vault `v` selects (or the default vault), authenticated as `c` says.
pub(crate) async fn connect(c: &Conn, v: Option<&VaultSel>) -> anyhow::Result<Client> {
    let conn = Connection::resolve(c.bootstrap.as_deref())?;
    let url = match v {
        Some(VaultSel { vault_url: Some(u), .. }) => u.trim_end_matches('/').to_owned(),
        Some(VaultSel { vault_name: Some(n), .. }) => conn.vault_url_for(n)?,
        _ => conn.default_vault_url(),
    };
    Client::new(conn, url).await
}
