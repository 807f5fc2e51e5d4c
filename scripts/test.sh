#!/usr/bin/env bash
# Runs every test of Strongbox: formatting and lints, unit, router, in-process server
# integration, PostgreSQL conformance, kill -9 durability, the official Rust SDK, and the
# Python SDK compatibility tier over real HTTPS.
#
# On a fresh machine it installs what it needs (as root: Debian packages; always: a Python
# virtualenv under compat/.venv). Environment:
#   STRONGBOX_TEST_POSTGRES_URL   admin URL of a PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
#   STRONGBOX_REQUIRE_POSTGRES=1  fail (instead of SKIPPED) when PostgreSQL is unreachable (CI sets it)
#   STRONGBOX_SKIP_COMPAT=1       skip the Python SDK tier (it says so loudly)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
is_root() { [[ "$(id -u)" -eq 0 ]]; }
apt_updated=0
apt_install() {
    is_root || return 1
    if [[ $apt_updated -eq 0 ]]; then apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

step "toolchain"
cargo --version
command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -c 'import venv' 2>/dev/null || apt_install python3-venv
# the OpenSSL command line is the independent implementation the crypto tests check against
command -v openssl >/dev/null || apt_install openssl || echo "openssl unavailable: interop tests will say SKIPPED"

# SoftHSM2: a fresh PKCS#11 token in a temp folder for the HSM-backed key tests (they say SKIPPED
# without one; STRONGBOX_REQUIRE_SOFTHSM=1 makes them fail instead).
command -v softhsm2-util >/dev/null || apt_install softhsm2 || echo "softhsm2 unavailable: HSM tests will say SKIPPED"
softhsm_module="$(dpkg -L libsofthsm2 2>/dev/null | grep -m1 '/libsofthsm2\.so$' || true)"
if command -v softhsm2-util >/dev/null && [[ -n "$softhsm_module" ]]; then
    hsm_dir="$(mktemp -d)"
    trap 'rm -rf "$hsm_dir"' EXIT
    mkdir -p "$hsm_dir/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
        "$hsm_dir" >"$hsm_dir/softhsm2.conf"
    export SOFTHSM2_CONF="$hsm_dir/softhsm2.conf"
    hsm_pin="$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
    softhsm2-util --init-token --free --label strongbox-test --so-pin "$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" \
        --pin "$hsm_pin" >/dev/null
    export STRONGBOX_PKCS11_MODULE="$softhsm_module" STRONGBOX_PKCS11_TOKEN=strongbox-test STRONGBOX_PKCS11_PIN="$hsm_pin"
    echo "SoftHSM2: token 'strongbox-test' in $hsm_dir"
fi

# PostgreSQL: use the one given (or the local one); on a fresh Debian machine install and start
# one, with a password for TCP logins.
export STRONGBOX_TEST_POSTGRES_URL="${STRONGBOX_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_up() { python3 - "$STRONGBOX_TEST_POSTGRES_URL" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.socket(); s.settimeout(2)
try:
    s.connect((u.hostname or "127.0.0.1", u.port or 5432)); print("up")
except OSError:
    print("down")
PY
}
step "PostgreSQL at ${STRONGBOX_TEST_POSTGRES_URL%%@*}@…"
if [[ "$(pg_up)" != "up" ]] && is_root; then
    echo "no PostgreSQL reachable: installing and starting the Debian server"
    if apt_install postgresql; then
        ver="$(ls /etc/postgresql | sort -V | tail -n1)"
        pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
        su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'strongbox-test'\"" || true
        export STRONGBOX_TEST_POSTGRES_URL="postgres://postgres:strongbox-test@127.0.0.1:5432/postgres"
    fi
fi
echo "PostgreSQL: $(pg_up)"
# the replica test makes its own primary and standby clusters: it needs the server programs
pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1; }
if [[ ! -x "$(pg_bindir)/initdb" ]] && is_root; then
    apt_install postgresql || echo "PostgreSQL server programs unavailable: the replica test will fail if required"
fi
if [[ -x "$(pg_bindir)/initdb" ]]; then
    export STRONGBOX_PG_BINDIR="${STRONGBOX_PG_BINDIR:-$(pg_bindir)}"
    echo "PostgreSQL server programs: $STRONGBOX_PG_BINDIR"
fi

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
mkdir -p "$TARGET_DIR"
export STRONGBOX_BIN="${STRONGBOX_BIN:-$(cd "$TARGET_DIR" && pwd)/debug/strongbox}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "spell check (typos, _typos.toml)"
TYPOS_VENV="$TARGET_DIR/typos-venv"
if [[ ! -x "$TYPOS_VENV/bin/typos" ]]; then
    python3 -m venv "$TYPOS_VENV"
    "$TYPOS_VENV/bin/pip" install --quiet --disable-pip-version-check "typos==1.52.0"
fi
"$TYPOS_VENV/bin/typos" --format brief

