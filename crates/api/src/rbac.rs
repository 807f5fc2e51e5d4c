//! The Managed HSM RBAC data plane served on every vault (wire §8.1), so
//! `KeyVaultAccessControlClient` can list role definitions and manage role assignments.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use strongbox_authz::{Assignment, RoleDefinition};
use strongbox_types::Error;

use crate::http::{Ctx, json as reply, parse_json};
use crate::routes::{Route, absolute_scope};

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
            "assignableScopes": ["/"],
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

pub async fn serve(ctx: &Ctx<'_>, route: Route, body: Option<Bytes>) -> Result<Response, Error> {
    let core = &ctx.st.core;
    let vault = ctx.vault.as_str();
    match route {
        Route::RoleDefinitions(_, None) => {
            let value: Vec<Value> = core.role_definitions().iter().map(definition).collect();
            Ok(reply(StatusCode::OK, &json!({ "value": value, "nextLink": null })))
        }
        Route::RoleDefinitions(_, Some(name)) => {
            let r =
                core.role_definitions().into_iter().find(|r| r.id.eq_ignore_ascii_case(&name)).ok_or_else(|| {
                    Error::new(strongbox_types::ErrorKind::RouteNotFound, "The role definition was not found.")
                })?;
            Ok(reply(StatusCode::OK, &definition(&r)))
        }
        Route::ListRoleAssignments(scope) => {
            let list = core.list_role_assignments(&absolute_scope(vault, &scope)).await?;
            let value: Vec<Value> = list.iter().map(|a| assignment(vault, a)).collect();
            Ok(reply(StatusCode::OK, &json!({ "value": value, "nextLink": null })))
        }
        Route::GetRoleAssignment(_, name) => {
            Ok(reply(StatusCode::OK, &assignment(vault, &core.get_role_assignment(&name).await?)))
        }
        Route::PutRoleAssignment(scope, name) => {
            let b: CreateBody = parse_json(body)?;
            let p = b.properties.ok_or_else(|| Error::bad("The 'properties' member is required."))?;
            let role = p.role_definition_id.ok_or_else(|| Error::bad("'properties.roleDefinitionId' is required."))?;
            let principal = p.principal_id.ok_or_else(|| Error::bad("'properties.principalId' is required."))?;
            let a = core.create_role_assignment(&name, &principal, &role, &absolute_scope(vault, &scope)).await?;
            Ok(reply(StatusCode::CREATED, &assignment(vault, &a)))
        }
        Route::DeleteRoleAssignment(_, name) => {
            Ok(reply(StatusCode::OK, &assignment(vault, &core.delete_role_assignment(&name).await?)))
        }
        other => Err(Error::internal(format!("route {other:?} is not an RBAC route"))),
    }
}
