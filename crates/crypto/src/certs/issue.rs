//! Building certificates and CSRs from an [`X509Spec`]: subject names, SANs, key usages,
//! validity, and the self-signed, CA-signed and CSR outputs.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose, OtherNameValue, SanType, SerialNumber,
};
use strongbox_types::{Error, Result};

use super::signer::{CertKey, Signer, gen_err};
use crate::keys::KeyMaterial;

/// OID of the UPN `otherName` (Microsoft `szOID_NT_PRINCIPAL_NAME`).
const UPN_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

/// Key usage names as Azure spells them, in RFC 5280 bit order.
pub const KEY_USAGES: &[&str] = &[
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
];

/// What goes into a certificate or CSR.
#[derive(Debug, Clone, Default)]
pub struct X509Spec {
    /// X.500 name in the `CN=a, O=b` form Azure policies use (may be empty when SANs exist).
    pub subject: String,
    pub dns_names: Vec<String>,
    pub emails: Vec<String>,
    pub upns: Vec<String>,
    /// IPv4 or IPv6 addresses.
    pub ip_addresses: Vec<std::net::IpAddr>,
    /// URIs (ASCII).
    pub uris: Vec<String>,
    /// Dotted OIDs.
    pub ekus: Vec<String>,
    /// Names from [`KEY_USAGES`].
    pub key_usage: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    /// A CA certificate (path length constraint when `Some`).
    pub ca: Option<Option<u8>>,
}

/// Parses `CN=a, O=b, OU=c, L=d, S=e, C=f, E=g` (also `ST=`, `DC=`); `\,` escapes a comma.
pub fn parse_subject(subject: &str) -> Result<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = subject.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' | ';' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').ok_or_else(|| bad_subject(subject))?;
        let v = v.trim();
        if v.is_empty() {
            return Err(bad_subject(subject));
        }
        let ty = match k.trim().to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "L" => DnType::LocalityName,
            "S" | "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            "E" | "EMAIL" | "EMAILADDRESS" => DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]),
            "DC" => DnType::CustomDnType(vec![0, 9, 2342, 19_200_300, 100, 1, 25]),
            _ => return Err(bad_subject(subject)),
        };
        dn.push(ty, v);
    }
    Ok(dn)
}

fn bad_subject(subject: &str) -> Error {
    Error::bad(format!(
        "The subject '{}' is not a valid X.500 name; use the form 'CN=name, O=organisation'.",
        subject.chars().take(128).collect::<String>()
    ))
}

fn parse_oid(s: &str) -> Result<Vec<u64>> {
    let parts: Option<Vec<u64>> = s.split('.').map(|p| p.parse().ok()).collect();
    match parts {
        // The first two arcs must be encodable (X.690 8.19.4), or the DER writer panics.
        Some(p) if matches!(p.as_slice(), [a, b, ..] if (*a < 2 && *b < 40) || (*a == 2 && *b < u64::MAX - 80)) => {
            Ok(p)
        }
        _ => Err(Error::bad(format!(
            "The extended key usage '{}' is not a dotted OID.",
            s.chars().take(64).collect::<String>()
        ))),
    }
}

fn key_usage(name: &str) -> Result<KeyUsagePurpose> {
    Ok(match name {
        "digitalSignature" => KeyUsagePurpose::DigitalSignature,
        "nonRepudiation" => KeyUsagePurpose::ContentCommitment,
        "keyEncipherment" => KeyUsagePurpose::KeyEncipherment,
        "dataEncipherment" => KeyUsagePurpose::DataEncipherment,
        "keyAgreement" => KeyUsagePurpose::KeyAgreement,
        "keyCertSign" => KeyUsagePurpose::KeyCertSign,
        "cRLSign" => KeyUsagePurpose::CrlSign,
        "encipherOnly" => KeyUsagePurpose::EncipherOnly,
        "decipherOnly" => KeyUsagePurpose::DecipherOnly,
        other => {
            return Err(Error::bad(format!(
                "Invalid key usage '{}'. Valid values are: {}.",
                other.chars().take(32).collect::<String>(),
                KEY_USAGES.join(", ")
            )));
        }
    })
}

fn time_of(ts: i64) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(ts).map_err(|_| Error::bad("The certificate validity is out of range."))
}

fn ia5(s: &str, what: &str) -> Result<rcgen::string::Ia5String> {
    s.to_owned().try_into().map_err(|_| {
        Error::bad(format!("The {what} '{}' is not a valid ASCII name.", s.chars().take(64).collect::<String>()))
    })
}

