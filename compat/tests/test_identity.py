"""Identity through the official azure-identity credentials: ClientSecretCredential with rotated
secrets, CertificateCredential (an RS256 client assertion signed by MSAL with a registered
certificate), WorkloadIdentityCredential (a federated token file from a locally generated trusted
issuer), and revocation. Principals are managed with the `strongbox ad` CLI."""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    CertificateCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from azure.keyvault.administration import KeyVaultAccessControlClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from conftest import Server

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cli_json(server: Server, *args: str) -> dict | list | None:
    out = server.cli(*args, "--bootstrap", str(server.bootstrap_path))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def scope(server: Server) -> str:
    return f"{server.resource}/.default"


def claims(token: str) -> dict:
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def grant_secrets_user(server: Server, object_id: str, secret_scope: str) -> None:
    rbac = KeyVaultAccessControlClient(server.vault_url, server.credential(), connection_verify=server.ca_file)
    rbac.create_role_assignment(secret_scope, SECRETS_USER, object_id)


def secret_cred(server: Server, app: str, secret: str) -> ClientSecretCredential:
    return ClientSecretCredential(server.tenant_id, app, secret, authority=server.authority,
                                  disable_instance_discovery=True, connection_verify=server.ca_file)


def test_rotated_client_secrets_and_revocation(server: Server, client):
    sp = cli_json(server, "ad", "sp", "create-for-rbac", "--name", f"rot-{uuid.uuid4().hex[:6]}")
    app, first = sp["appId"], sp["password"]
    reset = cli_json(server, "ad", "sp", "credential", "reset", "--id", app, "--append")
    second, second_id = reset["password"], reset["keyId"]
    listed = cli_json(server, "ad", "sp", "credential", "list", "--id", app)
    assert len(listed["value"]) == 2
    assert first not in json.dumps(listed) and second not in json.dumps(listed)
    first_id = next(c["keyId"] for c in listed["value"] if c["keyId"] != second_id)

    client.set_secret("ident-rot", "v")
    grant_secrets_user(server, sp["objectId"], "/secrets/ident-rot")
    for pw in (first, second):
        assert server.secret_client(credential=secret_cred(server, app, pw)).get_secret("ident-rot").value == "v"

    # remove the first secret: the second keeps working, the first is refused
    cli_json(server, "ad", "sp", "credential", "delete", "--id", app, "--key-id", first_id)
    with pytest.raises(ClientAuthenticationError) as e:
        secret_cred(server, app, first).get_token(scope(server))
    assert "AADSTS7000215" in str(e.value)

    # disabling the principal: the SDK's cached token is rejected at once, new tokens refused
    sc = server.secret_client(credential=secret_cred(server, app, second))
    assert sc.get_secret("ident-rot").value == "v"
    cli_json(server, "ad", "sp", "disable", "--id", app)
    with pytest.raises(ClientAuthenticationError):
        sc.get_secret("ident-rot")
    with pytest.raises(ClientAuthenticationError) as e:
        secret_cred(server, app, second).get_token(scope(server))
    assert "AADSTS7000112" in str(e.value)
    cli_json(server, "ad", "sp", "enable", "--id", app)
    assert server.secret_client(credential=secret_cred(server, app, second)).get_secret("ident-rot").value == "v"

    # list, policy, delete through the CLI
    assert any(p["appId"] == app for p in cli_json(server, "ad", "sp", "list")["value"])
    assert cli_json(server, "ad", "policy", "show")["mfaRequiredForUsers"] is True
    cli_json(server, "ad", "sp", "delete", "--id", app)
    with pytest.raises(ClientAuthenticationError) as e:
        secret_cred(server, app, second).get_token(scope(server))
    assert "AADSTS700016" in str(e.value)


