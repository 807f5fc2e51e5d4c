//! `strongbox storage copy`: a deployment written on SQLite moves to PostgreSQL as stored, and
//! the same data folder's seal key opens it there. Needs PostgreSQL
//! (`STRONGBOX_TEST_POSTGRES_URL`); says SKIPPED without it unless `STRONGBOX_REQUIRE_POSTGRES=1`.
#![allow(clippy::indexing_slicing, reason = "integration test: indexes into responses whose shape it asserts")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::process::{Command, Output};

use common::{bootstrap_token, free_port, https_client, read_boot, server_on, spawn, spawn_server, terminate};
use serde_json::{Value, json};
use strongbox_storage_postgres::testing::with_fresh_db;

fn strongbox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strongbox")).env("STRONGBOX_LOG", "warn").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The digest `storage copy` printed.
fn digest(o: &Output) -> String {
    let t = text(o);
    t.split("SHA-256 ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no digest in: {t}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_copied_to_postgres_opens_with_its_seal_key() {
    with_fresh_db(|url| async move {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("node");
        // 1. a deployment on SQLite with some data
        let port = free_port();
        let mut sqlite_node = spawn(&dir, port);
        let boot = read_boot(&dir);
        let vault = boot["vault_url"].as_str().unwrap().to_owned();
        let http = https_client(&boot, port);
        let tok = bootstrap_token(&http, &boot).await;
        for i in 0..30 {
            let r = http
                .put(format!("{vault}/secrets/moved-{i}?api-version=7.6"))
                .bearer_auth(&tok)
                .json(&json!({ "value": format!("value {i}"), "tags": { "n": i.to_string() } }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = http
            .post(format!("{vault}/keys/moved-key/create?api-version=7.6"))
            .bearer_auth(&tok)
            .json(&json!({ "kty": "EC", "crv": "P-256" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let key: Value = r.json().await.unwrap();
        terminate(&mut sqlite_node);

        // 2. copied to the empty database, and back into a new SQLite file: the same digest
        let db = format!("sqlite:{}", dir.join("strongbox.db").display());
        let out = strongbox(&["storage", "copy", "--from", &db, "--to", &url]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("the copy matches"), "{}", text(&out));
        let back = format!("sqlite:{}", tmp.path().join("back.db").display());
        let out2 = strongbox(&["storage", "copy", "--from", &url, "--to", &back]);
        assert!(out2.status.success(), "{}", text(&out2));
        assert_eq!(digest(&out), digest(&out2), "the round trip changed the data");

        // 3. refusals: a non-empty destination, a missing source, one storage twice
        let again = strongbox(&["storage", "copy", "--from", &db, "--to", &url]);
        assert!(!again.status.success() && text(&again).contains("is not empty"), "{}", text(&again));
        let missing = format!("sqlite:{}", tmp.path().join("none.db").display());
        let gone = strongbox(&["storage", "copy", "--from", &missing, "--to", &back]);
        assert!(!gone.status.success() && text(&gone).contains("no such database file"), "{}", text(&gone));
        assert!(!tmp.path().join("none.db").exists(), "a missing source was created");
        let same = strongbox(&["storage", "copy", "--from", &db, "--to", &db]);
        assert!(!same.status.success() && text(&same).contains("the same storage"), "{}", text(&same));

        // 4. the same data folder (seal key, CA, bootstrap file) on PostgreSQL serves the data
        std::fs::remove_file(dir.join("strongbox.db")).unwrap();
        let port = free_port();
        let mut pg_node = spawn_server(server_on(&url), &dir, port, &[]);
        assert!(!dir.join("strongbox.db").exists(), "the PostgreSQL node used SQLite");
        let boot2 = read_boot(&dir);
        assert_eq!(boot2["client_id"], boot["client_id"], "a second bootstrap administrator was made");
        let http = https_client(&boot2, port);
        let tok = bootstrap_token(&http, &boot2).await;
        for i in [0, 17, 29] {
            let r: Value = http
                .get(format!("{}/secrets/moved-{i}?api-version=7.6", boot2["vault_url"].as_str().unwrap()))
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(
                (r["value"].as_str(), r["tags"]["n"].as_str()),
                (Some(format!("value {i}").as_str()), Some(i.to_string().as_str())),
                "{r}"
            );
        }
        let r: Value = http
            .get(format!("{}/keys/moved-key?api-version=7.6", boot2["vault_url"].as_str().unwrap()))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["key"]["x"], key["key"]["x"], "the key changed in the copy");
        terminate(&mut pg_node);
        eprintln!("storage copy: {}", text(&out).trim());
    })
    .await;
}
