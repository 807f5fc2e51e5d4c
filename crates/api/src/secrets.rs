//! Secrets operations: wire JSON ↔ core calls (routes and data actions: `operations.rs`).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use strongbox_core::{CommonUpdate, Listing, SecretUpdate, SecretView, SetSecret};
use strongbox_types::{Error, ErrorKind};
use strongbox_wire::{BlobValue, SecretBundle, SecretSetParameters, SecretUpdateParameters};

use crate::context::{RequestContext, empty, json, page, paging, parse_json, wire_attributes};

type Reply = Result<Response, Error>;

fn ok(b: &SecretBundle) -> Reply {
    Ok(json(StatusCode::OK, b))
}

/// `PUT /secrets/{name}`
pub(crate) async fn set(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let p: SecretSetParameters = parse_json(body)?;
    let value = p.value.ok_or_else(|| Error::bad("The 'value' member is required."))?;
    let a = p.attributes.unwrap_or_default();
    let v = core
        .secrets
        .set(
            vault,
            &name,
            SetSecret { value, content_type: p.content_type, tags: p.tags, enabled: a.enabled, nbf: a.nbf, exp: a.exp },
        )
        .await?;
    ok(&bundle(ctx, &v, true))
}

/// `GET /secrets/{name}[/{version}]`
pub(crate) async fn get(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let version = ctx.optional_param("version").map(str::to_owned);
    if let Some(t) = ctx.query("outContentType") {
        // Certificate-backed secrets only: PFX ↔ PEM conversion.
        let v = core.certificates.secret_as(t, core.secrets.get(vault, &name, version.as_deref())).await?;
        return ok(&bundle(ctx, &v, true));
    }
    let v = core.secrets.get(vault, &name, version.as_deref()).await?;
    ok(&bundle(ctx, &v, true))
}

/// `PATCH /secrets/{name}[/{version}]`
pub(crate) async fn update(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let version = ctx.optional_param("version").map(str::to_owned);
    let p: SecretUpdateParameters = parse_json(body)?;
    let a = p.attributes.unwrap_or_default();
    let common = CommonUpdate { tags: p.tags, enabled: a.enabled, nbf: a.nbf, exp: a.exp };
    let upd = SecretUpdate { content_type: p.content_type, common };
    let v = core.secrets.update(vault, &name, version.as_deref(), upd).await?;
    ok(&bundle(ctx, &v, true))
}

/// `DELETE /secrets/{name}`
pub(crate) async fn delete(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let v = core.secrets.delete(vault, &name).await?;
    ok(&bundle(ctx, &v, true))
}

/// `GET /secrets`
pub(crate) async fn list(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let (resume, max) = paging(ctx)?;
    let l = core.secrets.list(vault, resume.as_deref(), max).await?;
    Ok(listing(ctx, "secrets", l, false, max))
}

/// `GET /secrets/{name}/versions`
pub(crate) async fn list_versions(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let (resume, max) = paging(ctx)?;
    let l = core.secrets.list_versions(vault, &name, resume.as_deref(), max).await?;
    Ok(listing(ctx, &format!("secrets/{name}/versions"), l, true, max))
}

/// `GET /deletedsecrets`
pub(crate) async fn list_deleted(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let (resume, max) = paging(ctx)?;
    let l = core.secrets.list_deleted(vault, resume.as_deref(), max).await?;
    Ok(listing(ctx, "deletedsecrets", l, false, max))
}

/// `GET /deletedsecrets/{name}`
pub(crate) async fn get_deleted(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let v = core.secrets.get_deleted(vault, &name).await?;
    ok(&bundle(ctx, &v, true))
}

/// `DELETE /deletedsecrets/{name}`
pub(crate) async fn purge(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    core.secrets.purge(vault, &name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /deletedsecrets/{name}/recover`
pub(crate) async fn recover(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let v = core.secrets.recover(vault, &name).await?;
    ok(&bundle(ctx, &v, true))
}

/// `POST /secrets/{name}/backup`
pub(crate) async fn backup(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let blob = core.secrets.backup(vault, &name).await?;
    Ok(json(StatusCode::OK, &BlobValue { value: Some(strongbox_crypto::b64url(&blob)) }))
}

/// `POST /secrets/restore`
pub(crate) async fn restore(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let p: BlobValue = parse_json(body)?;
    let raw = p.value.ok_or_else(|| Error::bad("The 'value' member is required."))?;
    let blob = strongbox_crypto::b64url_decode(&raw)?;
    let v = core.secrets.restore(vault, &blob).await?;
    ok(&bundle(ctx, &v, true))
}

fn listing(ctx: &RequestContext<'_>, path: &str, l: Listing, versioned: bool, max: usize) -> Response {
    let value: Vec<SecretBundle> = l.items.iter().map(|v| bundle(ctx, v, versioned)).collect();
    page(ctx, path, value, l.next, max)
}

fn bundle(ctx: &RequestContext<'_>, v: &SecretView, versioned: bool) -> SecretBundle {
    let base = ctx.base();
    let id = if versioned {
        format!("{base}/secrets/{}/{}", v.name, v.version)
    } else {
        format!("{base}/secrets/{}", v.name)
    };
    SecretBundle {
        value: v.value.clone(),
        id,
        content_type: v.content_type.clone(),
        attributes: wire_attributes(&v.attributes, None),
        tags: v.tags.clone(),
        // A certificate's secret names its key and shows `managed`, as Azure's do.
        kid: v.managed.then(|| format!("{base}/keys/{}/{}", v.name, v.version)),
        managed: v.managed.then_some(true),
        recovery_id: v.deleted.map(|_| format!("{base}/deletedsecrets/{}", v.name)),
        scheduled_purge_date: v.deleted.map(|d| d.scheduled_purge_date),
        deleted_date: v.deleted.map(|d| d.deleted_date),
    }
}

/// Azure Managed HSM serves keys (plus RNG, settings and roles) only: a managed HSM pool has no
/// secrets or certificates paths, so they answer like any path the service does not have (404).
pub(crate) async fn not_on_managed_hsm(ctx: &RequestContext<'_>, what: &str) -> Result<(), Error> {
    match ctx.app.core.vaults.get(&ctx.vault).await {
        Ok(v) if v.sku == strongbox_core::Sku::ManagedHsm => Err(Error::new(
            ErrorKind::RouteNotFound,
            format!("The requested path does not exist on this vault: a managed HSM pool holds keys only, no {what}."),
        )),
        _ => Ok(()),
    }
}
