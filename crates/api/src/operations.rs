//! The operation table: every vault and management operation, declared once — its method and
//! path, its RBAC data action and scope, its legacy access-policy permission, its body and its
//! handler. The dispatcher (`http.rs`) finds the row of a request (`routing.rs`) and runs it:
//! sealed → 503; no valid bearer token → 401 challenge; unknown path → 404, known path with
//! another method → 405; the data action at the scope (RBAC, or the access policy on vaults
//! with `enableRbacAuthorization = false`); the api-version; the body (413 over its limit; a
//! declared `Content-Length` over it is refused before authentication); secrets and certificates
//! on a Managed HSM pool → 404; then the handler.
//!
//! ## Routes
//! `"METHOD /path"`. Path segments are literals (matched case-insensitively) or `{param}`s (one
//! segment each, read by handlers with `ctx.param("param")`); `[…]` is optional; `{_}` is a
//! segment nobody reads. `{scope}` (first only) is the path up to `/providers/Microsoft.Authorization`
//! (zero or more segments): a path through `/providers/Microsoft.Authorization/` is matched
//! against those rows only. The method is one name, `A|B`, `*` (any) or `!A` (any but `A`).
//!
//! Where several rows fit a path the most specific wins (segment by segment, a literal beats a
//! parameter), so `/secrets/{name}/versions` is a listing and not version `versions`; a row
//! claims its path for every method (another method is 405), except rows marked
//! `only_its_method` ([`Claim::Method`]): `POST /secrets/restore` restores, while `GET /secrets/restore`
//! reads a secret named `restore`. Among equally specific rows the first that takes the method
//! wins.
//!
//! ## Adding an operation
//! One row here (route, data action, scope, access-policy permission, body, handler), the
//! handler (an `async fn(&RequestContext, Option<Bytes>)` in the area's module) and, for the
//! authorization matrix test, the row of its example in `rbac_matrix.rs`.

use strongbox_core::AccessPolicyArea::{self as PolicyArea, Certificates, Keys, Secrets};

use crate::context::PathParams;
use crate::context::{Handler, run};
use crate::{admin, certificates, directory, keys, operator, rbac, secrets, vaults};

/// One operation.
#[derive(Debug)]
pub struct Operation {
    /// `METHOD /path` (see the module docs).
    pub route: &'static str,
    /// The RBAC data action it needs (Azure's names; wire §11.1).
    pub action: &'static str,
    /// Who decides whether the caller may.
    pub authorization: Authorization,
    /// What the data action is checked on.
    pub scope: Scope,
    /// The access-policy permission (wire §11.2) checked instead of the data action on vaults
    /// with `enableRbacAuthorization = false`; `None`: always RBAC (management operations).
    pub access_policy: Option<(PolicyArea, &'static str)>,
    /// What the request carries.
    pub body: Body,
    /// Whether the row claims its path for other methods (see the module docs).
    pub claim: Claim,
    /// Managed HSM pools have no such paths: 404 naming this collection (`secrets`,
    /// `certificates`), after the body.
    pub absent_on_managed_hsm: Option<&'static str>,
    /// Who serves it.
    pub handler: Handler,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// The dispatcher checks the data action at the scope.
    Rbac,
    /// The service decides (PIM self-service: eligibility, approver lists and ownership).
    ByService,
}

/// The RBAC scope an operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/`: the deployment (directory, groups, deny assignments, PIM, the vault list).
    Root,
    /// `/vaults/{vault}`: the vault the request is addressed to.
    Vault,
    /// `/vaults/{vault}` of the vault named in the path (`/_strongbox/vaults/{vault}…`).
    NamedVault,
    /// `/vaults/{vault}/{collection}/{name}`: the object named in the path; the vault when the
    /// path names none (lists, restore, contacts, issuers).
    Object(&'static str),
    /// The path's `{scope}`, relative to the vault the request is addressed to.
    Relative,
}

/// Largest body accepted anywhere: a restore's backup blob (up to 500 versions of 25 KiB
/// secrets, encrypted and base64url-encoded).
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;
/// Certificate import and merge: a PFX or PEM with its chain, base64-encoded.
pub(crate) const CERTIFICATE_BODY: usize = 1024 * 1024;
/// Every other JSON body: a 25 KiB secret value JSON-escaped at worst six times over with its
/// tags, a JWK, an attestation token, a role or directory document.
pub(crate) const JSON_BODY: usize = 256 * 1024;
/// Requests that carry no body: whatever arrives is read and ignored up to this much.
pub(crate) const NO_BODY: usize = 64 * 1024;
/// What a request carries, and the most it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Nothing: whatever arrives is read and ignored, up to [`NO_BODY`].
    None,
    /// A JSON document up to [`JSON_BODY`].
    Json,
    /// A certificate (PFX or PEM with its chain, base64) up to [`CERTIFICATE_BODY`].
    Certificate,
    /// A backup blob to restore, up to [`MAX_BODY`].
    Backup,
    /// JSON, unless the method is GET or DELETE (the directory's fallback rows).
    JsonUnlessGetOrDelete,
}

