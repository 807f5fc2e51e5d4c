//! Shared by the integration tests: start the real `strongbox` binary as a server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)] // test code

pub(crate) mod cluster;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the real binary and waits for its ready line.
pub(crate) fn spawn(dir: &std::path::Path, port: u16) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    c.env("STRONGBOX_LOG", "warn").stderr(Stdio::inherit());
    spawn_server(c, dir, port, &[])
}

/// Starts `server` (the binary, with the environment and stderr the caller set) as
/// `strongbox server` on `dir` and `port` with the `extra` flags, and waits for its ready line.
pub(crate) fn spawn_server(mut server: Command, dir: &std::path::Path, port: u16, extra: &[&str]) -> Child {
    let mut child = server
        .args(["server", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "server did not become ready");
        match lines.next() {
            Some(Ok(l)) if l.contains("ready") => break,
            Some(Ok(_)) => {}
            _ => panic!("server exited before it was ready"),
        }
    }
    // keep draining stdout so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    child
}

/// The `bootstrap.json` a server wrote in `dir`.
pub(crate) fn read_boot(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("bootstrap.json")).unwrap()).unwrap()
}

/// An HTTPS client trusting the bootstrap file's CA, with the default vault and `localhost`
/// resolved to 127.0.0.1 (reqwest's `resolve` keeps the URL's port).
pub(crate) fn https_client(boot: &serde_json::Value, port: u16) -> reqwest::Client {
    let ca = std::fs::read(boot["ca_file"].as_str().unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .resolve("default.vault.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A client-credentials token for the bootstrap administrator.
pub(crate) async fn bootstrap_token(http: &reqwest::Client, boot: &serde_json::Value) -> String {
    let url =
        format!("{}/{}/oauth2/v2.0/token", boot["authority"].as_str().unwrap(), boot["tenant_id"].as_str().unwrap());
    let scope = format!("{}/.default", boot["resource"].as_str().unwrap());
    let r: serde_json::Value = http
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

/// The value the write loop stores in secret `name`.
pub(crate) fn value_of(name: &str) -> String {
    format!("value-of-{name}")
}

/// Starts `writers` tasks that PUT new secrets `{prefix}{w}-{i}` into `vault` until a request
/// fails (the server is gone); the names answered 200 are collected in the returned list.
pub(crate) fn write_until_gone(
    http: &reqwest::Client,
    vault: &str,
    token: &str,
    writers: usize,
    prefix: &str,
) -> (std::sync::Arc<std::sync::Mutex<Vec<String>>>, Vec<tokio::task::JoinHandle<()>>) {
    let acked: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let tasks = (0..writers)
        .map(|w| {
            let (http, token, vault, acked, prefix) =
                (http.clone(), token.to_owned(), vault.to_owned(), acked.clone(), prefix.to_owned());
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("{prefix}{w}-{i}");
                    let r = http
                        .put(format!("{vault}/secrets/{name}?api-version=7.6"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({ "value": value_of(&name) }))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => acked.lock().unwrap().push(name),
                        _ => break,
                    }
                }
            })
        })
        .collect();
    (acked, tasks)
}

/// Stops a server as a service manager does (SIGTERM) and waits for it to exit, so that it
/// finishes its requests and writes its queued log lines; SIGKILL after 10 s.
pub(crate) fn terminate(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A server process, killed when the test ends or fails (its inherited stderr would otherwise
/// keep the test's output open).
pub(crate) struct Node(pub(crate) Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary (quiet log, stderr inherited) on the storage `url`, for [`spawn_server`].
pub(crate) fn server_on(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    c.env("STRONGBOX_LOG", "warn").env("STRONGBOX_STORAGE", url).stderr(Stdio::inherit());
    c
}

/// A joining node's data folder: the first node's seal key, CA and bootstrap file, no database.
pub(crate) fn copy_node_files(from: &std::path::Path, to: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for f in ["seal.key", "ca.pem", "ca-key.pem", "bootstrap.json"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
}
