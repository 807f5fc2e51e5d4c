//! Certificates operations (wire §6): wire JSON ↔ core calls (routes and data actions:
//! `operations.rs`).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use strongbox_core::certificates::{AdminDetail, CaView, CertLifetimeAction, Contact, NewCa, OperationError};
use strongbox_core::{
    CertListing, CertOperationView, CertPolicy, CertUpdate, CertView, CreateCertificate, ImportCertificate,
    IssuerInput, IssuerView, MergeCertificate, PolicyInput,
};
use strongbox_types::{Error, Result};
use strongbox_wire::BlobValue;
use strongbox_wire::certificates as w;

use crate::context::{RequestContext, empty, json, page, paging, parse_json, wire_attributes};

fn u32_in(v: Option<i64>, what: &str) -> Result<Option<u32>> {
    match v {
        None => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| Error::bad(format!("'{what}' is out of range."))),
    }
}

/// First api-version whose `SubjectAlternativeNames` has `uris` and `ipAddresses` (the
/// 2025-06-01 and 2025-07-01 specifications have them; 7.6 and earlier do not).
const SAN_IP_URI_SINCE: &str = "2025-06-01";

/// Whether `api` (a date form `YYYY-MM-DD[-preview]`) is [`SAN_IP_URI_SINCE`] or later.
fn has_ip_uri_sans(api: &str) -> bool {
    let date = api.get(..10).unwrap_or("");
    date.len() == 10 && date.as_bytes().get(4) == Some(&b'-') && date >= SAN_IP_URI_SINCE
}

