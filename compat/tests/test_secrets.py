"""Every secret operation of azure-keyvault-secrets, driven against Strongbox.

All tests talk to the server only through the official SDK (SecretClient +
ClientSecretCredential), built exactly as a user would build them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.keyvault.secrets import KeyVaultSecretIdentifier, SecretClient

from conftest import SECOND_VAULT, Server, unique

MAX_VALUE = 25 * 1024


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _versions(client: SecretClient, name: str) -> set[str]:
    return {p.version for p in client.list_properties_of_secret_versions(name)}


def _delete(client: SecretClient, name: str):
    return client.begin_delete_secret(name).result()


def _delete_and_purge(client: SecretClient, name: str) -> None:
    _delete(client, name)
    client.purge_deleted_secret(name)


# --------------------------------------------------------------------------- set / get


def test_set_secret_with_all_attributes(client: SecretClient, server: Server, name: str):
    nbf = _now() - timedelta(hours=1)
    exp = _now() + timedelta(days=30)
    tags = {"env": "compat", "owner": "strongbox"}

    s = client.set_secret(
        name,
        "s3cr3t value",
        content_type="text/plain",
        tags=tags,
        enabled=True,
        not_before=nbf,
        expires_on=exp,
    )
    assert s.name == name
    assert s.value == "s3cr3t value"
    assert s.properties.content_type == "text/plain"
    assert s.properties.tags == tags
    assert s.properties.enabled is True
    assert s.properties.not_before == nbf
    assert s.properties.expires_on == exp
    assert s.properties.version
    assert s.properties.created_on is not None and s.properties.updated_on is not None
    assert s.properties.recovery_level
    assert s.properties.recoverable_days and 7 <= s.properties.recoverable_days <= 90
    assert s.properties.vault_url.rstrip("/") == server.vault_url.rstrip("/")
    assert s.id == f"{server.vault_url.rstrip('/')}/secrets/{name}/{s.properties.version}"

    got = client.get_secret(name)
    assert got.value == "s3cr3t value"
    assert got.id == s.id
    assert got.properties.content_type == "text/plain"
    assert got.properties.tags == tags
    assert got.properties.not_before == nbf
    assert got.properties.expires_on == exp


def test_set_minimal_defaults(client: SecretClient, name: str):
    s = client.set_secret(name, "v")
    assert s.properties.enabled is True
    assert s.properties.content_type is None
    assert not s.properties.tags
    assert s.properties.not_before is None and s.properties.expires_on is None


def test_expired_and_not_yet_valid_secrets_are_readable(client: SecretClient, name: str):
    # nbf/exp are informational for secrets: GET still succeeds.
    client.set_secret(name, "past", expires_on=_now() - timedelta(days=1))
    assert client.get_secret(name).value == "past"
    client.set_secret(name, "future", not_before=_now() + timedelta(days=1))
    assert client.get_secret(name).value == "future"


def test_get_latest_and_by_version(client: SecretClient, name: str):
    v1 = client.set_secret(name, "one")
    v2 = client.set_secret(name, "two")
    assert v1.properties.version != v2.properties.version

    assert client.get_secret(name).value == "two"
    assert client.get_secret(name).properties.version == v2.properties.version
    old = client.get_secret(name, v1.properties.version)
    assert old.value == "one"
    assert old.id == v1.id
    assert client.get_secret(name, v2.properties.version).value == "two"


def test_get_missing_secret_and_missing_version(client: SecretClient, name: str):
    with pytest.raises(ResourceNotFoundError) as exc:
        client.get_secret(name)
    assert exc.value.status_code == 404

    client.set_secret(name, "x")
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name, "0" * 32)


def test_value_size_limit(client: SecretClient, name: str):
    exact = "x" * MAX_VALUE
    client.set_secret(name, exact)
    assert client.get_secret(name).value == exact

    with pytest.raises(HttpResponseError) as exc:
        client.set_secret(name, "x" * (MAX_VALUE + 1))
    assert exc.value.status_code == 400
    # The too-large value did not create a version.
    assert len(_versions(client, name)) == 1


def test_names_are_case_insensitive(client: SecretClient):
    mixed = unique("CaseName")
    client.set_secret(mixed, "first")
    assert client.get_secret(mixed.lower()).value == "first"
    assert client.get_secret(mixed.upper()).value == "first"

    # Setting under another casing adds a version to the same secret.
    client.set_secret(mixed.lower(), "second")
    assert client.get_secret(mixed).value == "second"
    assert len(_versions(client, mixed)) == 2


def test_unicode_value_roundtrip(client: SecretClient, name: str):
    value = "päss wörd ✓ \u00e9\n\t\"quoted\" {json: 1}"
    client.set_secret(name, value)
    assert client.get_secret(name).value == value


# --------------------------------------------------------------------------- update


def test_update_properties_disable_and_reenable(client: SecretClient, name: str):
    client.set_secret(name, "value", content_type="a", tags={"k": "v"})

    props = client.update_secret_properties(name, enabled=False)
    assert props.enabled is False
    # Unspecified fields are unchanged.
    assert props.content_type == "a"
    assert props.tags == {"k": "v"}

    with pytest.raises(HttpResponseError) as exc:
        client.get_secret(name)
    assert exc.value.status_code == 403
    assert not isinstance(exc.value, (ResourceNotFoundError, ClientAuthenticationError))

    # Listing still shows the disabled secret's metadata.
    versions = list(client.list_properties_of_secret_versions(name))
    assert [v.enabled for v in versions] == [False]

    props = client.update_secret_properties(name, enabled=True)
    assert props.enabled is True
    assert client.get_secret(name).value == "value"


def test_update_content_type_tags_dates(client: SecretClient, name: str):
    s = client.set_secret(name, "value", content_type="old", tags={"a": "1"})
    exp = _now() + timedelta(days=7)
    props = client.update_secret_properties(
        name, s.properties.version, content_type="new", tags={"b": "2"}, expires_on=exp
    )
    assert props.version == s.properties.version
    assert props.content_type == "new"
    assert props.tags == {"b": "2"}
    assert props.expires_on == exp

    got = client.get_secret(name)
    assert got.value == "value"  # value is immutable
    assert got.properties.content_type == "new"
    assert got.properties.tags == {"b": "2"}
    assert got.properties.expires_on == exp
    assert got.properties.version == s.properties.version


def test_update_specific_version_only(client: SecretClient, name: str):
    v1 = client.set_secret(name, "one")
    client.set_secret(name, "two")
    client.update_secret_properties(name, v1.properties.version, enabled=False)

    assert client.get_secret(name).value == "two"
    with pytest.raises(HttpResponseError) as exc:
        client.get_secret(name, v1.properties.version)
    assert exc.value.status_code == 403


def test_update_missing_secret(client: SecretClient, name: str):
    with pytest.raises(ResourceNotFoundError):
        client.update_secret_properties(name, enabled=False)


# --------------------------------------------------------------------------- list


def test_list_properties_of_secrets_pages(client: SecretClient):
    prefix = unique("page")
    names = {f"{prefix}-{i:02d}" for i in range(30)}
    for n in sorted(names):
        client.set_secret(n, "v", tags={"batch": prefix})

    pages = 0
    seen: list[str] = []
    for page in client.list_properties_of_secrets().by_page():
        pages += 1
        items = list(page)
        assert len(items) <= 25
        seen.extend(p.name for p in items)
        for p in items:
            if p.name in names:
                assert p.tags == {"batch": prefix}
                assert p.enabled is True
                # List items carry the base id (no version).
                assert p.id.rstrip("/").endswith(f"/secrets/{p.name}")
    assert pages >= 2, "more than 25 secrets must be returned on more than one page"
    assert len(seen) == len(set(seen)), "a secret appeared twice while paging"
    ours = [n for n in seen if n in names]
    assert sorted(ours) == sorted(names)


def test_list_with_small_page_size(client: SecretClient):
    prefix = unique("small")
    names = {f"{prefix}-{i}" for i in range(7)}
    for n in names:
        client.set_secret(n, "v")
    pages = list(client.list_properties_of_secrets(max_page_size=3).by_page())
    counts = [len(list(p)) for p in pages]
    assert all(c <= 3 for c in counts)
    seen = [p.name for p in client.list_properties_of_secrets(max_page_size=3)]
    assert len(seen) == len(set(seen))
    assert names <= set(seen)


def test_list_properties_of_secret_versions(client: SecretClient, name: str):
    created = [client.set_secret(name, f"v{i}").properties.version for i in range(27)]
    assert len(set(created)) == 27

    pages = list(client.list_properties_of_secret_versions(name).by_page())
    assert len(pages) >= 2
    items = list(client.list_properties_of_secret_versions(name))
    assert sorted(p.version for p in items) == sorted(created)
    for p in items:
        assert p.name == name
        assert p.id.endswith(f"/secrets/{name}/{p.version}")


def test_list_versions_of_missing_secret_is_empty_or_404(client: SecretClient, name: str):
    try:
        versions = list(client.list_properties_of_secret_versions(name))
    except ResourceNotFoundError:
        return
    assert versions == []


# --------------------------------------------------------------------------- delete / recover / purge


def test_delete_get_deleted_and_recover(client: SecretClient, server: Server, name: str):
    v1 = client.set_secret(name, "one", content_type="ct", tags={"t": "1"})
    v2 = client.set_secret(name, "two", content_type="ct", tags={"t": "1"})

    deleted = _delete(client, name)
    assert deleted.name == name
    assert deleted.recovery_id == f"{server.vault_url.rstrip('/')}/deletedsecrets/{name}"
    assert deleted.deleted_date is not None
    assert deleted.scheduled_purge_date is not None

    dsec = client.get_deleted_secret(name)
    assert dsec.name == name
    assert dsec.recovery_id == deleted.recovery_id
    assert dsec.deleted_date is not None
    assert dsec.scheduled_purge_date is not None
    assert dsec.scheduled_purge_date > dsec.deleted_date
    assert abs((dsec.deleted_date - _now()).total_seconds()) < 300
    assert dsec.properties.content_type == "ct"
    assert dsec.properties.tags == {"t": "1"}

    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    assert name not in {p.name for p in client.list_properties_of_secrets()}

    deleted_names = [d.name for d in client.list_deleted_secrets()]
    assert deleted_names.count(name) == 1
    listed = next(d for d in client.list_deleted_secrets() if d.name == name)
    assert listed.recovery_id == deleted.recovery_id
    assert listed.deleted_date is not None and listed.scheduled_purge_date is not None

    recovered = client.begin_recover_deleted_secret(name).result()
    assert recovered.name == name

    got = client.get_secret(name)
    assert got.value == "two"
    assert got.properties.version == v2.properties.version
    assert client.get_secret(name, v1.properties.version).value == "one"
    assert _versions(client, name) == {v1.properties.version, v2.properties.version}
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)
    assert name not in {d.name for d in client.list_deleted_secrets()}


def test_delete_poller_wait(client: SecretClient, name: str):
    client.set_secret(name, "x")
    poller = client.begin_delete_secret(name)
    poller.wait()
    assert poller.done()
    assert poller.result().name == name


def test_delete_missing_secret(client: SecretClient, name: str):
    with pytest.raises(ResourceNotFoundError):
        client.begin_delete_secret(name)


def test_purge(client: SecretClient, name: str):
    client.set_secret(name, "to be purged")
    _delete(client, name)
    assert client.purge_deleted_secret(name) is None

    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)
    assert name not in {d.name for d in client.list_deleted_secrets()}

    # The name is free again: a brand-new secret with a single version.
    client.set_secret(name, "reborn")
    assert client.get_secret(name).value == "reborn"
    assert len(_versions(client, name)) == 1


def test_purge_and_recover_of_missing_deleted_secret(client: SecretClient, name: str):
    with pytest.raises(ResourceNotFoundError):
        client.purge_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.begin_recover_deleted_secret(name)
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(name)


def test_set_on_soft_deleted_name_conflicts(client: SecretClient, name: str):
    client.set_secret(name, "x")
    _delete(client, name)
    with pytest.raises(ResourceExistsError) as exc:
        client.set_secret(name, "y")
    assert exc.value.status_code == 409
    # Still deleted, still recoverable.
    assert client.get_deleted_secret(name).name == name


# --------------------------------------------------------------------------- backup / restore


def test_backup_and_restore_preserves_versions(client: SecretClient, name: str):
    v1 = client.set_secret(name, "one", content_type="ct1")
    v2 = client.set_secret(name, "two", content_type="ct2", tags={"x": "y"})
    blob = client.backup_secret(name)
    assert isinstance(blob, bytes) and len(blob) > 0

    _delete_and_purge(client, name)
    with pytest.raises(ResourceNotFoundError):
        client.get_secret(name)

    restored = client.restore_secret_backup(blob)
    assert restored.name == name
    assert restored.version == v2.properties.version

    assert _versions(client, name) == {v1.properties.version, v2.properties.version}
    latest = client.get_secret(name)
    assert latest.value == "two"
    assert latest.id == v2.id
    assert latest.properties.content_type == "ct2"
    assert latest.properties.tags == {"x": "y"}
    old = client.get_secret(name, v1.properties.version)
    assert old.value == "one"
    assert old.properties.content_type == "ct1"


def test_restore_when_name_exists_conflicts(client: SecretClient, name: str):
    client.set_secret(name, "x")
    blob = client.backup_secret(name)
    with pytest.raises(ResourceExistsError) as exc:
        client.restore_secret_backup(blob)
    assert exc.value.status_code == 409


def test_restore_when_name_soft_deleted_conflicts(client: SecretClient, name: str):
    client.set_secret(name, "x")
    blob = client.backup_secret(name)
    _delete(client, name)
    with pytest.raises(ResourceExistsError) as exc:
        client.restore_secret_backup(blob)
    assert exc.value.status_code == 409


def test_backup_missing_secret(client: SecretClient, name: str):
    with pytest.raises(ResourceNotFoundError):
        client.backup_secret(name)


def test_restore_garbage_is_rejected(client: SecretClient):
    with pytest.raises(HttpResponseError) as exc:
        client.restore_secret_backup(b"this is not a strongbox backup blob")
    assert exc.value.status_code == 400


# --------------------------------------------------------------------------- ids, vaults, auth, api-versions


def test_client_built_from_returned_secret_id(server: Server, client: SecretClient, name: str):
    s = client.set_secret(name, "by-id")
    ident = KeyVaultSecretIdentifier(s.id)
    assert ident.name == name
    assert ident.version == s.properties.version
    assert ident.vault_url.rstrip("/") == server.vault_url.rstrip("/")

    other = server.secret_client(ident.vault_url)
    got = other.get_secret(ident.name, ident.version)
    assert got.value == "by-id"
    assert got.id == s.id


@pytest.fixture(scope="module")
def second_vault(server: Server) -> SecretClient:
    res = server.cli("vault", "create", SECOND_VAULT, "--bootstrap", str(server.bootstrap_path))
    assert res.returncode == 0, f"vault create failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return server.secret_client(server.vault_url_for(SECOND_VAULT))


def test_second_vault_reachable_and_isolated(server: Server, client: SecretClient, second_vault: SecretClient):
    only_second = unique("only-second")
    only_default = unique("only-default")
    shared = unique("shared")

    s2 = second_vault.set_secret(only_second, "in compat2")
    assert s2.id.startswith(f"{server.vault_url_for(SECOND_VAULT)}/secrets/{only_second}/")
    assert second_vault.get_secret(only_second).value == "in compat2"

    client.set_secret(only_default, "in default")
    client.set_secret(shared, "default value")
    second_vault.set_secret(shared, "compat2 value")

    with pytest.raises(ResourceNotFoundError):
        client.get_secret(only_second)
    with pytest.raises(ResourceNotFoundError):
        second_vault.get_secret(only_default)
    assert client.get_secret(shared).value == "default value"
    assert second_vault.get_secret(shared).value == "compat2 value"
    assert len(_versions(client, shared)) == 1
    assert len(_versions(second_vault, shared)) == 1

    names2 = {p.name for p in second_vault.list_properties_of_secrets()}
    assert only_second in names2 and shared in names2
    assert only_default not in names2

    # Deleting in one vault leaves the other untouched.
    second_vault.begin_delete_secret(shared).result()
    assert client.get_secret(shared).value == "default value"
    with pytest.raises(ResourceNotFoundError):
        client.get_deleted_secret(shared)


def test_second_vault_client_from_returned_id(server: Server, second_vault: SecretClient):
    n = unique("byid2")
    s = second_vault.set_secret(n, "v")
    ident = KeyVaultSecretIdentifier(s.id)
    assert ident.vault_url.rstrip("/") == server.vault_url_for(SECOND_VAULT)
    assert server.secret_client(ident.vault_url).get_secret(n).value == "v"


def test_second_vault_create_duplicate_fails(server: Server, second_vault: SecretClient):
    res = server.cli("vault", "create", SECOND_VAULT, "--bootstrap", str(server.bootstrap_path))
    assert res.returncode != 0


def test_wrong_client_secret(server: Server, name: str):
    bad = server.secret_client(credential=server.credential(client_secret="definitely-wrong"))
    with pytest.raises(ClientAuthenticationError):
        bad.get_secret(name)
    with pytest.raises(ClientAuthenticationError):
        bad.set_secret(name, "x")


def test_wrong_client_id(server: Server, name: str):
    from azure.identity import ClientSecretCredential

    cred = ClientSecretCredential(
        server.tenant_id,
        "00000000-0000-0000-0000-000000000000",
        server.client_secret,
        authority=server.authority,
        disable_instance_discovery=True,
        connection_verify=server.ca_file,
    )
    with pytest.raises(ClientAuthenticationError):
        server.secret_client(credential=cred).get_secret(name)


def test_credential_token_audience(server: Server):
    tok = server.credential().get_token(f"{server.resource}/.default")
    assert tok.token
    assert tok.expires_on > _now().timestamp() + 300


@pytest.mark.parametrize("api_version", ["7.4", "2025-07-01"])
def test_api_versions(server: Server, api_version: str):
    c = server.secret_client(api_version=api_version)
    n = unique("apiver-" + api_version.replace(".", "-"))
    s = c.set_secret(n, "v1", content_type="ct", tags={"api": api_version})
    c.set_secret(n, "v2")
    assert c.get_secret(n).value == "v2"
    assert c.get_secret(n, s.properties.version).value == "v1"
    props = c.update_secret_properties(n, s.properties.version, content_type="ct2")
    assert props.content_type == "ct2"
    assert len(list(c.list_properties_of_secret_versions(n))) == 2
    assert n in {p.name for p in c.list_properties_of_secrets()}
    blob = c.backup_secret(n)
    d = c.begin_delete_secret(n).result()
    assert d.recovery_id
    assert c.get_deleted_secret(n).name == n
    assert n in {x.name for x in c.list_deleted_secrets()}
    c.begin_recover_deleted_secret(n).result()
    assert c.get_secret(n).value == "v2"
    c.begin_delete_secret(n).result()
    c.purge_deleted_secret(n)
    c.restore_secret_backup(blob)
    assert c.get_secret(n).value == "v2"
