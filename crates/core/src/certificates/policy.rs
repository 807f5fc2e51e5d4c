//! Certificate policies: the stored (complete) form, the partial form requests carry, and
//! how the one is built from the other with Azure's defaults.
//!
//! Defaults as the service fills them for a near-empty policy (as the SDKs' default policies
//! send): RSA 2048, exportable, `reuse_key` false, `application/x-pkcs12`, EKUs server and
//! client authentication, key usage `digitalSignature` + `keyEncipherment` (RSA) or
//! `digitalSignature` (EC), 12 months, and one lifetime action at 80 % of the lifetime:
//! `AutoRenew` for issuers that can renew, `EmailContacts` for `Unknown`. `-HSM` key types are
//! never exportable (`exportable: true` is refused) and EC-HSM takes P-256 or P-384.

use serde::{Deserialize, Serialize};
use strongbox_crypto::certs::{self as x509, CertInfo, KEY_USAGES};
use strongbox_crypto::keys::{Curve, KeyKind, KeyMaterial};
use strongbox_types::{Error, Result};

use super::{CT_PEM, CT_PKCS12};
use crate::vaults::VaultRecord;

pub(super) const MAX_VALIDITY_MONTHS: u32 = 1200;
const MAX_SANS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertLifetimeAction {
    pub lifetime_percentage: Option<u32>,
    pub days_before_expiry: Option<u32>,
    /// `AutoRenew` or `EmailContacts`.
    pub action: String,
}

/// A complete policy, as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertPolicy {
    pub exportable: bool,
    /// `RSA`, `EC` (or their `-HSM` forms).
    pub kty: String,
    pub key_size: Option<u32>,
    pub crv: Option<String>,
    pub reuse_key: bool,
    pub content_type: String,
    pub subject: String,
    pub dns_names: Vec<String>,
    pub emails: Vec<String>,
    pub upns: Vec<String>,
    /// IP address SANs (canonical text), api-versions 2025-06-01 and later. Absent in policies
    /// stored before they existed.
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    /// URI SANs, api-versions 2025-06-01 and later.
    #[serde(default)]
    pub uris: Vec<String>,
    pub ekus: Vec<String>,
    pub key_usage: Vec<String>,
    pub validity_months: u32,
    pub lifetime_actions: Vec<CertLifetimeAction>,
    /// `Self`, `Unknown` or the name of an issuer record.
    pub issuer: String,
    pub cert_type: Option<String>,
    pub cert_transparency: Option<bool>,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
}

impl CertPolicy {
    pub fn kind(&self) -> Result<KeyKind> {
        match self.kty.trim_end_matches("-HSM") {
            "RSA" => Ok(KeyKind::Rsa),
            _ => Ok(KeyKind::Ec(curve(self.crv.as_deref())?)),
        }
    }
}

/// A policy as a request carries it: every member optional.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub exportable: Option<bool>,
    pub kty: Option<String>,
    pub key_size: Option<u32>,
    pub crv: Option<String>,
    pub reuse_key: Option<bool>,
    pub content_type: Option<String>,
    pub subject: Option<String>,
    pub dns_names: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
    pub upns: Option<Vec<String>>,
    pub ip_addresses: Option<Vec<String>>,
    pub uris: Option<Vec<String>>,
    pub ekus: Option<Vec<String>>,
    pub key_usage: Option<Vec<String>>,
    pub validity_months: Option<u32>,
    pub lifetime_actions: Option<Vec<CertLifetimeAction>>,
    pub issuer: Option<String>,
    pub cert_type: Option<String>,
    pub cert_transparency: Option<bool>,
    pub enabled: Option<bool>,
}

