//! X.509 for vault certificates: self-signed and CA-signed issuance, CSRs, inspection of
//! certificates given to us (import, merge), and PEM text.
//!
//! Keys are [`KeyMaterial`] (the same software keys the keys API holds); rcgen signs with them
//! through their PKCS#8 encoding. Every rejection of caller input is `BadParameter` with a
//! message that names the problem and never key material.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, OtherNameValue, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm, SigningKey,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use strongbox_types::{Error, Result, SecretBytes};

use crate::handle::KeyHandle;
use crate::keys::{Curve, KeyKind, KeyMaterial, SignAlg};

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

/// Facts about a parsed certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// base64url SHA-1 of the DER (Azure's `x5t`).
    pub x5t: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    /// DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    pub dns_names: Vec<String>,
    pub emails: Vec<String>,
    pub upns: Vec<String>,
    /// IP addresses in their canonical text form.
    pub ip_addresses: Vec<String>,
    pub uris: Vec<String>,
    pub ekus: Vec<String>,
    pub key_usage: Vec<String>,
    pub is_ca: bool,
}

fn gen_err(e: rcgen::Error) -> Error {
    Error::internal(format!("certificate generation failed: {e}"))
}

/// The PKCS#8 v1 DER of a software key.
pub fn pkcs8_of(key: &KeyMaterial) -> SecretBytes {
    let st = key.to_storage();
    SecretBytes::new(st.expose().get(3..).unwrap_or_default().to_vec())
}

/// A key from PKCS#8 DER (RSA 2048/3072/4096 or EC P-256/P-384/P-521/P-256K).
pub fn key_from_pkcs8(der: &[u8]) -> Result<KeyMaterial> {
    // The storage format is `[1, kind, curve] ‖ PKCS#8`: try each kind the DER could be.
    let candidates: [(u8, u8); 5] = [(1, 0), (2, 1), (2, 2), (2, 3), (2, 4)];
    for (kind, curve) in candidates {
        let mut v = Vec::with_capacity(der.len() + 3);
        v.extend_from_slice(&[1u8, kind, curve]);
        v.extend_from_slice(der);
        let buf = SecretBytes::new(v);
        if let Ok(k) = KeyMaterial::from_storage(buf.expose()) {
            return Ok(k);
        }
    }
    Err(Error::bad(
        "The private key is not a supported PKCS#8 key (RSA 2048, 3072 or 4096 bits, or EC P-256, P-384, P-521).",
    ))
}

fn signature_alg(key: &KeyMaterial) -> Result<&'static SignatureAlgorithm> {
    match key.kind() {
        KeyKind::Rsa => Ok(&rcgen::PKCS_RSA_SHA256),
        KeyKind::Ec(Curve::P256) => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyKind::Ec(Curve::P384) => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyKind::Ec(Curve::P521) => Ok(&rcgen::PKCS_ECDSA_P521_SHA512),
        KeyKind::Ec(Curve::P256K) => {
            Err(Error::bad("Certificates cannot use the P-256K curve; use P-256, P-384 or P-521."))
        }
        KeyKind::Oct => Err(Error::bad("Certificates need an RSA or EC key.")),
    }
}

fn rcgen_key(key: &KeyMaterial) -> Result<KeyPair> {
    let alg = signature_alg(key)?;
    let der = pkcs8_of(key);
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der.expose()), alg).map_err(gen_err)
}

