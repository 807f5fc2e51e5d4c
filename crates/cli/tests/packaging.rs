//! The packaging files (`packaging/`) against the real binary: the example settings file is read
//! by `--config` with every key it sets, and the systemd unit's command line is one the binary
//! accepts; the unit passes `systemd-analyze verify` and its security review where that tool is
//! installed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

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

/// A `key = value` line (not prose that happens to hold ` = `).
fn is_setting(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

/// The keys the example file sets (lines `key = value` that are not comments).
fn keys_set(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && is_setting(l))
        .map(|l| l.split(" = ").next().unwrap().trim().to_owned())
        .collect()
}

#[test]
fn the_example_settings_file_is_read_whole() {
    let example = repo_file("packaging/strongbox.toml.example");
    let text = std::fs::read_to_string(&example).unwrap();
    let keys = keys_set(&text);
    assert!(keys.len() >= 10, "{keys:?}");
    let out = strongbox().args(["server", "--print-config", "--config"]).arg(&example).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for key in &keys {
        let line =
            stdout.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("{key}:\n{stdout}"));
        assert!(line.ends_with("  # file"), "{line}");
    }
    // and the commented-out examples are valid settings too, once uncommented
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if is_setting(rest) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let all = keys_set(&uncommented);
    assert!(all.len() > keys.len(), "{all:?}");
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("all.toml");
    std::fs::write(&f, uncommented).unwrap();
    let out = strongbox().args(["server", "--print-config", "--config"]).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for key in &all {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{key} = ")) && l.ends_with("  # file")),
            "{key}:\n{stdout}"
        );
    }
}

/// The unit file with its binary path replaced by the test binary.
fn unit_for_test(dir: &Path) -> (PathBuf, String) {
    let unit = std::fs::read_to_string(repo_file("packaging/systemd/strongbox.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/strongbox", env!("CARGO_BIN_EXE_strongbox"));
    let path = dir.join("strongbox.service");
    std::fs::write(&path, &unit).unwrap();
    (path, unit)
}

#[test]
fn the_units_command_line_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, unit) = unit_for_test(tmp.path());
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let mut words = exec.split_whitespace();
    let bin = words.next().unwrap();
    assert_eq!(bin, env!("CARGO_BIN_EXE_strongbox"));
    let args: Vec<String> = words
        .map(|w| {
            if w == "/etc/strongbox/strongbox.toml" {
                repo_file("packaging/strongbox.toml.example").display().to_string()
            } else {
                w.to_owned()
            }
        })
        .collect();
    assert!(args.iter().any(|a| a == "--config"), "{args:?}");
    let out = strongbox().args(&args).arg("--print-config").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // the state directory the unit creates is the data folder the settings name
    let state = unit.lines().find_map(|l| l.strip_prefix("StateDirectory=")).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("data_dir = \"/var/lib/{state}\"  # file")), "{stdout}");
    // SIGHUP reloads the certificate; the unit's reload sends it
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
}

#[test]
fn the_unit_passes_systemd_analyze() {
    let Some(tool) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].into_iter().find(|p| Path::new(p).exists())
    else {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = unit_for_test(tmp.path());
    let out = Command::new(tool).args(["verify", "--man=no"]).arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // an unknown or misspelt key is only a warning: any line naming the unit fails the test
    assert!(out.status.success() && !stderr.contains("strongbox.service"), "{stderr}");
    // the sandbox: systemd's exposure score (0 = locked down, 10 = unprotected) at most 2.0
    let out = Command::new(tool).args(["security", "--offline=yes", "--threshold=20"]).arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Overall exposure level"), "{text}");
}
