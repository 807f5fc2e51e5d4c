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

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
DURATION=${BENCH_DURATION:-15}
DURATION=${DURATION%s}
CONNS=${BENCH_CONNECTIONS:-64}
N=${BENCH_SECRETS:-100000}
STARTS=${BENCH_STARTS:-5}
SB_PORT=${BENCH_PORT:-18443}
NGINX_PORT=${BENCH_NGINX_PORT:-18444}
DNS_SUFFIX=vault.localhost
SB_HOSTHDR="default.$DNS_SUFFIX:$SB_PORT"
CLK_TCK=$(getconf CLK_TCK)

# targets from the issue
T_GET_PCT=50        # GET >= 50% of nginx's rate
T_GET_P99_MS=5      # GET p99 <= 5 ms
T_SET_RPS=2000      # durable SET >= 2,000/s
T_COLD_MS=200       # cold start to ready <= 200 ms
T_RSS_MIB=40        # idle RSS <= 40 MB (judged in MiB)

log() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
die() {
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
  printf '!!! BENCHMARK FAILED: %s\n' "$*" >&2
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
  exit 1
}

# ---------------------------------------------------------------- cleanup
WORK=""
SB_PID=""
NGINX_CONF=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$SB_PID" ]] && kill -0 "$SB_PID" 2>/dev/null; then
    kill -TERM "$SB_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SB_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SB_PID" 2>/dev/null || true
  fi
  if [[ -n "$WORK" && -s "$WORK/nginx/nginx.pid" ]]; then
    local npid
    npid=$(cat "$WORK/nginx/nginx.pid")
    kill -QUIT "$npid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$npid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$npid" 2>/dev/null || true
  fi
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ "${BENCH_KEEP:-0}" == 1 || $rc -eq 1 ]]; then
      echo "(work dir kept: $WORK — server logs, wrk logs, nginx logs)" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---------------------------------------------------------------- 1. tools
log "tools"
SUDO=""
[[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && SUDO=sudo
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
  note "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y "${need[@]}" >/dev/null ||
    { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y "${need[@]}" >/dev/null; } ||
    die "could not install ${need[*]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
note "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'); $("$NGINX" -v 2>&1); $(openssl version)"

# ---------------------------------------------------------------- 2. build
log "build (cargo build --release -p strongbox-cli)"
SB_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/strongbox"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$REPO" && cargo build --release -p strongbox-cli) || die "cargo build failed"
fi
[[ -x "$SB_BIN" ]] || die "no binary at $SB_BIN"
note "$("$SB_BIN" --version 2>/dev/null || echo strongbox) — $SB_BIN"

# ---------------------------------------------------------------- helpers
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$SB_PORT" "$NGINX_PORT"; do
  port_busy "$p" && die "port $p is already in use (set BENCH_PORT / BENCH_NGINX_PORT)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strongbox-bench.XXXXXX")
