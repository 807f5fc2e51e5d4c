//! Certificates operations (wire §6): routes, their data actions, and wire JSON ↔ core calls.

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use strongbox_core::certificates::{AdminDetail, CaView, CertLifetimeAction, Contact, NewCa, OperationError};
use strongbox_core::{
    CertListing, CertOperationView, CertPolicy, CertUpdate, CertView, CreateCertificate, ImportCertificate,
    IssuerInput, IssuerView, MergeCertificate, PolicyInput,
};
use strongbox_types::{Error, ErrorKind, Result};
use strongbox_wire::BlobValue;
use strongbox_wire::certificates as w;

use crate::http::{Ctx, empty, json, page, paging, parse_json, wire_attributes};

/// The certificate operations (names and versions are raw path segments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertRoute {
    Create(String),
    Import(String),
    Get(String, Option<String>),
    Update(String, Option<String>),
    Delete(String),
    List,
    ListVersions(String),
    GetPolicy(String),
    UpdatePolicy(String),
    GetOperation(String),
    CancelOperation(String),
    DeleteOperation(String),
    Merge(String),
    Backup(String),
    Restore,
    ListDeleted,
    GetDeleted(String),
    Purge(String),
    Recover(String),
    GetContacts,
    SetContacts,
    DeleteContacts,
    ListIssuers,
    GetIssuer(String),
    SetIssuer(String),
    UpdateIssuer(String),
    DeleteIssuer(String),
    /// Strongbox's built-in CAs: `/_strongbox/certificateauthorities[/{name}]`.
    ListCas,
    GetCa(String),
    CreateCa(String),
}

#[cfg(test)]
const A: &str = "Microsoft.KeyVault/vaults/";