/// The DER SubjectPublicKeyInfo of a key.
pub fn spki_of(key: &KeyMaterial) -> Result<Vec<u8>> {
    Ok(rcgen_key(key)?.subject_public_key_info())
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
        Some(p) if p.len() >= 2 && ((p[0] < 2 && p[1] < 40) || (p[0] == 2 && p[1] < u64::MAX - 80)) => Ok(p),
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
#[derive(Debug, Clone, Copy)]
pub enum CertKey<'a> {
    Soft(&'a KeyMaterial),
    Handle(&'a dyn KeyHandle),
}

/// A [`CertKey`] as rcgen sees it: a key pair, or a remote signer with its public key.
enum Signer<'a> {
    Soft(KeyPair),
    Handle { handle: &'a dyn KeyHandle, public: Vec<u8>, alg: &'static SignatureAlgorithm, sign: SignAlg },
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(n: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    der_tlv(0x02, &v)
}

impl<'a> Signer<'a> {
    fn of(key: CertKey<'a>) -> Result<Self> {
        match key {
            CertKey::Soft(k) => Ok(Signer::Soft(rcgen_key(k)?)),
            CertKey::Handle(h) => {
                let jwk = h.public_jwk();
                let part = |v: &Option<String>| {
                    v.as_deref()
                        .and_then(|s| crate::b64url_decode(s).ok())
                        .ok_or_else(|| Error::internal("the provider key has an incomplete public key"))
                };
                let (public, alg, sign) = match h.kind() {
                    KeyKind::Rsa => {
                        let body = [der_uint(&part(&jwk.n)?), der_uint(&part(&jwk.e)?)].concat();
                        (der_tlv(0x30, &body), &rcgen::PKCS_RSA_SHA256, SignAlg::RS256)
                    }
                    KeyKind::Ec(c) => {
                        let (alg, sign) = match c {
                            Curve::P256 => (&rcgen::PKCS_ECDSA_P256_SHA256, SignAlg::ES256),
                            Curve::P384 => (&rcgen::PKCS_ECDSA_P384_SHA384, SignAlg::ES384),
                            _ => return Err(Error::bad("A CA key in the HSM must be RSA, P-256 or P-384.")),
                        };
                        ([[0x04].as_slice(), &part(&jwk.x)?, &part(&jwk.y)?].concat(), alg, sign)
                    }
                    KeyKind::Oct => return Err(Error::bad("Certificates need an RSA or EC key.")),
                };
                Ok(Signer::Handle { handle: h, public, alg, sign })
            }
        }
    }
}

impl PublicKeyData for Signer<'_> {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Signer::Soft(k) => k.der_bytes(),
            Signer::Handle { public, .. } => public,
        }
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            Signer::Soft(k) => k.algorithm(),
            Signer::Handle { alg, .. } => alg,
        }
    }
}

impl SigningKey for Signer<'_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        use aws_lc_rs::digest;
        match self {
            Signer::Soft(k) => k.sign(msg),
            Signer::Handle { handle, sign, .. } => {
                let d = match sign {
                    SignAlg::ES384 => digest::digest(&digest::SHA384, msg),
                    _ => digest::digest(&digest::SHA256, msg),
                };
                let sig = handle.sign(*sign, d.as_ref()).map_err(|_| rcgen::Error::RemoteKeyError)?;
                if matches!(sign, SignAlg::RS256) {
                    return Ok(sig);
                }
                // The token answers ECDSA as r ‖ s; X.509 wants the DER ECDSA-Sig-Value.
                if sig.is_empty() || sig.len() % 2 != 0 {
                    return Err(rcgen::Error::RemoteKeyError);
                }
                let (r, s) = sig.split_at(sig.len() / 2);
                Ok(der_tlv(0x30, &[der_uint(r), der_uint(s)].concat()))
            }
        }
    }
}

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

/// The DER SubjectPublicKeyInfo of any [`CertKey`].
pub fn spki_by(key: CertKey<'_>) -> Result<Vec<u8>> {
    Ok(Signer::of(key)?.subject_public_key_info())
}

