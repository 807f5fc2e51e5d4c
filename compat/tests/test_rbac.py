"""RBAC through the official KeyVaultAccessControlClient (azure-keyvault-administration) and
SecretClient: a second, low-privilege service principal gets exactly what it is assigned."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.administration import KeyVaultAccessControlClient, KeyVaultRoleScope

from conftest import Server

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def _oid(credential, scope: str) -> str:
    token = credential.get_token(scope).token
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))["oid"]


@pytest.fixture(scope="module")
def reader(server: Server):
    """A second service principal, created by the administrator with the CLI."""
    out = server.cli("ad", "sp", "create-for-rbac", "--name", f"reader-{uuid.uuid4().hex[:6]}",
                     "--bootstrap", str(server.bootstrap_path))
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    cred = ClientSecretCredential(server.tenant_id, info["appId"], info["password"], authority=server.authority,
                                  disable_instance_discovery=True, connection_verify=server.ca_file)
    return cred


def test_role_definitions_and_assignments_through_the_sdk(server: Server):
    client = KeyVaultAccessControlClient(server.vault_url, server.credential(), connection_verify=server.ca_file)
    defs = list(client.list_role_definitions(KeyVaultRoleScope.GLOBAL))
    names = {d.role_name for d in defs}
    assert {"Key Vault Administrator", "Key Vault Secrets User", "Key Vault Crypto User"} <= names
    secrets_user = next(d for d in defs if d.role_name == "Key Vault Secrets User")
    assert secrets_user.name == SECRETS_USER
    assert any(p.data_actions for p in secrets_user.permissions)

    principal = str(uuid.uuid4())
    name = uuid.uuid4()
    created = client.create_role_assignment("/secrets/only-this", secrets_user.id, principal, name=name)
    assert created.properties.principal_id == principal
    assert created.properties.scope == "/secrets/only-this"
    got = client.get_role_assignment("/secrets/only-this", name)
    assert got.name == str(name)
    listed = list(client.list_role_assignments(KeyVaultRoleScope.GLOBAL))
    assert any(a.name == str(name) for a in listed)
    client.delete_role_assignment("/secrets/only-this", name)
    with pytest.raises(ResourceNotFoundError):
        client.get_role_assignment("/secrets/only-this", name)


def test_second_principal_gets_exactly_its_assignment(server: Server, client, reader):
    admin_rbac = KeyVaultAccessControlClient(server.vault_url, server.credential(), connection_verify=server.ca_file)
    client.set_secret("rbac-one", "1")
    client.set_secret("rbac-two", "2")
    rc = server.secret_client(credential=reader)
    with pytest.raises(HttpResponseError) as e:
        rc.get_secret("rbac-one")
    assert e.value.status_code == 403
    oid = _oid(reader, f"https://vault.localhost{'' if server.port == 443 else f':{server.port}'}/.default")
    a = admin_rbac.create_role_assignment("/secrets/rbac-one", SECRETS_USER, oid)
    assert rc.get_secret("rbac-one").value == "1"
    with pytest.raises(HttpResponseError) as e:
        rc.get_secret("rbac-two")
    assert e.value.status_code == 403
    admin_rbac.delete_role_assignment("/secrets/rbac-one", a.name)
    with pytest.raises(HttpResponseError) as e:
        rc.get_secret("rbac-one")
    assert e.value.status_code == 403
