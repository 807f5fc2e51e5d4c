//! CLI behaviour end to end (the real server binary, the CLI as a subprocess): management
//! commands with the `AZURE_*` variables, `certificate create` defaults, and backups / restores
//! that keep secrets private.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use serde_json::Value;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `strongbox …` with a clean environment (no credential of the developer's leaks in).
fn cli(tmp: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    c.args(args)
        .env("STRONGBOX_LOG", "warn")
        .env("STRONGBOX_LOGIN_FILE", tmp.join("no-login.json"))
        .env("HOME", tmp)
        .env_remove("STRONGBOX_BOOTSTRAP")
        .env_remove("STRONGBOX_VAULT_URL")
        .env_remove("STRONGBOX_CA_FILE")
        .env_remove("STRONGBOX_DNS_SUFFIX");
    for v in ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST"] {
        c.env_remove(v);
    }
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok_json(o: Output) -> Value {
    assert!(o.status.success(), "command failed: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    if out.trim().is_empty() { Value::Null } else { serde_json::from_str(&out).unwrap() }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

struct Env {
    _server: Server,
    tmp: tempfile::TempDir,
    bootstrap: PathBuf,
}

impl Env {
    fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let server = Server(common::spawn(&data, common::free_port()));
        Self { _server: server, bootstrap: data.join("bootstrap.json"), tmp }
    }

    /// A command with `--bootstrap`.
    fn boot(&self, args: &[&str]) -> Output {
        cli(self.tmp.path(), args).arg("--bootstrap").arg(&self.bootstrap).output().unwrap()
    }

    /// A command with the azure-identity variables of the bootstrap admin (as the README shows).
    fn azure_env(&self, args: &[&str]) -> Output {
        let b: Value = serde_json::from_str(&std::fs::read_to_string(&self.bootstrap).unwrap()).unwrap();
        let s = |k: &str| b[k].as_str().unwrap().to_owned();
        cli(self.tmp.path(), args)
            .env("AZURE_TENANT_ID", s("tenant_id"))
            .env("AZURE_CLIENT_ID", s("client_id"))
            .env("AZURE_CLIENT_SECRET", s("client_secret"))
            .env("AZURE_AUTHORITY_HOST", s("authority"))
            .env("STRONGBOX_CA_FILE", s("ca_file"))
            .output()
            .unwrap()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

#[test]
fn cli_commands_end_to_end() {
    let env = Env::start();

    // (11.15) management commands work with the AZURE_* variables: they use the authority host
    let v = ok_json(env.azure_env(&["vault", "create", "team-env", "--retention-days", "7"]));
    assert_eq!(v["name"], "team-env", "{v}");
    let listed = ok_json(env.azure_env(&["vault", "list"]));
    assert!(listed.to_string().contains("team-env"), "{listed}");
    let sp = ok_json(env.azure_env(&["ad", "sp", "create-for-rbac", "--name", "env-app"]));
    assert!(sp["appId"].is_string(), "{sp}");
    let defs = ok_json(env.azure_env(&["role", "definition", "list"]));
    assert!(defs.to_string().contains("Key Vault Administrator"), "{defs}");
    // data-plane commands still reach a named vault on the authority's port
    ok_json(env.azure_env(&["secret", "set", "--vault-name", "team-env", "--name", "s", "--value", "v"]));

    // (11.16) `certificate create` without --issuer issues a self-signed certificate at once
    let cert = ok_json(env.boot(&["certificate", "create", "--name", "web", "--subject", "CN=web.example"]));
    assert!(cert["cer"].as_str().is_some_and(|c| !c.is_empty()), "{cert}");
    assert_eq!(cert["policy"]["issuer"]["name"], "Self", "{cert}");
    // an explicit Unknown issuer still gives the CSR to merge (exit 0, the pending operation)
    let op = ok_json(env.boot(&[
        "certificate",
        "create",
        "--name",
        "csr",
        "--subject",
        "CN=csr.example",
        "--issuer",
        "Unknown",
    ]));
    assert_eq!(op["status"], "inProgress", "{op}");
    assert!(op["csr"].is_string(), "{op}");
    // an issuer that cannot issue here fails clearly instead of exiting 0 with nothing issued
    ok_json(env.boot(&["certificate", "issuer", "create", "--name", "digi", "--provider", "DigiCert"]));
    let o = env.boot(&["certificate", "create", "--name", "pub", "--subject", "CN=pub.example", "--issuer", "digi"]);
    assert!(!o.status.success(), "issuance through an unreachable CA should fail: {}", text(&o));

    // (11.17) backups are private files; a restore does not print the secret value
    let value = "restore-must-not-print-this-7f3a";
    ok_json(env.boot(&["secret", "set", "--name", "db", "--value", value]));
    let sbak = env.file("db.bak");
    std::fs::write(&sbak, "old").unwrap();
    std::fs::set_permissions(&sbak, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok_json(env.boot(&["secret", "backup", "--name", "db", "--file", sbak.to_str().unwrap()]));
    assert_eq!(mode(&sbak), 0o600, "a secret backup must be 0600");
    ok_json(env.boot(&["secret", "delete", "--name", "db"]));
    ok_json(env.boot(&["secret", "purge", "--name", "db"]));
    let o = env.boot(&["secret", "restore", "--file", sbak.to_str().unwrap()]);
    assert!(o.status.success(), "restore failed: {}", text(&o));
    assert!(!text(&o).contains(value), "restore printed the secret value: {}", text(&o));
    let restored: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(restored["id"].as_str().unwrap().contains("/secrets/db/"), "{restored}");
    // the value is still there for those who ask for it
    assert_eq!(ok_json(env.boot(&["secret", "show", "--name", "db"]))["value"], value);

    ok_json(env.boot(&["key", "create", "--name", "k", "--kty", "EC"]));
    let kbak = env.file("k.bak");
    ok_json(env.boot(&["key", "backup", "--name", "k", "--file", kbak.to_str().unwrap()]));
    assert_eq!(mode(&kbak), 0o600, "a key backup must be 0600");
    let cbak = env.file("web.bak");
    ok_json(env.boot(&["certificate", "backup", "--name", "web", "--file", cbak.to_str().unwrap()]));
    assert_eq!(mode(&cbak), 0o600, "a certificate backup must be 0600");
}

#[test]
fn operator_rotates_the_keyring_and_old_values_stay_readable() {
    let env = Env::start();
    let st = ok_json(env.boot(&["operator", "key-status"]));
    assert_eq!(st["activeTerm"], 1, "{st}");
    assert_eq!(st["rotateAfterEncryptions"], 1u64 << 30, "{st}");
    ok_json(env.boot(&["secret", "set", "--name", "before", "--value", "old term"]));
    let rotated = ok_json(env.boot(&["operator", "rotate"]));
    assert_eq!(rotated["activeTerm"], 2, "{rotated}");
    assert_eq!(rotated["terms"].as_array().map(Vec::len), Some(2), "{rotated}");
    assert!(rotated["terms"][1]["installed"].as_i64().unwrap() > 1_700_000_000, "{rotated}");
    ok_json(env.boot(&["secret", "set", "--name", "after", "--value", "new term"]));
    assert_eq!(ok_json(env.boot(&["secret", "show", "--name", "before"]))["value"], "old term");
    assert_eq!(ok_json(env.boot(&["secret", "show", "--name", "after"]))["value"], "new term");
    let st = ok_json(env.boot(&["operator", "key-status"]));
    assert!(st["encryptions"].as_u64().unwrap() >= 1, "the write after the rotation was not counted: {st}");
    // an application without a role at `/` may not rotate
    let sp = ok_json(env.boot(&["ad", "sp", "create-for-rbac", "--name", "no-rights"]));
    let b: Value = serde_json::from_str(&std::fs::read_to_string(&env.bootstrap).unwrap()).unwrap();
    let out = cli(env.tmp.path(), &["operator", "rotate"])
        .env("AZURE_TENANT_ID", b["tenant_id"].as_str().unwrap())
        .env("AZURE_CLIENT_ID", sp["appId"].as_str().unwrap())
        .env("AZURE_CLIENT_SECRET", sp["password"].as_str().unwrap())
        .env("AZURE_AUTHORITY_HOST", b["authority"].as_str().unwrap())
        .env("STRONGBOX_CA_FILE", b["ca_file"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(!out.status.success() && text(&out).contains("403"), "{}", text(&out));
    assert_eq!(ok_json(env.boot(&["operator", "key-status"]))["activeTerm"], 2);
}
