#!/usr/bin/env bash
# Strongbox key-operation benchmark — run by hand, NOT part of CI. See bench/README.md.
#
#   bash bench/keys.sh                    # full run (≈ 2.5 min after the build)
#   BENCH_DURATION=10 bash bench/keys.sh  # shorter wrk runs
#
# In one run on this machine, through the HTTPS API with wrk -t1 -c64 --latency:
#   RSA-2048 sign (RS256), RSA-2048 decrypt (RSA-OAEP), P-256 sign (ES256),
# next to nginx serving a 200-byte static file over TLS 1.3 (the ceiling of run.sh) and
# `openssl speed -multi 2 rsa2048 ecdsap256`. Targets (from the keys issue):
#   RSA-2048 sign through the API >= 85% of OpenSSL's 2-core sign rate
#   P-256 sign through the API    >= 60% of the nginx HTTPS static ceiling
# SoftHSM2 (PKCS#11) key rates: bench/issuance.sh.
#
# Environment knobs (all optional):
#   BENCH_DURATION       seconds per wrk run (default 15; "15s" is accepted too)
#   BENCH_CONNECTIONS    wrk connections (default 64)
#   BENCH_SPEED_SECONDS  seconds per `openssl speed` test (default 10)
#   BENCH_SPEED_MULTI    `openssl speed -multi` processes (default 2)
#   BENCH_PORT           Strongbox port (default 18443); BENCH_NGINX_PORT nginx port (default 18444)
#   BENCH_SKIP_BUILD=1   use the existing target/release/strongbox
#   BENCH_KEEP=1         keep the temporary work dir (data dir, logs) after the run
#
# Exit code: 0 all targets met, 2 some target missed, 1 the benchmark itself failed
# (setup error, wrong answers, wrk errors or non-2xx responses: no numbers are reported then).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # knobs, helpers, cleanup trap
SPEED_SECONDS=${BENCH_SPEED_SECONDS:-10}
SPEED_MULTI=${BENCH_SPEED_MULTI:-2}
API=7.6

# targets from the issue
T_RSA_PCT=85 # RSA-2048 sign through the API >= 85% of OpenSSL's -multi 2 sign rate
T_EC_PCT=60  # P-256 sign through the API >= 60% of the nginx HTTPS static ceiling

