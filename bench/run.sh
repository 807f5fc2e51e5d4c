#!/usr/bin/env bash
# Strongbox performance benchmark — run by hand, NOT part of CI. See bench/README.md.
#
#   bash bench/run.sh                    # full run (≈ 3 min after the build)
#   BENCH_DURATION=10 bash bench/run.sh  # shorter wrk runs
#
# Measures, on this machine, against the issue's targets:
#   cold start (exec -> first 200 over HTTPS), idle RSS, preload rate of 100,000 secrets,
#   wrk -t1 -c64 --latency runs: GET one hot secret, GET random of 100,000, durable SET,
#   and nginx serving a 200-byte static file over TLS 1.3 as the ceiling.
#
# Environment knobs (all optional):
#   BENCH_DURATION     seconds per wrk run (default 15; "15s" is accepted too)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_SECRETS      number of preloaded secrets (default 100000)
#   BENCH_STARTS       restarts timed for the cold-start median (default 5)
#   BENCH_PORT         Strongbox port (default 18443); BENCH_NGINX_PORT nginx port (default 18444)
#   BENCH_SKIP_BUILD=1 use the existing target/release/strongbox
#   BENCH_KEEP=1       keep the temporary work dir (data dir, logs) after the run
#   TMPDIR             where the work dir is created (default /tmp); keep it on a real disk,
#                      a tmpfs makes fsync free and the SET figure meaningless
#
# Exit code: 0 all targets met, 2 some target missed, 1 the benchmark itself failed
# (setup error, wrk errors or non-2xx responses: no numbers are reported then).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # knobs, helpers, cleanup trap
N=${BENCH_SECRETS:-100000}
STARTS=${BENCH_STARTS:-5}

# targets from the issue
T_GET_PCT=50        # GET >= 50% of nginx's rate
T_GET_P99_MS=5      # GET p99 <= 5 ms
T_SET_RPS=2000      # durable SET >= 2,000/s
T_COLD_MS=200       # cold start to ready <= 200 ms
T_RSS_MIB=40        # idle RSS <= 40 MB (judged in MiB)

# ---------------------------------------------------------------- 1. tools, 2. build
bench_tools
bench_build

bench_workdir
[[ "$WORK_FSTYPE" == tmpfs || "$WORK_FSTYPE" == ramfs ]] &&
  note "WARNING: the data dir is on $WORK_FSTYPE: fsync costs nothing there, SET numbers are not durable-disk numbers"

# ---------------------------------------------------------------- 3. cold start
log "cold start"
out=$(python3 "$BENCH_DIR/coldstart.py" --bin "$SB_BIN" --data-dir "$DATA" --port "$SB_PORT" \
  --dns-suffix "$DNS_SUFFIX" --runs 1 --label "first start (fresh dir, probe = health)" \
  --log "$WORK/server.err") || die "first start failed: $out"
grep -v '^COLDSTART' <<<"$out"
FIRST_READY=$(kv ready_ms "$(grep '^COLDSTART' <<<"$out")")
FIRST_WALL=$(kv wall_ms "$(grep '^COLDSTART' <<<"$out")")
[[ -s "$DATA/bootstrap.json" ]] || die "first start wrote no $DATA/bootstrap.json"

# a token and a probe secret, so restarts are timed to the first authenticated 200 GET
start_server
get_token
expect_200 PUT coldstart-probe '{"value":"probe"}' >/dev/null
stop_server

out=$(python3 "$BENCH_DIR/coldstart.py" --bin "$SB_BIN" --data-dir "$DATA" --port "$SB_PORT" \
  --dns-suffix "$DNS_SUFFIX" --token "$TOKEN" --secret coldstart-probe --runs "$STARTS" \
  --label "restart (probe = GET secret)" --log "$WORK/server.err") || die "restarts failed: $out"
