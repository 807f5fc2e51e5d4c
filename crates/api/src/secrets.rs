//! Secrets operations: wire JSON ↔ core calls.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use strongbox_core::{CommonUpdate, Listing, SecretUpdate, SecretView, SetSecret};
use strongbox_types::{Error, ErrorKind};
use strongbox_wire::{BlobValue, SecretBundle, SecretSetParameters, SecretUpdateParameters};

use crate::http::{Ctx, empty, json, page, paging, parse_json, wire_attributes};
use crate::routes::Route;

pub async fn serve(ctx: &Ctx<'_>, route: Route, body: Option<Bytes>) -> Result<Response, Error> {
    not_on_managed_hsm(ctx, "secrets").await?;
    let core = &ctx.st.core;
    let vault = ctx.vault.as_str();
    let ok = |b: &SecretBundle| Ok(json(StatusCode::OK, b));
    match route {
        Route::SetSecret(name) => {
            let p: SecretSetParameters = parse_json(body)?;
            let value = p.value.ok_or_else(|| Error::bad("The 'value' member is required."))?;
            let a = p.attributes.unwrap_or_default();
            let v = core
                .secrets
                .set(
                    vault,
                    &name,
                    SetSecret {
                        value,
                        content_type: p.content_type,
                        tags: p.tags,
                        enabled: a.enabled,
                        nbf: a.nbf,
                        exp: a.exp,
                    },
                )
                .await?;
            ok(&bundle(ctx, &v, true))
        }
        Route::GetSecret(name, version) => {
            if let Some(t) = ctx.q("outContentType") {
                // Certificate-backed secrets only: PFX ↔ PEM conversion.
                let v = core.certificates.secret_as(t, core.secrets.get(vault, &name, version.as_deref())).await?;
                return ok(&bundle(ctx, &v, true));
            }
            let v = core.secrets.get(vault, &name, version.as_deref()).await?;
            ok(&bundle(ctx, &v, true))
        }
        Route::UpdateSecret(name, version) => {
            let p: SecretUpdateParameters = parse_json(body)?;
            let a = p.attributes.unwrap_or_default();
            let common = CommonUpdate { tags: p.tags, enabled: a.enabled, nbf: a.nbf, exp: a.exp };
            let upd = SecretUpdate { content_type: p.content_type, common };
            let v = core.secrets.update(vault, &name, version.as_deref(), upd).await?;
            ok(&bundle(ctx, &v, true))
        }
        Route::DeleteSecret(name) => {
            let v = core.secrets.delete(vault, &name).await?;
            ok(&bundle(ctx, &v, true))
        }
        Route::ListSecrets => {
            let (resume, max) = paging(ctx)?;
            let l = core.secrets.list(vault, resume.as_deref(), max).await?;
            Ok(listing(ctx, "secrets", l, false, max))
        }
        Route::ListSecretVersions(name) => {
            let (resume, max) = paging(ctx)?;
            let l = core.secrets.list_versions(vault, &name, resume.as_deref(), max).await?;
            Ok(listing(ctx, &format!("secrets/{name}/versions"), l, true, max))
        }
        Route::ListDeletedSecrets => {
            let (resume, max) = paging(ctx)?;
            let l = core.secrets.list_deleted(vault, resume.as_deref(), max).await?;
            Ok(listing(ctx, "deletedsecrets", l, false, max))
        }
        Route::GetDeletedSecret(name) => {
            let v = core.secrets.get_deleted(vault, &name).await?;
            ok(&bundle(ctx, &v, true))
        }
        Route::PurgeDeletedSecret(name) => {
            core.secrets.purge(vault, &name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Route::RecoverDeletedSecret(name) => {
            let v = core.secrets.recover(vault, &name).await?;
            ok(&bundle(ctx, &v, true))
        }
        Route::BackupSecret(name) => {
            let blob = core.secrets.backup(vault, &name).await?;
            Ok(json(StatusCode::OK, &BlobValue { value: Some(strongbox_crypto::b64url(&blob)) }))
        }
        Route::RestoreSecret => {
            let p: BlobValue = parse_json(body)?;
            let raw = p.value.ok_or_else(|| Error::bad("The 'value' member is required."))?;
            let blob = strongbox_crypto::b64url_decode(&raw)?;
            let v = core.secrets.restore(vault, &blob).await?;
            ok(&bundle(ctx, &v, true))
        }
        other => Err(Error::internal(format!("route {other:?} is not a secrets route"))),
    }
}

fn listing(ctx: &Ctx<'_>, path: &str, l: Listing, versioned: bool, max: usize) -> Response {
    let value: Vec<SecretBundle> = l.items.iter().map(|v| bundle(ctx, v, versioned)).collect();
    page(ctx, path, value, l.next, max)
}

fn bundle(ctx: &Ctx<'_>, v: &SecretView, versioned: bool) -> SecretBundle {
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
pub(crate) async fn not_on_managed_hsm(ctx: &Ctx<'_>, what: &str) -> Result<(), Error> {
    match ctx.st.core.vaults.get(&ctx.vault).await {
        Ok(v) if v.sku == strongbox_core::Sku::ManagedHsm => Err(Error::new(
            ErrorKind::RouteNotFound,
            format!("The requested path does not exist on this vault: a managed HSM pool holds keys only, no {what}."),
        )),
        _ => Ok(()),
    }
}
