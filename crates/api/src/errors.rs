//! The one mapping from error kinds to HTTP status and Azure `error.code`.

use axum::http::StatusCode;
use strongbox_types::{Error, ErrorKind};

/// Status, `code`, optional `innererror.code`. Exhaustive on purpose: a new kind must be mapped.
pub(crate) fn status_and_code(kind: ErrorKind) -> (StatusCode, &'static str, Option<&'static str>) {
    match kind {
        ErrorKind::BadParameter => (StatusCode::BAD_REQUEST, "BadParameter", None),
        ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized", None),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "Forbidden", Some("ForbiddenByRbac")),
        ErrorKind::ObjectDisabled => (StatusCode::FORBIDDEN, "Forbidden", Some("SecretDisabled")),
        ErrorKind::PurgeProtected => (StatusCode::FORBIDDEN, "Forbidden", Some("PurgeProtectionEnabled")),
        ErrorKind::SecretNotFound => (StatusCode::NOT_FOUND, "SecretNotFound", None),
        ErrorKind::KeyNotFound => (StatusCode::NOT_FOUND, "KeyNotFound", None),
        ErrorKind::KeyDisabled => (StatusCode::FORBIDDEN, "Forbidden", Some("KeyDisabled")),
        ErrorKind::OperationNotPermitted => (StatusCode::FORBIDDEN, "Forbidden", Some("OperationNotPermitted")),
        ErrorKind::KeyTypeNotSupported => (StatusCode::BAD_REQUEST, "BadParameter", Some("KeyTypeNotSupported")),
        ErrorKind::CertificateNotFound => (StatusCode::NOT_FOUND, "CertificateNotFound", None),
        ErrorKind::CertificateDisabled => (StatusCode::FORBIDDEN, "Forbidden", Some("CertificateDisabled")),
        ErrorKind::CertificateOperationNotFound => (StatusCode::NOT_FOUND, "PendingCertificateNotFound", None),
        ErrorKind::IssuerNotFound => (StatusCode::NOT_FOUND, "CertificateIssuerNotFound", None),
        ErrorKind::ContactsNotFound => (StatusCode::NOT_FOUND, "ContactsNotFound", None),
        ErrorKind::KeyManaged => (StatusCode::FORBIDDEN, "Forbidden", Some("KeyManagedByKeyVault")),
        ErrorKind::SecretManaged => (StatusCode::FORBIDDEN, "Forbidden", Some("SecretManagedByKeyVault")),
        ErrorKind::RoleAssignmentNotFound => (StatusCode::NOT_FOUND, "RoleAssignmentNotFound", None),
        ErrorKind::RoleDefinitionNotFound => (StatusCode::NOT_FOUND, "RoleDefinitionNotFound", None),
        ErrorKind::RoleDefinitionInUse => (StatusCode::CONFLICT, "RoleDefinitionHasAssignments", None),
        ErrorKind::AccessDenied => (StatusCode::FORBIDDEN, "Forbidden", Some("AccessDenied")),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "NotFound", None),
        ErrorKind::VaultNotFound => (StatusCode::NOT_FOUND, "VaultNotFound", None),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "Conflict", None),
        ErrorKind::DeletedButRecoverable => (StatusCode::CONFLICT, "Conflict", Some("ObjectIsDeletedButRecoverable")),
        ErrorKind::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "RequestBodyTooLarge", None),
        ErrorKind::RouteNotFound => (StatusCode::NOT_FOUND, "NotFound", None),
        ErrorKind::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", None),
        ErrorKind::Sealed => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", Some("Sealed")),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", None),
        ErrorKind::NotImplemented => (StatusCode::NOT_IMPLEMENTED, "NotImplemented", None),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", None),
    }
}

/// The caller-visible message: internal details stay in the log.
pub(crate) fn public_message(e: &Error, request_id: &str) -> String {
    match e.kind {
        ErrorKind::Internal => format!("An internal error occurred. Request id: {request_id}."),
        _ => e.message.clone(),
    }
}
