//! The directory management API (JSON, deployment administrators only; the route's declared
//! action is `Microsoft.KeyVault/vaults/write` at `/`, like `POST /_strongbox/serviceprincipals`):
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

use crate::http::{Ctx, empty, json, parse_json};
use crate::routes::Route;

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

pub async fn serve(ctx: &Ctx<'_>, route: Route, body: Option<Bytes>) -> Result<Response, Error> {
    let Route::Directory(method, segs) = route else {
        return Err(Error::internal("not a directory route"));
    };
    let core = &ctx.st.core;
    // Every segment is case-insensitive: literals, GUIDs and names alike.
    let segs: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let ok = |v: Value| Ok(json(StatusCode::OK, &v));
    match (s.as_slice(), &method) {
        (["serviceprincipals"], &Method::GET) => ok(json!({ "value": core.identity.list_service_principals().await? })),
        (["serviceprincipals", id], &Method::GET) => ok(json!(core.identity.get_service_principal(id).await?)),
        (["serviceprincipals", id], &Method::PATCH) => {
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
        (["serviceprincipals", id], &Method::DELETE) => {
            core.identity.delete_service_principal(id).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["serviceprincipals", id, "credentials"], &Method::GET) => {
            ok(json!({ "value": core.identity.list_credentials(id).await? }))
        }
        (["serviceprincipals", id, "credentials"], &Method::POST) => {
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
        (["serviceprincipals", id, "credentials", key_id], &Method::DELETE) => {
            core.identity.delete_credential(id, key_id).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["serviceprincipals", id, "certificates"], &Method::POST) => {
            let b: NewCert = parse_json(body)?;
            let v = core.identity.upload_certificate(id, b.certificate.as_bytes(), b.display_name.as_deref()).await?;
            Ok(json(StatusCode::CREATED, &v))
        }
        (["serviceprincipals", id, "federatedcredentials"], &Method::GET) => {
            ok(json!({ "value": core.identity.list_federated_credentials(id).await? }))
        }
        (["serviceprincipals", id, "federatedcredentials"], &Method::POST) => {
            let b: NewFederated = parse_json(body)?;
            let v = core.identity.create_federated_credential(id, &b.name, &b.issuer, &b.subject, b.audiences).await?;
            Ok(json(StatusCode::CREATED, &v))
        }
        (["serviceprincipals", id, "federatedcredentials", fed], &Method::DELETE) => {
            core.identity.delete_federated_credential(id, fed).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["attestationauthorities"], &Method::GET) => {
            ok(json!({ "value": core.identity.list_attestation_authorities().await? }))
        }
        (["attestationauthorities", name], &Method::PUT) => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase", deny_unknown_fields)]
            struct PutAuthority {
                authority: String,
                jwks: Option<Value>,
            }
            let b: PutAuthority = parse_json(body)?;
            ok(json!(core.identity.put_attestation_authority(name, &b.authority, b.jwks).await?))
        }
        (["attestationauthorities", name], &Method::DELETE) => {
            core.identity.delete_attestation_authority(name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["trustedissuers"], &Method::GET) => ok(json!({ "value": core.identity.list_trusted_issuers().await? })),
        (["trustedissuers", name], &Method::PUT) => {
            let b: PutIssuer = parse_json(body)?;
            ok(json!(core.identity.put_trusted_issuer(name, &b.issuer, b.jwks, b.discovery_url, b.user_tokens).await?))
        }
        (["trustedissuers", name], &Method::PATCH) => {
            let b: PatchIssuer = parse_json(body)?;
            ok(json!(core.identity.set_trusted_issuer_user_tokens(name, b.user_tokens).await?))
        }
        (["trustedissuers", name, "principalid"], &Method::POST) => {
            let b: PrincipalIdQuery = parse_json(body)?;
            ok(json!({ "objectId": core.identity.external_principal_id(name, &b.value).await? }))
        }
        (["trustedissuers", name], &Method::DELETE) => {
            core.identity.delete_trusted_issuer(name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["managedidentities"], &Method::POST) => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase", deny_unknown_fields)]
            struct NewMi {
                display_name: String,
            }
            let b: NewMi = parse_json(body)?;
            let mi = core.identity.create_managed_identity(&b.display_name).await?;
            Ok(json(StatusCode::CREATED, &mi_reply(ctx, &mi)))
        }
        (["managedidentities", id, "enrollmentcode"], &Method::POST) => {
            let mi = core.identity.new_enrollment_code(id).await?;
            Ok(json(StatusCode::CREATED, &mi_reply(ctx, &mi)))
        }
        (["users"], &Method::GET) => ok(json!({ "value": core.identity.list_users().await? })),
        (["users"], &Method::POST) => {
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
        (["users", id], &Method::GET) => ok(json!(core.identity.get_user(id).await?)),
        (["users", id], &Method::PATCH) => {
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
            let c = core
                .identity
                .update_user(id, b.display_name.as_deref(), pw.as_ref(), b.account_enabled, b.reset_totp)
                .await?;
            ok(user_reply(&c))
        }
        (["users", id], &Method::DELETE) => {
            core.identity.delete_user(id).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (["identitypolicy"], &Method::GET) => ok(json!(core.identity.identity_policy().await?)),
        (["identitypolicy"], &Method::PUT) => {
            let p: IdentityPolicy = parse_json(body)?;
            ok(json!(core.identity.set_identity_policy(p).await?))
        }
        (
            ["serviceprincipals"]
            | ["serviceprincipals", _]
            | ["serviceprincipals", _, "credentials" | "certificates" | "federatedcredentials"]
            | ["serviceprincipals", _, "credentials" | "federatedcredentials", _]
            | ["attestationauthorities"]
            | ["attestationauthorities", _]
            | ["trustedissuers"]
            | ["trustedissuers", _]
            | ["trustedissuers", _, "principalid"]
            | ["identitypolicy"]
            | ["managedidentities"]
            | ["users"]
            | ["users", _]
            | ["managedidentities", _, "enrollmentcode"],
            m,
        ) => Err(na(m)),
        _ => Err(nf()),
    }
}

/// What `strongbox agent` needs to enrol (the code is shown once).
fn mi_reply(ctx: &Ctx<'_>, mi: &strongbox_identity::NewManagedIdentity) -> Value {
    json!({
        "clientId": mi.client_id,
        "objectId": mi.object_id,
        "displayName": mi.display_name,
        "tenant": mi.tenant,
        "authority": ctx.st.core.config().authority(),
        "enrollmentCode": mi.enrollment_code.expose(),
        "enrollmentCodeExpires": mi.expires,
    })
}

fn user_reply(c: &strongbox_identity::UserChange) -> Value {
    let mut v = json!(c.user);
    if let Some(uri) = &c.otpauth_uri {
        v["otpauthUri"] = json!(uri.expose());
    }
    v
}
