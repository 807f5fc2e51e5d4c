//! What one access-log record costs: the same event as the server's (target `strongbox::access`,
//! the same fields), formatted by the same subscriber, written to stderr either directly (one
//! `write` per record) or through `strongbox_server::logwriter` (batched by a writer thread).
//! Run by `bench/access_log.sh`, which sends stderr to a file.
//!
//! `access_log MODE FORMAT [RECORDS]`: MODE `direct` | `queued`, FORMAT `text` | `json`.
//! Prints process CPU µs per record (all threads, from /proc/self/stat) and wall µs per record.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::Instant;

const THREADS: usize = 2;

fn cpu_ticks() -> u64 {
    // utime and stime are fields 14 and 15; the command name (field 2) may hold spaces
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    // after ')' the fields start at 3 (state), so utime and stime are the 12th and 13th
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("queued", String::as_str);
    let format = args.get(2).map_or("text", String::as_str);
    let records: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(400_000);
    let filter = tracing_subscriber::EnvFilter::new("info");
    let mut guard = None;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false);
    match (mode, format) {
        ("direct", "text") => builder.with_writer(std::io::stderr).init(),
        ("direct", _) => builder.json().with_writer(std::io::stderr).init(),
        (_, f) => {
            let (w, g) = strongbox_server::logwriter::queued_stderr();
            guard = Some(g);
            if f == "text" { builder.with_writer(w).init() } else { builder.json().with_writer(w).init() }
        }
    }
    let ticks0 = cpu_ticks();
    let t0 = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..records / THREADS {
                    let request_id = format!("{:08x}-{t}-{i}", 0x5eed_u32);
                    tracing::info!(
                        target: "strongbox::access",
                        %request_id,
                        method = "GET",
                        vault = "default",
                        operation = "GetSecret",
                        status = 200u16,
                        latency_us = 250u64,
                        caller = "7f0c2a6e-9a55-4c61-8d7b-2f1e1b5d3c44",
                        client = "127.0.0.1",
                        "request"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    drop(guard); // waits until every queued record is written
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_ticks() - ticks0) as f64 / 100.0; // USER_HZ is 100 on Linux
    let n = records as f64;
    println!(
        "{mode:6} {format:4}: {:6.2} µs CPU/record, {:6.2} µs wall/record ({records} records, {THREADS} threads)",
        cpu / n * 1e6,
        wall / n * 1e6
    );
}
