//! Method + path → operation, and each operation's declared data action.

use axum::http::Method;
use strongbox_types::{Error, ErrorKind, Result};

/// A vault data-plane (or management) operation. Names and versions are raw path segments;
/// the services parse them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    SetSecret(String),
    GetSecret(String, Option<String>),
    UpdateSecret(String, Option<String>),
    DeleteSecret(String),
    ListSecrets,
    ListSecretVersions(String),
    BackupSecret(String),
    RestoreSecret,
    ListDeletedSecrets,
    GetDeletedSecret(String),
    PurgeDeletedSecret(String),
    RecoverDeletedSecret(String),
    CreateKey(String),
    ImportKey(String),
    GetKey(String, Option<String>),
    UpdateKey(String, Option<String>),
    DeleteKey(String),
    ListKeys,
    ListKeyVersions(String),
    BackupKey(String),
    RestoreKey,
    ListDeletedKeys,
    GetDeletedKey(String),
    PurgeDeletedKey(String),
    RecoverDeletedKey(String),
    KeyOp(String, Option<String>, KeyOp),
    RotateKey(String),
    GetRotationPolicy(String),
    SetRotationPolicy(String),
    /// `POST /keys/{name}[/{version}]/release` (secure key release).
    ReleaseKey(String, Option<String>),
    Rng,
    /// Certificates, key rotation and release: not built yet; answered with
    /// an honest 501 after authentication.
    NotYet(&'static str),
    /// `/certificates…` and `/deletedcertificates…` (see `certificates.rs`).
    Certificate(crate::certificates::CertRoute),
    VaultList,
    VaultGet(String),
    VaultCreate(String),
    /// `POST /_strongbox/serviceprincipals` (until the identity issue's full management API).
    CreateServicePrincipal,
    /// The directory management API (`/_strongbox/serviceprincipals/…`, `/_strongbox/trustedissuers/…`,
    /// `/_strongbox/identitypolicy`): method and the segments after `_strongbox`.
    Directory(Method, Vec<String>),
    /// `/{scope}/providers/Microsoft.Authorization/roleDefinitions[/{name}]` (scope relative to
    /// the vault).
    RoleDefinitions(String, Option<String>),
    /// `PUT …/roleDefinitions/{name}`: a custom role.
    PutRoleDefinition(String, String),
    DeleteRoleDefinition(String, String),
    /// Strongbox's authorization management API (`/_strongbox/groups|denyAssignments|pim/…`,
    /// vault permission model and access policies): see `admin.rs`.
    Admin(crate::admin::AdminRoute),
    ListRoleAssignments(String),
    GetRoleAssignment(String, String),
    PutRoleAssignment(String, String),
    DeleteRoleAssignment(String, String),
}

/// The cryptographic operations of `POST /keys/{name}/{version}/{op}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOp {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    WrapKey,
    UnwrapKey,
}

impl KeyOp {
    /// Path segment, matched case-insensitively (`wrapkey` in the spec, `wrapKey` elsewhere).
    fn parse(seg: &str) -> Option<Self> {
        match seg.to_ascii_lowercase().as_str() {
            "encrypt" => Some(Self::Encrypt),
            "decrypt" => Some(Self::Decrypt),
            "sign" => Some(Self::Sign),
            "verify" => Some(Self::Verify),
            "wrapkey" => Some(Self::WrapKey),
            "unwrapkey" => Some(Self::UnwrapKey),
            _ => None,
        }
    }

    /// The `key_ops` entry that must allow it.
    pub fn key_op(self) -> &'static str {
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

/// Which handler module serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Secrets,
    Keys,
    Vaults,
    Rbac,
    Directory,
    Admin,
    Certificates,
    NotYet,
}

