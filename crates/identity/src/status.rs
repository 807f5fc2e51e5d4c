//! The status rows of the revocation check: every request, also on a token-cache hit, checks
//! that its principal still exists, is enabled and still lists the credential that obtained
//! the token (see the crate documentation). The rows of applications and public clients are
//! built here; those of users and trusted issuers beside their records.

use strongbox_barrier::keyspace;

use crate::Principal;
use crate::records::ServicePrincipalRec;

/// The "credential" a public-client status row lists while the application is one.
pub(crate) const PUBLIC_CLIENT_CRED: &str = "public-client";

/// What the revocation check needs about one principal.
#[derive(Debug, Clone)]
pub(crate) struct PrincipalStatus {
    pub exists: bool,
    pub enabled: bool,
    pub credentials: Vec<String>,
    pub loaded: i64,
}

impl PrincipalStatus {
    pub(crate) fn allows(&self, cred: Option<&str>) -> bool {
        self.exists && self.enabled && cred.is_none_or(|c| self.credentials.iter().any(|x| x == c))
    }
}

#[derive(Clone)]
pub(crate) struct CachedToken {
    pub principal: Principal,
    pub exp: i64,
    pub status_key: String,
    pub cred: Option<String>,
    /// A second status row checked on every request, with the credential it must list:
    /// external user tokens mapped to a local user name their issuer (status key and URL;
    /// turning user tokens off revokes them); our own user tokens name their client
    /// application's public-client row (`publicclient/{client id}`, [`PUBLIC_CLIENT_CRED`]), so
    /// a token whose `appid` is not (or no longer) a registered public client is refused.
    pub issuer_check: Option<(String, String)>,
}

pub(crate) fn status_of(sp: Option<&ServicePrincipalRec>, now: i64) -> PrincipalStatus {
    match sp {
        Some(sp) => {
            PrincipalStatus { exists: true, enabled: sp.enabled, credentials: sp.credential_ids(now), loaded: now }
        }
        None => PrincipalStatus { exists: false, enabled: false, credentials: Vec::new(), loaded: now },
    }
}

/// The status key of `client_id` as a public client (lower case, as the token's `appid`).
pub(crate) fn public_client_key(client_id: &str) -> String {
    keyspace::PUBLIC_CLIENTS.prefix.to_owned() + &client_id.to_ascii_lowercase()
}

/// An application's row as a public client: it "exists" while it is registered as one.
pub(crate) fn public_client_status(sp: Option<&ServicePrincipalRec>, builtin: bool, now: i64) -> PrincipalStatus {
    let (exists, enabled) = match sp {
        _ if builtin => (true, true),
        Some(sp) => (sp.public_client && sp.kind.is_empty(), sp.enabled),
        None => (false, false),
    };
    PrincipalStatus { exists, enabled, credentials: vec![PUBLIC_CLIENT_CRED.to_owned()], loaded: now }
}
