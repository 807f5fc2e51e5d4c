//! Shared by the integration tests: start the real `strongbox` binary as a server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)] // test code

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
