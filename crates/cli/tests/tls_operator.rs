//! The real binary with an operator certificate made by OpenSSL (the independent
//! implementation): the TLS policy as `openssl s_client` sees it, the chain served whole,
//! bad certificates refused at start, and reload on change and SIGHUP keeping the old
//! certificate when the new one is bad.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "test code: a panic fails the test; prints SKIPPED notices"
)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SUFFIX: &str = "vault.corp.test";
const HOST: &str = "corp.test";

fn openssl_available() -> bool {
    Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Root CA → intermediate → RSA-2048 leaf for `names` (SAN list) valid for `days`; writes
/// `{stem}.pem` (leaf + intermediate) and `{stem}-key.pem`.
fn make_chain(dir: &Path, stem: &str, names: &str, days: &str) {
    if !dir.join("root.pem").exists() {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "root-key.pem",
                "-out",
                "root.pem",
                "-subj",
                "/CN=Test Root",
                "-days",
                "30",
            ],
        );
        std::fs::write(
            dir.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "int-key.pem",
                "-out",
                "int.csr",
                "-subj",
                "/CN=Test Intermediate",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "int.csr",
                "-CA",
                "root.pem",
                "-CAkey",
                "root-key.pem",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                "ca.ext",
                "-out",
                "int.pem",
            ],
        );
    }
    std::fs::write(dir.join(format!("{stem}.ext")), format!("subjectAltName={names}\nextendedKeyUsage=serverAuth\n"))
        .unwrap();
    let key = format!("{stem}-key.pem");
    let csr = format!("{stem}.csr");
    let leaf = format!("{stem}-leaf.pem");
    openssl(
        dir,
        &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &format!("/CN={stem}")],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "int.pem",
            "-CAkey",
            "int-key.pem",
            "-CAcreateserial",
            "-days",
            days,
            "-extfile",
            &format!("{stem}.ext"),
            "-out",
            &leaf,
        ],
    );
    let chain =
        std::fs::read_to_string(dir.join(&leaf)).unwrap() + &std::fs::read_to_string(dir.join("int.pem")).unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), chain).unwrap();
}

const GOOD_NAMES: &str = "DNS:*.vault.corp.test,DNS:corp.test";

/// `openssl s_client` against the server with `args`; (handshake succeeded, its output).
fn s_client(port: u16, host: &str, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", host]).args(args);
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // s_client prints the negotiated cipher; "(NONE)" or no line when the handshake failed
    let ok = out.status.success()
        && text.lines().any(|l| l.contains("Cipher is ") && !l.contains("(NONE)") && !l.contains("Cipher is 0000"));
    (ok, text)
}

fn leaf_fingerprint(pem: &Path) -> String {
    let out =
        Command::new("openssl").args(["x509", "-noout", "-fingerprint", "-sha256", "-in"]).arg(pem).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn served_fingerprint(port: u16, dir: &Path) -> String {
    let (_, text) = s_client(port, &format!("a.{SUFFIX}"), &[]);
    let start = text.find("-----BEGIN CERTIFICATE-----").expect("no certificate served");
    let end = text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    let p = dir.join("served.pem");
    std::fs::write(&p, &text[start..end]).unwrap();
    leaf_fingerprint(&p)
}

fn server_cmd(log: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    c.env("STRONGBOX_LOG", "info").stderr(std::fs::File::create(log).unwrap());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRONGBOX_") {
            c.env_remove(k);
        }
    }
    c.env("STRONGBOX_LOG", "info");
    c
}

fn tls_flags(dir: &Path, stem: &str) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        dir.join(format!("{stem}.pem")).display().to_string(),
        "--tls-key".into(),
        dir.join(format!("{stem}-key.pem")).display().to_string(),
        "--tls-ca".into(),
        dir.join("root.pem").display().to_string(),
        "--dns-suffix".into(),
        SUFFIX.into(),
        "--public-host".into(),
        HOST.into(),
    ]
}

