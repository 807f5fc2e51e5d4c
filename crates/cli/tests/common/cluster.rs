//! PostgreSQL clusters made by a test (`initdb`, `pg_ctl`, `pg_basebackup`): for the replica and
//! restart tests, which must not touch the machine's own server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// PostgreSQL's server programs, or `None` when they are not installed.
pub(crate) fn bindir() -> Option<PathBuf> {
    let dir = std::env::var_os("STRONGBOX_PG_BINDIR").map(PathBuf::from).or_else(|| {
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    });
    // Debian: /usr/lib/postgresql/{version}/bin, the newest
    let dir = dir.filter(|d| d.join("initdb").is_file()).or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").is_file())
            .collect();
        found.sort_by_key(|d| d.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
        found.pop()
    })?;
    ["initdb", "pg_ctl", "pg_basebackup", "psql"].iter().all(|p| dir.join(p).is_file()).then_some(dir)
}

pub(crate) fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL program, run as `postgres` when we are root (the server refuses to run as root).
pub(crate) fn pg(bin: &Path, prog: &str, args: &[&str]) -> std::process::Output {
    let path = bin.join(prog);
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&path);
        c
    } else {
        Command::new(&path)
    };
    let out = c.args(args).stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{prog} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A cluster of this test, stopped (immediately) when the test ends or fails.
pub(crate) struct Cluster {
    pub(crate) bin: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    running: bool,
}

impl Cluster {
    /// A cluster folder `name` under `root` (not created), on a free port.
    pub(crate) fn new(bin: &Path, root: &Path, name: &str) -> Self {
        Self { bin: bin.to_owned(), dir: root.join(name), port: super::free_port(), running: false }
    }

    /// A new cluster made by `initdb` (superuser `postgres`, trust authentication).
    pub(crate) fn init(bin: &Path, root: &Path, name: &str) -> Self {
        let c = Self::new(bin, root, name);
        pg(bin, "initdb", &["-D", &c.dir.to_string_lossy(), "-U", "postgres", "--auth=trust", "--no-sync"]);
        c
    }

    /// A fast shutdown and a start on the same port (what a package upgrade or a restart does).
    pub(crate) fn restart(&mut self, mode: &str) {
        pg(&self.bin, "pg_ctl", &["-D", &self.dir.to_string_lossy(), "-m", mode, "-w", "stop"]);
        self.running = false;
        self.start();
    }

    pub(crate) fn start(&mut self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.parent().unwrap().display()
        );
        let log = self.dir.parent().unwrap().join(format!("pg-{}.log", self.port));
        pg(
            &self.bin,
            "pg_ctl",
            &["-D", &self.dir.to_string_lossy(), "-l", &log.to_string_lossy(), "-o", &opts, "-w", "start"],
        );
        self.running = true;
    }
    pub(crate) fn stop(&mut self) {
        if self.running {
            pg(&self.bin, "pg_ctl", &["-D", &self.dir.to_string_lossy(), "-m", "immediate", "-w", "stop"]);
            self.running = false;
        }
    }
    pub(crate) fn sql(&self, db: &str, query: &str) -> String {
        let out = pg(
            &self.bin,
            "psql",
            &["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-Atc", query],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/strongbox", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.dir.to_string_lossy(), "-m", "immediate", "stop"])
                .output();
            let _ = Command::new(self.bin.join("pg_ctl"))
                .args(["-D", &self.dir.to_string_lossy(), "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// PostgreSQL's server programs and a folder for this test's clusters (owned by `postgres` when
/// we are root), inside `tmp`; `None` (after saying SKIPPED) when the programs are missing and
/// `STRONGBOX_REQUIRE_POSTGRES` is not 1.
pub(crate) fn clusters_root(tmp: &Path) -> Option<(PathBuf, PathBuf)> {
    use std::os::unix::fs::PermissionsExt;
    let Some(bin) = bindir() else {
        assert!(
            std::env::var("STRONGBOX_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) not found and STRONGBOX_REQUIRE_POSTGRES=1"
        );
        eprintln!("SKIPPED: PostgreSQL's server programs not found (pg_config --bindir, STRONGBOX_PG_BINDIR)");
        return None;
    };
    let root = tmp.join("pg");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        assert!(Command::new("chown").args(["postgres:postgres"]).arg(&root).status().unwrap().success());
    }
    Some((bin, root))
}
