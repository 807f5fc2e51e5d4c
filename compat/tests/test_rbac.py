"""RBAC through the official KeyVaultAccessControlClient (azure-keyvault-administration) and
SecretClient: a second, low-privilege service principal gets exactly what it is assigned."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.keyvault.administration import KeyVaultAccessControlClient, KeyVaultPermission, KeyVaultRoleScope

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
    oid = _oid(reader, f"{server.resource}/.default")
    a = admin_rbac.create_role_assignment("/secrets/rbac-one", SECRETS_USER, oid)
    assert rc.get_secret("rbac-one").value == "1"
    with pytest.raises(HttpResponseError) as e:
        rc.get_secret("rbac-two")
    assert e.value.status_code == 403
    admin_rbac.delete_role_assignment("/secrets/rbac-one", a.name)
    with pytest.raises(HttpResponseError) as e:
        rc.get_secret("rbac-one")
    assert e.value.status_code == 403


def _sp(server: Server, name: str) -> dict:
    out = server.cli("ad", "sp", "create-for-rbac", "--name", f"{name}-{uuid.uuid4().hex[:6]}",
                     "--bootstrap", str(server.bootstrap_path))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _cli_as(server: Server, sp: dict, *args: str):
    """The CLI signed in as another service principal (AZURE_* variables, as a user would)."""
    env = dict(os.environ, AZURE_TENANT_ID=server.tenant_id, AZURE_CLIENT_ID=sp["appId"],
               AZURE_CLIENT_SECRET=sp["password"], AZURE_AUTHORITY_HOST=server.authority,
               STRONGBOX_CA_FILE=server.ca_file, STRONGBOX_VAULT_URL=server.vault_url)
    env.pop("STRONGBOX_BOOTSTRAP", None)
    return subprocess.run([str(server.binary), *args], capture_output=True, text=True, timeout=60, env=env,
                          check=False)


def test_custom_role_definition_through_the_sdk(server: Server):
    client = KeyVaultAccessControlClient(server.vault_url, server.credential(), connection_verify=server.ca_file)
    perms = [KeyVaultPermission(data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])]
    role = client.set_role_definition(KeyVaultRoleScope.GLOBAL, role_name=f"compat-reader-{uuid.uuid4().hex[:6]}",
                                      description="get secrets only", permissions=perms)
    assert role.role_type == "CustomRole"
    assert role.permissions[0].data_actions == ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]
    got = client.get_role_definition(KeyVaultRoleScope.GLOBAL, role.name)
    assert got.role_name == role.role_name
    assert any(d.name == role.name for d in client.list_role_definitions(KeyVaultRoleScope.GLOBAL))
    a = client.create_role_assignment("/secrets/custom-role-target", role.id, str(uuid.uuid4()))
    with pytest.raises(HttpResponseError) as e:
        client.delete_role_definition(KeyVaultRoleScope.GLOBAL, role.name)
    assert e.value.status_code == 409
    assert e.value.error.code == "RoleDefinitionHasAssignments"
    client.delete_role_assignment("/secrets/custom-role-target", a.name)
    client.delete_role_definition(KeyVaultRoleScope.GLOBAL, role.name)
    with pytest.raises(ResourceNotFoundError):
        client.get_role_definition(KeyVaultRoleScope.GLOBAL, role.name)


def test_just_in_time_activation_through_the_cli(server: Server, client):
    client.set_secret("pim-target", "jit")
    operator = _sp(server, "pim-operator")
    approver = _sp(server, "pim-approver")
    boot = ["--bootstrap", str(server.bootstrap_path)]
    out = server.cli("role", "eligible", "create", "--assignee", operator["objectId"], "--role",
                     "Key Vault Secrets User", "--scope", "/vaults/default", "--max-duration", "2h",
                     "--require-justification", "--approver", approver["objectId"], *boot)
    assert out.returncode == 0, out.stderr
    op_cred = ClientSecretCredential(server.tenant_id, operator["appId"], operator["password"],
                                     authority=server.authority, disable_instance_discovery=True,
                                     connection_verify=server.ca_file)
    op_client = server.secret_client(credential=op_cred)
    with pytest.raises(HttpResponseError) as e:
        op_client.get_secret("pim-target")
    assert e.value.status_code == 403

    # a justification is required
    out = _cli_as(server, operator, "role", "activate", "--role", "Key Vault Secrets User", "--scope",
                  "/vaults/default", "--duration", "1h")
    assert out.returncode != 0 and "justification" in out.stderr
    out = _cli_as(server, operator, "role", "activate", "--role", "Key Vault Secrets User", "--scope",
                  "/vaults/default", "--duration", "1h", "--justification", "INC-1234 rotate the database password")
    assert out.returncode == 0, out.stderr
    request = json.loads(out.stdout)
    assert request["status"] == "PendingApproval"
    with pytest.raises(HttpResponseError):
        op_client.get_secret("pim-target")

    # the requester cannot approve itself; the approver can
    out = _cli_as(server, operator, "role", "approve", request["id"])
    assert out.returncode != 0
    out = _cli_as(server, approver, "role", "approve", request["id"])
    assert out.returncode == 0, out.stderr
    active = json.loads(out.stdout)
    assert active["status"] == "Active"
    assert active["expires"] - active["activated"] == 3600
    assert op_client.get_secret("pim-target").value == "jit"

    out = _cli_as(server, operator, "role", "activation", "list")
    assert out.returncode == 0, out.stderr
    assert any(r["id"] == request["id"] and r["status"] == "Active" for r in json.loads(out.stdout)["value"])

    # early revoke ends the access at once
    out = _cli_as(server, operator, "role", "activation", "revoke", request["id"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "Revoked"
    with pytest.raises(HttpResponseError) as e:
        op_client.get_secret("pim-target")
    assert e.value.status_code == 403


def test_groups_and_access_policies_through_the_cli(server: Server, client):
    boot = ["--bootstrap", str(server.bootstrap_path)]
    member = _sp(server, "group-member")
    name = f"compat-group-{uuid.uuid4().hex[:6]}"
    out = server.cli("ad", "group", "create", "--display-name", name, *boot)
    assert out.returncode == 0, out.stderr
    group = json.loads(out.stdout)
    out = server.cli("ad", "group", "member", "add", "--group", name, "--member-id", member["objectId"], *boot)
    assert out.returncode == 0, out.stderr
    out = server.cli("role", "assignment", "create", "--assignee", group["id"], "--role", "Key Vault Secrets User",
                     "--scope", "/secrets/group-target", *boot)
    assert out.returncode == 0, out.stderr
    client.set_secret("group-target", "via-group")
    cred = ClientSecretCredential(server.tenant_id, member["appId"], member["password"], authority=server.authority,
                                  disable_instance_discovery=True, connection_verify=server.ca_file)
    assert server.secret_client(credential=cred).get_secret("group-target").value == "via-group"
    out = server.cli("ad", "group", "member", "remove", "--group", name, "--member-id", member["objectId"], *boot)
    assert out.returncode == 0, out.stderr
    with pytest.raises(HttpResponseError):
        server.secret_client(credential=cred).get_secret("group-target")

    # a vault on legacy access policies
    vault = f"legacy{uuid.uuid4().hex[:6]}"
    out = server.cli("vault", "create", vault, "--enable-rbac-authorization", "false", *boot)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["enableRbacAuthorization"] is False
    out = server.cli("vault", "set-policy", "--name", vault, "--object-id", member["objectId"],
                     "--secret-permissions", "get", "list", *boot)
    assert out.returncode == 0, out.stderr
    out = server.cli("vault", "update", "--name", vault, "--enable-rbac-authorization", "true", *boot)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["enableRbacAuthorization"] is True


def test_role_definitions_assignments_and_deny_assignments_through_the_cli(server: Server, client):
    boot = ["--bootstrap", str(server.bootstrap_path)]
    reader = _sp(server, "cli-reader")
    client.set_secret("cli-deny-target", "v")
    name = f"cli-role-{uuid.uuid4().hex[:6]}"
    out = server.cli("role", "definition", "create", "--role-name", name, "--data-actions",
                     "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                     "Microsoft.KeyVault/vaults/secrets/readMetadata/action", *boot)
    assert out.returncode == 0, out.stderr
    role = json.loads(out.stdout)
    assert role["properties"]["type"] == "CustomRole"
    out = server.cli("role", "definition", "list", "--custom-role-only", *boot)
    assert [d["properties"]["roleName"] for d in json.loads(out.stdout)["value"]].count(name) == 1

    out = server.cli("role", "assignment", "create", "--assignee", reader["objectId"], "--role", name,
                     "--scope", "/secrets/cli-deny-target", *boot)
    assert out.returncode == 0, out.stderr
    cred = ClientSecretCredential(server.tenant_id, reader["appId"], reader["password"], authority=server.authority,
                                  disable_instance_discovery=True, connection_verify=server.ca_file)
    rc = server.secret_client(credential=cred)
    assert rc.get_secret("cli-deny-target").value == "v"
    out = server.cli("role", "assignment", "list", "--assignee", reader["objectId"], *boot)
    assert len(json.loads(out.stdout)["value"]) == 1

    # a deny assignment wins over the custom role's grant
    out = server.cli("role", "deny-assignment", "create", "--assignee", reader["objectId"], "--data-actions",
                     "Microsoft.KeyVault/vaults/secrets/getSecret/action", "--scope", "/vaults/default", *boot)
    assert out.returncode == 0, out.stderr
    deny = json.loads(out.stdout)
    with pytest.raises(HttpResponseError) as e:
        rc.get_secret("cli-deny-target")
    assert e.value.status_code == 403
    out = server.cli("role", "deny-assignment", "list", *boot)
    assert any(d["id"] == deny["id"] for d in json.loads(out.stdout)["value"])
    out = server.cli("role", "deny-assignment", "delete", "--name", deny["id"], *boot)
    assert out.returncode == 0, out.stderr
    assert rc.get_secret("cli-deny-target").value == "v"

    # the role is in use until its assignment goes
    out = server.cli("role", "definition", "delete", "--name", name, *boot)
    assert out.returncode != 0 and "RoleDefinitionHasAssignments" in out.stderr
    out = server.cli("role", "assignment", "delete", "--assignee", reader["objectId"], "--role", name, *boot)
    assert out.returncode == 0, out.stderr
    out = server.cli("role", "definition", "delete", "--name", name, *boot)
    assert out.returncode == 0, out.stderr
    with pytest.raises(HttpResponseError):
        rc.get_secret("cli-deny-target")


def test_deleting_a_missing_role_assignment_is_not_found(server: Server):
    """Issue 11.11: Azure answers 404 RoleAssignmentNotFound. KeyVaultAccessControlClient 4.7
    itself treats a 404 on delete as done (its delete_role_assignment catches
    ResourceNotFoundError), so the wire reply is checked through the SDK's own generated
    operation and pipeline, which surface it as ResourceNotFoundError."""
    client = KeyVaultAccessControlClient(server.vault_url, server.credential(), connection_verify=server.ca_file)
    for scope in (KeyVaultRoleScope.GLOBAL, "/secrets/never-assigned"):
        with pytest.raises(ResourceNotFoundError) as e:
            client._client.role_assignments.delete(scope=scope, role_assignment_name=str(uuid.uuid4()))
        assert e.value.status_code == 404
        assert e.value.error.code == "RoleAssignmentNotFound"
        client.delete_role_assignment(scope, uuid.uuid4())  # the SDK's documented idempotent delete
    # an assignment that exists goes once; the second delete is 404
    a = client.create_role_assignment("/secrets/deleted-twice", SECRETS_USER, str(uuid.uuid4()))
    client.delete_role_assignment("/secrets/deleted-twice", a.name)
    with pytest.raises(ResourceNotFoundError):
        client.get_role_assignment("/secrets/deleted-twice", a.name)
    r = client.send_request(HttpRequest("DELETE", f"/providers/Microsoft.Authorization/roleAssignments/{a.name}"))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "RoleAssignmentNotFound"


def test_a_vault_admin_cannot_widen_a_shared_custom_role(server: Server):
    """Issue 11.1 through the SDK: a Key Vault Administrator of one vault only cannot rewrite a
    deployment-wide custom role, nor read another vault's assignments by id."""
    admin = KeyVaultAccessControlClient(server.vault_url, server.credential(), connection_verify=server.ca_file)
    team = _sp(server, "team-admin")
    out = server.cli("vault", "create", "teama", "--bootstrap", str(server.bootstrap_path))
    assert out.returncode == 0, out.stderr
    out = server.cli("role", "assignment", "create", "--assignee", team["appId"], "--role", "Key Vault Administrator",
                     "--vault-name", "teama", "--bootstrap", str(server.bootstrap_path))
    assert out.returncode == 0, out.stderr
    perms = [KeyVaultPermission(data_actions=["Microsoft.KeyVault/vaults/secrets/readMetadata/action"])]
    role = admin.set_role_definition(KeyVaultRoleScope.GLOBAL, role_name=f"shared-{uuid.uuid4().hex[:6]}",
                                     permissions=perms)
    other = admin.create_role_assignment("/secrets/elsewhere", SECRETS_USER, str(uuid.uuid4()))

    cred = ClientSecretCredential(server.tenant_id, team["appId"], team["password"], authority=server.authority,
                                  disable_instance_discovery=True, connection_verify=server.ca_file)
    mine = KeyVaultAccessControlClient(server.vault_url_for("teama"), cred, connection_verify=server.ca_file)
    wide = [KeyVaultPermission(data_actions=["Microsoft.KeyVault/vaults/*"])]
    with pytest.raises(HttpResponseError) as e:
        mine.set_role_definition(KeyVaultRoleScope.GLOBAL, role_name=role.role_name, name=role.name,
                                 permissions=wide)
    assert e.value.status_code == 403
    assert admin.get_role_definition(KeyVaultRoleScope.GLOBAL, role.name).permissions[0].data_actions == \
        ["Microsoft.KeyVault/vaults/secrets/readMetadata/action"]
    with pytest.raises(ResourceNotFoundError):
        mine.get_role_assignment(KeyVaultRoleScope.GLOBAL, other.name)
    mine.delete_role_assignment(KeyVaultRoleScope.GLOBAL, other.name)  # 404, which the SDK takes as done
    assert admin.get_role_assignment("/secrets/elsewhere", other.name).name == other.name
    admin.delete_role_assignment("/secrets/elsewhere", other.name)
    admin.delete_role_definition(KeyVaultRoleScope.GLOBAL, role.name)
