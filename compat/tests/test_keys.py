"""Keys through the official azure-keyvault-keys SDK, with every signature and ciphertext
cross-checked against the independent `cryptography` package."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.keyvault.keys import JsonWebKey, KeyClient, KeyCurveName, KeyType
from azure.keyvault.keys.crypto import (
    CryptographyClient,
    EncryptionAlgorithm,
    KeyWrapAlgorithm,
    SignatureAlgorithm,
)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from conftest import Server


def _int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _rsa_public(jwk) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(_int(jwk.e), _int(jwk.n)).public_key()


_CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1(), "P-256K": ec.SECP256K1()}


def _ec_public(jwk) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicNumbers(_int(jwk.x), _int(jwk.y), _CURVES[getattr(jwk.crv, "value", jwk.crv)]).public_key()


@pytest.fixture(scope="module")
def keys(server: Server) -> KeyClient:
    return KeyClient(server.vault_url, server.credential(), connection_verify=server.ca_file)


def _crypto(server: Server, key) -> CryptographyClient:
    return CryptographyClient(key, server.credential(), connection_verify=server.ca_file)


def _name(prefix: str = "k") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_create_rsa_key_has_public_jwk_and_default_ops(keys: KeyClient):
    k = keys.create_rsa_key(_name(), size=2048)
    assert k.key_type == KeyType.rsa
    assert len(k.key.n) == 256 and _int(k.key.e) == 65537
    assert set(k.key_operations) == {"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"}
    assert k.key.d is None and k.key.p is None, "private members must never be returned"
    assert k.properties.version and len(k.properties.version) == 32
    assert k.id.startswith(keys.vault_url + "/keys/")


@pytest.mark.parametrize("curve", ["P-256", "P-384", "P-521", "P-256K"])
def test_create_ec_keys_sign_and_verify_independently(server: Server, keys: KeyClient, curve: str):
    k = keys.create_ec_key(_name("ec"), curve=KeyCurveName(curve))
    assert k.key.crv == curve and k.key.x and k.key.y
    alg, h = {
        "P-256": (SignatureAlgorithm.es256, hashlib.sha256),
        "P-384": (SignatureAlgorithm.es384, hashlib.sha384),
        "P-521": (SignatureAlgorithm.es512, hashlib.sha512),
        "P-256K": (SignatureAlgorithm.es256_k, hashlib.sha256),
    }[curve]
    digest = h(b"message to sign").digest()
    result = _crypto(server, k).sign(alg, digest)
    half = len(result.signature) // 2
    der = utils.encode_dss_signature(_int(result.signature[:half]), _int(result.signature[half:]))
    hash_alg = {hashlib.sha256: hashes.SHA256(), hashlib.sha384: hashes.SHA384(), hashlib.sha512: hashes.SHA512()}[h]
    _ec_public(k.key).verify(der, digest, ec.ECDSA(utils.Prehashed(hash_alg)))
    assert _crypto(server, k).verify(alg, digest, result.signature).is_valid
    assert not _crypto(server, k).verify(alg, h(b"other").digest(), result.signature).is_valid


@pytest.mark.parametrize("alg", ["RS256", "PS256", "RS384", "PS512"])
def test_rsa_signatures_verify_with_cryptography(server: Server, keys: KeyClient, alg: str):
    k = keys.create_rsa_key(_name("rs"), size=2048)
    h, hash_alg = {"256": (hashlib.sha256, hashes.SHA256()), "384": (hashlib.sha384, hashes.SHA384()), "512": (hashlib.sha512, hashes.SHA512())}[alg[2:]]
    digest = h(b"payload").digest()
    sig = _crypto(server, k).sign(SignatureAlgorithm(alg), digest).signature
    pad = padding.PKCS1v15() if alg.startswith("RS") else padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
    _rsa_public(k.key).verify(sig, digest, pad, utils.Prehashed(hash_alg))


@pytest.mark.parametrize("alg", ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"])
def test_ciphertext_from_cryptography_decrypts_on_the_server(server: Server, keys: KeyClient, alg: str):
    k = keys.create_rsa_key(_name("enc"), size=3072)
    pub = _rsa_public(k.key)
    pad = {
        "RSA-OAEP": padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
        "RSA-OAEP-256": padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        "RSA1_5": padding.PKCS1v15(),
    }[alg]
    ct = pub.encrypt(b"attack at dawn", pad)
    out = _crypto(server, k).decrypt(EncryptionAlgorithm(alg), ct)
    assert out.plaintext == b"attack at dawn"
    wrapped = pub.encrypt(b"\x01" * 32, pad)
    assert _crypto(server, k).unwrap_key(KeyWrapAlgorithm(alg), wrapped).key == b"\x01" * 32
    with pytest.raises(HttpResponseError) as e:
        _crypto(server, k).decrypt(EncryptionAlgorithm(alg), bytes(len(ct)))
    assert e.value.status_code == 400


def test_expired_key_still_decrypts_unwraps_and_verifies(server: Server, keys: KeyClient):
    """Azure's rule: outside nbf/exp only encrypt, wrapKey and sign are refused, so data protected
    by a key that has since expired is still recoverable (decrypt and unwrap go to the server)."""
    k = keys.create_rsa_key(_name("exp"), size=2048)
    pub = _rsa_public(k.key)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ct = pub.encrypt(b"old data", oaep)
    wrapped = pub.encrypt(b"\x02" * 32, oaep)
    digest = hashlib.sha256(b"signed before expiry").digest()
    sig = _crypto(server, k).sign(SignatureAlgorithm.rs256, digest).signature
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    expired = keys.update_key_properties(k.name, expires_on=past, not_before=past - timedelta(days=1))
    assert expired.properties.expires_on is not None
    crypto = _crypto(server, expired)
    urls: list[str] = []
    hook = lambda r: urls.append(r.http_request.url)  # noqa: E731
    assert crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, ct, raw_response_hook=hook).plaintext == b"old data"
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, wrapped, raw_response_hook=hook).key == b"\x02" * 32
    assert any("/decrypt" in u for u in urls) and any("/unwrapkey" in u.lower() for u in urls), urls
    assert crypto.verify(SignatureAlgorithm.rs256, digest, sig).is_valid
    # sign goes to the server and is refused there; encrypt is refused (by the SDK or the server)
    with pytest.raises(HttpResponseError) as e:
        crypto.sign(SignatureAlgorithm.rs256, digest)
    assert e.value.status_code == 403
    with pytest.raises((HttpResponseError, ValueError)):
        crypto.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"new data")


def test_out_of_range_expiry_is_a_bad_parameter(keys: KeyClient):
    """exp/nbf outside 1970..9999 are refused with 400 (they used to be stored as given)."""
    # the typed API takes datetimes, which cannot be out of range: send the request as JSON
    url = f"{keys.vault_url}/keys/{_name('far')}/create?api-version=7.6"
    for attrs in ({"exp": 10**18}, {"nbf": -(10**18)}):
        r = keys.send_request(HttpRequest("POST", url, json={"kty": "EC", "attributes": attrs}))
        assert r.status_code == 400, r.text()
        assert r.json()["error"]["code"] == "BadParameter"


def test_imported_key_signs_for_its_original_owner(server: Server, keys: KeyClient):
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = priv.private_numbers()
    b = lambda i: i.to_bytes((i.bit_length() + 7) // 8, "big")  # noqa: E731
    jwk = JsonWebKey(kty="RSA", n=b(n.public_numbers.n), e=b(n.public_numbers.e), d=b(n.d), p=b(n.p), q=b(n.q),
                     dp=b(n.dmp1), dq=b(n.dmq1), qi=b(n.iqmp), key_ops=["sign", "verify"])
    k = keys.import_key(_name("imp"), jwk)
    assert k.key.n == b(n.public_numbers.n)
    assert set(k.key_operations) == {"sign", "verify"}
    digest = hashlib.sha256(b"imported").digest()
    sig = _crypto(server, k).sign(SignatureAlgorithm.rs256, digest).signature
    priv.public_key().verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    with pytest.raises(HttpResponseError) as e:
        _crypto(server, k).decrypt(EncryptionAlgorithm.rsa_oaep, b"x" * 256)
    assert e.value.status_code == 403, "decrypt is not in key_ops"


def test_lifecycle_list_update_delete_recover_purge_backup_restore(keys: KeyClient):
    name = _name("life")
    k1 = keys.create_ec_key(name, curve=KeyCurveName.p_256, tags={"a": "1"})
    k2 = keys.create_ec_key(name, curve=KeyCurveName.p_256)
    assert {p.version for p in keys.list_properties_of_key_versions(name)} == {k1.properties.version, k2.properties.version}
    assert name in {p.name for p in keys.list_properties_of_keys()}
    assert keys.get_key(name).properties.version == k2.properties.version
    assert keys.get_key(name, k1.properties.version).key.x == k1.key.x
    u = keys.update_key_properties(name, k1.properties.version, enabled=False, tags={"b": "2"})
    assert u.properties.enabled is False and u.properties.tags == {"b": "2"}
    with pytest.raises(HttpResponseError) as e:
        keys.get_key(name, k1.properties.version)
    assert e.value.status_code == 403

    backup = keys.backup_key(name)
    deleted = keys.begin_delete_key(name).result()
    assert deleted.recovery_id and deleted.deleted_date and deleted.scheduled_purge_date
    assert deleted.key.x == k2.key.x
    assert keys.get_deleted_key(name).name == name
    assert name in {d.name for d in keys.list_deleted_keys()}
    with pytest.raises(ResourceNotFoundError):
        keys.get_key(name)
    keys.begin_recover_deleted_key(name).result()
    assert keys.get_key(name).key.x == k2.key.x
    with pytest.raises(ResourceExistsError):
        keys.restore_key_backup(backup)
    keys.begin_delete_key(name).result()
    keys.purge_deleted_key(name)
    with pytest.raises(ResourceNotFoundError):
        keys.get_deleted_key(name)
    restored = keys.restore_key_backup(backup)
    assert restored.properties.version == k2.properties.version


def test_refusals(keys: KeyClient):
    with pytest.raises(HttpResponseError) as e:
        keys.create_rsa_key(_name(), size=1024)
    assert e.value.status_code == 400
    with pytest.raises(HttpResponseError) as e:
        keys.create_rsa_key(_name(), hardware_protected=True)
    assert e.value.status_code == 400, "standard vaults refuse HSM-protected keys"
    with pytest.raises(ResourceNotFoundError):
        keys.get_key(_name("missing"))


def test_random_bytes(keys: KeyClient):
    a = keys.get_random_bytes(32)
    b = keys.get_random_bytes(32)
    assert len(a) == 32 and a != b


def test_rotate_and_rotation_policy(keys: KeyClient):
    from azure.keyvault.keys import KeyRotationLifetimeAction, KeyRotationPolicy, KeyRotationPolicyAction

    name = _name("rot")
    k1 = keys.create_rsa_key(name, size=2048, key_operations=["sign", "verify"])
    default = keys.get_key_rotation_policy(name)
    assert default.lifetime_actions and default.lifetime_actions[0].action == KeyRotationPolicyAction.notify
    policy = KeyRotationPolicy(
        expires_in="P90D",
        lifetime_actions=[KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P30D")],
    )
    saved = keys.update_key_rotation_policy(name, policy)
    assert saved.expires_in == "P90D"
    assert saved.lifetime_actions[0].action == KeyRotationPolicyAction.rotate
    assert saved.lifetime_actions[0].time_after_create == "P30D"
    assert keys.get_key_rotation_policy(name).expires_in == "P90D"
    k2 = keys.rotate_key(name)
    assert k2.properties.version != k1.properties.version
    assert k2.key.n != k1.key.n and len(k2.key.n) == len(k1.key.n)
    assert set(k2.key_operations) == {"sign", "verify"}
    assert k2.properties.expires_on is not None, "expiry comes from the policy"
    with pytest.raises(HttpResponseError) as e:
        keys.update_key_rotation_policy(name, KeyRotationPolicy(expires_in="P7D"))
    assert e.value.status_code == 400


# --- HSM-protected keys (PKCS#11 token; SoftHSM2 under scripts/test.sh) -----------------------


def _hsm_or_skip():
    if not os.environ.get("STRONGBOX_PKCS11_MODULE"):
        if os.environ.get("STRONGBOX_REQUIRE_SOFTHSM") == "1":
            pytest.fail("STRONGBOX_REQUIRE_SOFTHSM=1 but no PKCS#11 token is configured (STRONGBOX_PKCS11_MODULE)")
        pytest.skip("SKIPPED: no PKCS#11 token (scripts/test.sh sets up SoftHSM2)")


def _vault(server: Server, name: str, sku: str) -> KeyClient:
    res = server.cli("vault", "create", name, "--sku", sku, "--bootstrap", str(server.bootstrap_path))
    assert res.returncode == 0 or "already exists" in res.stderr + res.stdout, res.stderr
    return KeyClient(server.vault_url_for(name), server.credential(), connection_verify=server.ca_file)


@pytest.fixture(scope="module")
def premium(server: Server) -> KeyClient:
    _hsm_or_skip()
    return _vault(server, "hsmprem", "premium")


@pytest.fixture(scope="module")
def pool(server: Server) -> KeyClient:
    _hsm_or_skip()
    return _vault(server, "hsmpool", "managedhsm")


def test_hsm_rsa_key_signs_and_decrypts_in_the_token(server: Server, premium: KeyClient):
    k = premium.create_rsa_key(_name("hsm"), size=2048, hardware_protected=True)
    assert k.key_type == KeyType.rsa_hsm
    assert k.key.d is None
    crypto = _crypto(server, k)
    digest = hashlib.sha256(b"signed inside the HSM").digest()
    sig = crypto.sign(SignatureAlgorithm.ps256, digest).signature
    _rsa_public(k.key).verify(
        sig, digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), utils.Prehashed(hashes.SHA256())
    )
    sig = crypto.sign(SignatureAlgorithm.rs256, digest).signature
    _rsa_public(k.key).verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    assert crypto.verify(SignatureAlgorithm.rs256, digest, sig).is_valid
    ct = _rsa_public(k.key).encrypt(
        b"content key", padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    assert crypto.decrypt(EncryptionAlgorithm.rsa_oaep, ct).plaintext == b"content key"
    assert crypto.unwrap_key(KeyWrapAlgorithm.rsa1_5, _rsa_public(k.key).encrypt(b"k" * 32, padding.PKCS1v15())).key == b"k" * 32
    # the token lacks OAEP-SHA256: a clear 501, not a software fallback
    ct256 = _rsa_public(k.key).encrypt(
        b"x", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    try:
        assert crypto.decrypt(EncryptionAlgorithm.rsa_oaep_256, ct256).plaintext == b"x"
    except HttpResponseError as e:
        assert e.status_code == 501 and "OAEP with SHA-256" in str(e)


def test_hsm_ec_key_signs_in_the_token(server: Server, premium: KeyClient):
    k = premium.create_ec_key(_name("hsmec"), curve=KeyCurveName.p_256, hardware_protected=True)
    assert k.key_type == KeyType.ec_hsm
    digest = hashlib.sha256(b"ec in the HSM").digest()
    raw = _crypto(server, k).sign(SignatureAlgorithm.es256, digest).signature
    assert len(raw) == 64
    r, s = _int(raw[:32]), _int(raw[32:])
    _ec_public(k.key).verify(utils.encode_dss_signature(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def test_managed_hsm_pool_takes_only_hsm_keys(pool: KeyClient):
    with pytest.raises(HttpResponseError) as e:
        pool.create_rsa_key(_name(), size=2048)
    assert e.value.status_code == 400
    with pytest.raises(HttpResponseError) as e:
        pool.create_oct_key(_name(), size=256)
    assert e.value.status_code == 400
    k = pool.create_oct_key(_name("aes"), size=256, hardware_protected=True)
    assert k.key_type == KeyType.oct_hsm
    assert set(k.key_operations) == {"encrypt", "decrypt", "wrapKey", "unwrapKey"}


def test_managed_hsm_oct_key_matches_cryptography(server: Server, pool: KeyClient):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from azure.keyvault.keys.crypto._providers import NoLocalCryptography
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

    for size in (128, 192, 256):
        raw = os.urandom(size // 8)
        jwk = JsonWebKey(kty=KeyType.oct_hsm, k=raw, key_ops=["encrypt", "decrypt", "wrapKey", "unwrapKey"])
        k = pool.import_key(_name(f"aes{size}"), jwk)
        assert k.key_type == KeyType.oct_hsm and k.key.k is None
        crypto = _crypto(server, k)
        # SDK quirk (azure-keyvault-keys 4.11): for an oct key without `k` (as every HSM key bundle
        # is) SymmetricKey.from_jwk silently uses os.urandom key bytes, so the client would wrap
        # "locally" with a random key. Keep every operation on the server, as for a real HSM.
        crypto._initialize()
        crypto._local_provider = NoLocalCryptography()
        gcm = getattr(EncryptionAlgorithm, f"a{size}_gcm")
        r = crypto.encrypt(gcm, b"attack at dawn", additional_authenticated_data=b"hdr")
        assert len(r.iv) == 12 and len(r.tag) == 16
        assert AESGCM(raw).decrypt(r.iv, r.ciphertext + r.tag, b"hdr") == b"attack at dawn"
        iv = os.urandom(12)
        ct = AESGCM(raw).encrypt(iv, b"from cryptography", b"aad")
        d = crypto.decrypt(gcm, ct[:-16], iv=iv, authentication_tag=ct[-16:], additional_authenticated_data=b"aad")
        assert d.plaintext == b"from cryptography"

        cbc = getattr(EncryptionAlgorithm, f"a{size}_cbcpad")
        iv = os.urandom(16)
        r = crypto.encrypt(cbc, b"seventeen bytes!!", iv=iv)
        dec = Cipher(algorithms.AES(raw), modes.CBC(iv)).decryptor()
        padded = dec.update(r.ciphertext) + dec.finalize()
        assert padded[:17] == b"seventeen bytes!!" and padded[17:] == bytes([15]) * 15
        assert crypto.decrypt(cbc, r.ciphertext, iv=iv).plaintext == b"seventeen bytes!!"

        kw = getattr(KeyWrapAlgorithm, f"aes_{size}")
        cek = os.urandom(32)
        wrapped = crypto.wrap_key(kw, cek).encrypted_key
        assert wrapped == aes_key_wrap(raw, cek)
        assert crypto.unwrap_key(kw, aes_key_wrap(raw, b"z" * 24)).key == b"z" * 24
        assert aes_key_unwrap(raw, wrapped) == cek
