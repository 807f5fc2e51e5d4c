//! Several `strongbox server` processes on one PostgreSQL database (`--storage postgres://…`):
//! what one node writes the other reads, a token issued by one is accepted by the other, and a
//! node without the first node's seal key refuses to start. Needs PostgreSQL
//! (`STRONGBOX_TEST_POSTGRES_URL`); says SKIPPED without it unless `STRONGBOX_REQUIRE_POSTGRES=1`.
#![allow(
    clippy::indexing_slicing,
    reason = "integration test: indexes into responses whose shape it has just asserted"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, spawn_server};
use serde_json::{Value, json};
use strongbox_storage_postgres::testing::with_fresh_db;

/// A server process, killed when the test ends or fails.
struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    c.env("STRONGBOX_LOG", "warn").env("STRONGBOX_STORAGE", url).stderr(Stdio::inherit());
    c
}

/// A client for the node on `port`, using the URLs of `bootstrap.json` (which name the public
/// port all nodes share).
async fn client(boot: &Value, port: u16) -> reqwest::Client {
    let ca = std::fs::read(boot["ca_file"].as_str().unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .resolve("default.vault.localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn token(http: &reqwest::Client, boot: &Value) -> String {
    let url =
        format!("{}/{}/oauth2/v2.0/token", boot["authority"].as_str().unwrap(), boot["tenant_id"].as_str().unwrap());
    let scope = format!("{}/.default", boot["resource"].as_str().unwrap());
    let r: Value = http
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", boot["client_id"].as_str().unwrap()),
            ("client_secret", boot["client_secret"].as_str().unwrap()),
            ("scope", &scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().unwrap_or_else(|| panic!("no token: {r}")).to_owned()
}

/// `url` (of the shared public port) aimed at the node listening on `port`: reqwest's `resolve`
/// keeps the URL's port, so each node is reached by its own port in the URL.
fn at(url: &str, public: u16, port: u16) -> String {
    url.replacen(&format!(":{public}/"), &format!(":{port}/"), 1)
}

fn read_boot(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("bootstrap.json")).unwrap()).unwrap()
}

/// A joining node's data folder: the first node's seal key, CA and bootstrap file, no database.
fn copy_node_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for f in ["seal.key", "ca.pem", "ca-key.pem", "bootstrap.json"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}

/// Starts a node that must refuse to start; returns its stderr.
fn refused(url: &str, dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .env("STRONGBOX_LOG", "warn")
        .args(["server", "--storage", url, "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_ne!(out.status.code(), Some(0), "the node started: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_one_database_share_data_tokens_and_the_seal() {
    with_fresh_db(|url| async move {
        let tmp = tempfile::tempdir().unwrap();
        let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
        let (port_a, port_b) = (free_port(), free_port());
        let public = port_a.to_string();
        let a = Node(spawn_server(server(&url), &dir_a, port_a, &["--public-port", &public]));
        assert!(!dir_a.join("strongbox.db").exists(), "a PostgreSQL node made a SQLite file");
        copy_node_files(&dir_a, &dir_b);
        let b = Node(spawn_server(server(&url), &dir_b, port_b, &["--public-port", &public]));

        let boot = read_boot(&dir_a);
        assert_eq!(read_boot(&dir_b)["client_id"], boot["client_id"], "node B made a second bootstrap administrator");
        let vault = boot["vault_url"].as_str().unwrap().to_owned();
        let (http_a, http_b) = (client(&boot, port_a).await, client(&boot, port_b).await);
        // one token, issued by A, used on both nodes
        let tok = token(&http_a, &boot).await;
        for i in 0..20 {
            let ((writer, wport), (reader, rport)) = if i % 2 == 0 {
                ((&http_a, port_a), (&http_b, port_b))
            } else {
                ((&http_b, port_b), (&http_a, port_a))
            };
            let name = format!("shared-{i}");
            let r = writer
                .put(at(&format!("{vault}/secrets/{name}?api-version=7.6"), port_a, wport))
                .bearer_auth(&tok)
                .json(&json!({ "value": format!("value {i}") }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            let r = reader
                .get(at(&format!("{vault}/secrets/{name}?api-version=7.6"), port_a, rport))
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.json::<Value>().await.unwrap()["value"], format!("value {i}"));
        }
        // a vault created through B is served by A
        let r = http_b
            .put(at(&format!("{vault}/_strongbox/vaults/second?api-version=7.6"), port_a, port_b))
            .bearer_auth(&tok)
            .json(&json!({ "sku": "standard" }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "vault create on node B: {}", r.text().await.unwrap());
        let second = vault.replace("default.", "second.");
        let http_a2 = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(
                &std::fs::read(boot["ca_file"].as_str().unwrap()).unwrap(),
            )
            .unwrap()])
            .resolve("second.vault.localhost", SocketAddr::from(([127, 0, 0, 1], port_a)))
            .build()
            .unwrap();
        let r = http_a2.get(format!("{second}/secrets?api-version=7.6")).bearer_auth(&tok).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        drop((a, b));

        // a node with an empty data folder: no seal key, so it refuses and creates none
        let dir_c = tmp.path().join("c");
        std::fs::create_dir(&dir_c).unwrap();
        std::fs::set_permissions(&dir_c, std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = refused(&url, &dir_c);
        assert!(err.contains("seal key file") && err.contains("missing") && err.contains("first node"), "{err}");
        assert!(!dir_c.join("seal.key").exists(), "a joining node created a second seal key");
        // a node with another seal key: refused, the root key stays closed
        copy_node_files(&dir_a, &dir_c);
        std::fs::write(dir_c.join("seal.key"), format!("{}\n", "ab".repeat(32))).unwrap();
        std::fs::set_permissions(dir_c.join("seal.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = refused(&url, &dir_c);
        assert!(err.contains("does not open the root key"), "{err}");
        if let Some(pw) =
            url.split_once("://").and_then(|(_, r)| r.split_once('@')).and_then(|(u, _)| u.split_once(':')).map(|x| x.1)
        {
            assert!(!err.contains(pw), "the database password is in an error: {err}");
        }
        eprintln!("postgres nodes: 2 nodes shared 20 writes and one token; empty and wrong-seal nodes refused");
    })
    .await;
}

#[test]
fn a_read_cache_is_refused_on_a_shared_database() {
    let tmp = tempfile::tempdir().unwrap();
    // refused before any connection is tried: no database needed
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .args(["server", "--storage", "postgres://sb:hunter2@127.0.0.1:1/none", "--cache-entries", "100"])
        .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(tmp.path().join("d"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("--cache-entries") && !err.contains("hunter2"), "{err}");
    // an unreachable database: a clear error, the password not in it
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .args(["server", "--storage", "postgres://sb:hunter2@127.0.0.1:1/none"])
        .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(tmp.path().join("e"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("cannot open the PostgreSQL storage postgres://sb:***@127.0.0.1:1/none"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_node_under_writes_loses_nothing_and_the_other_serves_on() {
    with_fresh_db(|url| async move {
        let tmp = tempfile::tempdir().unwrap();
        let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
        let (port_a, port_b) = (free_port(), free_port());
        let public = port_a.to_string();
        let mut a = Node(spawn_server(server(&url), &dir_a, port_a, &["--public-port", &public]));
        copy_node_files(&dir_a, &dir_b);
        let b = Node(spawn_server(server(&url), &dir_b, port_b, &["--public-port", &public]));
        let boot = read_boot(&dir_a);
        let vault = boot["vault_url"].as_str().unwrap().to_owned();
        let (http_a, http_b) = (client(&boot, port_a).await, client(&boot, port_b).await);
        let tok = token(&http_a, &boot).await;

        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let mut writers = Vec::new();
        for w in 0..8 {
            let (http, tok, vault, acked) = (http_a.clone(), tok.clone(), vault.clone(), acked.clone());
            writers.push(tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("k{w}-{i}");
                    let r = http
                        .put(format!("{vault}/secrets/{name}?api-version=7.6"))
                        .bearer_auth(&tok)
                        .json(&json!({ "value": format!("v-{name}") }))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => acked.lock().unwrap().push(name),
                        _ => break, // node A is gone
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        a.0.kill().unwrap(); // SIGKILL
        let _ = a.0.wait();
        for w in writers {
            w.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(acked.len() > 20, "the write loop barely ran ({} writes)", acked.len());
        let mut lost = Vec::new();
        for name in &acked {
            let r = http_b
                .get(at(&format!("{vault}/secrets/{name}?api-version=7.6"), port_a, port_b))
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap();
            if r.status() != 200 || r.json::<Value>().await.unwrap()["value"] != format!("v-{name}") {
                lost.push(name.clone());
            }
        }
        assert!(lost.is_empty(), "{} of {} acknowledged writes missing on node B: {lost:?}", lost.len(), acked.len());
        let r = http_b
            .put(at(&format!("{vault}/secrets/after-kill?api-version=7.6"), port_a, port_b))
            .bearer_auth(&tok)
            .json(&json!({ "value": "still writable" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "node B after node A's kill -9: {}", r.text().await.unwrap());
        drop(b);
        eprintln!("postgres nodes: kill -9 of node A after {} acknowledged writes; all read on node B", acked.len());
    })
    .await;
}