bench_tools
bench_build
bench_workdir
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- 1. openssl speed
# `-multi N` forks N processes and adds their rates; each rate is operations per second of CPU
# *user* time (OpenSSL's default divisor), so it is a "N cores to itself" figure. It runs twice,
# before and after the API runs (the machine's speed can drift); the targets use the mean.
declare -A SSL_RSA_SIGN SSL_RSA_DEC SSL_EC_SIGN SSL_CORES SSL_IRQ SSL_OTHER
SSL_DEC_NOTE=""
openssl_speed() { # openssl_speed TAG
  local tag=$1 logf="$WORK/openssl-speed-$1.log" s0 s1 i0 i1 w0 w1 t0 t1 rs rd es
  log "openssl speed -multi $SPEED_MULTI -seconds $SPEED_SECONDS rsa2048 ecdsap256 ($tag)"
  read -r s0 i0 < <(sys_busy_ticks)
  snap_times
  w0=$(awk 'NR == 2 {print}' "$WORK/times")
  t0=$EPOCHREALTIME
  openssl speed -multi "$SPEED_MULTI" -seconds "$SPEED_SECONDS" rsa2048 ecdsap256 >"$logf" 2>&1 ||
    { cat "$logf"; die "openssl speed failed"; }
  t1=$EPOCHREALTIME
  snap_times
  w1=$(awk 'NR == 2 {print}' "$WORK/times")
  read -r s1 i1 < <(sys_busy_ticks)
  # the summary has a header line naming the columns ("sign verify sign/s verify/s", and
  # "... encr./s decr./s" in OpenSSL >= 3.2) and data lines whose last columns line up with it
  read -r rs rd es < <(awk '
    function col(name,   i) { for (i = 1; i <= nh; i++) if (h[i] == name) return $(NF - nh + i); return "-" }
    /sign\/s/ { nh = split($0, h, " "); next }
    nh && /^rsa +2048 +bits/ { rs = col("sign/s"); rd = col("decr./s") }
    nh && /ecdsa +\(nistp256\)/ { es = col("sign/s") }
    END { print (rs == "" ? "-" : rs), (rd == "" ? "-" : rd), (es == "" ? "-" : es) }
  ' "$logf")
  grep -E 'sign/s|^rsa +2048|ecdsa +\(nistp256\)' "$logf" | sed 's/^/   | /'
  [[ "$rs" =~ ^[0-9.]+$ && "$es" =~ ^[0-9.]+$ ]] ||
    { cat "$logf"; die "could not read sign/s from openssl speed (rsa '$rs', ecdsa '$es')"; }
  if ! [[ "$rd" =~ ^[0-9.]+$ ]]; then
    # OpenSSL < 3.2 has no RSA decrypt figure; OAEP decrypt is one private-key operation, as sign
    rd=$rs
    SSL_DEC_NOTE="OpenSSL $(openssl version | awk '{print $2}') prints no RSA decrypt rate: its sign rate (the same private-key operation) stands in"
  fi
  SSL_RSA_SIGN[$tag]=$rs
  SSL_RSA_DEC[$tag]=$rd
  SSL_EC_SIGN[$tag]=$es
  local w
  w=$(awk -v a="$w0" -v b="$w1" 'function secs(x,   f, u, s) {
      split(x, f, " "); split(f[1], u, /[ms]/); split(f[2], s, /[ms]/)
      return u[1] * 60 + u[2] + s[1] * 60 + s[2]
    } BEGIN {printf "%.3f", secs(b) - secs(a)}')
  SSL_CORES[$tag]=$(awk -v w="$w" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", w / (t1 - t0)}')
  SSL_IRQ[$tag]=$(awk -v i=$((i1 - i0)) -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", i / hz / (t1 - t0)}')
  SSL_OTHER[$tag]=$(awk -v s=$((s1 - s0)) -v hz="$CLK_TCK" -v w="$w" -v t0="$t0" -v t1="$t1" \
    'BEGIN {o = (s / hz - w) / (t1 - t0); if (o < 0) o = 0; printf "%.2f", o}')
  note "OpenSSL, $SPEED_MULTI processes: RSA-2048 sign $rs/s, P-256 sign $es/s; it used ${SSL_CORES[$tag]} cores, other processes ${SSL_OTHER[$tag]}"
}
openssl_speed before

# ---------------------------------------------------------------- 2. server, keys, bodies
log "strongbox: start, token, keys"
start_server
get_token

api_ok() { # api_ok METHOD PATH [JSON] -> prints BODY, dies unless 200
  local out
  out=$(sb_api "$@") || die "curl $1 $2 failed"
  [[ "${out##* }" == 200 ]] || die "$1 $2 answered ${out##* }: ${out% *}"
  printf '%s' "${out% *}"
}
json() { # json 'python expression on j' <<<JSON
  python3 -c 'import json, sys; j = json.load(sys.stdin); print('"$1"')'
}
b64() { python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())'; }

create_key() { # create_key NAME JSON -> sets KEY_VERSION
  local body kid
  body=$(api_ok POST "/keys/$1/create?api-version=$API" "$2")
  kid=$(json 'j["key"]["kid"]' <<<"$body") || die "create $1: no key.kid in $body"
  KEY_VERSION=${kid##*/}
  [[ "$kid" == */keys/$1/"$KEY_VERSION" && -n "$KEY_VERSION" ]] || die "create $1: unexpected kid $kid"
  note "$1: $(json '"%s %s, key_ops %s" % (j["key"]["kty"], j["key"].get("crv") or "%d bits" % (len(__import__("base64").urlsafe_b64decode(j["key"]["n"] + "==")) * 8), ",".join(j["key"].get("key_ops", [])))' <<<"$body"); kid $kid"
}
create_key bench-rsa '{"kty":"RSA","key_size":2048}'
RSA_V=$KEY_VERSION
create_key bench-ec '{"kty":"EC","crv":"P-256"}'
EC_V=$KEY_VERSION
RSA_PATH="/keys/bench-rsa/$RSA_V"
EC_PATH="/keys/bench-ec/$EC_V"

# 64 distinct SHA-256 digests per signing run; 16 ciphertexts made by the server's encrypt
python3 - "$WORK" <<'EOF'
import base64, hashlib, json, sys
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
for alg, name in (("RS256", "rs256"), ("ES256", "es256")):
    with open(f"{sys.argv[1]}/bodies-{name}.txt", "w") as f:
        for i in range(64):
            f.write(json.dumps({"alg": alg, "value": b(hashlib.sha256(b"bench %d" % i).digest())},
                               separators=(",", ":")) + "\n")
EOF
: >"$WORK/bodies-rsa_decrypt.txt"
for i in $(seq 16); do
  pt=$(printf 'strongbox bench plaintext %02d' "$i" | b64)
  out=$(api_ok POST "$RSA_PATH/encrypt?api-version=$API" "{\"alg\":\"RSA-OAEP\",\"value\":\"$pt\"}")
  ct=$(json 'j["value"]' <<<"$out")
  printf '{"alg":"RSA-OAEP","value":"%s"}\n' "$ct" >>"$WORK/bodies-rsa_decrypt.txt"
  if ((i == 1)); then # the ciphertext must decrypt back to the plaintext
    back=$(api_ok POST "$RSA_PATH/decrypt?api-version=$API" "{\"alg\":\"RSA-OAEP\",\"value\":\"$ct\"}")
    [[ $(json 'j["value"]' <<<"$back") == "$pt" ]] || die "RSA-OAEP decrypt did not give the plaintext back: $back"
  fi
done
# one signature of each kind must verify
for k in "rs256 RS256 $RSA_PATH" "es256 ES256 $EC_PATH"; do
  read -r name alg path <<<"$k"
  req=$(head -1 "$WORK/bodies-$name.txt")
  sig=$(json 'j["value"]' <<<"$(api_ok POST "$path/sign?api-version=$API" "$req")")
  digest=$(json 'j["value"]' <<<"$req")
  ver=$(api_ok POST "$path/verify?api-version=$API" "{\"alg\":\"$alg\",\"digest\":\"$digest\",\"value\":\"$sig\"}")
  [[ $(json 'j["value"]' <<<"$ver") == True ]] || die "$alg signature did not verify: $ver"
done
note "checked: RSA-OAEP encrypt -> decrypt round trip, RS256 and ES256 sign -> verify"
note "request bodies: 64 digests per sign run, 16 ciphertexts for decrypt"
RSS_BEFORE_KB=$(rss_kb "$SB_PID")

# ---------------------------------------------------------------- 3. wrk runs
# Order: the RSA runs right after the first openssl speed, nginx right before ES256 (the two
# pairs the targets compare), then openssl speed again.
export BENCH_DIR SB_TOKEN="$TOKEN" SB_HOST="$SB_HOSTHDR"
keyop() { # keyop NAME PATH
  export SB_KEYOP_PATH="$2?api-version=$API" SB_KEYOP_BODIES="$WORK/bodies-$1.txt"
  run_wrk "$1" keyop.lua "https://localhost:$SB_PORT/" "$SB_PID"
}
log "RSA-2048 sign (RS256): POST $RSA_PATH/sign"
keyop rs256 "$RSA_PATH/sign"
log "RSA-2048 decrypt (RSA-OAEP): POST $RSA_PATH/decrypt"
keyop rsa_decrypt "$RSA_PATH/decrypt"

log "nginx ceiling: 200-byte static file over HTTPS (TLS 1.3, keep-alive, 2 workers)"
start_nginx
run_wrk nginx static.lua "https://localhost:$NGINX_PORT/index.html" "${NGINX_PIDS[@]}"
stop_nginx

log "P-256 sign (ES256): POST $EC_PATH/sign"
keyop es256 "$EC_PATH/sign"

# still alive and answering after the runs
api_ok GET "$RSA_PATH?api-version=$API" >/dev/null
RSS_AFTER_KB=$(rss_kb "$SB_PID")
HWM_KB=$(hwm_kb "$SB_PID")
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
openssl_speed after
# the server's own library, single core, no HTTP: how much of the gap to OpenSSL is aws-lc itself
OPS_BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/examples/op_speed"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$REPO" && cargo build --release -p strongbox-crypto --example op_speed) || die "cargo build of op_speed failed"
fi
LIB_RS256=- LIB_ES256=- LIB_OAEP=-
if [[ -x "$OPS_BIN" ]]; then
  log "aws-lc single-core rates (crates/crypto/examples/op_speed.rs)"
  "$OPS_BIN" 5 >"$WORK/op_speed.log" 2>&1 || die "op_speed failed"
  LIB_RS256=$(awk '/sign RS256/ {print $(NF-3)}' "$WORK/op_speed.log")
  LIB_OAEP=$(awk '/decrypt OAEP/ {print $(NF-3)}' "$WORK/op_speed.log")
  LIB_ES256=$(awk '/sign ES256/ {print $(NF-3)}' "$WORK/op_speed.log")
fi
for v in SSL_RSA_SIGN SSL_RSA_DEC SSL_EC_SIGN; do # the mean of both goes under "mean"
  declare -n a=$v
  a[mean]=$(awk -v x="${a[before]}" -v y="${a[after]}" 'BEGIN {printf "%.1f", (x + y) / 2}')
  unset -n a
done

# ---------------------------------------------------------------- 4. summary
GIT=$(git_rev)
us_per_op() { awk -v r="$1" -v m="$SPEED_MULTI" 'BEGIN {printf "%.1f", m * 1e6 / r}'; }
W=112
line() { printf '%*s\n' "$W" '' | tr ' ' "$1"; }
hdr() { printf '%-36s %8s %9s %9s %10s %9s %8s %5s %5s %5s\n' "$@"; }
echo
title=" Strongbox key operations benchmark summary "
printf '%s%s%s\n' "$(printf '%*s' $(((W - ${#title}) / 2)) '' | tr ' ' =)" "$title" \
  "$(printf '%*s' $((W - ${#title} - (W - ${#title}) / 2)) '' | tr ' ' =)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($(cpu_model)); git $GIT; server crypto aws-lc-rs; $(openssl version | awk '{print $1, $2}')"
echo "wrk -t1 -c$CONNS -d${DURATION}s --latency, keep-alive, HTTPS (TLS 1.3), wrk on the same cores as the server."
echo "CPU µs/req: server (or nginx) utime+stime delta / requests; OpenSSL rows: $SPEED_MULTI x 10^6 / rate (its rate is per"
echo "second of CPU user time). % OpenSSL: of the mean of the two openssl speed runs. Average cores used during each"
echo "run besides the server: wrk; irq = irq+softirq (loopback TCP); other = every other process on the machine."
echo
hdr test "req/s" p50 p99 "CPU µs/req" "% OpenSSL" "% nginx" wrk irq other
hdr "$(line - | cut -c1-36)" -------- --------- --------- ---------- --------- -------- ----- ----- -----
row() { # row NAME LABEL OPENSSL-MEAN-RATE|-
  local po=- pn=-
  [[ "$3" != - ]] && po="$(pct "${RPS[$1]}" "$3")%"
  [[ "$1" != nginx ]] && pn="$(pct "${RPS[$1]}" "${RPS[nginx]}")%"
  hdr "$2" "${RPS[$1]}" "$(ms "${P50[$1]}")" "$(ms "${P99[$1]}")" "${CPU[$1]}" "$po" "$pn" \
    "${WRK_CORES[$1]}" "${IRQ_CORES[$1]}" "${OTHER_CORES[$1]}"
}
ssl_row() { # ssl_row LABEL RATE TAG
  hdr "$1" "$(printf '%.0f' "$2")" - - "$(us_per_op "$2")" - - - "${SSL_IRQ[$3]}" "${SSL_OTHER[$3]}"
}
row nginx "nginx static 200 B (ceiling)" -
for t in before after; do
  ssl_row "openssl RSA-2048 sign x$SPEED_MULTI, $t" "${SSL_RSA_SIGN[$t]}" "$t"
done
for t in before after; do
  ssl_row "openssl P-256 sign x$SPEED_MULTI, $t" "${SSL_EC_SIGN[$t]}" "$t"
done
row rs256 "API RSA-2048 sign (RS256)" "${SSL_RSA_SIGN[mean]}"
row rsa_decrypt "API RSA-2048 decrypt (RSA-OAEP)" "${SSL_RSA_DEC[mean]}"
row es256 "API P-256 sign (ES256)" "${SSL_EC_SIGN[mean]}"
echo "SoftHSM2 (PKCS#11) key rates: run bench/issuance.sh."
[[ -z "$SSL_DEC_NOTE" ]] || echo "decrypt % OpenSSL: $SSL_DEC_NOTE."
echo
echo "CPU per request, independent of how the cores are shared (rate if the server had all $SPEED_MULTI cores to itself):"
proj() { # proj NAME OPENSSL-RATE LABEL [nginx]
  awk -v c="${CPU[$1]}" -v r="$2" -v m="$SPEED_MULTI" -v l="$3" -v n="${CPU[nginx]}" -v ng="${4:-}" 'BEGIN {
    printf "  %-30s %6.1f µs/req -> %6.0f/s = %5.1f%% of OpenSSL (%.1f µs/op)", l, c, m * 1e6 / c, 100 * (m * 1e6 / c) / r, m * 1e6 / r
    if (ng != "") printf ", %.1f%% of nginx (%.1f µs/req)", 100 * n / c, n
    printf "\n" }'
}
proj rs256 "${SSL_RSA_SIGN[mean]}" "RSA-2048 sign (RS256)"
proj rsa_decrypt "${SSL_RSA_DEC[mean]}" "RSA-2048 decrypt (RSA-OAEP)"
proj es256 "${SSL_EC_SIGN[mean]}" "P-256 sign (ES256)" nginx
if [[ "$LIB_RS256" != - ]]; then
  echo "The server's crypto library alone (aws-lc via crates/crypto, one core, no HTTP), next to OpenSSL per core:"
  lib() { # lib LABEL LIB-RATE OPENSSL-MULTI-RATE API-CPU-US
    awk -v l="$1" -v r="$2" -v o="$3" -v m="$SPEED_MULTI" -v c="$4" 'BEGIN {
      printf "  %-30s %6.0f/s (%.1f µs/op) = %5.1f%% of OpenSSL per core; the API spends %.1f µs/req more\n", l, r, 1e6 / r, 100 * r * m / o, c - 1e6 / r }'
  }
  lib "RSA-2048 sign (RS256)" "$LIB_RS256" "${SSL_RSA_SIGN[mean]}" "${CPU[rs256]}"
  lib "RSA-2048 decrypt (RSA-OAEP)" "$LIB_OAEP" "${SSL_RSA_DEC[mean]}" "${CPU[rsa_decrypt]}"
  lib "P-256 sign (ES256)" "$LIB_ES256" "${SSL_EC_SIGN[mean]}" "${CPU[es256]}"
fi
echo "server RSS: $(mib "$RSS_BEFORE_KB") MiB before the runs, $(mib "$RSS_AFTER_KB") MiB after (peak $(mib "$HWM_KB") MiB)"
echo "load average (1/5/15 min): $LOAD_START at start, $LOAD_END at end"
max_other=$(printf '%s\n' "${OTHER_CORES[@]}" "${SSL_OTHER[@]}" | sort -g | tail -1)
awk -v o="$max_other" 'BEGIN {exit !(o > 0.2)}' &&
  echo "WARNING: other processes used up to $max_other cores during the runs: these are not quiet-machine figures"
drift=$(awk -v a="${SSL_RSA_SIGN[before]}" -v b="${SSL_RSA_SIGN[after]}" -v c="${SSL_EC_SIGN[before]}" -v d="${SSL_EC_SIGN[after]}" \
  'function r(x, y) {return x > y ? x / y : y / x} BEGIN {m = r(a, b); if (r(c, d) > m) m = r(c, d); printf "%.0f", 100 * (m - 1)}')
((drift <= 15)) || echo "WARNING: openssl speed moved by $drift% between its two runs: the machine's speed drifted"
echo
echo "targets (measured rates, as the issue states them)"
rsa_pct=$(pct "${RPS[rs256]}" "${SSL_RSA_SIGN[mean]}")
ec_pct=$(pct "${RPS[es256]}" "${RPS[nginx]}")
check "RSA-2048 sign >= ${T_RSA_PCT}% of OpenSSL -multi $SPEED_MULTI" "$rsa_pct%" "$rsa_pct >= $T_RSA_PCT"
check "P-256 sign >= ${T_EC_PCT}% of nginx static HTTPS" "$ec_pct%" "$ec_pct >= $T_EC_PCT"
echo
echo "result: $PASSES passed, $FAILS failed"
line =
((FAILS == 0)) || exit 2
exit 0
