#!/usr/bin/env bash
# Strongbox on PostgreSQL, one node against two — run by hand, NOT part of CI. See bench/README.md.
#
#   bash bench/nodes.sh        # needs a PostgreSQL server (BENCH_PG, default the machine's)
#
# Makes a fresh database, starts node A, preloads BENCH_SECRETS secrets through it, then runs
# wrk (BENCH_CONNECTIONS in all) for GET of a random secret and for durable SET: first all
# against node A alone, then split in half over node A and node B (a second node on the same
# database, started from a copy of A's seal key, CA and bootstrap file), two wrk processes at
# once. Prints requests/s for each. Everything runs on this machine: the nodes, PostgreSQL and
# wrk share its cores, so a second node shows what it costs or gains there, not what it gains
# on its own machine.
#
# Knobs: BENCH_PG (admin URL), BENCH_SECRETS (default 5000), BENCH_DURATION (default 15),
# BENCH_CONNECTIONS (default 64), BENCH_PORT (node A; node B is the next port),
# BENCH_SKIP_BUILD=1, BENCH_KEEP=1.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${BENCH_SECRETS:-5000}
PG_ADMIN=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}
PORT_B=$((SB_PORT + 1))

bench_tools
command -v psql >/dev/null || die "psql is needed (postgresql-client)"
bench_build
bench_workdir
port_busy "$PORT_B" && die "port $PORT_B is already in use"

DB="sb_bench_nodes_$$"
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" || die "cannot create database $DB on $PG_ADMIN"
DB_URL="${PG_ADMIN%/*}/$DB"
SB_B_PID=""
stop_b() {
  [[ -n "$SB_B_PID" ]] || return 0
  kill -TERM "$SB_B_PID" 2>/dev/null || true
  wait "$SB_B_PID" 2>/dev/null || true
  SB_B_PID=""
}
finish() {
  stop_b
  stop_server
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap 'finish; cleanup' EXIT
export STRONGBOX_STORAGE="$DB_URL"

log "node A on $DB (PostgreSQL), port $SB_PORT"
start_server
get_token
log "preload $N secrets through node A"
export BENCH_DIR SB_TOKEN="$TOKEN" SB_HOST="$SB_HOSTHDR" SB_N="$N"
wrk -t1 -c"$CONNS" -d900s --timeout 10s -s "$BENCH_DIR/preload.lua" "https://localhost:$SB_PORT/" \
  >"$WORK/wrk-preload.log" 2>&1 || { cat "$WORK/wrk-preload.log"; die "preload failed"; }
pl=$(grep '^PRELOAD ok=' "$WORK/wrk-preload.log") || die "preload printed no result"
[[ $(kv ok "$pl") == "$N" && $(kv bad "$pl") == 0 ]] || die "preload incomplete: $pl"
note "$(kv rate "$pl") PUT/s"

log "node B: a copy of A's seal key, CA and bootstrap file; port $PORT_B, public port $SB_PORT"
DATA_B="$WORK/data-b"
mkdir -m 0700 "$DATA_B"
cp "$DATA"/{seal.key,ca.pem,ca-key.pem,bootstrap.json} "$DATA_B/"
: >"$WORK/server-b.out"
"$SB_BIN" server --data-dir "$DATA_B" --listen "127.0.0.1:$PORT_B" --public-port "$SB_PORT" \
  --dns-suffix "$DNS_SUFFIX" >>"$WORK/server-b.out" 2>>"$WORK/server-b.err" &
SB_B_PID=$!
for _ in $(seq 300); do
  grep -q '^strongbox: ready in' "$WORK/server-b.out" && break
  kill -0 "$SB_B_PID" 2>/dev/null || die "node B exited during start (see $WORK/server-b.err)"
  sleep 0.1
done
grep -q '^strongbox: ready in' "$WORK/server-b.out" || die "node B did not become ready"

# one wrk per URL at once, CONNS split between them; prints the summed requests/s
wrk_split() { # wrk_split NAME SCRIPT PORT...
  local name=$1 script=$2
  shift 2
  local conns=$((CONNS / $#)) pids=() i=0 port total=0 rate
  for port in "$@"; do
    wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s --latency -s "$BENCH_DIR/$script" \
      "https://localhost:$port/" >"$WORK/wrk-$name-$i.log" 2>&1 &
    pids+=($!)
    i=$((i + 1))
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { cat "$WORK/wrk-$name-$i.log"; die "wrk $name failed"; }
    local line
    line=$(grep '^BENCH ' "$WORK/wrk-$name-$i.log") || die "wrk $name printed no BENCH line"
    (($(kv non2xx "$line") == 0)) || die "wrk $name: non-2xx answers ($line)"
    rate=$(awk -v r="$(kv requests "$line")" -v d="$(kv duration_us "$line")" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
    note "$name, wrk $i: $rate/s (p99 $(ms "$(kv p99_us "$line")"))" >&2
    total=$((total + rate))
  done
  echo "$total"
}

declare -A R
for run in "get:get_random.lua" "set:set.lua"; do
  name=${run%%:*}
  script=${run#*:}
  log "$name, one node ($CONNS connections on A)"
  sleep 1
  R[$name-1]=$(wrk_split "$name-one" "$script" "$SB_PORT" | tail -1)
  log "$name, two nodes ($((CONNS / 2)) connections on each)"
  sleep 1
  R[$name-2]=$(wrk_split "$name-two" "$script" "$SB_PORT" "$PORT_B" | tail -1)
done

log "results ($N secrets, ${DURATION}s runs, $(nproc) cores shared by the nodes, PostgreSQL and wrk; $(git_rev))"
printf '   %-22s %10s %10s\n' "" "one node" "two nodes"
printf '   %-22s %10s %10s\n' "GET random secret /s" "${R[get-1]}" "${R[get-2]}"
printf '   %-22s %10s %10s\n' "durable SET /s" "${R[set-1]}" "${R[set-2]}"
