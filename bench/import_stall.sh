#!/usr/bin/env bash
# Certificate import stall benchmark — run by hand, NOT part of CI. See bench/README.md.
#
#   bash bench/import_stall.sh                                   # release build
#   BENCH_BIN=target/debug/strongbox bash bench/import_stall.sh  # any binary (e.g. before/after)
#
# Measures a normal GET's latency while hostile certificate imports run (import_stall.py):
# PFX with 100 encrypted keys at 1,000,000 PBKDF2 iterations, PFX with scrypt N=2^20 r=8 p=4,
# the slowest PFX still accepted for work (MAC at 600,000 iterations), and a PEM chain of
# BENCH_CHAIN (400) certificates in reverse order; BENCH_PARALLEL (2) imports at a time.
# Knobs: BENCH_PORT, BENCH_KEEP, BENCH_SKIP_BUILD, BENCH_CHAIN, BENCH_PARALLEL, BENCH_KINDS.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CHAIN=${BENCH_CHAIN:-400}
PARALLEL=${BENCH_PARALLEL:-2}
KINDS=${BENCH_KINDS:-pbkdf2-100keys,scrypt,mac-max,chain}
if [[ -n "${BENCH_BIN:-}" ]]; then
  case "$BENCH_BIN" in /*) SB_BIN=$BENCH_BIN ;; *) SB_BIN="$REPO/$BENCH_BIN" ;; esac
  [[ -x "$SB_BIN" ]] || die "no binary at $SB_BIN"
else
  bench_build
fi
bench_workdir

log "a chain of $CHAIN certificates (openssl), written root last → leaf … root reversed"
C="$WORK/chain"
mkdir -p "$C"
(
  cd "$C"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout 0.key -out 0.pem -days 5 \
    -subj "/CN=ca 0" -addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1
  for i in $(seq 1 "$CHAIN"); do
    p=$((i - 1))
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$i.key" -out "$i.csr" \
      -subj "/CN=ca $i" >/dev/null 2>&1
    printf 'basicConstraints=critical,CA:TRUE\n' >ext
    openssl x509 -req -in "$i.csr" -CA "$p.pem" -CAkey "$p.key" -set_serial "$i" -days 5 -extfile ext \
      -out "$i.pem" >/dev/null 2>&1
  done
  # the key of the last one, then the chain root first (the reverse of leaf → root)
  { cat "$CHAIN.key"; for i in $(seq 0 "$CHAIN"); do cat "$i.pem"; done; } >"$WORK/chain.pem"
) || die "openssl chain generation failed"
note "$(grep -c 'BEGIN CERTIFICATE' "$WORK/chain.pem") certificates, $(wc -c <"$WORK/chain.pem") bytes"

log "strongbox: start, token ($SB_BIN)"
start_server
get_token
note "git $(git_rev), $(nproc) cores: $(cpu_model)"
python3 "$BENCH_DIR/import_stall.py" --port "$SB_PORT" --host "default.$DNS_SUFFIX" --ca "$DATA/ca.pem" \
  --token "$TOKEN" --chain-file "$WORK/chain.pem" --parallel "$PARALLEL" --kinds "$KINDS" ||
  die "import_stall.py failed"
note "server peak RSS (VmHWM): $(mib "$(hwm_kb "$SB_PID")") MiB"