impl CertRoute {
    /// The RBAC data action (wire §11.1 catalogue).
    pub fn data_action(&self) -> &'static str {
        use CertRoute::*;
        match self {
            Create(_) | Merge(_) => "Microsoft.KeyVault/vaults/certificates/create/action",
            Import(_) => "Microsoft.KeyVault/vaults/certificates/import/action",
            Get(..) | List | ListVersions(_) | GetPolicy(_) | GetOperation(_) | ListDeleted | GetDeleted(_)
            | GetContacts => "Microsoft.KeyVault/vaults/certificates/read",
            Update(..) | UpdatePolicy(_) | CancelOperation(_) => "Microsoft.KeyVault/vaults/certificates/update/action",
            Delete(_) | DeleteOperation(_) => "Microsoft.KeyVault/vaults/certificates/delete",
            Backup(_) => "Microsoft.KeyVault/vaults/certificates/backup/action",
            Restore => "Microsoft.KeyVault/vaults/certificates/restore/action",
            Purge(_) => "Microsoft.KeyVault/vaults/certificates/purge/action",
            Recover(_) => "Microsoft.KeyVault/vaults/certificates/recover/action",
            SetContacts | DeleteContacts => "Microsoft.KeyVault/vaults/certificatecontacts/write",
            ListIssuers | GetIssuer(_) => "Microsoft.KeyVault/vaults/certificatecas/read",
            SetIssuer(_) | UpdateIssuer(_) => "Microsoft.KeyVault/vaults/certificatecas/write",
            DeleteIssuer(_) => "Microsoft.KeyVault/vaults/certificatecas/delete",
            ListCas | GetCa(_) => "Microsoft.KeyVault/vaults/certificatecas/read",
            CreateCa(_) => "Microsoft.KeyVault/vaults/certificatecas/write",
        }
    }

    /// `/vaults/{vault}/certificates/{name}` for one certificate, the vault otherwise.
    pub fn scope(&self, vault: &str) -> String {
        use CertRoute::*;
        match self {
            Create(n)
            | Import(n)
            | Get(n, _)
            | Update(n, _)
            | Delete(n)
            | ListVersions(n)
            | GetPolicy(n)
            | UpdatePolicy(n)
            | GetOperation(n)
            | CancelOperation(n)
            | DeleteOperation(n)
            | Merge(n)
            | Backup(n)
            | GetDeleted(n)
            | Purge(n)
            | Recover(n) => format!("/vaults/{vault}/certificates/{n}"),
            _ => format!("/vaults/{vault}"),
        }
    }

    pub fn wants_body(&self) -> bool {
        use CertRoute::*;
        matches!(
            self,
            Create(_)
                | Import(_)
                | Update(..)
                | UpdatePolicy(_)
                | CancelOperation(_)
                | Merge(_)
                | Restore
                | SetContacts
                | SetIssuer(_)
                | UpdateIssuer(_)
                | CreateCa(_)
        )
    }

    /// `/_strongbox/certificateauthorities[/{name}]`.
    pub fn parse_ca(method: &Method, segs: &[&str]) -> Result<Self> {
        let own = |i: usize| segs.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
        match (segs.len(), method.clone()) {
            (2, Method::GET) => Ok(CertRoute::ListCas),
            (3, Method::GET) => Ok(CertRoute::GetCa(own(2))),
            (3, Method::PUT) => Ok(CertRoute::CreateCa(own(2))),
            (2..=3, _) => Err(Error::new(
                ErrorKind::MethodNotAllowed,
                format!("The method {method} is not supported on this path."),
            )),
            _ => Err(Error::new(ErrorKind::RouteNotFound, "The requested path does not exist on this vault.")),
        }
    }

    /// `segs[0]` is `certificates` or `deletedcertificates` (any case). `contacts`, `issuers`
    /// and `restore` are reserved names, as in Azure.
    pub fn parse(method: &Method, segs: &[&str]) -> Result<Self> {
        use CertRoute::*;
        let lit = |i: usize, s: &str| segs.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s));
        let own = |i: usize| segs.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
        let nf = || Error::new(ErrorKind::RouteNotFound, "The requested path does not exist on this vault.");
        let na =
            || Error::new(ErrorKind::MethodNotAllowed, format!("The method {method} is not supported on this path."));
        let m = method.clone();
        if lit(0, "deletedcertificates") {
            return match (segs.len(), m) {
                (1, Method::GET) => Ok(ListDeleted),
                (2, Method::GET) => Ok(GetDeleted(own(1))),
                (2, Method::DELETE) => Ok(Purge(own(1))),
                (3, Method::POST) if lit(2, "recover") => Ok(Recover(own(1))),
                (1..=3, _) => Err(na()),
                _ => Err(nf()),
            };
        }
        match (segs.len(), m) {
            (1, Method::GET) => Ok(List),
            (1, _) => Err(na()),
            (2, Method::GET) if lit(1, "contacts") => Ok(GetContacts),
            (2, Method::PUT) if lit(1, "contacts") => Ok(SetContacts),
            (2, Method::DELETE) if lit(1, "contacts") => Ok(DeleteContacts),
            (2, _) if lit(1, "contacts") => Err(na()),
            (2, Method::GET) if lit(1, "issuers") => Ok(ListIssuers),
            (2, _) if lit(1, "issuers") => Err(na()),
            (2, Method::POST) if lit(1, "restore") => Ok(Restore),
            (3, Method::GET) if lit(1, "issuers") => Ok(GetIssuer(own(2))),
            (3, Method::PUT) if lit(1, "issuers") => Ok(SetIssuer(own(2))),
            (3, Method::PATCH) if lit(1, "issuers") => Ok(UpdateIssuer(own(2))),
            (3, Method::DELETE) if lit(1, "issuers") => Ok(DeleteIssuer(own(2))),
            (3, _) if lit(1, "issuers") => Err(na()),
            (2, Method::GET) => Ok(Get(own(1), None)),
            (2, Method::PATCH) => Ok(Update(own(1), None)),
            (2, Method::DELETE) => Ok(Delete(own(1))),
            (2, _) => Err(na()),
            (3, Method::POST) if lit(2, "create") => Ok(Create(own(1))),
            (3, Method::POST) if lit(2, "import") => Ok(Import(own(1))),
            (3, Method::POST) if lit(2, "backup") => Ok(Backup(own(1))),
            (3, _) if lit(2, "create") || lit(2, "import") || lit(2, "backup") => Err(na()),
            (3, Method::GET) if lit(2, "versions") => Ok(ListVersions(own(1))),
            (3, _) if lit(2, "versions") => Err(na()),
            (3, Method::GET) if lit(2, "policy") => Ok(GetPolicy(own(1))),
            (3, Method::PATCH) if lit(2, "policy") => Ok(UpdatePolicy(own(1))),
            (3, _) if lit(2, "policy") => Err(na()),
            (3, Method::GET) if lit(2, "pending") => Ok(GetOperation(own(1))),
            (3, Method::PATCH) if lit(2, "pending") => Ok(CancelOperation(own(1))),
            (3, Method::DELETE) if lit(2, "pending") => Ok(DeleteOperation(own(1))),
            (3, _) if lit(2, "pending") => Err(na()),
            (4, Method::POST) if lit(2, "pending") && lit(3, "merge") => Ok(Merge(own(1))),
            (4, _) if lit(2, "pending") && lit(3, "merge") => Err(na()),
            (3, Method::GET) => Ok(Get(own(1), Some(own(2)))),
            (3, Method::PATCH) => Ok(Update(own(1), Some(own(2)))),
            (3, _) => Err(na()),
            _ => Err(nf()),
        }
    }
}

