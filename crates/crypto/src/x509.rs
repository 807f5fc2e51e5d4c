//! The local certificate authority and server certificates for development deployments.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use strongbox_types::{Error, Result, SecretString};

/// PEM texts of a certificate and its private key.
pub struct CertPem {
    pub cert: String,
    pub key: SecretString,
}

impl std::fmt::Debug for CertPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertPem").field("cert", &self.cert).finish_non_exhaustive()
    }
}

fn err(e: rcgen::Error) -> Error {
    Error::internal(format!("certificate generation failed: {e}"))
}

/// A new self-signed CA (P-256, 10 years).
pub fn generate_ca(common_name: &str) -> Result<CertPem> {
    let key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Strongbox");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = p.self_signed(&key).map_err(err)?;
    Ok(CertPem { cert: cert.pem(), key: SecretString::new(key.serialize_pem()) })
}

/// A server certificate for `names` (DNS names or IP literals) issued by the CA.
pub fn issue_server_cert(ca: &CertPem, names: &[String]) -> Result<CertPem> {
    let ca_key = KeyPair::from_pem(ca.key.expose()).map_err(err)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key).map_err(err)?;
    let key = KeyPair::generate().map_err(err)?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.first().map(String::as_str).unwrap_or("localhost"));
    p.distinguished_name = dn;
    p.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().map(SanType::DnsName).map_err(err),
        })
        .collect::<Result<_>>()?;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let cert = p.signed_by(&key, &issuer).map_err(err)?;
    Ok(CertPem { cert: cert.pem(), key: SecretString::new(key.serialize_pem()) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ca_issues_server_cert() {
        let ca = super::generate_ca("Test CA").unwrap();
        let s = super::issue_server_cert(&ca, &["localhost".into(), "*.vault.localhost".into(), "127.0.0.1".into()])
            .unwrap();
        assert!(s.cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!format!("{s:?}").contains("PRIVATE KEY"));
    }
}
