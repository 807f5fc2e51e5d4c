# Shared helpers of the Strongbox benchmark scripts (run.sh, keys.sh). Sourced, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Defines the common knobs, logging, the cleanup trap, tool install, release build, server
# start/stop and token, the wrk runner (run_wrk) and the nginx ceiling (start_nginx).
# See bench/README.md.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
DURATION=${BENCH_DURATION:-15}
DURATION=${DURATION%s}
CONNS=${BENCH_CONNECTIONS:-64}
SB_PORT=${BENCH_PORT:-18443}
NGINX_PORT=${BENCH_NGINX_PORT:-18444}
DNS_SUFFIX=vault.localhost
SB_HOSTHDR="default.$DNS_SUFFIX:$SB_PORT"
VAULT="https://$SB_HOSTHDR"
CLK_TCK=$(getconf CLK_TCK)

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

# ---------------------------------------------------------------- tools, build, work dir
bench_tools() {
  log "tools"
  local sudo="" need=()
  [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo=sudo
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
  command -v openssl >/dev/null || need+=(openssl)
  command -v curl >/dev/null || need+=(curl)
  command -v python3 >/dev/null || need+=(python3)
  if ((${#need[@]})); then
    note "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y "${need[@]}" >/dev/null ||
      { $sudo apt-get update >/dev/null && $sudo apt-get install -y "${need[@]}" >/dev/null; } ||
      die "could not install ${need[*]}"
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  note "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'); $("$NGINX" -v 2>&1); $(openssl version)"
}

bench_build() {
  log "build (cargo build --release -p strongbox-cli)"
  SB_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/strongbox"
  if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$REPO" && cargo build --release -p strongbox-cli) || die "cargo build failed"
  fi
  [[ -x "$SB_BIN" ]] || die "no binary at $SB_BIN"
  note "$("$SB_BIN" --version 2>/dev/null || echo strongbox) — $SB_BIN"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# checks both ports, makes $WORK (and names $DATA inside it), sets $WORK_FSTYPE
bench_workdir() {
  local p
  for p in "$SB_PORT" "$NGINX_PORT"; do
    port_busy "$p" && die "port $p is already in use (set BENCH_PORT / BENCH_NGINX_PORT)"
  done
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/strongbox-bench.XXXXXX")
  DATA="$WORK/data"
  WORK_FSTYPE=$(findmnt -no FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
  note "work dir $WORK ($WORK_FSTYPE)"
}

# ---------------------------------------------------------------- /proc helpers
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

# ---------------------------------------------------------------- server
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

sb_api() { # sb_api METHOD PATH-AND-QUERY [JSON] -> prints "BODY HTTPCODE"
  local method=$1 path=$2 data=${3:-}
  local args=(-sS --resolve "$SB_HOSTHDR:127.0.0.1" --cacert "$DATA/ca.pem"
    -H "Authorization: Bearer $TOKEN" -X "$method" -w ' %{http_code}')
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data "$data")
  curl "${args[@]}" "$VAULT$path"
}
sb_curl() { # sb_curl METHOD SECRET-NAME [JSON] -> prints "BODY HTTPCODE"
  sb_api "$1" "/secrets/$2?api-version=7.4" "${3:-}"
}
expect_200() { # expect_200 METHOD SECRET-NAME [JSON] -> prints BODY
  local out
  out=$(sb_curl "$@") || die "curl $1 $2 failed"
  [[ "${out##* }" == 200 ]] || die "$1 /secrets/$2 answered ${out##* }: ${out% *}"
  printf '%s' "${out% *}"
}

# ---------------------------------------------------------------- wrk
# clock ticks of the whole machine, all cores: "BUSY IRQ", BUSY = user nice system steal
# (steal: taken by the hypervisor), IRQ = irq softirq (loopback TCP is mostly softirq,
# charged to no process)
sys_busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $9, $7 + $8; exit}' /proc/stat; }
# `times` of this shell: its 2nd line is the CPU time of the children waited for (wrk).
# Call it in the main shell, not in $(...): a subshell starts with zero children time.
snap_times() { times >"$WORK/times"; }

declare -A RPS P50 P99 CPU REQS WRK_CORES IRQ_CORES OTHER_CORES
# run_wrk NAME SCRIPT URL PID... ; the pids are the server processes whose CPU is counted.
# Fills RPS/P50/P99/CPU/REQS[NAME]; dies on any non-2xx/3xx answer or socket error.
# Also, as average cores over the run: WRK_CORES[NAME] (wrk's own CPU), IRQ_CORES[NAME] (irq +
# softirq time of the machine) and OTHER_CORES[NAME] (every other process: busy - server - wrk).
run_wrk() {
  local name=$1 script=$2 url=$3
  shift 3
  local logf="$WORK/wrk-$name.log" c0 c1 line s0 s1 i0 i1 w0 w1 t0 t1
  sleep 1
  c0=$(cpu_ticks "$@")
  read -r s0 i0 < <(sys_busy_ticks)
  snap_times
  w0=$(awk 'NR == 2 {print}' "$WORK/times")
  t0=$EPOCHREALTIME
  if ! wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency -s "$BENCH_DIR/$script" "$url" >"$logf" 2>&1; then
    cat "$logf"
    die "wrk run '$name' failed"
  fi
  t1=$EPOCHREALTIME
  snap_times
  w1=$(awk 'NR == 2 {print}' "$WORK/times")
  read -r s1 i1 < <(sys_busy_ticks)
  c1=$(cpu_ticks "$@")
  local wsecs
  wsecs=$(awk -v a="$w0" -v b="$w1" 'function secs(x,   f, u, s) {
      split(x, f, " "); split(f[1], u, /[ms]/); split(f[2], s, /[ms]/)
      return u[1] * 60 + u[2] + s[1] * 60 + s[2]
    } BEGIN {printf "%.3f", secs(b) - secs(a)}')
  WRK_CORES[$name]=$(awk -v w="$wsecs" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", w / (t1 - t0)}')
  IRQ_CORES[$name]=$(awk -v i=$((i1 - i0)) -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", i / hz / (t1 - t0)}')
  OTHER_CORES[$name]=$(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v w="$wsecs" -v t0="$t0" -v t1="$t1" \
    'BEGIN {o = ((s - c) / hz - w) / (t1 - t0); if (o < 0) o = 0; printf "%.2f", o}')
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

# ---------------------------------------------------------------- nginx ceiling
# nginx serving a 200-byte static file over TLS 1.3 (ECDSA P-256 certificate, 2 workers,
# keep-alive) on 127.0.0.1:$NGINX_PORT. Sets NG (its folder), NGINX_MASTER and NGINX_PIDS
# (master + workers, for run_wrk). Stopped by stop_nginx or by the cleanup trap.
start_nginx() {
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
  local i size
  for i in $(seq 50); do [[ -s "$NG/nginx.pid" ]] && break; sleep 0.1; done
  NGINX_MASTER=$(cat "$NG/nginx.pid")
  size=$(curl -fsk --tlsv1.3 -o /dev/null -w '%{size_download}' "https://127.0.0.1:$NGINX_PORT/index.html") ||
    die "nginx does not answer over HTTPS"
  [[ "$size" == 200 ]] || die "nginx served $size bytes, expected 200"
  mapfile -t NGINX_PIDS < <(echo "$NGINX_MASTER"; pgrep -P "$NGINX_MASTER")
  note "nginx master $NGINX_MASTER, workers: ${NGINX_PIDS[*]:1}"
}
stop_nginx() {
  "$NGINX" -p "$NG/" -e "$NG/error.log" -c "$NG/nginx.conf" -s quit 2>/dev/null || true
}

# ---------------------------------------------------------------- summary helpers
ms() { awk -v u="$1" 'BEGIN {printf "%.2f ms", u / 1000}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", 100 * a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
PASSES=0
FAILS=0
check() { # check LABEL SHOWN AWK-CONDITION -> prints a PASS/FAIL line, counts PASSES/FAILS
  local v=FAIL
  if awk "BEGIN {exit !($3)}"; then
    v=PASS
    PASSES=$((PASSES + 1))
  else
    FAILS=$((FAILS + 1))
  fi
  printf '  %-48s %-22s %s\n' "$1" "$2" "$v"
}
git_rev() { # short HEAD, +dirty if tracked files changed
  local g
  g=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')
  [[ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no 2>/dev/null)" ]] && g="$g+dirty"
  echo "$g"
}
cpu_model() { sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1; }
