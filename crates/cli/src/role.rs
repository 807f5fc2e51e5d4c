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
//! as `az` does ([`resolve_assignee`]); a grant to something that resolves to nothing is refused
//! (`--assignee-object-id` takes an id as given, e.g. for a trusted external issuer's principal).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::client::Client;
use crate::{InVault, print};

const DEFS: &str = "/providers/Microsoft.Authorization/roleDefinitions";
/// Azure's object id for "everyone" in deny assignments.
const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Subcommand)]
pub enum RoleCmd {
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
pub enum DefinitionCmd {
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
pub enum AssignmentCmd {
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

#[derive(Subcommand)]
pub enum EligibleCmd {
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
pub enum ActivationCmd {
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
pub enum DenyCmd {
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

#[derive(Subcommand)]
pub enum GroupCmd {
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
pub enum MemberCmd {
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

/// `strongbox vault set-policy|delete-policy|update`.
#[derive(Subcommand)]
pub enum VaultAuthCmd {
    /// Give a principal (or group) access-policy permissions (used when RBAC is off).
    SetPolicy(SetPolicy),
    /// Remove a principal's access policy.
    DeletePolicy {
        #[arg(long)]
        name: String,
        #[arg(long)]
        object_id: String,
        #[arg(long)]
        application_id: Option<String>,
        #[command(flatten)]
        at: InVault,
    },
    /// Change the vault's permission model.
    Update {
        #[arg(long)]
        name: String,
        /// true: RBAC; false: access policies.
        #[arg(long, action = clap::ArgAction::Set)]
        enable_rbac_authorization: bool,
        #[command(flatten)]
        at: InVault,
    },
}

#[derive(Args)]
pub struct SetPolicy {
    /// Vault name.
    #[arg(long)]
    name: String,
    #[arg(long)]
    object_id: String,
    #[arg(long)]
    application_id: Option<String>,
    /// e.g. get list set delete (or all).
    #[arg(long, num_args = 0..)]
    secret_permissions: Option<Vec<String>>,
    #[arg(long, num_args = 0..)]
    key_permissions: Option<Vec<String>>,
    #[arg(long, num_args = 0..)]
    certificate_permissions: Option<Vec<String>>,
    #[command(flatten)]
    at: InVault,
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

/// A role's id from its name or id, through the vault's role definition list (on the caller's
/// connection: a second one would repeat the challenge probe and the token request).
async fn role_id(cl: &Client, role: &str) -> anyhow::Result<String> {
    let defs = cl.list(DEFS).await?;
    let found = defs.iter().find(|d| {
        d.pointer("/properties/roleName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(role))
            || d.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(role))
    });
    match found.and_then(|d| d.get("name")).and_then(Value::as_str) {
        Some(id) => Ok(id.to_owned()),
        None => bail!("no role definition named '{role}'"),
    }
}

/// The object id that `assignee` names, resolved the way `az role assignment create
/// --assignee` resolves it: a sign-in name (`name@domain`) is a user; a GUID is a service
/// principal's app id or object id, else a user's or group's object id; anything else is a
/// group's display name. Nothing found is an error: an assignment to an id that is no object
/// (an app id, a typo) would never match a token's `oid`.
pub(crate) async fn resolve_assignee(cl: &Client, assignee: &str) -> anyhow::Result<String> {
    let a = assignee.trim();
    let hint = "resolving --assignee reads the directory (deployment administrators); give \
                --assignee-object-id to use an object id as it is";
    let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_ascii_lowercase);
    if uuid::Uuid::parse_str(a).is_ok() {
        for (path, field) in [("serviceprincipals", "objectId"), ("users", "objectId"), ("groups", "id")] {
            let found = cl.get_opt(&format!("/_strongbox/{path}/{a}")).await.context(hint)?;
            if let Some(id) = found.as_ref().and_then(|v| text(v, field)) {
                return Ok(id);
            }
        }
    } else if a.contains('@') {
        let users = cl.list("/_strongbox/users").await.context(hint)?;
        if let Some(id) = users
            .iter()
            .find(|u| u.get("userPrincipalName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(a)))
            .and_then(|u| text(u, "objectId"))
        {
            return Ok(id);
        }
    } else {
        let groups = cl.list("/_strongbox/groups").await.context(hint)?;
        let named: Vec<String> = groups
            .iter()
            .filter(|g| g.get("displayName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(a)))
            .filter_map(|g| text(g, "id"))
            .collect();
        match named.as_slice() {
            [one] => return Ok(one.clone()),
            [] => {}
            _ => bail!("more than one group is named '{a}'; give its object id"),
        }
    }
    bail!(
        "cannot find a user, group or service principal for '{a}' in the directory (give an object id, app id, \
         sign-in name or group name, or --assignee-object-id for an id outside the directory)"
    )
}

/// `--assignee` resolved, or `--assignee-object-id` as given (a GUID).
async fn assignee_id(cl: &Client, assignee: Option<String>, object_id: Option<String>) -> anyhow::Result<String> {
    match (object_id, assignee) {
        (Some(oid), _) => {
            uuid::Uuid::parse_str(oid.trim()).with_context(|| format!("--assignee-object-id '{oid}' is not a GUID"))?;
            Ok(oid.trim().to_ascii_lowercase())
        }
        (None, Some(a)) => resolve_assignee(cl, &a).await,
        (None, None) => bail!("give --assignee or --assignee-object-id"),
    }
}

/// Deny assignment principals and approvers: resolved like `--assignee`; a GUID the directory
/// does not know (or the caller may not read) is kept as given, since naming an unknown id there
/// grants nothing.
async fn known_or_guid(cl: &Client, a: &str) -> anyhow::Result<String> {
    match resolve_assignee(cl, a).await {
        Ok(id) => Ok(id),
        Err(_) if uuid::Uuid::parse_str(a.trim()).is_ok() => Ok(a.trim().to_ascii_lowercase()),
        Err(e) => Err(e),
    }
}

/// An `--assignee` filter (list, delete) as an object id when the directory resolves it, else
/// as given: a filter grants nothing, so a caller who cannot read the directory still filters by
/// object id.
async fn filter_assignee(cl: &Client, assignee: Option<String>) -> Option<String> {
    let a = assignee?;
    Some(resolve_assignee(cl, &a).await.unwrap_or(a))
}

fn rel(scope: &str) -> String {
    let s = scope.trim_matches('/');
    if s.is_empty() { String::new() } else { format!("/{s}") }
}

pub async fn run(cmd: RoleCmd) -> anyhow::Result<()> {
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

async fn definition(cmd: DefinitionCmd) -> anyhow::Result<()> {
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
            let mut body = json!({ "properties": {
                "roleName": role_name,
                "description": description,
                "type": "CustomRole",
                "permissions": [{
                    "actions": actions,
                    "notActions": not_actions,
                    "dataActions": data_actions,
                    "notDataActions": not_data_actions,
                }],
            }});
            if !assignable_scopes.is_empty() {
                body["properties"]["assignableScopes"] = json!(assignable_scopes);
            }
            let id = name.unwrap_or_else(new_guid);
            at.show("PUT", &format!("{DEFS}/{id}"), Some(body)).await
        }
        DefinitionCmd::Delete { name, at } => {
            let cl = at.client().await?;
            let id = role_id(&cl, &name).await?;
            print(at.c.output, &cl.call("DELETE", &format!("{DEFS}/{id}"), None).await?);
            Ok(())
        }
    }
}

async fn assignment(cmd: AssignmentCmd) -> anyhow::Result<()> {
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

pub async fn group(cmd: GroupCmd) -> anyhow::Result<()> {
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

pub async fn vault_auth(cmd: VaultAuthCmd) -> anyhow::Result<()> {
    match cmd {
        VaultAuthCmd::SetPolicy(s) => {
            let mut perms = serde_json::Map::new();
            for (k, v) in [
                ("secrets", s.secret_permissions),
                ("keys", s.key_permissions),
                ("certificates", s.certificate_permissions),
            ] {
                if let Some(v) = v {
                    perms.insert(k.to_owned(), json!(v));
                }
            }
            if perms.is_empty() {
                bail!("give --secret-permissions, --key-permissions and/or --certificate-permissions");
            }
            let mut body = json!({ "permissions": perms });
            if let Some(a) = s.application_id {
                body["applicationId"] = json!(a);
            }
            s.at.show("PUT", &format!("/_strongbox/vaults/{}/accessPolicies/{}", s.name, s.object_id), Some(body)).await
        }
        VaultAuthCmd::DeletePolicy { name, object_id, application_id: None, at } => {
            at.show("DELETE", &format!("/_strongbox/vaults/{name}/accessPolicies/{object_id}"), None).await
        }
        VaultAuthCmd::DeletePolicy { name, object_id, application_id: Some(app), at } => {
            // the entry for an application acting for a user: rewrite the list without it
            let cl = at.client().await?;
            let v = cl.call("GET", &format!("/_strongbox/vaults/{name}"), None).await?;
            let list: Vec<Value> = v
                .get("accessPolicies")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|p| {
                    let o = p.get("objectId").and_then(Value::as_str).unwrap_or("");
                    let a = p.get("applicationId").and_then(Value::as_str).unwrap_or("");
                    !(o.eq_ignore_ascii_case(&object_id) && a.eq_ignore_ascii_case(&app))
                })
                .collect();
            let body = json!({ "accessPolicies": list });
            print(at.c.output, &cl.call("PATCH", &format!("/_strongbox/vaults/{name}"), Some(body)).await?);
            Ok(())
        }
        VaultAuthCmd::Update { name, enable_rbac_authorization, at } => {
            let body = json!({ "enableRbacAuthorization": enable_rbac_authorization });
            at.show("PATCH", &format!("/_strongbox/vaults/{name}"), Some(body)).await
        }
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
