//! `strongbox ad group …`: groups and their members.

use clap::Subcommand;
use serde_json::json;

use crate::InVault;

#[derive(Subcommand)]
pub(crate) enum GroupCmd {
    /// Create a group (its members get the roles and deny assignments made to it).
    Create {
        #[arg(long)]
        display_name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        at: InVault,
    },
    /// List the groups.
    List {
        #[command(flatten)]
        at: InVault,
    },
    /// Delete a group (by id or display name).
    Delete {
        #[arg(long)]
        group: String,
        #[command(flatten)]
        at: InVault,
    },
    /// Add, remove or list the members of a group.
    Member {
        #[command(subcommand)]
        cmd: MemberCmd,
    },
}

#[derive(Subcommand)]
pub(crate) enum MemberCmd {
    /// Add a principal (or a group) to a group.
    Add {
        #[arg(long)]
        group: String,
        #[arg(long)]
        member_id: String,
        #[command(flatten)]
        at: InVault,
    },
    /// Remove a member from a group.
    Remove {
        #[arg(long)]
        group: String,
        #[arg(long)]
        member_id: String,
        #[command(flatten)]
        at: InVault,
    },
    /// List the members of a group.
    List {
        #[arg(long)]
        group: String,
        #[command(flatten)]
        at: InVault,
    },
}

pub(crate) async fn group(cmd: GroupCmd) -> anyhow::Result<()> {
    match cmd {
        GroupCmd::Create { display_name, description, at } => {
            let body = json!({ "displayName": display_name, "description": description });
            at.show("POST", "/_strongbox/groups", Some(body)).await
        }
        GroupCmd::List { at } => at.show("GET", "/_strongbox/groups", None).await,
        GroupCmd::Delete { group, at } => at.show("DELETE", &format!("/_strongbox/groups/{group}"), None).await,
        GroupCmd::Member { cmd } => match cmd {
            MemberCmd::Add { group, member_id, at } => {
                at.show("PUT", &format!("/_strongbox/groups/{group}/members/{member_id}"), None).await
            }
            MemberCmd::Remove { group, member_id, at } => {
                at.show("DELETE", &format!("/_strongbox/groups/{group}/members/{member_id}"), None).await
            }
            MemberCmd::List { group, at } => at.show("GET", &format!("/_strongbox/groups/{group}/members"), None).await,
        },
    }
}
