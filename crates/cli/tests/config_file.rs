//! `strongbox server --config FILE` and `--print-config` with the real binary: precedence
//! (flags > environment > file > defaults), errors that name the file and the setting, output
//! that reads back the same, redaction, and a server started from a file alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

/// The binary with no `STRONGBOX_*` variable of the parent's environment.
fn strongbox() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("STRONGBOX_") {
            c.env_remove(name);
        }
    }
    c
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    f
}

/// `strongbox server --print-config ARGS` with `env`; its stdout (it must succeed).
fn print_config(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = strongbox().args(["server", "--print-config"]).args(args).envs(env.iter().copied()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The line of `out` that sets `key`.
fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("no {key} in:\n{out}"))
}

/// The settings of `--print-config` output without the header and the source comments.
fn values(out: &str) -> Vec<&str> {
    out.lines().skip(2).map(|l| l.rsplit_once("  # ").map_or(l, |(v, _)| v)).collect()
}

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "strongbox.toml", "token_lifetime = 600\nlog_format = \"json\"\n");
    let file = f.to_str().unwrap();

    let out = print_config(&["--config", file], &[]);
    assert_eq!(line(&out, "token_lifetime"), "token_lifetime = 600  # file");
    assert_eq!(line(&out, "log_format"), "log_format = \"json\"  # file");
    assert_eq!(line(&out, "dns_suffix"), "dns_suffix = \"vault.localhost\"  # default");
    assert!(out.lines().any(|l| l == "# log_level: not set"), "{out}");
    assert!(out.contains(&format!("# configuration file: {file}\n")), "{out}");

    let env = [("STRONGBOX_TOKEN_LIFETIME", "900")];
    let out = print_config(&["--config", file], &env);
    assert_eq!(line(&out, "token_lifetime"), "token_lifetime = 900  # env STRONGBOX_TOKEN_LIFETIME");
    assert_eq!(line(&out, "log_format"), "log_format = \"json\"  # file");

    let out = print_config(&["--config", file, "--token-lifetime", "1200", "--log-format=text"], &env);
    assert_eq!(line(&out, "token_lifetime"), "token_lifetime = 1200  # flag");
    assert_eq!(line(&out, "log_format"), "log_format = \"text\"  # flag");

    // the file named by STRONGBOX_CONFIG
    let out = print_config(&[], &[("STRONGBOX_CONFIG", file)]);
    assert_eq!(line(&out, "token_lifetime"), "token_lifetime = 600  # file");

    // and without a file, the defaults
    let out = print_config(&[], &[]);
    assert_eq!(line(&out, "token_lifetime"), "token_lifetime = 3600  # default");
    assert!(out.contains("# no configuration file\n"), "{out}");
}

#[test]
fn bad_files_are_refused_with_the_file_and_the_setting_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        ("foo = 1\n", &["unknown setting 'foo' in"]),
        ("token_lifetime = \"600\"\n", &["setting 'token_lifetime' in", "must be an integer, not a string"]),
        ("pkcs11_offload = \"yes\"\n", &["setting 'pkcs11_offload' in", "must be true or false"]),
        ("token_lifetime = 5\n", &["setting 'token_lifetime' in", "invalid value '5'", "60..=86400"]),
        ("listen = [\"not-an-address\"]\n", &["setting 'listen' in", "invalid value 'not-an-address'"]),
        ("log_format = \"xml\"\n", &["setting 'log_format' in", "invalid value 'xml'"]),
        ("data_dir = \"d\"\ntoken_lifetime = \n", &["is not valid TOML at line 2, column"]),
        ("[server]\ndata_dir = \"d\"\n", &["'server' in", "is a table", "flat"]),
        ("config = \"other.toml\"\n", &["setting 'config' is not allowed"]),
    ];
    for (i, (text, wanted)) in cases.iter().enumerate() {
        let f = write(tmp.path(), &format!("bad-{i}.toml"), text);
        let out = strongbox().args(["server", "--print-config", "--config"]).arg(&f).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(out.stdout.is_empty(), "{text:?} printed a configuration");
        assert!(err.contains(f.to_str().unwrap()), "{text:?}: the file is not named: {err}");
        for w in *wanted {
            assert!(err.contains(w), "{text:?}: {w:?} missing from: {err}");
        }
    }
    let missing = tmp.path().join("missing.toml");
    let out = strongbox().args(["server", "--config"]).arg(&missing).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read the configuration file") && err.contains(missing.to_str().unwrap()), "{err}");
}

