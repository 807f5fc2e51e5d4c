//! The Managed HSM RBAC data plane served on every vault (wire §8.1), so
//! `KeyVaultAccessControlClient` can list, create and delete role definitions (custom roles)
//! and manage role assignments.
//!
//! Role definitions are deployment-wide records, each shown through the vaults it is assignable
//! in (`assignableScopes` `/` = every vault); writing or deleting one needs the right at every
//! scope it is, or becomes, assignable to and wherever it is assigned (see
//! `Access::put_role_definition_as`). Assignment scopes are relative to the vault the request is
//! sent to (`/` = the vault, `/secrets/{name}` = one secret), and an assignment is found by id
//! only through a scope that contains it.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use strongbox_authz::{Assignment, RoleDefinition};
use strongbox_core::{Access, NewRoleDefinition};
use strongbox_types::Error;

use crate::context::{RequestContext, json as reply, parse_json};
use crate::operations::absolute_scope;

fn definition(r: &RoleDefinition) -> Value {
    json!({
        "id": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", r.id),
        "name": r.id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": r.name,
            "description": r.description,
            "type": if r.built_in { "AKVBuiltInRole" } else { "CustomRole" },
            "permissions": [{
                "actions": r.actions,
                "notActions": r.not_actions,
                "dataActions": r.data_actions,
                "notDataActions": r.not_data_actions,
            }],
            "assignableScopes": r.assignable_scopes,
        }
    })
}

/// An assignment as the vault shows it: its scope relative to the vault.
fn assignment(vault: &str, a: &Assignment) -> Value {
    let prefix = format!("/vaults/{vault}");
    let rel = a.scope.strip_prefix(&prefix).map(|r| if r.is_empty() { "/".to_owned() } else { r.to_owned() });
    let scope = rel.unwrap_or_else(|| a.scope.clone());
    let base = if scope == "/" { String::new() } else { scope.clone() };
    json!({
        "id": format!("{base}/providers/Microsoft.Authorization/roleAssignments/{}", a.id),
        "name": a.id,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "scope": scope,
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", a.role_id),
            "principalId": a.principal_id,
        }
    })
}

/// An assignable scope as a client gives it, made absolute: `/` is deployment-wide;
/// `/vaults/{v}[/…]` is already absolute; anything else (`/keys`, `/secrets/{name}`) is
/// relative to the vault of the request, as assignment scopes are.
fn assignable(vault: &str, s: &str) -> String {
    let t = s.trim_matches('/');
    let first = t.split('/').next().unwrap_or("");
    if t.is_empty() {
        "/".to_owned()
    } else if first.eq_ignore_ascii_case("vaults") {
        format!("/{t}")
    } else {
        absolute_scope(vault, s)
    }
}

#[derive(Deserialize)]
struct CreateBody {
    properties: Option<CreateProps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateProps {
    role_definition_id: Option<String>,
    principal_id: Option<String>,
}

#[derive(Deserialize)]
struct RoleBody {
    properties: Option<RoleProps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleProps {
    role_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "type")]
    role_type: Option<String>,
    #[serde(default)]
    permissions: Option<Vec<PermissionSet>>,
    #[serde(default)]
    assignable_scopes: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PermissionSet {
    #[serde(default)]
    actions: Option<Vec<String>>,
    #[serde(default)]
    not_actions: Option<Vec<String>>,
    #[serde(default)]
    data_actions: Option<Vec<String>>,
    #[serde(default)]
    not_data_actions: Option<Vec<String>>,
}

/// The quoted value of `{field} eq '…'` in an OData `$filter`.
fn filter_eq<'a>(filter: Option<&'a str>, field: &str) -> Option<&'a str> {
    let f = filter?;
    let lower = f.to_ascii_lowercase();
    let at = lower.find(&format!("{} eq '", field.to_ascii_lowercase()))?;
    let rest = &f[at + field.len() + 5..];
    rest.split('\'').next()
}

const WRITE: &str = "Microsoft.KeyVault/vaults/roleAssignments/write/action";
const DELETE: &str = "Microsoft.KeyVault/vaults/roleAssignments/delete/action";

type Reply = Result<Response, Error>;

/// `GET {scope}/providers/Microsoft.Authorization/roleDefinitions`
pub(crate) async fn list_definitions(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let name = filter_eq(ctx.query("$filter"), "roleName");
    let abs = absolute_scope(vault, &scope);
    let value: Vec<Value> = core
        .access
        .role_definitions()
        .iter()
        .filter(|r| Access::role_visible_at(r, &abs))
        .filter(|r| name.is_none_or(|n| r.name.eq_ignore_ascii_case(n)))
        .map(definition)
        .collect();
    Ok(reply(StatusCode::OK, &json!({ "value": value, "nextLink": null })))
}

/// `GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{name}`
pub(crate) async fn get_definition(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let name = ctx.param("name")?.to_owned();
    let abs = absolute_scope(vault, &scope);
    Ok(reply(StatusCode::OK, &definition(&core.access.role_definition_at(&abs, &name).await?)))
}

