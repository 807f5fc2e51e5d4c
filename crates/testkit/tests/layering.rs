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

/// The top-level modules of one crate's `src` (a `name.rs` file or a `name/` folder), each with
/// the set of sibling modules its non-test code names through `crate::…`.
fn module_edges(src: &std::path::Path) -> BTreeMap<String, BTreeSet<String>> {
    fn files(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        if p.is_dir() {
            for e in std::fs::read_dir(p).unwrap() {
                files(&e.unwrap().path(), out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p.to_owned());
        }
    }
    let mut names = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        if stem != "lib" && stem != "main" && (p.is_dir() || p.extension().is_some_and(|x| x == "rs")) {
            let mut fs = Vec::new();
            files(&p, &mut fs);
            names.entry(stem).or_insert_with(Vec::new).extend(fs);
        }
    }
    let mut edges = BTreeMap::new();
    for (m, fs) in &names {
        let mut to = BTreeSet::new();
        for f in fs {
            let name = f.file_name().unwrap().to_string_lossy();
            if name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(f).unwrap();
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let target: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if target != *m && names.contains_key(&target) {
                    to.insert(target);
                }
            }
        }
        edges.insert(m.clone(), to);
    }
    edges
}

/// A reader following one module's imports should never come back to where they started:
/// within every crate, the graph of `crate::module` references between top-level modules
/// has no cycle (children of one folder may use each other through `super::`).
#[test]
fn no_import_circles_between_modules() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut circles = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let edges = module_edges(&src);
        // depth-first search for a back edge; report the path that closes the circle
        fn visit(
            m: &str,
            edges: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = path.iter().position(|p| p == m) {
                let mut c = path[at..].to_vec();
                c.push(m.to_owned());
                return Some(c);
            }
            if done.contains(m) {
                return None;
            }
            path.push(m.to_owned());
            for n in &edges[m] {
                if let Some(c) = visit(n, edges, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(m.to_owned());
            None
        }
        let mut done = BTreeSet::new();
        for m in edges.keys() {
            if let Some(c) = visit(m, &edges, &mut Vec::new(), &mut done) {
                circles.push(format!("{}: {}", src.display(), c.join(" -> ")));
                break;
            }
        }
    }
    assert!(circles.is_empty(), "import circles:\n{}", circles.join("\n"));
}
