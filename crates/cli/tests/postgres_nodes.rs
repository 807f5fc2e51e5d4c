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
use std::process::Command;
use std::time::Duration;

use common::{
    Node, bootstrap_token, copy_node_files, free_port, https_client, read_boot, server_on as server, spawn_server,
    value_of, write_until_gone,
};
use serde_json::{Value, json};
use strongbox_storage_postgres::testing::with_fresh_db;

/// `url` (of the shared public port) aimed at the node listening on `port`: reqwest's `resolve`
/// keeps the URL's port, so each node is reached by its own port in the URL.
fn at(url: &str, public: u16, port: u16) -> String {
    url.replacen(&format!(":{public}/"), &format!(":{port}/"), 1)
}

/// Two nodes on the database `url`: A starts first, B joins with a copy of A's files; both
/// use A's port as the public port, so one token serves both.
struct Pair {
    a: Node,
    b: Node,
    dir_a: std::path::PathBuf,
    dir_b: std::path::PathBuf,
    port_a: u16,
    port_b: u16,
    boot: Value,
    vault: String,
    http_a: reqwest::Client,
    http_b: reqwest::Client,
    token: String,
}

async fn two_nodes(url: &str, root: &Path, extra: &[&str]) -> Pair {
    let (dir_a, dir_b) = (root.join("a"), root.join("b"));
    let (port_a, port_b) = (free_port(), free_port());
    let public = port_a.to_string();
    let flags = |name: &'static str| [&["--public-port", &public, "--node-name", name], extra].concat();
    let a = Node(spawn_server(server(url), &dir_a, port_a, &flags("node-a")));
    copy_node_files(&dir_a, &dir_b);
    let b = Node(spawn_server(server(url), &dir_b, port_b, &flags("node-b")));
    let boot = read_boot(&dir_a);
    let vault = boot["vault_url"].as_str().unwrap().to_owned();
    let (http_a, http_b) = (https_client(&boot, port_a), https_client(&boot, port_b));
    let token = bootstrap_token(&http_a, &boot).await;
    Pair { a, b, dir_a, dir_b, port_a, port_b, boot, vault, http_a, http_b, token }
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
        let Pair { a, b, dir_a, dir_b, port_a, port_b, boot, vault, http_a, http_b, token: tok } =
            two_nodes(&url, tmp.path(), &[]).await;
        assert!(!dir_a.join("strongbox.db").exists(), "a PostgreSQL node made a SQLite file");
        assert_eq!(read_boot(&dir_b)["client_id"], boot["client_id"], "node B made a second bootstrap administrator");
        // one token, issued by A, used on both nodes
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
        let Pair { mut a, b, port_a, port_b, vault, http_a, http_b, token: tok, .. } =
            two_nodes(&url, tmp.path(), &[]).await;
        let (acked, writers) = write_until_gone(&http_a, &vault, &tok, 8, "k");
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
            if r.status() != 200 || r.json::<Value>().await.unwrap()["value"] != value_of(name) {
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

/// `GET /_strongbox/health` of the node on `port`.
async fn health(http: &reqwest::Client, public: u16, port: u16) -> Value {
    let r = http.get(format!("https://localhost:{port}/_strongbox/health")).send().await.unwrap();
    assert_eq!(r.status(), 200, "health of the node on {port} (public port {public})");
    r.json().await.unwrap()
}

/// The `jobs` lease as the health answer shows it.
fn jobs_lease(h: &Value) -> Option<&Value> {
    h["leases"].as_array().and_then(|l| l.iter().find(|x| x["name"] == "jobs"))
}

/// Polls until the node on `port` holds the jobs lease; returns how long that took.
async fn until_holder(http: &reqwest::Client, public: u16, port: u16, within: Duration) -> Duration {
    let start = std::time::Instant::now();
    loop {
        let h = health(http, public, port).await;
        if jobs_lease(&h).is_some_and(|l| l["heldByThisNode"] == true) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "the node on {port} did not take the jobs lease within {within:?}: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_jobs_run_on_one_node_and_move_when_it_stops_or_dies() {
    with_fresh_db(|url| async move {
        let tmp = tempfile::tempdir().unwrap();
        let Pair { a, b, dir_a, port_a, port_b, boot, http_a, http_b, .. } =
            two_nodes(&url, tmp.path(), &["--jobs-interval", "1s"]).await;
        // one node takes the lease; after a few seconds only it has run the jobs
        let start = std::time::Instant::now();
        let holder = loop {
            let (ha, hb) = (health(&http_a, port_a, port_a).await, health(&http_b, port_a, port_b).await);
            let held = |h: &Value| jobs_lease(h).is_some_and(|l| l["heldByThisNode"] == true);
            assert!(!(held(&ha) && held(&hb)), "both nodes hold the jobs lease: {ha} {hb}");
            if held(&ha) || held(&hb) {
                break if held(&ha) { 'a' } else { 'b' };
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no node took the jobs lease: {ha} {hb}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (ha, hb) = (health(&http_a, port_a, port_a).await, health(&http_b, port_a, port_b).await);
        assert_eq!(ha["storage"], "postgres");
        assert_eq!((ha["node"]["name"].as_str(), hb["node"]["name"].as_str()), (Some("node-a"), Some("node-b")));
        let (held_h, other_h) = if holder == 'a' { (&ha, &hb) } else { (&hb, &ha) };
        assert!(held_h["jobRuns"].as_u64().unwrap() >= 3, "the holder barely ran the jobs: {held_h}");
        assert_eq!(other_h["jobRuns"], 0, "the node without the lease ran the jobs: {other_h}");
        assert_eq!(jobs_lease(other_h).unwrap()["holder"], held_h["node"]["id"], "the nodes disagree on the holder");
        let term = jobs_lease(held_h).unwrap()["term"].as_u64().unwrap();
        // `strongbox status` over both nodes: one holds the lease
        let addresses = format!("https://localhost:{port_a},https://localhost:{port_b}");
        let ca = boot["ca_file"].as_str().unwrap();
        let status = |output: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
                .args(["status", "--address", &addresses, "--ca-file", ca, "--output", output])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let table = status("table");
        let holders: Vec<&str> = table.lines().filter(|l| l.contains(&format!("jobs (term {term})"))).collect();
        assert_eq!(holders.len(), 1, "{table}");
        assert!(
            holders[0].contains(if holder == 'a' { "node-a" } else { "node-b" }) && holders[0].contains("read-write"),
            "{table}"
        );
        let json: Value = serde_json::from_str(&status("json")).unwrap();
        assert_eq!(json.as_array().map(Vec::len), Some(2), "{json}");
        assert!(
            json.as_array().unwrap().iter().all(|n| n["storage"] == "postgres" && n["httpStatus"] == 200),
            "{json}"
        );

        // a clean stop (SIGTERM) gives the lease up: the other node takes it at its next check
        let (mut stopping, survivor, s_http, s_port) =
            if holder == 'a' { (a, b, &http_b, port_b) } else { (b, a, &http_a, port_a) };
        common::terminate(&mut stopping.0);
        let handover = until_holder(s_http, port_a, s_port, Duration::from_secs(5)).await;
        // a stopped node: `strongbox status` says so and exits non-zero
        let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
            .args(["status", "--address", &addresses, "--ca-file", ca])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success() && text.contains("unreachable"), "{text}");
        let h = health(s_http, port_a, s_port).await;
        assert_eq!(jobs_lease(&h).unwrap()["term"].as_u64(), Some(term + 1), "{h}");

        // a third node joins; kill -9 of the holder hands the lease over after its expiry
        let (dir_c, port_c) = (tmp.path().join("c"), free_port());
        copy_node_files(&dir_a, &dir_c);
        let public = port_a.to_string();
        let c = Node(spawn_server(
            server(&url),
            &dir_c,
            port_c,
            &["--public-port", &public, "--node-name", "node-c", "--jobs-interval", "1s"],
        ));
        let http_c = https_client(&boot, port_c);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(health(&http_c, port_a, port_c).await["jobRuns"], 0, "a joining node ran jobs it does not hold");
        let mut survivor = survivor;
        survivor.0.kill().unwrap();
        let _ = survivor.0.wait();
        let after_kill = until_holder(&http_c, port_a, port_c, Duration::from_secs(25)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let h = health(&http_c, port_a, port_c).await;
        assert_eq!(jobs_lease(&h).unwrap()["term"].as_u64(), Some(term + 2), "{h}");
        assert!(h["jobRuns"].as_u64().unwrap() >= 1, "the new holder does not run the jobs: {h}");
        drop(c);
        eprintln!(
            "postgres nodes: jobs lease on one node; handed over {} ms after a clean stop, {} ms after kill -9",
            handover.as_millis(),
            after_kill.as_millis()
        );
    })
    .await;
}

/// Polls `probe` until it answers `want`; returns how long that took (panics after `within`).
async fn until_status<F, Fut>(what: &str, want: u16, within: Duration, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let start = std::time::Instant::now();
    loop {
        let got = probe().await;
        if got == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: still {got} after {within:?} (want {want})");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_and_credential_changes_on_one_node_apply_on_the_other_within_a_second() {
    with_fresh_db(|url| async move {
        let tmp = tempfile::tempdir().unwrap();
        let Pair { a, b, port_a, port_b, boot, vault, http_a, http_b, token: admin, .. } =
            two_nodes(&url, tmp.path(), &[]).await;
        let mgmt = |path: &str| format!("https://localhost:{port_a}/{path}");
        let on_b = |u: String| at(&u, port_a, port_b);
        http_a
            .put(format!("{vault}/secrets/shared?api-version=7.6"))
            .bearer_auth(&admin)
            .json(&json!({ "value": "v" }))
            .send()
            .await
            .unwrap();
        // an application, created through A; its token is taken from A
        let sp: Value = http_a
            .post(mgmt("_strongbox/serviceprincipals?api-version=7.6"))
            .bearer_auth(&admin)
            .json(&json!({ "displayName": "coherence-app" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (app, oid) = (sp["appId"].as_str().unwrap().to_owned(), sp["objectId"].as_str().unwrap().to_owned());
        let token_url = format!("{}/{}/oauth2/v2.0/token", boot["authority"].as_str().unwrap(), boot["tenant_id"].as_str().unwrap());
        let scope = format!("{}/.default", boot["resource"].as_str().unwrap());
        let tok: Value = http_a
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", app.as_str()),
                ("client_secret", sp["password"].as_str().unwrap()),
                ("scope", scope.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tok = tok["access_token"].as_str().unwrap().to_owned();
        let read_on_b = || {
            let (http_b, tok, u) = (http_b.clone(), tok.clone(), on_b(format!("{vault}/secrets/shared?api-version=7.6")));
            async move { http_b.get(u).bearer_auth(&tok).send().await.unwrap().status().as_u16() }
        };
        // B has the principal's status cached (authenticated, no role yet)
        assert_eq!(read_on_b().await, 403);

        // a role assignment made on A applies on B
        let assign = format!(
            "{vault}/providers/Microsoft.Authorization/roleAssignments/7d3c3a36-0d43-4a4c-9d57-3f1c1b0d2a11?api-version=7.6"
        );
        let r = http_a
            .put(&assign)
            .bearer_auth(&admin)
            .json(&json!({"properties": {
                "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6",
                "principalId": oid }}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let granted = until_status("role assignment seen on B", 200, Duration::from_secs(1), read_on_b).await;

        // the principal's only credential removed on A: its token is refused on B
        let creds: Value = http_a
            .get(mgmt(&format!("_strongbox/serviceprincipals/{app}/credentials?api-version=7.6")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cred = creds["value"][0]["keyId"].as_str().unwrap_or_else(|| panic!("no credential id: {creds}")).to_owned();
        let r = http_a
            .delete(mgmt(&format!("_strongbox/serviceprincipals/{app}/credentials/{cred}?api-version=7.6")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        let revoked = until_status("credential removal seen on B", 401, Duration::from_secs(1), read_on_b).await;
        drop((a, b));
        eprintln!(
            "postgres nodes: node B applied a role assignment made on A after {} ms, a credential removal after {} ms",
            granted.as_millis(),
            revoked.as_millis()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_prepares_the_schema_once_and_reports_the_deployment() {
    with_fresh_db(|url| async move {
        let tmp = tempfile::tempdir().unwrap();
        let init = |dir: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
                .env("STRONGBOX_LOG", "warn")
                .args(["server", "--init", "--storage", &url, "--data-dir"])
                .arg(tmp.path().join(dir))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let first = init("a");
        assert!(first.contains("schema version 1") && first.contains("holds no deployment yet"), "{first}");
        assert!(!tmp.path().join("a").join("seal.key").exists(), "--init created a deployment");
        let node = Node(spawn_server(server(&url), &tmp.path().join("a"), free_port(), &[]));
        drop(node);
        let again = init("b");
        assert!(again.contains("schema version 1") && again.contains("holds a deployment"), "{again}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyring_rotation_on_one_node_is_used_by_the_other_at_once() {
    with_fresh_db(|url| async move {
        let tmp = tempfile::tempdir().unwrap();
        let Pair { a, b, port_a, port_b, vault, http_a, http_b, token: tok, .. } =
            two_nodes(&url, tmp.path(), &["--jobs-interval", "1s"]).await;
        for i in 0..20 {
            let r = http_a
                .put(format!("{vault}/secrets/old-{i}?api-version=7.6"))
                .bearer_auth(&tok)
                .json(&json!({ "value": format!("old {i}") }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let keyring = |http: &reqwest::Client, port: u16| {
            let (http, tok) = (http.clone(), tok.clone());
            async move {
                let r = http
                    .get(format!("https://localhost:{port}/_strongbox/sys/keyring?api-version=7.6"))
                    .bearer_auth(&tok)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.json::<Value>().await.unwrap()
            }
        };
        assert_eq!(keyring(&http_b, port_b).await["activeTerm"], 1);
        let r = http_a
            .post(format!("https://localhost:{port_a}/_strongbox/sys/keyring/rotate?api-version=7.6"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let start = std::time::Instant::now();
        while keyring(&http_b, port_b).await["activeTerm"] != 2 {
            assert!(start.elapsed() < Duration::from_secs(1), "node B still writes under term 1 after 1 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let seen_after = start.elapsed();
        // B's next write is under term 2, as stored (the envelope's first 4 bytes)
        let r = http_b
            .put(at(&format!("{vault}/secrets/rotated?api-version=7.6"), port_a, port_b))
            .bearer_auth(&tok)
            .json(&json!({ "value": "v" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let out = Command::new("psql")
            .args([url.as_str(), "-Atc", "SELECT encode(substring(v from 1 for 4), 'hex') FROM kv WHERE k = convert_to('sec/default/rotated', 'UTF8')"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "00000002", "{}", String::from_utf8_lossy(&out.stderr));
        // the jobs-lease holder re-encrypts what term 1 wrote (all but the barrier's own
        // records and the lease fences), and the values read the same
        let old_rows = || {
            let out = Command::new("psql")
                .args([
                    url.as_str(),
                    "-Atc",
                    "SELECT count(*) FROM kv WHERE substring(v from 1 for 4) = '\\x00000001'::bytea \
                     AND k NOT LIKE 'sys/barrier/%' AND k NOT LIKE 'sys/lease/%'",
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse::<u64>().unwrap_or(u64::MAX)
        };
        assert!(old_rows() >= 20, "the secrets written before the rotation are under term 1");
        let start = std::time::Instant::now();
        while old_rows() != 0 {
            assert!(start.elapsed() < Duration::from_secs(20), "{} values still under term 1", old_rows());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let reencrypted_after = start.elapsed();
        for i in [0, 19] {
            let r: Value = http_b
                .get(at(&format!("{vault}/secrets/old-{i}?api-version=7.6"), port_a, port_b))
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(r["value"], format!("old {i}"));
        }
        eprintln!("postgres nodes: values of term 1 re-encrypted within {} ms", reencrypted_after.as_millis());
        drop((a, b));
        eprintln!("postgres nodes: node B used the rotated keyring term {} ms after node A rotated", seen_after.as_millis());
    })
    .await;
}
