//! Independent cross-check of `strongbox_crypto::shamir` against PyCryptodome's
//! `Crypto.Protocol.SecretSharing.Shamir` (same field, same encoding): shares split here combine
//! there, and shares split there combine here, for 16- and 32-byte secrets and several
//! thresholds. The Python interpreter with PyCryptodome is `STRONGBOX_PYCRYPTODOME_PYTHON`
//! (`scripts/test.sh` makes `target/pycryptodome-venv`); without it the test says SKIPPED, and
//! with it set but unusable it fails.
#![allow(clippy::print_stdout, reason = "prints SKIPPED notices")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::io::Write;
use std::process::{Command, Stdio};

use strongbox_crypto::shamir::{Share, combine, split};
use strongbox_types::SecretBytes;

/// Python helper: `split HEX K N` prints `idx:hex` lines; `combine` reads `idx:hex` lines and
/// prints the secret's hex. A multi-block secret is handled block by block, as in Rust.
const HELPER: &str = r#"
import sys
from Crypto.Protocol.SecretSharing import Shamir
mode = sys.argv[1]
if mode == "split":
    secret, k, n = bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    out = {i: b"" for i in range(1, n + 1)}
    for b in range(0, len(secret), 16):
        for idx, share in Shamir.split(k, n, secret[b:b + 16]):
            out[idx] += share
    for idx, v in out.items():
        print(f"{idx}:{v.hex()}")
else:
    shares = [(int(i), bytes.fromhex(h)) for i, h in (l.strip().split(":") for l in sys.stdin if l.strip())]
    length = len(shares[0][1])
    secret = b"".join(Shamir.combine([(i, v[b:b + 16]) for i, v in shares]) for b in range(0, length, 16))
    print(secret.hex())
"#;

fn python() -> Option<String> {
    std::env::var("STRONGBOX_PYCRYPTODOME_PYTHON").ok().filter(|p| !p.is_empty())
}

fn run(py: &str, args: &[&str], input: &str) -> String {
    let mut child = Command::new(py)
        .arg("-c")
        .arg(HELPER)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "PyCryptodome helper failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn shares_interoperate_with_pycryptodome() {
    let Some(py) = python() else {
        println!("SKIPPED: STRONGBOX_PYCRYPTODOME_PYTHON not set — Shamir not cross-checked against PyCryptodome");
        return;
    };
    for (len, k, n) in [(16usize, 2u8, 3u8), (32, 3, 5), (32, 5, 5), (48, 1, 2), (32, 4, 9)] {
        let secret: Vec<u8> = (0..len).map(|_| strongbox_crypto::random_array::<1>().unwrap()[0]).collect();
        // ours -> PyCryptodome, using the last k shares
        let ours = split(&secret, k, n).unwrap();
        let lines: String = ours
            .iter()
            .rev()
            .take(usize::from(k))
            .map(|s| format!("{}:{}\n", s.index, strongbox_crypto::hex(s.value.expose())))
            .collect();
        assert_eq!(run(&py, &["combine"], &lines).trim(), strongbox_crypto::hex(&secret), "ours→theirs {len}/{k}/{n}");
        // PyCryptodome -> ours, using the first k shares
        let theirs = run(&py, &["split", &strongbox_crypto::hex(&secret), &k.to_string(), &n.to_string()], "");
        let shares: Vec<Share> = theirs
            .lines()
            .take(usize::from(k))
            .map(|l| {
                let (i, h) = l.split_once(':').unwrap();
                Share { index: i.parse().unwrap(), value: SecretBytes::new(strongbox_crypto::unhex(h).unwrap()) }
            })
            .collect();
        assert_eq!(combine(&shares).unwrap().expose(), secret.as_slice(), "theirs→ours {len}/{k}/{n}");
    }
    println!("shamir: 5 splits each way agree with PyCryptodome");
}
