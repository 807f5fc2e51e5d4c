//! Keys operations: wire JSON ↔ core calls (routes and data actions: `operations.rs`).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use strongbox_core::{
    ActionType, CipherInput, CommonUpdate, CreateKey, KeyListing, KeyProps, KeyUpdate, KeyView, LifetimeAction,
    ReleasePolicy, ReleaseRequest, RotationPolicy,
};
use strongbox_types::{Error, ErrorKind};
use strongbox_wire::BlobValue;
use strongbox_wire::keys::{
    ActionWire, KeyAttributes, KeyBundle, KeyCreateParameters, KeyImportParameters, KeyOperationResult,
    KeyOperationsParameters, KeyReleaseParameters, KeyReleasePolicy, KeyReleaseResult, KeyRotationPolicy,
    KeyUpdateParameters, KeyVerifyParameters, KeyVerifyResult, LifetimeActionWire, RandomBytesRequest,
    RotationPolicyAttributes, TriggerWire,
};

use crate::context::{RequestContext, empty, json, page, paging, parse_json, wire_attributes};

fn b64(field: &str, v: Option<String>) -> Result<Vec<u8>, Error> {
    let v = v.ok_or_else(|| Error::bad(format!("The '{field}' member is required.")))?;
    strongbox_crypto::b64url_decode(&v).map_err(|_| Error::bad(format!("The '{field}' member is not valid base64url.")))
}

/// A wire release policy for core (which checks `data` and the grammar).
fn release_policy_from_wire(p: Option<KeyReleasePolicy>) -> Result<Option<ReleasePolicy>, Error> {
    let Some(p) = p else { return Ok(None) };
    let data =
        p.data.filter(|d| !d.is_empty()).ok_or_else(|| Error::bad("The release policy's 'data' is required."))?;
    Ok(Some(ReleasePolicy {
        content_type: p.content_type.unwrap_or_default(),
        immutable: p.immutable.unwrap_or(false),
        data,
    }))
}

fn policy_to_wire_release(p: &ReleasePolicy) -> KeyReleasePolicy {
    KeyReleasePolicy {
        content_type: Some(p.content_type.clone()),
        immutable: Some(p.immutable),
        data: Some(p.data.clone()),
    }
}

type Reply = Result<Response, Error>;

/// `POST /keys/{name}/create`
pub(crate) async fn create(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    let p: KeyCreateParameters = parse_json(body)?;
    let release_policy = release_policy_from_wire(p.release_policy)?;
    let a = p.attributes.unwrap_or_default();
    let req = CreateKey {
        kty: p.kty.ok_or_else(|| Error::bad("The 'kty' member is required."))?,
        key_size: p.key_size,
        public_exponent: p.public_exponent,
        crv: p.crv,
        key_ops: p.key_ops,
        tags: p.tags,
        enabled: a.enabled,
        nbf: a.nbf,
        exp: a.exp,
        exportable: a.exportable,
        release_policy,
    };
    ok(&core.keys.create(vault, &name, req).await?)
}

/// `PUT /keys/{name}`
pub(crate) async fn import(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    let p: KeyImportParameters = parse_json(body)?;
    let release_policy = release_policy_from_wire(p.release_policy)?;
    let jwk = p.key.ok_or_else(|| Error::bad("The 'key' member is required."))?;
    let a = p.attributes.unwrap_or_default();
    let props = KeyProps { tags: p.tags, enabled: a.enabled, nbf: a.nbf, exp: a.exp };
    let hsm = p.hsm.unwrap_or(false);
    let exportable = a.exportable.unwrap_or(false);
    let v = core.keys.import_with_release(vault, &name, &jwk, hsm, props, exportable, release_policy).await?;
    ok(&v)
}

/// `GET /keys/{name}[/{version}]`
pub(crate) async fn get(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let version = ctx.optional_param("version").map(str::to_owned);
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    ok(&core.keys.get(vault, &name, version.as_deref()).await?)
}

/// `PATCH /keys/{name}[/{version}]`
pub(crate) async fn update(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let version = ctx.optional_param("version").map(str::to_owned);
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    let p: KeyUpdateParameters = parse_json(body)?;
    let release_policy = release_policy_from_wire(p.release_policy)?;
    let a = p.attributes.unwrap_or_default();
    let common = CommonUpdate { tags: p.tags, enabled: a.enabled, nbf: a.nbf, exp: a.exp };
    let upd = KeyUpdate { key_ops: p.key_ops, common, release_policy, exportable: a.exportable };
    ok(&core.keys.update(vault, &name, version.as_deref(), upd).await?)
}