/// Parses a certificate (DER). Anything that is not one exact certificate is refused.
pub fn inspect(der: &[u8]) -> Result<CertInfo> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    let bad = || Error::bad("The certificate is not a valid DER-encoded X.509 certificate.");
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| bad())?;
    if !rest.is_empty() {
        return Err(bad());
    }
    let mut info = CertInfo {
        x5t: crate::b64url(sha1(der).as_slice()),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        spki: cert.public_key().raw.to_vec(),
        dns_names: Vec::new(),
        emails: Vec::new(),
        upns: Vec::new(),
        ip_addresses: Vec::new(),
        uris: Vec::new(),
        ekus: Vec::new(),
        key_usage: Vec::new(),
        is_ca: false,
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for n in &san.general_names {
                    match n {
                        GeneralName::DNSName(d) => info.dns_names.push((*d).to_owned()),
                        GeneralName::RFC822Name(e) => info.emails.push((*e).to_owned()),
                        GeneralName::URI(u) => info.uris.push((*u).to_owned()),
                        GeneralName::IPAddress(b) => {
                            if let Some(ip) = ip_of(b) {
                                info.ip_addresses.push(ip.to_string());
                            }
                        }
                        GeneralName::OtherName(oid, value) if oid.to_id_string() == "1.3.6.1.4.1.311.20.2.3" => {
                            if let Some(s) = upn_value(value) {
                                info.upns.push(s);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                let mut v = Vec::new();
                if e.server_auth {
                    v.push("1.3.6.1.5.5.7.3.1".to_owned());
                }
                if e.client_auth {
                    v.push("1.3.6.1.5.5.7.3.2".to_owned());
                }
                if e.code_signing {
                    v.push("1.3.6.1.5.5.7.3.3".to_owned());
                }
                if e.email_protection {
                    v.push("1.3.6.1.5.5.7.3.4".to_owned());
                }
                if e.time_stamping {
                    v.push("1.3.6.1.5.5.7.3.8".to_owned());
                }
                if e.ocsp_signing {
                    v.push("1.3.6.1.5.5.7.3.9".to_owned());
                }
                v.extend(e.other.iter().map(|o| o.to_id_string()));
                info.ekus = v;
            }
            ParsedExtension::KeyUsage(k) => {
                let bits = k.flags;
                info.key_usage = KEY_USAGES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0)
                    .map(|(_, n)| (*n).to_owned())
                    .collect();
            }
            ParsedExtension::BasicConstraints(b) => info.is_ca = b.ca,
            _ => {}
        }
    }
    Ok(info)
}

/// An `iPAddress` general name (4 or 16 octets; a name constraint's 8 or 32 are not addresses).
fn ip_of(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

/// The UTF8String inside an `otherName` value (`[0] EXPLICIT UTF8String`).
fn upn_value(value: &[u8]) -> Option<String> {
    // Tag 0x0c (UTF8String) with a short length, possibly wrapped in the explicit [0] tag.
    let inner = match value.first() {
        Some(0xa0) => value.get(2..)?,
        _ => value,
    };
    match inner {
        [0x0c, len, rest @ ..] if usize::from(*len) == rest.len() => String::from_utf8(rest.to_vec()).ok(),
        _ => None,
    }
}

/// Verifies that `cert_der` was signed by the key of `issuer_der`.
pub fn signed_by(cert_der: &[u8], issuer_der: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, issuer))) =
        (x509_parser::parse_x509_certificate(cert_der), x509_parser::parse_x509_certificate(issuer_der))
    else {
        return false;
    };
    cert.verify_signature(Some(issuer.public_key())).is_ok()
}

pub fn sha1(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref().to_vec()
}

/// One PEM block, lines of 64 characters.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A PEM block's label and DER contents. Private key contents are zeroized on drop.
pub struct PemBlock {
    pub label: String,
    pub der: SecretBytes,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemBlock").field("label", &self.label).finish_non_exhaustive()
    }
}

/// Every `-----BEGIN X-----` block of a PEM text, in order.
pub fn parse_pem(text: &str) -> Result<Vec<PemBlock>> {
    use base64::Engine;
    let bad = || Error::bad("The PEM text is malformed.");
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                // RFC 1421 headers (encrypted legacy keys) are not supported.
                return Err(Error::bad("Encrypted PEM private keys are not supported; import a PFX with a password."));
            }
            body.push_str(l);
        }
        if !closed {
            return Err(bad());
        }
        let der = base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|_| bad())?;
        out.push(PemBlock { label: label.to_owned(), der: SecretBytes::new(der) });
    }
    Ok(out)
}

/// Most certificates a certificate's chain (leaf included) may hold on import or merge.
pub const MAX_CHAIN: usize = 32;
/// Largest single certificate (DER) accepted in a chain.
pub const MAX_CERT_BYTES: usize = 32 * 1024;

