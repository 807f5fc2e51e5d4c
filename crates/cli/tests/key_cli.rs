//! `strongbox key …` end to end: the real server binary, and the CLI run as a subprocess.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;

/// SHA-256 of "strongbox" and of "other" (`printf strongbox | sha256sum`), base64url.
const DIGEST: &str = "Sq-P7UgCoeX3g37iLp19vBJqVv9TzeNEMoBYI53YBSI";
const OTHER_DIGEST: &str = "2SmbCxCnNYNfhTNBDcNrQQ88vyekfTU1PVsvKbWPwL8";

/// The ES256 example key of RFC 7515, appendix A.3.
const RFC7515_EC_JWK: &str = r#"{"kty":"EC","crv":"P-256",
  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
  "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;

/// The server process, killed when the test ends (also on a failed assertion).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `strongbox key …` against one server.
struct Cli {
    bootstrap: PathBuf,
    dir: PathBuf,
}

impl Cli {
    fn raw(&self, args: &[&str]) -> Output {
        self.exec(&[&["key"], args].concat())
    }

    /// Any `strongbox` command (not only `key …`).
    fn exec(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_strongbox"))
            .args(args)
            .arg("--bootstrap")
            .arg(&self.bootstrap)
            .env_remove("STRONGBOX_VAULT_URL")
            .env("STRONGBOX_LOG", "warn")
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; its stdout as JSON (`null` when it prints nothing).
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.raw(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "key {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        if stdout.trim().is_empty() { Value::Null } else { serde_json::from_str(&stdout).unwrap() }
    }

    /// Runs a command that must fail; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.raw(args);
        assert!(!out.status.success(), "key {args:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }
}

fn kid(v: &Value) -> String {
    v.pointer("/key/kid").and_then(Value::as_str).unwrap_or_else(|| panic!("no key.kid in {v}")).to_owned()
}

fn kids(list: &Value) -> Vec<String> {
    list["value"].as_array().unwrap().iter().map(|i| i["kid"].as_str().unwrap().to_owned()).collect()
}

fn sign_and_verify(cli: &Cli, name: &str, alg: &str) {
    let s = cli.ok(&["sign", "--name", name, "--algorithm", alg, "--digest", DIGEST]);
    let sig = s["value"].as_str().unwrap();
    assert!(s["kid"].as_str().unwrap().contains(&format!("/keys/{name}/")));
    let verify = |digest: &str| {
        cli.ok(&["verify", "--name", name, "--algorithm", alg, "--digest", digest, "--signature", sig])["value"]
            .as_bool()
            .unwrap()
    };
    assert!(verify(DIGEST), "{alg} signature of {name} does not verify");
    assert!(!verify(OTHER_DIGEST), "{alg} signature of {name} verifies another digest");
}

fn have_openssl() -> bool {
    Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn key_commands_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let _server = Server(common::spawn(&data, common::free_port()));
    let cli = Cli { bootstrap: data.join("bootstrap.json"), dir: tmp.path().to_owned() };

    // create RSA and EC keys
    let rsa = cli.ok(&["create", "--name", "rsa1", "--kty", "RSA", "--size", "2048", "--tags", "env=test"]);
    assert_eq!(rsa["key"]["kty"], "RSA");
    assert_eq!(rsa["tags"]["env"], "test");
    assert_eq!(B64.decode(rsa["key"]["n"].as_str().unwrap()).unwrap().len(), 256);
    let rsa_kid = kid(&rsa);
    let ec = cli.ok(&["create", "--name", "ec1", "--curve", "P-256", "--ops", "sign", "verify"]);
    assert_eq!((ec["key"]["kty"].as_str(), ec["key"]["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert_eq!(ec["key"]["key_ops"], serde_json::json!(["sign", "verify"]));
    assert!(cli.fails(&["create", "--name", "bad", "--kty", "RSA", "--size", "1000"]).contains("BadParameter"));

    // show, list, set-attributes
    assert_eq!(kid(&cli.ok(&["show", "--name", "rsa1"])), rsa_kid);
    let version = rsa_kid.rsplit('/').next().unwrap();
    assert_eq!(kid(&cli.ok(&["show", "--name", "rsa1", "--version", version])), rsa_kid);
    let listed = kids(&cli.ok(&["list"]));
    assert!(listed.iter().any(|k| k.ends_with("/keys/rsa1")) && listed.iter().any(|k| k.ends_with("/keys/ec1")));
    let table = cli.raw(&["list", "--output", "table"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("Id ") && table.contains("/keys/ec1"), "table output: {table}");
    let upd = cli.ok(&["set-attributes", "--name", "ec1", "--tags", "team=a", "--expires", "4102444800"]);
    assert_eq!((upd["tags"]["team"].as_str(), upd["attributes"]["exp"].as_i64()), (Some("a"), Some(4102444800)));

    // sign a SHA-256 digest, verify it (true) and another digest (false)
    sign_and_verify(&cli, "ec1", "ES256");
    sign_and_verify(&cli, "rsa1", "PS256");
    sign_and_verify(&cli, "rsa1", "RS256");

    // encrypt then decrypt (RSA-OAEP-256), raw bytes in and out
    let plain = b"attack at dawn \x00\xff";
    std::fs::write(cli.file("plain.bin"), plain).unwrap();
    let enc =
        cli.ok(&["encrypt", "--name", "rsa1", "--algorithm", "RSA-OAEP-256", "--data-file", &cli.file("plain.bin")]);
    assert_eq!(enc["kid"].as_str(), Some(rsa_kid.as_str()));
    let ct = enc["value"].as_str().unwrap();
    let dec = cli.ok(&["decrypt", "--name", "rsa1", "--algorithm", "RSA-OAEP-256", "--value", ct]);
    assert_eq!(B64.decode(dec["value"].as_str().unwrap()).unwrap(), plain);
    let out = cli.file("plain.out");
    let quiet = cli.ok(&[
        "decrypt",
        "--name",
        "rsa1",
        "--version",
        version,
        "--algorithm",
        "RSA-OAEP-256",
        "--value",
        ct,
        "--out-file",
        &out,
    ]);
    assert!(quiet.is_null());
    assert_eq!(std::fs::read(&out).unwrap(), plain);

    // wrap / unwrap a 256-bit key
    let cek = B64.encode([7u8; 32]);
    let wrapped = cli.ok(&["wrap", "--name", "rsa1", "--algorithm", "RSA-OAEP", "--value", &cek]);
    let wrapped = wrapped["value"].as_str().unwrap();
    assert_ne!(wrapped, cek);
    let unwrapped = cli.ok(&["unwrap", "--name", "rsa1", "--algorithm", "RSA-OAEP", "--value", wrapped]);
    assert_eq!(unwrapped["value"].as_str(), Some(cek.as_str()));
    // an EC key created for sign/verify only cannot encrypt
    assert!(!cli.fails(&["encrypt", "--name", "ec1", "--algorithm", "RSA-OAEP", "--value", &cek]).is_empty());

    // rotate: a new version, and the old one stays usable
    let rotated = kid(&cli.ok(&["rotate", "--name", "rsa1"]));
    assert_ne!(rotated, rsa_kid);
    assert_eq!(kid(&cli.ok(&["show", "--name", "rsa1"])), rotated);
    let versions = kids(&cli.ok(&["list-versions", "--name", "rsa1"]));
    assert!(versions.contains(&rotated) && versions.contains(&rsa_kid), "{versions:?}");

    // rotation policy
    let set = cli.ok(&[
        "rotation-policy",
        "update",
        "--name",
        "rsa1",
        "--expires-in",
        "P90D",
        "--rotate-after-create",
        "P30D",
        "--notify-before-expiry",
        "P7D",
    ]);
    assert!(set["id"].as_str().unwrap().ends_with("/keys/rsa1/rotationpolicy"));
    let shown = cli.ok(&["rotation-policy", "show", "--name", "rsa1"]);
    assert_eq!(shown["attributes"]["expiryTime"], "P90D");
    let actions = shown["lifetimeActions"].as_array().unwrap();
    let find = |kind: &str| actions.iter().find(|a| a["action"]["type"] == kind).unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(find("Rotate")["trigger"]["timeAfterCreate"], "P30D");
    assert_eq!(find("Notify")["trigger"]["timeBeforeExpiry"], "P7D");

    // delete, show-deleted, list-deleted, recover
    let deleted = cli.ok(&["delete", "--name", "ec1"]);
    assert!(deleted["recoveryId"].as_str().unwrap().ends_with("/deletedkeys/ec1"));
    assert!(cli.fails(&["show", "--name", "ec1"]).contains("KeyNotFound"));
    assert_eq!(cli.ok(&["show-deleted", "--name", "ec1"])["recoveryId"], deleted["recoveryId"]);
    assert!(kids(&cli.ok(&["list-deleted"])).iter().any(|k| k.ends_with("/keys/ec1")));
    assert_eq!(kid(&cli.ok(&["recover", "--name", "ec1"])), kid(&ec));
    sign_and_verify(&cli, "ec1", "ES256");

    // backup, delete + purge, restore (all versions, same ids)
    let backup = cli.file("rsa1.backup");
    assert!(cli.ok(&["backup", "--name", "rsa1", "--file", &backup]).is_null());
    cli.ok(&["delete", "--name", "rsa1"]);
    assert!(cli.ok(&["purge", "--name", "rsa1"]).is_null());
    assert!(cli.fails(&["show-deleted", "--name", "rsa1"]).contains("KeyNotFound"));
    assert_eq!(kid(&cli.ok(&["restore", "--file", &backup])), rotated);
    assert_eq!(kids(&cli.ok(&["list-versions", "--name", "rsa1"])).len(), 2);
    let again =
        cli.ok(&["decrypt", "--name", "rsa1", "--version", version, "--algorithm", "RSA-OAEP-256", "--value", ct]);
    assert_eq!(B64.decode(again["value"].as_str().unwrap()).unwrap(), plain);

    // random bytes
    let r = cli.ok(&["random", "--count", "16"]);
    assert_eq!(B64.decode(r["value"].as_str().unwrap()).unwrap().len(), 16);

    // import a private JWK
    std::fs::write(cli.file("ec.jwk"), RFC7515_EC_JWK).unwrap();
    let imported = cli.ok(&["import", "--name", "jwk1", "--jwk-file", &cli.file("ec.jwk"), "--ops", "sign,verify"]);
    assert_eq!(imported["key"]["x"], "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
    assert!(imported["key"].get("d").is_none(), "the private part came back");
    sign_and_verify(&cli, "jwk1", "ES256");

    import_pem_keys(&cli);
    secret_commands(&cli);
}

/// The secret commands share their plumbing with the key commands.
fn secret_commands(cli: &Cli) {
    let secret = |args: &[&str]| {
        let out = cli.exec(&[&["secret"], args].concat());
        assert!(out.status.success(), "secret {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    let set = secret(&["set", "--name", "s1", "--value", "v1", "--tags", "a=b", "--disabled"]);
    assert_eq!((set["value"].as_str(), set["attributes"]["enabled"].as_bool()), (Some("v1"), Some(false)));
    let upd = secret(&["set-attributes", "--name", "s1", "--enabled", "true", "--content-type", "text/plain"]);
    assert_eq!((upd["contentType"].as_str(), upd["tags"]["a"].as_str()), (Some("text/plain"), Some("b")));
    assert_eq!(secret(&["show", "--name", "s1"])["value"], "v1");
    assert_eq!(secret(&["list"])["value"].as_array().unwrap().len(), 1);
    let backup = cli.file("s1.backup");
    secret(&["backup", "--name", "s1", "--file", &backup]);
    secret(&["delete", "--name", "s1"]);
    assert!(secret(&["purge", "--name", "s1"]).is_null());
    assert_eq!(secret(&["restore", "--file", &backup])["id"], secret(&["show", "--name", "s1"])["id"]);
}

/// PEM imports (PKCS#8, PKCS#1, SEC1) of keys made by openssl, where it is installed.
fn import_pem_keys(cli: &Cli) {
    if !have_openssl() {
        eprintln!("openssl not found: PEM imports not tested");
        return;
    }
    let f = |n: &str| cli.file(n);
    openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &f("ec.p8")]);
    openssl(&["ec", "-in", &f("ec.p8"), "-out", &f("ec.sec1")]);
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", &f("rsa.p8")]);
    openssl(&["rsa", "-in", &f("rsa.p8"), "-traditional", "-out", &f("rsa.p1")]);
    for (file, header) in
        [("ec.sec1", "EC PRIVATE KEY"), ("rsa.p1", "RSA PRIVATE KEY"), ("rsa.p8", "BEGIN PRIVATE KEY")]
    {
        assert!(std::fs::read_to_string(f(file)).unwrap().contains(header), "{file} is not {header}");
    }
    let ec8 = cli.ok(&["import", "--name", "pem-ec8", "--pem-file", &f("ec.p8")]);
    let ec1 = cli.ok(&["import", "--name", "pem-ec1", "--pem-file", &f("ec.sec1")]);
    assert_eq!(ec8["key"]["crv"], "P-256");
    assert_eq!((&ec8["key"]["x"], &ec8["key"]["y"]), (&ec1["key"]["x"], &ec1["key"]["y"]));
    let rsa8 = cli.ok(&["import", "--name", "pem-rsa8", "--pem-file", &f("rsa.p8")]);
    // --hsm reaches the server (which keeps HSM protection for premium vaults)
    let hsm = cli.fails(&["import", "--name", "pem-hsm", "--pem-file", &f("rsa.p1"), "--hsm"]);
    assert!(hsm.contains("HSM"), "{hsm}");
    // another vault, by --vault-name
    assert!(cli.exec(&["vault", "create", "second"]).status.success());
    let rsa1 = cli.ok(&["import", "--vault-name", "second", "--name", "pem-rsa1", "--pem-file", &f("rsa.p1")]);
    assert_eq!(rsa8["key"]["n"], rsa1["key"]["n"]);
    assert!(kid(&rsa1).starts_with("https://second."), "{}", kid(&rsa1));
    sign_and_verify(cli, "pem-ec1", "ES256");
    sign_and_verify(cli, "pem-rsa8", "PS256");
    let pubkey = f("pub.pem");
    openssl(&["pkey", "-in", &f("rsa.p8"), "-pubout", "-out", &pubkey]);
    assert!(cli.fails(&["import", "--name", "pub", "--pem-file", &pubkey]).contains("not a private key"));
}
