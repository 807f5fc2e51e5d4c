"""Session fixtures for the compat tier.

One Strongbox server is started per test session with a fresh data directory.
Credentials and clients are built exactly as a user of the official Azure SDK
for Python would build them (see /work/shared/api/sdk-wire-traces.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

COMPAT_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = COMPAT_DIR.parent
READY_TIMEOUT_S = 30.0
# The operator-certificate pass (run.sh) sets these: vault host suffix, public host and a
# folder with server.pem (chain), server-key.pem and root.pem made by OpenSSL.
DNS_SUFFIX = os.environ.get("STRONGBOX_COMPAT_DNS_SUFFIX", "vault.localhost")
PUBLIC_HOST = os.environ.get("STRONGBOX_COMPAT_PUBLIC_HOST", "localhost")
TLS_DIR = os.environ.get("STRONGBOX_COMPAT_TLS_DIR", "")

# Vault names the tests use besides "default"; run.sh keeps the same list for
# its /etc/hosts fallback.
SECOND_VAULT = "compat2"


def _default_port() -> int:
    return 443 if os.geteuid() == 0 else 8443


@dataclass
class Server:
    binary: Path
    port: int
    data_dir: Path
    bootstrap_path: Path
    bootstrap: dict
    log_path: Path

    @property
    def tenant_id(self) -> str:
        return self.bootstrap["tenant_id"]

    @property
    def client_id(self) -> str:
        return self.bootstrap["client_id"]

    @property
    def client_secret(self) -> str:
        return self.bootstrap["client_secret"]

    @property
    def authority(self) -> str:
        return self.bootstrap["authority"]

    @property
    def vault_url(self) -> str:
        return self.bootstrap["vault_url"]

    @property
    def resource(self) -> str:
        return self.bootstrap["resource"]

    @property
    def ca_file(self) -> str:
        return self.bootstrap["ca_file"]

    def vault_url_for(self, name: str) -> str:
        port = "" if self.port == 443 else f":{self.port}"
        return f"https://{name}.{DNS_SUFFIX}{port}"

    def credential(self, client_secret: str | None = None) -> ClientSecretCredential:
        """The credential exactly as a user builds it (custom authority, own CA)."""
        return ClientSecretCredential(
            self.tenant_id,
            self.client_id,
            client_secret if client_secret is not None else self.client_secret,
            authority=self.authority,
            disable_instance_discovery=True,
            connection_verify=self.ca_file,
        )

    def secret_client(self, vault_url: str | None = None, credential=None, **kwargs) -> SecretClient:
        return SecretClient(
            vault_url or self.vault_url,
            credential if credential is not None else self.credential(),
            connection_verify=self.ca_file,
            **kwargs,
        )

    def cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no server log>"


def _wait_ready(proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        if any("ready" in line for line in text.splitlines()) and (log_path.parent / "data" / "bootstrap.json").exists():
            return
        if proc.poll() is not None:
            raise RuntimeError(
                f"strongbox server exited with code {proc.returncode} before becoming ready:\n{text}"
            )
        time.sleep(0.05)
    raise RuntimeError(f"strongbox server not ready after {timeout:.0f}s:\n{log_path.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server() -> Server:
    binary = Path(os.environ.get("STRONGBOX_BIN", REPO_ROOT / "target" / "debug" / "strongbox")).resolve()
    if not binary.is_file():
        pytest.exit(f"strongbox binary not found at {binary} (set STRONGBOX_BIN)", returncode=3)
    port = int(os.environ.get("STRONGBOX_COMPAT_PORT", _default_port()))

    tmp = Path(tempfile.mkdtemp(prefix="strongbox-compat-"))
    data_dir = tmp / "data"  # does not exist yet: the server creates it
    log_path = tmp / "server.log"

    env = dict(os.environ)
    for var in ("STRONGBOX_DATA_DIR", "STRONGBOX_LISTEN", "STRONGBOX_DNS_SUFFIX", "STRONGBOX_PUBLIC_HOST",
                "STRONGBOX_AUTHORITY_HOST", "STRONGBOX_PUBLIC_PORT", "STRONGBOX_TLS_CERT", "STRONGBOX_TLS_KEY",
                "STRONGBOX_TLS_CA", "STRONGBOX_TLS_CLIENT_CA", "STRONGBOX_CONFIG"):
        env.pop(var, None)
    env.setdefault("RUST_LOG", "info")

    tls_flags = []
    if TLS_DIR:
        tls_flags = [
            "--tls-cert", os.path.join(TLS_DIR, "server.pem"),
            "--tls-key", os.path.join(TLS_DIR, "server-key.pem"),
            "--tls-ca", os.path.join(TLS_DIR, "root.pem"),
        ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(binary),
                "server",
                "--data-dir", str(data_dir),
                "--listen", f"127.0.0.1:{port}",
                "--listen", f"[::1]:{port}",
                "--dns-suffix", DNS_SUFFIX,
                "--public-host", PUBLIC_HOST,
                *tls_flags,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        try:
            _wait_ready(proc, log_path, READY_TIMEOUT_S)
        except RuntimeError as e:
            pytest.exit(str(e), returncode=1)
        bootstrap_path = data_dir / "bootstrap.json"
        bootstrap = json.loads(bootstrap_path.read_text())
        # the names clients are given are the configured ones (operator-certificate pass too)
        port_part = "" if port == 443 else f":{port}"
        assert bootstrap["vault_url"] == f"https://default.{DNS_SUFFIX}{port_part}", bootstrap["vault_url"]
        assert bootstrap["authority"] == f"https://{PUBLIC_HOST}{port_part}", bootstrap["authority"]
        srv = Server(
            binary=binary,
            port=port,
            data_dir=data_dir,
            bootstrap_path=bootstrap_path,
            bootstrap=bootstrap,
            log_path=log_path,
        )
        yield srv
    finally:
        _stop(proc)
        # Keep the last server log next to the tests for post-mortems.
        try:
            shutil.copyfile(log_path, COMPAT_DIR / ".server.log")
        except OSError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def client(server: Server) -> SecretClient:
    """SecretClient for the default vault, default api-version."""
    return server.secret_client()


@pytest.fixture
def name(request) -> str:
    """A secret name unique to this test (names: 1-127 chars of [0-9a-zA-Z-])."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60].strip("-")
    return f"{base}-{uuid.uuid4().hex[:10]}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        srv = getattr(item, "funcargs", {}).get("server")  # fixture closure includes "server"
        if isinstance(srv, Server):
            report.sections.append(("strongbox server log (tail)", srv.log_tail()))
