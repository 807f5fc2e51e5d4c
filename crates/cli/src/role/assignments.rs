//! `strongbox role definition …` and `strongbox role assignment …`: role definitions and
//! assignments through the vault's Managed HSM RBAC API (scopes relative to the vault).

use anyhow::bail;
use clap::Subcommand;
use serde_json::{Value, json};

use super::principals::{assignee_id, filter_assignee, role_id};
use super::{DEFS, new_guid, rel};
use crate::{InVault, obj, print};

#[derive(Subcommand)]
pub(crate) enum DefinitionCmd {
    /// List role definitions.
    List {
        /// Only custom roles.
        #[arg(long)]
        custom_role_only: bool,
        #[command(flatten)]
        at: InVault,
    },
    /// Create or update a custom role.
    Create {
        /// Role name (shown in listings).
        #[arg(long)]
        role_name: String,
        /// Role id (GUID); a new one if omitted.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Data actions, with `*` wildcards (repeatable or space separated).
        #[arg(long, num_args = 1..)]
        data_actions: Vec<String>,
        #[arg(long, num_args = 1..)]
        not_data_actions: Vec<String>,
        #[arg(long, num_args = 1..)]
        actions: Vec<String>,
        #[arg(long, num_args = 1..)]
        not_actions: Vec<String>,
        /// Where the role may be assigned: `/` (the whole deployment), `/vaults/NAME[/…]`, or
        /// relative to the vault (`/secrets`, `/keys/NAME`). Omitted: `/` for a new role, the
        /// current scopes for an existing one. Writing a role needs the right at each of them.
        #[arg(long, num_args = 1..)]
        assignable_scopes: Vec<String>,
        #[command(flatten)]
        at: InVault,
    },
    /// Delete a custom role (refused while assignments use it).
    Delete {
        /// Role id or name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        at: InVault,
    },
}

#[derive(Subcommand)]
pub(crate) enum AssignmentCmd {
    /// Assign a role to a principal or group at a scope of the vault.
    Create {
        /// The user (object id or sign-in name), service principal or managed identity (app id
        /// or object id) or group (object id or display name), resolved to its object id in the
        /// directory as `az` does; refused when nothing matches.
        #[arg(long, required_unless_present = "assignee_object_id", conflicts_with = "assignee_object_id")]
        assignee: Option<String>,
        /// An object id used as given, without a directory lookup (e.g. a principal of a
        /// trusted external issuer, or when the caller may not read the directory).
        #[arg(long)]
        assignee_object_id: Option<String>,
        /// Role name or id.
        #[arg(long)]
        role: String,
        /// Scope relative to the vault: /, /secrets, /secrets/NAME, /keys/NAME …
        #[arg(long, default_value = "/")]
        scope: String,
        /// Assignment id (GUID); a new one if omitted.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        at: InVault,
    },
    /// List assignments at a scope of the vault and below.
    List {
        #[arg(long, default_value = "/")]
        scope: String,
        /// Only this principal's.
        #[arg(long)]
        assignee: Option<String>,
        #[command(flatten)]
        at: InVault,
    },
    /// Delete an assignment by id, or the ones matching --assignee/--role.
    Delete {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long, default_value = "/")]
        scope: String,
        #[command(flatten)]
        at: InVault,
    },
}