fn params(spec: &X509Spec) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = parse_subject(&spec.subject)?;
    let mut sans = Vec::new();
    for d in &spec.dns_names {
        sans.push(SanType::DnsName(ia5(d, "DNS name")?));
    }
    for e in &spec.emails {
        sans.push(SanType::Rfc822Name(ia5(e, "email address")?));
    }
    for u in &spec.upns {
        sans.push(SanType::OtherName((UPN_OID.to_vec(), OtherNameValue::Utf8String(u.clone()))));
    }
    for u in &spec.uris {
        sans.push(SanType::URI(ia5(u, "URI")?));
    }
    for ip in &spec.ip_addresses {
        sans.push(SanType::IpAddress(*ip));
    }
    p.subject_alt_names = sans;
    p.key_usages = spec.key_usage.iter().map(|k| key_usage(k)).collect::<Result<_>>()?;
    p.extended_key_usages = spec
        .ekus
        .iter()
        .map(|e| {
            Ok(match e.as_str() {
                "1.3.6.1.5.5.7.3.1" => ExtendedKeyUsagePurpose::ServerAuth,
                "1.3.6.1.5.5.7.3.2" => ExtendedKeyUsagePurpose::ClientAuth,
                "1.3.6.1.5.5.7.3.3" => ExtendedKeyUsagePurpose::CodeSigning,
                "1.3.6.1.5.5.7.3.4" => ExtendedKeyUsagePurpose::EmailProtection,
                "1.3.6.1.5.5.7.3.8" => ExtendedKeyUsagePurpose::TimeStamping,
                "1.3.6.1.5.5.7.3.9" => ExtendedKeyUsagePurpose::OcspSigning,
                other => ExtendedKeyUsagePurpose::Other(parse_oid(other)?),
            })
        })
        .collect::<Result<_>>()?;
    p.not_before = time_of(spec.not_before)?;
    p.not_after = time_of(spec.not_after)?;
    if spec.not_after <= spec.not_before {
        return Err(Error::bad("The certificate must expire after it becomes valid."));
    }
    let mut serial: [u8; 16] = crate::random_array()?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.is_ca = match spec.ca {
        None => IsCa::ExplicitNoCa,
        Some(None) => IsCa::Ca(BasicConstraints::Unconstrained),
        Some(Some(n)) => IsCa::Ca(BasicConstraints::Constrained(n)),
    };
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// A self-signed certificate (DER).
pub fn self_signed(spec: &X509Spec, key: &KeyMaterial) -> Result<Vec<u8>> {
    self_signed_by(spec, CertKey::Soft(key))
}

/// A PKCS#10 certificate signing request (DER) for the spec's subject, SANs and usages.
pub fn csr(spec: &X509Spec, key: &KeyMaterial) -> Result<Vec<u8>> {
    csr_by(spec, CertKey::Soft(key))
}

/// A certificate for `subject_key` signed by the CA (`ca_cert_der` with `ca_key`).
pub fn issue(spec: &X509Spec, subject_key: &KeyMaterial, ca_cert_der: &[u8], ca_key: &KeyMaterial) -> Result<Vec<u8>> {
    issue_by(spec, CertKey::Soft(subject_key), ca_cert_der, CertKey::Soft(ca_key))
}

/// A key that signs or is certified: software, or a handle whose private part stays in a
/// provider (an HSM), which then signs inside the token.
/// A self-signed certificate (DER) for any [`CertKey`].
pub fn self_signed_by(spec: &X509Spec, key: CertKey<'_>) -> Result<Vec<u8>> {
    let signer = Signer::of(key)?;
    Ok(params(spec)?.self_signed(&signer).map_err(gen_err)?.der().to_vec())
}

/// A certificate for `subject` signed by the CA (`ca_cert_der` with `ca_key`), for any keys.
pub fn issue_by(spec: &X509Spec, subject: CertKey<'_>, ca_cert_der: &[u8], ca_key: CertKey<'_>) -> Result<Vec<u8>> {
    let subject = Signer::of(subject)?;
    let issuer = Issuer::from_ca_cert_der(&ca_cert_der.into(), Signer::of(ca_key)?).map_err(gen_err)?;
    Ok(params(spec)?.signed_by(&subject, &issuer).map_err(gen_err)?.der().to_vec())
}

/// A PKCS#10 certificate signing request (DER) for any [`CertKey`] (an HSM key signs it inside
/// the token).
pub fn csr_by(spec: &X509Spec, key: CertKey<'_>) -> Result<Vec<u8>> {
    let signer = Signer::of(key)?;
    let mut p = params(spec)?;
    // A CSR carries neither a serial number nor an authority key identifier.
    p.serial_number = None;
    p.use_authority_key_identifier_extension = false;
    Ok(p.serialize_request(&signer).map_err(gen_err)?.der().to_vec())
}

/// `ts` plus `months` calendar months (the day clamped to the target month's length).
pub fn add_months(ts: i64, months: u32) -> Result<i64> {
    let bad = || Error::bad("The certificate validity is out of range.");
    let t = time::OffsetDateTime::from_unix_timestamp(ts).map_err(|_| bad())?;
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + i64::from(months);
    let year = i32::try_from(total.div_euclid(12)).map_err(|_| bad())?;
    let month_no = u8::try_from(total.rem_euclid(12) + 1).map_err(|_| bad())?;
    let month = time::Month::try_from(month_no).map_err(|_| bad())?;
    let day = t.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    Ok(t.replace_date(date).unix_timestamp())
}