/// `PUT {scope}/providers/Microsoft.Authorization/roleDefinitions/{name}`
pub(crate) async fn put_definition(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let name = ctx.param("name")?.to_owned();
    let p = &ctx.caller;
    if absolute_scope(vault, &scope) != format!("/vaults/{vault}") {
        return Err(Error::bad("Role definitions can only be created at scope '/'."));
    }
    let b: RoleBody = parse_json(body)?;
    let props = b.properties.ok_or_else(|| Error::bad("The 'properties' member is required."))?;
    if props.role_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("CustomRole")) {
        return Err(Error::bad("Only role definitions of type 'CustomRole' can be created."));
    }
    let mut sets = props.permissions.unwrap_or_default();
    if sets.len() > 1 {
        return Err(Error::bad("A role definition takes one 'permissions' entry."));
    }
    let set = sets.pop().unwrap_or_default();
    let def = NewRoleDefinition {
        role_name: props.role_name.unwrap_or_default(),
        description: props.description.unwrap_or_default(),
        actions: set.actions.unwrap_or_default(),
        not_actions: set.not_actions.unwrap_or_default(),
        data_actions: set.data_actions.unwrap_or_default(),
        not_data_actions: set.not_data_actions.unwrap_or_default(),
        assignable_scopes: props.assignable_scopes.unwrap_or_default().iter().map(|s| assignable(vault, s)).collect(),
    };
    // the caller needs the right at every scope the role is, or becomes, assignable to
    let r = core.access.put_role_definition_as(p, &name, def).await?;
    Ok(reply(StatusCode::CREATED, &definition(&r)))
}

/// `DELETE {scope}/providers/Microsoft.Authorization/roleDefinitions/{name}`
pub(crate) async fn delete_definition(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let name = ctx.param("name")?.to_owned();
    let p = &ctx.caller;
    // a role not visible through this vault is "not found" here
    core.access.role_definition_at(&absolute_scope(vault, &scope), &name).await?;
    Ok(reply(StatusCode::OK, &definition(&core.access.delete_role_definition_as(p, &name).await?)))
}

/// `GET {scope}/providers/Microsoft.Authorization/roleAssignments`
pub(crate) async fn list_assignments(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let principal = filter_eq(ctx.query("$filter"), "principalId");
    let at_scope = ctx.query("$filter").is_some_and(|f| f.to_ascii_lowercase().contains("atscope()"));
    let abs = absolute_scope(vault, &scope);
    let list = core.access.list_role_assignments(&abs).await?;
    let value: Vec<Value> = list
        .iter()
        .filter(|a| principal.is_none_or(|pid| a.principal_id.eq_ignore_ascii_case(pid)))
        .filter(|a| !at_scope || a.scope.eq_ignore_ascii_case(&abs))
        .map(|a| assignment(vault, a))
        .collect();
    Ok(reply(StatusCode::OK, &json!({ "value": value, "nextLink": null })))
}

/// `GET {scope}/providers/Microsoft.Authorization/roleAssignments/{name}`
pub(crate) async fn get_assignment(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let name = ctx.param("name")?.to_owned();
    let a = core.access.get_role_assignment_at(&absolute_scope(vault, &scope), &name).await?;
    Ok(reply(StatusCode::OK, &assignment(vault, &a)))
}

/// `PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}`
pub(crate) async fn put_assignment(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let name = ctx.param("name")?.to_owned();
    let p = &ctx.caller;
    let b: CreateBody = parse_json(body)?;
    let props = b.properties.ok_or_else(|| Error::bad("The 'properties' member is required."))?;
    let role = props.role_definition_id.ok_or_else(|| Error::bad("'properties.roleDefinitionId' is required."))?;
    let principal = props.principal_id.ok_or_else(|| Error::bad("'properties.principalId' is required."))?;
    let abs = absolute_scope(vault, &scope);
    // the central check allowed the action; the role condition needs the body's role
    core.access.authorize_role_write(p, WRITE, &abs, &role)?;
    let a = core.access.create_role_assignment(&name, &principal, &role, &abs).await?;
    Ok(reply(StatusCode::CREATED, &assignment(vault, &a)))
}

/// `DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{name}`
pub(crate) async fn delete_assignment(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let scope = ctx.param("scope")?.to_owned();
    let name = ctx.param("name")?.to_owned();
    let p = &ctx.caller;
    // only an assignment within the request's scope (so within this vault) is found
    let a = core.access.get_role_assignment_at(&absolute_scope(vault, &scope), &name).await?;
    core.access.authorize_role_write(p, DELETE, &a.scope, &a.role_id)?;
    Ok(reply(StatusCode::OK, &assignment(vault, &core.access.delete_role_assignment(&a.id).await?)))
}

#[cfg(test)]
#[path = "rbac_matrix.rs"]
mod matrix;