impl Route {
    pub fn family(&self) -> Family {
        match self {
            Route::SetSecret(_)
            | Route::GetSecret(..)
            | Route::UpdateSecret(..)
            | Route::DeleteSecret(_)
            | Route::ListSecrets
            | Route::ListSecretVersions(_)
            | Route::BackupSecret(_)
            | Route::RestoreSecret
            | Route::ListDeletedSecrets
            | Route::GetDeletedSecret(_)
            | Route::PurgeDeletedSecret(_)
            | Route::RecoverDeletedSecret(_) => Family::Secrets,
            Route::CreateKey(_)
            | Route::ImportKey(_)
            | Route::GetKey(..)
            | Route::UpdateKey(..)
            | Route::DeleteKey(_)
            | Route::ListKeys
            | Route::ListKeyVersions(_)
            | Route::BackupKey(_)
            | Route::RestoreKey
            | Route::ListDeletedKeys
            | Route::GetDeletedKey(_)
            | Route::PurgeDeletedKey(_)
            | Route::RecoverDeletedKey(_)
            | Route::KeyOp(..)
            | Route::RotateKey(_)
            | Route::GetRotationPolicy(_)
            | Route::SetRotationPolicy(_)
            | Route::ReleaseKey(..)
            | Route::Rng => Family::Keys,
            Route::VaultList | Route::VaultGet(_) | Route::VaultCreate(_) | Route::CreateServicePrincipal => {
                Family::Vaults
            }
            Route::RoleDefinitions(..)
            | Route::PutRoleDefinition(..)
            | Route::DeleteRoleDefinition(..)
            | Route::ListRoleAssignments(_)
            | Route::GetRoleAssignment(..)
            | Route::PutRoleAssignment(..)
            | Route::DeleteRoleAssignment(..) => Family::Rbac,
            Route::Admin(_) => Family::Admin,
            Route::Directory(..) => Family::Directory,
            Route::NotYet(_) => Family::NotYet,
            Route::Certificate(_) => Family::Certificates,
        }
    }

