//! Why the token service refuses a request ([`OAuthError`], one variant per failure class,
//! carrying Entra's AADSTS code) and why a bearer token is refused ([`AuthFailure`]).
//!
//! The HTTP status and the OAuth `error` code of each class are the API's business (one match
//! in `strongbox-api`'s authority module); here a class says what went wrong.

use strongbox_types::Error;

/// An Entra error: its AADSTS number and the text after `AADSTS{code}: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aadsts {
    pub code: u32,
    pub message: String,
}

impl Aadsts {
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

impl std::fmt::Display for Aadsts {
    /// `AADSTS{code}: {message}`, the `error_description` Entra sends.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AADSTS{}: {}", self.code, self.message)
    }
}

/// A refusal of the authority endpoints (token, device code, agent enrolment and rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    /// The request is malformed, incomplete or names another tenant.
    InvalidRequest(Aadsts),
    /// The request's path names a tenant that is not this deployment's.
    UnknownTenant(Aadsts),
    /// The scope names another resource than this vault service.
    InvalidScope(Aadsts),
    /// The client's credential is wrong, expired, missing, unregistered or replayed.
    BadClientCredential(Aadsts),
    /// A client assertion outside its valid time range, or for another audience, or matching no
    /// federated credential.
    AssertionRejected(Aadsts),
    /// The application is unknown, disabled, or may not use this flow.
    UnauthorizedClient(Aadsts),
    /// A grant type this server does not support.
    UnsupportedGrantType(Aadsts),
    /// A device code of another client, a disabled user, or a refresh token that expired, was
    /// revoked or was already used.
    InvalidGrant(Aadsts),
    /// A managed identity's enrolment code is invalid, expired or already used.
    BadEnrollmentCode(Aadsts),
    /// The device code expired or is not valid.
    ExpiredToken(Aadsts),
    /// The person has not yet approved the device sign-in.
    AuthorizationPending(Aadsts),
    /// The device polls faster than the interval.
    SlowDown(Aadsts),
    /// The person denied the device sign-in.
    AuthorizationDeclined(Aadsts),
    /// Too many failed attempts or requests: retry after `retry_after` seconds.
    Throttled { reason: Aadsts, retry_after: i64 },
    /// Storage or signing failed; the client may retry.
    Unavailable,
    /// The vault service is sealed.
    Sealed,
    /// The endpoint does not support the request's method.
    MethodNotAllowed,
}

impl OAuthError {
    /// The Entra error of the class, if it has one.
    pub fn aadsts(&self) -> Option<&Aadsts> {
        match self {
            Self::InvalidRequest(a)
            | Self::UnknownTenant(a)
            | Self::InvalidScope(a)
            | Self::BadClientCredential(a)
            | Self::AssertionRejected(a)
            | Self::UnauthorizedClient(a)
            | Self::UnsupportedGrantType(a)
            | Self::InvalidGrant(a)
            | Self::BadEnrollmentCode(a)
            | Self::ExpiredToken(a)
            | Self::AuthorizationPending(a)
            | Self::SlowDown(a)
            | Self::AuthorizationDeclined(a)
            | Self::Throttled { reason: a, .. } => Some(a),
            Self::Unavailable | Self::Sealed | Self::MethodNotAllowed => None,
        }
    }

    /// The AADSTS number (`0` for the classes without one).
    pub fn code(&self) -> u32 {
        self.aadsts().map_or(0, |a| a.code)
    }

    /// The `error_description` text.
    pub fn description(&self) -> String {
        match self {
            Self::Unavailable => "The token service failed; retry.".to_owned(),
            Self::Sealed => "The vault service is sealed.".to_owned(),
            Self::MethodNotAllowed => "This method is not supported on this endpoint.".to_owned(),
            other => other.aadsts().map(ToString::to_string).unwrap_or_default(),
        }
    }

    /// Seconds to wait (sent as `Retry-After`) when the caller is being throttled.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The detail recorded in a security event: `AADSTS{code}`, else the description.
    pub(crate) fn event_detail(&self) -> String {
        match self.aadsts() {
            Some(a) => format!("AADSTS{}", a.code),
            None => self.description(),
        }
    }

    /// A credential (secret, certificate assertion or enrolment code) was presented and was
    /// wrong: counted against the client and the address.
    pub(crate) fn is_wrong_credential(&self) -> bool {
        matches!(self, Self::BadClientCredential(_) | Self::BadEnrollmentCode(_))
    }
}

/// Why a bearer token was refused (the text is safe to return in a 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure(pub &'static str);

impl AuthFailure {
    /// The token could not be checked because storage did not answer: not a refusal of the
    /// token, so the API answers 503 (retry) rather than 401.
    pub const UNCHECKED: Self = Self("AKV10032: The principal could not be checked.");

    pub fn is_unchecked(&self) -> bool {
        *self == Self::UNCHECKED
    }
}

/// The answer when storage or signing failed (the cause is not shown to the client).
pub(crate) fn internal(_: Error) -> OAuthError {
    OAuthError::Unavailable
}

/// A required form parameter is missing.
pub(crate) fn missing(field: &str) -> OAuthError {
    OAuthError::InvalidRequest(Aadsts::new(
        900144,
        format!("The request body must contain the following parameter: '{field}'."),
    ))
}

/// Entra's answer for a `client_id` that names no registered application.
pub(crate) fn unknown_application() -> OAuthError {
    OAuthError::UnauthorizedClient(Aadsts::new(
        700016,
        "Application was not found in the directory. Check the client_id and the tenant.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_carry_the_code_as_entra_does() {
        let e = OAuthError::BadClientCredential(Aadsts::new(7000215, "Invalid client secret provided."));
        assert_eq!(e.description(), "AADSTS7000215: Invalid client secret provided.");
        assert_eq!((e.code(), e.event_detail()), (7000215, "AADSTS7000215".to_owned()));
        assert_eq!(OAuthError::Unavailable.code(), 0);
        assert_eq!(OAuthError::Unavailable.event_detail(), "The token service failed; retry.");
    }
}