DATA="$WORK/data"
fstype=$(findmnt -no FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
note "work dir $WORK ($fstype)"
[[ "$fstype" == tmpfs || "$fstype" == ramfs ]] &&
  note "WARNING: the data dir is on $fstype: fsync costs nothing there, SET numbers are not durable-disk numbers"

# sum of utime+stime (clock ticks) of the given pids
cpu_ticks() {
  local t=0 p v
  for p in "$@"; do
    v=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')
    t=$((t + v))
  done
  echo "$t"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
kv() { # kv KEY "line with key=value ..." -> value
  tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1
}

start_server() {
  : >"$WORK/server.out"
  "$SB_BIN" server --data-dir "$DATA" --listen "127.0.0.1:$SB_PORT" --dns-suffix "$DNS_SUFFIX" \
    >>"$WORK/server.out" 2>>"$WORK/server.err" &
  SB_PID=$!
  local i
  for i in $(seq 300); do
    kill -0 "$SB_PID" 2>/dev/null || die "strongbox exited during start (see $WORK/server.err)"
    if grep -q '^strongbox: ready in' "$WORK/server.out" &&
      curl -fsk -o /dev/null "https://127.0.0.1:$SB_PORT/_strongbox/health"; then
      return 0
    fi
    sleep 0.1
  done
  die "strongbox did not become ready in 30 s"
}
stop_server() {
  [[ -n "$SB_PID" ]] || return 0
  kill -TERM "$SB_PID" 2>/dev/null || true
  local i
  for i in $(seq 100); do kill -0 "$SB_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SB_PID" 2>/dev/null; then
    note "WARNING: strongbox did not stop within 10 s of SIGTERM; killing it"
    kill -KILL "$SB_PID" 2>/dev/null || true
  fi
  wait "$SB_PID" 2>/dev/null || true
  SB_PID=""
}

TOKEN=""
get_token() {
  local tenant client secret resource authority
  read -r tenant client secret resource authority < <(python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
print(b["tenant_id"], b["client_id"], b["client_secret"], b["resource"], b["authority"])
' "$DATA/bootstrap.json")
  TOKEN=$(curl -sS --fail-with-body --resolve "localhost:$SB_PORT:127.0.0.1" --cacert "$DATA/ca.pem" \
    "$authority/$tenant/oauth2/v2.0/token" \
    -d grant_type=client_credentials --data-urlencode "client_id=$client" \
    --data-urlencode "client_secret=$secret" --data-urlencode "scope=$resource/.default" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') ||
    die "could not get a token"
}
VAULT="https://$SB_HOSTHDR"
sb_curl() { # sb_curl METHOD NAME [JSON] -> prints "HTTPCODE BODY"
  local method=$1 name=$2 data=${3:-}
  local args=(-sS --resolve "$SB_HOSTHDR:127.0.0.1" --cacert "$DATA/ca.pem"
    -H "Authorization: Bearer $TOKEN" -X "$method" -w ' %{http_code}')
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data "$data")
  curl "${args[@]}" "$VAULT/secrets/$name?api-version=7.4"
}
expect_200() { # expect_200 METHOD NAME [JSON]
  local out
  out=$(sb_curl "$@") || die "curl $1 $2 failed"
  [[ "${out##* }" == 200 ]] || die "$1 /secrets/$2 answered ${out##* }: ${out% *}"
  printf '%s' "${out% *}"
}

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
declare -A RPS P50 P99 CPU REQS
# run_wrk NAME SCRIPT URL PID... ; the pids are the server processes whose CPU is counted
run_wrk() {
  local name=$1 script=$2 url=$3
  shift 3
  local logf="$WORK/wrk-$name.log" c0 c1 line
  sleep 1
  c0=$(cpu_ticks "$@")
  if ! wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency -s "$BENCH_DIR/$script" "$url" >"$logf" 2>&1; then
    cat "$logf"
    die "wrk run '$name' failed"
  fi
  c1=$(cpu_ticks "$@")
  grep -v '^BENCH ' "$logf" | sed 's/^/   | /'
  line=$(grep '^BENCH ' "$logf") || die "wrk run '$name' printed no BENCH line"
  local non2xx errs
  non2xx=$(kv non2xx "$line")
  errs=$(($(kv connect "$line") + $(kv read "$line") + $(kv write "$line") + $(kv timeout "$line")))
  ((non2xx == 0)) || die "wrk run '$name': $non2xx Non-2xx/3xx responses — refusing to report these numbers (log: $logf)"
  ((errs == 0)) || die "wrk run '$name': $errs socket errors ($line) — refusing to report these numbers"
  REQS[$name]=$(kv requests "$line")
  ((REQS[$name] > 0)) || die "wrk run '$name' completed no requests"
  RPS[$name]=$(awk -v r="${REQS[$name]}" -v d="$(kv duration_us "$line")" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
  P50[$name]=$(kv p50_us "$line")
  P99[$name]=$(kv p99_us "$line")
  CPU[$name]=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v r="${REQS[$name]}" 'BEGIN {printf "%.1f", t / hz * 1e6 / r}')
}

# (d) nginx first: it is the ceiling the GET runs are compared with
log "nginx ceiling: 200-byte static file over HTTPS (TLS 1.3, keep-alive, 2 workers)"
NG="$WORK/nginx"
mkdir -p "$NG/www" "$NG/tmp"
head -c 199 /dev/zero | tr '\0' 'x' >"$NG/www/index.html"
echo >>"$NG/www/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -keyout "$NG/key.pem" -out "$NG/cert.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
chmod 755 "$WORK" "$NG" "$NG/www"
chmod 644 "$NG/www/index.html"
cat >"$NG/nginx.conf" <<EOF
worker_processes 2;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    client_body_temp_path $NG/tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        server_name localhost;
        ssl_certificate $NG/cert.pem;
        ssl_certificate_key $NG/key.pem;
        ssl_protocols TLSv1.3;
        location / { root $NG/www; }
    }
}
EOF
"$NGINX" -q -t -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" || die "nginx config test failed"
"$NGINX" -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" || die "nginx did not start"
for i in $(seq 50); do [[ -s "$NG/nginx.pid" ]] && break; sleep 0.1; done
NGINX_MASTER=$(cat "$NG/nginx.pid")
size=$(curl -fsk --tlsv1.3 -o /dev/null -w '%{size_download}' "https://127.0.0.1:$NGINX_PORT/index.html") ||
  die "nginx does not answer over HTTPS"
[[ "$size" == 200 ]] || die "nginx served $size bytes, expected 200"
mapfile -t NGINX_PIDS < <(echo "$NGINX_MASTER"; pgrep -P "$NGINX_MASTER")
note "nginx master $NGINX_MASTER, workers: ${NGINX_PIDS[*]:1}"
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

"$NGINX" -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" -s quit 2>/dev/null || true

# ---------------------------------------------------------------- 7. summary
ms() { awk -v u="$1" 'BEGIN {printf "%.2f ms", u / 1000}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", 100 * a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
PASSES=0
FAILS=0

GIT=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')
[[ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no 2>/dev/null)" ]] && GIT="$GIT+dirty"
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)

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
check() { # check LABEL SHOWN AWK-CONDITION
  local v=FAIL
  if awk "BEGIN {exit !($3)}"; then
    v=PASS
    PASSES=$((PASSES + 1))
  else
    FAILS=$((FAILS + 1))
  fi
  printf '  %-48s %-22s %s\n' "$1" "$2" "$v"
}
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