    /// The RBAC data action this operation requires (Azure's names; wire §11.1).
    pub fn data_action(&self) -> &'static str {
        match self {
            Route::SetSecret(_) => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
            Route::GetSecret(..) => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            Route::UpdateSecret(..) => "Microsoft.KeyVault/vaults/secrets/update/action",
            Route::DeleteSecret(_) => "Microsoft.KeyVault/vaults/secrets/delete",
            Route::ListSecrets | Route::ListSecretVersions(_) => {
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
            }
            Route::BackupSecret(_) => "Microsoft.KeyVault/vaults/secrets/backup/action",
            Route::RestoreSecret => "Microsoft.KeyVault/vaults/secrets/restore/action",
            Route::ListDeletedSecrets | Route::GetDeletedSecret(_) => {
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
            }
            Route::PurgeDeletedSecret(_) => "Microsoft.KeyVault/vaults/secrets/purge/action",
            Route::RecoverDeletedSecret(_) => "Microsoft.KeyVault/vaults/secrets/recover/action",
            Route::CreateKey(_) => "Microsoft.KeyVault/vaults/keys/create/action",
            Route::ImportKey(_) => "Microsoft.KeyVault/vaults/keys/import/action",
            Route::GetKey(..)
            | Route::ListKeys
            | Route::ListKeyVersions(_)
            | Route::ListDeletedKeys
            | Route::GetDeletedKey(_) => "Microsoft.KeyVault/vaults/keys/read",
            Route::UpdateKey(..) => "Microsoft.KeyVault/vaults/keys/update/action",
            Route::DeleteKey(_) => "Microsoft.KeyVault/vaults/keys/delete",
            Route::BackupKey(_) => "Microsoft.KeyVault/vaults/keys/backup/action",
            Route::RestoreKey => "Microsoft.KeyVault/vaults/keys/restore/action",
            Route::PurgeDeletedKey(_) => "Microsoft.KeyVault/vaults/keys/purge/action",
            Route::RecoverDeletedKey(_) => "Microsoft.KeyVault/vaults/keys/recover/action",
            Route::KeyOp(_, _, op) => match op {
                KeyOp::Encrypt => "Microsoft.KeyVault/vaults/keys/encrypt/action",
                KeyOp::Decrypt => "Microsoft.KeyVault/vaults/keys/decrypt/action",
                KeyOp::Sign => "Microsoft.KeyVault/vaults/keys/sign/action",
                KeyOp::Verify => "Microsoft.KeyVault/vaults/keys/verify/action",
                KeyOp::WrapKey => "Microsoft.KeyVault/vaults/keys/wrap/action",
                KeyOp::UnwrapKey => "Microsoft.KeyVault/vaults/keys/unwrap/action",
            },
            Route::RotateKey(_) => "Microsoft.KeyVault/vaults/keys/rotate/action",
            Route::GetRotationPolicy(_) => "Microsoft.KeyVault/vaults/keyrotationpolicies/read",
            Route::SetRotationPolicy(_) => "Microsoft.KeyVault/vaults/keyrotationpolicies/write",
            Route::Rng => "Microsoft.KeyVault/vaults/rng/action",
            Route::ReleaseKey(..) => "Microsoft.KeyVault/vaults/keys/release/action",
            Route::NotYet(action) => action,
            Route::Certificate(c) => c.data_action(),
            Route::VaultList | Route::VaultGet(_) => "Microsoft.KeyVault/vaults/read",
            Route::VaultCreate(_) | Route::CreateServicePrincipal => "Microsoft.KeyVault/vaults/write",
            // Directory management is for deployment administrators only.
            Route::Directory(..) => "Microsoft.KeyVault/vaults/write",
            Route::RoleDefinitions(..) => "Microsoft.KeyVault/vaults/roleDefinitions/read/action",
            Route::PutRoleDefinition(..) => "Microsoft.KeyVault/vaults/roleDefinitions/write/action",
            Route::DeleteRoleDefinition(..) => "Microsoft.KeyVault/vaults/roleDefinitions/delete/action",
            Route::Admin(a) => a.data_action(),
            Route::ListRoleAssignments(_) | Route::GetRoleAssignment(..) => {
                "Microsoft.KeyVault/vaults/roleAssignments/read/action"
            }
            Route::PutRoleAssignment(..) => "Microsoft.KeyVault/vaults/roleAssignments/write/action",
            Route::DeleteRoleAssignment(..) => "Microsoft.KeyVault/vaults/roleAssignments/delete/action",
        }
    }

    /// The RBAC scope the operation touches (`/vaults/{vault}[/secrets/{name}]`).
    pub fn scope(&self, vault: &str) -> String {
        match self {
            Route::SetSecret(n)
            | Route::GetSecret(n, _)
            | Route::UpdateSecret(n, _)
            | Route::DeleteSecret(n)
            | Route::ListSecretVersions(n)
            | Route::BackupSecret(n)
            | Route::GetDeletedSecret(n)
            | Route::PurgeDeletedSecret(n)
            | Route::RecoverDeletedSecret(n) => format!("/vaults/{vault}/secrets/{n}"),
            Route::CreateKey(n)
            | Route::ImportKey(n)
            | Route::GetKey(n, _)
            | Route::UpdateKey(n, _)
            | Route::DeleteKey(n)
            | Route::ListKeyVersions(n)
            | Route::BackupKey(n)
            | Route::GetDeletedKey(n)
            | Route::PurgeDeletedKey(n)
            | Route::RecoverDeletedKey(n)
            | Route::KeyOp(n, _, _)
            | Route::RotateKey(n)
            | Route::GetRotationPolicy(n)
            | Route::SetRotationPolicy(n)
            | Route::ReleaseKey(n, _) => format!("/vaults/{vault}/keys/{n}"),
            Route::VaultGet(n) | Route::VaultCreate(n) => format!("/vaults/{n}"),
            Route::RoleDefinitions(scope, _)
            | Route::PutRoleDefinition(scope, _)
            | Route::DeleteRoleDefinition(scope, _)
            | Route::ListRoleAssignments(scope)
            | Route::GetRoleAssignment(scope, _)
            | Route::PutRoleAssignment(scope, _)
            | Route::DeleteRoleAssignment(scope, _) => absolute_scope(vault, scope),
            Route::VaultList | Route::CreateServicePrincipal | Route::Directory(..) => "/".into(),
            Route::Admin(a) => a.scope(),
            Route::Certificate(c) => c.scope(vault),
            Route::ListSecrets
            | Route::RestoreSecret
            | Route::ListDeletedSecrets
            | Route::ListKeys
            | Route::RestoreKey
            | Route::ListDeletedKeys
            | Route::Rng
            | Route::NotYet(_) => {
                format!("/vaults/{vault}")
            }
        }
    }

    /// Routes whose authorization the service itself decides (PIM self-service: eligibility
    /// and approver lists), so the central RBAC check is skipped for them.
    pub fn self_authorized(&self) -> bool {
        matches!(self, Route::Admin(a) if a.self_authorized())
    }

    /// Requests that carry a JSON body.
    pub fn wants_body(&self) -> bool {
        matches!(
            self,
            Route::SetSecret(_)
                | Route::UpdateSecret(..)
                | Route::RestoreSecret
                | Route::VaultCreate(_)
                | Route::CreateKey(_)
                | Route::ImportKey(_)
                | Route::UpdateKey(..)
                | Route::RestoreKey
                | Route::KeyOp(..)
                | Route::SetRotationPolicy(_)
                | Route::ReleaseKey(..)
                | Route::Rng
                | Route::PutRoleAssignment(..)
                | Route::PutRoleDefinition(..)
                | Route::CreateServicePrincipal
        ) || matches!(self, Route::Admin(a) if a.wants_body())
            || matches!(self, Route::Certificate(c) if c.wants_body())
            || matches!(self, Route::Directory(m, _) if *m != Method::GET && *m != Method::DELETE)
    }

    pub fn parse(method: &Method, segs: &[&str]) -> Result<Route> {
        if let Some(r) = Self::parse_rbac(method, segs) {
            return r;
        }
        let lit = |i: usize, s: &str| segs.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s));
        let own = |i: usize| segs.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
        let m = method.clone();
        let nf = || Error::new(ErrorKind::RouteNotFound, "The requested path does not exist on this vault.");
        let na = || Error::new(ErrorKind::MethodNotAllowed, format!("The method {m} is not supported on this path."));
        let first = segs.first().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
        if first == "_strongbox"
            && let Some(r) = crate::admin::AdminRoute::parse(method, segs)
        {
            return r.map(Route::Admin);
        }
        match (first.as_str(), segs.len()) {
            ("secrets", 1) => match *method {
                Method::GET => Ok(Route::ListSecrets),
                _ => Err(na()),
            },
            ("secrets", 2) if lit(1, "restore") && *method == Method::POST => Ok(Route::RestoreSecret),
            ("secrets", 2) => match *method {
                Method::PUT => Ok(Route::SetSecret(own(1))),
                Method::GET => Ok(Route::GetSecret(own(1), None)),
                Method::PATCH => Ok(Route::UpdateSecret(own(1), None)),
                Method::DELETE => Ok(Route::DeleteSecret(own(1))),
                _ => Err(na()),
            },
            ("secrets", 3) if lit(2, "versions") => match *method {
                Method::GET => Ok(Route::ListSecretVersions(own(1))),
                _ => Err(na()),
            },
            ("secrets", 3) if lit(2, "backup") => match *method {
                Method::POST => Ok(Route::BackupSecret(own(1))),
                _ => Err(na()),
            },
            ("secrets", 3) => match *method {
                Method::GET => Ok(Route::GetSecret(own(1), Some(own(2)))),
                Method::PATCH => Ok(Route::UpdateSecret(own(1), Some(own(2)))),
                _ => Err(na()),
            },
            ("deletedsecrets", 1) => match *method {
                Method::GET => Ok(Route::ListDeletedSecrets),
                _ => Err(na()),
            },
            ("deletedsecrets", 2) => match *method {
                Method::GET => Ok(Route::GetDeletedSecret(own(1))),
                Method::DELETE => Ok(Route::PurgeDeletedSecret(own(1))),
                _ => Err(na()),
            },
            ("deletedsecrets", 3) if lit(2, "recover") => match *method {
                Method::POST => Ok(Route::RecoverDeletedSecret(own(1))),
                _ => Err(na()),
            },
            ("keys", 1) => match *method {
                Method::GET => Ok(Route::ListKeys),
                _ => Err(na()),
            },
            ("keys", 2) if lit(1, "restore") && *method == Method::POST => Ok(Route::RestoreKey),
            ("keys", 2) => match *method {
                Method::PUT => Ok(Route::ImportKey(own(1))),
                Method::GET => Ok(Route::GetKey(own(1), None)),
                Method::PATCH => Ok(Route::UpdateKey(own(1), None)),
                Method::DELETE => Ok(Route::DeleteKey(own(1))),
                _ => Err(na()),
            },
            ("keys", 3) if lit(2, "versions") => match *method {
                Method::GET => Ok(Route::ListKeyVersions(own(1))),
                _ => Err(na()),
            },
            ("keys", 3) if lit(2, "create") || lit(2, "backup") => match (*method == Method::POST, lit(2, "create")) {
                (true, true) => Ok(Route::CreateKey(own(1))),
                (true, false) => Ok(Route::BackupKey(own(1))),
                _ => Err(na()),
            },
            // A client without a version sends `/keys/{name}//release` (the empty segment is dropped).
            ("keys", 3) if lit(2, "release") => match *method {
                Method::POST => Ok(Route::ReleaseKey(own(1), None)),
                _ => Err(na()),
            },
            ("keys", 4) if lit(3, "release") => match *method {
                Method::POST => Ok(Route::ReleaseKey(own(1), Some(own(2)))),
                _ => Err(na()),
            },
            ("keys", 3) if lit(2, "rotate") => match *method {
                Method::POST => Ok(Route::RotateKey(own(1))),
                _ => Err(na()),
            },
            ("keys", 3) if lit(2, "rotationpolicy") => match *method {
                Method::GET => Ok(Route::GetRotationPolicy(own(1))),
                Method::PUT => Ok(Route::SetRotationPolicy(own(1))),
                _ => Err(na()),
            },
            ("keys", 3) if KeyOp::parse(segs[2]).is_some() => match (*method == Method::POST, KeyOp::parse(segs[2])) {
                (true, Some(op)) => Ok(Route::KeyOp(own(1), None, op)),
                _ => Err(na()),
            },
            ("keys", 3) => match *method {
                Method::GET => Ok(Route::GetKey(own(1), Some(own(2)))),
                Method::PATCH => Ok(Route::UpdateKey(own(1), Some(own(2)))),
                _ => Err(na()),
            },
            ("keys", 4) if KeyOp::parse(segs[3]).is_some() => match (*method == Method::POST, KeyOp::parse(segs[3])) {
                (true, Some(op)) => Ok(Route::KeyOp(own(1), Some(own(2)), op)),
                _ => Err(na()),
            },
            ("keys", 4) if lit(3, "attestation") => Ok(Route::NotYet("Microsoft.KeyVault/vaults/keys/release/action")),
            ("deletedkeys", 1) => match *method {
                Method::GET => Ok(Route::ListDeletedKeys),
                _ => Err(na()),
            },
            ("deletedkeys", 2) => match *method {
                Method::GET => Ok(Route::GetDeletedKey(own(1))),
                Method::DELETE => Ok(Route::PurgeDeletedKey(own(1))),
                _ => Err(na()),
            },
            ("deletedkeys", 3) if lit(2, "recover") => match *method {
                Method::POST => Ok(Route::RecoverDeletedKey(own(1))),
                _ => Err(na()),
            },
            ("certificates" | "deletedcertificates", _) => {
                crate::certificates::CertRoute::parse(method, segs).map(Route::Certificate)
            }
            ("rng", 1) => match *method {
                Method::POST => Ok(Route::Rng),
                _ => Err(na()),
            },
            ("_strongbox", 2..=3) if lit(1, "certificateauthorities") => {
                crate::certificates::CertRoute::parse_ca(method, segs).map(Route::Certificate)
            }
            ("_strongbox", 2) if lit(1, "vaults") => match *method {
                Method::GET => Ok(Route::VaultList),
                _ => Err(na()),
            },
            ("_strongbox", 2) if lit(1, "serviceprincipals") && *method == Method::POST => {
                Ok(Route::CreateServicePrincipal)
            }
            ("_strongbox", 2..=5)
                if lit(1, "serviceprincipals")
                    || lit(1, "trustedissuers")
                    || lit(1, "attestationauthorities")
                    || lit(1, "identitypolicy")
                    || lit(1, "managedidentities")
                    || lit(1, "users") =>
            {
                Ok(Route::Directory(method.clone(), segs[1..].iter().map(|s| (*s).to_owned()).collect()))
            }
            ("_strongbox", 3) if lit(1, "vaults") => match *method {
                Method::GET => Ok(Route::VaultGet(own(2))),
                Method::PUT => Ok(Route::VaultCreate(own(2))),
                _ => Err(na()),
            },
            _ => Err(nf()),
        }
    }
}

