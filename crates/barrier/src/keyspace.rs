//! Every storage prefix of a deployment, declared once.
//!
//! A service reaches storage only through a [`View`](crate::View) built from one of these
//! areas, so the table below is the whole map of what is stored where. The prefixes are the
//! on-disk names of existing data folders and databases: renaming one would orphan stored
//! data, so the constants carry the explaining names and the strings stay short.
//!
//! Rule (checked by a test): no area's prefix is a prefix of another's, so two views can never
//! see each other's keys. An area whose prefix does not end in `/` is a single record.

/// One region of the keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// The key prefix (or the whole key, for a single record).
    pub prefix: &'static str,
    /// The service that owns it.
    pub owner: &'static str,
    /// What the keys below it hold.
    pub holds: &'static str,
}

macro_rules! areas {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal, $owner:literal, $holds:literal;)*) => {
        $($(#[$doc])* pub const $name: Area = Area { prefix: $prefix, owner: $owner, holds: $holds };)*
        /// Every area, for the overlap check and for tools that walk the keyspace.
        pub const ALL: &[Area] = &[$($name),*];
    };
}

areas! {
    // the barrier itself
    BARRIER = "sys/barrier/", "barrier", "root key and keyring (encrypted under the seal / root key)";
    BACKUP_KEY = "sys/backup-key", "objects", "the key that encrypts object backup blobs";
    LEASES = "sys/lease/", "leases", "which node runs each background job, until when: {job}";

    // vaults
    VAULTS = "vault/", "vaults", "vault records: {vault}";

    // versioned objects: heads, versions, soft-deleted heads, and the purge schedule
    SECRET_HEADS = "sec/", "secrets", "latest version and name of each secret: {vault}/{name}";
    SECRET_VERSIONS = "secv/", "secrets", "secret versions: {vault}/{name}/{version}";
    DELETED_SECRETS = "dsec/", "secrets", "soft-deleted secrets: {vault}/{name}";
    KEY_HEADS = "key/", "keys", "latest version and name of each key: {vault}/{name}";
    KEY_VERSIONS = "keyv/", "keys", "key versions: {vault}/{name}/{version}";
    DELETED_KEYS = "dkey/", "keys", "soft-deleted keys: {vault}/{name}";
    CERT_HEADS = "cert/", "certificates", "latest version and name of each certificate: {vault}/{name}";
    CERT_VERSIONS = "certv/", "certificates", "certificate versions: {vault}/{name}/{version}";
    DELETED_CERTS = "dcert/", "certificates", "soft-deleted certificates: {vault}/{name}";
    PURGE_SCHEDULE = "purge/", "objects", "scheduled purges: {when:012}/{head prefix}/{vault}/{name}";

    // keys
    KEY_ROTATION_POLICIES = "keyrp/", "keys", "rotation policies: {vault}/{name}";
    RELEASE_TOKENS_SEEN = "skrseen/", "keys", "attestation tokens already used for a release: {exp}/{hash}";

    // certificates
    CERT_OPERATIONS = "certop/", "certificates", "pending issuance operations: {vault}/{name}";
    CERT_ISSUERS = "certissuer/", "certificates", "issuer records: {vault}/{name}";
    CERT_CONTACTS = "certcontacts/", "certificates", "certificate contacts: {vault}";
    CERT_AUTHORITIES = "certca/", "certificates", "per-vault issuing CAs: {vault}/{issuer}";
    CERT_NOTES = "certnote/", "certificates", "per-version issuance notes: {vault}/{name}/{version}";

    // access control
    RBAC_GENERATION = "rbac/generation", "access", "changes on every authorization write (cache invalidation)";
    ROLE_ASSIGNMENTS = "rbac/assign/", "access", "role assignments: {id}";
    ROLE_DEFINITIONS = "rbac/role/", "access", "custom role definitions: {id}";
    DENY_ASSIGNMENTS = "rbac/deny/", "access", "deny assignments: {id}";
    PIM_ELIGIBLE = "rbac/eligible/", "access", "eligible (PIM) assignments: {id}";
    PIM_REQUESTS = "rbac/pim/", "access", "activation requests: {id}";
    GROUPS = "id/group/", "access", "groups: {id}";
    GROUP_NAMES = "id/groupname/", "access", "group display-name index: {lower-case name}";
    GROUP_MEMBERS = "id/groupmember/", "access", "memberships: {group}/{member}";

    // identity
    TENANT = "sys/tenant", "identity", "the deployment's tenant";
    BOOTSTRAP = "sys/bootstrap", "identity", "marker: the bootstrap administrator was created";
    SIGNING_KEYS = "sys/signing/", "identity", "token signing keys: {kid}";
    IDENTITY_POLICY = "sys/identity-policy", "identity", "sign-in policy (MFA, lifetimes)";
    SERVICE_PRINCIPALS = "sp/", "identity", "applications and service principals: {id}";
    PUBLIC_CLIENTS = "publicclient/", "identity", "public-client flags: {client id}";
    TRUSTED_ISSUERS = "issuer/", "identity", "trusted external token issuers: {name}";
    ASSERTION_IDS = "jti/", "identity", "client-assertion ids already used: {SHA-256 of client id and jti}";
    ATTESTATION_AUTHORITIES = "attestauthority/", "identity", "attestation authorities for key release: {name}";
    USERS = "user/", "identity", "users: {object id}";
    USER_NAMES = "upn/", "identity", "user principal name index: {upn}";
    DEVICE_CODES = "devicecode/", "identity", "device-code sign-ins: {SHA-256 of the device code}";
    USER_CODES = "usercode/", "identity", "device-code user codes: {code}";
    REFRESH_TOKENS = "refresh/", "identity", "refresh-token grants: {SHA-256 of the refresh token}";
    SECURITY_EVENTS = "events/sec/", "identity", "security event records: {time:016x}-{id}";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_area_sees_another() {
        for a in ALL {
            for b in ALL {
                if a != b {
                    assert!(!b.prefix.starts_with(a.prefix), "{} overlaps {}", a.prefix, b.prefix);
                }
            }
        }
    }

    #[test]
    fn the_barriers_own_records_lie_in_its_area() {
        assert!(crate::ROOT_PATH.starts_with(BARRIER.prefix) && crate::KEYRING_PATH.starts_with(BARRIER.prefix));
    }

    #[test]
    fn every_area_is_described() {
        for a in ALL {
            assert!(!a.prefix.is_empty() && !a.owner.is_empty() && !a.holds.is_empty(), "{a:?}");
        }
    }
}
