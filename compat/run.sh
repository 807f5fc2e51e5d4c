#!/usr/bin/env bash
# Compat tier: drives a freshly started Strongbox server with the official
# Azure SDK for Python (azure-identity + azure-keyvault-secrets).
#
# Usage:  bash compat/run.sh [extra pytest args...]
# Env:    STRONGBOX_BIN          server binary (default: <repo>/target/debug/strongbox)
#         STRONGBOX_COMPAT_PORT  port to listen on (default: 443 as root, else 8443)
set -euo pipefail

COMPAT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$COMPAT_DIR/.." && pwd)"
VENV="$COMPAT_DIR/.venv"

# Vault host names the tests use (kept in sync with tests/conftest.py and test_rbac.py);
# only needed for the /etc/hosts fallback.
VAULT_NAMES=(default compat2 teama probe hsmprem hsmpool)
DNS_SUFFIX="vault.localhost"

if [[ "$(id -u)" -eq 0 ]]; then default_port=443; else default_port=8443; fi
STRONGBOX_BIN="${STRONGBOX_BIN:-$REPO_ROOT/target/debug/strongbox}"
case "$STRONGBOX_BIN" in /*) ;; *) STRONGBOX_BIN="$REPO_ROOT/$STRONGBOX_BIN" ;; esac
STRONGBOX_COMPAT_PORT="${STRONGBOX_COMPAT_PORT:-$default_port}"
export STRONGBOX_BIN STRONGBOX_COMPAT_PORT

log() { printf 'compat: %s\n' "$*" >&2; }

if [[ ! -x "$STRONGBOX_BIN" ]]; then
    log "server binary not found or not executable: $STRONGBOX_BIN (build it: cargo build -p strongbox-cli)"
    echo "COMPAT SUMMARY: FAILED (no server binary)"
    exit 1
fi

# --- Python environment ------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$COMPAT_DIR/requirements.txt"

# --- name resolution of *.vault.localhost --------------------------------------
resolves() { getent hosts "$1" >/dev/null 2>&1; }

all_vaults_resolve() {
    local v
    for v in "${VAULT_NAMES[@]}"; do
        resolves "$v.$DNS_SUFFIX" || return 1
    done
}

if ! resolves "probe.$DNS_SUFFIX"; then
    if [[ "$(id -u)" -eq 0 ]]; then
        log "*.${DNS_SUFFIX} does not resolve; installing libnss-myhostname"
        if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnss-myhostname; } >/dev/null 2>&1 \
            && resolves "probe.$DNS_SUFFIX"; then
            log "libnss-myhostname installed; *.localhost now resolves"
        else
            log "libnss-myhostname unavailable; adding /etc/hosts entries"
            for v in "${VAULT_NAMES[@]}"; do
                host="$v.$DNS_SUFFIX"
                if ! grep -qE "^[^#]*[[:space:]]${host//./\\.}([[:space:]]|\$)" /etc/hosts; then
                    printf '127.0.0.1 %s\n' "$host" >>/etc/hosts
                fi
            done
        fi
    else
        log "WARNING: *.${DNS_SUFFIX} does not resolve and we are not root;"
        log "         install libnss-myhostname or add /etc/hosts lines for: ${VAULT_NAMES[*]/%/.$DNS_SUFFIX}"
    fi
fi
if ! all_vaults_resolve; then
    log "WARNING: some vault host names still do not resolve; tests will likely fail"
fi

# --- operator-certificate pass (STRONGBOX_COMPAT_OPERATOR_CERT=1) -----------------
# The same tests against a server with an OpenSSL-made RSA-2048 chain (root → intermediate →
# leaf) for non-localhost names, resolved by /etc/hosts lines added here and removed at exit.
if [[ "${STRONGBOX_COMPAT_OPERATOR_CERT:-0}" == "1" ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "COMPAT SUMMARY: SKIPPED operator-certificate pass (needs root to add /etc/hosts lines)"
        exit 0
    fi
    op_suffix="vault.strongbox.test"
    op_host="strongbox.test"
    pki="$(mktemp -d)"
    hosts_mark="# strongbox-compat-$$"
    cleanup_op() { sed -i "/${hosts_mark}\$/d" /etc/hosts; rm -rf "$pki"; }
    trap cleanup_op EXIT
    (
        cd "$pki"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout root-key.pem -out root.pem -subj "/CN=Compat Root" -days 2
        printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
        openssl req -newkey rsa:2048 -nodes -keyout int-key.pem -out int.csr -subj "/CN=Compat Intermediate"
        openssl x509 -req -in int.csr -CA root.pem -CAkey root-key.pem -CAcreateserial -days 2 -extfile ca.ext -out int.pem
        printf 'subjectAltName=DNS:*.%s,DNS:%s\nextendedKeyUsage=serverAuth\n' "$op_suffix" "$op_host" >leaf.ext
        openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=$op_host"
        openssl x509 -req -in server.csr -CA int.pem -CAkey int-key.pem -CAcreateserial -days 2 -extfile leaf.ext -out leaf.pem
        cat leaf.pem int.pem >server.pem
    ) >/dev/null 2>&1 || { echo "COMPAT SUMMARY: FAILED (openssl could not make the test PKI)"; exit 1; }
    names="$op_host"
    for v in "${VAULT_NAMES[@]}"; do names+=" $v.$op_suffix"; done
    printf '127.0.0.1 %s %s\n' "$names" "$hosts_mark" >>/etc/hosts
    export STRONGBOX_COMPAT_DNS_SUFFIX="$op_suffix" STRONGBOX_COMPAT_PUBLIC_HOST="$op_host" STRONGBOX_COMPAT_TLS_DIR="$pki"
    log "operator certificate for *.$op_suffix and $op_host (RSA-2048, chain of 2)"
fi

# --- run ---------------------------------------------------------------------
log "binary=$STRONGBOX_BIN port=$STRONGBOX_COMPAT_PORT"
start=$(date +%s)
set +e
(cd "$COMPAT_DIR" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@")
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))

if [[ $rc -eq 0 ]]; then
    echo "COMPAT SUMMARY: PASSED in ${elapsed}s (port $STRONGBOX_COMPAT_PORT)"
elif [[ $rc -eq 5 ]]; then
    echo "COMPAT SUMMARY: FAILED — pytest collected no tests (exit 5)"
    rc=1
else
    echo "COMPAT SUMMARY: FAILED (pytest exit $rc) in ${elapsed}s — server log: $COMPAT_DIR/.server.log"
fi
exit $rc