grep -v '^COLDSTART' <<<"$out"
COLD_READY=$(kv ready_ms "$(grep '^COLDSTART' <<<"$out")")
COLD_WALL=$(kv wall_ms "$(grep '^COLDSTART' <<<"$out")")
note "median of $STARTS: server says ready in $COLD_READY ms; exec -> first 200 over HTTPS $COLD_WALL ms"

# ---------------------------------------------------------------- 4. idle RSS
log "idle RSS"
start_server
for i in 1 2 3 4 5; do expect_200 GET coldstart-probe >/dev/null; done
expect_200 PUT idle-probe '{"value":"idle"}' >/dev/null
sleep 2
IDLE_RSS_KB=$(rss_kb "$SB_PID")
note "after start + 6 requests + 2 s idle: VmRSS $IDLE_RSS_KB kB"

# ---------------------------------------------------------------- 5. preload
log "preload $N secrets (wrk, $CONNS connections, PUT s000000..)"
export BENCH_DIR SB_TOKEN="$TOKEN" SB_HOST="$SB_HOSTHDR" SB_N="$N"
wrk -t1 -c"$CONNS" -d900s --timeout 10s -s "$BENCH_DIR/preload.lua" "https://localhost:$SB_PORT/" \
  >"$WORK/wrk-preload.log" 2>&1 || { cat "$WORK/wrk-preload.log"; die "preload failed"; }
pl=$(grep '^PRELOAD ok=' "$WORK/wrk-preload.log") || { cat "$WORK/wrk-preload.log"; die "preload printed no result"; }
[[ $(kv ok "$pl") == "$N" && $(kv bad "$pl") == 0 ]] || { cat "$WORK/wrk-preload.log"; die "preload incomplete: $pl"; }
PRELOAD_RATE=$(kv rate "$pl")
PRELOAD_SECS=$(kv seconds "$pl")
# spot-check first, last and a middle one
for i in 0 $((N / 2)) $((N - 1)); do
  name=$(printf 's%06d' "$i")
  body=$(expect_200 GET "$name")
  grep -q "\"value\":\"preload *0*$i\"" <<<"$body" || die "preloaded $name has unexpected value: $body"
done
note "$N PUTs in $PRELOAD_SECS s = $PRELOAD_RATE/s (read back: s000000, $(printf 's%06d' $((N / 2))), $(printf 's%06d' $((N - 1))))"
AFTER_PRELOAD_RSS_KB=$(rss_kb "$SB_PID")

# ---------------------------------------------------------------- 6. runs
# (d) nginx first: it is the ceiling the GET runs are compared with
log "nginx ceiling: 200-byte static file over HTTPS (TLS 1.3, keep-alive, 2 workers)"
start_nginx
run_wrk nginx static.lua "https://localhost:$NGINX_PORT/index.html" "${NGINX_PIDS[@]}"

log "(a) GET one hot secret (s000000)"
run_wrk get_hot get_hot.lua "https://localhost:$SB_PORT/" "$SB_PID"

log "(b) GET random among $N secrets"
run_wrk get_random get_random.lua "https://localhost:$SB_PORT/" "$SB_PID"

log "(c) SET: PUT a new version of s(counter mod $N), durable"
run_wrk set set.lua "https://localhost:$SB_PORT/" "$SB_PID"
# the last write must be readable
expect_200 GET s000000 >/dev/null

FINAL_RSS_KB=$(rss_kb "$SB_PID")
FINAL_HWM_KB=$(hwm_kb "$SB_PID")

# ---------------------------------------------------------------- extra: restart with data
log "restart with $N secrets loaded (info)"
stop_server
out=$(python3 "$BENCH_DIR/coldstart.py" --bin "$SB_BIN" --data-dir "$DATA" --port "$SB_PORT" \
  --dns-suffix "$DNS_SUFFIX" --token "$TOKEN" --secret coldstart-probe --runs "$STARTS" \
  --label "restart, $N secrets (probe = GET secret)" --log "$WORK/server.err") || die "restarts failed: $out"
grep -v '^COLDSTART' <<<"$out"
LOADED_READY=$(kv ready_ms "$(grep '^COLDSTART' <<<"$out")")
LOADED_WALL=$(kv wall_ms "$(grep '^COLDSTART' <<<"$out")")

