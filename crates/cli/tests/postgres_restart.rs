//! PostgreSQL restarting under a write load, with two nodes on it: no acknowledged write is
//! lost, requests meanwhile get 503 with `Retry-After` (never 500), and both nodes recover by
//! themselves. The test makes its own cluster (`initdb`, `pg_ctl`) so that it can restart it;
//! like the replica test it needs PostgreSQL's server programs and says SKIPPED without them
//! unless `STRONGBOX_REQUIRE_POSTGRES=1`.
#![allow(
    clippy::indexing_slicing,
    reason = "integration test: indexes into responses whose shape it has just asserted"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{Cluster, clusters_root};
use common::{
    Node, bootstrap_token, copy_node_files, free_port, https_client, read_boot, server_on as server, spawn_server,
    value_of,
};
use serde_json::{Value, json};

/// What the writers saw.
#[derive(Default)]
struct Seen {
    acked: Vec<String>,
    /// status → count, for everything but 200
    other: BTreeMap<u16, usize>,
    /// 503 answers without `Retry-After`
    no_retry_after: usize,
    /// 200s after the restart finished
    after: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_under_writes_loses_nothing_and_the_nodes_recover() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((bin, pgroot)) = clusters_root(tmp.path()) else { return };
    let mut db = Cluster::init(&bin, &pgroot, "db");
    db.start();
    db.sql("postgres", "CREATE DATABASE strongbox");

    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (port_a, port_b) = (free_port(), free_port());
    let public = port_a.to_string();
    let a = Node(spawn_server(server(&db.url()), &dir_a, port_a, &["--public-port", &public]));
    copy_node_files(&dir_a, &dir_b);
    let b = Node(spawn_server(server(&db.url()), &dir_b, port_b, &["--public-port", &public]));
    let boot = read_boot(&dir_a);
    let vault = boot["vault_url"].as_str().unwrap().to_owned();
    let (http_a, http_b) = (https_client(&boot, port_a), https_client(&boot, port_b));
    let tok = bootstrap_token(&http_a, &boot).await;

    // 3 writers per node, each writing new secrets until told to stop
    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut writers = Vec::new();
    for (w, (http, port)) in [(&http_a, port_a), (&http_b, port_b)].into_iter().cycle().take(6).enumerate() {
        let (http, tok, vault, stop, restarted, seen) =
            (http.clone(), tok.clone(), vault.clone(), stop.clone(), restarted.clone(), seen.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("w{w}-{i}");
                let url = vault.replacen(&format!(":{port_a}"), &format!(":{port}"), 1);
                let r = http
                    .put(format!("{url}/secrets/{name}?api-version=7.6"))
                    .bearer_auth(&tok)
                    .json(&json!({ "value": value_of(&name) }))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("the node on {port} dropped a request: {e}"));
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                let ok = status == 200;
                {
                    let mut s = seen.lock().unwrap();
                    if ok {
                        s.acked.push(name);
                        if restarted.load(Ordering::Relaxed) {
                            s.after += 1;
                        }
                    } else {
                        *s.other.entry(status).or_default() += 1;
                        if status == 503 && !retry_after {
                            s.no_retry_after += 1;
                        }
                    }
                }
                if !ok {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = seen.lock().unwrap().acked.len();
    // a clean restart (fast shutdown), then a crash (immediate: recovery from the WAL)
    let mut rounds = Vec::new();
    for mode in ["fast", "immediate"] {
        restarted.store(false, Ordering::Relaxed);
        seen.lock().unwrap().after = 0;
        let t = Instant::now();
        db.restart(mode);
        let restart_took = t.elapsed();
        restarted.store(true, Ordering::Relaxed);
        // both nodes take writes again by themselves
        let start = Instant::now();
        loop {
            if seen.lock().unwrap().after >= 60 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the nodes did not recover within 30 s of a {mode} restart"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        rounds.push(format!(
            "{mode}: restart {} ms, writes again {} ms after",
            restart_took.as_millis(),
            start.elapsed().as_millis()
        ));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let s = std::mem::take(&mut *seen.lock().unwrap());
    assert!(before > 20, "the write load barely ran before the restart ({before} writes)");
    let unexpected: Vec<_> = s.other.iter().filter(|(code, _)| **code != 503).collect();
    assert!(unexpected.is_empty(), "answers other than 200 and 503 during the restart: {unexpected:?}");
    assert_eq!(s.no_retry_after, 0, "503 answers without Retry-After");
    // every acknowledged write is there, read through either node
    let mut lost = Vec::new();
    for (i, name) in s.acked.iter().enumerate() {
        let (http, port) = if i % 2 == 0 { (&http_a, port_a) } else { (&http_b, port_b) };
        let url = vault.replacen(&format!(":{port_a}"), &format!(":{port}"), 1);
        let r = http.get(format!("{url}/secrets/{name}?api-version=7.6")).bearer_auth(&tok).send().await.unwrap();
        if r.status() != 200 || r.json::<Value>().await.unwrap()["value"] != value_of(name) {
            lost.push(name.clone());
        }
    }
    assert!(lost.is_empty(), "{} of {} acknowledged writes missing: {lost:?}", lost.len(), s.acked.len());
    drop((a, b));
    db.stop();
    eprintln!(
        "postgres restart: {} acknowledged writes ({before} before the first restart), all read back; answers other \
         than 200: {:?}; {}",
        s.acked.len(),
        s.other,
        rounds.join("; ")
    );
}