/// Checks every element of a chain given to us (import, merge): at most [`MAX_CHAIN`] of them,
/// each one exact DER X.509 certificate of at most [`MAX_CERT_BYTES`]. The refusal names the
/// element (1 is the first).
pub fn check_chain(certs: &[Vec<u8>]) -> Result<()> {
    if certs.len() > MAX_CHAIN {
        return Err(Error::bad(format!(
            "The certificate chain holds {} certificates; at most {MAX_CHAIN} are accepted.",
            certs.len()
        )));
    }
    for (i, c) in certs.iter().enumerate() {
        if c.len() > MAX_CERT_BYTES {
            return Err(Error::bad(format!(
                "Certificate {} of the chain is larger than {MAX_CERT_BYTES} bytes.",
                i + 1
            )));
        }
        if inspect(c).is_err() {
            return Err(Error::bad(format!(
                "Certificate {} of the chain is not a valid DER-encoded X.509 certificate.",
                i + 1
            )));
        }
    }
    Ok(())
}

/// Orders a leaf and the other certificates into a chain leaf → root as far as issuers are
/// present; certificates that are not in the chain are kept at the end in the given order.
///
/// Each certificate is parsed once and issuers are looked up by subject name, so the work is
/// linear in the chain (a signature is checked only for certificates whose subject is the
/// issuer's name), whatever order the certificates come in.
pub fn order_chain(leaf: Vec<u8>, others: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    use std::collections::HashMap;
    use x509_parser::certificate::X509Certificate;
    fn parse(d: &[u8]) -> Option<X509Certificate<'_>> {
        x509_parser::parse_x509_certificate(d).ok().map(|(_, c)| c)
    }
    let order = {
        let parsed: Vec<Option<X509Certificate<'_>>> = others.iter().map(|c| parse(c)).collect();
        let mut by_subject: HashMap<&[u8], Vec<usize>> = HashMap::new();
        for (i, p) in parsed.iter().enumerate() {
            if let Some(p) = p {
                by_subject.entry(p.subject().as_raw()).or_default().push(i);
            }
        }
        let mut used = vec![false; others.len()];
        let mut order = Vec::new();
        let mut cur_der: &[u8] = &leaf;
        let mut cur = parse(&leaf);
        while let Some(c) = cur.take() {
            let next = by_subject.get(c.issuer().as_raw()).and_then(|cands| {
                cands.iter().copied().find(|&i| {
                    !used[i]
                        && others[i].as_slice() != cur_der
                        && parsed[i].as_ref().is_some_and(|p| c.verify_signature(Some(p.public_key())).is_ok())
                })
            });
            let Some(i) = next else { break };
            used[i] = true;
            order.push(i);
            let Some(p) = parsed[i].as_ref() else { break };
            let self_signed = p.subject().as_raw() == p.issuer().as_raw() && p.verify_signature(None).is_ok();
            if self_signed {
                break;
            }
            cur_der = &others[i];
            cur = parse(&others[i]);
        }
        order
    };
    let mut slots: Vec<Option<Vec<u8>>> = others.into_iter().map(Some).collect();
    let mut chain = vec![leaf];
    for i in order {
        if let Some(c) = slots.get_mut(i).and_then(Option::take) {
            chain.push(c);
        }
    }
    chain.extend(slots.into_iter().flatten());
    chain
}