/// An RBAC scope relative to a vault (`/`, `/keys`, `/secrets/{name}`) made absolute.
pub fn absolute_scope(vault: &str, relative: &str) -> String {
    let rel: Vec<&str> = relative.split('/').filter(|s| !s.is_empty()).collect();
    if rel.is_empty() { format!("/vaults/{vault}") } else { format!("/vaults/{vault}/{}", rel.join("/")) }
}

impl Route {
    /// The Managed HSM RBAC data plane: `/{scope}/providers/Microsoft.Authorization/...`.
    fn parse_rbac(method: &Method, segs: &[&str]) -> Option<Result<Route>> {
        let i = segs.windows(2).position(|w| {
            w[0].eq_ignore_ascii_case("providers") && w[1].eq_ignore_ascii_case("Microsoft.Authorization")
        })?;
        let scope = format!("/{}", segs[..i].join("/"));
        let kind = segs.get(i + 2).map(|s| s.to_ascii_lowercase());
        let name = segs.get(i + 3).map(|s| (*s).to_owned());
        let na =
            || Error::new(ErrorKind::MethodNotAllowed, format!("The method {method} is not supported on this path."));
        let nf = || Error::new(ErrorKind::RouteNotFound, "The requested path does not exist on this vault.");
        if segs.len() > i + 4 {
            return Some(Err(nf()));
        }
        Some(match (kind.as_deref(), name, method.clone()) {
            (Some("roledefinitions"), n, Method::GET) => Ok(Route::RoleDefinitions(scope, n)),
            (Some("roledefinitions"), Some(n), Method::PUT) => Ok(Route::PutRoleDefinition(scope, n)),
            (Some("roledefinitions"), Some(n), Method::DELETE) => Ok(Route::DeleteRoleDefinition(scope, n)),
            (Some("roledefinitions"), _, _) => Err(na()),
            (Some("roleassignments"), None, Method::GET) => Ok(Route::ListRoleAssignments(scope)),
            (Some("roleassignments"), Some(n), Method::GET) => Ok(Route::GetRoleAssignment(scope, n)),
            (Some("roleassignments"), Some(n), Method::PUT) => Ok(Route::PutRoleAssignment(scope, n)),
            (Some("roleassignments"), Some(n), Method::DELETE) => Ok(Route::DeleteRoleAssignment(scope, n)),
            (Some("roleassignments"), _, _) => Err(na()),
            _ => Err(nf()),
        })
    }
}