/// One request per certificate route shape.
pub fn route_examples() -> Vec<(Method, &'static str)> {
    vec![
        (Method::POST, "/certificates/c/create"),
        (Method::POST, "/certificates/c/import"),
        (Method::GET, "/certificates/c"),
        (Method::GET, "/certificates/c/0123456789abcdef0123456789abcdef"),
        (Method::PATCH, "/certificates/c"),
        (Method::PATCH, "/certificates/c/0123456789abcdef0123456789abcdef"),
        (Method::DELETE, "/certificates/c"),
        (Method::GET, "/certificates"),
        (Method::GET, "/certificates/c/versions"),
        (Method::GET, "/certificates/c/policy"),
        (Method::PATCH, "/certificates/c/policy"),
        (Method::GET, "/certificates/c/pending"),
        (Method::PATCH, "/certificates/c/pending"),
        (Method::DELETE, "/certificates/c/pending"),
        (Method::POST, "/certificates/c/pending/merge"),
        (Method::POST, "/certificates/c/backup"),
        (Method::POST, "/certificates/restore"),
        (Method::GET, "/deletedcertificates"),
        (Method::GET, "/deletedcertificates/c"),
        (Method::DELETE, "/deletedcertificates/c"),
        (Method::POST, "/deletedcertificates/c/recover"),
        (Method::GET, "/certificates/contacts"),
        (Method::PUT, "/certificates/contacts"),
        (Method::DELETE, "/certificates/contacts"),
        (Method::GET, "/certificates/issuers"),
        (Method::GET, "/certificates/issuers/i"),
        (Method::PUT, "/certificates/issuers/i"),
        (Method::PATCH, "/certificates/issuers/i"),
        (Method::DELETE, "/certificates/issuers/i"),
        (Method::GET, "/_strongbox/certificateauthorities"),
        (Method::GET, "/_strongbox/certificateauthorities/ca"),
        (Method::PUT, "/_strongbox/certificateauthorities/ca"),
    ]
}

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