# PyCryptodome: the independent implementation the Shamir shares are checked against
step "PyCryptodome for the Shamir cross-check (target/pycryptodome-venv)"
PYCRYPTODOME_VENV="$TARGET_DIR/pycryptodome-venv"
if [[ ! -x "$PYCRYPTODOME_VENV/bin/python" ]] || ! "$PYCRYPTODOME_VENV/bin/python" -c 'import Crypto.Protocol.SecretSharing' 2>/dev/null; then
    python3 -m venv "$PYCRYPTODOME_VENV"
    "$PYCRYPTODOME_VENV/bin/pip" install --quiet --disable-pip-version-check "pycryptodome==3.23.0"
fi
export STRONGBOX_PYCRYPTODOME_PYTHON="$(cd "$PYCRYPTODOME_VENV" && pwd)/bin/python"

step "cargo test (unit, router, integration, PostgreSQL, kill -9, Rust SDK)"
cargo build -p strongbox-cli --quiet
set +e
cargo test --workspace >$TARGET_DIR/cargo-test.log 2>&1
rc=$?
set -e
grep -E '^(test result|     Running|SKIPPED|kill -9|failures:|---- )|panicked' $TARGET_DIR/cargo-test.log || true
if [[ $rc -ne 0 ]]; then
    tail -n 60 $TARGET_DIR/cargo-test.log
    echo "cargo test FAILED (exit $rc; full log: $TARGET_DIR/cargo-test.log)"
    exit 1
fi
cargo_passed=$(grep -oE 'test result: ok\. [0-9]+ passed' $TARGET_DIR/cargo-test.log | awk '{s+=$4} END {print s+0}')
echo "cargo test: ${cargo_passed} passed"

# Fuzzing: the stable smoke fuzzer (crates/crypto/tests/fuzz_smoke.rs) ran above with cargo test;
# with cargo-fuzz and a nightly toolchain, each libFuzzer target also runs for a short time
# (STRONGBOX_FUZZ_SECONDS each, default 20; 0 skips). New corpus entries go to a temp folder, the
# seeds in fuzz/corpus stay untouched; a crash is saved under fuzz/artifacts/ and fails the run.
step "cargo fuzz (short libFuzzer runs)"
fuzz_secs="${STRONGBOX_FUZZ_SECONDS:-20}"
if [[ "$fuzz_secs" == "0" ]]; then
    echo "SKIPPED: cargo fuzz (STRONGBOX_FUZZ_SECONDS=0; the stable smoke fuzzer still ran)"
elif cargo +nightly fuzz --version >/dev/null 2>&1; then
    fuzz_start=$SECONDS
    cargo +nightly fuzz build --fuzz-dir fuzz 2>&1 | tail -n 3
    for target in jwk_import decrypt jws_verify; do
        fuzz_new="$(mktemp -d)"
        fuzz_dict=()
        [[ -f "fuzz/$target.dict" ]] && fuzz_dict=("-dict=fuzz/$target.dict")
        if ! cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$fuzz_new" "fuzz/corpus/$target" -- \
            -max_total_time="$fuzz_secs" -timeout=10 -print_final_stats=1 "${fuzz_dict[@]}" \
            >"$TARGET_DIR/fuzz-$target.log" 2>&1; then
            rm -rf "$fuzz_new"
            tail -n 40 "$TARGET_DIR/fuzz-$target.log"
            echo "cargo fuzz $target FAILED (full log: $TARGET_DIR/fuzz-$target.log; reproducer in fuzz/artifacts/$target/)"
            exit 1
        fi
        rm -rf "$fuzz_new"
        echo "fuzz $target: $(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$TARGET_DIR/fuzz-$target.log" | grep -oE '[0-9]+$') runs in ${fuzz_secs}s, no crash"
    done
    echo "cargo fuzz: done in $((SECONDS - fuzz_start))s"
else
    echo "SKIPPED: cargo-fuzz not installed (the stable smoke fuzzer still ran)"
fi

if [[ "${STRONGBOX_SKIP_COMPAT:-0}" == "1" ]]; then
    echo "SKIPPED: Python SDK compatibility tier (STRONGBOX_SKIP_COMPAT=1)"
    compat_passed=0
else
    step "Python SDK compatibility tier (azure-identity + azure-keyvault-secrets over HTTPS)"
    bash compat/run.sh 2>&1 | tee $TARGET_DIR/compat.log
    compat_passed=$(grep -oE '^[0-9]+ passed' $TARGET_DIR/compat.log | tail -n1 | awk '{print $1}')
    compat_passed=${compat_passed:-0}
    # the same tier once more against an operator certificate (OpenSSL-made RSA-2048 chain) for
    # non-localhost names, resolved by /etc/hosts lines the pass adds and removes (root only)
    step "Python SDK compatibility tier, operator certificate and host names"
    STRONGBOX_COMPAT_OPERATOR_CERT=1 bash compat/run.sh 2>&1 | tee $TARGET_DIR/compat-operator.log
    op_passed=$(grep -oE '^[0-9]+ passed' $TARGET_DIR/compat-operator.log | tail -n1 | awk '{print $1}')
    compat_passed=$((compat_passed + ${op_passed:-0}))
fi

echo
echo "all: $((cargo_passed + compat_passed)) passed, 0 failed"
