//! The data folder: created 0700, refused when other users can enter it or own it, and the database with
//! SQLite's side files kept 0600 (also when an older start left them wider).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use strongbox_testkit::TestServer;
use strongbox_testkit::strongbox_server::{self, ServerConfig};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn db_files(data: &Path) -> Vec<std::path::PathBuf> {
    ["strongbox.db", "strongbox.db-wal", "strongbox.db-shm"]
        .iter()
        .map(|n| data.join(n))
        .filter(|p| p.exists())
        .collect()
}

#[tokio::test]
async fn a_new_data_folder_and_its_database_files_are_private() {
    let s = TestServer::start().await;
    // write something so that the WAL holds data
    let t = s.admin_token().await;
    let r = s
        .http
        .put(format!("{}/secrets/a?api-version=7.6", s.vault_url("default")))
        .bearer_auth(&t)
        .json(&serde_json::json!({"value": "v"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let data = s.dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    let files = db_files(&data);
    assert!(files.len() >= 2, "database and WAL expected: {files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

#[tokio::test]
async fn wider_database_files_from_an_earlier_start_are_restricted() {
    let s = TestServer::start().await;
    let dir = s.stop().await;
    let data = dir.path().join("data");
    for f in db_files(&data) {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let s = TestServer::start_in(dir, None).await;
    let data = s.dir.path().join("data");
    let files = db_files(&data);
    assert!(!files.is_empty());
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}

#[tokio::test]
async fn a_data_folder_other_users_can_enter_is_refused() {
    for m in [0o755, 0o750, 0o701] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(m)).unwrap();
        let mut cfg = ServerConfig::new(data.clone());
        cfg.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
        let err = strongbox_server::start(cfg).await.expect_err("started on a folder others can enter");
        let msg = format!("{err:#}");
        assert!(msg.contains("chmod 700") && msg.contains(&data.display().to_string()), "{msg}");
        // nothing was created in it
        assert!(!data.join("strongbox.db").exists());
        assert_eq!(mode(&data), m);
    }
}

#[tokio::test]
async fn a_data_folder_owned_by_another_user_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    // only root can give a folder away; elsewhere there is nothing to test
    if std::os::unix::fs::chown(&data, Some(65534), Some(65534)).is_err() {
        eprintln!("skipped: cannot chown (not root)");
        return;
    }
    assert_eq!(std::fs::metadata(&data).unwrap().uid(), 65534);
    let mut cfg = ServerConfig::new(data.clone());
    cfg.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    let err = strongbox_server::start(cfg).await.expect_err("started on a folder of another user");
    let msg = format!("{err:#}");
    assert!(msg.contains("belongs to another user") && msg.contains(&data.display().to_string()), "{msg}");
    assert!(!data.join("strongbox.db").exists());
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "the probe file was left behind");
}