stop_nginx

# ---------------------------------------------------------------- 7. summary
GIT=$(git_rev)
CPU_MODEL=$(cpu_model)
echo
echo "=============================== Strongbox benchmark summary ==============================="
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($CPU_MODEL); git $GIT"
echo "wrk -t1 -c$CONNS -d${DURATION}s --latency, keep-alive, HTTPS (TLS 1.3), wrk on the same cores;"
echo "$N secrets of 40 bytes preloaded; CPU/req = server utime+stime delta / requests"
echo
printf '%-34s %10s %10s %10s %12s %10s\n' test "req/s" p50 p99 "CPU µs/req" "% nginx"
printf '%-34s %10s %10s %10s %11s %10s\n' ---------------------------------- ---------- ---------- ---------- ----------- ----------
row() { # row NAME LABEL SHOWPCT
  local p='-'
  [[ "$3" == 1 ]] && p="$(pct "${RPS[$1]}" "${RPS[nginx]}")%"
  printf '%-34s %10s %10s %10s %11s %10s\n' "$2" "${RPS[$1]}" "$(ms "${P50[$1]}")" "$(ms "${P99[$1]}")" "${CPU[$1]}" "$p"
}
row nginx "nginx static 200 B (ceiling)" 0
row get_hot "GET one hot secret" 1
row get_random "GET random of $N" 1
row set "SET (durable PUT, new version)" 0
echo
printf '%-44s %s\n' "cold start, fresh dir (first start):" "ready in ${FIRST_READY} ms; exec -> first 200 ${FIRST_WALL} ms"
printf '%-44s %s\n' "cold start, restart (median of $STARTS):" "ready in ${COLD_READY} ms; exec -> first 200 ${COLD_WALL} ms"
printf '%-44s %s\n' "restart with $N secrets (median of $STARTS):" "ready in ${LOADED_READY} ms; exec -> first 200 ${LOADED_WALL} ms"
echo "idle RSS: $(mib "$IDLE_RSS_KB") MiB; after preload $(mib "$AFTER_PRELOAD_RSS_KB") MiB; after all runs $(mib "$FINAL_RSS_KB") MiB (peak $(mib "$FINAL_HWM_KB") MiB)"
echo "preload: $N PUTs in $PRELOAD_SECS s = $PRELOAD_RATE/s"
echo
echo "targets"
hot_pct=$(pct "${RPS[get_hot]}" "${RPS[nginx]}")
rnd_pct=$(pct "${RPS[get_random]}" "${RPS[nginx]}")
check "GET hot: rate >= ${T_GET_PCT}% of nginx" "$hot_pct%" "$hot_pct >= $T_GET_PCT"
check "GET hot: p99 <= ${T_GET_P99_MS} ms" "$(ms "${P99[get_hot]}")" "${P99[get_hot]} <= $T_GET_P99_MS * 1000"
check "GET random of $N: rate >= ${T_GET_PCT}% of nginx" "$rnd_pct%" "$rnd_pct >= $T_GET_PCT"
check "GET random of $N: p99 <= ${T_GET_P99_MS} ms" "$(ms "${P99[get_random]}")" "${P99[get_random]} <= $T_GET_P99_MS * 1000"
check "durable SET >= ${T_SET_RPS}/s" "${RPS[set]}/s" "${RPS[set]} >= $T_SET_RPS"
check "cold start to ready <= ${T_COLD_MS} ms (exec -> 200)" "$COLD_WALL ms" "$COLD_WALL <= $T_COLD_MS"
check "idle RSS <= ${T_RSS_MIB} MB (MiB)" "$(mib "$IDLE_RSS_KB") MiB" "$IDLE_RSS_KB <= $T_RSS_MIB * 1024"
echo
echo "result: $PASSES passed, $FAILS failed"
echo "==========================================================================================="
((FAILS == 0)) || exit 2
exit 0
