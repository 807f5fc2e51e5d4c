//! The directory management API (JSON, deployment administrators only; the declared action is
//! `Microsoft.KeyVault/vaults/write` at `/`, like `POST /_strongbox/serviceprincipals`; rows in
//! `operations.rs`):
//!
//! | Method | Path (under `/_strongbox/`) | |
//! |---|---|---|
//! | GET | `serviceprincipals` | list |
//! | GET, PATCH, DELETE | `serviceprincipals/{id}` | show; `{"accountEnabled": bool, "isFallbackPublicClient": bool}`; delete |
//! | GET, POST | `serviceprincipals/{id}/credentials` | list; new secret `{append, displayName, endDateTime}` |
//! | DELETE | `serviceprincipals/{id}/credentials/{keyId}` | remove a secret or certificate |
//! | POST | `serviceprincipals/{id}/certificates` | `{"certificate": PEM, "displayName"}` |
//! | GET, POST | `serviceprincipals/{id}/federatedcredentials` | list; `{name, issuer, subject, audiences}` |
//! | DELETE | `serviceprincipals/{id}/federatedcredentials/{id or name}` | |
//! | GET | `trustedissuers` | list |
//! | GET | `attestationauthorities` | list (secure key release) |
//! | PUT, DELETE | `attestationauthorities/{name}` | `{authority, jwks}` (no `jwks`: fetched from the authority) |
//! | PUT, DELETE | `trustedissuers/{name}` | `{issuer, jwks, discoveryUrl, userTokens}` |
//! | PATCH | `trustedissuers/{name}` | `{"userTokens": {audiences, userClaim, principalMapping, domains, groupClaim, groupMap} or null}` |
//! | POST | `trustedissuers/{name}/principalid` | `{"value"}` → `{"objectId"}` of an `external` person |
//! | GET, PUT | `identitypolicy` | `{signingKeyRotationSeconds, mfaRequiredForUsers}` |
//! | POST | `managedidentities` | `{displayName}` → client id and a one-time enrolment code |
//! | POST | `managedidentities/{id}/enrollmentcode` | a new one-time enrolment code |
//! | GET, POST | `users` | list; `{userPrincipalName, displayName, password}` → user + `otpauthUri` (once) |
//! | GET, PATCH, DELETE | `users/{id or upn}` | show; `{displayName, password, accountEnabled, resetTotp}`; delete |
//!
//! `{id}` is the application (client) id or the object id.

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use strongbox_identity::IdentityPolicy;
use strongbox_types::{Error, ErrorKind};