def test_certificate_credential(server: Server, client, tmp_path):
    sp = cli_json(server, "ad", "sp", "create-for-rbac", "--name", f"cert-{uuid.uuid4().hex[:6]}")
    app = sp["appId"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "compat-client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    both = tmp_path / "both.pem"
    both.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert_pem)
    up = cli_json(server, "ad", "sp", "credential", "upload-cert", "--id", app, "--cert", str(tmp_path / "cert.pem"))
    # the thumbprint the server computed equals the one cryptography computes
    assert up["customKeyIdentifier"] == cert.fingerprint(hashes.SHA1()).hex().upper()

    client.set_secret("ident-cert", "by-certificate")
    grant_secrets_user(server, sp["objectId"], "/secrets/ident-cert")
    cred = CertificateCredential(server.tenant_id, app, certificate_path=str(both), authority=server.authority,
                                 disable_instance_discovery=True, connection_verify=server.ca_file)
    assert server.secret_client(credential=cred).get_secret("ident-cert").value == "by-certificate"
    assert claims(cred.get_token(scope(server)).token)["appid"] == app

    # a certificate that is not registered: invalid_client
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(other.public_key())
                  .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                  .not_valid_after(now + datetime.timedelta(days=30)).sign(other, hashes.SHA256()))
    bad = tmp_path / "bad.pem"
    bad.write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()) + other_cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ClientAuthenticationError) as e:
        CertificateCredential(server.tenant_id, app, certificate_path=str(bad), authority=server.authority,
                              disable_instance_discovery=True, connection_verify=server.ca_file).get_token(scope(server))
    assert "AADSTS700027" in str(e.value)


