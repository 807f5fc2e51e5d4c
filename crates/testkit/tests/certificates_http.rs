//! Certificates over real HTTPS: the lifecycle with the `Self` issuer, the managed key and
//! secret behind each version, import (PFX from OpenSSL, PEM with chain), CSR + merge, contacts
//! and issuers, renewal on the fake clock, and bad input. Every certificate, key and PFX the
//! server hands out is checked with the `openssl` command-line tool.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{call, code};
use serde_json::{Value, json};
use strongbox_testkit::TestServer;

const V: &str = "api-version=7.6";

fn std_b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn std_unb64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Runs `openssl` with `args` in `dir`; panics with its stderr when it fails.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl_fails(dir: &Path, args: &[&str]) -> bool {
    !Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs").status.success()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// The SubjectPublicKeyInfo (PEM) of a certificate file and of a private key file.
fn cert_pub(dir: &Path, cert: &str, form: &str) -> String {
    openssl(dir, &["x509", "-inform", form, "-in", cert, "-noout", "-pubkey"])
}
fn key_pub(dir: &Path, key: &str) -> String {
    openssl(dir, &["pkey", "-in", key, "-pubout"])
}

/// An OpenSSL-made root CA (`ca.pem`, `ca.key`) in `dir`.
fn make_ca(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Test Root CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// An OpenSSL-made leaf (`{name}.key`, `{name}.pem`) signed by the CA in `dir`.
fn make_leaf(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}.example"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "10",
        ],
    );
}

async fn token(s: &TestServer) -> String {
    s.admin_token().await
}

