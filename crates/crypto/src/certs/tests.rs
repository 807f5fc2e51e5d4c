use super::*;
use crate::keys::{Curve, KeyMaterial};

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