/// Standard base64 with padding (Azure's `format: byte`: `cer`, `csr`, `x5c`).
pub fn b64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64 (whitespace ignored). `None` when it is not base64.
pub fn b64_std_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()).ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(subject: &str) -> X509Spec {
        X509Spec {
            subject: subject.into(),
            dns_names: vec!["a.example".into()],
            emails: vec!["x@example.com".into()],
            upns: vec!["u@corp".into()],
            ip_addresses: vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()],
            uris: vec!["spiffe://example.org/web".into()],
            ekus: vec!["1.3.6.1.5.5.7.3.1".into(), "1.2.3.4".into()],
            key_usage: vec!["digitalSignature".into(), "keyEncipherment".into()],
            not_before: 1_700_000_000,
            not_after: 1_700_000_000 + 86_400 * 365,
            ca: None,
        }
    }

    /// The remote-signer path (hash, sign the digest through `KeyHandle`, r ‖ s → DER) with a
    /// software key standing in for the token: the result verifies and carries the same SPKI.
    #[test]
    fn handle_keys_sign_certificates() {
        for ca in [
            KeyMaterial::generate_rsa(2048).unwrap(),
            KeyMaterial::generate_ec(Curve::P256).unwrap(),
            KeyMaterial::generate_ec(Curve::P384).unwrap(),
        ] {
            let mut ca_spec = spec("CN=handle root");
            ca_spec.ca = Some(None);
            ca_spec.key_usage = vec!["keyCertSign".into(), "cRLSign".into()];
            let root = self_signed_by(&ca_spec, CertKey::Handle(&ca)).unwrap();
            assert!(signed_by(&root, &root));
            assert_eq!(inspect(&root).unwrap().spki, spki_of(&ca).unwrap());
            let leaf_key = KeyMaterial::generate_ec(Curve::P256).unwrap();
            let leaf = issue_by(&spec("CN=leaf"), CertKey::Soft(&leaf_key), &root, CertKey::Handle(&ca)).unwrap();
            assert!(signed_by(&leaf, &root));
            assert!(!signed_by(&root, &leaf));
        }
        let k = KeyMaterial::generate_ec(Curve::P521).unwrap();
        assert!(self_signed_by(&spec("CN=x"), CertKey::Handle(&k)).is_err());
    }

    #[test]
    fn self_signed_round_trip() {
        for key in [KeyMaterial::generate_rsa(2048).unwrap(), KeyMaterial::generate_ec(Curve::P384).unwrap()] {
            let der = self_signed(&spec("CN=test, O=Org"), &key).unwrap();
            let info = inspect(&der).unwrap();
            assert_eq!(info.spki, spki_of(&key).unwrap());
            assert_eq!(info.not_before, 1_700_000_000);
            assert_eq!(info.dns_names, vec!["a.example"]);
            assert_eq!(info.emails, vec!["x@example.com"]);
            assert_eq!(info.upns, vec!["u@corp"]);
            assert_eq!(info.ip_addresses, vec!["10.0.0.1", "2001:db8::1"]);
            assert_eq!(info.uris, vec!["spiffe://example.org/web"]);
            assert_eq!(info.ekus, vec!["1.3.6.1.5.5.7.3.1", "1.2.3.4"]);
            assert_eq!(info.key_usage, vec!["digitalSignature", "keyEncipherment"]);
            assert!(info.subject.contains("CN=test"));
            assert!(signed_by(&der, &der));
            let back = key_from_pkcs8(pkcs8_of(&key).expose()).unwrap();
            assert_eq!(spki_of(&back).unwrap(), info.spki);
        }
    }

    #[test]
    fn ca_issues_and_chain_orders() {
        let ca_key = KeyMaterial::generate_ec(Curve::P256).unwrap();
        let mut ca_spec = spec("CN=Root");
        ca_spec.ca = Some(None);
        ca_spec.key_usage = vec!["keyCertSign".into(), "cRLSign".into()];
        let ca = self_signed(&ca_spec, &ca_key).unwrap();
        let leaf_key = KeyMaterial::generate_rsa(2048).unwrap();
        let leaf = issue(&spec("CN=leaf"), &leaf_key, &ca, &ca_key).unwrap();
        assert!(signed_by(&leaf, &ca));
        assert!(!signed_by(&leaf, &leaf));
        let info = inspect(&leaf).unwrap();
        assert!(info.issuer.contains("CN=Root"));
        assert_eq!(order_chain(leaf.clone(), vec![ca.clone()]), vec![leaf, ca]);
    }

    /// A chain of `n` CAs under a root plus a leaf, in any order, comes out leaf → root; a
    /// certificate outside the chain goes last. Non-certificates and over-long chains are refused.
    #[test]
    fn chains_order_in_any_order_and_are_checked() {
        let mut keys = vec![KeyMaterial::generate_ec(Curve::P256).unwrap()];
        let mut root_spec = spec("CN=Root");
        root_spec.ca = Some(None);
        root_spec.key_usage = vec!["keyCertSign".into()];
        let mut certs = vec![self_signed(&root_spec, &keys[0]).unwrap()];
        for i in 1..=12 {
            let k = KeyMaterial::generate_ec(Curve::P256).unwrap();
            let mut s = spec(&format!("CN=CA {i}"));
            s.ca = Some(None);
            s.key_usage = vec!["keyCertSign".into()];
            let c = issue(&s, &k, &certs[i - 1], &keys[i - 1]).unwrap();
            keys.push(k);
            certs.push(c);
        }
        let leaf_key = KeyMaterial::generate_ec(Curve::P256).unwrap();
        let leaf = issue(&spec("CN=leaf"), &leaf_key, &certs[12], &keys[12]).unwrap();
        let stray = self_signed(&spec("CN=stray"), &leaf_key).unwrap();
        let want: Vec<Vec<u8>> = std::iter::once(leaf.clone()).chain(certs.iter().rev().cloned()).collect();
        let mut reversed = certs.clone();
        reversed.push(stray.clone());
        let mut got = order_chain(leaf.clone(), reversed);
        assert_eq!(got.pop().unwrap(), stray);
        assert_eq!(got, want);
        let mut shuffled = certs.clone();
        shuffled.rotate_left(5);
        assert_eq!(order_chain(leaf.clone(), shuffled), want);

        assert!(check_chain(&want).is_ok());
        let mut bad = want.clone();
        bad.insert(2, vec![0x30, 0x03, 0x30, 0x01, 0x00]);
        assert!(check_chain(&bad).unwrap_err().message.contains("Certificate 3 of the chain"));
        let mut trailing = want.clone();
        trailing[1].push(0);
        assert!(check_chain(&trailing).is_err());
        let long = vec![leaf.clone(); MAX_CHAIN + 1];
        assert!(check_chain(&long).unwrap_err().message.contains("at most 32"));
    }

    #[test]
    fn bad_inputs() {
        assert!(parse_subject("CN=a, XX=b").is_err());
        assert!(parse_subject("justtext").is_err());
        assert!(inspect(b"not a cert").is_err());
        assert!(key_from_pkcs8(b"garbage").is_err());
        let mut s = spec("CN=a");
        s.key_usage = vec!["bogus".into()];
        assert!(self_signed(&s, &KeyMaterial::generate_ec(Curve::P256).unwrap()).is_err());
        let k = KeyMaterial::generate_ec(Curve::P256K).unwrap();
        assert!(self_signed(&spec("CN=a"), &k).is_err());
        // OIDs whose first arcs cannot be encoded are refused, not a panic in the DER writer
        let key = KeyMaterial::generate_ec(Curve::P256).unwrap();
        for oid in ["3.1", "1.40", "0.99", "2.18446744073709551615"] {
            let mut s = spec("CN=a");
            s.ekus = vec![oid.into()];
            assert_eq!(self_signed(&s, &key).unwrap_err().kind, strongbox_types::ErrorKind::BadParameter, "{oid}");
        }
        let mut s = spec("CN=a");
        s.ekus = vec!["2.999.1".into()];
        assert!(self_signed(&s, &key).is_ok());
    }

    #[test]
    fn csr_is_built() {
        let key = KeyMaterial::generate_ec(Curve::P256).unwrap();
        let der = csr(&spec("CN=req"), &key).unwrap();
        assert_eq!(der[0], 0x30);
    }

    #[test]
    fn months() {
        // 2024-01-31 + 1 month = 2024-02-29 (leap year); + 12 months = 2025-01-31
        let jan31 = 1_706_659_200;
        assert_eq!(add_months(jan31, 1).unwrap(), 1_709_164_800);
        assert_eq!(add_months(jan31, 12).unwrap(), 1_738_281_600);
        assert_eq!(b64_std_decode(&b64_std(b"abc")).unwrap(), b"abc");
    }

    #[test]
    fn pem_round_trip() {
        let text = format!("{}{}", to_pem("PRIVATE KEY", b"abc"), to_pem("CERTIFICATE", &[1u8; 100]));
        let blocks = parse_pem(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "PRIVATE KEY");
        assert_eq!(blocks[1].der.expose(), &[1u8; 100]);
        assert!(!format!("{:?}", blocks[0]).contains("abc"));
        assert!(parse_pem("-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    }
}
