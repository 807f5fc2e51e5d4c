//! `strongbox server --dev`: a temporary data folder, `export` lines that a client can use as
//! printed, and the folder removed at a clean stop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "test code")]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn dev_mode_prints_working_exports_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    for (k, _) in std::env::vars() {
        if k.starts_with("STRONGBOX_") || k.starts_with("AZURE_") {
            server.env_remove(k);
        }
    }
    let seed = tmp.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{ "vaults": [{ "name": "fixtures", "sku": "premium" }],
             "secrets": [{ "vault": "fixtures", "name": "db-password", "body": { "value": "seeded-value", "contentType": "text/plain" } },
                         { "name": "in-default", "body": { "value": "d" } }],
             "keys": [{ "vault": "fixtures", "name": "signing", "body": { "kty": "EC", "crv": "P-256" } }] }"#,
    )
    .unwrap();
    let mut child = server
        .args(["server", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--seed")
        .arg(&seed)
        .env("TMPDIR", tmp.path())
        .env("STRONGBOX_LOG", "warn")
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut exports = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !exports.contains_key("STRONGBOX_CA_FILE") {
        assert!(Instant::now() < deadline, "no export lines");
        let line = lines.next().expect("the server stopped").unwrap();
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            exports.insert(k.to_owned(), v.to_owned());
        }
    }
    let data_dir = std::path::Path::new(&exports["STRONGBOX_BOOTSTRAP"]).parent().unwrap().to_owned();
    assert!(data_dir.starts_with(tmp.path()), "the dev data folder is not a temporary folder: {}", data_dir.display());
    assert!(!tmp.path().join("strongbox-data").exists(), "dev mode used ./strongbox-data");
    assert_eq!(exports["AZURE_KEYVAULT_URL"], format!("https://default.vault.localhost:{port}"));
    assert_eq!(exports["AZURE_AUTHORITY_HOST"], format!("https://localhost:{port}"));

    // the printed variables are enough for a client (the CLI with the azure-identity variables)
    let cli = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
        for (k, _) in std::env::vars() {
            if k.starts_with("STRONGBOX_") || k.starts_with("AZURE_") {
                c.env_remove(k);
            }
        }
        for k in
            ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST", "STRONGBOX_CA_FILE"]
        {
            c.env(k, &exports[k]);
        }
        c.env("HOME", tmp.path()).env("STRONGBOX_LOGIN_FILE", tmp.path().join("none.json")).args(args).output().unwrap()
    };
    let out = cli(&["secret", "set", "--vault-name", "default", "--name", "dev-one", "--value", "v1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["secret", "show", "--vault-name", "default", "--name", "dev-one"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["value"], "v1");

    // the seeded fixtures are there
    let out = cli(&["secret", "show", "--vault-name", "fixtures", "--name", "db-password"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["value"], "seeded-value");
    assert_eq!(shown["contentType"], "text/plain");
    let out = cli(&["secret", "show", "--vault-name", "default", "--name", "in-default"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["key", "show", "--vault-name", "fixtures", "--name", "signing"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["key"]["crv"], "P-256");

    // the clock moves: a soft-deleted secret is purged once its 90-day retention has passed
    let out = cli(&["secret", "delete", "--vault-name", "default", "--name", "in-default"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["secret", "show-deleted", "--vault-name", "default", "--name", "in-default"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli(&["dev", "time-shift", "30d"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["offsetSeconds"], 30 * 86_400);
    assert_eq!(r["purged"], 0);
    let out = cli(&["dev", "time-shift", "61d"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["offsetSeconds"], 91 * 86_400);
    assert!(r["purged"].as_u64().unwrap() >= 1, "{r}");
    let out = cli(&["secret", "show-deleted", "--vault-name", "default", "--name", "in-default"]);
    assert!(!out.status.success(), "the deleted secret was not purged");
    let out = cli(&["dev", "time-shift", "-5"]);
    assert!(!out.status.success(), "a backward shift was accepted");

    // a clean stop removes the folder
    let st = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success());
    assert!(rest.iter().any(|l| l.contains("removed")), "{rest:?}");
    assert!(!data_dir.exists(), "the dev data folder was not removed");
}

#[test]
fn a_bad_seed_file_stops_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    for (body, want) in [
        ("{ \"vaults\": [{ \"title\": \"x\" }] }", "not a valid seed"),
        (
            "{ \"secrets\": [{ \"vault\": \"nope\", \"name\": \"s\", \"body\": { \"value\": \"v\" } }] }",
            "seed: secret s in vault nope",
        ),
    ] {
        let seed = tmp.path().join("seed.json");
        std::fs::write(&seed, body).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
            .args(["server", "--dev", "--listen", &format!("127.0.0.1:{}", common::free_port()), "--seed"])
            .arg(&seed)
            .env("TMPDIR", tmp.path())
            .env("STRONGBOX_LOG", "warn")
            .env_remove("STRONGBOX_DATA_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{body} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "expected '{want}' in: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox")).args(["server", "--seed", "x.json"]).output().unwrap();
    assert!(!out.status.success(), "--seed without --dev was accepted");
}

#[test]
fn time_shift_is_refused_without_dev() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut child = common::spawn(&data, common::free_port());
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .args(["dev", "time-shift", "1d", "--bootstrap"])
        .arg(data.join("bootstrap.json"))
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(!out.status.success(), "a server without --dev moved its clock");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only on a server started with --dev"), "{err}");
}