#[test]
fn printed_configuration_reads_back_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "listen = [\"127.0.0.1:9443\", \"[::1]:9443\"]\npkcs11_offload = true\n\
                trusted_proxy = [\"10.0.0.1\"]\nidle_timeout = \"2m\"\npublic_host = \"vault \\\"q\\\" host\"\n";
    let f = write(tmp.path(), "in.toml", text);
    let env = [("STRONGBOX_TOKEN_LIFETIME", "900"), ("STRONGBOX_LOG_FORMAT", "json")];
    let first = print_config(&["--config", f.to_str().unwrap(), "--cache-entries", "50"], &env);
    assert_eq!(line(&first, "cache_entries"), "cache_entries = 50  # flag");
    assert_eq!(line(&first, "listen"), "listen = [\"127.0.0.1:9443\", \"[::1]:9443\"]  # file");

    let again = write(tmp.path(), "printed.toml", &first);
    let second = print_config(&["--config", again.to_str().unwrap()], &[]);
    assert_eq!(values(&first), values(&second), "{first}\n---\n{second}");
    for l in second.lines().filter(|l| !l.starts_with('#')) {
        assert!(l.ends_with("  # file"), "not from the file: {l}");
    }
}

#[test]
fn secrets_are_redacted() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(tmp.path(), "s.toml", "authority_host = \"https://admin:hunter2-pw@auth.example/x\"\n");
    let pin = "pin-value-4711-never-printed";
    let out = print_config(&["--config", f.to_str().unwrap()], &[("STRONGBOX_PKCS11_PIN", pin)]);
    assert_eq!(line(&out, "authority_host"), "authority_host = \"https://admin:***@auth.example/x\"  # file");
    assert!(out.lines().any(|l| l == "# STRONGBOX_PKCS11_PIN: set (redacted)"), "{out}");
    assert!(!out.contains("hunter2-pw") && !out.contains(pin), "{out}");

    let out = print_config(&[], &[]);
    assert!(out.lines().any(|l| l == "# STRONGBOX_PKCS11_PIN: not set"), "{out}");
}

#[test]
fn a_server_runs_on_the_folder_and_address_of_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("from-file-data");
    let port = common::free_port();
    let text =
        format!("data_dir = {:?}\nlisten = [\"127.0.0.1:{port}\"]\nlog_level = \"warn\"\n", data.to_str().unwrap());
    let f = write(tmp.path(), "server.toml", &text);
    let mut child = strongbox()
        .args(["server", "--config"])
        .arg(&f)
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        assert!(Instant::now() < deadline, "server did not become ready");
        match lines.next() {
            Some(Ok(l)) if l.contains("ready") => break l,
            Some(Ok(_)) => {}
            _ => {
                let _ = child.wait();
                panic!("server exited before it was ready");
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let connected = std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5));
    let bootstrap = data.join("bootstrap.json").exists();
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready.contains(&format!("127.0.0.1:{port}")), "{ready}");
    assert!(connected.is_ok(), "nothing listens on {port}: {connected:?}");
    assert!(data.is_dir() && bootstrap, "the data folder of the file was not made");
    assert!(!tmp.path().join("strongbox-data").exists(), "the default data folder was used");
}

/// `--print-config` never starts a server: it makes no data folder.
#[test]
fn print_config_starts_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("never");
    let out: Output = strongbox()
        .args(["server", "--print-config", "--data-dir"])
        .arg(&data)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!data.exists() && !tmp.path().join("strongbox-data").exists());
}