fn curve(crv: Option<&str>) -> Result<Curve> {
    match crv.unwrap_or("P-256") {
        "P-256" => Ok(Curve::P256),
        "P-384" => Ok(Curve::P384),
        "P-521" => Ok(Curve::P521),
        other => Err(Error::bad(format!(
            "Invalid curve name '{}' for a certificate key. Supported curves are P-256, P-384 and P-521.",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

pub(crate) fn valid_email(e: &str) -> bool {
    let mut parts = e.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None)
        if !l.is_empty() && !d.is_empty() && e.len() <= 254 && e.is_ascii() && !e.chars().any(|c| c.is_whitespace() || c == ','))
}

fn valid_dns(d: &str) -> bool {
    let d = d.strip_prefix("*.").unwrap_or(d);
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An absolute URI: `scheme:rest`, printable ASCII without spaces (RFC 3986 characters are
/// not checked one by one), at most 2048 characters.
fn valid_uri(u: &str) -> bool {
    let Some((scheme, rest)) = u.split_once(':') else { return false };
    let mut sc = scheme.bytes();
    sc.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sc.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && u.len() <= 2048
        && u.bytes().all(|b| b.is_ascii_graphic())
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

fn normalize_issuer(name: &str) -> Result<String> {
    let n = name.trim();
    if n.eq_ignore_ascii_case("self") {
        Ok("Self".into())
    } else if n.eq_ignore_ascii_case("unknown") {
        Ok("Unknown".into())
    } else {
        strongbox_types::ObjectName::parse(n)
            .map(|o| o.as_str().to_owned())
            .map_err(|_| Error::bad(format!("The issuer name '{}' is not valid.", short(n))))
    }
}

fn default_actions(issuer: &str) -> Vec<CertLifetimeAction> {
    let action = if issuer == "Unknown" { "EmailContacts" } else { "AutoRenew" };
    vec![CertLifetimeAction { lifetime_percentage: Some(80), days_before_expiry: None, action: action.into() }]
}

fn default_key_usage(kind: KeyKind) -> Vec<String> {
    match kind {
        KeyKind::Rsa => vec!["digitalSignature".into(), "keyEncipherment".into()],
        _ => vec!["digitalSignature".into()],
    }
}

/// Builds a complete, validated policy: members of `input` over `base` (an existing policy, or
/// one derived from an imported certificate), over the defaults.
pub(crate) fn build(input: &PolicyInput, base: Option<&CertPolicy>, v: &VaultRecord, now: i64) -> Result<CertPolicy> {
    let kty = match (&input.kty, base) {
        (Some(k), _) => k.clone(),
        (None, Some(b)) => b.kty.clone(),
        (None, None) => "RSA".into(),
    };
    let kty = match kty.as_str() {
        "RSA" | "EC" => kty,
        "RSA-HSM" | "EC-HSM" if v.sku == crate::Sku::Standard => {
            return Err(Error::bad(format!(
                "HSM-protected keys ({kty}) require a premium vault; vault '{}' is standard.",
                v.name
            )));
        }
        // Generated in the PKCS#11 token at issuance (501 there when no token is configured).
        "RSA-HSM" | "EC-HSM" => kty,
        other => {
            return Err(Error::bad(format!(
                "Invalid key type '{}' for a certificate. Supported key types are RSA and EC.",
                short(other)
            )));
        }
    };
    // A changed key type does not inherit the old size or curve.
    let same_kty = base.is_some_and(|b| b.kty == kty);
    let inherit = |f: fn(&CertPolicy) -> Option<u32>| if same_kty { base.and_then(f) } else { None };
    let is_rsa = kty.starts_with("RSA");
    let hsm = kty.ends_with("-HSM");
    let (key_size, crv) = if is_rsa {
        if input.crv.is_some() {
            return Err(Error::bad("'crv' does not apply to RSA keys."));
        }
        let size = input.key_size.or(inherit(|b| b.key_size)).unwrap_or(2048);
        if ![2048, 3072, 4096].contains(&size) {
            return Err(Error::bad(format!(
                "The key size {size} is not supported for RSA certificate keys; use 2048, 3072 or 4096."
            )));
        }
        (Some(size), None)
    } else {
        let inherited = if same_kty { base.and_then(|b| b.crv.clone()) } else { None };
        let crv = match (&input.crv, input.key_size) {
            (Some(c), _) => c.clone(),
            (None, Some(256)) => "P-256".into(),
            (None, Some(384)) => "P-384".into(),
            (None, Some(521)) => "P-521".into(),
            (None, Some(n)) => return Err(Error::bad(format!("The key size {n} does not name an EC curve."))),
            (None, None) => inherited.unwrap_or_else(|| "P-256".into()),
        };
        let c = curve(Some(&crv))?;
        if input.key_size.is_some_and(|n| n as usize != c.bits()) {
            return Err(Error::bad("'key_size' does not match the curve 'crv'."));
        }
        // The token signs certificates and CSRs for P-256 and P-384 keys.
        if hsm && !matches!(crv.as_str(), "P-256" | "P-384") {
            return Err(Error::bad(format!(
                "The curve {} is not supported for EC-HSM certificate keys; use P-256 or P-384.",
                short(&crv)
            )));
        }
        (Some(c.bits() as u32), Some(crv))
    };
    let kind = if is_rsa { KeyKind::Rsa } else { KeyKind::Ec(curve(crv.as_deref())?) };

    let content_type =
        input.content_type.clone().or_else(|| base.map(|b| b.content_type.clone())).unwrap_or_else(|| CT_PKCS12.into());
    if content_type != CT_PKCS12 && content_type != CT_PEM {
        return Err(Error::bad(format!(
            "The secret content type '{}' is not supported; use {CT_PKCS12} or {CT_PEM}.",
            short(&content_type)
        )));
    }

    let pick = |i: &Option<Vec<String>>, b: fn(&CertPolicy) -> &Vec<String>| -> Vec<String> {
        i.clone().or_else(|| base.map(|x| b(x).clone())).unwrap_or_default()
    };
    let subject = input.subject.clone().or_else(|| base.map(|b| b.subject.clone())).unwrap_or_default();
    let dns_names = pick(&input.dns_names, |b| &b.dns_names);
    let emails = pick(&input.emails, |b| &b.emails);
    let upns = pick(&input.upns, |b| &b.upns);
    let ip_addresses = pick(&input.ip_addresses, |b| &b.ip_addresses)
        .iter()
        .map(|ip| {
            ip.trim()
                .parse::<std::net::IpAddr>()
                .map(|a| a.to_string())
                .map_err(|_| Error::bad(format!("The IP address '{}' is not a valid IPv4 or IPv6 address.", short(ip))))
        })
        .collect::<Result<Vec<_>>>()?;
    let uris = pick(&input.uris, |b| &b.uris);
    if subject.trim().is_empty()
        && dns_names.is_empty()
        && emails.is_empty()
        && upns.is_empty()
        && ip_addresses.is_empty()
        && uris.is_empty()
    {
        return Err(Error::bad("The policy needs a subject or at least one subject alternative name."));
    }
    // An imported certificate's own subject is kept as it is; a requested one must parse.
    if input.subject.as_deref().is_some_and(|s| !s.trim().is_empty()) {
        x509::parse_subject(&subject)?;
    }
    if dns_names.len() + emails.len() + upns.len() + ip_addresses.len() + uris.len() > MAX_SANS {
        return Err(Error::bad(format!("A certificate may have at most {MAX_SANS} subject alternative names.")));
    }
    if let Some(d) = dns_names.iter().find(|d| !valid_dns(d)) {
        return Err(Error::bad(format!("The DNS name '{}' is not valid.", short(d))));
    }
    if let Some(e) = emails.iter().find(|e| !valid_email(e)) {
        return Err(Error::bad(format!("The email address '{}' is not valid.", short(e))));
    }
    if let Some(u) = upns.iter().find(|u| !valid_email(u)) {
        return Err(Error::bad(format!("The user principal name '{}' is not valid.", short(u))));
    }
    if let Some(u) = uris.iter().find(|u| !valid_uri(u)) {
        return Err(Error::bad(format!(
            "The URI '{}' is not valid: it needs a scheme (as in 'https://host/path') and only printable ASCII.",
            short(u)
        )));
    }

    let ekus = input
        .ekus
        .clone()
        .or_else(|| base.map(|b| b.ekus.clone()))
        .unwrap_or_else(|| vec!["1.3.6.1.5.5.7.3.1".into(), "1.3.6.1.5.5.7.3.2".into()]);
    for e in &ekus {
        let ok =
            e.split('.').count() >= 2 && e.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(Error::bad(format!("The extended key usage '{}' is not a dotted OID.", short(e))));
        }
    }
    let key_usage = match (&input.key_usage, base) {
        (Some(k), _) => k.clone(),
        (None, Some(b)) if same_kty => b.key_usage.clone(),
        _ => default_key_usage(kind),
    };
    if let Some(k) = key_usage.iter().find(|k| !KEY_USAGES.contains(&k.as_str())) {
        return Err(Error::bad(format!(
            "Invalid key usage '{}'. Valid values are: {}.",
            short(k),
            KEY_USAGES.join(", ")
        )));
    }

    let validity_months = input.validity_months.or(base.map(|b| b.validity_months)).unwrap_or(12);
    if !(1..=MAX_VALIDITY_MONTHS).contains(&validity_months) {
        return Err(Error::bad(format!("'validity_months' must be between 1 and {MAX_VALIDITY_MONTHS}.")));
    }

    let issuer = match (&input.issuer, base) {
        (Some(i), _) => normalize_issuer(i)?,
        (None, Some(b)) => b.issuer.clone(),
        // Azure: "Set the name of the issuer to Unknown or do not specify the issuer field."
        (None, None) => "Unknown".into(),
    };
    let lifetime_actions = match (&input.lifetime_actions, base) {
        (Some(a), _) => a.clone(),
        (None, Some(b)) => b.lifetime_actions.clone(),
        (None, None) => default_actions(&issuer),
    };
    let mut lifetime_actions = lifetime_actions;
    for a in &mut lifetime_actions {
        a.action = match a.action.to_ascii_lowercase().as_str() {
            "autorenew" => "AutoRenew".into(),
            "emailcontacts" => "EmailContacts".into(),
            _ => return Err(Error::bad("The lifetime action type must be AutoRenew or EmailContacts.")),
        };
        match (a.lifetime_percentage, a.days_before_expiry) {
            (Some(p), None) if (1..=99).contains(&p) => {}
            // At most 27 days per month of validity (the shortest month leaves room to renew).
            (None, Some(d)) if d >= 1 && i64::from(d) <= i64::from(validity_months) * 27 => {}
            (Some(_), None) => return Err(Error::bad("'lifetime_percentage' must be between 1 and 99.")),
            (None, Some(_)) => {
                return Err(Error::bad("'days_before_expiry' must be between 1 and 27 times 'validity_months'."));
            }
            _ => {
                return Err(Error::bad(
                    "Each lifetime action trigger needs exactly one of 'lifetime_percentage' and 'days_before_expiry'.",
                ));
            }
        }
        if a.action == "AutoRenew" && issuer == "Unknown" {
            return Err(Error::bad("AutoRenew is not supported for certificates whose issuer is Unknown."));
        }
    }
    if lifetime_actions.len() > 1 {
        return Err(Error::bad("A certificate policy may have at most one lifetime action."));
    }

    Ok(CertPolicy {
        exportable: if hsm {
            // An HSM key never leaves the token (Azure refuses exportable HSM keys too).
            if input.exportable == Some(true) {
                return Err(Error::bad(format!(
                    "Exportable keys are not supported for the key type {kty}: an HSM-protected key never leaves the HSM. Set 'exportable' to false."
                )));
            }
            false
        } else {
            input.exportable.or(base.map(|b| b.exportable)).unwrap_or(true)
        },
        kty,
        key_size,
        crv,
        reuse_key: input.reuse_key.or(base.map(|b| b.reuse_key)).unwrap_or(false),
        content_type,
        subject,
        dns_names,
        emails,
        upns,
        ip_addresses,
        uris,
        ekus,
        key_usage,
        validity_months,
        lifetime_actions,
        cert_type: input.cert_type.clone().or_else(|| base.and_then(|b| b.cert_type.clone())),
        cert_transparency: input.cert_transparency.or(base.and_then(|b| b.cert_transparency)),
        issuer,
        enabled: input.enabled.or(base.map(|b| b.enabled)).unwrap_or(true),
        created: base.map(|b| b.created).filter(|c| *c != 0).unwrap_or(now),
        updated: now,
    })
}

/// The policy an imported certificate implies (before the request's own policy members).
pub(crate) fn from_certificate(info: &CertInfo, key: &KeyMaterial, content_type: &str) -> CertPolicy {
    let (kty, key_size, crv) = match key.kind() {
        KeyKind::Ec(c) => ("EC", Some(c.bits() as u32), Some(c.as_str().to_owned())),
        _ => ("RSA", Some(key.bits() as u32), None),
    };
    let days = (info.not_after - info.not_before).max(0) / 86_400;
    let months = u32::try_from((days + 15) / 30).unwrap_or(MAX_VALIDITY_MONTHS).clamp(1, MAX_VALIDITY_MONTHS);
    // x509-parser prints RDNs as `CN=a, O=b`, the form policies use.
    CertPolicy {
        exportable: true,
        kty: kty.into(),
        key_size,
        crv,
        reuse_key: false,
        content_type: content_type.into(),
        subject: info.subject.clone(),
        dns_names: info.dns_names.clone(),
        emails: info.emails.clone(),
        upns: info.upns.clone(),
        ip_addresses: info.ip_addresses.clone(),
        uris: info.uris.clone(),
        ekus: info.ekus.clone(),
        key_usage: info.key_usage.clone(),
        validity_months: months,
        lifetime_actions: default_actions("Unknown"),
        issuer: "Unknown".into(),
        cert_type: None,
        cert_transparency: None,
        enabled: true,
        created: 0,
        updated: 0,
    }
}
