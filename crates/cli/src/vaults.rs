//! `strongbox vault`: create, list and show vaults; permission model and access policies.

use clap::Subcommand;
use serde_json::json;

use crate::args::{Conn, connect};
use crate::output::print;
use crate::role;

#[derive(Subcommand)]
pub(crate) enum VaultCmd {
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

/// Runs a `strongbox vault` command.
pub(crate) async fn run(cmd: VaultCmd) -> anyhow::Result<()> {
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
