//! Authorization commands: `strongbox role …` (role definitions and assignments through the
//! Managed HSM RBAC API of a vault, deny assignments, just-in-time activation),
//! `strongbox ad group …` and the vault permission model (`strongbox vault set-policy|
//! delete-policy|update`).
//!
//! Scopes: role assignments are made through a vault, so their `--scope` is relative to it
//! (`/`, `/secrets`, `/secrets/NAME`, `/keys/NAME`). Eligible assignments, activations and deny
//! assignments are deployment-wide, so their `--scope` is absolute (`/`, `/vaults/NAME`,
//! `/vaults/NAME/secrets/OBJECT`).
//!
//! Principals: `--assignee` (and approvers, deny-assignment principals) take an object id, an
//! app id, a sign-in name or a group name and are resolved to the object id in the directory,
//! as `az` does (`principals.rs`); a grant to something that resolves to nothing is refused
//! (`--assignee-object-id` takes an id as given, e.g. for a trusted external issuer's principal).
//!
//! Layout: this file holds `strongbox role` (eligible assignments, activations, deny
//! assignments); `assignments.rs` role definitions and assignments, `principals.rs` how
//! `--assignee` and role names are resolved, `groups.rs` `strongbox ad group`, `policies.rs`
//! the vault's access policies and permission model.

mod assignments;
mod groups;
mod policies;
mod principals;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::{InVault, print};

pub(crate) use assignments::{AssignmentCmd, DefinitionCmd};
use assignments::{assignment, definition};
pub(crate) use groups::{GroupCmd, group};
pub(crate) use policies::{VaultAuthCmd, vault_auth};
use principals::{assignee_id, known_or_guid};

const DEFS: &str = "/providers/Microsoft.Authorization/roleDefinitions";
/// Azure's object id for "everyone" in deny assignments.
const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Subcommand)]
pub(crate) enum RoleCmd {
    /// Role definitions (built-in and custom).
    Definition {
        #[command(subcommand)]
        cmd: DefinitionCmd,
    },
    /// Role assignments on a vault.
    Assignment {
        #[command(subcommand)]
        cmd: AssignmentCmd,
    },
    /// Eligible (just-in-time) assignments.
    Eligible {
        #[command(subcommand)]
        cmd: EligibleCmd,
    },
    /// Activate a role you are eligible for.
    Activate {
        /// Role name or id.
        #[arg(long)]
        role: String,
        /// Absolute scope, e.g. /vaults/default.
        #[arg(long)]
        scope: String,
        /// How long: 90m, 1h, 3600s, 3600 or PT1H.
        #[arg(long)]
        duration: String,
        #[arg(long, default_value = "")]
        justification: String,
        #[command(flatten)]
        at: InVault,
    },
    /// Approve a pending activation request.
    Approve {
        request: String,
        #[command(flatten)]
        at: InVault,
    },
    /// Deny a pending activation request.
    Deny {
        request: String,
        #[command(flatten)]
        at: InVault,
    },
    /// Activation requests you made, may approve, or (administrators) all.
    Activation {
        #[command(subcommand)]
        cmd: ActivationCmd,
    },
    /// Deny assignments (Strongbox-specific: they win over any role).
    DenyAssignment {
        #[command(subcommand)]
        cmd: DenyCmd,
    },
}

#[derive(Subcommand)]
pub(crate) enum EligibleCmd {
    /// Make a principal (or group) eligible to activate a role.
    Create {
        /// As for `role assignment create`: resolved to an object id in the directory.
        #[arg(long, required_unless_present = "assignee_object_id", conflicts_with = "assignee_object_id")]
        assignee: Option<String>,
        /// An object id used as given, without a directory lookup.
        #[arg(long)]
        assignee_object_id: Option<String>,
        #[arg(long)]
        role: String,
        /// Absolute scope, e.g. /vaults/default.
        #[arg(long)]
        scope: String,
        /// Longest activation: 8h, 30m, PT8H …
        #[arg(long, default_value = "8h")]
        max_duration: String,
        #[arg(long)]
        require_justification: bool,
        #[arg(long)]
        require_mfa: bool,
        /// Approver object ids (users or groups); approval is required when any is given.
        #[arg(long, num_args = 1..)]
        approver: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        at: InVault,
    },
    /// List the role eligibilities (who may activate which role where).
    List {
        #[command(flatten)]
        at: InVault,
    },
    /// Delete a role eligibility (by name).
    Delete {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        at: InVault,
    },
}

#[derive(Subcommand)]
pub(crate) enum ActivationCmd {
    /// List the role activations.
    List {
        #[command(flatten)]
        at: InVault,
    },
    /// End an activation early (or cancel a pending request).
    Revoke {
        request: String,
        #[command(flatten)]
        at: InVault,
    },
}

#[derive(Subcommand)]
pub(crate) enum DenyCmd {
    /// Deny data actions to principals or groups (or everyone) at a scope, whatever their roles grant.
    Create {
        /// Principals (or groups) denied; use --everyone for all.
        #[arg(long, num_args = 1..)]
        assignee: Vec<String>,
        #[arg(long)]
        everyone: bool,
        /// With --everyone: principals (or groups) not denied.
        #[arg(long, num_args = 1..)]
        exclude: Vec<String>,
        #[arg(long, num_args = 1.., required = true)]
        data_actions: Vec<String>,
        #[arg(long, num_args = 1..)]
        not_data_actions: Vec<String>,
        /// Absolute scope, e.g. /vaults/prod.
        #[arg(long)]
        scope: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Display name.
        #[arg(long, default_value = "")]
        display_name: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        at: InVault,
    },
    /// List the deny assignments.
    List {
        #[command(flatten)]
        at: InVault,
    },
    /// Delete a deny assignment (by name).
    Delete {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        at: InVault,
    },
}

fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Seconds from `90m`, `1h`, `2d`, `3600s`, `3600` or an ISO-8601 `PT1H` (passed through).
fn duration(s: &str) -> anyhow::Result<Value> {
    let s = s.trim();
    if s.starts_with('P') {
        return Ok(json!(s));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().with_context(|| format!("'{s}' is not a duration such as 1h or 30m"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => bail!("'{s}' is not a duration such as 1h or 30m"),
    };
    let secs = n.checked_mul(mult).with_context(|| format!("'{s}' is too long a duration"))?;
    Ok(json!(secs))
}

fn rel(scope: &str) -> String {
    let s = scope.trim_matches('/');
    if s.is_empty() { String::new() } else { format!("/{s}") }
}

pub(crate) async fn run(cmd: RoleCmd) -> anyhow::Result<()> {
    match cmd {
        RoleCmd::Definition { cmd } => definition(cmd).await,
        RoleCmd::Assignment { cmd } => assignment(cmd).await,
        RoleCmd::Eligible { cmd } => match cmd {
            EligibleCmd::Create {
                assignee,
                assignee_object_id,
                role,
                scope,
                max_duration,
                require_justification,
                require_mfa,
                approver,
                name,
                at,
            } => {
                let cl = at.client().await?;
                let assignee = assignee_id(&cl, assignee, assignee_object_id).await?;
                let mut approvers = Vec::new();
                for a in &approver {
                    approvers.push(known_or_guid(&cl, a).await?);
                }
                // the server resolves role names itself
                let body = json!({
                    "principalId": assignee,
                    "roleDefinitionId": role,
                    "scope": scope,
                    "maximumDuration": duration(&max_duration)?,
                    "justificationRequired": require_justification,
                    "mfaRequired": require_mfa,
                    "approvalRequired": !approvers.is_empty(),
                    "approvers": approvers,
                });
                let id = name.unwrap_or_else(new_guid);
                print(at.c.output, &cl.call("PUT", &format!("/_strongbox/pim/eligible/{id}"), Some(body)).await?);
                Ok(())
            }
            EligibleCmd::List { at } => at.show("GET", "/_strongbox/pim/eligible", None).await,
            EligibleCmd::Delete { name, at } => {
                at.show("DELETE", &format!("/_strongbox/pim/eligible/{name}"), None).await
            }
        },
        RoleCmd::Activate { role, scope, duration: d, justification, at } => {
            // by name or id, resolved by the server: a requester need not read role definitions
            let body = json!({
                "roleDefinitionId": role,
                "scope": scope,
                "duration": duration(&d)?,
                "justification": justification,
            });
            at.show("POST", "/_strongbox/pim/requests", Some(body)).await
        }
        RoleCmd::Approve { request, at } => {
            at.show("POST", &format!("/_strongbox/pim/requests/{request}/approve"), None).await
        }
        RoleCmd::Deny { request, at } => {
            at.show("POST", &format!("/_strongbox/pim/requests/{request}/deny"), None).await
        }
        RoleCmd::Activation { cmd } => match cmd {
            ActivationCmd::List { at } => at.show("GET", "/_strongbox/pim/requests", None).await,
            ActivationCmd::Revoke { request, at } => {
                at.show("POST", &format!("/_strongbox/pim/requests/{request}/revoke"), None).await
            }
        },
        RoleCmd::DenyAssignment { cmd } => match cmd {
            DenyCmd::Create {
                assignee,
                everyone,
                exclude,
                data_actions,
                not_data_actions,
                scope,
                description,
                display_name,
                name,
                at,
            } => {
                let cl = at.client().await?;
                let mut principals = Vec::new();
                for a in &assignee {
                    principals.push(known_or_guid(&cl, a).await?);
                }
                if everyone {
                    principals.push(EVERYONE.to_owned());
                }
                let mut excluded = Vec::new();
                for a in &exclude {
                    excluded.push(known_or_guid(&cl, a).await?);
                }
                let body = json!({
                    "name": display_name,
                    "description": description,
                    "principalIds": principals,
                    "excludePrincipalIds": excluded,
                    "dataActions": data_actions,
                    "notDataActions": not_data_actions,
                    "scope": scope,
                });
                let id = name.unwrap_or_else(new_guid);
                print(at.c.output, &cl.call("PUT", &format!("/_strongbox/denyAssignments/{id}"), Some(body)).await?);
                Ok(())
            }
            DenyCmd::List { at } => at.show("GET", "/_strongbox/denyAssignments", None).await,
            DenyCmd::Delete { name, at } => {
                at.show("DELETE", &format!("/_strongbox/denyAssignments/{name}"), None).await
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn duration_overflow_is_an_error_not_a_panic() {
        assert_eq!(super::duration("90m").unwrap(), serde_json::json!(5400));
        assert!(super::duration("9223372036854775807d").is_err());
    }
}
