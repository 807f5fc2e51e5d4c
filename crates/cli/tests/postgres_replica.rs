//! A secondary region on a PostgreSQL streaming replica: the test makes its own primary cluster
//! and a standby of it (`initdb`, `pg_basebackup -R`, two ports), runs a node on each, checks
//! that the `--read-only` node on the standby serves reads and answers writes 503 naming the
//! primary, then loses the primary, promotes the standby (`pg_ctl promote`) and sends SIGHUP:
//! the node then takes writes. This is the runbook of `docs/deploy.md` ("Secondary region"),
//! step by step.
//!
//! Needs PostgreSQL's server programs (`initdb`, `pg_ctl`, `pg_basebackup`: `pg_config --bindir`,
//! `/usr/lib/postgresql/*/bin`, or `STRONGBOX_PG_BINDIR`); says SKIPPED without them unless `STRONGBOX_REQUIRE_POSTGRES=1`.
//! As root (CI here) the clusters run as the `postgres` user, through `runuser`.
#![allow(
    clippy::indexing_slicing,
    reason = "integration test: indexes into responses whose shape it has just asserted"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::{Cluster, clusters_root, pg};
use common::{Node, bootstrap_token, copy_node_files, free_port, https_client, read_boot, server_on, spawn_server};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_node_on_a_standby_serves_reads_and_takes_writes_after_promotion() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((bin, pgroot)) = clusters_root(tmp.path()) else { return };

    // 1. the primary region's database, and a deployment on it
    let mut primary = Cluster::init(&bin, &pgroot, "primary");
    primary.start();
    primary.sql("postgres", "CREATE DATABASE strongbox");
    let (dir_p, port_p) = (tmp.path().join("node-primary"), free_port());
    let public = port_p.to_string();
    let node_p = Node(spawn_server(
        server_on(&primary.url()),
        &dir_p,
        port_p,
        &["--public-port", &public, "--node-name", "primary"],
    ));
    let boot = read_boot(&dir_p);
    let vault = boot["vault_url"].as_str().unwrap().to_owned();
    let http_p = https_client(&boot, port_p);
    let tok = bootstrap_token(&http_p, &boot).await;
    let put = |http: &reqwest::Client, url: String, value: &str| {
        let (http, tok, value) = (http.clone(), tok.clone(), value.to_owned());
        async move {
            let r = http.put(url).bearer_auth(&tok).json(&json!({ "value": value })).send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            (status, retry, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for i in 0..5 {
        let (s, _, b) = put(&http_p, format!("{vault}/secrets/before-{i}?api-version=7.6"), &format!("v{i}")).await;
        assert_eq!(s, 200, "{b}");
    }

    let r = http_p
        .post(format!("{vault}/keys/signer/create?api-version=7.6"))
        .bearer_auth(&tok)
        .json(&json!({ "kty": "EC", "crv": "P-256" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // 2. the secondary region: a streaming standby, and a read-only node on it
    let mut standby = Cluster::new(&bin, &pgroot, "standby");
    pg(
        &bin,
        "pg_basebackup",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &primary.port.to_string(),
            "-U",
            "postgres",
            "-D",
            &standby.dir.to_string_lossy(),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
    );
    standby.start();
    assert_eq!(standby.sql("postgres", "SELECT pg_is_in_recovery()"), "t");
    let (dir_s, port_s) = (tmp.path().join("node-standby"), free_port());
    copy_node_files(&dir_p, &dir_s);
    // without --read-only a node refuses the standby
    let out = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .args(["server", "--storage", &standby.url(), "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(&dir_s)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("is a standby") && err.contains("--read-only"), "{err}");
    let primary_url = format!("https://vault.primary.example:{port_p}");
    let node_s = Node(spawn_server(
        server_on(&standby.url()),
        &dir_s,
        port_s,
        &["--public-port", &public, "--node-name", "secondary", "--read-only", "--primary-url", &primary_url],
    ));
    let http_s = https_client(&boot, port_s);
    let on_s = |u: String| u.replacen(&format!(":{port_p}/"), &format!(":{port_s}/"), 1);
    let get_s = |name: &str| {
        let (http, tok, url) = (http_s.clone(), tok.clone(), on_s(format!("{vault}/secrets/{name}?api-version=7.6")));
        async move {
            let r = http.get(url).bearer_auth(&tok).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // an application signs in on the standby's node too (issuing a token writes nothing)
    let mut boot_s = boot.clone();
    boot_s["authority"] = json!(format!("https://localhost:{port_s}"));
    let token_on_s = bootstrap_token(&http_s, &boot_s).await;
    let r = http_s
        .get(on_s(format!("{vault}/secrets/before-1?api-version=7.6")))
        .bearer_auth(&token_on_s)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a token issued by the standby's node");
    // reads, with the primary's token
    let (s, b) = get_s("before-3").await;
    assert_eq!((s, b["value"].as_str()), (200, Some("v3")), "{b}");
    // a new write on the primary streams over
    put(&http_p, format!("{vault}/secrets/streamed?api-version=7.6"), "fresh").await;
    let start = Instant::now();
    loop {
        let (s, b) = get_s("streamed").await;
        if s == 200 {
            assert_eq!(b["value"], "fresh");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the standby did not get the write: {s} {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let streamed_after = start.elapsed();
    // a key operation that writes nothing works; writes are refused, naming the primary
    let r = http_s
        .post(on_s(format!("{vault}/keys/signer/sign?api-version=7.6")))
        .bearer_auth(&tok)
        .json(&json!({ "alg": "ES256", "value": "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign on the standby node: {}", r.text().await.unwrap());
    let (s, retry, b) = put(&http_s, on_s(format!("{vault}/secrets/refused?api-version=7.6")), "x").await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(retry.as_deref(), Some("2"));
    assert_eq!(b["error"]["code"], "ServiceUnavailable");
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains("read-only") && msg.contains(&primary_url), "{msg}");
    let h: Value =
        http_s.get(format!("https://localhost:{port_s}/_strongbox/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!((h["role"].as_str(), h["primary"].as_str()), (Some("read-only"), Some(primary_url.as_str())), "{h}");
    tokio::time::sleep(Duration::from_secs(3)).await; // the lag is measured every 2 s
    let h: Value =
        http_s.get(format!("https://localhost:{port_s}/_strongbox/health")).send().await.unwrap().json().await.unwrap();
    assert!(h["replicationLagSeconds"].as_f64().is_some_and(|l| l >= 0.0), "{h}");
    assert_eq!(h["jobRuns"], 0, "a read-only node ran jobs: {h}");

    // 3. the primary region is lost; the standby is promoted; SIGHUP makes the node read-write
    drop(node_p);
    primary.stop();
    pg(&bin, "pg_ctl", &["-D", &standby.dir.to_string_lossy(), "-w", "promote"]);
    assert_eq!(standby.sql("postgres", "SELECT pg_is_in_recovery()"), "f");
    let (s, _, _) = put(&http_s, on_s(format!("{vault}/secrets/still-refused?api-version=7.6")), "x").await;
    assert_eq!(s, 503, "promotion alone must not flip the node: the operator decides");
    assert!(Command::new("kill").args(["-HUP", &node_s.0.id().to_string()]).status().unwrap().success());
    let start = Instant::now();
    loop {
        let (s, _, b) = put(&http_s, on_s(format!("{vault}/secrets/after-promotion?api-version=7.6")), "written").await;
        if s == 200 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still refused after SIGHUP: {s} {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, b) = get_s("after-promotion").await;
    assert_eq!((s, b["value"].as_str()), (200, Some("written")));
    let h: Value =
        http_s.get(format!("https://localhost:{port_s}/_strongbox/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["role"], "read-write", "{h}");
    assert!(h.get("replicationLagSeconds").is_none(), "{h}");
    drop(node_s);
    standby.stop();
    eprintln!(
        "postgres replica: reads on the standby node, a primary write seen there after {} ms, writes 503 naming the primary; \
         promoted + SIGHUP: writable",
        streamed_after.as_millis()
    );
}
