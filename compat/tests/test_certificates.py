"""Certificates through the official azure-keyvault-certificates SDK (CertificateClient), with
every certificate, CSR and private key checked by the independent `cryptography` package."""

from __future__ import annotations

import base64
import datetime
import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.certificates import (
    AdministratorContact,
    CertificateClient,
    CertificateContact,
    CertificateContentType,
    CertificatePolicy,
    KeyType,
    WellKnownIssuerNames,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from conftest import Server


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def certs(server: Server) -> CertificateClient:
    return CertificateClient(server.vault_url, server.credential(), connection_verify=server.ca_file)


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Compat Test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _leaf(ca_key, ca_cert, public_key, cn: str) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"{cn}.example")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _verify_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    # raises InvalidSignature on a mismatch
    cert.verify_directly_issued_by(issuer)


def test_create_poller_get_versions_update_policy_and_secret(server: Server, certs: CertificateClient):
    name = _name("selfcert")
    cert = certs.begin_create_certificate(name, CertificatePolicy.get_default(), _polling_interval=0).result()
    assert cert.name == name
    assert cert.policy.issuer_name == "Self"
    assert cert.policy.key_type == KeyType.rsa and cert.policy.key_size == 2048
    assert cert.policy.content_type == CertificateContentType.pkcs12
    assert cert.policy.validity_in_months == 12
    parsed = x509.load_der_x509_certificate(bytes(cert.cer))
    assert parsed.subject.rfc4514_string() == "CN=DefaultPolicy"
    _verify_issued_by(parsed, parsed)
    assert cert.properties.x509_thumbprint == parsed.fingerprint(hashes.SHA1())
    assert cert.key_id.endswith(f"/keys/{name}/{cert.properties.version}")
    assert cert.secret_id.endswith(f"/secrets/{name}/{cert.properties.version}")

    op = certs.get_certificate_operation(name)
    assert op.status.lower() == "completed"

    # the private key downloaded through SecretClient matches the certificate
    secret = server.secret_client().get_secret(name)
    assert secret.properties.content_type == "application/x-pkcs12"
    assert secret.properties.managed is True
    key, leaf, _extra = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    assert leaf.public_bytes(serialization.Encoding.DER) == bytes(cert.cer)
    assert _spki(key.public_key()) == _spki(parsed.public_key())

    # the same secret as PEM on the way out (outContentType)
    as_pem = server.secret_client().get_secret(name, out_content_type="application/x-pem-file")
    assert as_pem.properties.content_type == "application/x-pem-file"
    pem_key = serialization.load_pem_private_key(as_pem.value.encode(), None)
    assert _spki(pem_key.public_key()) == _spki(parsed.public_key())

    # a second version under an updated policy (PEM, EC)
    assert certs.get_certificate_policy(name).subject == "CN=DefaultPolicy"
    policy = CertificatePolicy(
        issuer_name="Self", content_type=CertificateContentType.pem, key_type=KeyType.ec, key_curve_name="P-256"
    )
    updated = certs.update_certificate_policy(name, policy)
    assert updated.content_type == CertificateContentType.pem
    assert updated.key_type == KeyType.ec
    cert2 = certs.begin_create_certificate(name, updated, _polling_interval=0).result()
    assert cert2.properties.version != cert.properties.version
    pem = server.secret_client().get_secret(name).value
    key2 = serialization.load_pem_private_key(pem.encode(), None)
    leaf2 = x509.load_pem_x509_certificate(pem.encode())
    assert isinstance(key2, ec.EllipticCurvePrivateKey)
    assert _spki(key2.public_key()) == _spki(leaf2.public_key())

    versions = {p.version for p in certs.list_properties_of_certificate_versions(name)}
    assert versions == {cert.properties.version, cert2.properties.version}
    assert name in {p.name for p in certs.list_properties_of_certificates()}
    assert certs.get_certificate_version(name, cert.properties.version).properties.version == cert.properties.version

    props = certs.update_certificate_properties(name, cert2.properties.version, tags={"env": "compat"})
    assert props.properties.tags == {"env": "compat"}


