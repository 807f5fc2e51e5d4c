#!/usr/bin/env bash
# Strongbox issuance benchmark — run by hand, NOT part of CI. See bench/README.md.
#
#   bash bench/issuance.sh                     # ≈ 2.5 min after the build
#   BENCH_DURATION=10 bash bench/issuance.sh
#
# Through the HTTPS API with wrk -t1 -c$BENCH_CONNECTIONS (default 64) --latency:
#   1. token issuance: client_credentials with a client secret (POST /{tenant}/oauth2/v2.0/token)
#   2. certificate issuance: POST /certificates/{name}/create with a new name per request, for
#      self-signed and built-in-CA-signed certificates, RSA-2048 and P-256 (the create answers
#      202 with the issuance already complete)
#   3. SoftHSM2 (PKCS#11) keys, when softhsm2 is installed: RSA-2048 RS256 sign, RSA-OAEP
#      decrypt and P-256 ES256 sign on -HSM keys in a premium vault.
# Same knobs as keys.sh (BENCH_DURATION, BENCH_CONNECTIONS, BENCH_PORT, BENCH_SKIP_BUILD,
# BENCH_KEEP). Exit code 1 when the benchmark itself failed (wrong answers, non-2xx).
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
API=7.6
RSA_CERT_CONNS=${BENCH_RSA_CERT_CONNECTIONS:-8}
bench_tools
bench_build
bench_workdir

# ---------------------------------------------------------------- SoftHSM2 token (optional)
HSM=0
module="$(dpkg -L libsofthsm2 2>/dev/null | grep -m1 '/libsofthsm2\.so$' || true)"
if command -v softhsm2-util >/dev/null && [[ -n "$module" ]]; then
  mkdir -p "$WORK/hsm/tokens"
  printf 'directories.tokendir = %s/hsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$WORK" >"$WORK/hsm/softhsm2.conf"
  export SOFTHSM2_CONF="$WORK/hsm/softhsm2.conf"
  pin=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
  softhsm2-util --init-token --free --label bench --so-pin "$pin$pin" --pin "$pin" >/dev/null
  export STRONGBOX_PKCS11_MODULE="$module" STRONGBOX_PKCS11_TOKEN=bench STRONGBOX_PKCS11_PIN="$pin"
  HSM=1
  note "SoftHSM2 token 'bench' in $WORK/hsm"
else
  note "softhsm2 is not installed: the HSM rows are skipped (apt-get install softhsm2)"
fi

log "strongbox: start, token"
start_server
get_token
json() { python3 -c 'import json, sys; j = json.load(sys.stdin); print('"$1"')'; }
api_expect() { # api_expect CODE METHOD PATH [JSON] -> prints BODY
  local code=$1 out
  shift
  out=$(sb_api "$@") || die "curl $1 $2 failed"
  [[ "${out##* }" == "$code" ]] || die "$1 $2 answered ${out##* } (expected $code): ${out% *}"
  printf '%s' "${out% *}"
}
export BENCH_DIR SB_HOST="$SB_HOSTHDR"

