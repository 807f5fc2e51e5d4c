//! `strongbox vault set-policy|delete-policy|update`: access policies and the vault's
//! permission model.

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::{InVault, obj, print};

/// `strongbox vault set-policy|delete-policy|update`.
#[derive(Subcommand)]
pub(crate) enum VaultAuthCmd {
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
pub(crate) struct SetPolicy {
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
pub(crate) async fn vault_auth(cmd: VaultAuthCmd) -> anyhow::Result<()> {
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
            let mut body = obj([("permissions", Value::Object(perms))]);
            if let Some(a) = s.application_id {
                body.insert("applicationId".to_owned(), json!(a));
            }
            let path = format!("/_strongbox/vaults/{}/accessPolicies/{}", s.name, s.object_id);
            s.at.show("PUT", &path, Some(Value::Object(body))).await
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