/// A wire policy (all members optional) → the core's partial policy, for `api` (the request's
/// api-version).
fn policy_input(p: w::CertificatePolicy, api: &str) -> Result<PolicyInput> {
    let k = p.key_props.unwrap_or_default();
    let x = p.x509_props.unwrap_or_default();
    let sans = x.sans.unwrap_or_default();
    let ip_or_uri =
        sans.uris.as_ref().is_some_and(|u| !u.is_empty()) || sans.ip_addresses.as_ref().is_some_and(|u| !u.is_empty());
    if ip_or_uri && !has_ip_uri_sans(api) {
        return Err(Error::bad(format!(
            "URI and IP address subject alternative names ('uris', 'ipAddresses') are defined from api-version {SAN_IP_URI_SINCE} on; this request uses api-version {}.",
            api.chars().take(40).collect::<String>()
        )));
    }
    let issuer = p.issuer.unwrap_or_default();
    let lifetime_actions = match p.lifetime_actions {
        None => None,
        Some(list) => Some(
            list.into_iter()
                .map(|a| {
                    let t = a.trigger.unwrap_or_default();
                    Ok(CertLifetimeAction {
                        lifetime_percentage: u32_in(t.lifetime_percentage, "lifetime_percentage")?,
                        days_before_expiry: u32_in(t.days_before_expiry, "days_before_expiry")?,
                        action: a
                            .action
                            .and_then(|x| x.action_type)
                            .ok_or_else(|| Error::bad("Each lifetime action needs an 'action_type'."))?,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    let sans_given = sans.dns_names.is_some()
        || sans.emails.is_some()
        || sans.upns.is_some()
        || (has_ip_uri_sans(api) && (sans.uris.is_some() || sans.ip_addresses.is_some()));
    Ok(PolicyInput {
        exportable: k.exportable,
        kty: k.kty,
        key_size: u32_in(k.key_size, "key_size")?,
        crv: k.crv,
        reuse_key: k.reuse_key,
        content_type: p.secret_props.and_then(|s| s.content_type),
        subject: x.subject,
        // A `sans` object replaces all three lists.
        dns_names: if sans_given { Some(sans.dns_names.unwrap_or_default()) } else { None },
        emails: if sans_given { Some(sans.emails.unwrap_or_default()) } else { None },
        upns: if sans_given { Some(sans.upns.unwrap_or_default()) } else { None },
        // Older api-versions cannot name these: a `sans` object they send keeps them as they were.
        ip_addresses: if sans_given && has_ip_uri_sans(api) {
            Some(sans.ip_addresses.unwrap_or_default())
        } else {
            None
        },
        uris: if sans_given && has_ip_uri_sans(api) { Some(sans.uris.unwrap_or_default()) } else { None },
        ekus: x.ekus,
        key_usage: x.key_usage,
        validity_months: u32_in(x.validity_months, "validity_months")?,
        lifetime_actions,
        issuer: issuer.name,
        cert_type: issuer.cty,
        cert_transparency: issuer.cert_transparency,
        enabled: p.attributes.and_then(|a| a.enabled),
    })
}

fn opt_list(v: &[String]) -> Option<Vec<String>> {
    if v.is_empty() { None } else { Some(v.to_vec()) }
}

fn policy_wire(ctx: &RequestContext<'_>, name: &str, p: &CertPolicy) -> w::CertificatePolicy {
    w::CertificatePolicy {
        id: Some(format!("{}/certificates/{name}/policy", ctx.base())),
        key_props: Some(w::KeyProperties {
            exportable: Some(p.exportable),
            kty: Some(p.kty.clone()),
            key_size: p.key_size.map(i64::from),
            reuse_key: Some(p.reuse_key),
            crv: p.crv.clone(),
        }),
        secret_props: Some(w::SecretProperties { content_type: Some(p.content_type.clone()) }),
        x509_props: Some(w::X509Properties {
            subject: Some(p.subject.clone()),
            ekus: Some(p.ekus.clone()),
            sans: Some(w::SubjectAlternativeNames {
                emails: opt_list(&p.emails),
                dns_names: opt_list(&p.dns_names),
                upns: opt_list(&p.upns),
                uris: opt_list(&p.uris),
                ip_addresses: opt_list(&p.ip_addresses),
            }),
            key_usage: Some(p.key_usage.clone()),
            validity_months: Some(i64::from(p.validity_months)),
        }),
        lifetime_actions: Some(
            p.lifetime_actions
                .iter()
                .map(|a| w::LifetimeAction {
                    trigger: Some(w::Trigger {
                        lifetime_percentage: a.lifetime_percentage.map(i64::from),
                        days_before_expiry: a.days_before_expiry.map(i64::from),
                    }),
                    action: Some(w::Action { action_type: Some(a.action.clone()) }),
                })
                .collect(),
        ),
        issuer: Some(w::IssuerParameters {
            name: Some(p.issuer.clone()),
            cty: p.cert_type.clone(),
            cert_transparency: p.cert_transparency,
        }),
        attributes: Some(strongbox_wire::Attributes {
            enabled: Some(p.enabled),
            created: Some(p.created),
            updated: Some(p.updated),
            ..Default::default()
        }),
    }
}

fn bundle(ctx: &RequestContext<'_>, v: &CertView, versioned: bool) -> w::CertificateBundle {
    let base = ctx.base();
    let full = v.cer.is_some();
    let id = if versioned || full {
        format!("{base}/certificates/{}/{}", v.name, v.version)
    } else {
        format!("{base}/certificates/{}", v.name)
    };
    w::CertificateBundle {
        id,
        kid: full.then(|| format!("{base}/keys/{}/{}", v.name, v.version)),
        sid: full.then(|| format!("{base}/secrets/{}/{}", v.name, v.version)),
        x5t: v.x5t.clone(),
        cer: v.cer.as_deref().map(strongbox_crypto::certs::b64_std),
        content_type: v.policy.as_ref().map(|p| p.content_type.clone()),
        attributes: wire_attributes(&v.attributes, None),
        tags: v.tags.clone(),
        policy: v.policy.as_ref().map(|p| policy_wire(ctx, &v.name, p)),
        recovery_id: v.deleted.map(|_| format!("{base}/deletedcertificates/{}", v.name)),
        scheduled_purge_date: v.deleted.map(|d| d.scheduled_purge_date),
        deleted_date: v.deleted.map(|d| d.deleted_date),
    }
}

fn operation(ctx: &RequestContext<'_>, o: &CertOperationView) -> w::CertificateOperation {
    let base = ctx.base();
    w::CertificateOperation {
        id: format!("{base}/certificates/{}/pending", o.name),
        issuer: Some(w::IssuerParameters {
            name: Some(o.issuer.clone()),
            cty: o.cert_type.clone(),
            cert_transparency: o.cert_transparency,
        }),
        csr: o.csr.as_deref().map(strongbox_crypto::certs::b64_std),
        cancellation_requested: o.cancellation_requested,
        status: o.status.clone(),
        status_details: o.status_details.clone(),
        error: o
            .error
            .as_ref()
            .map(|OperationError { code, message }| w::OperationError { code: code.clone(), message: message.clone() }),
        target: o.target_version.as_ref().map(|_| format!("{base}/certificates/{}", o.name)),
        request_id: Some(o.request_id.clone()),
    }
}

fn listing(ctx: &RequestContext<'_>, path: &str, l: CertListing, versioned: bool, max: usize) -> Response {
    let value: Vec<w::CertificateBundle> = l.items.iter().map(|v| bundle(ctx, v, versioned)).collect();
    page(ctx, path, value, l.next, max)
}

fn contacts_wire(ctx: &RequestContext<'_>, c: Vec<Contact>) -> w::Contacts {
    w::Contacts {
        id: Some(format!("{}/certificates/contacts", ctx.base())),
        contacts: Some(c.into_iter().map(|c| w::Contact { email: c.email, name: c.name, phone: c.phone }).collect()),
    }
}

fn issuer_wire(ctx: &RequestContext<'_>, i: IssuerView) -> w::IssuerBundle {
    w::IssuerBundle {
        id: Some(format!("{}/certificates/issuers/{}", ctx.base(), i.name)),
        provider: Some(i.provider),
        credentials: i.account_id.map(|a| w::IssuerCredentials { account_id: Some(a), pwd: None }),
        org_details: Some(w::OrganizationDetails {
            id: i.org_id,
            admin_details: Some(
                i.admin_details
                    .into_iter()
                    .map(|a| w::AdministratorDetails {
                        first_name: a.first_name,
                        last_name: a.last_name,
                        email: a.email,
                        phone: a.phone,
                    })
                    .collect(),
            ),
        }),
        attributes: Some(w::IssuerAttributes {
            enabled: Some(i.enabled),
            created: Some(i.created),
            updated: Some(i.updated),
        }),
    }
}

fn issuer_input(b: w::IssuerBundle) -> IssuerInput {
    let creds = b.credentials.unwrap_or_default();
    let org = b.org_details.unwrap_or_default();
    IssuerInput {
        provider: b.provider,
        account_id: creds.account_id,
        password: creds.pwd,
        org_id: org.id,
        admin_details: org.admin_details.map(|v| {
            v.into_iter()
                .map(|a| AdminDetail {
                    first_name: a.first_name,
                    last_name: a.last_name,
                    email: a.email,
                    phone: a.phone,
                })
                .collect()
        }),
        enabled: b.attributes.and_then(|a| a.enabled),
    }
}

fn ca_wire(ctx: &RequestContext<'_>, c: &CaView) -> w::CaBundle {
    use strongbox_crypto::certs::b64_std;
    w::CaBundle {
        id: format!("{}/_strongbox/certificateauthorities/{}", ctx.base(), c.name),
        name: c.name.clone(),
        subject: c.subject.clone(),
        cer: b64_std(&c.cer),
        x5c: c.chain.iter().map(|d| b64_std(d)).collect(),
        parent: c.parent.clone(),
        nbf: c.not_before,
        exp: c.not_after,
        created: c.created,
        hsm: c.hsm,
    }
}

fn decode_std(s: &str, what: &str) -> Result<Vec<u8>> {
    strongbox_crypto::certs::b64_std_decode(s)
        .or_else(|| strongbox_crypto::b64url_decode(s).ok())
        .ok_or_else(|| Error::bad(format!("The '{what}' member is not valid base64.")))
}

type Reply = Result<Response>;

/// `POST /certificates/{name}/create`
pub(crate) async fn create(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let api = ctx.api_version();
    let p: w::CertificateCreateParameters = parse_json(body)?;
    let req = CreateCertificate {
        policy: p.policy.map(|p| policy_input(p, api)).transpose()?,
        tags: p.tags,
        enabled: p.attributes.and_then(|a| a.enabled),
    };
    let op = core.certificates.create(vault, &name, req).await?;
    Ok(json(StatusCode::ACCEPTED, &operation(ctx, &op)))
}

/// `POST /certificates/{name}/import`
pub(crate) async fn import(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    let api = ctx.api_version();
    let p: w::CertificateImportParameters = parse_json(body)?;
    let req = ImportCertificate {
        value: p.value.ok_or_else(|| Error::bad("The 'value' member is required."))?,
        password: p.pwd,
        policy: p.policy.map(|p| policy_input(p, api)).transpose()?,
        tags: p.tags,
        enabled: p.attributes.and_then(|a| a.enabled),
    };
    ok(&core.certificates.import(vault, &name, req).await?)
}

/// `GET /certificates/{name}[/{version}]`
pub(crate) async fn get(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let version = ctx.optional_param("version").map(str::to_owned);
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    ok(&core.certificates.get(vault, &name, version.as_deref()).await?)
}

/// `PATCH /certificates/{name}[/{version}]`
pub(crate) async fn update(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let version = ctx.optional_param("version").map(str::to_owned);
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    let api = ctx.api_version();
    let p: w::CertificateUpdateParameters = parse_json(body)?;
    let upd = CertUpdate {
        policy: p.policy.map(|p| policy_input(p, api)).transpose()?,
        tags: p.tags,
        enabled: p.attributes.and_then(|a| a.enabled),
    };
    ok(&core.certificates.update(vault, &name, version.as_deref(), upd).await?)
}

/// `DELETE /certificates/{name}`
pub(crate) async fn delete(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    ok(&core.certificates.delete(vault, &name).await?)
}

/// `GET /certificates`
pub(crate) async fn list(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let (resume, max) = paging(ctx)?;
    // `includePending=true`: certificates still waiting for their first version come
    // after the issued ones, on pages of at most `maxresults` like every other; the
    // nextLink keeps the flag.
    if ctx.query("includePending").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        let l = core.certificates.list_with_pending(vault, resume.as_deref(), max).await?;
        let value: Vec<w::CertificateBundle> = l.items.iter().map(|v| bundle(ctx, v, false)).collect();
        let api = ctx.api_version();
        let next_link = l.next.map(|n| {
            format!(
                "{}/certificates?api-version={api}&includePending=true&$skiptoken={}&maxresults={max}",
                ctx.base(),
                strongbox_wire::encode_skiptoken(&n)
            )
        });
        return Ok(json(StatusCode::OK, &strongbox_wire::Page { value, next_link }));
    }
    let l = core.certificates.list(vault, resume.as_deref(), max).await?;
    Ok(listing(ctx, "certificates", l, false, max))
}

/// `GET /certificates/{name}/versions`
pub(crate) async fn list_versions(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let (resume, max) = paging(ctx)?;
    let l = core.certificates.list_versions(vault, &name, resume.as_deref(), max).await?;
    Ok(listing(ctx, &format!("certificates/{name}/versions"), l, true, max))
}

/// `GET /deletedcertificates`
pub(crate) async fn list_deleted(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let (resume, max) = paging(ctx)?;
    let l = core.certificates.list_deleted(vault, resume.as_deref(), max).await?;
    Ok(listing(ctx, "deletedcertificates", l, false, max))
}

/// `GET /certificates/{name}/policy`
pub(crate) async fn get_policy(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let p = core.certificates.get_policy(vault, &name).await?;
    Ok(json(StatusCode::OK, &policy_wire(ctx, &name, &p)))
}

/// `PATCH /certificates/{name}/policy`
pub(crate) async fn update_policy(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let api = ctx.api_version();
    let p: w::CertificatePolicy = parse_json(body)?;
    let p = core.certificates.update_policy(vault, &name, policy_input(p, api)?).await?;
    Ok(json(StatusCode::OK, &policy_wire(ctx, &name, &p)))
}

/// `GET /certificates/{name}/pending`
pub(crate) async fn get_operation(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    Ok(json(StatusCode::OK, &operation(ctx, &core.certificates.get_operation(vault, &name).await?)))
}

/// `PATCH /certificates/{name}/pending`
pub(crate) async fn cancel_operation(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let p: w::CertificateOperationUpdateParameter = parse_json(body)?;
    let cancel =
        p.cancellation_requested.ok_or_else(|| Error::bad("The 'cancellation_requested' member is required."))?;
    let o = core.certificates.cancel_operation(vault, &name, cancel).await?;
    Ok(json(StatusCode::OK, &operation(ctx, &o)))
}

/// `DELETE /certificates/{name}/pending`
pub(crate) async fn delete_operation(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    Ok(json(StatusCode::OK, &operation(ctx, &core.certificates.delete_operation(vault, &name).await?)))
}

/// `POST /certificates/{name}/pending/merge`
pub(crate) async fn merge(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let p: w::CertificateMergeParameters = parse_json(body)?;
    let x5c = p
        .x5c
        .ok_or_else(|| Error::bad("The 'x5c' member is required."))?
        .iter()
        .map(|c| decode_std(c, "x5c"))
        .collect::<Result<Vec<_>>>()?;
    let req = MergeCertificate { x5c, tags: p.tags, enabled: p.attributes.and_then(|a| a.enabled) };
    let v = core.certificates.merge(vault, &name, req).await?;
    Ok(json(StatusCode::CREATED, &bundle(ctx, &v, true)))
}

/// `POST /certificates/{name}/backup`
pub(crate) async fn backup(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let blob = core.certificates.backup(vault, &name).await?;
    Ok(json(StatusCode::OK, &BlobValue { value: Some(strongbox_crypto::b64url(&blob)) }))
}

/// `POST /certificates/restore`
pub(crate) async fn restore(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    let p: BlobValue = parse_json(body)?;
    let raw = p.value.ok_or_else(|| Error::bad("The 'value' member is required."))?;
    let blob = strongbox_crypto::b64url_decode(&raw)?;
    ok(&core.certificates.restore(vault, &blob).await?)
}

/// `GET /deletedcertificates/{name}`
pub(crate) async fn get_deleted(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    ok(&core.certificates.get_deleted(vault, &name).await?)
}

/// `DELETE /deletedcertificates/{name}`
pub(crate) async fn purge(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    core.certificates.purge(vault, &name).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /deletedcertificates/{name}/recover`
pub(crate) async fn recover(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("name")?.to_owned();
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    ok(&core.certificates.recover(vault, &name).await?)
}

/// `GET /certificates/contacts`
pub(crate) async fn get_contacts(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    Ok(json(StatusCode::OK, &contacts_wire(ctx, core.certificates.get_contacts(vault).await?)))
}

/// `PUT /certificates/contacts`
pub(crate) async fn set_contacts(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let p: w::Contacts = parse_json(body)?;
    let list = p
        .contacts
        .unwrap_or_default()
        .into_iter()
        .map(|c| Contact { email: c.email, name: c.name, phone: c.phone })
        .collect();
    Ok(json(StatusCode::OK, &contacts_wire(ctx, core.certificates.set_contacts(vault, list).await?)))
}

/// `DELETE /certificates/contacts`
pub(crate) async fn delete_contacts(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    Ok(json(StatusCode::OK, &contacts_wire(ctx, core.certificates.delete_contacts(vault).await?)))
}

/// `GET /certificates/issuers`
pub(crate) async fn list_issuers(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let (resume, max) = paging(ctx)?;
    let (items, next) = core.certificates.list_issuers(vault, resume.as_deref(), max).await?;
    let value: Vec<w::IssuerItem> = items
        .into_iter()
        .map(|i| w::IssuerItem { id: format!("{}/certificates/issuers/{}", ctx.base(), i.name), provider: i.provider })
        .collect();
    Ok(page(ctx, "certificates/issuers", value, next, max))
}

/// `GET /certificates/issuers/{issuer}`
pub(crate) async fn get_issuer(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("issuer")?.to_owned();
    Ok(json(StatusCode::OK, &issuer_wire(ctx, core.certificates.get_issuer(vault, &name).await?)))
}

/// `PUT /certificates/issuers/{issuer}`
pub(crate) async fn set_issuer(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("issuer")?.to_owned();
    let p: w::IssuerBundle = parse_json(body)?;
    let i = core.certificates.set_issuer(vault, &name, issuer_input(p)).await?;
    Ok(json(StatusCode::OK, &issuer_wire(ctx, i)))
}

/// `PATCH /certificates/issuers/{issuer}`
pub(crate) async fn update_issuer(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("issuer")?.to_owned();
    let p: w::IssuerBundle = parse_json(body)?;
    let i = core.certificates.update_issuer(vault, &name, issuer_input(p)).await?;
    Ok(json(StatusCode::OK, &issuer_wire(ctx, i)))
}

/// `DELETE /certificates/issuers/{issuer}`
pub(crate) async fn delete_issuer(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("issuer")?.to_owned();
    Ok(json(StatusCode::OK, &issuer_wire(ctx, core.certificates.delete_issuer(vault, &name).await?)))
}

/// `GET /_strongbox/certificateauthorities`
pub(crate) async fn list_cas(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let value: Vec<w::CaBundle> = core.certificates.list_cas(vault).await?.iter().map(|c| ca_wire(ctx, c)).collect();
    Ok(json(StatusCode::OK, &strongbox_wire::Page { value, next_link: None }))
}

/// `GET /_strongbox/certificateauthorities/{ca}`
pub(crate) async fn get_ca(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("ca")?.to_owned();
    Ok(json(StatusCode::OK, &ca_wire(ctx, &core.certificates.get_ca(vault, &name).await?)))
}

/// `PUT /_strongbox/certificateauthorities/{ca}`
pub(crate) async fn create_ca(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let (core, vault) = (&ctx.app.core, ctx.vault.as_str());
    let name = ctx.param("ca")?.to_owned();
    let p: w::CaCreateParameters = parse_json(body)?;
    let req = NewCa {
        subject: p.subject.ok_or_else(|| Error::bad("The 'subject' member is required."))?,
        parent: p.parent,
        kty: p.kty,
        key_size: u32_in(p.key_size, "key_size")?,
        crv: p.crv,
        validity_months: u32_in(p.validity_months, "validity_months")?,
        path_len: p
            .path_len
            .map(|n| u8::try_from(n).map_err(|_| Error::bad("'path_len' is out of range.")))
            .transpose()?,
        hsm: p.hsm.unwrap_or(false),
    };
    let c = core.certificates.create_ca(vault, &name, req).await?;
    Ok(json(StatusCode::CREATED, &ca_wire(ctx, &c)))
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use strongbox_types::ErrorKind;

    use crate::routing::resolve;

    #[test]
    fn reserved_names_and_methods() {
        // the handler and its `name` parameter (if any), or the error kind
        let p = |m: Method, path: &str| {
            let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            resolve(&m, &segs).map(|r| {
                let name = r.params.get("name").or(r.params.get("ca")).map(str::to_owned);
                (r.operation.handler.name, name, r.params.get("version").map(str::to_owned))
            })
        };
        let op = |h: &'static str, name: Option<&str>| (h, name.map(str::to_owned), None);
        assert_eq!(p(Method::GET, "/certificates/contacts").unwrap(), op("certificates::get_contacts", None));
        assert_eq!(p(Method::GET, "/certificates/issuers").unwrap(), op("certificates::list_issuers", None));
        assert_eq!(p(Method::POST, "/certificates/restore").unwrap(), op("certificates::restore", None));
        assert_eq!(p(Method::GET, "/certificates/c/").unwrap(), op("certificates::get", Some("c")));
        assert_eq!(p(Method::POST, "/certificates/c/pending/merge").unwrap(), op("certificates::merge", Some("c")));
        assert_eq!(p(Method::PUT, "/certificates/c").unwrap_err().kind, ErrorKind::MethodNotAllowed);
        assert_eq!(p(Method::GET, "/certificates/a/b/c/d").unwrap_err().kind, ErrorKind::RouteNotFound);
        assert_eq!(
            p(Method::PUT, "/_strongbox/certificateauthorities/ca").unwrap(),
            op("certificates::create_ca", Some("ca"))
        );
        assert_eq!(
            p(Method::DELETE, "/_strongbox/certificateauthorities/ca").unwrap_err().kind,
            ErrorKind::MethodNotAllowed
        );
        for (m, path) in crate::all_route_examples() {
            let r = p(m.clone(), &path).unwrap_or_else(|e| panic!("{m} {path}: {e}"));
            if r.0.starts_with("certificates::") {
                let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
                let action = resolve(&m, &segs).unwrap().operation.action;
                assert!(action.starts_with("Microsoft.KeyVault/vaults/"), "{path}");
            }
        }
    }
}
