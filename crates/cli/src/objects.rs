//! The commands secrets, keys and certificates share (show, list, delete, recover, purge,
//! backup, restore), and the secret commands.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::args::{Change, InVault, Named, Props, Versioned};
use crate::output::{print, read_text};

/// Commands that secrets, keys and certificates share (same paths under `/secrets`, `/keys` or
/// `/certificates`); `{kind}` in their help texts is replaced by [`cli_command`](crate::cli_command).
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
pub(crate) enum SecretCmd {
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

/// Runs a `strongbox secret` command.
pub(crate) async fn secret(cmd: SecretCmd) -> anyhow::Result<()> {
    match cmd {
        SecretCmd::Set { n, value, file, content_type, p, disabled } => {
            let value = match (value, file) {
                (Some(v), None) => v,
                (None, Some(f)) => read_text(&f)?,
                _ => anyhow::bail!("give the value with --value or --file"),
            };
            let mut body = p.body(disabled.then_some(false))?;
            body.insert("value".to_owned(), json!(value));
            if let Some(ct) = content_type {
                body.insert("contentType".to_owned(), json!(ct));
            }
            n.at.show("PUT", &format!("/secrets/{}", n.name), Some(Value::Object(body))).await
        }
        SecretCmd::SetAttributes { change, content_type } => {
            change
                .send("secrets", |body| {
                    if let Some(ct) = content_type {
                        body.insert("contentType".to_owned(), json!(ct));
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
