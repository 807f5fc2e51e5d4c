"""A corporate IdP's user tokens used directly with the official SecretClient: a TokenCredential-like
object returns RS256 tokens signed locally (cryptography only) by a key that plays the IdP; the
issuer is registered with `strongbox ad trusted-issuer create --accept-user-tokens` and its tokens
are mapped to a Strongbox user by the `upn` claim."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import Server
from test_identity import cli_json, grant_secrets_user

APP_AUD = "api://strongbox-compat"


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


class CorpIdp:
    """The IdP: an RSA key, its JWKS and RS256 token signing."""

    def __init__(self, issuer: str, kid: str = "corp-rsa-1"):
        self.issuer = issuer
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict:
        pub = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                          "n": b64u(_int_bytes(pub.n)), "e": b64u(_int_bytes(pub.e))}]}

    def token(self, upn: str, aud: str = APP_AUD, exp_in: int = 3600, amr=("pwd", "mfa"),
              extra: dict | None = None) -> tuple[str, int]:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        body = {"iss": self.issuer, "aud": aud, "sub": f"sub-{upn}", "oid": str(uuid.uuid4()), "upn": upn,
                "name": upn.split("@")[0], "iat": now, "nbf": now, "exp": now + exp_in, "amr": list(amr),
                "ver": "1.0", **(extra or {})}
        signing_input = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(body).encode())}"
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64u(sig)}", now + exp_in


class CorpIdpCredential:
    """What an app holding a corporate IdP token would pass to the SDK (azure-core TokenCredential)."""

    def __init__(self, idp: CorpIdp, upn: str, **token_args):
        self.idp, self.upn, self.token_args = idp, upn, token_args
        self.calls = 0

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        self.calls += 1
        token, expires_on = self.idp.token(self.upn, **self.token_args)
        return AccessToken(token, expires_on)


def _register(server: Server, tmp_path, idp: CorpIdp, name: str, domain: str) -> dict:
    (tmp_path / f"{name}.json").write_text(json.dumps(idp.jwks()))
    return cli_json(server, "ad", "trusted-issuer", "create", "--name", name, "--issuer", idp.issuer,
                    "--jwks-file", str(tmp_path / f"{name}.json"), "--accept-user-tokens",
                    "--audience", APP_AUD, "--user-claim", "upn", "--domain", domain)


def test_corporate_idp_tokens_with_secret_client(server: Server, client, tmp_path):
    idp = CorpIdp(f"https://login.corp.example/{uuid.uuid4()}/v2.0")
    name = f"corp{uuid.uuid4().hex[:8]}"
    domain = f"corp-{uuid.uuid4().hex[:8]}.example"
    got = _register(server, tmp_path, idp, name, domain)
    assert got["acceptUserTokens"] is True
    assert got["userTokens"] == {"audiences": [APP_AUD], "userClaim": "upn", "principalMapping": "user",
                                 "domains": [domain]}
    # one issuer URL, one registration (a second name would share its external principal ids)
    dup = server.cli("ad", "trusted-issuer", "create", "--name", f"{name}-again", "--issuer", idp.issuer,
                     "--jwks-file", str(tmp_path / f"{name}.json"), "--bootstrap", str(server.bootstrap_path))
    assert dup.returncode != 0 and "already registered" in dup.stderr and "409" in dup.stderr, dup.stderr

    upn = f"dana-{uuid.uuid4().hex[:6]}@{domain}"
    (tmp_path / "pw").write_text("a long and correct password")
    user = cli_json(server, "ad", "user", "create", "--upn", upn, "--password-file", str(tmp_path / "pw"))
    client.set_secret("corp-idp", "from-the-idp")
    grant_secrets_user(server, user["objectId"], "/secrets/corp-idp")

    cred = CorpIdpCredential(idp, upn)
    sc = server.secret_client(credential=cred)
    assert sc.get_secret("corp-idp").value == "from-the-idp"
    assert cred.calls >= 1
    with pytest.raises(HttpResponseError) as e:
        sc.get_secret("ident-wl-not-granted")
    assert e.value.status_code == 403, "RBAC applies to the mapped user"

    def rejected(credential) -> str:
        with pytest.raises(ClientAuthenticationError) as e:
            server.secret_client(credential=credential).get_secret("corp-idp")
        assert e.value.status_code == 401
        return str(e.value)

    assert "Invalid audience" in rejected(CorpIdpCredential(idp, upn, aud="api://someone-else"))
    assert "Token is expired" in rejected(CorpIdpCredential(idp, upn, exp_in=-600))
    assert "lifetime exceeds" in rejected(CorpIdpCredential(idp, upn, exp_in=25 * 3600)), "at most 24 h"
    assert "not known to this directory" in rejected(CorpIdpCredential(idp, f"nobody-{uuid.uuid4().hex[:6]}@{domain}"))
    # a local user of another domain (e.g. an administrator) cannot be signed in by this IdP
    other = f"ops-{uuid.uuid4().hex[:6]}@strongbox-{uuid.uuid4().hex[:6]}.local"
    cli_json(server, "ad", "user", "create", "--upn", other, "--password-file", str(tmp_path / "pw"))
    assert "outside the domains" in rejected(CorpIdpCredential(idp, other))
    assert "Invalid issuer" in rejected(CorpIdpCredential(CorpIdp("https://unknown.example/v2.0"), upn))
    forger = CorpIdp(idp.issuer, kid=idp.kid)
    assert "signature validation failed" in rejected(CorpIdpCredential(forger, upn))

    # turned off with the CLI: new tokens of the issuer are refused; back on, accepted again
    off = cli_json(server, "ad", "trusted-issuer", "update", "--name", name, "--no-user-tokens")
    assert off["acceptUserTokens"] is False
    assert "Invalid issuer" in rejected(CorpIdpCredential(idp, upn))
    cli_json(server, "ad", "trusted-issuer", "update", "--name", name, "--accept-user-tokens",
             "--audience", APP_AUD, "--user-claim", "upn", "--domain", domain)
    assert server.secret_client(credential=CorpIdpCredential(idp, upn)).get_secret("corp-idp").value == "from-the-idp"

    # a disabled user is refused
    cli_json(server, "ad", "user", "update", "--id", upn, "--account-enabled", "false")
    assert "disabled or deleted" in rejected(CorpIdpCredential(idp, upn))
    cli_json(server, "ad", "trusted-issuer", "delete", "--name", name)


def test_corporate_idp_group_claim_maps_to_a_strongbox_group(server: Server, client, tmp_path):
    """`--group-claim groups --group-map VALUE=GROUP`: the role assigned to the Strongbox group
    applies to IdP people whose token lists VALUE; no local user or membership is needed."""
    idp = CorpIdp(f"https://login.corp.example/{uuid.uuid4()}/v2.0")
    name = f"corpg{uuid.uuid4().hex[:8]}"
    group = cli_json(server, "ad", "group", "create", "--display-name", f"idp-eng-{uuid.uuid4().hex[:6]}")
    idp_value = str(uuid.uuid4())  # an Entra-style group object id of the IdP
    (tmp_path / f"{name}.json").write_text(json.dumps(idp.jwks()))
    got = cli_json(server, "ad", "trusted-issuer", "create", "--name", name, "--issuer", idp.issuer,
                   "--jwks-file", str(tmp_path / f"{name}.json"), "--accept-user-tokens", "--audience", APP_AUD,
                   "--user-claim", "upn", "--principal-mapping", "external",
                   "--group-claim", "groups", "--group-map", f"{idp_value}={group['displayName']}")
    assert got["userTokens"]["groupClaim"] == "groups"
    assert got["userTokens"]["groupMap"] == {idp_value: group["id"]}, "the group name is stored as its id"
    client.set_secret("corp-idp-group", "for-engineers")
    grant_secrets_user(server, group["id"], "/secrets/corp-idp-group")

    upn = f"erin-{uuid.uuid4().hex[:6]}@corp.example"
    member = CorpIdpCredential(idp, upn, extra={"groups": ["some-other-group", idp_value]})
    assert server.secret_client(credential=member).get_secret("corp-idp-group").value == "for-engineers"

    def forbidden(credential) -> None:
        with pytest.raises(HttpResponseError) as e:
            server.secret_client(credential=credential).get_secret("corp-idp-group")
        assert e.value.status_code == 403

    forbidden(CorpIdpCredential(idp, upn))  # the same person without the group claim
    forbidden(CorpIdpCredential(idp, upn, extra={"groups": [group["id"], group["displayName"]]}))  # unmapped values

    # a map entry must name an existing Strongbox group
    out = server.cli("ad", "trusted-issuer", "update", "--name", name, "--accept-user-tokens", "--audience", APP_AUD,
                     "--user-claim", "upn", "--principal-mapping", "external", "--group-claim", "groups",
                     "--group-map", f"{idp_value}={uuid.uuid4()}", "--bootstrap", str(server.bootstrap_path))
    assert out.returncode != 0 and "does not exist" in out.stderr + out.stdout
    cli_json(server, "ad", "trusted-issuer", "delete", "--name", name)
