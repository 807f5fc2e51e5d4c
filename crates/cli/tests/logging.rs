//! Server logs as an operator reads them: `--log-format json` writes one JSON object per line,
//! no colour codes when stderr is a file, and one access record per request that names the
//! request, vault, operation, status, latency, caller and client, never a value or credential.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::process::Command;

use serde_json::Value;

mod common;

#[test]
fn json_logs_carry_one_access_record_per_request_and_no_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log_path = tmp.path().join("server.log");
    let port = common::free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    command.env_remove("STRONGBOX_LOG").stderr(std::fs::File::create(&log_path).unwrap());
    let flags = ["--log-format", "json", "--log-level", "warn,strongbox::access=info"];
    let mut server = common::spawn_server(command, &data, port, &flags);

    let value = "s3cr3t-value-that-must-not-be-logged";
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .args(["secret", "set", "--name", "logged", "--value", value, "--bootstrap"])
        .arg(data.join("bootstrap.json"))
        .env("STRONGBOX_LOG", "warn")
        .env("STRONGBOX_LOGIN_FILE", tmp.path().join("no-login.json"))
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    common::terminate(&mut server); // a clean stop writes every queued line

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(!text.contains('\u{1b}'), "colour codes in a log file:\n{text}");
    assert!(!text.contains(value), "the secret value reached the log");
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("bootstrap.json")).unwrap()).unwrap();
    assert!(!text.contains(bootstrap["client_secret"].as_str().unwrap()), "the client secret reached the log");

    let records: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let access: Vec<&Value> = records.iter().filter(|r| r["target"] == "strongbox::access").collect();
    let token =
        access.iter().find(|r| r["fields"]["operation"] == "token").expect("an access record for the token request");
    assert_eq!(token["fields"]["status"], 200);
    let set = access
        .iter()
        .find(|r| r["fields"]["operation"] == "secrets::set")
        .unwrap_or_else(|| panic!("no access record of the secret set:\n{text}"));
    let f = &set["fields"];
    assert_eq!(f["status"], 200);
    assert_eq!(f["method"], "PUT");
    assert_eq!(f["vault"], "default");
    // the bootstrap administrator's object id, a GUID
    assert_eq!(f["caller"].as_str().map(str::len), Some(36), "{f}");
    assert_eq!(f["client"], "127.0.0.1");
    assert!(f["latency_us"].as_u64().is_some());
    assert_eq!(f["request_id"].as_str().map(str::len), Some(36));
    assert_eq!(set["level"], "INFO");
}

#[test]
fn a_bad_log_filter_is_refused_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .args(["server", "--log-level", "foo=bogus", "--data-dir", "/nonexistent/strongbox-log-test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--log-level 'foo=bogus' is not a log filter"), "{err}");
}