/// `DELETE /keys/{name}`
pub(crate) async fn delete(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    ok(&core.keys.delete(vault, &name).await?)
}

/// `GET /keys`
pub(crate) async fn list(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let (resume, max) = paging(ctx)?;
    Ok(listing(ctx, "keys", core.keys.list(vault, resume.as_deref(), max).await?, false, max))
}

/// `GET /keys/{name}/versions`
pub(crate) async fn list_versions(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let (resume, max) = paging(ctx)?;
    let l = core.keys.list_versions(vault, &name, resume.as_deref(), max).await?;
    Ok(listing(ctx, &format!("keys/{name}/versions"), l, true, max))
}

/// `GET /deletedkeys`
pub(crate) async fn list_deleted(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let (resume, max) = paging(ctx)?;
    Ok(listing(ctx, "deletedkeys", core.keys.list_deleted(vault, resume.as_deref(), max).await?, false, max))
}

/// `GET /deletedkeys/{name}`
pub(crate) async fn get_deleted(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    ok(&core.keys.get_deleted(vault, &name).await?)
}

/// `DELETE /deletedkeys/{name}`
pub(crate) async fn purge(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    core.keys.purge(vault, &name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /deletedkeys/{name}/recover`
pub(crate) async fn recover(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    ok(&core.keys.recover(vault, &name).await?)
}

/// `POST /keys/{name}/backup`
pub(crate) async fn backup(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let blob = core.keys.backup(vault, &name).await?;
    Ok(json(StatusCode::OK, &BlobValue { value: Some(strongbox_crypto::b64url(&blob)) }))
}

/// `POST /keys/restore`
pub(crate) async fn restore(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    let p: BlobValue = parse_json(body)?;
    let blob = b64("value", p.value)?;
    ok(&core.keys.restore(vault, &blob).await?)
}

/// `POST /keys/{name}[/{version}]/encrypt`
pub(crate) async fn encrypt(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let version = ctx.optional_param("version");
    key_op(ctx, ctx.param("name")?, version, KeyOp::Encrypt, body).await
}

/// `POST /keys/{name}[/{version}]/decrypt`
pub(crate) async fn decrypt(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let version = ctx.optional_param("version");
    key_op(ctx, ctx.param("name")?, version, KeyOp::Decrypt, body).await
}

/// `POST /keys/{name}[/{version}]/sign`
pub(crate) async fn sign(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let version = ctx.optional_param("version");
    key_op(ctx, ctx.param("name")?, version, KeyOp::Sign, body).await
}

/// `POST /keys/{name}[/{version}]/verify`
pub(crate) async fn verify(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let version = ctx.optional_param("version");
    key_op(ctx, ctx.param("name")?, version, KeyOp::Verify, body).await
}

/// `POST /keys/{name}[/{version}]/wrapkey`
pub(crate) async fn wrap_key(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let version = ctx.optional_param("version");
    key_op(ctx, ctx.param("name")?, version, KeyOp::WrapKey, body).await
}

/// `POST /keys/{name}[/{version}]/unwrapkey`
pub(crate) async fn unwrap_key(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let version = ctx.optional_param("version");
    key_op(ctx, ctx.param("name")?, version, KeyOp::UnwrapKey, body).await
}

/// `POST /keys/{name}/rotate`
pub(crate) async fn rotate(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let ok = |v: &KeyView| Ok(json(StatusCode::OK, &bundle(ctx, v)));
    ok(&core.keys.rotate(vault, &name).await?)
}

/// `GET /keys/{name}/rotationpolicy`
pub(crate) async fn get_rotation_policy(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let p = core.keys.rotation_policy(vault, &name).await?;
    Ok(json(StatusCode::OK, &policy_to_wire(ctx, &name, p)))
}

/// `PUT /keys/{name}/rotationpolicy`
pub(crate) async fn set_rotation_policy(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault, name) = (&ctx.app.core, ctx.vault.as_str(), ctx.param("name")?.to_owned());
    let w: KeyRotationPolicy = parse_json(body)?;
    let p = core.keys.set_rotation_policy(vault, &name, policy_from_wire(w)?).await?;
    Ok(json(StatusCode::OK, &policy_to_wire(ctx, &name, p)))
}

/// `POST /rng`
pub(crate) async fn random_bytes(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let p: RandomBytesRequest = parse_json(body)?;
    let n = p.count.ok_or_else(|| Error::bad("The 'count' member is required."))?;
    let bytes = core.keys.random_bytes(n)?;
    Ok(json(StatusCode::OK, &serde_json::json!({ "value": strongbox_crypto::b64url(&bytes) })))
}

/// `* /keys/{name}/{version}/attestation`: not built yet.
pub(crate) async fn attestation(_ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    Err(Error::new(
        ErrorKind::NotImplemented,
        "Certificates, key release and key attestation are not implemented in this Strongbox release yet.",
    ))
}

/// The cryptographic operations of `POST /keys/{name}[/{version}]/{op}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyOp {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    WrapKey,
    UnwrapKey,
}

impl KeyOp {
    /// The `key_ops` entry that must allow it.
    fn key_op(self) -> &'static str {
        match self {
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::Sign => "sign",
            Self::Verify => "verify",
            Self::WrapKey => "wrapKey",
            Self::UnwrapKey => "unwrapKey",
        }
    }
}

async fn key_op(
    ctx: &RequestContext<'_>,
    name: &str,
    version: Option<&str>,
    op: KeyOp,
    body: Option<Bytes>,
) -> Result<Response, Error> {
    let core = &ctx.app.core;
    let vault = ctx.vault.as_str();
    let kid = |n: &str, v: &str| format!("{}/keys/{n}/{v}", ctx.base());
    if op == KeyOp::Verify {
        let p: KeyVerifyParameters = parse_json(body)?;
        let alg = p.alg.ok_or_else(|| Error::bad("The 'alg' member is required."))?;
        let digest = b64("digest", p.digest)?;
        let sig = b64("value", p.value)?;
        let ok = core.keys.verify(vault, name, version, &alg, &digest, &sig).await?;
        return Ok(json(StatusCode::OK, &KeyVerifyResult { value: ok }));
    }
    let p: KeyOperationsParameters = parse_json(body)?;
    let alg = p.alg.ok_or_else(|| Error::bad("The 'alg' member is required."))?;
    let opt = |field: &str, v: Option<String>| v.map(|v| b64(field, Some(v))).transpose();
    let input = CipherInput {
        value: b64("value", p.value)?,
        iv: opt("iv", p.iv)?,
        aad: opt("aad", p.aad)?,
        tag: opt("tag", p.tag)?,
    };
    let r = match op {
        KeyOp::Sign => {
            if input.iv.is_some() || input.aad.is_some() || input.tag.is_some() {
                return Err(Error::bad("'iv', 'aad' and 'tag' do not apply to sign."));
            }
            core.keys.sign(vault, name, version, &alg, &input.value).await?
        }
        KeyOp::Encrypt | KeyOp::WrapKey => core.keys.encrypt(vault, name, version, op.key_op(), &alg, &input).await?,
        KeyOp::Decrypt | KeyOp::UnwrapKey => core.keys.decrypt(vault, name, version, op.key_op(), &alg, &input).await?,
        KeyOp::Verify => return Err(Error::internal("verify handled above")),
    };
    // GCM encryption echoes the additional authenticated data, as Azure does.
    let aad = if r.tag.is_some() { input.aad.as_deref().map(strongbox_crypto::b64url) } else { None };
    Ok(json(
        StatusCode::OK,
        &KeyOperationResult {
            kid: kid(&r.name, &r.version),
            value: strongbox_crypto::b64url(r.value.expose()),
            iv: r.iv.as_deref().map(strongbox_crypto::b64url),
            tag: r.tag.as_deref().map(strongbox_crypto::b64url),
            aad,
        },
    ))
}

fn policy_from_wire(w: KeyRotationPolicy) -> Result<RotationPolicy, Error> {
    let mut actions = Vec::new();
    for a in w.lifetime_actions.unwrap_or_default() {
        let kind =
            a.action.and_then(|x| x.type_).ok_or_else(|| Error::bad("Each lifetime action needs an action type."))?;
        let action = match kind.to_ascii_lowercase().as_str() {
            "rotate" => ActionType::Rotate,
            "notify" => ActionType::Notify,
            _ => return Err(Error::bad("The lifetime action type must be Rotate or Notify.")),
        };
        let t = a.trigger.unwrap_or_default();
        actions.push(LifetimeAction {
            action,
            time_after_create: t.time_after_create,
            time_before_expiry: t.time_before_expiry,
        });
    }
    let expiry_time = w.attributes.and_then(|a| a.expiry_time);
    Ok(RotationPolicy { lifetime_actions: actions, expiry_time, created: None, updated: None })
}

fn policy_to_wire(ctx: &RequestContext<'_>, name: &str, p: RotationPolicy) -> KeyRotationPolicy {
    let actions = p
        .lifetime_actions
        .into_iter()
        .map(|a| LifetimeActionWire {
            trigger: Some(TriggerWire {
                time_after_create: a.time_after_create,
                time_before_expiry: a.time_before_expiry,
            }),
            action: Some(ActionWire {
                type_: Some(match a.action {
                    ActionType::Rotate => "Rotate".into(),
                    ActionType::Notify => "Notify".into(),
                }),
            }),
        })
        .collect();
    KeyRotationPolicy {
        id: Some(format!("{}/keys/{name}/rotationpolicy", ctx.base())),
        lifetime_actions: Some(actions),
        attributes: Some(RotationPolicyAttributes {
            expiry_time: p.expiry_time,
            created: p.created,
            updated: p.updated,
        }),
    }
}

fn listing(ctx: &RequestContext<'_>, path: &str, l: KeyListing, versioned: bool, max: usize) -> Response {
    let value: Vec<KeyBundle> = l.items.iter().map(|v| item(ctx, v, versioned)).collect();
    page(ctx, path, value, l.next, max)
}

fn attributes(v: &KeyView) -> KeyAttributes {
    wire_attributes(&v.attributes, Some(v.exportable))
}

fn deleted_fields(ctx: &RequestContext<'_>, v: &KeyView, b: &mut KeyBundle) {
    if let Some(d) = v.deleted {
        b.recovery_id = Some(format!("{}/deletedkeys/{}", ctx.base(), v.name));
        b.scheduled_purge_date = Some(d.scheduled_purge_date);
        b.deleted_date = Some(d.deleted_date);
    }
}

/// A full bundle: the public JWK with its versioned `kid`.
fn bundle(ctx: &RequestContext<'_>, v: &KeyView) -> KeyBundle {
    let mut key = v.key.clone();
    if let Some(k) = key.as_mut() {
        k.kid = Some(format!("{}/keys/{}/{}", ctx.base(), v.name, v.version));
    }
    let mut b = KeyBundle {
        key,
        attributes: attributes(v),
        tags: v.tags.clone(),
        managed: v.managed.then_some(true),
        release_policy: v.release_policy.as_ref().map(policy_to_wire_release),
        ..Default::default()
    };
    deleted_fields(ctx, v, &mut b);
    b
}

/// `POST /keys/{name}[/{version}]/release`: verifies the attestation token against the version's
/// release policy (core) and answers `{value: JWS}`, signed ES256 with the token service's current
/// key (verifiable with the tenant's published JWKS). The payload follows Azure's:
/// `{request: {api-version, enc, kid, nonce}, response: {key: {attributes, key: {kid, kty,
/// key_ops, public members, key_hsm}, release_policy, tags}}}`, where `key_hsm` is base64url of
/// `{schema_version, header: {kid, alg: "dir", enc}, ciphertext}`.
pub(crate) async fn release(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (name, version, principal) = (ctx.param("name")?, ctx.optional_param("version"), &ctx.caller);
    let p: KeyReleaseParameters = parse_json(body)?;
    let target = p.target.filter(|t| !t.is_empty()).ok_or_else(|| Error::bad("The 'target' member is required."))?;
    let req = ReleaseRequest { target: &target, nonce: p.nonce.as_deref(), enc: p.enc.as_deref() };
    let r = ctx.app.core.release_key(ctx.vault.as_str(), name, version, req, &principal.object_id).await?;
    let b = bundle(ctx, &r.view);
    let mut key = serde_json::to_value(&b.key).map_err(|_| Error::internal("key encoding"))?;
    if let Some(o) = key.as_object_mut() {
        o.insert("key_hsm".into(), serde_json::Value::String(r.key_hsm));
    }
    let kid = key.get("kid").cloned().unwrap_or_default();
    let payload = serde_json::json!({
        "request": {
            "api-version": ctx.api_version(),
            "enc": r.enc,
            "kid": kid,
            "nonce": p.nonce,
        },
        "response": {
            "key": {
                "attributes": b.attributes,
                "key": key,
                "release_policy": b.release_policy,
                "tags": b.tags,
            }
        },
        "iat": ctx.app.core.now(),
    });
    let value = ctx.app.core.sign_release(&payload)?;
    Ok(json(StatusCode::OK, &KeyReleaseResult { value }))
}

/// A list item: `kid` only (base id for key lists, versioned for version lists).
fn item(ctx: &RequestContext<'_>, v: &KeyView, versioned: bool) -> KeyBundle {
    let kid = if versioned {
        format!("{}/keys/{}/{}", ctx.base(), v.name, v.version)
    } else {
        format!("{}/keys/{}", ctx.base(), v.name)
    };
    let mut b = KeyBundle {
        kid: Some(kid),
        attributes: attributes(v),
        tags: v.tags.clone(),
        managed: v.managed.then_some(true),
        ..Default::default()
    };
    deleted_fields(ctx, v, &mut b);
    b
}
