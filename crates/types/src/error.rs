use std::fmt;

/// What went wrong, independent of transport. The API layer maps each kind to one HTTP status
/// and Azure `error.code` in a single exhaustive `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or out-of-range input (Azure `BadParameter`).
    BadParameter,
    /// Missing or invalid credentials (Azure `Unauthorized`, with the Bearer challenge).
    Unauthorized,
    /// Authenticated but not allowed (Azure `Forbidden` / `ForbiddenByRbac`).
    Forbidden,
    /// The object exists but is disabled (Azure `Forbidden` / `SecretDisabled`).
    ObjectDisabled,
    /// Purge refused because the vault has purge protection.
    PurgeProtected,
    /// The named secret (or version) does not exist.
    SecretNotFound,
    /// The named key (or version) does not exist.
    KeyNotFound,
    /// The key exists but is disabled.
    KeyDisabled,
    /// The object does not allow this operation now (`key_ops`, `nbf`, `exp`).
    OperationNotPermitted,
    /// A key type this vault kind does not hold (Azure `BadParameter` / `KeyTypeNotSupported`).
    KeyTypeNotSupported,
    /// The named certificate (or version) does not exist.
    CertificateNotFound,
    /// The certificate exists but is disabled.
    CertificateDisabled,
    /// The certificate has no pending operation (Azure `PendingCertificateNotFound`).
    CertificateOperationNotFound,
    /// The named certificate issuer does not exist.
    IssuerNotFound,
    /// The vault has no certificate contacts.
    ContactsNotFound,
    /// A change through the keys API to a key behind a certificate (`KeyManagedByKeyVault`).
    KeyManaged,
    /// A change through the secrets API to a secret behind a certificate (`SecretManagedByKeyVault`).
    SecretManaged,
    /// The role assignment does not exist.
    RoleAssignmentNotFound,
    /// The role definition does not exist.
    RoleDefinitionNotFound,
    /// A role definition cannot be deleted while assignments refer to it (Azure
    /// `RoleDefinitionHasAssignments`).
    RoleDefinitionInUse,
    /// Refused by the vault's legacy access policies (Azure `Forbidden` / `AccessDenied`).
    AccessDenied,
    /// A named management object (group, deny assignment, PIM request) does not exist.
    NotFound,
    /// The named vault does not exist on this server.
    VaultNotFound,
    /// Another object already holds the name (e.g. restore onto an existing secret).
    Conflict,
    /// The name belongs to a soft-deleted object (Azure `ObjectIsDeletedButRecoverable`).
    DeletedButRecoverable,
    /// Request body larger than allowed.
    PayloadTooLarge,
    /// No such route.
    RouteNotFound,
    /// Method not supported on an existing route.
    MethodNotAllowed,
    /// The barrier is sealed: nothing can be read or written.
    Sealed,
    /// The storage cannot serve this now (unreachable, restarting, or a read-only standby):
    /// 503 with `Retry-After`.
    Unavailable,
    /// Built on purpose as "not yet": an honest refusal instead of a silent stub.
    NotImplemented,
    /// Anything unexpected; the message never leaves the server.
    Internal,
}

/// An error with a kind and a message that is safe to show to the caller
/// (it never contains secret values, key material or credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadParameter, message)
    }
    /// An internal failure. The detail is for the server log only; callers see a generic text.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, detail)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
