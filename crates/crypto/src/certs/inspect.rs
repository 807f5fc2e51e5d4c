//! Certificates given to us (import, merge): parsing one into [`CertInfo`], checking and
//! ordering a chain, and verifying who signed what.

use strongbox_types::{Error, Result};

use super::issue::KEY_USAGES;

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

/// The SHA-1 digest of `data` (for Azure's `x5t` thumbprint, not for security).
pub fn sha1(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref().to_vec()
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
                    used.get(i).is_some_and(|&u| !u)
                        && others.get(i).is_some_and(|o| o.as_slice() != cur_der)
                        && parsed
                            .get(i)
                            .and_then(Option::as_ref)
                            .is_some_and(|p| c.verify_signature(Some(p.public_key())).is_ok())
                })
            });
            let Some(i) = next else { break };
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
            order.push(i);
            let Some(p) = parsed.get(i).and_then(Option::as_ref) else { break };
            let self_signed = p.subject().as_raw() == p.issuer().as_raw() && p.verify_signature(None).is_ok();
            if self_signed {
                break;
            }
            let Some(der) = others.get(i) else { break };
            cur_der = der;
            cur = parse(der);
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