impl Body {
    /// The most a request of this kind may carry.
    pub fn limit(self, method: &axum::http::Method) -> usize {
        use Body::*;
        match self {
            Backup => MAX_BODY,
            Certificate => CERTIFICATE_BODY,
            Json => JSON_BODY,
            JsonUnlessGetOrDelete if self.is_read(method) => JSON_BODY,
            JsonUnlessGetOrDelete | None => NO_BODY,
        }
    }

    /// Whether the body is read and handed to the handler (otherwise it is drained unread).
    pub fn is_read(self, method: &axum::http::Method) -> bool {
        use Body::*;
        match self {
            None => false,
            Json | Certificate | Backup => true,
            JsonUnlessGetOrDelete => *method != axum::http::Method::GET && *method != axum::http::Method::DELETE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The row owns its path: another method there is 405.
    Path,
    /// The row takes its method only; other methods go to less specific rows.
    Method,
    /// A directory path no other row takes: authorised like the directory and then refused
    /// (404, or 405 where another row takes another method). Not an operation of its own.
    Fallback,
}

impl Scope {
    /// The scope as RBAC sees it, for a request to `vault` with these path parameters.
    pub fn resolve(self, vault: &str, path: &PathParams) -> String {
        match self {
            Scope::Root => "/".into(),
            Scope::Vault => format!("/vaults/{vault}"),
            Scope::NamedVault => format!("/vaults/{}", path.get("vault").unwrap_or_default()),
            Scope::Object(collection) => match path.get("name") {
                Some(n) => format!("/vaults/{vault}/{collection}/{n}"),
                None => format!("/vaults/{vault}"),
            },
            Scope::Relative => absolute_scope(vault, path.get("scope").unwrap_or_default()),
        }
    }
}

/// An RBAC scope relative to a vault (`/`, `/keys`, `/secrets/{name}`) made absolute.
pub(crate) fn absolute_scope(vault: &str, relative: &str) -> String {
    let rel: Vec<&str> = relative.split('/').filter(|s| !s.is_empty()).collect();
    if rel.is_empty() { format!("/vaults/{vault}") } else { format!("/vaults/{vault}/{}", rel.join("/")) }
}

impl Operation {
    const fn new(route: &'static str, handler: Handler) -> Self {
        Operation {
            route,
            action: "",
            authorization: Authorization::Rbac,
            scope: Scope::Vault,
            access_policy: None,
            body: Body::None,
            claim: Claim::Path,
            absent_on_managed_hsm: None,
            handler,
        }
    }
    const fn action(mut self, action: &'static str) -> Self {
        self.action = action;
        self
    }
    const fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }
    const fn access_policy(mut self, area: PolicyArea, permission: &'static str) -> Self {
        self.access_policy = Some((area, permission));
        self
    }
    const fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
    const fn json(self) -> Self {
        self.body(Body::Json)
    }
    /// See [`Claim::Method`].
    const fn only_its_method(mut self) -> Self {
        self.claim = Claim::Method;
        self
    }
    const fn by_service(mut self) -> Self {
        self.authorization = Authorization::ByService;
        self
    }
}

/// A secrets operation: scope the secret, absent on Managed HSM pools.
const fn secret(route: &'static str, handler: Handler) -> Operation {
    let mut op = Operation::new(route, handler).scope(Scope::Object("secrets"));
    op.absent_on_managed_hsm = Some("secrets");
    op
}

/// A keys operation: scope the key.
const fn key(route: &'static str, handler: Handler) -> Operation {
    Operation::new(route, handler).scope(Scope::Object("keys"))
}

/// A certificates operation: scope the certificate, absent on Managed HSM pools.
const fn certificate(route: &'static str, handler: Handler) -> Operation {
    let mut op = Operation::new(route, handler).scope(Scope::Object("certificates"));
    op.absent_on_managed_hsm = Some("certificates");
    op
}

/// A deployment-wide management operation (scope `/`).
const fn management(route: &'static str, handler: Handler) -> Operation {
    Operation::new(route, handler).scope(Scope::Root)
}

/// The Managed HSM RBAC data plane, at the path's `{scope}`.
const fn role_management(route: &'static str, handler: Handler) -> Operation {
    Operation::new(route, handler).scope(Scope::Relative)
}

/// Directory management: deployment administrators only (`vaults/write` at `/`). Every segment
/// is case-insensitive, names included (the handlers lower-case them); a method no row takes is
/// refused only after authorization (the fallback rows).
const fn directory(route: &'static str, handler: Handler) -> Operation {
    management(route, handler).action("Microsoft.KeyVault/vaults/write").only_its_method()
}

/// See [`Claim::Fallback`].
const fn directory_fallback(route: &'static str) -> Operation {
    let mut op = management(route, run!(directory::refuse)).action("Microsoft.KeyVault/vaults/write");
    op.body = Body::JsonUnlessGetOrDelete;
    op.claim = Claim::Fallback;
    op
}

/// Paths that answer 405 to these methods when no row takes them (refused before
/// authorization, like any 405).
pub(crate) static REFUSED: &[&str] = &[
    // only `recover` exists below a deleted certificate
    "* /deletedcertificates/{name}/{_}",
    // decisions on an activation request are POSTs; an unknown decision is not found
    "!POST /_strongbox/pim/requests/{id}/{_}",
];

pub static OPERATIONS: &[Operation] = &[
    // ---- Secrets (wire §4) ----
    secret("PUT /secrets/{name}", run!(secrets::set))
        .action("Microsoft.KeyVault/vaults/secrets/setSecret/action")
        .access_policy(Secrets, "set")
        .json(),
    secret("GET /secrets/{name}[/{version}]", run!(secrets::get))
        .action("Microsoft.KeyVault/vaults/secrets/getSecret/action")
        .access_policy(Secrets, "get"),
    secret("PATCH /secrets/{name}[/{version}]", run!(secrets::update))
        .action("Microsoft.KeyVault/vaults/secrets/update/action")
        .access_policy(Secrets, "set")
        .json(),
    secret("DELETE /secrets/{name}", run!(secrets::delete))
        .action("Microsoft.KeyVault/vaults/secrets/delete")
        .access_policy(Secrets, "delete"),
    secret("GET /secrets", run!(secrets::list))
        .action("Microsoft.KeyVault/vaults/secrets/readMetadata/action")
        .access_policy(Secrets, "list"),
    secret("GET /secrets/{name}/versions", run!(secrets::list_versions))
        .action("Microsoft.KeyVault/vaults/secrets/readMetadata/action")
        .access_policy(Secrets, "list"),
    secret("POST /secrets/{name}/backup", run!(secrets::backup))
        .action("Microsoft.KeyVault/vaults/secrets/backup/action")
        .access_policy(Secrets, "backup"),
    secret("POST /secrets/restore", run!(secrets::restore))
        .action("Microsoft.KeyVault/vaults/secrets/restore/action")
        .access_policy(Secrets, "restore")
        .body(Body::Backup)
        .only_its_method(),
    secret("GET /deletedsecrets", run!(secrets::list_deleted))
        .action("Microsoft.KeyVault/vaults/secrets/readMetadata/action")
        .access_policy(Secrets, "list"),
    secret("GET /deletedsecrets/{name}", run!(secrets::get_deleted))
        .action("Microsoft.KeyVault/vaults/secrets/readMetadata/action")
        .access_policy(Secrets, "get"),
    secret("DELETE /deletedsecrets/{name}", run!(secrets::purge))
        .action("Microsoft.KeyVault/vaults/secrets/purge/action")
        .access_policy(Secrets, "purge"),
    secret("POST /deletedsecrets/{name}/recover", run!(secrets::recover))
        .action("Microsoft.KeyVault/vaults/secrets/recover/action")
        .access_policy(Secrets, "recover"),
    // ---- Keys (wire §5) ----
    key("POST /keys/{name}/create", run!(keys::create))
        .action("Microsoft.KeyVault/vaults/keys/create/action")
        .access_policy(Keys, "create")
        .json(),
    key("PUT /keys/{name}", run!(keys::import))
        .action("Microsoft.KeyVault/vaults/keys/import/action")
        .access_policy(Keys, "import")
        .json(),
    key("GET /keys/{name}[/{version}]", run!(keys::get))
        .action("Microsoft.KeyVault/vaults/keys/read")
        .access_policy(Keys, "get"),
    key("PATCH /keys/{name}[/{version}]", run!(keys::update))
        .action("Microsoft.KeyVault/vaults/keys/update/action")
        .access_policy(Keys, "update")
        .json(),
    key("DELETE /keys/{name}", run!(keys::delete))
        .action("Microsoft.KeyVault/vaults/keys/delete")
        .access_policy(Keys, "delete"),
    key("GET /keys", run!(keys::list)).action("Microsoft.KeyVault/vaults/keys/read").access_policy(Keys, "list"),
    key("GET /keys/{name}/versions", run!(keys::list_versions))
        .action("Microsoft.KeyVault/vaults/keys/read")
        .access_policy(Keys, "list"),
    key("POST /keys/{name}/backup", run!(keys::backup))
        .action("Microsoft.KeyVault/vaults/keys/backup/action")
        .access_policy(Keys, "backup"),
    key("POST /keys/restore", run!(keys::restore))
        .action("Microsoft.KeyVault/vaults/keys/restore/action")
        .access_policy(Keys, "restore")
        .body(Body::Backup)
        .only_its_method(),
    key("GET /deletedkeys", run!(keys::list_deleted))
        .action("Microsoft.KeyVault/vaults/keys/read")
        .access_policy(Keys, "list"),
    key("GET /deletedkeys/{name}", run!(keys::get_deleted))
        .action("Microsoft.KeyVault/vaults/keys/read")
        .access_policy(Keys, "get"),
    key("DELETE /deletedkeys/{name}", run!(keys::purge))
        .action("Microsoft.KeyVault/vaults/keys/purge/action")
        .access_policy(Keys, "purge"),
    key("POST /deletedkeys/{name}/recover", run!(keys::recover))
        .action("Microsoft.KeyVault/vaults/keys/recover/action")
        .access_policy(Keys, "recover"),
    // the cryptographic operations; the operation segment in any case (`wrapkey`, `wrapKey`)
    key("POST /keys/{name}[/{version}]/encrypt", run!(keys::encrypt))
        .action("Microsoft.KeyVault/vaults/keys/encrypt/action")
        .access_policy(Keys, "encrypt")
        .json(),
    key("POST /keys/{name}[/{version}]/decrypt", run!(keys::decrypt))
        .action("Microsoft.KeyVault/vaults/keys/decrypt/action")
        .access_policy(Keys, "decrypt")
        .json(),
    key("POST /keys/{name}[/{version}]/sign", run!(keys::sign))
        .action("Microsoft.KeyVault/vaults/keys/sign/action")
        .access_policy(Keys, "sign")
        .json(),
    key("POST /keys/{name}[/{version}]/verify", run!(keys::verify))
        .action("Microsoft.KeyVault/vaults/keys/verify/action")
        .access_policy(Keys, "verify")
        .json(),
    key("POST /keys/{name}[/{version}]/wrapkey", run!(keys::wrap_key))
        .action("Microsoft.KeyVault/vaults/keys/wrap/action")
        .access_policy(Keys, "wrapKey")
        .json(),
    key("POST /keys/{name}[/{version}]/unwrapkey", run!(keys::unwrap_key))
        .action("Microsoft.KeyVault/vaults/keys/unwrap/action")
        .access_policy(Keys, "unwrapKey")
        .json(),
    key("POST /keys/{name}/rotate", run!(keys::rotate))
        .action("Microsoft.KeyVault/vaults/keys/rotate/action")
        .access_policy(Keys, "rotate"),
    key("GET /keys/{name}/rotationpolicy", run!(keys::get_rotation_policy))
        .action("Microsoft.KeyVault/vaults/keyrotationpolicies/read")
        .access_policy(Keys, "getrotationpolicy"),
    key("PUT /keys/{name}/rotationpolicy", run!(keys::set_rotation_policy))
        .action("Microsoft.KeyVault/vaults/keyrotationpolicies/write")
        .access_policy(Keys, "setrotationpolicy")
        .json(),
    // secure key release; a client without a version sends `/keys/{name}//release`
    key("POST /keys/{name}[/{version}]/release", run!(keys::release))
        .action("Microsoft.KeyVault/vaults/keys/release/action")
        .access_policy(Keys, "release")
        .json(),
    // key attestation: not built yet, an honest 501 after authorization
    key("* /keys/{name}/{version}/attestation", run!(keys::attestation))
        .action("Microsoft.KeyVault/vaults/keys/release/action")
        .scope(Scope::Vault)
        .access_policy(Keys, "release"),
    // not an operation on an object: no access-policy permission
    key("POST /rng", run!(keys::random_bytes))
        .action("Microsoft.KeyVault/vaults/rng/action")
        .scope(Scope::Vault)
        .json(),
    // ---- Certificates (wire §6); `contacts`, `issuers` and `restore` are reserved names ----
    certificate("POST /certificates/{name}/create", run!(certificates::create))
        .action("Microsoft.KeyVault/vaults/certificates/create/action")
        .access_policy(Certificates, "create")
        .json(),
    certificate("POST /certificates/{name}/import", run!(certificates::import))
        .action("Microsoft.KeyVault/vaults/certificates/import/action")
        .access_policy(Certificates, "import")
        .body(Body::Certificate),
    certificate("GET /certificates/{name}[/{version}]", run!(certificates::get))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "get"),
    certificate("PATCH /certificates/{name}[/{version}]", run!(certificates::update))
        .action("Microsoft.KeyVault/vaults/certificates/update/action")
        .access_policy(Certificates, "update")
        .json(),
    certificate("DELETE /certificates/{name}", run!(certificates::delete))
        .action("Microsoft.KeyVault/vaults/certificates/delete")
        .access_policy(Certificates, "delete"),
    certificate("GET /certificates", run!(certificates::list))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "list"),
    certificate("GET /certificates/{name}/versions", run!(certificates::list_versions))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "list"),
    certificate("GET /certificates/{name}/policy", run!(certificates::get_policy))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "get"),
    certificate("PATCH /certificates/{name}/policy", run!(certificates::update_policy))
        .action("Microsoft.KeyVault/vaults/certificates/update/action")
        .access_policy(Certificates, "update")
        .json(),
    certificate("GET /certificates/{name}/pending", run!(certificates::get_operation))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "get"),
    certificate("PATCH /certificates/{name}/pending", run!(certificates::cancel_operation))
        .action("Microsoft.KeyVault/vaults/certificates/update/action")
        .access_policy(Certificates, "update")
        .json(),
    certificate("DELETE /certificates/{name}/pending", run!(certificates::delete_operation))
        .action("Microsoft.KeyVault/vaults/certificates/delete")
        .access_policy(Certificates, "delete"),
    certificate("POST /certificates/{name}/pending/merge", run!(certificates::merge))
        .action("Microsoft.KeyVault/vaults/certificates/create/action")
        .access_policy(Certificates, "create")
        .body(Body::Certificate),
    certificate("POST /certificates/{name}/backup", run!(certificates::backup))
        .action("Microsoft.KeyVault/vaults/certificates/backup/action")
        .access_policy(Certificates, "backup"),
    certificate("POST /certificates/restore", run!(certificates::restore))
        .action("Microsoft.KeyVault/vaults/certificates/restore/action")
        .access_policy(Certificates, "restore")
        .body(Body::Backup)
        .only_its_method(),
    certificate("GET /deletedcertificates", run!(certificates::list_deleted))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "list"),
    certificate("GET /deletedcertificates/{name}", run!(certificates::get_deleted))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "get"),
    certificate("DELETE /deletedcertificates/{name}", run!(certificates::purge))
        .action("Microsoft.KeyVault/vaults/certificates/purge/action")
        .access_policy(Certificates, "purge"),
    certificate("POST /deletedcertificates/{name}/recover", run!(certificates::recover))
        .action("Microsoft.KeyVault/vaults/certificates/recover/action")
        .access_policy(Certificates, "recover"),
    certificate("GET /certificates/contacts", run!(certificates::get_contacts))
        .action("Microsoft.KeyVault/vaults/certificates/read")
        .access_policy(Certificates, "managecontacts"),
    certificate("PUT /certificates/contacts", run!(certificates::set_contacts))
        .action("Microsoft.KeyVault/vaults/certificatecontacts/write")
        .access_policy(Certificates, "managecontacts")
        .json(),
    certificate("DELETE /certificates/contacts", run!(certificates::delete_contacts))
        .action("Microsoft.KeyVault/vaults/certificatecontacts/write")
        .access_policy(Certificates, "managecontacts"),
    certificate("GET /certificates/issuers", run!(certificates::list_issuers))
        .action("Microsoft.KeyVault/vaults/certificatecas/read")
        .access_policy(Certificates, "listissuers"),
    certificate("GET /certificates/issuers/{issuer}", run!(certificates::get_issuer))
        .action("Microsoft.KeyVault/vaults/certificatecas/read")
        .access_policy(Certificates, "getissuers"),
    certificate("PUT /certificates/issuers/{issuer}", run!(certificates::set_issuer))
        .action("Microsoft.KeyVault/vaults/certificatecas/write")
        .access_policy(Certificates, "setissuers")
        .json(),
    certificate("PATCH /certificates/issuers/{issuer}", run!(certificates::update_issuer))
        .action("Microsoft.KeyVault/vaults/certificatecas/write")
        .access_policy(Certificates, "setissuers")
        .json(),
    certificate("DELETE /certificates/issuers/{issuer}", run!(certificates::delete_issuer))
        .action("Microsoft.KeyVault/vaults/certificatecas/delete")
        .access_policy(Certificates, "deleteissuers"),
    // Strongbox's built-in CAs: not a vault data-plane operation (no access-policy permission)
    certificate("GET /_strongbox/certificateauthorities", run!(certificates::list_cas))
        .action("Microsoft.KeyVault/vaults/certificatecas/read"),
    certificate("GET /_strongbox/certificateauthorities/{ca}", run!(certificates::get_ca))
        .action("Microsoft.KeyVault/vaults/certificatecas/read"),
    certificate("PUT /_strongbox/certificateauthorities/{ca}", run!(certificates::create_ca))
        .action("Microsoft.KeyVault/vaults/certificatecas/write")
        .json(),
    // ---- Vaults: the minimal management API and the permission model (`admin.rs`) ----
    management("GET /_strongbox/vaults", run!(vaults::list)).action("Microsoft.KeyVault/vaults/read"),
    management("GET /_strongbox/vaults/{vault}", run!(vaults::get))
        .action("Microsoft.KeyVault/vaults/read")
        .scope(Scope::NamedVault),
    management("PUT /_strongbox/vaults/{vault}", run!(vaults::create))
        .action("Microsoft.KeyVault/vaults/write")
        .scope(Scope::NamedVault)
        .json(),
    management("PATCH /_strongbox/vaults/{vault}", run!(admin::update_vault_authorization))
        .action("Microsoft.KeyVault/vaults/write")
        .scope(Scope::NamedVault)
        .json(),
    management("PUT /_strongbox/vaults/{vault}/accessPolicies/{object}", run!(admin::put_access_policy))
        .action("Microsoft.KeyVault/vaults/accessPolicies/write")
        .scope(Scope::NamedVault)
        .json(),
    management("DELETE /_strongbox/vaults/{vault}/accessPolicies/{object}", run!(admin::delete_access_policy))
        .action("Microsoft.KeyVault/vaults/accessPolicies/write")
        .scope(Scope::NamedVault),
    // ---- The keyring (`operator.rs`) ----
    management("GET /_strongbox/sys/keyring", run!(operator::keyring_status)).action("Microsoft.KeyVault/vaults/read"),
    management("POST /_strongbox/sys/keyring/rotate", run!(operator::rotate_keyring))
        .action("Microsoft.KeyVault/vaults/write"),
    // ---- Dev mode: move the clock (`admin.rs`; refused unless the server runs with --dev) ----
    management("POST /_strongbox/dev/time-shift", run!(admin::time_shift))
        .action("Microsoft.KeyVault/vaults/write")
        .json(),
    // ---- Groups, deny assignments, PIM (`admin.rs`) ----
    management("GET /_strongbox/groups", run!(admin::list_groups)).action("Microsoft.KeyVault/vaults/groups/read"),
    management("POST /_strongbox/groups", run!(admin::create_group))
        .action("Microsoft.KeyVault/vaults/groups/write")
        .json(),
    management("GET /_strongbox/groups/{group}", run!(admin::get_group))
        .action("Microsoft.KeyVault/vaults/groups/read"),
    management("DELETE /_strongbox/groups/{group}", run!(admin::delete_group))
        .action("Microsoft.KeyVault/vaults/groups/write"),
    management("GET /_strongbox/groups/{group}/members", run!(admin::list_group_members))
        .action("Microsoft.KeyVault/vaults/groups/read"),
    management("PUT /_strongbox/groups/{group}/members/{member}", run!(admin::add_group_member))
        .action("Microsoft.KeyVault/vaults/groups/write"),
    management("DELETE /_strongbox/groups/{group}/members/{member}", run!(admin::remove_group_member))
        .action("Microsoft.KeyVault/vaults/groups/write"),
    management("GET /_strongbox/denyAssignments", run!(admin::list_deny_assignments))
        .action("Microsoft.KeyVault/vaults/denyAssignments/read"),
    management("GET /_strongbox/denyAssignments/{id}", run!(admin::get_deny_assignment))
        .action("Microsoft.KeyVault/vaults/denyAssignments/read"),
    management("PUT /_strongbox/denyAssignments/{id}", run!(admin::put_deny_assignment))
        .action("Microsoft.KeyVault/vaults/denyAssignments/write")
        .json(),
    management("DELETE /_strongbox/denyAssignments/{id}", run!(admin::delete_deny_assignment))
        .action("Microsoft.KeyVault/vaults/denyAssignments/write"),
    management("GET /_strongbox/pim/eligible", run!(admin::list_eligible_assignments))
        .action("Microsoft.KeyVault/vaults/roleAssignments/read/action"),
    management("PUT /_strongbox/pim/eligible/{id}", run!(admin::put_eligible_assignment))
        .action("Microsoft.KeyVault/vaults/roleAssignments/write/action")
        .json(),
    management("DELETE /_strongbox/pim/eligible/{id}", run!(admin::delete_eligible_assignment))
        .action("Microsoft.KeyVault/vaults/roleAssignments/write/action"),
    // activations are open to every authenticated caller: the service checks eligibility,
    // approver lists and ownership
    management("GET /_strongbox/pim/requests", run!(admin::list_activations))
        .action("Microsoft.KeyVault/vaults/roleAssignments/activate/action")
        .by_service(),
    management("POST /_strongbox/pim/requests", run!(admin::request_activation))
        .action("Microsoft.KeyVault/vaults/roleAssignments/activate/action")
        .by_service()
        .json(),
    management("POST /_strongbox/pim/requests/{id}/approve", run!(admin::approve_activation))
        .action("Microsoft.KeyVault/vaults/roleAssignments/activate/action")
        .by_service(),
    management("POST /_strongbox/pim/requests/{id}/deny", run!(admin::deny_activation))
        .action("Microsoft.KeyVault/vaults/roleAssignments/activate/action")
        .by_service(),
    management("POST /_strongbox/pim/requests/{id}/revoke", run!(admin::revoke_activation))
        .action("Microsoft.KeyVault/vaults/roleAssignments/activate/action")
        .by_service(),
    // ---- Role definitions and assignments: the Managed HSM RBAC data plane (wire §8.1) ----
    role_management("GET {scope}/providers/Microsoft.Authorization/roleDefinitions", run!(rbac::list_definitions))
        .action("Microsoft.KeyVault/vaults/roleDefinitions/read/action"),
    role_management("GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{name}", run!(rbac::get_definition))
        .action("Microsoft.KeyVault/vaults/roleDefinitions/read/action"),
    role_management("PUT {scope}/providers/Microsoft.Authorization/roleDefinitions/{name}", run!(rbac::put_definition))
        .action("Microsoft.KeyVault/vaults/roleDefinitions/write/action")
        .json(),
    role_management(
        "DELETE {scope}/providers/Microsoft.Authorization/roleDefinitions/{name}",
        run!(rbac::delete_definition),
    )
    .action("Microsoft.KeyVault/vaults/roleDefinitions/delete/action"),
    role_management("GET {scope}/providers/Microsoft.Authorization/roleAssignments", run!(rbac::list_assignments))
        .action("Microsoft.KeyVault/vaults/roleAssignments/read/action"),
    role_management("GET {scope}/providers/Microsoft.Authorization/roleAssignments/{name}", run!(rbac::get_assignment))
        .action("Microsoft.KeyVault/vaults/roleAssignments/read/action"),
    role_management("PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}", run!(rbac::put_assignment))
        .action("Microsoft.KeyVault/vaults/roleAssignments/write/action")
        .json(),
    role_management(
        "DELETE {scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        run!(rbac::delete_assignment),
    )
    .action("Microsoft.KeyVault/vaults/roleAssignments/delete/action"),
    // ---- Directory (`directory.rs`): `{id}` is the application (client) id or the object id ----
    management("POST /_strongbox/serviceprincipals", run!(vaults::create_service_principal))
        .action("Microsoft.KeyVault/vaults/write")
        .json()
        .only_its_method(),
    directory("GET /_strongbox/serviceprincipals", run!(directory::list_service_principals)),
    directory("GET /_strongbox/serviceprincipals/{id}", run!(directory::get_service_principal)),
    directory("PATCH /_strongbox/serviceprincipals/{id}", run!(directory::update_service_principal)).json(),
    directory("DELETE /_strongbox/serviceprincipals/{id}", run!(directory::delete_service_principal)),
    directory("GET /_strongbox/serviceprincipals/{id}/credentials", run!(directory::list_credentials)),
    directory("POST /_strongbox/serviceprincipals/{id}/credentials", run!(directory::add_secret)).json(),
    directory("DELETE /_strongbox/serviceprincipals/{id}/credentials/{key_id}", run!(directory::delete_credential)),
    directory("POST /_strongbox/serviceprincipals/{id}/certificates", run!(directory::upload_certificate)).json(),
    directory("GET /_strongbox/serviceprincipals/{id}/federatedcredentials", run!(directory::list_federated)),
    directory("POST /_strongbox/serviceprincipals/{id}/federatedcredentials", run!(directory::create_federated)).json(),
    directory(
        "DELETE /_strongbox/serviceprincipals/{id}/federatedcredentials/{fed}",
        run!(directory::delete_federated),
    ),
    directory("GET /_strongbox/attestationauthorities", run!(directory::list_attestation_authorities)),
    directory("PUT /_strongbox/attestationauthorities/{name}", run!(directory::put_attestation_authority)).json(),
    directory("DELETE /_strongbox/attestationauthorities/{name}", run!(directory::delete_attestation_authority)),
    directory("GET /_strongbox/trustedissuers", run!(directory::list_trusted_issuers)),
    directory("PUT /_strongbox/trustedissuers/{name}", run!(directory::put_trusted_issuer)).json(),
    directory("PATCH /_strongbox/trustedissuers/{name}", run!(directory::set_user_tokens)).json(),
    directory("DELETE /_strongbox/trustedissuers/{name}", run!(directory::delete_trusted_issuer)),
    directory("POST /_strongbox/trustedissuers/{name}/principalid", run!(directory::external_principal_id)).json(),
    directory("GET /_strongbox/identitypolicy", run!(directory::get_identity_policy)),
    directory("PUT /_strongbox/identitypolicy", run!(directory::set_identity_policy)).json(),
    directory("POST /_strongbox/managedidentities", run!(directory::create_managed_identity)).json(),
    directory("POST /_strongbox/managedidentities/{id}/enrollmentcode", run!(directory::new_enrollment_code)).json(),
    directory("GET /_strongbox/users", run!(directory::list_users)),
    directory("POST /_strongbox/users", run!(directory::create_user)).json(),
    directory("GET /_strongbox/users/{id}", run!(directory::get_user)),
    directory("PATCH /_strongbox/users/{id}", run!(directory::update_user)).json(),
    directory("DELETE /_strongbox/users/{id}", run!(directory::delete_user)),
    // anything else up to three segments below a directory collection: authorised, then refused
    directory_fallback("* /_strongbox/serviceprincipals[/{_}[/{_}[/{_}]]]"),
    directory_fallback("* /_strongbox/trustedissuers[/{_}[/{_}[/{_}]]]"),
    directory_fallback("* /_strongbox/attestationauthorities[/{_}[/{_}[/{_}]]]"),
    directory_fallback("* /_strongbox/identitypolicy[/{_}[/{_}[/{_}]]]"),
    directory_fallback("* /_strongbox/managedidentities[/{_}[/{_}[/{_}]]]"),
    directory_fallback("* /_strongbox/users[/{_}[/{_}[/{_}]]]"),
];