use crate::context::{RequestContext, empty, json, parse_json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Patch {
    account_enabled: Option<bool>,
    is_fallback_public_client: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewSecret {
    #[serde(default)]
    append: bool,
    display_name: Option<String>,
    /// Unix seconds.
    end_date_time: Option<i64>,
    years: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCert {
    certificate: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewFederated {
    name: String,
    issuer: String,
    subject: String,
    #[serde(default)]
    audiences: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PutIssuer {
    issuer: String,
    jwks: Option<Value>,
    discovery_url: Option<String>,
    /// Present: the issuer's user tokens are accepted on the data plane with these settings.
    #[serde(default)]
    user_tokens: Option<strongbox_identity::UserTokens>,
}

/// `PATCH trustedissuers/{name}`: `{"userTokens": {...}}` turns acceptance on, `null` off.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatchIssuer {
    user_tokens: Option<strongbox_identity::UserTokens>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalIdQuery {
    value: String,
}

fn nf() -> Error {
    Error::new(ErrorKind::RouteNotFound, "The requested path does not exist.")
}

fn na(m: &Method) -> Error {
    Error::new(ErrorKind::MethodNotAllowed, format!("The method {m} is not supported on this path."))
}

type Reply = Result<Response, Error>;

fn ok(v: Value) -> Reply {
    Ok(json(StatusCode::OK, &v))
}

/// A path parameter in lower case: every directory segment is case-insensitive, literals, GUIDs
/// and names alike.
fn lowercase_param(ctx: &RequestContext<'_>, name: &str) -> Result<String, Error> {
    ctx.param(name).map(str::to_ascii_lowercase)
}

/// The directory fallback rows: a request under a directory collection that no operation takes,
/// answered after authorization, api-version and body like the operations.
pub(crate) async fn refuse(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    Err(if ctx.path_has_other_methods() { na(&ctx.method) } else { nf() })
}

/// `GET serviceprincipals`
pub(crate) async fn list_service_principals(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    ok(json!({ "value": core.identity.list_service_principals().await? }))
}

/// `GET serviceprincipals/{id}`
pub(crate) async fn get_service_principal(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    ok(json!(core.identity.get_service_principal(id).await?))
}

/// `PATCH serviceprincipals/{id}`
pub(crate) async fn update_service_principal(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    let p: Patch = parse_json(body)?;
    let mut view = None;
    if let Some(public) = p.is_fallback_public_client {
        view = Some(core.identity.set_service_principal_public_client(id, public).await?);
    }
    if let Some(enabled) = p.account_enabled {
        view = Some(core.identity.set_service_principal_enabled(id, enabled).await?);
    }
    let view = view.ok_or_else(|| Error::bad("Give 'accountEnabled' or 'isFallbackPublicClient'."))?;
    ok(json!(view))
}

/// `DELETE serviceprincipals/{id}`
pub(crate) async fn delete_service_principal(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    core.identity.delete_service_principal(id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET serviceprincipals/{id}/credentials`
pub(crate) async fn list_credentials(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    ok(json!({ "value": core.identity.list_credentials(id).await? }))
}

/// `POST serviceprincipals/{id}/credentials`
pub(crate) async fn add_secret(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    let b: NewSecret = parse_json(body)?;
    let end = match (b.end_date_time, b.years) {
        (Some(_), Some(_)) => return Err(Error::bad("Give either 'endDateTime' or 'years', not both.")),
        (Some(e), None) => Some(e),
        (None, Some(y)) if (1..=100).contains(&y) => Some(core.now() + i64::from(y) * 365 * 86_400),
        (None, Some(_)) => return Err(Error::bad("'years' must be 1-100.")),
        // `az ad sp credential reset` defaults to one year.
        (None, None) => Some(core.now() + 365 * 86_400),
    };
    let c = core.identity.reset_credential(id, b.append, b.display_name.as_deref(), end).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({
            "appId": c.app_id,
            "password": c.password.expose(),
            "tenant": c.tenant,
            "keyId": c.key_id,
            "endDateTime": c.end,
        }),
    ))
}

/// `DELETE serviceprincipals/{id}/credentials/{key_id}`
pub(crate) async fn delete_credential(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    let key_id = &lowercase_param(ctx, "key_id")?;
    core.identity.delete_credential(id, key_id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST serviceprincipals/{id}/certificates`
pub(crate) async fn upload_certificate(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    let b: NewCert = parse_json(body)?;
    let v = core.identity.upload_certificate(id, b.certificate.as_bytes(), b.display_name.as_deref()).await?;
    Ok(json(StatusCode::CREATED, &v))
}

/// `GET serviceprincipals/{id}/federatedcredentials`
pub(crate) async fn list_federated(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    ok(json!({ "value": core.identity.list_federated_credentials(id).await? }))
}

/// `POST serviceprincipals/{id}/federatedcredentials`
pub(crate) async fn create_federated(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    let b: NewFederated = parse_json(body)?;
    let v = core.identity.create_federated_credential(id, &b.name, &b.issuer, &b.subject, b.audiences).await?;
    Ok(json(StatusCode::CREATED, &v))
}

/// `DELETE serviceprincipals/{id}/federatedcredentials/{fed}`
pub(crate) async fn delete_federated(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    let fed = &lowercase_param(ctx, "fed")?;
    core.identity.delete_federated_credential(id, fed).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET attestationauthorities`
pub(crate) async fn list_attestation_authorities(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    ok(json!({ "value": core.identity.list_attestation_authorities().await? }))
}

/// `PUT attestationauthorities/{name}`
pub(crate) async fn put_attestation_authority(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let name = &lowercase_param(ctx, "name")?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct PutAuthority {
        authority: String,
        jwks: Option<Value>,
    }
    let b: PutAuthority = parse_json(body)?;
    ok(json!(core.identity.put_attestation_authority(name, &b.authority, b.jwks).await?))
}

/// `DELETE attestationauthorities/{name}`
pub(crate) async fn delete_attestation_authority(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let name = &lowercase_param(ctx, "name")?;
    core.identity.delete_attestation_authority(name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET trustedissuers`
pub(crate) async fn list_trusted_issuers(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    ok(json!({ "value": core.identity.list_trusted_issuers().await? }))
}

/// `PUT trustedissuers/{name}`
pub(crate) async fn put_trusted_issuer(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let name = &lowercase_param(ctx, "name")?;
    let b: PutIssuer = parse_json(body)?;
    ok(json!(core.identity.put_trusted_issuer(name, &b.issuer, b.jwks, b.discovery_url, b.user_tokens).await?))
}

/// `PATCH trustedissuers/{name}`
pub(crate) async fn set_user_tokens(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let name = &lowercase_param(ctx, "name")?;
    let b: PatchIssuer = parse_json(body)?;
    ok(json!(core.identity.set_trusted_issuer_user_tokens(name, b.user_tokens).await?))
}

/// `POST trustedissuers/{name}/principalid`
pub(crate) async fn external_principal_id(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let name = &lowercase_param(ctx, "name")?;
    let b: PrincipalIdQuery = parse_json(body)?;
    ok(json!({ "objectId": core.identity.external_principal_id(name, &b.value).await? }))
}

/// `DELETE trustedissuers/{name}`
pub(crate) async fn delete_trusted_issuer(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let name = &lowercase_param(ctx, "name")?;
    core.identity.delete_trusted_issuer(name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST managedidentities`
pub(crate) async fn create_managed_identity(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct NewMi {
        display_name: String,
    }
    let b: NewMi = parse_json(body)?;
    let mi = core.identity.create_managed_identity(&b.display_name).await?;
    Ok(json(StatusCode::CREATED, &mi_reply(ctx, &mi)))
}

/// `POST managedidentities/{id}/enrollmentcode`
pub(crate) async fn new_enrollment_code(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    let mi = core.identity.new_enrollment_code(id).await?;
    Ok(json(StatusCode::CREATED, &mi_reply(ctx, &mi)))
}

/// `GET users`
pub(crate) async fn list_users(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    ok(json!({ "value": core.identity.list_users().await? }))
}

/// `POST users`
pub(crate) async fn create_user(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct NewUser {
        user_principal_name: String,
        display_name: Option<String>,
        password: String,
    }
    let b: NewUser = parse_json(body)?;
    let pw = strongbox_types::SecretString::new(b.password);
    let dn = b.display_name.unwrap_or_else(|| b.user_principal_name.clone());
    let c = core.identity.create_user(&b.user_principal_name, &dn, &pw).await?;
    Ok(json(StatusCode::CREATED, &user_reply(&c)))
}

/// `GET users/{id}`
pub(crate) async fn get_user(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    ok(json!(core.identity.get_user(id).await?))
}

/// `PATCH users/{id}`
pub(crate) async fn update_user(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct PatchUser {
        display_name: Option<String>,
        password: Option<String>,
        account_enabled: Option<bool>,
        #[serde(default)]
        reset_totp: bool,
    }
    let b: PatchUser = parse_json(body)?;
    let pw = b.password.map(strongbox_types::SecretString::new);
    let c =
        core.identity.update_user(id, b.display_name.as_deref(), pw.as_ref(), b.account_enabled, b.reset_totp).await?;
    ok(user_reply(&c))
}

/// `DELETE users/{id}`
pub(crate) async fn delete_user(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = &lowercase_param(ctx, "id")?;
    core.identity.delete_user(id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET identitypolicy`
pub(crate) async fn get_identity_policy(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    ok(json!(core.identity.identity_policy().await?))
}

/// `PUT identitypolicy`
pub(crate) async fn set_identity_policy(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let p: IdentityPolicy = parse_json(body)?;
    ok(json!(core.identity.set_identity_policy(p).await?))
}

/// What `strongbox agent` needs to enrol (the code is shown once).
fn mi_reply(ctx: &RequestContext<'_>, mi: &strongbox_identity::NewManagedIdentity) -> Value {
    json!({
        "clientId": mi.client_id,
        "objectId": mi.object_id,
        "displayName": mi.display_name,
        "tenant": mi.tenant,
        "authority": ctx.app.core.config().authority(),
        "enrollmentCode": mi.enrollment_code.expose(),
        "enrollmentCodeExpires": mi.expires,
    })
}

fn user_reply(c: &strongbox_identity::UserChange) -> Value {
    let mut v = json!(c.user);
    if let (Some(uri), Some(obj)) = (&c.otpauth_uri, v.as_object_mut()) {
        obj.insert("otpauthUri".into(), json!(uri.expose()));
    }
    v
}
