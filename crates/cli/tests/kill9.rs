//! `kill -9` of the server during a write loop loses no write that was acknowledged.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{free_port, spawn};
use serde_json::Value;

async fn client_and_token(dir: &std::path::Path, port: u16) -> (reqwest::Client, String, String) {
    let boot: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("bootstrap.json")).unwrap()).unwrap();
    let ca = std::fs::read(boot["ca_file"].as_str().unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .resolve("default.vault.localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token_url =
        format!("{}/{}/oauth2/v2.0/token", boot["authority"].as_str().unwrap(), boot["tenant_id"].as_str().unwrap());
    let scope = format!("{}/.default", boot["resource"].as_str().unwrap());
    let r: Value = http
        .post(token_url)
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
    let vault = boot["vault_url"].as_str().unwrap().to_owned();
    (http, r["access_token"].as_str().unwrap().to_owned(), vault)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let port = free_port();
    let mut child = spawn(&dir, port);
    let (http, token, vault) = client_and_token(&dir, port).await;

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..16 {
        let (http, token, vault, acked) = (http.clone(), token.clone(), vault.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{w}-{i}");
                let r = http
                    .put(format!("{vault}/secrets/{name}?api-version=7.6"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "value": format!("value-of-{name}") }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => acked.lock().unwrap().push(name),
                    _ => break, // the server is gone
                }
            }
        }));
    }
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
        let ok = r.status() == 200 && r.json::<Value>().await.unwrap()["value"] == format!("value-of-{name}");
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