#[test]
fn operator_certificate_policy_chain_and_reload() {
    if !openssl_available() {
        println!("SKIPPED: openssl not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    make_chain(&pki, "server", GOOD_NAMES, "10");
    let log = tmp.path().join("server.log");
    let port = common::free_port();
    let flags = tls_flags(&pki, "server");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut child = common::spawn_server(server_cmd(&log), &tmp.path().join("data"), port, &flags);

    // bootstrap.json names the operator's names and CA
    let boot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("data/bootstrap.json")).unwrap()).unwrap();
    assert_eq!(boot["authority"], format!("https://{HOST}:{port}"));
    assert_eq!(boot["vault_url"], format!("https://default.{SUFFIX}:{port}"));
    assert_eq!(boot["resource"], format!("https://{SUFFIX}:{port}"));
    assert_eq!(Path::new(boot["ca_file"].as_str().unwrap()), std::fs::canonicalize(pki.join("root.pem")).unwrap());

    let host = format!("default.{SUFFIX}");
    let root = pki.join("root.pem").display().to_string();
    // TLS 1.3 and TLS 1.2 with ECDHE + AEAD succeed; the chain (leaf + intermediate) verifies
    let (ok, text) = s_client(port, &host, &["-tls1_3", "-CAfile", &root, "-verify_return_error", "-showcerts"]);
    assert!(ok, "TLS 1.3 refused: {text}");
    assert!(text.contains("TLSv1.3"), "{text}");
    assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 2, "the chain is not served whole: {text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    for suite in ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"] {
        let (ok, text) =
            s_client(port, &host, &["-tls1_2", "-cipher", suite, "-CAfile", &root, "-verify_return_error"]);
        assert!(ok && text.contains(suite), "TLS 1.2 {suite} refused: {text}");
    }
    // refused: old protocol versions, static-RSA key exchange, CBC suites
    for (args, what) in [
        (&["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"][..], "TLS 1.0"),
        (&["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"][..], "TLS 1.1"),
        (&["-tls1_2", "-cipher", "AES128-GCM-SHA256"][..], "static RSA + GCM"),
        (&["-tls1_2", "-cipher", "AES256-SHA256"][..], "static RSA + CBC"),
        (&["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256"][..], "ECDHE + CBC"),
        (&["-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA"][..], "ECDHE + CBC-SHA1"),
    ] {
        let (ok, text) = s_client(port, &host, args);
        assert!(!ok, "{what} was accepted: {text}");
    }

    // reload on file change: a new certificate is served without a restart
    let before = served_fingerprint(port, tmp.path());
    let refusals = || std::fs::read_to_string(&log).unwrap().matches("still serving the previous one").count();
    make_chain(&pki, "next", GOOD_NAMES, "10");
    std::fs::copy(pki.join("next.pem"), pki.join("server.pem")).unwrap();
    std::fs::copy(pki.join("next-key.pem"), pki.join("server-key.pem")).unwrap();
    let want = leaf_fingerprint(&pki.join("next-leaf.pem"));
    assert_ne!(before, want);
    let deadline = Instant::now() + Duration::from_secs(20);
    while served_fingerprint(port, tmp.path()) != want {
        assert!(Instant::now() < deadline, "the changed certificate was not reloaded");
        std::thread::sleep(Duration::from_millis(300));
    }

    // a bad new certificate (does not cover the vault hosts) is logged, the old one kept;
    // SIGHUP re-reads it and keeps refusing it
    let refused_before = refusals();
    make_chain(&pki, "bad", "DNS:other.test", "10");
    std::fs::copy(pki.join("bad.pem"), pki.join("server.pem")).unwrap();
    std::fs::copy(pki.join("bad-key.pem"), pki.join("server-key.pem")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while refusals() <= refused_before {
        assert!(Instant::now() < deadline, "the bad certificate was not reported");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(served_fingerprint(port, tmp.path()), want);
    // SIGHUP with a good pair back in place: reloaded at once
    std::fs::copy(pki.join("next.pem"), pki.join("server.pem")).unwrap();
    std::fs::copy(pki.join("next-key.pem"), pki.join("server-key.pem")).unwrap();
    let st = Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).unwrap().contains("SIGHUP") {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP stopped the server");
    assert_eq!(served_fingerprint(port, tmp.path()), want);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("PRIVATE KEY"), "key material in the log");
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn bad_operator_certificates_are_refused_at_start() {
    if !openssl_available() {
        println!("SKIPPED: openssl not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path();
    make_chain(pki, "good", GOOD_NAMES, "10");
    make_chain(pki, "other", GOOD_NAMES, "10");
    make_chain(pki, "expired", GOOD_NAMES, "-1");
    make_chain(pki, "narrow", "DNS:corp.test,DNS:default.vault.corp.test", "10");
    make_chain(pki, "nohost", "DNS:*.vault.corp.test", "10");
    let p = |f: &str| pki.join(f).display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![p("missing.pem"), p("good-key.pem")], "cannot read the TLS certificate file"),
        (vec![p("good.pem"), p("missing-key.pem")], "cannot read the TLS key file"),
        (vec![p("good-key.pem"), p("good-key.pem")], "holds no certificate"),
        (vec![p("good.pem"), p("good.pem")], "no unencrypted PEM private key"),
        (vec![p("good.pem"), p("other-key.pem")], "does not match the certificate"),
        (vec![p("expired.pem"), p("expired-key.pem")], "expired"),
        (vec![p("narrow.pem"), p("narrow-key.pem")], "does not cover the vault hosts *.vault.corp.test"),
        (vec![p("nohost.pem"), p("nohost-key.pem")], "does not cover the host corp.test"),
    ];
    for (files, want) in cases {
        let data = tmp.path().join(format!("data-{}", common::free_port()));
        let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
            .args(["server", "--listen", &format!("127.0.0.1:{}", common::free_port()), "--data-dir"])
            .arg(&data)
            .args(["--tls-cert", &files[0], "--tls-key", &files[1], "--dns-suffix", SUFFIX, "--public-host", HOST])
            .env("STRONGBOX_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{files:?} was accepted");
        assert!(err.contains(want), "{files:?}: expected '{want}' in: {err}");
        assert!(!err.contains("PRIVATE KEY"), "key material in the error: {err}");
        assert!(!data.exists(), "a refused start created the data folder");
    }
}

#[test]
fn client_certificates_are_required_where_asked() {
    if !openssl_available() {
        println!("SKIPPED: openssl not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    make_chain(&pki, "server", GOOD_NAMES, "10");
    // a client certificate from a separate CA
    openssl(
        &pki,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "cca-key.pem",
            "-out",
            "cca.pem",
            "-subj",
            "/CN=Client CA",
            "-days",
            "30",
        ],
    );
    openssl(
        &pki,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "client-key.pem",
            "-out",
            "client.csr",
            "-subj",
            "/CN=client",
        ],
    );
    std::fs::write(pki.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        &pki,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "cca.pem",
            "-CAkey",
            "cca-key.pem",
            "-CAcreateserial",
            "-days",
            "10",
            "-extfile",
            "client.ext",
            "-out",
            "client.pem",
        ],
    );
    let port = common::free_port();
    let mut flags = tls_flags(&pki, "server");
    flags.extend(["--tls-client-ca".into(), pki.join("cca.pem").display().to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut child = common::spawn_server(server_cmd(&tmp.path().join("log")), &tmp.path().join("data"), port, &flags);
    let host = format!("default.{SUFFIX}");
    let (ok, text) = s_client(port, &host, &["-tls1_2"]);
    assert!(!ok, "a client without a certificate was accepted: {text}");
    let cert = pki.join("client.pem").display().to_string();
    let key = pki.join("client-key.pem").display().to_string();
    let (ok, text) = s_client(port, &host, &["-tls1_2", "-cert", &cert, "-key", &key]);
    assert!(ok, "the client certificate was refused: {text}");
    // a certificate from another CA is refused
    let other = pki.join("server-leaf.pem").display().to_string();
    let other_key = pki.join("server-key.pem").display().to_string();
    let (ok, text) = s_client(port, &host, &["-tls1_2", "-cert", &other, "-key", &other_key]);
    assert!(!ok, "a certificate from another CA was accepted: {text}");
    child.kill().unwrap();
    let _ = child.wait();
}