def test_delete_recover_purge_backup_restore(server: Server, certs: CertificateClient):
    name = _name("lifecycle")
    certs.begin_create_certificate(name, CertificatePolicy.get_default(), _polling_interval=0).result()
    backup = certs.backup_certificate(name)

    deleted = certs.begin_delete_certificate(name).result()
    assert deleted.name == name and deleted.recovery_id
    assert certs.get_deleted_certificate(name).name == name
    assert name in {d.name for d in certs.list_deleted_certificates()}
    recovered = certs.begin_recover_deleted_certificate(name).result()
    assert recovered.name == name
    assert server.secret_client().get_secret(name).properties.managed is True

    certs.begin_delete_certificate(name).result()
    certs.purge_deleted_certificate(name)
    with pytest.raises(ResourceNotFoundError):
        certs.get_deleted_certificate(name)

    restored = certs.restore_certificate_backup(backup)
    assert restored.name == name
    with pytest.raises(ResourceExistsError):
        certs.restore_certificate_backup(backup)


def test_import_pfx_and_pem(server: Server, certs: CertificateClient):
    ca_key, ca_cert = _ca()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = _leaf(ca_key, ca_cert, key.public_key(), "imported")

    pfx = pkcs12.serialize_key_and_certificates(
        b"imp", key, leaf, [ca_cert], serialization.BestAvailableEncryption(b"pw-123")
    )
    name = _name("pfx")
    got = certs.import_certificate(name, pfx, password="pw-123")
    assert bytes(got.cer) == leaf.public_bytes(serialization.Encoding.DER)
    assert got.policy.key_type == KeyType.rsa
    secret = server.secret_client().get_secret(name)
    k, c, chain = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    assert _spki(k.public_key()) == _spki(leaf.public_key())
    assert [x.public_bytes(serialization.Encoding.DER) for x in chain] == [ca_cert.public_bytes(serialization.Encoding.DER)]

    with pytest.raises(HttpResponseError) as e:
        certs.import_certificate(_name("badpw"), pfx, password="wrong")
    assert e.value.status_code == 400

    ec_key = ec.generate_private_key(ec.SECP384R1())
    ec_leaf = _leaf(ca_key, ca_cert, ec_key.public_key(), "pem")
    pem = (
        ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + ec_leaf.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    name = _name("pem")
    got = certs.import_certificate(name, pem, policy=CertificatePolicy(content_type=CertificateContentType.pem))
    assert got.policy.content_type == CertificateContentType.pem
    value = server.secret_client().get_secret(name).value
    k = serialization.load_pem_private_key(value.encode(), None)
    assert _spki(k.public_key()) == _spki(ec_leaf.public_key())
    chain = x509.load_pem_x509_certificates(value.encode())
    assert len(chain) == 2
    _verify_issued_by(chain[0], chain[1])

    # a key that is not the certificate's
    other = ec.generate_private_key(ec.SECP256R1())
    bad = (
        other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + ec_leaf.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(HttpResponseError) as e:
        certs.import_certificate(_name("mismatch"), bad, policy=CertificatePolicy(content_type=CertificateContentType.pem))
    assert e.value.status_code == 400


def test_csr_and_merge(server: Server, certs: CertificateClient):
    name = _name("csr")
    policy = CertificatePolicy(issuer_name=WellKnownIssuerNames.unknown, subject="CN=merged.example", san_dns_names=["merged.example"])
    op = certs.begin_create_certificate(name, policy, _polling_interval=0).result()
    assert op.status.lower() == "inprogress"
    op = certs.get_certificate_operation(name)
    csr = x509.load_der_x509_csr(bytes(op.csr))
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=merged.example"

    assert name not in {p.name for p in certs.list_properties_of_certificates()}
    assert name in {p.name for p in certs.list_properties_of_certificates(include_pending=True)}
    # pending certificates come on pages that respect maxresults, and the SDK's nextLink keeps them
    pages = [list(p) for p in certs.list_properties_of_certificates(include_pending=True, max_page_size=1).by_page()]
    assert all(len(p) <= 1 for p in pages), [len(p) for p in pages]
    assert name in {c.name for p in pages for c in p}

    ca_key, ca_cert = _ca()
    wrong = _leaf(ca_key, ca_cert, ec.generate_private_key(ec.SECP256R1()).public_key(), "wrong")
    with pytest.raises(HttpResponseError) as e:
        certs.merge_certificate(name, [wrong.public_bytes(serialization.Encoding.DER)])
    assert e.value.status_code == 400

    signed = _leaf(ca_key, ca_cert, csr.public_key(), "merged")
    merged = certs.merge_certificate(
        name, [signed.public_bytes(serialization.Encoding.DER), ca_cert.public_bytes(serialization.Encoding.DER)]
    )
    assert bytes(merged.cer) == signed.public_bytes(serialization.Encoding.DER)
    assert certs.get_certificate_operation(name).status.lower() == "completed"
    secret = server.secret_client().get_secret(name)
    k, leaf, chain = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    assert _spki(k.public_key()) == _spki(signed.public_key())
    _verify_issued_by(leaf, chain[0])


def test_contacts_and_issuers(server: Server, certs: CertificateClient):
    contacts = [CertificateContact(email="ops@example.com", name="Ops", phone="123"), CertificateContact(email="sec@example.com")]
    got = certs.set_contacts(contacts)
    assert {c.email for c in got} == {"ops@example.com", "sec@example.com"}
    assert {c.email for c in certs.get_contacts()} == {"ops@example.com", "sec@example.com"}
    certs.delete_contacts()
    with pytest.raises(ResourceNotFoundError):
        certs.get_contacts()

    issuer = _name("dc")
    created = certs.create_issuer(
        issuer,
        "DigiCert",
        account_id="acct-1",
        password="not-returned",
        organization_id="org-1",
        admin_contacts=[AdministratorContact(first_name="A", last_name="B", email="a@example.com", phone="1")],
    )
    assert created.provider == "DigiCert"
    assert created.account_id == "acct-1"
    assert created.admin_contacts[0].email == "a@example.com"
    assert certs.get_issuer(issuer).organization_id == "org-1"
    assert issuer in {i.name for i in certs.list_properties_of_issuers()}
    assert certs.update_issuer(issuer, enabled=False).enabled is False

    # no outside network: issuance through a public CA fails in the operation, no certificate appears
    name = _name("viadc")
    result = certs.begin_create_certificate(
        name, CertificatePolicy(issuer_name=issuer, subject="CN=dc.example"), _polling_interval=0
    ).result()
    assert result.status.lower() == "failed"
    assert "DigiCert" in result.error.message
    with pytest.raises(ResourceNotFoundError):
        certs.get_certificate(name)

    certs.delete_issuer(issuer)
    with pytest.raises(ResourceNotFoundError):
        certs.get_issuer(issuer)


def test_cli_ca_certificate_download_merge_contacts(server: Server, certs: CertificateClient, tmp_path):
    import json as _json

    def cli(*args: str) -> dict | list | None:
        res = server.cli(*args, "--bootstrap", str(server.bootstrap_path))
        assert res.returncode == 0, res.stderr + res.stdout
        return _json.loads(res.stdout) if res.stdout.strip() else None

    root = _name("root")
    issuing = _name("issuing")
    cli("ca", "create", "--name", root, "--subject", "CN=CLI Root", "--cert-file", str(tmp_path / "root.pem"))
    cli("ca", "create", "--name", issuing, "--subject", "CN=CLI Issuing", "--parent", root, "--kty", "RSA", "--size", "2048")
    assert {c["name"] for c in cli("ca", "list")["value"]} >= {root, issuing}
    assert cli("ca", "show", "--name", issuing)["parent"] == root

    name = _name("clicert")
    got = cli("certificate", "create", "--name", name, "--subject", "CN=cli.example", "--dns-names", "cli.example",
              "--issuer", issuing, "--content-type", "pem", "--tags", "via=cli")
    assert got["tags"] == {"via": "cli"}
    cli("certificate", "download", "--name", name, "--file", str(tmp_path / "leaf.pem"))
    leaf = x509.load_pem_x509_certificate((tmp_path / "leaf.pem").read_bytes())
    root_cert = x509.load_pem_x509_certificate((tmp_path / "root.pem").read_bytes())
    issuing_cert = x509.load_der_x509_certificate(base64.b64decode(cli("ca", "show", "--name", issuing)["cer"]))
    _verify_issued_by(leaf, issuing_cert)
    _verify_issued_by(issuing_cert, root_cert)
    # the secret (PEM) holds the key of the certificate and the chain
    value = server.secret_client().get_secret(name).value
    key = serialization.load_pem_private_key(value.encode(), None)
    assert _spki(key.public_key()) == _spki(leaf.public_key())
    assert len(x509.load_pem_x509_certificates(value.encode())) == 3

    assert name in {c["id"].rsplit("/", 1)[-1] for c in cli("certificate", "list")["value"]}
    cli("certificate", "set-attributes", "--name", name, "--tags", "via=cli2")
    assert certs.get_certificate(name).properties.tags == {"via": "cli2"}
    assert cli("certificate", "policy", "show", "--name", name)["issuer"]["name"] == issuing

    # CSR + merge through the CLI
    ext = _name("cliext")
    op = cli("certificate", "create", "--name", ext, "--subject", "CN=ext.cli", "--issuer", "Unknown")
    assert op["status"] == "inProgress"
    cli("certificate", "pending", "show", "--name", ext, "--csr-file", str(tmp_path / "ext.csr"))
    csr = x509.load_pem_x509_csr((tmp_path / "ext.csr").read_bytes())
    ca_key, ca_cert = _ca()
    signed = _leaf(ca_key, ca_cert, csr.public_key(), "ext")
    (tmp_path / "chain.pem").write_bytes(
        signed.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    )
    merged = cli("certificate", "merge", "--name", ext, "--file", str(tmp_path / "chain.pem"))
    assert base64.b64decode(merged["cer"]) == signed.public_bytes(serialization.Encoding.DER)

    # import a PFX with a password, then backup / delete / purge / restore
    k = ec.generate_private_key(ec.SECP256R1())
    pfx = pkcs12.serialize_key_and_certificates(
        b"x", k, _leaf(ca_key, ca_cert, k.public_key(), "imp"), None, serialization.BestAvailableEncryption(b"pfx-pw")
    )
    (tmp_path / "in.pfx").write_bytes(pfx)
    imp = _name("cliimp")
    res = server.cli("certificate", "import", "--name", imp, "--file", str(tmp_path / "in.pfx"),
                     "--bootstrap", str(server.bootstrap_path), timeout=60)
    assert res.returncode != 0, "no password: the PFX cannot be read"
    cli("certificate", "import", "--name", imp, "--file", str(tmp_path / "in.pfx"), "--password", "pfx-pw")
    cli("certificate", "backup", "--name", imp, "--file", str(tmp_path / "imp.bak"))
    cli("certificate", "delete", "--name", imp)
    cli("certificate", "purge", "--name", imp)
    cli("certificate", "restore", "--file", str(tmp_path / "imp.bak"))
    assert certs.get_certificate(imp).name == imp

    # contacts
    cli("certificate", "contact", "add", "--email", "one@example.com", "--name", "One")
    cli("certificate", "contact", "add", "--email", "two@example.com")
    assert {c["email"] for c in cli("certificate", "contact", "list")["contacts"]} == {"one@example.com", "two@example.com"}
    cli("certificate", "contact", "delete", "--email", "one@example.com")
    assert [c.email for c in certs.get_contacts()] == ["two@example.com"]
    cli("certificate", "contact", "delete", "--email", "two@example.com")

    # issuers
    cli("certificate", "issuer", "create", "--name", "gs1", "--provider", "GlobalSign", "--account-id", "a1")
    assert cli("certificate", "issuer", "show", "--name", "gs1")["provider"] == "GlobalSign"
    cli("certificate", "issuer", "delete", "--name", "gs1")


def test_ip_address_and_uri_sans(server: Server, certs: CertificateClient):
    """CertificatePolicy(san_ip_addresses=…, san_uris=…) (api-version 2025-06-01 and later): the
    issued certificate carries them, checked with `cryptography`, and the policy shows them."""
    import ipaddress

    name = _name("ipsan")
    policy = CertificatePolicy(
        issuer_name="Self",
        subject="CN=ip-san",
        san_dns_names=["ipsan.example"],
        san_ip_addresses=["10.20.30.40", "2001:db8::5"],
        san_uris=["spiffe://example.org/compat"],
        key_type=KeyType.ec,
        key_curve_name="P-256",
    )
    cert = certs.begin_create_certificate(name, policy, _polling_interval=0).result()
    parsed = x509.load_der_x509_certificate(bytes(cert.cer))
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.20.30.40"),
        ipaddress.ip_address("2001:db8::5"),
    ]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://example.org/compat"]
    assert san.get_values_for_type(x509.DNSName) == ["ipsan.example"]
    got = certs.get_certificate_policy(name)
    assert got.san_ip_addresses == ["10.20.30.40", "2001:db8::5"]
    assert got.san_uris == ["spiffe://example.org/compat"]

    with pytest.raises(HttpResponseError) as e:
        certs.begin_create_certificate(
            _name("ipsanbad"), CertificatePolicy(issuer_name="Self", subject="CN=x", san_ip_addresses=["999.1.1.1"])
        ).result()
    assert e.value.status_code == 400