def test_workload_identity_credential(server: Server, client, tmp_path):
    sp = cli_json(server, "ad", "sp", "create-for-rbac", "--name", f"wl-{uuid.uuid4().hex[:6]}")
    app = sp["appId"]
    issuer = f"https://oidc.compat.example/{uuid.uuid4().hex[:8]}"
    key = ec.generate_private_key(ec.SECP256R1())
    nums = key.public_key().public_numbers()
    jwks = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
                      "x": b64u(nums.x.to_bytes(32, "big")), "y": b64u(nums.y.to_bytes(32, "big"))}]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    name = f"iss{uuid.uuid4().hex[:8]}"
    cli_json(server, "ad", "trusted-issuer", "create", "--name", name, "--issuer", issuer,
             "--jwks-file", str(tmp_path / "jwks.json"))
    subject = "system:serviceaccount:compat:web"
    fc = cli_json(server, "ad", "sp", "federated-credential", "create", "--id", app, "--name", "web",
                  "--issuer", issuer, "--subject", subject)
    assert fc["audiences"] == ["api://AzureADTokenExchange"]

    def token_file(sub: str, exp_in: int, signer=key) -> str:
        now = int(time.time())
        header = {"alg": "ES256", "typ": "JWT", "kid": "k1"}
        body = {"iss": issuer, "sub": sub, "aud": ["api://AzureADTokenExchange"], "iat": now, "nbf": now,
                "exp": now + exp_in, "jti": str(uuid.uuid4())}
        signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(body).encode())}"
        r, s = decode_dss_signature(signer.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        jwt = f"{signing_input}.{b64u(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
        path = tmp_path / f"token-{uuid.uuid4().hex[:6]}"
        path.write_text(jwt)
        return str(path)

    client.set_secret("ident-wl", "federated")
    grant_secrets_user(server, sp["objectId"], "/secrets/ident-wl")
    cred = WorkloadIdentityCredential(tenant_id=server.tenant_id, client_id=app,
                                      token_file_path=token_file(subject, 3600), authority=server.authority,
                                      connection_verify=server.ca_file)
    assert server.secret_client(credential=cred).get_secret("ident-wl").value == "federated"

    def fails(path: str) -> str:
        c = WorkloadIdentityCredential(tenant_id=server.tenant_id, client_id=app, token_file_path=path,
                                       authority=server.authority, connection_verify=server.ca_file)
        with pytest.raises(ClientAuthenticationError) as e:
            c.get_token(scope(server))
        return str(e.value)

    assert "AADSTS700213" in fails(token_file("system:serviceaccount:other:x", 3600))
    assert "AADSTS700024" in fails(token_file(subject, -600))
    assert "AADSTS700027" in fails(token_file(subject, 3600, signer=ec.generate_private_key(ec.SECP256R1())))


def _start_agent(server: Server, client_id: str, code: str, state: Path, rotate_every: int = 86400):
    env = dict(os.environ, STRONGBOX_ENROLLMENT_CODE=code)
    proc = subprocess.Popen(
        [str(server.binary), "agent", "--authority", server.authority, "--tenant", server.tenant_id,
         "--client-id", client_id, "--ca-file", server.ca_file, "--state-dir", str(state),
         "--listen", "127.0.0.1:0", "--rotate-every", str(rotate_every), "--cert-lifetime", "3600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True)
    found: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "IDENTITY_ENDPOINT" not in found:
        line = proc.stdout.readline()
        if not line:
            break
        assert "IDENTITY_HEADER" not in line, "the agent must not print its header"
        if line.startswith("IDENTITY_ENDPOINT="):
            found["IDENTITY_ENDPOINT"] = line.strip().split("=", 1)[1]
    if found:
        # the workload reads the rest of its environment from the agent's 0600 file
        env_file = state / "identity.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        for line in env_file.read_text().splitlines():
            k, v = line.split("=", 1)
            found[k] = v
    return proc, found


def test_managed_identity_through_the_agent(server: Server, client, tmp_path, monkeypatch):
    mi = cli_json(server, "ad", "identity", "create", "--name", f"mi-{uuid.uuid4().hex[:6]}")
    assert mi["enrollmentCode"] and mi["clientId"]
    proc, env = _start_agent(server, mi["clientId"], mi["enrollmentCode"], tmp_path / "agent", rotate_every=3)
    try:
        assert set(env) == {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"}, proc.stderr.read() if proc.poll() is not None else env
        # the workload: no secret, only the agent's endpoint
        monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
        monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
        client.set_secret("ident-mi", "managed")
        grant_secrets_user(server, mi["objectId"], "/secrets/ident-mi")
        cred = ManagedIdentityCredential()
        assert server.secret_client(credential=cred).get_secret("ident-mi").value == "managed"
        assert claims(cred.get_token(scope(server)).token)["appid"] == mi["clientId"]

        # without the header the agent refuses
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{env['IDENTITY_ENDPOINT']}?api-version=2019-08-01&resource=https://x")
        assert e.value.code == 401

        # the agent rotates its key by itself: a new certificate is registered, the previous kept
        shown = cli_json(server, "ad", "sp", "show", "--id", mi["clientId"])
        assert shown["servicePrincipalType"] == "ManagedIdentity"
        first = {c["customKeyIdentifier"] for c in shown["keyCredentials"]}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = {c["customKeyIdentifier"] for c in cli_json(server, "ad", "sp", "show", "--id", mi["clientId"])["keyCredentials"]}
            if now - first:
                break
            time.sleep(0.5)
        assert now - first, "no rotation seen"
        assert len(now) <= 2
        assert server.secret_client(credential=ManagedIdentityCredential()).get_secret("ident-mi").value == "managed"
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # the enrolment code was one-time
    proc2, env2 = _start_agent(server, mi["clientId"], mi["enrollmentCode"], tmp_path / "agent2", rotate_every=600)
    try:
        assert proc2.wait(timeout=30) != 0
        assert "AADSTS70000" in proc2.stderr.read()
    finally:
        if proc2.poll() is None:
            proc2.terminate()
            proc2.wait(timeout=10)


def _totp(secret_b32: str, t: float) -> str:
    import hashlib
    import hmac
    import struct

    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    off = mac[19] & 0x0F
    return f"{(struct.unpack('>I', mac[off:off + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


class _StaticToken:
    def __init__(self, token: str, expires_on: int):
        from azure.core.credentials import AccessToken
        self._t = AccessToken(token, expires_on)

    def get_token(self, *scopes, **kwargs):
        return self._t


def _approve(server: Server, url: str, code: str, upn: str, password: str, otp: str, action: str = "approve"):
    """The device-code page as a browser drives it: open it (CSRF cookie and token), enter the
    code, check which application asks, then sign in with the explicit confirmation."""
    import re

    import requests

    s = requests.Session()
    s.headers["Origin"] = server.authority
    v = server.ca_file  # per request: a session's verify loses to REQUESTS_CA_BUNDLE
    page = s.get(url, verify=v)
    assert page.status_code == 200 and code not in page.text
    csrf = re.search(r'name=csrf value="([^"]+)"', page.text).group(1)
    step = s.post(url, data={"csrf": csrf, "user_code": code, "step": "code"}, verify=v)
    assert step.status_code == 200 and "name=confirm" in step.text, step.text
    return s.post(url, data={"csrf": csrf, "user_code": code, "username": upn, "password": password, "otp": otp,
                             "confirm": "yes", "action": action}, verify=v)


def test_device_code_page_refuses_cross_site_posts(server: Server):
    import requests

    url = f"{server.authority}/{server.tenant_id}/oauth2/v2.0/deviceauth"
    r = requests.post(url, data={"user_code": "BCDF-GHJK", "step": "code"}, verify=server.ca_file,
                      headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    # an application that is not registered as a public client cannot start a device-code sign-in
    r = requests.post(f"{server.authority}/{server.tenant_id}/oauth2/v2.0/devicecode", verify=server.ca_file,
                      data={"client_id": str(uuid.uuid4()), "scope": scope(server)})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_strongbox_login_device_code_with_totp(server: Server, client, tmp_path):
    import re

    upn = f"carol-{uuid.uuid4().hex[:6]}@example.org"
    password = "a long and correct password"
    (tmp_path / "pw").write_text(password)
    user = cli_json(server, "ad", "user", "create", "--upn", upn, "--password-file", str(tmp_path / "pw"))
    secret = re.search(r"secret=([A-Z2-7]+)", user["otpauthUri"]).group(1)
    port = "" if server.port == 443 else f":{server.port}"
    out = tmp_path / "login.json"
    proc = subprocess.Popen(
        [str(server.binary), "login", "--authority", server.authority, "--tenant", server.tenant_id,
         "--resource", server.resource, "--ca-file", server.ca_file, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        line = proc.stderr.readline()
        m = re.search(r"open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})", line)
        assert m, line
        url, code = m.group(1), m.group(2)
        bad = _approve(server, url, code, upn, password,
                       "000000" if _totp(secret, time.time()) != "000000" else "111111")
        assert bad.status_code == 200 and "wrong" in bad.text
        ok = _approve(server, url, code, upn, password, _totp(secret, time.time()))
        assert "Signed in" in ok.text, ok.text
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    saved = json.loads(out.read_text())
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    c = claims(saved["access_token"])
    assert c["amr"] == ["pwd", "mfa"] and c["oid"] == user["objectId"]
    client.set_secret("ident-user", "for-carol")
    grant_secrets_user(server, user["objectId"], "/secrets/ident-user")
    sc = server.secret_client(credential=_StaticToken(saved["access_token"], int(saved["expires_on"])))
    assert sc.get_secret("ident-user").value == "for-carol"


def test_trusted_issuer_from_a_discovery_url(server: Server):
    import requests

    url = f"{server.authority}/{server.tenant_id}/v2.0/.well-known/openid-configuration"
    name = f"self{uuid.uuid4().hex[:6]}"
    out = subprocess.run(
        [str(server.binary), "ad", "trusted-issuer", "create", "--name", name, "--discovery-url", url,
         "--bootstrap", str(server.bootstrap_path)],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, STRONGBOX_CA_FILE=server.ca_file))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    jwks = requests.get(f"{server.authority}/{server.tenant_id}/discovery/v2.0/keys", verify=server.ca_file).json()
    assert got["issuer"] == f"{server.authority}/{server.tenant_id}/v2.0"
    assert sorted(got["keyIds"]) == sorted(k["kid"] for k in jwks["keys"])
    assert got["discoveryUrl"] == url
    cli_json(server, "ad", "trusted-issuer", "delete", "--name", name)


def test_device_code_credential_of_azure_identity(server: Server, client, tmp_path):
    import re

    from azure.identity import DeviceCodeCredential

    upn = f"dave-{uuid.uuid4().hex[:6]}@example.org"
    password = "another long password"
    (tmp_path / "pw").write_text(password)
    user = cli_json(server, "ad", "user", "create", "--upn", upn, "--password-file", str(tmp_path / "pw"))
    secret = re.search(r"secret=([A-Z2-7]+)", user["otpauthUri"]).group(1)
    seen = {}

    def approve(verification_uri: str, user_code: str, expires_on):
        seen["uri"] = verification_uri
        r = _approve(server, verification_uri, user_code, upn, password, _totp(secret, time.time()))
        assert "Signed in" in r.text, r.text

    cred = DeviceCodeCredential(tenant_id=server.tenant_id, authority=server.authority,
                                disable_instance_discovery=True, connection_verify=server.ca_file,
                                prompt_callback=approve)
    client.set_secret("ident-dave", "device")
    grant_secrets_user(server, user["objectId"], "/secrets/ident-dave")
    assert server.secret_client(credential=cred).get_secret("ident-dave").value == "device"
    assert seen["uri"].endswith("/oauth2/v2.0/deviceauth")
    # the SDK asked with CAE on; the same cache answers without another sign-in
    tok = cred.get_token(scope(server), enable_cae=True).token
    assert claims(tok)["amr"] == ["pwd", "mfa"] and claims(tok)["oid"] == user["objectId"]