#[tokio::test]
async fn self_issued_lifecycle_with_managed_key_and_secret() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The near-empty policy the SDKs' defaults send: the server fills Azure's defaults.
    let policy = json!({"key_props": {}, "x509_props": {"subject": "CN=DefaultPolicy"}, "issuer": {"name": "Self"}});
    let r =
        call(&s, "POST", &format!("{base}/certificates/Web-1/create?{V}"), t, Some(json!({"policy": policy}))).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "inProgress", "the SDK pollers need the first answer in progress");
    assert_eq!(r.body["id"], format!("{base}/certificates/Web-1/pending"));
    let p = call(&s, "GET", &format!("{base}/certificates/Web-1/pending?{V}"), t, None).await;
    assert_eq!(p.body["status"], "completed", "{}", p.body);
    assert_eq!(p.body["target"], format!("{base}/certificates/Web-1"));

    let c = call(&s, "GET", &format!("{base}/certificates/web-1/?{V}"), t, None).await;
    assert_eq!(c.status, 200, "{}", c.body);
    let id = c.body["id"].as_str().unwrap().to_owned();
    let version = id.rsplit('/').next().unwrap().to_owned();
    assert_eq!(version.len(), 32);
    assert_eq!(c.body["kid"], format!("{base}/keys/Web-1/{version}"));
    assert_eq!(c.body["sid"], format!("{base}/secrets/Web-1/{version}"));
    let pol = &c.body["policy"];
    assert_eq!(pol["key_props"]["kty"], "RSA");
    assert_eq!(pol["key_props"]["key_size"], 2048);
    assert_eq!(pol["key_props"]["exportable"], true);
    assert_eq!(pol["key_props"]["reuse_key"], false);
    assert_eq!(pol["secret_props"]["contentType"], "application/x-pkcs12");
    assert_eq!(pol["x509_props"]["validity_months"], 12);
    assert_eq!(pol["x509_props"]["ekus"], json!(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]));
    assert_eq!(pol["x509_props"]["key_usage"], json!(["digitalSignature", "keyEncipherment"]));
    assert_eq!(pol["lifetime_actions"][0]["trigger"]["lifetime_percentage"], 80);
    assert_eq!(pol["lifetime_actions"][0]["action"]["action_type"], "AutoRenew");
    assert_eq!(pol["issuer"]["name"], "Self");

    // the certificate: x509 parses, self-signed verifies, x5t is the SHA-1 thumbprint
    let der = std_unb64(c.body["cer"].as_str().unwrap());
    write(d, "c.der", &der);
    let text = openssl(d, &["x509", "-inform", "DER", "-in", "c.der", "-noout", "-subject", "-fingerprint", "-sha1"]);
    assert!(text.contains("CN = DefaultPolicy") || text.contains("CN=DefaultPolicy"), "{text}");
    openssl(d, &["x509", "-inform", "DER", "-in", "c.der", "-out", "c.pem"]);
    openssl(d, &["verify", "-CAfile", "c.pem", "c.pem"]);
    let fp: String =
        text.lines().find(|l| l.contains("Fingerprint")).unwrap().split('=').nth(1).unwrap().replace(':', "");
    let x5t = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c.body["x5t"].as_str().unwrap()).unwrap()
    };
    assert_eq!(x5t.iter().map(|b| format!("{b:02X}")).collect::<String>(), fp.trim());

    // the secret: a password-less PFX holding the key and the certificate (OpenSSL reads it)
    let sec = call(&s, "GET", &format!("{base}/secrets/Web-1/{version}?{V}"), t, None).await;
    assert_eq!(sec.status, 200, "{}", sec.body);
    assert_eq!(sec.body["contentType"], "application/x-pkcs12");
    assert_eq!(sec.body["managed"], true);
    assert_eq!(sec.body["kid"], format!("{base}/keys/Web-1/{version}"));
    write(d, "s.pfx", &std_unb64(sec.body["value"].as_str().unwrap()));
    openssl(d, &["pkcs12", "-in", "s.pfx", "-passin", "pass:", "-nodes", "-out", "s.pem"]);
    openssl(d, &["pkey", "-in", "s.pem", "-out", "s.key"]);
    assert_eq!(key_pub(d, "s.key"), cert_pub(d, "c.der", "DER"));

    // the same secret converted to PEM on the way out (outContentType), then back to PFX
    let pem = call(
        &s,
        "GET",
        &format!("{base}/secrets/Web-1/{version}?{V}&outContentType=application%2Fx-pem-file"),
        t,
        None,
    )
    .await;
    assert_eq!(pem.status, 200, "{}", pem.body);
    assert_eq!(pem.body["contentType"], "application/x-pem-file");
    write(d, "conv.pem", pem.body["value"].as_str().unwrap().as_bytes());
    openssl(d, &["pkey", "-in", "conv.pem", "-out", "conv.key"]);
    assert_eq!(key_pub(d, "conv.key"), cert_pub(d, "c.der", "DER"));
    let r = call(&s, "PUT", &format!("{base}/secrets/plain?{V}"), t, Some(json!({"value": "v"}))).await;
    assert_eq!(r.status, 200);
    let r =
        call(&s, "GET", &format!("{base}/secrets/plain?{V}&outContentType=application%2Fx-pem-file"), t, None).await;
    assert_eq!(r.status, 400, "{}", r.body);

    // the key: same version, managed, public part only, same public key
    let k = call(&s, "GET", &format!("{base}/keys/Web-1/{version}?{V}"), t, None).await;
    assert_eq!(k.status, 200, "{}", k.body);
    assert_eq!(k.body["managed"], true);
    assert!(k.body["key"].get("d").is_none());
    assert_eq!(k.body["key"]["kty"], "RSA");

    // managed objects refuse the keys and secrets APIs, as Azure does
    let r = call(&s, "PUT", &format!("{base}/secrets/Web-1?{V}"), t, Some(json!({"value": "x"}))).await;
    assert_eq!((r.status, code(&r)), (403, "Forbidden"), "{}", r.body);
    assert_eq!(r.body["error"]["innererror"]["code"], "SecretManagedByKeyVault");
    let r = call(&s, "DELETE", &format!("{base}/secrets/Web-1?{V}"), t, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r =
        call(&s, "PATCH", &format!("{base}/secrets/Web-1/{version}?{V}"), t, Some(json!({"tags": {"a": "b"}}))).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // a second version, under an updated policy (PEM, EC P-384, 6 months)
    let r = call(
        &s,
        "PATCH",
        &format!("{base}/certificates/Web-1/policy?{V}"),
        t,
        Some(json!({"key_props": {"kty": "EC", "crv": "P-384"}, "secret_props": {"contentType": "application/x-pem-file"},
                    "x509_props": {"validity_months": 6, "sans": {"dns_names": ["web.example", "*.web.example"]}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["key_props"]["crv"], "P-384");
    assert_eq!(r.body["x509_props"]["subject"], "CN=DefaultPolicy");
    assert_eq!(r.body["x509_props"]["key_usage"], json!(["digitalSignature"]));
    let r =
        call(&s, "POST", &format!("{base}/certificates/Web-1/create?{V}"), t, Some(json!({"policy": r.body}))).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let c2 = call(&s, "GET", &format!("{base}/certificates/Web-1?{V}"), t, None).await;
    let v2 = c2.body["id"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    assert_ne!(v2, version);
    let sec2 = call(&s, "GET", &format!("{base}/secrets/Web-1?{V}"), t, None).await;
    assert_eq!(sec2.body["contentType"], "application/x-pem-file");
    write(d, "s2.pem", sec2.body["value"].as_str().unwrap().as_bytes());
    let info = openssl(d, &["x509", "-in", "s2.pem", "-noout", "-text"]);
    assert!(info.contains("DNS:web.example") && info.contains("DNS:*.web.example"), "{info}");
    assert!(info.contains("secp384r1") || info.contains("P-384"), "{info}");
    openssl(d, &["pkey", "-in", "s2.pem", "-out", "s2.key"]);
    assert_eq!(key_pub(d, "s2.key"), cert_pub(d, "s2.pem", "PEM"));

    // a non-exportable certificate: its secret holds the certificate only
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/NoExport/create?{V}"),
        t,
        Some(json!({"policy": {"key_props": {"exportable": false}, "x509_props": {"subject": "CN=ne"},
                               "issuer": {"name": "Self"}, "secret_props": {"contentType": "application/x-pem-file"}}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let sec = call(&s, "GET", &format!("{base}/secrets/NoExport?{V}"), t, None).await;
    let text = sec.body["value"].as_str().unwrap();
    assert!(text.contains("BEGIN CERTIFICATE") && !text.contains("PRIVATE KEY"), "{text}");
    call(&s, "DELETE", &format!("{base}/certificates/NoExport?{V}"), t, None).await;

    // lists and versions (x5t, no cer), update of tags and enabled
    let l = call(&s, "GET", &format!("{base}/certificates?{V}"), t, None).await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 1, "{}", l.body);
    assert_eq!(l.body["value"][0]["id"], format!("{base}/certificates/Web-1"));
    assert!(l.body["value"][0]["x5t"].is_string());
    assert!(l.body["value"][0].get("cer").is_none());
    let vs = call(&s, "GET", &format!("{base}/certificates/Web-1/versions?{V}"), t, None).await;
    assert_eq!(vs.body["value"].as_array().unwrap().len(), 2);
    let u = call(
        &s,
        "PATCH",
        &format!("{base}/certificates/Web-1/{version}?{V}"),
        t,
        Some(json!({"tags": {"env": "test"}, "attributes": {"enabled": false}})),
    )
    .await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["tags"]["env"], "test");
    assert_eq!(u.body["attributes"]["enabled"], false);
    let r = call(&s, "GET", &format!("{base}/certificates/Web-1/{version}?{V}"), t, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = call(&s, "GET", &format!("{base}/secrets/Web-1/{version}?{V}"), t, None).await;
    assert_eq!(r.status, 403, "the secret follows the certificate's enabled flag: {}", r.body);

    // backup, delete (all three), recover, delete, purge, restore
    let b = call(&s, "POST", &format!("{base}/certificates/Web-1/backup?{V}"), t, None).await;
    assert_eq!(b.status, 200, "{}", b.body);
    let del = call(&s, "DELETE", &format!("{base}/certificates/Web-1?{V}"), t, None).await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(del.body["recoveryId"], format!("{base}/deletedcertificates/Web-1"));
    for path in ["deletedcertificates", "deletedkeys", "deletedsecrets"] {
        let r = call(&s, "GET", &format!("{base}/{path}/Web-1?{V}"), t, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let r = call(&s, "GET", &format!("{base}/keys/Web-1?{V}"), t, None).await;
    assert_eq!(r.status, 404);
    let r = call(&s, "DELETE", &format!("{base}/deletedsecrets/Web-1?{V}"), t, None).await;
    assert_eq!(r.status, 403, "a managed secret is purged with its certificate: {}", r.body);
    let r = call(&s, "POST", &format!("{base}/deletedcertificates/Web-1/recover?{V}"), t, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&s, "GET", &format!("{base}/secrets/Web-1?{V}"), t, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    call(&s, "DELETE", &format!("{base}/certificates/Web-1?{V}"), t, None).await;
    let r = call(&s, "DELETE", &format!("{base}/deletedcertificates/Web-1?{V}"), t, None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    for path in ["deletedcertificates", "deletedkeys", "deletedsecrets"] {
        let r = call(&s, "GET", &format!("{base}/{path}/Web-1?{V}"), t, None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let r =
        call(&s, "POST", &format!("{base}/certificates/restore?{V}"), t, Some(json!({"value": b.body["value"]}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let vs = call(&s, "GET", &format!("{base}/certificates/Web-1/versions?{V}"), t, None).await;
    assert_eq!(vs.body["value"].as_array().unwrap().len(), 2);
    let r = call(&s, "GET", &format!("{base}/secrets/Web-1/{v2}?{V}"), t, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["managed"], true);
    let r =
        call(&s, "POST", &format!("{base}/certificates/restore?{V}"), t, Some(json!({"value": b.body["value"]}))).await;
    assert_eq!(r.status, 409, "{}", r.body);
}

#[tokio::test]
async fn import_pfx_and_pem_from_openssl() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d);
    make_leaf(d, "leaf");
    make_leaf(d, "other");

    // PFX with a password, default (modern) OpenSSL encryption, and legacy when available
    openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "leaf.key",
            "-in",
            "leaf.pem",
            "-certfile",
            "ca.pem",
            "-out",
            "m.pfx",
            "-passout",
            "pass:pw1",
        ],
    );
    let mut pfx_files = vec!["m.pfx"];
    if !openssl_fails(
        d,
        &[
            "pkcs12", "-export", "-legacy", "-inkey", "leaf.key", "-in", "leaf.pem", "-out", "l.pfx", "-passout",
            "pass:pw1",
        ],
    ) {
        pfx_files.push("l.pfx");
    }
    for (i, f) in pfx_files.iter().enumerate() {
        let bytes = std::fs::read(d.join(f)).unwrap();
        let name = format!("imp{i}");
        let r = call(
            &s,
            "POST",
            &format!("{base}/certificates/{name}/import?{V}"),
            t,
            Some(json!({"value": std_b64(&bytes), "pwd": "pw1"})),
        )
        .await;
        assert_eq!(r.status, 200, "{f}: {}", r.body);
        assert_eq!(r.body["policy"]["key_props"]["kty"], "EC", "{f}");
        assert_eq!(r.body["policy"]["issuer"]["name"], "Unknown");
        assert_eq!(r.body["policy"]["x509_props"]["subject"], "CN=leaf.example");
        write(d, "got.der", &std_unb64(r.body["cer"].as_str().unwrap()));
        assert_eq!(cert_pub(d, "got.der", "DER"), cert_pub(d, "leaf.pem", "PEM"));
        // the stored PFX (password-less) carries the key and the chain; OpenSSL verifies it
        let sec = call(&s, "GET", &format!("{base}/secrets/{name}?{V}"), t, None).await;
        write(d, "out.pfx", &std_unb64(sec.body["value"].as_str().unwrap()));
        openssl(d, &["pkcs12", "-in", "out.pfx", "-passin", "pass:", "-nodes", "-out", "out.pem"]);
        openssl(d, &["pkey", "-in", "out.pem", "-out", "out.key"]);
        assert_eq!(key_pub(d, "out.key"), key_pub(d, "leaf.key"));
        if *f == "m.pfx" {
            let certs = openssl(d, &["pkcs12", "-in", "out.pfx", "-passin", "pass:", "-nokeys"]);
            assert_eq!(certs.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA: {certs}");
            openssl(
                d,
                &["pkcs12", "-in", "out.pfx", "-passin", "pass:", "-nokeys", "-clcerts", "-out", "leaf-out.pem"],
            );
            openssl(d, &["verify", "-CAfile", "ca.pem", "leaf-out.pem"]);
        }
    }

    // wrong password, corrupt PFX: 400 and nothing created
    let bytes = std::fs::read(d.join("m.pfx")).unwrap();
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/bad1/import?{V}"),
        t,
        Some(json!({"value": std_b64(&bytes), "pwd": "nope"})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    let mut broken = bytes.clone();
    let mid = broken.len() / 2;
    broken[mid] ^= 0xff;
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/bad1/import?{V}"),
        t,
        Some(json!({"value": std_b64(&broken), "pwd": "pw1"})),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    for path in ["certificates", "keys", "secrets"] {
        let r = call(&s, "GET", &format!("{base}/{path}/bad1?{V}"), t, None).await;
        assert_eq!(r.status, 404, "{path}");
    }

    // PEM: key + certificate + chain, sent as base64 of the text (as the Python SDK does)
    let pem = format!(
        "{}{}{}",
        std::fs::read_to_string(d.join("leaf.key")).unwrap(),
        std::fs::read_to_string(d.join("leaf.pem")).unwrap(),
        std::fs::read_to_string(d.join("ca.pem")).unwrap()
    );
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/pem1/import?{V}"),
        t,
        Some(json!({"value": std_b64(pem.as_bytes()), "policy": {"secret_props": {"contentType": "application/x-pem-file"}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sec = call(&s, "GET", &format!("{base}/secrets/pem1?{V}"), t, None).await;
    assert_eq!(sec.body["contentType"], "application/x-pem-file");
    let text = sec.body["value"].as_str().unwrap();
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
    write(d, "pem-out.pem", text.as_bytes());
    openssl(d, &["verify", "-CAfile", "ca.pem", "pem-out.pem"]);
    // and as raw PEM text too
    let r = call(&s, "POST", &format!("{base}/certificates/pem2/import?{V}"), t, Some(json!({"value": pem}))).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // a key that does not belong to the certificate: 400, nothing created
    let mismatched = format!(
        "{}{}",
        std::fs::read_to_string(d.join("other.key")).unwrap(),
        std::fs::read_to_string(d.join("leaf.pem")).unwrap()
    );
    let r =
        call(&s, "POST", &format!("{base}/certificates/bad2/import?{V}"), t, Some(json!({"value": mismatched}))).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    let r = call(&s, "GET", &format!("{base}/certificates/bad2?{V}"), t, None).await;
    assert_eq!(r.status, 404);
    let r = call(&s, "POST", &format!("{base}/certificates/bad3/import?{V}"), t, Some(json!({"value": "***"}))).await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test]
async fn csr_merge_contacts_issuers_and_bad_input() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d);
    make_leaf(d, "stranger");

    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/ext/create?{V}"),
        t,
        Some(json!({"policy": {"x509_props": {"subject": "CN=ext.example", "sans": {"dns_names": ["ext.example"]}},
                               "issuer": {"name": "Unknown"}}, "tags": {"t": "1"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "inProgress");
    assert_eq!(r.body["issuer"]["name"], "Unknown");
    write(d, "ext.csr.der", &std_unb64(r.body["csr"].as_str().unwrap()));
    openssl(d, &["req", "-inform", "DER", "-in", "ext.csr.der", "-verify", "-noout"]);
    openssl(d, &["req", "-inform", "DER", "-in", "ext.csr.der", "-out", "ext.csr"]);
    let r = call(&s, "GET", &format!("{base}/certificates/ext?{V}"), t, None).await;
    assert_eq!(r.status, 404, "no version before the merge: {}", r.body);
    let r = call(&s, "GET", &format!("{base}/certificates/ext/policy?{V}"), t, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lifetime_actions"][0]["action"]["action_type"], "EmailContacts");
    // listed only with includePending=true, disabled and without a version
    let l = call(&s, "GET", &format!("{base}/certificates?{V}"), t, None).await;
    assert!(!l.body.to_string().contains("/certificates/ext\""), "{}", l.body);
    let l = call(&s, "GET", &format!("{base}/certificates?{V}&includePending=true"), t, None).await;
    let item =
        l.body["value"].as_array().unwrap().iter().find(|i| i["id"] == format!("{base}/certificates/ext")).cloned();
    assert_eq!(item.expect("pending certificate listed")["attributes"]["enabled"], false);
    // a second create while the first waits: 409
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/ext/create?{V}"),
        t,
        Some(json!({"policy": {"x509_props": {"subject": "CN=x"}}})),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // a certificate for another key: 400; then the real one, signed by the CA
    let stranger = std::fs::read_to_string(d.join("stranger.pem")).unwrap();
    let der_of = |pem: &str| {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        body
    };
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/ext/pending/merge?{V}"),
        t,
        Some(json!({"x5c": [der_of(&stranger)]})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "ext.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "ext.pem",
            "-days",
            "5",
        ],
    );
    let leaf = std::fs::read_to_string(d.join("ext.pem")).unwrap();
    let ca = std::fs::read_to_string(d.join("ca.pem")).unwrap();
    // every x5c element must be a certificate, and the chain at most 32 long: refused, the
    // operation still waits
    let junk = std_b64(&der_tlv(0x30, &der_tlv(0x30, &[5, 0])));
    let long: Vec<String> = std::iter::once(der_of(&leaf)).chain(std::iter::repeat_n(der_of(&ca), 40)).collect();
    for (x5c, message) in [
        (json!([der_of(&leaf), junk]), "Certificate 2 of the chain is not a valid"),
        (json!(long), "at most 32 are accepted"),
    ] {
        let r =
            call(&s, "POST", &format!("{base}/certificates/ext/pending/merge?{V}"), t, Some(json!({"x5c": x5c}))).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(message), "{}", r.body);
    }
    let p = call(&s, "GET", &format!("{base}/certificates/ext/pending?{V}"), t, None).await;
    assert_eq!(p.body["status"], "inProgress");
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/ext/pending/merge?{V}"),
        t,
        Some(json!({"x5c": [der_of(&leaf), der_of(&ca)]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["tags"]["t"], "1");
    let p = call(&s, "GET", &format!("{base}/certificates/ext/pending?{V}"), t, None).await;
    assert_eq!(p.body["status"], "completed");
    let sec = call(&s, "GET", &format!("{base}/secrets/ext?{V}"), t, None).await;
    write(d, "ext.pfx", &std_unb64(sec.body["value"].as_str().unwrap()));
    openssl(d, &["pkcs12", "-in", "ext.pfx", "-passin", "pass:", "-nodes", "-out", "ext-all.pem"]);
    openssl(d, &["pkey", "-in", "ext-all.pem", "-out", "ext.key"]);
    assert_eq!(key_pub(d, "ext.key"), cert_pub(d, "ext.pem", "PEM"));
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/ext/pending/merge?{V}"),
        t,
        Some(json!({"x5c": [der_of(&leaf)]})),
    )
    .await;
    assert_eq!(r.status, 400, "nothing left to merge: {}", r.body);
    let r = call(&s, "DELETE", &format!("{base}/certificates/ext/pending?{V}"), t, None).await;
    assert_eq!(r.status, 200);
    let r = call(&s, "GET", &format!("{base}/certificates/ext/pending?{V}"), t, None).await;
    assert_eq!((r.status, code(&r)), (404, "PendingCertificateNotFound"));

    // cancel a waiting operation
    call(
        &s,
        "POST",
        &format!("{base}/certificates/c2/create?{V}"),
        t,
        Some(json!({"policy": {"x509_props": {"subject": "CN=c2"}}})),
    )
    .await;
    let r = call(
        &s,
        "PATCH",
        &format!("{base}/certificates/c2/pending?{V}"),
        t,
        Some(json!({"cancellation_requested": true})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["cancellation_requested"], true);
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/c2/pending/merge?{V}"),
        t,
        Some(json!({"x5c": [der_of(&leaf)]})),
    )
    .await;
    assert_eq!(r.status, 400);

    // contacts
    let r = call(&s, "GET", &format!("{base}/certificates/contacts?{V}"), t, None).await;
    assert_eq!(r.status, 404);
    let r = call(
        &s,
        "PUT",
        &format!("{base}/certificates/contacts?{V}"),
        t,
        Some(json!({"contacts": [{"email": "a@example.com", "name": "A"}, {"email": "b@example.com", "phone": "1"}]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], format!("{base}/certificates/contacts"));
    let r = call(&s, "GET", &format!("{base}/certificates/contacts?{V}"), t, None).await;
    assert_eq!(r.body["contacts"].as_array().unwrap().len(), 2);
    let r =
        call(&s, "PUT", &format!("{base}/certificates/contacts?{V}"), t, Some(json!({"contacts": [{"name": "x"}]})))
            .await;
    assert_eq!(r.status, 400);
    let r = call(&s, "DELETE", &format!("{base}/certificates/contacts?{V}"), t, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["contacts"][0]["email"], "a@example.com");

    // issuers: stored; a public CA cannot be reached, so its operation fails clearly
    let r = call(
        &s,
        "PUT",
        &format!("{base}/certificates/issuers/dc?{V}"),
        t,
        Some(json!({"provider": "DigiCert", "credentials": {"account_id": "acct", "pwd": "sekrit"},
                    "org_details": {"id": "org1", "admin_details": [{"first_name": "F", "email": "f@example.com"}]}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["credentials"]["account_id"], "acct");
    assert!(!r.body.to_string().contains("sekrit"));
    let r = call(
        &s,
        "PATCH",
        &format!("{base}/certificates/issuers/dc?{V}"),
        t,
        Some(json!({"attributes": {"enabled": false}})),
    )
    .await;
    assert_eq!(r.body["attributes"]["enabled"], false);
    assert_eq!(r.body["provider"], "DigiCert");
    let r = call(&s, "GET", &format!("{base}/certificates/issuers?{V}"), t, None).await;
    assert_eq!(r.body["value"][0]["provider"], "DigiCert", "{}", r.body);
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/pub/create?{V}"),
        t,
        Some(json!({"policy": {"x509_props": {"subject": "CN=pub"}, "issuer": {"name": "dc"}}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = call(&s, "GET", &format!("{base}/certificates/pub/pending?{V}"), t, None).await;
    assert_eq!(r.body["status"], "failed", "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("DigiCert"));
    let r = call(&s, "GET", &format!("{base}/certificates/pub?{V}"), t, None).await;
    assert_eq!(r.status, 404, "no certificate from an unreachable CA");
    let r = call(&s, "DELETE", &format!("{base}/certificates/issuers/dc?{V}"), t, None).await;
    assert_eq!(r.status, 200);
    let r = call(&s, "GET", &format!("{base}/certificates/issuers/dc?{V}"), t, None).await;
    assert_eq!((r.status, code(&r)), (404, "CertificateIssuerNotFound"));

    // bad policies: each a 400 and nothing created
    let bad: Vec<Value> = vec![
        json!({"x509_props": {"subject": "CN=a", "validity_months": 0}, "issuer": {"name": "Self"}}),
        json!({"x509_props": {"subject": "CN=a", "validity_months": 5000}, "issuer": {"name": "Self"}}),
        json!({"x509_props": {"subject": "CN=a", "sans": {"dns_names": ["bad name!"]}}, "issuer": {"name": "Self"}}),
        json!({"x509_props": {"subject": "CN=a", "sans": {"emails": ["nope"]}}, "issuer": {"name": "Self"}}),
        json!({"x509_props": {"subject": "not a name"}, "issuer": {"name": "Self"}}),
        json!({"x509_props": {}, "issuer": {"name": "Self"}}),
        json!({"key_props": {"kty": "RSA", "key_size": 1024}, "x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}),
        json!({"key_props": {"kty": "EC", "crv": "P-256K"}, "x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}),
        json!({"secret_props": {"contentType": "text/plain"}, "x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}),
        json!({"x509_props": {"subject": "CN=a", "key_usage": ["everything"]}, "issuer": {"name": "Self"}}),
        json!({"x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"},
               "lifetime_actions": [{"trigger": {"lifetime_percentage": 100}, "action": {"action_type": "AutoRenew"}}]}),
        json!({"x509_props": {"subject": "CN=a"}, "issuer": {"name": "Unknown"},
               "lifetime_actions": [{"trigger": {"days_before_expiry": 10}, "action": {"action_type": "AutoRenew"}}]}),
        json!({"x509_props": {"subject": "CN=a"}, "issuer": {"name": "nosuchissuer"}}),
        json!({"x509_props": {"subject": "CN=a", "validity_months": 1}, "issuer": {"name": "Self"},
               "lifetime_actions": [{"trigger": {"days_before_expiry": 28}, "action": {"action_type": "AutoRenew"}}]}),
    ];
    for (i, p) in bad.into_iter().enumerate() {
        let r =
            call(&s, "POST", &format!("{base}/certificates/badpol/create?{V}"), t, Some(json!({"policy": p}))).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "case {i}: {}", r.body);
    }
    let r = call(&s, "GET", &format!("{base}/certificates/badpol/pending?{V}"), t, None).await;
    assert_eq!(r.status, 404);
    let r = call(&s, "GET", &format!("{base}/certificates/nosuch?{V}"), t, None).await;
    assert_eq!((r.status, code(&r)), (404, "CertificateNotFound"));
}

#[tokio::test]
async fn auto_renewal_on_the_fake_clock() {
    let start = 1_800_000_000;
    let s = TestServer::start_with_fake_clock(start).await;
    let clock = s.clock.clone().unwrap();
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let core = s.running.core.clone();

    let pol = |reuse: bool, trigger: Value| {
        json!({"key_props": {"kty": "EC", "reuse_key": reuse}, "x509_props": {"subject": "CN=r", "validity_months": 12},
               "issuer": {"name": "Self"}, "lifetime_actions": [{"trigger": trigger, "action": {"action_type": "AutoRenew"}}]})
    };
    let r = call(
        &s,
        "PUT",
        &format!("{base}/_strongbox/certificateauthorities/rca?{V}"),
        t,
        Some(json!({"subject": "CN=R"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut by_ca = pol(false, json!({"lifetime_percentage": 80}));
    by_ca["issuer"]["name"] = json!("rca");
    for (name, p) in [
        ("pct", pol(false, json!({"lifetime_percentage": 80}))),
        ("days", pol(true, json!({"days_before_expiry": 30}))),
        ("byca", by_ca),
    ] {
        let r =
            call(&s, "POST", &format!("{base}/certificates/{name}/create?{V}"), t, Some(json!({"policy": p}))).await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let key_of = |b: &Value| b["key"]["x"].as_str().unwrap().to_owned();
    let k_pct = call(&s, "GET", &format!("{base}/keys/pct?{V}"), t, None).await.body;
    let k_days = call(&s, "GET", &format!("{base}/keys/days?{V}"), t, None).await.body;

    assert_eq!(core.certificates.renew_due().await.unwrap(), 0);
    // 300 days: 80 % of a year (292 days) has passed, 30 days before expiry has not
    clock.advance(300 * 86_400);
    assert_eq!(core.certificates.renew_due().await.unwrap(), 2, "pct and byca");
    assert_eq!(core.certificates.renew_due().await.unwrap(), 0, "the new version moves the trigger");
    // (the fake clock moved past the token's lifetime)
    let t2 = token(&s).await;
    let t = Some(t2.as_str());
    let vs = call(&s, "GET", &format!("{base}/certificates/pct/versions?{V}"), t, None).await;
    assert_eq!(vs.body["value"].as_array().unwrap().len(), 2);
    let vs = call(&s, "GET", &format!("{base}/certificates/byca/versions?{V}"), t, None).await;
    assert_eq!(vs.body["value"].as_array().unwrap().len(), 2);
    let k2 = call(&s, "GET", &format!("{base}/keys/pct?{V}"), t, None).await.body;
    assert_ne!(key_of(&k2), key_of(&k_pct), "a new key unless reuse_key");
    let c = call(&s, "GET", &format!("{base}/certificates/pct?{V}"), t, None).await.body;
    assert_eq!(c["attributes"]["nbf"], start + 300 * 86_400);

    // 340 days: within 30 days of the end of the first year
    clock.advance(40 * 86_400);
    assert_eq!(core.certificates.renew_due().await.unwrap(), 1);
    let t3 = token(&s).await;
    let t = Some(t3.as_str());
    let k3 = call(&s, "GET", &format!("{base}/keys/days?{V}"), t, None).await.body;
    assert_eq!(key_of(&k3), key_of(&k_days), "reuse_key keeps the key");
    let vs = call(&s, "GET", &format!("{base}/certificates/days/versions?{V}"), t, None).await;
    assert_eq!(vs.body["value"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn private_ca_issues_with_chain() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let root = call(
        &s,
        "PUT",
        &format!("{base}/_strongbox/certificateauthorities/Root1?{V}"),
        t,
        Some(json!({"subject": "CN=Strongbox Test Root, O=Test", "kty": "RSA", "key_size": 2048})),
    )
    .await;
    assert_eq!(root.status, 201, "{}", root.body);
    assert!(root.body.get("key").is_none() && !root.body.to_string().contains("PRIVATE"));
    let r = call(
        &s,
        "PUT",
        &format!("{base}/_strongbox/certificateauthorities/Root1?{V}"),
        t,
        Some(json!({"subject": "CN=x"})),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let inter = call(
        &s,
        "PUT",
        &format!("{base}/_strongbox/certificateauthorities/Issuing1?{V}"),
        t,
        Some(json!({"subject": "CN=Strongbox Issuing CA", "parent": "root1", "path_len": 0})),
    )
    .await;
    assert_eq!(inter.status, 201, "{}", inter.body);
    assert_eq!(inter.body["x5c"].as_array().unwrap().len(), 1);
    let l = call(&s, "GET", &format!("{base}/_strongbox/certificateauthorities?{V}"), t, None).await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 2, "{}", l.body);
    write(d, "root.der", &std_unb64(root.body["cer"].as_str().unwrap()));
    openssl(d, &["x509", "-inform", "DER", "-in", "root.der", "-out", "root.pem"]);
    write(d, "inter.der", &std_unb64(inter.body["cer"].as_str().unwrap()));
    openssl(d, &["x509", "-inform", "DER", "-in", "inter.der", "-out", "inter.pem"]);
    openssl(d, &["verify", "-CAfile", "root.pem", "inter.pem"]);

    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/svc/create?{V}"),
        t,
        Some(json!({"policy": {"x509_props": {"subject": "CN=svc.example", "sans": {"dns_names": ["svc.example"]}},
                               "issuer": {"name": "Issuing1"}, "secret_props": {"contentType": "application/x-pem-file"}}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let p = call(&s, "GET", &format!("{base}/certificates/svc/pending?{V}"), t, None).await;
    assert_eq!(p.body["status"], "completed", "{}", p.body);
    let c = call(&s, "GET", &format!("{base}/certificates/svc?{V}"), t, None).await;
    write(d, "svc.der", &std_unb64(c.body["cer"].as_str().unwrap()));
    openssl(d, &["x509", "-inform", "DER", "-in", "svc.der", "-out", "svc.pem"]);
    openssl(d, &["verify", "-CAfile", "root.pem", "-untrusted", "inter.pem", "svc.pem"]);
    // the secret carries key, leaf, intermediate and root; OpenSSL verifies the chain from it
    let sec = call(&s, "GET", &format!("{base}/secrets/svc?{V}"), t, None).await;
    let text = sec.body["value"].as_str().unwrap();
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 3, "{text}");
    write(d, "bundle.pem", text.as_bytes());
    openssl(d, &["verify", "-CAfile", "root.pem", "-untrusted", "bundle.pem", "svc.pem"]);
    openssl(d, &["pkey", "-in", "bundle.pem", "-out", "svc.key"]);
    assert_eq!(key_pub(d, "svc.key"), cert_pub(d, "svc.pem", "PEM"));

    let r = call(&s, "GET", &format!("{base}/_strongbox/certificateauthorities/nosuch?{V}"), t, None).await;
    assert_eq!(r.status, 404);
}

/// The three length-prefixed parts of a certificate backup blob (certificate, key, secret).
fn backup_parts(value: &Value) -> Vec<Vec<u8>> {
    use base64::Engine;
    let blob = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value.as_str().unwrap()).unwrap();
    assert_eq!(&blob[..4], b"SBC1");
    let mut rest = &blob[4..];
    let mut parts = Vec::new();
    for _ in 0..3 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        parts.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    parts
}

fn backup_of(parts: &[&[u8]]) -> Value {
    use base64::Engine;
    let mut blob = b"SBC1".to_vec();
    for p in parts {
        blob.extend_from_slice(&(p.len() as u32).to_be_bytes());
        blob.extend_from_slice(p);
    }
    json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(blob))
}

#[tokio::test]
async fn restore_checks_every_name_before_writing_anything() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let self_policy = json!({"policy": {"x509_props": {"subject": "CN=rc"}, "issuer": {"name": "Self"}}});
    for n in ["rc", "other"] {
        let r = call(&s, "POST", &format!("{base}/certificates/{n}/create?{V}"), t, Some(self_policy.clone())).await;
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let b = call(&s, "POST", &format!("{base}/certificates/rc/backup?{V}"), t, None).await;
    assert_eq!(b.status, 200, "{}", b.body);
    let ob = call(&s, "POST", &format!("{base}/certificates/other/backup?{V}"), t, None).await;
    let blob = b.body["value"].clone();
    call(&s, "DELETE", &format!("{base}/certificates/rc?{V}"), t, None).await;
    let r = call(&s, "DELETE", &format!("{base}/deletedcertificates/rc?{V}"), t, None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let gone = |what: &'static str| {
        let s = &s;
        let base = base.clone();
        async move {
            for path in ["certificates", "keys", "secrets"] {
                let r = call(s, "GET", &format!("{base}/{path}/rc?{V}"), t, None).await;
                let expect = if path == what { 200 } else { 404 };
                assert_eq!(r.status, expect, "{path} after a refused restore: {}", r.body);
            }
        }
    };

    // an unrelated secret holds the name: 409, and neither certificate nor key is written
    let r = call(&s, "PUT", &format!("{base}/secrets/rc?{V}"), t, Some(json!({"value": "unrelated"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&s, "POST", &format!("{base}/certificates/restore?{V}"), t, Some(json!({"value": blob}))).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("secret") && msg.contains("Nothing was restored"), "{msg}");
    gone("secrets").await;
    let r = call(&s, "GET", &format!("{base}/secrets/rc?{V}"), t, None).await;
    assert_eq!(r.body["value"], "unrelated");
    call(&s, "DELETE", &format!("{base}/secrets/rc?{V}"), t, None).await;
    let r = call(&s, "DELETE", &format!("{base}/deletedsecrets/rc?{V}"), t, None).await;
    assert_eq!(r.status, 204, "{}", r.body);

    // an unrelated key holds the name: the same
    let r =
        call(&s, "POST", &format!("{base}/keys/rc/create?{V}"), t, Some(json!({"kty": "EC", "crv": "P-256"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&s, "POST", &format!("{base}/certificates/restore?{V}"), t, Some(json!({"value": blob}))).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("key"), "{}", r.body);
    gone("keys").await;
    call(&s, "DELETE", &format!("{base}/keys/rc?{V}"), t, None).await;
    let r = call(&s, "DELETE", &format!("{base}/deletedkeys/rc?{V}"), t, None).await;
    assert_eq!(r.status, 204, "{}", r.body);

    // inner blobs of two different certificates: refused, nothing written
    let mine = backup_parts(&blob);
    let theirs = backup_parts(&ob.body["value"]);
    let mixed = backup_of(&[&mine[0], &theirs[1], &mine[2]]);
    let r = call(&s, "POST", &format!("{base}/certificates/restore?{V}"), t, Some(json!({"value": mixed}))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("do not belong to one certificate"), "{}", r.body);
    gone("none").await;

    // all names free: restored, all three
    let r = call(&s, "POST", &format!("{base}/certificates/restore?{V}"), t, Some(json!({"value": blob}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for path in ["certificates", "keys", "secrets"] {
        let r = call(&s, "GET", &format!("{base}/{path}/rc?{V}"), t, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn include_pending_pages_respect_maxresults() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let mut want = Vec::new();
    for i in 0..3 {
        let n = format!("issued{i}");
        let body = json!({"policy": {"x509_props": {"subject": "CN=i"}, "issuer": {"name": "Self"}}});
        let r = call(&s, "POST", &format!("{base}/certificates/{n}/create?{V}"), t, Some(body)).await;
        assert_eq!(r.status, 202, "{}", r.body);
        want.push(format!("{base}/certificates/{n}"));
    }
    for i in 0..3 {
        let n = format!("waiting{i}");
        let body = json!({"policy": {"x509_props": {"subject": "CN=w"}, "issuer": {"name": "Unknown"}}});
        let r = call(&s, "POST", &format!("{base}/certificates/{n}/create?{V}"), t, Some(body)).await;
        assert_eq!(r.status, 202, "{}", r.body);
        want.push(format!("{base}/certificates/{n}"));
    }
    for max in [1usize, 2, 3, 4, 25] {
        let mut url = format!("{base}/certificates?{V}&includePending=true&maxresults={max}");
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let l = call(&s, "GET", &url, t, None).await;
            assert_eq!(l.status, 200, "{}", l.body);
            let items = l.body["value"].as_array().unwrap();
            assert!(items.len() <= max, "max {max}: a page of {}: {}", items.len(), l.body);
            assert!(!items.is_empty(), "max {max}: an empty page: {}", l.body);
            seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
            pages += 1;
            assert!(pages < 20);
            match l.body["nextLink"].as_str() {
                Some(n) => url = n.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, want, "max {max}");
    }
    // without the flag, pending certificates stay out of every page
    let l = call(&s, "GET", &format!("{base}/certificates?{V}&maxresults=25"), t, None).await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 3, "{}", l.body);
}

#[tokio::test]
async fn hsm_ca_signs_inside_the_token() {
    let ca_url = |base: &str, n: &str| format!("{base}/_strongbox/certificateauthorities/{n}?{V}");
    // without a PKCS#11 provider: the clear "not configured" error, nothing created
    {
        let s = TestServer::start().await;
        let t = token(&s).await;
        let t = Some(t.as_str());
        let base = s.vault_url("default");
        let r = call(&s, "PUT", &ca_url(&base, "HsmRoot"), t, Some(json!({"subject": "CN=r", "hsm": true}))).await;
        assert_eq!(r.status, 501, "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("PKCS#11"), "{}", r.body);
        let r = call(&s, "GET", &ca_url(&base, "HsmRoot"), t, None).await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let Some(s) = TestServer::start_with_hsm().await else {
        println!("SKIPPED: hsm_ca_signs_inside_the_token (no PKCS#11 token: install softhsm2 and run scripts/test.sh)");
        return;
    };
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let root = call(
        &s,
        "PUT",
        &ca_url(&base, "HsmRoot"),
        t,
        Some(json!({"subject": "CN=HSM Root, O=Test", "kty": "RSA", "key_size": 2048, "hsm": true})),
    )
    .await;
    assert_eq!(root.status, 201, "{}", root.body);
    assert_eq!(root.body["hsm"], true);
    let r =
        call(&s, "PUT", &ca_url(&base, "Big"), t, Some(json!({"subject": "CN=b", "crv": "P-521", "hsm": true}))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // an HSM intermediate (P-384) signed by the HSM root, and a software one under it as well
    let inter = call(
        &s,
        "PUT",
        &ca_url(&base, "HsmIssuing"),
        t,
        Some(json!({"subject": "CN=HSM Issuing", "parent": "HsmRoot", "crv": "P-384", "hsm": true, "path_len": 0})),
    )
    .await;
    assert_eq!(inter.status, 201, "{}", inter.body);
    let soft = call(
        &s,
        "PUT",
        &ca_url(&base, "SoftIssuing"),
        t,
        Some(json!({"subject": "CN=Soft Issuing", "parent": "HsmRoot", "path_len": 0})),
    )
    .await;
    assert_eq!(soft.status, 201, "{}", soft.body);
    assert_eq!(soft.body["hsm"], false);
    for (n, b) in [("root", &root), ("inter", &inter), ("soft", &soft)] {
        write(d, &format!("{n}.der"), &std_unb64(b.body["cer"].as_str().unwrap()));
        openssl(d, &["x509", "-inform", "DER", "-in", &format!("{n}.der"), "-out", &format!("{n}.pem")]);
    }
    openssl(d, &["verify", "-CAfile", "root.pem", "root.pem"]);
    openssl(d, &["verify", "-CAfile", "root.pem", "inter.pem"]);
    openssl(d, &["verify", "-CAfile", "root.pem", "soft.pem"]);
    assert!(openssl_fails(d, &["verify", "-CAfile", "inter.pem", "soft.pem"]));

    for (cert, issuer, kty) in [("leaf-p256", "HsmIssuing", "EC"), ("leaf-rsa", "HsmRoot", "RSA")] {
        let r = call(
            &s,
            "POST",
            &format!("{base}/certificates/{cert}/create?{V}"),
            t,
            Some(json!({"policy": {"key_props": {"kty": kty}, "x509_props": {"subject": format!("CN={cert}")},
                                   "issuer": {"name": issuer}}})),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let p = call(&s, "GET", &format!("{base}/certificates/{cert}/pending?{V}"), t, None).await;
        assert_eq!(p.body["status"], "completed", "{}", p.body);
        let c = call(&s, "GET", &format!("{base}/certificates/{cert}?{V}"), t, None).await;
        write(d, &format!("{cert}.der"), &std_unb64(c.body["cer"].as_str().unwrap()));
        openssl(d, &["x509", "-inform", "DER", "-in", &format!("{cert}.der"), "-out", &format!("{cert}.pem")]);
        let text = openssl(d, &["x509", "-in", &format!("{cert}.pem"), "-noout", "-text"]);
        let want = if issuer == "HsmIssuing" { "ecdsa-with-SHA384" } else { "sha256WithRSAEncryption" };
        assert!(text.contains(want), "{text}");
        if issuer == "HsmIssuing" {
            openssl(d, &["verify", "-CAfile", "root.pem", "-untrusted", "inter.pem", &format!("{cert}.pem")]);
        } else {
            openssl(d, &["verify", "-CAfile", "root.pem", &format!("{cert}.pem")]);
        }
    }
}

// --- HSM-protected certificate keys ---------------------------------------------------------

fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = body.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let len: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | len.len() as u8);
        out.extend(len);
    }
    out.extend_from_slice(body);
    out
}

fn der_int(n: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    der_tlv(0x02, &v)
}

fn url_unb64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).unwrap()
}

fn url_b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The public key of a JWK from the keys API as PEM, normalised by `openssl pkey`.
fn jwk_pub(dir: &Path, jwk: &Value) -> String {
    let part = |k: &str| url_unb64(jwk[k].as_str().unwrap());
    let spki = if jwk["kty"].as_str().unwrap().starts_with("RSA") {
        let alg = der_tlv(
            0x30,
            &[der_tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]), vec![5, 0]].concat(),
        );
        let rsa = der_tlv(0x30, &[der_int(&part("n")), der_int(&part("e"))].concat());
        der_tlv(0x30, &[alg, der_tlv(0x03, &[&[0u8][..], &rsa].concat())].concat())
    } else {
        assert_eq!(jwk["crv"], "P-256");
        let alg = der_tlv(
            0x30,
            &[
                der_tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                der_tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
            ]
            .concat(),
        );
        let point = [vec![4u8], part("x"), part("y")].concat();
        der_tlv(0x30, &[alg, der_tlv(0x03, &[&[0u8][..], &point].concat())].concat())
    };
    write(dir, "jwk.der", &spki);
    openssl(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "jwk.der", "-pubout"])
}

#[tokio::test]
async fn hsm_certificate_keys_in_a_premium_vault() {
    let vault_url = |s: &TestServer| format!("https://localhost:{}/_strongbox/vaults/prem?{V}", s.port);
    let hsm_policy = json!({"policy": {"key_props": {"kty": "RSA-HSM", "exportable": false},
                                       "x509_props": {"subject": "CN=hsm"}}});
    // without a PKCS#11 provider: the clear 501, nothing created
    {
        let s = TestServer::start().await;
        let t = token(&s).await;
        let t = Some(t.as_str());
        assert_eq!(call(&s, "PUT", &vault_url(&s), t, Some(json!({"sku": "premium"}))).await.status, 201);
        let base = s.vault_url("prem");
        let r = call(&s, "POST", &format!("{base}/certificates/c/create?{V}"), t, Some(hsm_policy.clone())).await;
        assert_eq!((r.status, code(&r)), (501, "NotImplemented"), "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("PKCS#11"), "{}", r.body);
        let r = call(&s, "GET", &format!("{base}/certificates/c?{V}"), t, None).await;
        assert_eq!(r.status, 404, "{}", r.body);
        // a standard vault refuses HSM key types with 400
        let r = call(
            &s,
            "POST",
            &format!("{}/certificates/c/create?{V}", s.vault_url("default")),
            t,
            Some(hsm_policy.clone()),
        )
        .await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    }
    let Some(s) = TestServer::start_with_hsm().await else {
        println!(
            "SKIPPED: hsm_certificate_keys_in_a_premium_vault (no PKCS#11 token: install softhsm2 and run scripts/test.sh)"
        );
        return;
    };
    let t = token(&s).await;
    let t = Some(t.as_str());
    assert_eq!(call(&s, "PUT", &vault_url(&s), t, Some(json!({"sku": "premium"}))).await.status, 201);
    let base = s.vault_url("prem");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p11 = strongbox_hsm::Pkcs11Provider::open(&strongbox_hsm::Pkcs11Config::from_env().unwrap().unwrap()).unwrap();

    // an HSM key never leaves the token: exportable is refused (also on a policy update)
    for kty in ["RSA-HSM", "EC-HSM"] {
        let r = call(
            &s,
            "POST",
            &format!("{base}/certificates/x/create?{V}"),
            t,
            Some(json!({"policy": {"key_props": {"kty": kty, "exportable": true}, "x509_props": {"subject": "CN=x"}}})),
        )
        .await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    }
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/x/create?{V}"),
        t,
        Some(json!({"policy": {"key_props": {"kty": "EC-HSM", "crv": "P-521"}, "x509_props": {"subject": "CN=x"}}})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    assert_eq!(call(&s, "GET", &format!("{base}/certificates/x?{V}"), t, None).await.status, 404);

    // a built-in CA of the vault issues HSM-keyed certificates too
    let root = call(
        &s,
        "PUT",
        &format!("{base}/_strongbox/certificateauthorities/Root?{V}"),
        t,
        Some(json!({"subject": "CN=Vault Root"})),
    )
    .await;
    assert_eq!(root.status, 201, "{}", root.body);
    write(d, "root.der", &std_unb64(root.body["cer"].as_str().unwrap()));
    openssl(d, &["x509", "-inform", "DER", "-in", "root.der", "-out", "root.pem"]);

    let digest = {
        write(d, "msg", b"signed by the certificate's key in the token");
        let out = Command::new("openssl").args(["dgst", "-sha256", "-binary", "msg"]).current_dir(d).output().unwrap();
        out.stdout
    };
    write(d, "d.bin", &digest);
    let mut handles = Vec::new();
    for (cert, key_props, issuer) in [
        ("rsa-hsm", json!({"kty": "RSA-HSM", "key_size": 2048}), "Self"),
        ("ec-hsm", json!({"kty": "EC-HSM", "crv": "P-256", "exportable": false}), "Self"),
        ("ca-hsm", json!({"kty": "EC-HSM"}), "Root"),
    ] {
        let r = call(
            &s,
            "POST",
            &format!("{base}/certificates/{cert}/create?{V}"),
            t,
            Some(json!({"policy": {"key_props": key_props, "x509_props": {"subject": format!("CN={cert}")},
                                   "issuer": {"name": issuer}}})),
        )
        .await;
        assert_eq!(r.status, 202, "{cert}: {}", r.body);
        let p = call(&s, "GET", &format!("{base}/certificates/{cert}/pending?{V}"), t, None).await;
        assert_eq!(p.body["status"], "completed", "{}", p.body);
        let c = call(&s, "GET", &format!("{base}/certificates/{cert}?{V}"), t, None).await;
        assert_eq!(c.status, 200, "{}", c.body);
        assert_eq!(c.body["policy"]["key_props"]["exportable"], false, "{}", c.body);
        let pem = format!("{cert}.pem");
        write(d, &format!("{cert}.der"), &std_unb64(c.body["cer"].as_str().unwrap()));
        openssl(d, &["x509", "-inform", "DER", "-in", &format!("{cert}.der"), "-out", &pem]);
        if issuer == "Self" {
            openssl(d, &["verify", "-CAfile", &pem, &pem]);
        } else {
            openssl(d, &["verify", "-CAfile", "root.pem", &pem]);
            assert!(openssl_fails(d, &["verify", "-CAfile", &pem, &pem]), "not self-signed");
        }
        // the certificate carries the token key the keys API shows
        let kid = c.body["kid"].as_str().unwrap().to_owned();
        let k = call(&s, "GET", &format!("{kid}?{V}"), t, None).await;
        assert_eq!(k.status, 200, "{}", k.body);
        let want_kty = if cert == "rsa-hsm" { "RSA-HSM" } else { "EC-HSM" };
        assert_eq!(k.body["key"]["kty"], want_kty);
        assert!(k.body["key"].get("d").is_none());
        let cert_key = cert_pub(d, &pem, "PEM");
        assert_eq!(jwk_pub(d, &k.body["key"]), cert_key, "{cert}");
        write(d, "cert-pub.pem", cert_key.as_bytes());
        // the stored key record holds only the token handle
        let version = kid.rsplit('/').next().unwrap();
        let recs = s.running.core.keys.storage_summary("prem", cert, version).await.unwrap();
        assert!(!recs.is_empty());
        for rec in &recs {
            assert_eq!(rec.material_len, 0, "no key material in storage: {rec:?}");
            assert!(rec.hsm_handle.is_some(), "{rec:?}");
        }
        let handle = recs[0].hsm_handle.clone().unwrap();
        assert!(p11.exists(&handle).unwrap());
        handles.push(handle);
        // the keys API signs with it; openssl verifies against the certificate's public key
        let (alg, opts): (&str, &[&str]) =
            if cert == "rsa-hsm" { ("RS256", &["-pkeyopt", "digest:sha256"]) } else { ("ES256", &[]) };
        let r =
            call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(json!({"alg": alg, "value": url_b64(&digest)}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut sig = url_unb64(r.body["value"].as_str().unwrap());
        if alg == "ES256" {
            let (r, s) = sig.split_at(sig.len() / 2);
            sig = der_tlv(0x30, &[der_int(r), der_int(s)].concat());
        }
        write(d, "s.bin", &sig);
        let mut args =
            vec!["pkeyutl", "-verify", "-pubin", "-inkey", "cert-pub.pem", "-in", "d.bin", "-sigfile", "s.bin"];
        args.extend_from_slice(opts);
        assert!(openssl(d, &args).contains("Signature Verified Successfully"));
        write(d, "s.bin", &[sig[..sig.len() - 1].to_vec(), vec![sig[sig.len() - 1] ^ 1]].concat());
        assert!(openssl_fails(d, &args), "a changed signature does not verify");
        // the secret holds the certificate (and chain) without a private key
        let sec = call(&s, "GET", &format!("{base}/secrets/{cert}?{V}"), t, None).await;
        assert_eq!(sec.status, 200, "{}", sec.body);
        assert_eq!(sec.body["managed"], true);
        write(d, "s.pfx", &std_unb64(sec.body["value"].as_str().unwrap()));
        let certs = openssl(d, &["pkcs12", "-in", "s.pfx", "-passin", "pass:", "-nokeys"]);
        assert_eq!(certs.matches("BEGIN CERTIFICATE").count(), if issuer == "Self" { 1 } else { 2 }, "{certs}");
        let keys = openssl(d, &["pkcs12", "-in", "s.pfx", "-passin", "pass:", "-nocerts", "-nodes"]);
        assert!(!keys.contains("PRIVATE KEY"), "no private key in the secret of an HSM certificate");
    }

    // CSR for the Unknown issuer, signed by the token key; merged back
    make_ca(d);
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/csr-hsm/create?{V}"),
        t,
        Some(json!({"policy": {"key_props": {"kty": "EC-HSM", "crv": "P-256"},
                               "x509_props": {"subject": "CN=csr-hsm"}, "issuer": {"name": "Unknown"}}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    write(d, "h.csr.der", &std_unb64(r.body["csr"].as_str().unwrap()));
    openssl(d, &["req", "-inform", "DER", "-in", "h.csr.der", "-verify", "-noout"]);
    openssl(d, &["req", "-inform", "DER", "-in", "h.csr.der", "-out", "h.csr"]);
    openssl(
        d,
        &["x509", "-req", "-in", "h.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "h.pem"],
    );
    let der_of = |f: &str| {
        let pem = std::fs::read_to_string(d.join(f)).unwrap();
        pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()
    };
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/csr-hsm/pending/merge?{V}"),
        t,
        Some(json!({"x5c": [der_of("h.pem"), der_of("ca.pem")]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let kid = r.body["kid"].as_str().unwrap().to_owned();
    let k = call(&s, "GET", &format!("{kid}?{V}"), t, None).await;
    assert_eq!(jwk_pub(d, &k.body["key"]), cert_pub(d, "h.pem", "PEM"));
    let recs = s.running.core.keys.storage_summary("prem", "csr-hsm", kid.rsplit('/').next().unwrap()).await.unwrap();
    assert!(recs.iter().all(|r| r.material_len == 0 && r.hsm_handle.is_some()), "{recs:?}");
    handles.push(recs[0].hsm_handle.clone().unwrap());
    // deleting the pending record after the merge leaves the version's token key alone
    assert_eq!(call(&s, "DELETE", &format!("{base}/certificates/csr-hsm/pending?{V}"), t, None).await.status, 200);
    assert!(p11.exists(handles.last().unwrap()).unwrap());

    // delete + purge of the certificate destroys its token objects
    for (cert, handle) in ["rsa-hsm", "ec-hsm", "ca-hsm", "csr-hsm"].iter().zip(&handles) {
        assert!(p11.exists(handle).unwrap());
        assert_eq!(call(&s, "DELETE", &format!("{base}/certificates/{cert}?{V}"), t, None).await.status, 200);
        assert!(p11.exists(handle).unwrap(), "a deleted certificate stays recoverable");
        let r = call(&s, "DELETE", &format!("{base}/deletedcertificates/{cert}?{V}"), t, None).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(!p11.exists(handle).unwrap(), "{cert}: token object destroyed on purge");
    }
}

// --- bounded import work (hostile PFX and PEM) ------------------------------------------------

const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const OID_SCRYPT: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
const OID_SHROUDED_KEY_BAG: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02];

fn der_seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der_tlv(0x30, &parts.concat())
}

fn der_oid(oid: &[u8]) -> Vec<u8> {
    der_tlv(0x06, oid)
}

fn der_uint(n: u64) -> Vec<u8> {
    der_int(&n.to_be_bytes())
}

/// PBES2 with PBKDF2-HMAC-SHA256 at `iterations`, AES-256-CBC.
fn pbkdf2_alg(iterations: u64) -> Vec<u8> {
    let prf = der_seq(&[der_oid(OID_HMAC_SHA256), vec![5, 0]]);
    let kdf = der_seq(&[der_oid(OID_PBKDF2), der_seq(&[der_tlv(0x04, &[7; 16]), der_uint(iterations), prf])]);
    let enc = der_seq(&[der_oid(OID_AES256_CBC), der_tlv(0x04, &[0; 16])]);
    der_seq(&[der_oid(OID_PBES2), der_seq(&[kdf, enc])])
}

/// PBES2 with scrypt (N, r, p), AES-256-CBC.
fn scrypt_alg(n: u64, r: u64, p: u64) -> Vec<u8> {
    let kdf =
        der_seq(&[der_oid(OID_SCRYPT), der_seq(&[der_tlv(0x04, &[7; 16]), der_uint(n), der_uint(r), der_uint(p)])]);
    let enc = der_seq(&[der_oid(OID_AES256_CBC), der_tlv(0x04, &[0; 16])]);
    der_seq(&[der_oid(OID_PBES2), der_seq(&[kdf, enc])])
}

/// A pkcs8ShroudedKeyBag encrypted with `alg` (the ciphertext is filler: nothing decrypts it).
fn shrouded_key_bag(alg: Vec<u8>) -> Vec<u8> {
    der_seq(&[der_oid(OID_SHROUDED_KEY_BAG), der_tlv(0xa0, &der_seq(&[alg, der_tlv(0x04, &[0x5a; 48])]))])
}

/// A PFX with `bags` in one unencrypted container and, when given, a MAC (SHA-256, wrong
/// value) at `mac_iterations`.
fn hostile_pfx(bags: &[Vec<u8>], mac_iterations: Option<u64>) -> Vec<u8> {
    let container = der_seq(&[der_oid(OID_DATA), der_tlv(0xa0, &der_tlv(0x04, &der_seq(bags)))]);
    let auth_safe = der_seq(&[der_oid(OID_DATA), der_tlv(0xa0, &der_tlv(0x04, &der_seq(&[container])))]);
    let mut parts = vec![der_int(&[3]), auth_safe];
    if let Some(n) = mac_iterations {
        let digest = der_seq(&[der_seq(&[der_oid(OID_SHA256), vec![5, 0]]), der_tlv(0x04, &[0; 32])]);
        parts.push(der_seq(&[digest, der_tlv(0x04, &[1; 8]), der_uint(n)]));
    }
    der_seq(&parts)
}

async fn import_value(s: &TestServer, t: Option<&str>, name: &str, value: String) -> common::Reply {
    let base = s.vault_url("default");
    call(s, "POST", &format!("{base}/certificates/{name}/import?{V}"), t, Some(json!({"value": value, "pwd": "pw"})))
        .await
}

/// PFX files that ask for unbounded work are refused at once, before any key derivation, with
/// a message naming the limit: 100 encrypted keys at 1,000,000 iterations, 100 cheap encrypted
/// keys (only one key is allowed), scrypt with 256 MiB of memory, a MAC at 1,000,000 iterations.
#[tokio::test]
async fn hostile_pfx_is_refused_fast_before_any_decryption() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("iter", hostile_pfx(&vec![shrouded_key_bag(pbkdf2_alg(1_000_000)); 100], None), "at most 600000"),
        ("keys", hostile_pfx(&vec![shrouded_key_bag(pbkdf2_alg(2048)); 100], None), "more than one private key"),
        ("scrypt", hostile_pfx(&[shrouded_key_bag(scrypt_alg(1 << 18, 8, 1))], None), "scrypt parameters"),
        ("scryptp", hostile_pfx(&[shrouded_key_bag(scrypt_alg(1 << 20, 8, 4))], None), "scrypt parameters"),
        ("mac", hostile_pfx(&[shrouded_key_bag(pbkdf2_alg(2048))], Some(1_000_000)), "at most 600000"),
        (
            "total",
            hostile_pfx(&[shrouded_key_bag(pbkdf2_alg(500_000))], Some(500_001)),
            "more than 1000000 key-derivation iterations in all",
        ),
    ];
    for (name, pfx, message) in cases {
        let started = std::time::Instant::now();
        let r = import_value(&s, t, name, std_b64(&pfx)).await;
        let took = started.elapsed();
        assert_eq!(r.status, 400, "{name}: {:?}", r.body);
        assert_eq!(code(&r), "BadParameter", "{name}");
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(message), "{name}: {msg}");
        assert!(took < std::time::Duration::from_secs(2), "{name} took {took:?}");
    }
}

const OID_ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
const OID_SECRET_BAG: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x05];
const OID_KEY_BAG: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x01];

/// A secretBag holding an EncryptedPrivateKeyInfo under `alg` (filler ciphertext): the parser
/// tries to decrypt each one it meets.
fn secret_bag(alg: Vec<u8>) -> Vec<u8> {
    let epki = der_seq(&[alg, der_tlv(0x04, &[0x5a; 48])]);
    let secret = der_seq(&[der_oid(OID_KEY_BAG), der_tlv(0xa0, &der_tlv(0x04, &epki))]);
    der_seq(&[der_oid(OID_SECRET_BAG), der_tlv(0xa0, &secret)])
}

/// A PFX (no MAC) whose only container is EncryptedData holding `bags`, really encrypted with
/// `password` (PBES2, PBKDF2-HMAC-SHA256 at 2048 iterations, AES-256-CBC; OpenSSL encrypts).
fn encrypted_container_pfx(d: &Path, bags: &[Vec<u8>], password: &str) -> Vec<u8> {
    let salt = "07".repeat(16);
    let pass = format!("pass:{password}");
    let iter = "iter:2048".to_string();
    let hexsalt = format!("hexsalt:{salt}");
    let key = openssl(
        d,
        &[
            "kdf",
            "-keylen",
            "32",
            "-kdfopt",
            "digest:SHA256",
            "-kdfopt",
            &pass,
            "-kdfopt",
            &hexsalt,
            "-kdfopt",
            &iter,
            "PBKDF2",
        ],
    );
    let key = key.trim().replace(':', "");
    write(d, "bags.der", &der_seq(bags));
    let iv = "00".repeat(16);
    openssl(d, &["enc", "-aes-256-cbc", "-K", &key, "-iv", &iv, "-in", "bags.der", "-out", "bags.enc"]);
    let ct = std::fs::read(d.join("bags.enc")).unwrap();
    let eci = der_seq(&[der_oid(OID_DATA), pbkdf2_alg(2048), der_tlv(0x80, &ct)]);
    let ed = der_seq(&[der_int(&[0]), eci]);
    let container = der_seq(&[der_oid(OID_ENCRYPTED_DATA), der_tlv(0xa0, &ed)]);
    let auth_safe = der_seq(&[der_oid(OID_DATA), der_tlv(0xa0, &der_tlv(0x04, &der_seq(&[container])))]);
    der_seq(&[der_int(&[3]), auth_safe])
}

/// The bags inside an encrypted container are bounded like the others, before the parser
/// derives a single key for them: two encrypted keys, or secret bags at 500,000 iterations
/// each, are refused at once; a wrong password gets the usual message.
#[tokio::test]
async fn hostile_bags_inside_an_encrypted_container_are_refused_fast() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "ekeys",
            encrypted_container_pfx(d, &vec![shrouded_key_bag(pbkdf2_alg(500_000)); 2], "pw"),
            "more than one private key",
        ),
        ("esecrets", encrypted_container_pfx(d, &vec![secret_bag(pbkdf2_alg(500_000)); 40], "pw"), "secret bag"),
        ("ewrongpw", encrypted_container_pfx(d, &[secret_bag(pbkdf2_alg(2048))], "other"), "the password is wrong"),
    ];
    for (name, pfx, message) in cases {
        let started = std::time::Instant::now();
        let r = import_value(&s, t, name, std_b64(&pfx)).await;
        let took = started.elapsed();
        assert_eq!(r.status, 400, "{name}: {:?}", r.body);
        assert_eq!(code(&r), "BadParameter", "{name}");
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(message), "{name}: {msg}");
        assert!(took < std::time::Duration::from_secs(2), "{name} took {took:?}");
    }
}

/// PFX files OpenSSL writes with each container scheme we decrypt (PBES2 AES-128/192/256 with
/// HMAC-SHA1/SHA-256, 3DES and RC2-40, with and without a password) import; a scheme we do
/// not decrypt (RC2-128) is a 400 naming it.
#[tokio::test]
async fn pfx_container_schemes_from_openssl() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d);
    make_leaf(d, "leaf");
    let variants: Vec<(&str, Vec<&str>, &str)> = vec![
        ("aes128", vec!["-certpbe", "AES-128-CBC", "-keypbe", "AES-128-CBC"], "pw1"),
        ("aes192sha1", vec!["-certpbe", "AES-192-CBC", "-macalg", "sha1"], "pw1"),
        ("aes256nopw", vec![], ""),
        ("des3", vec!["-legacy", "-certpbe", "PBE-SHA1-3DES"], "pw1"),
        ("rc2nopw", vec!["-legacy"], ""),
        ("rc2unicode", vec!["-legacy"], "pä߀"),
    ];
    let mut n = 0;
    for (name, extra, pw) in &variants {
        let pass = format!("pass:{pw}");
        let out = format!("{name}.pfx");
        let mut args =
            vec!["pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-out", &out, "-passout", &pass];
        args.extend(extra.iter().copied());
        if openssl_fails(d, &args) {
            eprintln!("{name}: this OpenSSL cannot write it; skipped");
            continue;
        }
        let bytes = std::fs::read(d.join(&out)).unwrap();
        let r = call(
            &s,
            "POST",
            &format!("{}/certificates/{name}/import?{V}", s.vault_url("default")),
            t,
            Some(json!({"value": std_b64(&bytes), "pwd": pw})),
        )
        .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        n += 1;
    }
    assert!(n >= 4, "too few OpenSSL variants ran: {n}");
    let args = [
        "pkcs12",
        "-export",
        "-legacy",
        "-certpbe",
        "PBE-SHA1-RC2-128",
        "-inkey",
        "leaf.key",
        "-in",
        "leaf.pem",
        "-out",
        "rc2128.pfx",
        "-passout",
        "pass:pw1",
    ];
    if !openssl_fails(d, &args) {
        let bytes = std::fs::read(d.join("rc2128.pfx")).unwrap();
        let r = import_value_pw(&s, t, "rc2128", std_b64(&bytes), "pw1").await;
        assert_eq!(r.status, 400, "{}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("pbeWithSHAAnd128BitRC2-CBC"), "{msg}");
    }
}

async fn import_value_pw(s: &TestServer, t: Option<&str>, name: &str, value: String, pw: &str) -> common::Reply {
    let base = s.vault_url("default");
    call(s, "POST", &format!("{base}/certificates/{name}/import?{V}"), t, Some(json!({"value": value, "pwd": pw})))
        .await
}

/// Every certificate of an imported PEM chain must be an X.509 certificate, at most 32 KiB,
/// and the chain at most 32 long; a reversed chain is stored leaf → root.
#[tokio::test]
async fn pem_chain_elements_must_be_certificates() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d);
    make_leaf(d, "leaf");
    let key = std::fs::read_to_string(d.join("leaf.key")).unwrap();
    let leaf = std::fs::read_to_string(d.join("leaf.pem")).unwrap();
    let ca = std::fs::read_to_string(d.join("ca.pem")).unwrap();
    let pem = |label: &str, der: &[u8]| {
        let b = std_b64(der);
        let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    };
    // nested SEQUENCEs, no certificate
    let mut nested = vec![0x05, 0x00];
    for _ in 0..200 {
        nested = der_tlv(0x30, &nested);
    }
    let big = der_tlv(0x30, &vec![0u8; 40 * 1024]);
    let cases = [
        ("junk", format!("{key}{leaf}{}", pem("CERTIFICATE", &nested)), "Certificate 2 of the chain is not a valid"),
        ("big", format!("{key}{leaf}{}", pem("CERTIFICATE", &big)), "Certificate 2 of the chain is larger than"),
        ("long", format!("{key}{leaf}{}", ca.repeat(40)), "at most 32 are accepted"),
    ];
    for (name, text, message) in cases {
        let r = import_value(&s, t, name, std_b64(text.as_bytes())).await;
        assert_eq!(r.status, 400, "{name}: {:?}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(message), "{name}: {msg}");
        let r = call(&s, "GET", &format!("{base}/certificates/{name}?{V}"), t, None).await;
        assert_eq!(r.status, 404, "{name} was stored");
    }
    // the same chain, root first, is accepted and stored leaf first
    let r = import_value(&s, t, "ok", std_b64(format!("{key}{ca}{leaf}").as_bytes())).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(&s, "GET", &format!("{base}/secrets/ok?{V}"), t, None).await;
    let value = r.body["value"].as_str().unwrap();
    let leaf_at = value.find(leaf.trim()).unwrap();
    let ca_at = value.find(ca.trim()).unwrap();
    assert!(leaf_at < ca_at, "leaf first");
}

/// A PFX whose MAC asks for many (accepted) iterations, with a wrong MAC: the server derives the
/// key, then refuses the file.
fn slow_pfx() -> Vec<u8> {
    hostile_pfx(&[shrouded_key_bag(pbkdf2_alg(2048))], Some(400_000))
}

/// While several slow imports run, a GET is still answered at once: import parsing runs on the
/// blocking pool, not on the (here two) async workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_is_prompt_while_imports_run() {
    let s = std::sync::Arc::new(TestServer::start().await);
    let t = token(&s).await;
    let base = s.vault_url("default");
    let r = call(&s, "PUT", &format!("{base}/secrets/probe?{V}"), Some(&t), Some(json!({"value": "v"}))).await;
    assert_eq!(r.status, 200);
    let value = std_b64(&slow_pfx());
    // how long one slow import takes alone
    let started = std::time::Instant::now();
    let r = import_value(&s, Some(&t), "alone", value.clone()).await;
    let alone = started.elapsed();
    assert_eq!(r.status, 400, "{:?}", r.body);
    let mut imports = Vec::new();
    for i in 0..4 {
        let (s, t, value) = (s.clone(), t.clone(), value.clone());
        imports.push(tokio::spawn(async move { import_value(&s, Some(&t), &format!("slow{i}"), value).await.status }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let r = call(&s, "GET", &format!("{base}/secrets/probe?{V}"), Some(&t), None).await;
    let get = started.elapsed();
    assert_eq!(r.status, 200);
    for i in imports {
        assert_eq!(i.await.unwrap(), 400);
    }
    eprintln!("one slow import alone: {alone:?}; GET during four: {get:?}");
    assert!(
        get < alone / 2 && get < std::time::Duration::from_millis(1500),
        "GET took {get:?} (import alone {alone:?})"
    );
}

// --- IP address and URI subject alternative names ---------------------------------------------

/// From api-version 2025-06-01 on, `sans.ipAddresses` and `sans.uris` are issued into the
/// certificate (checked with openssl), shown in the policy and kept by renewal-relevant policy
/// updates; earlier api-versions, which do not define them, get a 400 naming the version, and
/// bad values are refused. An imported certificate's IP and URI names appear in its policy.
#[tokio::test]
async fn ip_address_and_uri_sans() {
    let s = TestServer::start().await;
    let t = token(&s).await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let new = "api-version=2025-07-01";
    let policy = |sans: Value| {
        json!({"key_props": {"kty": "EC", "crv": "P-256"}, "x509_props": {"subject": "CN=ip", "sans": sans},
               "issuer": {"name": "Self"}})
    };
    let sans = json!({"dns_names": ["ip.example"], "ipAddresses": ["10.1.2.3", "2001:DB8::7"],
                      "uris": ["spiffe://example.org/ns/web"]});
    let r =
        call(&s, "POST", &format!("{base}/certificates/ipc/create?{new}"), t, Some(json!({"policy": policy(sans)})))
            .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let c = call(&s, "GET", &format!("{base}/certificates/ipc?{new}"), t, None).await;
    assert_eq!(c.status, 200, "{}", c.body);
    let got = &c.body["policy"]["x509_props"]["sans"];
    assert_eq!(got["ipAddresses"], json!(["10.1.2.3", "2001:db8::7"]), "{got}");
    assert_eq!(got["uris"], json!(["spiffe://example.org/ns/web"]));
    assert_eq!(got["dns_names"], json!(["ip.example"]));
    write(d, "ip.der", &std_unb64(c.body["cer"].as_str().unwrap()));
    let text = openssl(d, &["x509", "-inform", "DER", "-in", "ip.der", "-noout", "-ext", "subjectAltName"]);
    assert!(text.contains("IP Address:10.1.2.3"), "{text}");
    assert!(text.contains("IP Address:2001:DB8:0:0:0:0:0:7"), "{text}");
    assert!(text.contains("URI:spiffe://example.org/ns/web"), "{text}");
    assert!(text.contains("DNS:ip.example"), "{text}");

    // a policy update through an older api-version that sends `sans` keeps the IP and URI names
    let r = call(
        &s,
        "PATCH",
        &format!("{base}/certificates/ipc/policy?{V}"),
        t,
        Some(json!({"x509_props": {"sans": {"dns_names": ["ip2.example"]}}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["x509_props"]["sans"]["ipAddresses"], json!(["10.1.2.3", "2001:db8::7"]));
    assert_eq!(r.body["x509_props"]["sans"]["dns_names"], json!(["ip2.example"]));

    // api-versions without the members: refused, not silently dropped
    for old in ["7.6", "7.5", "2016-10-01"] {
        let r = call(
            &s,
            "POST",
            &format!("{base}/certificates/old/create?api-version={old}"),
            t,
            Some(json!({"policy": policy(json!({"ipAddresses": ["10.0.0.1"]}))})),
        )
        .await;
        assert_eq!(r.status, 400, "{old}: {}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("2025-06-01"), "{}", r.body);
    }
    // bad values
    for (sans, what) in [
        (json!({"ipAddresses": ["10.0.0.256"]}), "IP address"),
        (json!({"ipAddresses": ["host.example"]}), "IP address"),
        (json!({"uris": ["no-scheme"]}), "URI"),
        (json!({"uris": ["https://a b"]}), "URI"),
    ] {
        let r = call(
            &s,
            "POST",
            &format!("{base}/certificates/bad/create?{new}"),
            t,
            Some(json!({"policy": policy(sans)})),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(what), "{}", r.body);
    }
    // IP and URI names alone are enough (no subject)
    let only = json!({"key_props": {"kty": "EC"}, "x509_props": {"sans": {"ipAddresses": ["192.0.2.9"]}},
                      "issuer": {"name": "Self"}});
    let r = call(&s, "POST", &format!("{base}/certificates/only/create?{new}"), t, Some(json!({"policy": only}))).await;
    assert_eq!(r.status, 202, "{}", r.body);

    // an imported certificate's IP and URI names show in its derived policy
    make_ca(d);
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "s.key",
            "-out",
            "s.pem",
            "-days",
            "5",
            "-subj",
            "/CN=san",
            "-addext",
            "subjectAltName=IP:192.0.2.1,URI:urn:example:svc",
        ],
    );
    let pem = format!(
        "{}{}",
        std::fs::read_to_string(d.join("s.key")).unwrap(),
        std::fs::read_to_string(d.join("s.pem")).unwrap()
    );
    let r = call(
        &s,
        "POST",
        &format!("{base}/certificates/imp/import?{new}"),
        t,
        Some(json!({"value": std_b64(pem.as_bytes())})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["policy"]["x509_props"]["sans"]["ipAddresses"], json!(["192.0.2.1"]));
    assert_eq!(r.body["policy"]["x509_props"]["sans"]["uris"], json!(["urn:example:svc"]));
}
