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