fn policy_wire(ctx: &Ctx<'_>, name: &str, p: &CertPolicy) -> w::CertificatePolicy {
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

fn bundle(ctx: &Ctx<'_>, v: &CertView, versioned: bool) -> w::CertificateBundle {
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

fn operation(ctx: &Ctx<'_>, o: &CertOperationView) -> w::CertificateOperation {
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

fn listing(ctx: &Ctx<'_>, path: &str, l: CertListing, versioned: bool, max: usize) -> Response {
    let value: Vec<w::CertificateBundle> = l.items.iter().map(|v| bundle(ctx, v, versioned)).collect();
    page(ctx, path, value, l.next, max)
}

fn contacts_wire(ctx: &Ctx<'_>, c: Vec<Contact>) -> w::Contacts {
    w::Contacts {
        id: Some(format!("{}/certificates/contacts", ctx.base())),
        contacts: Some(c.into_iter().map(|c| w::Contact { email: c.email, name: c.name, phone: c.phone }).collect()),
    }
}

fn issuer_wire(ctx: &Ctx<'_>, i: IssuerView) -> w::IssuerBundle {
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

fn ca_wire(ctx: &Ctx<'_>, c: &CaView) -> w::CaBundle {
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

pub async fn serve(ctx: &Ctx<'_>, route: CertRoute, body: Option<Bytes>) -> Result<Response> {
    use CertRoute::*;
    crate::secrets::not_on_managed_hsm(ctx, "certificates").await?;
    let core = &ctx.st.core;
    let vault = ctx.vault.as_str();
    let ok = |v: &CertView| Ok(json(StatusCode::OK, &bundle(ctx, v, true)));
    let api = ctx.q("api-version").unwrap_or(strongbox_wire::LATEST_API_VERSION);
    match route {
        Create(name) => {
            let p: w::CertificateCreateParameters = parse_json(body)?;
            let req = CreateCertificate {
                policy: p.policy.map(|p| policy_input(p, api)).transpose()?,
                tags: p.tags,
                enabled: p.attributes.and_then(|a| a.enabled),
            };
            let op = core.certificates.create(vault, &name, req).await?;
            Ok(json(StatusCode::ACCEPTED, &operation(ctx, &op)))
        }
        Import(name) => {
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
        Get(name, version) => ok(&core.certificates.get(vault, &name, version.as_deref()).await?),
        Update(name, version) => {
            let p: w::CertificateUpdateParameters = parse_json(body)?;
            let upd = CertUpdate {
                policy: p.policy.map(|p| policy_input(p, api)).transpose()?,
                tags: p.tags,
                enabled: p.attributes.and_then(|a| a.enabled),
            };
            ok(&core.certificates.update(vault, &name, version.as_deref(), upd).await?)
        }
        Delete(name) => ok(&core.certificates.delete(vault, &name).await?),
        List => {
            let (resume, max) = paging(ctx)?;
            // `includePending=true`: certificates still waiting for their first version come
            // after the issued ones, on pages of at most `maxresults` like every other; the
            // nextLink keeps the flag.
            if ctx.q("includePending").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                let l = core.certificates.list_with_pending(vault, resume.as_deref(), max).await?;
                let value: Vec<w::CertificateBundle> = l.items.iter().map(|v| bundle(ctx, v, false)).collect();
                let api = ctx.q("api-version").unwrap_or(strongbox_wire::LATEST_API_VERSION);
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
        ListVersions(name) => {
            let (resume, max) = paging(ctx)?;
            let l = core.certificates.list_versions(vault, &name, resume.as_deref(), max).await?;
            Ok(listing(ctx, &format!("certificates/{name}/versions"), l, true, max))
        }
        ListDeleted => {
            let (resume, max) = paging(ctx)?;
            let l = core.certificates.list_deleted(vault, resume.as_deref(), max).await?;
            Ok(listing(ctx, "deletedcertificates", l, false, max))
        }
        GetPolicy(name) => {
            let p = core.certificates.get_policy(vault, &name).await?;
            Ok(json(StatusCode::OK, &policy_wire(ctx, &name, &p)))
        }
        UpdatePolicy(name) => {
            let p: w::CertificatePolicy = parse_json(body)?;
            let p = core.certificates.update_policy(vault, &name, policy_input(p, api)?).await?;
            Ok(json(StatusCode::OK, &policy_wire(ctx, &name, &p)))
        }
        GetOperation(name) => {
            Ok(json(StatusCode::OK, &operation(ctx, &core.certificates.get_operation(vault, &name).await?)))
        }
        CancelOperation(name) => {
            let p: w::CertificateOperationUpdateParameter = parse_json(body)?;
            let cancel = p
                .cancellation_requested
                .ok_or_else(|| Error::bad("The 'cancellation_requested' member is required."))?;
            let o = core.certificates.cancel_operation(vault, &name, cancel).await?;
            Ok(json(StatusCode::OK, &operation(ctx, &o)))
        }
        DeleteOperation(name) => {
            Ok(json(StatusCode::OK, &operation(ctx, &core.certificates.delete_operation(vault, &name).await?)))
        }
        Merge(name) => {
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
        Backup(name) => {
            let blob = core.certificates.backup(vault, &name).await?;
            Ok(json(StatusCode::OK, &BlobValue { value: Some(strongbox_crypto::b64url(&blob)) }))
        }
        Restore => {
            let p: BlobValue = parse_json(body)?;
            let raw = p.value.ok_or_else(|| Error::bad("The 'value' member is required."))?;
            let blob = strongbox_crypto::b64url_decode(&raw)?;
            ok(&core.certificates.restore(vault, &blob).await?)
        }
        GetDeleted(name) => ok(&core.certificates.get_deleted(vault, &name).await?),
        Purge(name) => {
            core.certificates.purge(vault, &name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Recover(name) => ok(&core.certificates.recover(vault, &name).await?),
        GetContacts => Ok(json(StatusCode::OK, &contacts_wire(ctx, core.certificates.get_contacts(vault).await?))),
        SetContacts => {
            let p: w::Contacts = parse_json(body)?;
            let list = p
                .contacts
                .unwrap_or_default()
                .into_iter()
                .map(|c| Contact { email: c.email, name: c.name, phone: c.phone })
                .collect();
            Ok(json(StatusCode::OK, &contacts_wire(ctx, core.certificates.set_contacts(vault, list).await?)))
        }
        DeleteContacts => {
            Ok(json(StatusCode::OK, &contacts_wire(ctx, core.certificates.delete_contacts(vault).await?)))
        }
        ListIssuers => {
            let (resume, max) = paging(ctx)?;
            let (items, next) = core.certificates.list_issuers(vault, resume.as_deref(), max).await?;
            let value: Vec<w::IssuerItem> = items
                .into_iter()
                .map(|i| w::IssuerItem {
                    id: format!("{}/certificates/issuers/{}", ctx.base(), i.name),
                    provider: i.provider,
                })
                .collect();
            Ok(page(ctx, "certificates/issuers", value, next, max))
        }
        GetIssuer(name) => {
            Ok(json(StatusCode::OK, &issuer_wire(ctx, core.certificates.get_issuer(vault, &name).await?)))
        }
        SetIssuer(name) => {
            let p: w::IssuerBundle = parse_json(body)?;
            let i = core.certificates.set_issuer(vault, &name, issuer_input(p)).await?;
            Ok(json(StatusCode::OK, &issuer_wire(ctx, i)))
        }
        UpdateIssuer(name) => {
            let p: w::IssuerBundle = parse_json(body)?;
            let i = core.certificates.update_issuer(vault, &name, issuer_input(p)).await?;
            Ok(json(StatusCode::OK, &issuer_wire(ctx, i)))
        }
        DeleteIssuer(name) => {
            Ok(json(StatusCode::OK, &issuer_wire(ctx, core.certificates.delete_issuer(vault, &name).await?)))
        }
        ListCas => {
            let value: Vec<w::CaBundle> =
                core.certificates.list_cas(vault).await?.iter().map(|c| ca_wire(ctx, c)).collect();
            Ok(json(StatusCode::OK, &strongbox_wire::Page { value, next_link: None }))
        }
        GetCa(name) => Ok(json(StatusCode::OK, &ca_wire(ctx, &core.certificates.get_ca(vault, &name).await?))),
        CreateCa(name) => {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_and_methods() {
        let p = |m: Method, path: &str| {
            let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            if segs.first() == Some(&"_strongbox") {
                CertRoute::parse_ca(&m, &segs)
            } else {
                CertRoute::parse(&m, &segs)
            }
        };
        assert_eq!(p(Method::GET, "/certificates/contacts").unwrap(), CertRoute::GetContacts);
        assert_eq!(p(Method::GET, "/certificates/issuers").unwrap(), CertRoute::ListIssuers);
        assert_eq!(p(Method::POST, "/certificates/restore").unwrap(), CertRoute::Restore);
        assert_eq!(p(Method::GET, "/certificates/c/").unwrap(), CertRoute::Get("c".into(), None));
        assert_eq!(p(Method::POST, "/certificates/c/pending/merge").unwrap(), CertRoute::Merge("c".into()));
        assert_eq!(p(Method::PUT, "/certificates/c").unwrap_err().kind, ErrorKind::MethodNotAllowed);
        assert_eq!(p(Method::GET, "/certificates/a/b/c/d").unwrap_err().kind, ErrorKind::RouteNotFound);
        assert_eq!(p(Method::PUT, "/_strongbox/certificateauthorities/ca").unwrap(), CertRoute::CreateCa("ca".into()));
        assert_eq!(
            p(Method::DELETE, "/_strongbox/certificateauthorities/ca").unwrap_err().kind,
            ErrorKind::MethodNotAllowed
        );
        for (m, path) in route_examples() {
            let r = p(m.clone(), path).unwrap_or_else(|e| panic!("{m} {path}: {e}"));
            assert!(r.data_action().starts_with(A), "{path}");
        }
    }
}
