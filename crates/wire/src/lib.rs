//! The Azure Key Vault data-plane wire format (secrets part), as the official SDKs send and read
//! it: camelCase members, integer Unix timestamps, `{value, nextLink}` pages and the
//! `{"error": {code, message, innererror}}` envelope.

pub mod certificates;
pub mod keys;

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use strongbox_types::{Error, SecretString, UnixTime};

pub type Tags = BTreeMap<String, String>;

/// Maximum page size of every list operation (`maxresults` 1–25).
pub const MAX_PAGE: usize = 25;
/// Secret value limit (25 KB, UTF-8 bytes).
pub const MAX_SECRET_VALUE: usize = 25 * 1024;
pub const MAX_CONTENT_TYPE: usize = 255;
/// Tag limits (15 tags per object; ARM's 512/256 character limits for names/values).
pub const MAX_TAGS: usize = 15;

/// The `attributes` member of secrets and keys (certificates later). `exportable` is a key
/// attribute; it is left out when `None`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recoverable_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
}

pub type SecretAttributes = Attributes;

/// `SecretBundle`, and with the deleted fields set, `DeletedSecretBundle`. The same struct serves
/// as `SecretItem` (no `value`) in lists.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretBundle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<SecretString>,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub attributes: SecretAttributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_purge_date: Option<UnixTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<UnixTime>,
}

/// Body of `PUT /secrets/{name}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSetParameters {
    pub value: Option<SecretString>,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub attributes: Option<SecretAttributes>,
}

/// Body of `PATCH /secrets/{name}/{version}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretUpdateParameters {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub attributes: Option<SecretAttributes>,
    #[serde(default)]
    pub tags: Option<Tags>,
}

/// `{ "value": "<base64url>" }`: the body of restore and the result of backup.
#[derive(Debug, Serialize, Deserialize)]
pub struct BlobValue {
    pub value: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub value: Vec<T>,
    pub next_link: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub innererror: Option<InnerError>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct InnerError {
    pub code: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>, inner: Option<&str>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                innererror: inner.map(|c| InnerError { code: c.to_owned() }),
            },
        }
    }
}

/// api-versions the SDKs and `az` send. Previews of the date and 7.x forms are accepted too.
pub const API_VERSIONS: &[&str] =
    &["2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.6-preview.2", "2025-07-01", "2026-04-01"];
pub const LATEST_API_VERSION: &str = "2026-04-01";

pub fn check_api_version(v: Option<&str>) -> Result<(), Error> {
    let Some(v) = v else {
        return Err(Error::bad("The 'api-version' query parameter is required."));
    };
    if API_VERSIONS.contains(&v) || is_preview(v) {
        Ok(())
    } else {
        let shown: String = v.chars().take(40).collect();
        Err(Error::bad(format!(
            "The specified version ({shown}) is not recognized. Consider using the latest supported version ({LATEST_API_VERSION})."
        )))
    }
}

/// `YYYY-MM-DD-preview` or `7.N-preview[.M]`.
fn is_preview(v: &str) -> bool {
    let date_preview = v.strip_suffix("-preview").is_some_and(|date| {
        let b = date.as_bytes();
        b.len() == 10
            && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
    });
    let seven_preview =
        v.strip_prefix("7.").and_then(|rest| rest.split_once("-preview")).is_some_and(|(minor, tail)| {
            matches!(minor.as_bytes(), [d] if d.is_ascii_digit())
                && (tail.is_empty()
                    || tail.strip_prefix('.').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())))
        });
    date_preview || seven_preview
}

/// `maxresults`: 1–25, default 25.
pub fn parse_maxresults(v: Option<&str>) -> Result<usize, Error> {
    match v {
        None => Ok(MAX_PAGE),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(Error::bad("Invalid value for 'maxresults': it must be an integer from 1 to 25.")),
        },
    }
}

/// `$skiptoken` values are opaque to clients: base64url of the key to resume from.
pub fn encode_skiptoken(resume_after: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(resume_after.as_bytes())
}

pub fn decode_skiptoken(token: &str) -> Result<String, Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::bad("The $skiptoken is invalid."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        for ok in [
            "7.4",
            "7.6-preview.2",
            "2025-07-01",
            "2026-04-01",
            "2016-10-01",
            "2026-07-01-preview",
            "7.5-preview.1",
            "7.6-preview",
        ] {
            assert!(check_api_version(Some(ok)).is_ok(), "{ok}");
        }
        for bad in ["", "8.0", "2025-07-02", "latest", "7.6-preview.", "2026-7-1-preview", "7.10"] {
            assert!(check_api_version(Some(bad)).is_err(), "{bad}");
        }
        assert!(check_api_version(None).is_err());
    }

    #[test]
    fn maxresults_and_skiptoken() {
        assert_eq!(parse_maxresults(None).unwrap(), 25);
        assert_eq!(parse_maxresults(Some("3")).unwrap(), 3);
        for bad in ["0", "26", "-1", "x"] {
            assert!(parse_maxresults(Some(bad)).is_err());
        }
        assert_eq!(decode_skiptoken(&encode_skiptoken("sec/v/abc")).unwrap(), "sec/v/abc");
        assert!(decode_skiptoken("***").is_err());
    }

    #[test]
    fn bundle_shape() {
        let b = SecretBundle {
            value: Some(SecretString::new("v".into())),
            id: "https://x/secrets/a/1".into(),
            attributes: SecretAttributes { enabled: Some(true), created: Some(5), ..Default::default() },
            ..Default::default()
        };
        let j = serde_json::to_value(&b).unwrap();
        assert_eq!(j["attributes"]["created"], 5);
        assert!(j.get("contentType").is_none());
        assert!(j.get("recoveryId").is_none());
    }
}
