//! `kill -9` of the server during a write loop loses no write that was acknowledged.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::time::Duration;

use common::{bootstrap_token, free_port, https_client, read_boot, spawn, value_of, write_until_gone};
use serde_json::Value;

async fn client_and_token(dir: &std::path::Path, port: u16) -> (reqwest::Client, String, String) {
    let boot = read_boot(dir);
    let http = https_client(&boot, port);
    let token = bootstrap_token(&http, &boot).await;
    (http, token, boot["vault_url"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let port = free_port();
    let mut child = spawn(&dir, port);
    let (http, token, vault) = client_and_token(&dir, port).await;

    let (acked, writers) = write_until_gone(&http, &vault, &token, 16, "w");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "the write loop barely ran ({} writes)", acked.len());

    let mut child = spawn(&dir, port);
    let (http, token, vault) = client_and_token(&dir, port).await;
    let mut lost = Vec::new();
    for name in &acked {
        let r = http.get(format!("{vault}/secrets/{name}?api-version=7.6")).bearer_auth(&token).send().await.unwrap();
        let ok = r.status() == 200 && r.json::<Value>().await.unwrap()["value"] == value_of(name);
        if !ok {
            lost.push(name.clone());
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost after kill -9: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(10)]
    );
    eprintln!("kill -9: all {} acknowledged writes present after restart", acked.len());
}
