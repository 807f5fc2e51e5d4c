#!/usr/bin/env bash
# Cost of the access log per request: the server's access record formatted and written to a
# file, directly (one write per record) and through the batching writer the server uses.
# Alternating runs; figures in µs of CPU per record (all threads). Run by hand:
#   bash bench/access_log.sh            # 3 rounds of 400,000 records
#   ROUNDS=5 RECORDS=1000000 bash bench/access_log.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet -p strongbox-server --example access_log
bin="${CARGO_TARGET_DIR:-target}/release/examples/access_log"
out="${TMPDIR:-/tmp}/strongbox-access-log-bench.log"
for round in $(seq "${ROUNDS:-3}"); do
  for fmt in text json; do
    for mode in direct queued; do
      "$bin" "$mode" "$fmt" "${RECORDS:-400000}" 2>"$out"
      lines=$(wc -l <"$out")
      [ "$lines" -eq "${RECORDS:-400000}" ] || { echo "BENCHMARK FAILED: $lines lines written"; exit 1; }
    done
  done
done
rm -f "$out"
