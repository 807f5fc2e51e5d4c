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
    /// Keys, certificates and the rest of the Key Vault surface: not built yet; answered with
    /// an honest 501 after authentication.
    NotYet(&'static str),
    VaultList,
    VaultGet(String),
    VaultCreate(String),
}

impl Route {
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
            Route::ListDeletedSecrets | Route::GetDeletedSecret(_) => "Microsoft.KeyVault/vaults/deletedSecrets/read",
            Route::PurgeDeletedSecret(_) => "Microsoft.KeyVault/vaults/deletedSecrets/delete",
            Route::RecoverDeletedSecret(_) => "Microsoft.KeyVault/vaults/deletedSecrets/recover/action",
            Route::NotYet(action) => action,
            Route::VaultList | Route::VaultGet(_) => "Microsoft.KeyVault/vaults/read",
            Route::VaultCreate(_) => "Microsoft.KeyVault/vaults/write",
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
            Route::VaultGet(n) | Route::VaultCreate(n) => format!("/vaults/{n}"),
            Route::VaultList => "/".into(),
            Route::ListSecrets | Route::RestoreSecret | Route::ListDeletedSecrets | Route::NotYet(_) => {
                format!("/vaults/{vault}")
            }
        }
    }

    /// Requests that carry a JSON body.
    pub fn wants_body(&self) -> bool {
        matches!(self, Route::SetSecret(_) | Route::UpdateSecret(..) | Route::RestoreSecret | Route::VaultCreate(_))
    }

    pub fn parse(method: &Method, segs: &[&str]) -> Result<Route> {
        let lit = |i: usize, s: &str| segs.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s));
        let own = |i: usize| segs.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
        let m = method.clone();
        let nf = || Error::new(ErrorKind::RouteNotFound, "The requested path does not exist on this vault.");
        let na = || Error::new(ErrorKind::MethodNotAllowed, format!("The method {m} is not supported on this path."));
        let first = segs.first().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
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
            ("keys" | "deletedkeys", _) => Ok(Route::NotYet("Microsoft.KeyVault/vaults/keys/read")),
            ("certificates" | "deletedcertificates", _) => {
                Ok(Route::NotYet("Microsoft.KeyVault/vaults/certificates/read"))
            }
            ("rng", 1) => Ok(Route::NotYet("Microsoft.KeyVault/vaults/rng/action")),
            ("_strongbox", 2) if lit(1, "vaults") => match *method {
                Method::GET => Ok(Route::VaultList),
                _ => Err(na()),
            },
            ("_strongbox", 3) if lit(1, "vaults") => match *method {
                Method::GET => Ok(Route::VaultGet(own(2))),
                Method::PUT => Ok(Route::VaultCreate(own(2))),
                _ => Err(na()),
            },
            _ => Err(nf()),
        }
    }
}

/// One request per route shape, for tests that must cover every route.
pub fn all_route_examples() -> Vec<(Method, &'static str)> {
    vec![
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
        (Method::GET, "/keys/k"),
        (Method::GET, "/certificates/c"),
        (Method::POST, "/rng"),
        (Method::GET, "/_strongbox/vaults"),
        (Method::GET, "/_strongbox/vaults/v"),
        (Method::PUT, "/_strongbox/vaults/v"),
    ]
}
