//! The minimal vault management API (`/_strongbox/vaults`), until the full vault lifecycle lands.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use strongbox_core::Sku;
use strongbox_types::Error;

use crate::context::{RequestContext, json, parse_json};

type Reply = Result<Response, Error>;

/// `GET /_strongbox/vaults`
pub(crate) async fn list(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    Ok(json(StatusCode::OK, &serde_json::json!({ "value": core.vaults.list().await? })))
}

/// `GET /_strongbox/vaults/{vault}`
pub(crate) async fn get(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, name) = (&ctx.app.core, ctx.param("vault")?.to_owned());
    Ok(json(StatusCode::OK, &core.vaults.get(&name).await?))
}

/// `PUT /_strongbox/vaults/{vault}`
pub(crate) async fn create(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, name) = (&ctx.app.core, ctx.param("vault")?.to_owned());
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CreateVault {
        sku: Option<String>,
        retention_days: Option<u32>,
        purge_protection: Option<bool>,
        enable_rbac_authorization: Option<bool>,
        access_policies: Option<Vec<strongbox_core::AccessPolicy>>,
    }
    let p: CreateVault = parse_json(body)?;
    let sku = Sku::parse(p.sku.as_deref().unwrap_or("standard"))?;
    let mut info =
        core.vaults.create(&name, sku, p.retention_days.unwrap_or(90), p.purge_protection.unwrap_or(false)).await?;
    // new vaults use RBAC unless the request says otherwise (then a second write)
    if p.enable_rbac_authorization == Some(false) || p.access_policies.is_some() {
        let u = strongbox_core::PermissionModelUpdate {
            enable_rbac_authorization: p.enable_rbac_authorization,
            access_policies: p.access_policies,
        };
        info = core.access.update_permission_model(&info.name, u).await?;
    }
    Ok(json(StatusCode::CREATED, &info))
}

/// `POST /_strongbox/serviceprincipals`
pub(crate) async fn create_service_principal(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        display_name: Option<String>,
        /// Entra's application property: a public client may start device-code sign-ins.
        #[serde(default)]
        is_fallback_public_client: bool,
    }
    let b: Body = parse_json(body)?;
    let name = b.display_name.ok_or_else(|| Error::bad("The 'displayName' member is required."))?;
    let sp = core.identity.create_service_principal_for_rbac(&name, b.is_fallback_public_client).await?;
    let reply = serde_json::json!({
        "appId": sp.app_id,
        "isFallbackPublicClient": b.is_fallback_public_client,
        "displayName": sp.display_name,
        "password": sp.password.expose(),
        "tenant": sp.tenant,
        "objectId": sp.object_id,
    });
    Ok(json(StatusCode::CREATED, &reply))
}
