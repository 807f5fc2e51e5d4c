//! The one-way dependency rule of DESIGN.md §2, checked from `cargo metadata`: a new edge that
//! points the wrong way fails this test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Which workspace crates each crate may depend on (normal dependencies; dev-dependencies are
/// free), and third-party crates it must not use.
fn rules() -> BTreeMap<&'static str, (Vec<&'static str>, Vec<&'static str>)> {
    BTreeMap::from([
        ("strongbox-types", (vec![], vec!["tokio", "axum", "sqlx"])),
        ("strongbox-authz", (vec![], vec!["tokio", "axum", "sqlx"])),
        ("strongbox-crypto", (vec!["strongbox-types"], vec!["tokio", "axum", "sqlx"])),
        ("strongbox-storage", (vec![], vec!["axum"])),
        ("strongbox-storage-sqlite", (vec!["strongbox-storage"], vec!["axum"])),
        ("strongbox-storage-postgres", (vec!["strongbox-storage"], vec!["axum"])),
        ("strongbox-wire", (vec!["strongbox-types", "strongbox-crypto"], vec!["axum", "sqlx", "tokio"])),
        ("strongbox-barrier", (vec!["strongbox-types", "strongbox-crypto", "strongbox-storage"], vec!["axum", "sqlx"])),
        (
            "strongbox-identity",
            (
                vec!["strongbox-types", "strongbox-crypto", "strongbox-barrier"],
                vec!["axum", "hyper", "sqlx", "reqwest", "tokio"],
            ),
        ),
        (
            "strongbox-core",
            (
                vec![
                    "strongbox-types",
                    "strongbox-crypto",
                    "strongbox-barrier",
                    "strongbox-authz",
                    "strongbox-identity",
                ],
                vec!["axum", "hyper", "sqlx", "reqwest"],
            ),
        ),
        (
            "strongbox-api",
            (
                vec![
                    "strongbox-types",
                    "strongbox-crypto",
                    "strongbox-wire",
                    "strongbox-core",
                    "strongbox-identity",
                    "strongbox-authz",
                ],
                vec!["sqlx", "cryptoki"],
            ),
        ),
    ])
}

#[test]
fn dependencies_point_one_way() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = rules();
    let mut seen = BTreeSet::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let Some((allowed, banned)) = rules.get(name) else { continue };
        seen.insert(name);
        for dep in pkg["dependencies"].as_array().unwrap() {
            if !dep["kind"].is_null() {
                continue; // dev and build dependencies do not shape the architecture
            }
            let d = dep["name"].as_str().unwrap();
            if d.starts_with("strongbox-") {
                assert!(allowed.contains(&d), "forbidden edge: {name} -> {d}");
            }
            assert!(!banned.contains(&d), "forbidden dependency: {name} -> {d}");
        }
    }
    assert_eq!(seen.len(), rules.len(), "a layered crate is missing from the workspace: saw {seen:?}");
}

#[test]
fn banned_crates_are_not_in_the_tree() {
    // RUSTSEC-2023-0071 (rsa), RUSTSEC-2025-0134 (rustls-pemfile), unmaintained sharks, and a
    // second crypto stack (ring, OpenSSL). `cargo tree -i` prints nothing when a crate is absent
    // from the build graph (Cargo.lock may still list optional dependencies that are never built).
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for banned in ["rsa", "rustls-pemfile", "ring", "openssl-sys", "sharks"] {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["tree", "--offline", "--target", "all", "-e", "normal,build,dev", "-i", banned])
            .current_dir(root)
            .output()
            .expect("cargo tree runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.trim().is_empty(), "{banned} is in the dependency graph:\n{stdout}");
    }
}