/// Runs a `strongbox role definition` command.
pub(super) async fn definition(cmd: DefinitionCmd) -> anyhow::Result<()> {
    match cmd {
        DefinitionCmd::List { custom_role_only, at } => {
            let defs = at.client().await?.list(DEFS).await?;
            let defs: Vec<Value> = defs
                .into_iter()
                .filter(|d| {
                    !custom_role_only || d.pointer("/properties/type").and_then(Value::as_str) == Some("CustomRole")
                })
                .collect();
            print(at.c.output, &json!({ "value": defs }));
            Ok(())
        }
        DefinitionCmd::Create {
            role_name,
            name,
            description,
            data_actions,
            not_data_actions,
            actions,
            not_actions,
            assignable_scopes,
            at,
        } => {
            let mut properties = obj([
                ("roleName", json!(role_name)),
                ("description", json!(description)),
                ("type", json!("CustomRole")),
                (
                    "permissions",
                    json!([{
                        "actions": actions,
                        "notActions": not_actions,
                        "dataActions": data_actions,
                        "notDataActions": not_data_actions,
                    }]),
                ),
            ]);
            if !assignable_scopes.is_empty() {
                properties.insert("assignableScopes".to_owned(), json!(assignable_scopes));
            }
            let id = name.unwrap_or_else(new_guid);
            at.show("PUT", &format!("{DEFS}/{id}"), Some(json!({ "properties": properties }))).await
        }
        DefinitionCmd::Delete { name, at } => {
            let cl = at.client().await?;
            let id = role_id(&cl, &name).await?;
            print(at.c.output, &cl.call("DELETE", &format!("{DEFS}/{id}"), None).await?);
            Ok(())
        }
    }
}

/// Runs a `strongbox role assignment` command.
pub(super) async fn assignment(cmd: AssignmentCmd) -> anyhow::Result<()> {
    match cmd {
        AssignmentCmd::Create { assignee, assignee_object_id, role, scope, name, at } => {
            let cl = at.client().await?;
            let assignee = assignee_id(&cl, assignee, assignee_object_id).await?;
            let role = role_id(&cl, &role).await?;
            let id = name.unwrap_or_else(new_guid);
            let body = json!({ "properties": {
                "roleDefinitionId": format!("{DEFS}/{role}"),
                "principalId": assignee,
            }});
            let path = format!("{}/providers/Microsoft.Authorization/roleAssignments/{id}", rel(&scope));
            print(at.c.output, &cl.call("PUT", &path, Some(body)).await?);
            Ok(())
        }
        AssignmentCmd::List { scope, assignee, at } => {
            let path = format!("{}/providers/Microsoft.Authorization/roleAssignments", rel(&scope));
            let cl = at.client().await?;
            let assignee = filter_assignee(&cl, assignee).await;
            let list = cl.list(&path).await?;
            let list: Vec<Value> = list
                .into_iter()
                .filter(|a| {
                    assignee.as_deref().is_none_or(|who| {
                        a.pointer("/properties/principalId")
                            .and_then(Value::as_str)
                            .is_some_and(|p| p.eq_ignore_ascii_case(who))
                    })
                })
                .collect();
            print(at.c.output, &json!({ "value": list }));
            Ok(())
        }
        AssignmentCmd::Delete { name, assignee, role, scope, at } => {
            let cl = at.client().await?;
            let assignee = filter_assignee(&cl, assignee).await;
            let ids: Vec<String> = match name {
                Some(n) => vec![n],
                None => {
                    if assignee.is_none() && role.is_none() {
                        bail!("give --name, or --assignee and/or --role");
                    }
                    let role = match role {
                        Some(r) => Some(role_id(&cl, &r).await?),
                        None => None,
                    };
                    let path = format!("{}/providers/Microsoft.Authorization/roleAssignments", rel(&scope));
                    cl.list(&path)
                        .await?
                        .into_iter()
                        .filter(|a| {
                            let p = a.pointer("/properties/principalId").and_then(Value::as_str).unwrap_or("");
                            let r = a.pointer("/properties/roleDefinitionId").and_then(Value::as_str).unwrap_or("");
                            assignee.as_deref().is_none_or(|x| x.eq_ignore_ascii_case(p))
                                && role
                                    .as_deref()
                                    .is_none_or(|x| r.to_ascii_lowercase().ends_with(&x.to_ascii_lowercase()))
                        })
                        .filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_owned))
                        .collect()
                }
            };
            if ids.is_empty() {
                bail!("no matching role assignment");
            }
            let mut deleted = Vec::new();
            for id in ids {
                let path = format!("/providers/Microsoft.Authorization/roleAssignments/{id}");
                deleted.push(cl.call("DELETE", &path, None).await?);
            }
            print(at.c.output, &json!({ "value": deleted }));
            Ok(())
        }
    }
}