# ---------------------------------------------------------------- 1. tokens
read -r TENANT CLIENT SECRET RESOURCE < <(python3 -c '
import json, sys, urllib.parse as u
b = json.load(open(sys.argv[1]))
print(b["tenant_id"], b["client_id"], u.quote(b["client_secret"], safe=""), u.quote(b["resource"] + "/.default", safe=""))
' "$DATA/bootstrap.json")
log "token issuance: POST /$TENANT/oauth2/v2.0/token (client_credentials, client secret)"
SB_TOKEN="" SB_HOST="localhost:$SB_PORT" SB_POST_PATH="/$TENANT/oauth2/v2.0/token" \
  SB_POST_CTYPE=application/x-www-form-urlencoded \
  SB_POST_BODY="grant_type=client_credentials&client_id=$CLIENT&client_secret=$SECRET&scope=$RESOURCE" \
  run_wrk token post.lua "https://localhost:$SB_PORT/" "$SB_PID"

# ---------------------------------------------------------------- 2. certificates
export SB_TOKEN="$TOKEN"
api_expect 201 PUT "/_strongbox/certificateauthorities/bench-rsa-ca?api-version=$API" \
  '{"subject":"CN=Bench RSA CA","kty":"RSA","key_size":2048}' >/dev/null
api_expect 201 PUT "/_strongbox/certificateauthorities/bench-ec-ca?api-version=$API" \
  '{"subject":"CN=Bench EC CA","kty":"EC","crv":"P-256"}' >/dev/null
policy() { # policy ISSUER KEYPROPS
  printf '{"policy":{"key_props":%s,"secret_props":{"contentType":"application/x-pem-file"},"x509_props":{"subject":"CN=bench.example","sans":{"dns_names":["bench.example"]},"validity_months":12},"issuer":{"name":"%s"}}}' "$2" "$1"
}
RSA_KP='{"kty":"RSA","key_size":2048,"exportable":true}'
EC_KP='{"kty":"EC","crv":"P-256","exportable":true}'
# one of each must come back completed and verify against its issuer with openssl
check_cert() { # check_cert NAME ISSUER KEYPROPS CA|-
  api_expect 202 POST "/certificates/$1/create?api-version=$API" "$(policy "$2" "$3")" >/dev/null
  local st
  st=$(api_expect 200 GET "/certificates/$1/pending?api-version=$API" | json 'j["status"]')
  [[ "$st" == completed ]] || die "certificate $1: pending status $st"
  api_expect 200 GET "/certificates/$1?api-version=$API" | json 'j["cer"]' | base64 -d >"$WORK/$1.der"
  openssl x509 -inform DER -in "$WORK/$1.der" -noout >/dev/null || die "openssl cannot parse $1"
  if [[ "$4" != - ]]; then
    api_expect 200 GET "/_strongbox/certificateauthorities/$4?api-version=$API" | json 'j["cer"]' | base64 -d |
      openssl x509 -inform DER -out "$WORK/$4.pem"
    openssl x509 -inform DER -in "$WORK/$1.der" -out "$WORK/$1.pem"
    openssl verify -CAfile "$WORK/$4.pem" "$WORK/$1.pem" >/dev/null || die "$1 does not verify against $4"
  fi
}
check_cert chk-self-rsa Self "$RSA_KP" -
check_cert chk-self-ec Self "$EC_KP" -
check_cert chk-ca-rsa bench-rsa-ca "$RSA_KP" bench-rsa-ca
check_cert chk-ca-ec bench-ec-ca "$EC_KP" bench-ec-ca
note "checked: one certificate of each kind completed, parsed by openssl, CA-issued ones verify"
for t in "self_rsa Self $RSA_KP" "self_ec Self $EC_KP" "ca_rsa bench-rsa-ca $RSA_KP" "ca_ec bench-ec-ca $EC_KP"; do
  read -r name issuer kp <<<"$t"
  log "certificate issuance ($name): POST /certificates/${name//_/-}-N/create"
  # RSA key generation takes ~0.1 s of CPU: 64 waiting connections would hit wrk's 5 s timeout
  c=$CONNS
  [[ $name == *rsa ]] && c=$RSA_CERT_CONNS
  CONNS=$c SB_POST_PATH="/certificates/${name//_/-}-%d/create?api-version=$API" SB_POST_BODY="$(policy "$issuer" "$kp")" \
    run_wrk "$name" post.lua "https://localhost:$SB_PORT/" "$SB_PID"
done

# ---------------------------------------------------------------- 3. SoftHSM2 keys
if ((HSM)); then
  SB_HOSTHDR="hsm.$DNS_SUFFIX:$SB_PORT"
  VAULT="https://$SB_HOSTHDR"
  curl -sS --resolve "localhost:$SB_PORT:127.0.0.1" --cacert "$DATA/ca.pem" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -X PUT --data '{"sku":"premium"}' -o /dev/null -w '%{http_code}' \
    "https://default.$DNS_SUFFIX:$SB_PORT/_strongbox/vaults/hsm?api-version=$API" --resolve "default.$DNS_SUFFIX:$SB_PORT:127.0.0.1" |
    grep -qE '^20[01]$' || die "could not create the premium vault"
  rsa_kid=$(api_expect 200 POST "/keys/hsm-rsa/create?api-version=$API" '{"kty":"RSA-HSM","key_size":2048}' | json 'j["key"]["kid"]')
  ec_kid=$(api_expect 200 POST "/keys/hsm-ec/create?api-version=$API" '{"kty":"EC-HSM","crv":"P-256"}' | json 'j["key"]["kid"]')
  RSA_PATH="/keys/hsm-rsa/${rsa_kid##*/}"
  EC_PATH="/keys/hsm-ec/${ec_kid##*/}"
  D=$(printf 'bench' | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
  ct=$(api_expect 200 POST "$RSA_PATH/encrypt?api-version=$API" '{"alg":"RSA-OAEP","value":"c3Ryb25nYm94"}' | json 'j["value"]')
  back=$(api_expect 200 POST "$RSA_PATH/decrypt?api-version=$API" "{\"alg\":\"RSA-OAEP\",\"value\":\"$ct\"}" | json 'j["value"]')
  [[ "$back" == c3Ryb25nYm94 ]] || die "HSM RSA-OAEP round trip gave $back"
  export SB_HOST="$SB_HOSTHDR"
  for t in "hsm_rs256 $RSA_PATH/sign {\"alg\":\"RS256\",\"value\":\"$D\"}" \
    "hsm_rsa_decrypt $RSA_PATH/decrypt {\"alg\":\"RSA-OAEP\",\"value\":\"$ct\"}" \
    "hsm_es256 $EC_PATH/sign {\"alg\":\"ES256\",\"value\":\"$D\"}"; do
    read -r name path body <<<"$t"
    log "SoftHSM2 $name: POST $path"
    SB_POST_PATH="$path?api-version=$API" SB_POST_BODY="$body" run_wrk "$name" post.lua "https://localhost:$SB_PORT/" "$SB_PID"
  done
fi

# ---------------------------------------------------------------- summary
echo
echo "==================== Strongbox issuance benchmark summary ===================="
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($(cpu_model)); git $(git_rev)"
echo "wrk -t1 -c$CONNS -d${DURATION}s --latency (RSA certificate rows: -c$RSA_CERT_CONNS), keep-alive, HTTPS, wrk on the same cores."
printf '%-44s %9s %10s %10s %11s\n' test "req/s" p50 p99 "CPU µs/req"
rows=(token "tokens: client_credentials + client secret"
  self_rsa "certificates: self-signed RSA-2048" self_ec "certificates: self-signed P-256"
  ca_rsa "certificates: built-in CA, RSA-2048" ca_ec "certificates: built-in CA, P-256")
((HSM)) && rows+=(hsm_rs256 "SoftHSM2 RSA-2048 sign (RS256)" hsm_rsa_decrypt "SoftHSM2 RSA-2048 decrypt (RSA-OAEP)"
  hsm_es256 "SoftHSM2 P-256 sign (ES256)")
for ((i = 0; i < ${#rows[@]}; i += 2)); do
  n=${rows[i]}
  printf '%-44s %9s %10s %10s %11s\n' "${rows[i + 1]}" "${RPS[$n]}" "$(ms "${P50[$n]}")" "$(ms "${P99[$n]}")" "${CPU[$n]}"
done
((HSM)) || echo "SoftHSM2 rows skipped: softhsm2 is not installed."
