"""Secure key release through the official azure-keyvault-keys SDK: an exportable key with a
release policy, an attestation authority registered with the CLI (static JWKS), an attestation
token signed here, and the released key unwrapped and checked with `cryptography`."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.keys import KeyClient, KeyReleasePolicy
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

from conftest import Server


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _int_b64u(n: int) -> str:
    return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def cli_json(server: Server, *args: str):
    out = server.cli(*args, "--bootstrap", str(server.bootstrap_path))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


class Authority:
    """A local attestation authority: an RSA key that signs RS256 attestation tokens."""

    def __init__(self) -> None:
        self.issuer = f"https://attest-{uuid.uuid4().hex[:8]}.compat.example"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "att-1"

    def jwks(self) -> dict:
        n = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "kid": self.kid, "n": _int_b64u(n.n), "e": _int_b64u(n.e)}]}

    def token(self, claims: dict) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(claims).encode())}"
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64u(sig)}"


def cvm_claims(issuer: str, runtime: rsa.RSAPrivateKey, tee: str = "sevsnpvm") -> dict:
    now = int(time.time())
    n = runtime.public_key().public_numbers()
    return {
        "iss": issuer, "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex,
        "x-ms-isolation-tee": {"x-ms-attestation-type": tee, "x-ms-compliance-status": "azure-compliant-cvm"},
        "x-ms-runtime": {"keys": [{"kty": "RSA", "kid": "TpmEphemeralEncryptionKey", "key_ops": ["encrypt"],
                                   "n": _int_b64u(n.n), "e": _int_b64u(n.e)}]},
    }


def policy_doc(issuer: str) -> dict:
    return {"version": "1.0.0", "anyOf": [{"authority": issuer, "allOf": [
        {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
        {"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"},
    ]}]}


def unwrap(jws: str, runtime: rsa.RSAPrivateKey) -> tuple[dict, bytes]:
    """The release payload and the unwrapped key material (CKM_RSA_AES_KEY_WRAP family)."""
    payload = json.loads(unb64u(jws.split(".")[1]))
    enc = payload["request"]["enc"]
    blob = json.loads(unb64u(payload["response"]["key"]["key"]["key_hsm"]))
    assert blob["header"]["enc"] == enc and blob["header"]["kid"] == "TpmEphemeralEncryptionKey"
    ct = unb64u(blob["ciphertext"])
    size = runtime.key_size // 8
    hash_alg = {"CKM_RSA_AES_KEY_WRAP": hashes.SHA1(), "RSA_AES_KEY_WRAP_256": hashes.SHA256(),
                "RSA_AES_KEY_WRAP_384": hashes.SHA384()}[enc]
    aes_key = runtime.decrypt(ct[:size], padding.OAEP(mgf=padding.MGF1(hash_alg), algorithm=hash_alg, label=None))
    return payload, aes_key_unwrap_with_padding(aes_key, ct[size:])


@pytest.fixture(scope="module")
def keys(server: Server) -> KeyClient:
    return KeyClient(server.vault_url, server.credential(), connection_verify=server.ca_file)


@pytest.fixture(scope="module")
def authority(server: Server, tmp_path_factory) -> Authority:
    a = Authority()
    f = tmp_path_factory.mktemp("att") / "jwks.json"
    f.write_text(json.dumps(a.jwks()))
    reg = cli_json(server, "ad", "attestation-authority", "create", "--name", f"maa-{uuid.uuid4().hex[:6]}",
                   "--authority", a.issuer, "--jwks-file", str(f))
    assert reg["keyIds"] == ["att-1"]
    return a


def test_release_with_the_sdk_and_unwrap_with_cryptography(keys: KeyClient, authority: Authority):
    name = f"skr-{uuid.uuid4().hex[:10]}"
    policy = KeyReleasePolicy(json.dumps(policy_doc(authority.issuer)).encode())
    key = keys.create_rsa_key(name, size=2048, exportable=True, release_policy=policy)
    assert key.properties.exportable is True
    assert json.loads(key.properties.release_policy.encoded_policy) == policy_doc(authority.issuer)
    assert key.properties.release_policy.immutable is False

    runtime = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    result = keys.release_key(name, authority.token(cvm_claims(authority.issuer, runtime)))
    payload, material = unwrap(result.value, runtime)
    assert payload["request"]["kid"] == key.id
    released = serialization.load_der_private_key(material, password=None)
    assert isinstance(released, rsa.RSAPrivateKey)
    assert released.public_key().public_numbers().n == int.from_bytes(key.key.n, "big")
    assert released.public_key().public_numbers().e == int.from_bytes(key.key.e, "big")

    # a specific version, another wrapping algorithm
    result = keys.release_key(name, authority.token(cvm_claims(authority.issuer, runtime)),
                              version=key.properties.version, algorithm="RSA_AES_KEY_WRAP_256")
    payload, material = unwrap(result.value, runtime)
    assert payload["request"]["enc"] == "RSA_AES_KEY_WRAP_256"
    again = serialization.load_der_private_key(material, password=None)
    assert again.private_numbers() == released.private_numbers()


def test_release_of_an_ec_key(keys: KeyClient, authority: Authority):
    name = f"skr-ec-{uuid.uuid4().hex[:8]}"
    policy = KeyReleasePolicy(json.dumps(policy_doc(authority.issuer)).encode(), immutable=True)
    key = keys.create_ec_key(name, curve="P-256", exportable=True, release_policy=policy)
    runtime = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    result = keys.release_key(name, authority.token(cvm_claims(authority.issuer, runtime)))
    _, material = unwrap(result.value, runtime)
    released = serialization.load_der_private_key(material, password=None)
    assert isinstance(released, ec.EllipticCurvePrivateKey)
    assert released.public_key().public_numbers().x == int.from_bytes(key.key.x, "big")
    # the immutable policy cannot be replaced
    with pytest.raises(HttpResponseError) as e:
        other = Authority()
        keys.update_key_properties(name, release_policy=KeyReleasePolicy(json.dumps(policy_doc(other.issuer)).encode()))
    assert e.value.status_code == 400 and "immutable" in str(e.value.message)


def test_release_refusals(keys: KeyClient, authority: Authority):
    name = f"skr-no-{uuid.uuid4().hex[:8]}"
    keys.create_rsa_key(name, size=2048, exportable=True,
                        release_policy=KeyReleasePolicy(json.dumps(policy_doc(authority.issuer)).encode()))
    runtime = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # claims that do not satisfy the policy
    with pytest.raises(HttpResponseError) as e:
        keys.release_key(name, authority.token(cvm_claims(authority.issuer, runtime, tee="tdxvm")))
    assert e.value.status_code == 403 and e.value.error.code == "Forbidden"
    # a token signed by someone else
    forger = Authority()
    forger.issuer = authority.issuer
    with pytest.raises(HttpResponseError) as e:
        keys.release_key(name, forger.token(cvm_claims(authority.issuer, runtime)))
    assert e.value.status_code == 403
    # a token serves one release: replaying it is refused
    token = authority.token(cvm_claims(authority.issuer, runtime))
    keys.release_key(name, token)
    with pytest.raises(HttpResponseError) as e:
        keys.release_key(name, token)
    assert e.value.status_code == 403 and "already been used" in str(e.value.message)
    # a long-lived token (9 hours) is refused
    long_lived = cvm_claims(authority.issuer, runtime)
    long_lived["exp"] = long_lived["iat"] + 9 * 3600
    with pytest.raises(HttpResponseError) as e:
        keys.release_key(name, authority.token(long_lived))
    assert e.value.status_code == 403 and "8 hours" in str(e.value.message)
    # a flat claim named like the policy's dotted path, next to a nested one that fails the policy
    both = cvm_claims(authority.issuer, runtime, tee="tdxvm")
    both["x-ms-isolation-tee.x-ms-attestation-type"] = "sevsnpvm"
    with pytest.raises(HttpResponseError) as e:
        keys.release_key(name, authority.token(both))
    assert e.value.status_code == 403 and "dotted name" in str(e.value.message)
    # exportable without a policy
    with pytest.raises(HttpResponseError) as e:
        keys.create_rsa_key(f"skr-bad-{uuid.uuid4().hex[:6]}", size=2048, exportable=True)
    assert e.value.status_code == 400 and e.value.error.code == "BadParameter"


def test_cli_create_and_release(server: Server, authority: Authority, tmp_path):
    name = f"skr-cli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "policy.json").write_text(json.dumps(policy_doc(authority.issuer)))
    created = cli_json(server, "key", "create", "--vault-name", "default", "--name", name, "--exportable",
                       "--release-policy", str(tmp_path / "policy.json"))
    assert created["attributes"]["exportable"] is True
    runtime = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "token.jwt").write_text(authority.token(cvm_claims(authority.issuer, runtime)))
    out = cli_json(server, "key", "release", "--vault-name", "default", "--name", name,
                   "--target", str(tmp_path / "token.jwt"))
    _, material = unwrap(out["value"], runtime)
    released = serialization.load_der_private_key(material, password=None)
    assert b64u(released.public_key().public_numbers().n.to_bytes(256, "big")) == created["key"]["n"]