/// One request per route shape, for tests that must cover every route.
pub fn all_route_examples() -> Vec<(Method, &'static str)> {
    let mut v = crate::certificates::route_examples();
    v.extend(vec![
        (Method::PUT, "/secrets/a"),
        (Method::GET, "/secrets/a"),
        (Method::GET, "/secrets/a/0123456789abcdef0123456789abcdef"),
        (Method::PATCH, "/secrets/a"),
        (Method::PATCH, "/secrets/a/0123456789abcdef0123456789abcdef"),
        (Method::DELETE, "/secrets/a"),
        (Method::GET, "/secrets"),
        (Method::GET, "/secrets/a/versions"),
        (Method::POST, "/secrets/a/backup"),
        (Method::POST, "/secrets/restore"),
        (Method::GET, "/deletedsecrets"),
        (Method::GET, "/deletedsecrets/a"),
        (Method::DELETE, "/deletedsecrets/a"),
        (Method::POST, "/deletedsecrets/a/recover"),
        (Method::POST, "/keys/k/create"),
        (Method::PUT, "/keys/k"),
        (Method::GET, "/keys/k"),
        (Method::GET, "/keys/k/0123456789abcdef0123456789abcdef"),
        (Method::PATCH, "/keys/k"),
        (Method::PATCH, "/keys/k/0123456789abcdef0123456789abcdef"),
        (Method::DELETE, "/keys/k"),
        (Method::GET, "/keys"),
        (Method::GET, "/keys/k/versions"),
        (Method::POST, "/keys/k/backup"),
        (Method::POST, "/keys/restore"),
        (Method::GET, "/deletedkeys"),
        (Method::GET, "/deletedkeys/k"),
        (Method::DELETE, "/deletedkeys/k"),
        (Method::POST, "/deletedkeys/k/recover"),
        (Method::POST, "/keys/k/0123456789abcdef0123456789abcdef/encrypt"),
        (Method::POST, "/keys/k/0123456789abcdef0123456789abcdef/decrypt"),
        (Method::POST, "/keys/k/0123456789abcdef0123456789abcdef/sign"),
        (Method::POST, "/keys/k/0123456789abcdef0123456789abcdef/verify"),
        (Method::POST, "/keys/k/0123456789abcdef0123456789abcdef/wrapkey"),
        (Method::POST, "/keys/k/0123456789abcdef0123456789abcdef/unwrapkey"),
        (Method::POST, "/keys/k/sign"),
        (Method::POST, "/keys/k/rotate"),
        (Method::GET, "/keys/k/rotationpolicy"),
        (Method::PUT, "/keys/k/rotationpolicy"),
        (Method::POST, "/keys/k/0123456789abcdef0123456789abcdef/release"),
        (Method::GET, "/certificates/c"),
        (Method::POST, "/rng"),
        (Method::GET, "/_strongbox/vaults"),
        (Method::GET, "/_strongbox/vaults/v"),
        (Method::PUT, "/_strongbox/vaults/v"),
        (Method::POST, "/_strongbox/serviceprincipals"),
        (Method::GET, "/_strongbox/serviceprincipals"),
        (Method::PATCH, "/_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::POST, "/_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/credentials"),
        (Method::GET, "/_strongbox/trustedissuers"),
        (Method::GET, "/_strongbox/identitypolicy"),
        (Method::GET, "/providers/Microsoft.Authorization/roleDefinitions"),
        (Method::GET, "/providers/Microsoft.Authorization/roleDefinitions/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::PUT, "/providers/Microsoft.Authorization/roleDefinitions/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::DELETE, "/providers/Microsoft.Authorization/roleDefinitions/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::PATCH, "/_strongbox/vaults/v"),
        (Method::PUT, "/_strongbox/vaults/v/accessPolicies/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::DELETE, "/_strongbox/vaults/v/accessPolicies/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::GET, "/_strongbox/groups"),
        (Method::POST, "/_strongbox/groups"),
        (Method::GET, "/_strongbox/groups/g"),
        (Method::DELETE, "/_strongbox/groups/g"),
        (Method::GET, "/_strongbox/groups/g/members"),
        (Method::PUT, "/_strongbox/groups/g/members/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::DELETE, "/_strongbox/groups/g/members/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::GET, "/_strongbox/denyAssignments"),
        (Method::GET, "/_strongbox/denyAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::PUT, "/_strongbox/denyAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::DELETE, "/_strongbox/denyAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::GET, "/_strongbox/pim/eligible"),
        (Method::PUT, "/_strongbox/pim/eligible/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::DELETE, "/_strongbox/pim/eligible/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
        (Method::GET, "/_strongbox/pim/requests"),
        (Method::POST, "/_strongbox/pim/requests"),
        (Method::POST, "/_strongbox/pim/requests/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/approve"),
        (Method::POST, "/_strongbox/pim/requests/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/deny"),
        (Method::POST, "/_strongbox/pim/requests/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/revoke"),
        (Method::GET, "/keys/providers/Microsoft.Authorization/roleAssignments"),
        (
            Method::GET,
            "/secrets/s/providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        ),
        (
            Method::PUT,
            "/secrets/s/providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        ),
        (Method::DELETE, "/providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a"),
    ]);
    v
}
