//! Key service tests that need to look under the services: the operation cache (no storage read
//! on a hot operation, changes seen at once) and HSM key types without a token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use strongbox_barrier::Barrier;
use strongbox_storage::{Entry, MemoryStorage, Storage, StorageResult, Txn};
use strongbox_types::{ErrorKind, FakeClock};

use crate::{CipherInput, CommonUpdate, CoreConfig, CreateKey, KeyUpdate, Services, Sku};

const T0: i64 = 1_800_000_000;

/// Memory storage that counts reads.
struct Counting {
    inner: MemoryStorage,
    reads: Arc<AtomicUsize>,
}

#[async_trait]
impl Storage for Counting {
    async fn get(&self, key: &str) -> StorageResult<Option<Vec<u8>>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn scan(&self, start: &str, end: &str, limit: usize) -> StorageResult<Vec<Entry>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.scan(start, end, limit).await
    }
    async fn commit(&self, txn: Txn) -> StorageResult<()> {
        self.inner.commit(txn).await
    }
}

async fn core() -> (Services, FakeClock, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let storage = Counting { inner: MemoryStorage::new(), reads: reads.clone() };
    let barrier = Arc::new(Barrier::new(Arc::new(storage)));
    let kek = strongbox_crypto::random_key().unwrap();
    barrier.initialize(&kek).await.unwrap();
    barrier.unseal(&kek).await.unwrap();
    let clock = FakeClock::new(T0);
    let cfg = CoreConfig {
        dns_suffix: "vault.localhost".into(),
        public_port: 8443,
        authority_host: "localhost".into(),
        token_lifetime: 3600,
    };
    let core = Services::open(barrier, Arc::new(clock.clone()), cfg).await.unwrap();
    core.bootstrap("default").await.unwrap();
    (core, clock, reads)
}

fn ec() -> CreateKey {
    CreateKey { kty: "EC".into(), crv: Some("P-256".into()), ..CreateKey::default() }
}

#[tokio::test]
async fn hot_operations_read_no_storage_and_see_changes_at_once() {
    let (c, clock, reads) = core().await;
    let k = c.keys.create("default", "Hot", ec()).await.unwrap();
    let d = [7u8; 32];
    for version in [Some(k.version.as_str()), None] {
        c.keys.sign("default", "hot", version, "ES256", &d).await.unwrap();
        let before = reads.load(Ordering::SeqCst);
        for _ in 0..20 {
            let r = c.keys.sign("default", "HOT", version, "ES256", &d).await.unwrap();
            assert_eq!(r.version, k.version);
            assert_eq!(r.name, "Hot");
        }
        assert_eq!(reads.load(Ordering::SeqCst), before, "a hot sign reads no storage ({version:?})");
    }

    // disabled: refused by the next request, through both cache entries
    let off = KeyUpdate { common: CommonUpdate { enabled: Some(false), ..Default::default() }, ..Default::default() };
    c.keys.update("default", "hot", None, off).await.unwrap();
    for version in [Some(k.version.as_str()), None] {
        let e = c.keys.sign("default", "hot", version, "ES256", &d).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::KeyDisabled, "{version:?}");
    }
    let on = KeyUpdate { common: CommonUpdate { enabled: Some(true), ..Default::default() }, ..Default::default() };
    c.keys.update("default", "hot", Some(&k.version), on).await.unwrap();
    c.keys.sign("default", "hot", None, "ES256", &d).await.unwrap();

    // key_ops and exp changes too
    let ops = KeyUpdate { key_ops: Some(vec!["verify".into()]), ..Default::default() };
    c.keys.update("default", "hot", None, ops).await.unwrap();
    assert_eq!(
        c.keys.sign("default", "hot", Some(&k.version), "ES256", &d).await.unwrap_err().kind,
        ErrorKind::OperationNotPermitted
    );
    let ops = KeyUpdate { key_ops: Some(vec!["sign".into()]), ..Default::default() };
    c.keys.update("default", "hot", None, ops).await.unwrap();
    c.keys.sign("default", "hot", None, "ES256", &d).await.unwrap();
    let exp = KeyUpdate { common: CommonUpdate { exp: Some(T0 + 10), ..Default::default() }, ..Default::default() };
    c.keys.update("default", "hot", None, exp).await.unwrap();
    c.keys.sign("default", "hot", None, "ES256", &d).await.unwrap();
    clock.advance(10);
    // exp is checked against the clock on every request, cached or not
    assert_eq!(
        c.keys.sign("default", "hot", None, "ES256", &d).await.unwrap_err().kind,
        ErrorKind::OperationNotPermitted
    );

    // a new version becomes "latest" at once
    let k2 = c.keys.create("default", "hot", ec()).await.unwrap();
    assert_eq!(c.keys.sign("default", "hot", None, "ES256", &d).await.unwrap().version, k2.version);

    // delete: refused at once; entries also expire after the TTL (writers on other nodes)
    c.keys.delete("default", "hot").await.unwrap();
    assert_eq!(c.keys.sign("default", "hot", None, "ES256", &d).await.unwrap_err().kind, ErrorKind::KeyNotFound);
    let before = reads.load(Ordering::SeqCst);
    c.keys.create("default", "ttl", ec()).await.unwrap();
    c.keys.sign("default", "ttl", None, "ES256", &d).await.unwrap();
    let mid = reads.load(Ordering::SeqCst);
    assert!(mid > before);
    clock.advance(super::runtime::OP_META_TTL + 1);
    c.keys.sign("default", "ttl", None, "ES256", &d).await.unwrap();
    assert!(reads.load(Ordering::SeqCst) > mid, "an expired entry is read again");
}

#[tokio::test]
async fn symmetric_and_hsm_types_by_vault_kind() {
    let (c, _, _) = core().await;
    c.vaults.create("prem", Sku::Premium, 90, false).await.unwrap();
    c.vaults.create("pool", Sku::ManagedHsm, 90, false).await.unwrap();
    let kty = |k: &str| CreateKey { kty: k.into(), ..CreateKey::default() };
    for (vault, k, kind) in [
        ("default", "RSA-HSM", ErrorKind::KeyTypeNotSupported),
        ("default", "oct", ErrorKind::KeyTypeNotSupported),
        ("prem", "oct-HSM", ErrorKind::KeyTypeNotSupported),
        ("prem", "RSA-HSM", ErrorKind::NotImplemented),
        ("pool", "RSA", ErrorKind::KeyTypeNotSupported),
        ("pool", "EC", ErrorKind::KeyTypeNotSupported),
        ("pool", "oct", ErrorKind::KeyTypeNotSupported),
        ("pool", "oct-HSM", ErrorKind::NotImplemented),
        ("pool", "EC-HSM", ErrorKind::NotImplemented),
    ] {
        assert_eq!(c.keys.create(vault, "k", kty(k)).await.unwrap_err().kind, kind, "{vault} {k}");
    }
    // sizes and members are checked before any token is needed
    for req in [
        CreateKey { kty: "oct-HSM".into(), key_size: Some(512), ..CreateKey::default() },
        CreateKey { kty: "oct-HSM".into(), crv: Some("P-256".into()), ..CreateKey::default() },
        CreateKey { kty: "RSA-HSM".into(), key_size: Some(1024), ..CreateKey::default() },
        CreateKey { kty: "EC-HSM".into(), key_size: Some(256), ..CreateKey::default() },
    ] {
        let kty = req.kty.clone();
        assert_eq!(c.keys.create("pool", "k", req).await.unwrap_err().kind, ErrorKind::BadParameter, "{kty}");
    }
    // nothing was written
    assert_eq!(c.keys.list("pool", None, 25).await.unwrap().items.len(), 0);
    let input = CipherInput { value: b"x".to_vec(), ..CipherInput::default() };
    c.keys.create("default", "r", kty("RSA")).await.unwrap();
    let e = c.keys.encrypt("default", "r", None, "encrypt", "A256GCM", &input).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParameter);
}

#[test]
fn cipher_input_debug_hides_the_value() {
    let input = CipherInput {
        value: b"plaintext-secret".to_vec(),
        iv: Some(vec![0xab; 16]),
        aad: Some(b"aad-data".to_vec()),
        tag: None,
    };
    let shown = format!("{input:?}");
    assert!(!shown.contains("112"), "{shown}"); // b'p'
    assert!(!shown.contains("171"), "{shown}"); // 0xab
    assert!(shown.contains("value_len: 16"), "{shown}");
}

/// A software key that says its operations wait on a device, like an HSM key.
#[derive(Debug)]
struct DeviceLike(strongbox_crypto::keys::KeyMaterial);

impl strongbox_crypto::handle::KeyHandle for DeviceLike {
    fn kind(&self) -> strongbox_crypto::keys::KeyKind {
        self.0.kind()
    }
    fn bits(&self) -> usize {
        self.0.bits()
    }
    fn public_jwk(&self) -> strongbox_crypto::keys::JsonWebKey {
        self.0.public_jwk()
    }
    fn sign(&self, alg: strongbox_crypto::keys::SignAlg, digest: &[u8]) -> strongbox_types::Result<Vec<u8>> {
        self.0.sign(alg, digest)
    }
    fn verify(
        &self,
        alg: strongbox_crypto::keys::SignAlg,
        digest: &[u8],
        signature: &[u8],
    ) -> strongbox_types::Result<bool> {
        self.0.verify(alg, digest, signature)
    }
    fn encrypt(
        &self,
        alg: strongbox_crypto::keys::CipherAlg,
        data: &[u8],
        p: &strongbox_crypto::aes::SymParams,
    ) -> strongbox_types::Result<strongbox_crypto::aes::SymOutput> {
        strongbox_crypto::handle::KeyHandle::encrypt(&self.0, alg, data, p)
    }
    fn decrypt(
        &self,
        alg: strongbox_crypto::keys::CipherAlg,
        data: &[u8],
        p: &strongbox_crypto::aes::SymParams,
    ) -> strongbox_types::Result<strongbox_types::SecretBytes> {
        strongbox_crypto::handle::KeyHandle::decrypt(&self.0, alg, data, p)
    }
    fn blocking(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "current_thread")]
async fn device_key_operations_leave_the_async_thread() {
    use strongbox_crypto::handle::KeyHandle;
    use strongbox_crypto::keys::{Curve, KeyMaterial, SignAlg};
    let here = std::thread::current().id();
    let soft: Arc<dyn KeyHandle> = Arc::new(KeyMaterial::generate_ec(Curve::P256).unwrap());
    let device: Arc<dyn KeyHandle> = Arc::new(DeviceLike(KeyMaterial::generate_ec(Curve::P256).unwrap()));
    let digest = [9u8; 32];
    let on = |h: &Arc<dyn KeyHandle>| {
        let h = h.clone();
        async move {
            super::ops::run_key_op(&h, move |k| {
                k.sign(SignAlg::ES256, &digest)?;
                Ok(std::thread::current().id())
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(on(&soft).await, here, "software keys run inline");
    assert_ne!(on(&device).await, here, "device keys run on the blocking pool");
    // errors come back unchanged
    let err = super::ops::run_key_op(&device, move |k| k.sign(SignAlg::ES384, &digest)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadParameter);
}

/// Azure refuses only encrypt, wrapKey and sign outside a key's `nbf`/`exp` window: data
/// protected by a key that has since expired (or signatures made before) stay usable.
#[tokio::test]
async fn outside_the_validity_window_only_protecting_operations_are_refused() {
    let (c, clock, _) = core().await;
    let rsa = CreateKey { kty: "RSA".into(), exp: Some(T0 + 100), ..CreateKey::default() };
    c.keys.create("default", "win", rsa).await.unwrap();
    let plain = CipherInput { value: b"recoverable".to_vec(), ..Default::default() };
    let ct = c.keys.encrypt("default", "win", None, "encrypt", "RSA-OAEP-256", &plain).await.unwrap();
    let wrapped = c.keys.encrypt("default", "win", None, "wrapKey", "RSA-OAEP", &plain).await.unwrap();
    let digest = [9u8; 32];
    let sig = c.keys.sign("default", "win", None, "RS256", &digest).await.unwrap();

    let check_window = |label: &'static str| {
        let c = &c;
        let (ct, wrapped, sig) = (&ct, &wrapped, &sig);
        async move {
            let ct_in = CipherInput { value: ct.value.expose().to_vec(), ..Default::default() };
            let back = c.keys.decrypt("default", "win", None, "decrypt", "RSA-OAEP-256", &ct_in).await.unwrap();
            assert_eq!(back.value.expose(), b"recoverable", "{label}: decrypt");
            let w_in = CipherInput { value: wrapped.value.expose().to_vec(), ..Default::default() };
            let back = c.keys.decrypt("default", "win", None, "unwrapKey", "RSA-OAEP", &w_in).await.unwrap();
            assert_eq!(back.value.expose(), b"recoverable", "{label}: unwrapKey");
            assert!(c.keys.verify("default", "win", None, "RS256", &digest, sig.value.expose()).await.unwrap());
            let plain = CipherInput { value: b"new".to_vec(), ..Default::default() };
            for op in ["encrypt", "wrapKey"] {
                let e = c.keys.encrypt("default", "win", None, op, "RSA-OAEP", &plain).await.unwrap_err();
                assert_eq!(e.kind, ErrorKind::OperationNotPermitted, "{label}: {op}");
                assert!(e.message.contains(op), "{label}: {}", e.message);
            }
            let e = c.keys.sign("default", "win", None, "RS256", &digest).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::OperationNotPermitted, "{label}: sign");
        }
    };
    clock.advance(100);
    check_window("expired").await;
    // not yet valid: the same split
    let later = KeyUpdate {
        common: CommonUpdate { nbf: Some(T0 + 1_000), exp: Some(T0 + 2_000), ..Default::default() },
        ..Default::default()
    };
    c.keys.update("default", "win", None, later).await.unwrap();
    check_window("not yet valid").await;
    // key_ops still apply outside the window
    let ops = KeyUpdate { key_ops: Some(vec!["encrypt".into()]), ..Default::default() };
    c.keys.update("default", "win", None, ops).await.unwrap();
    let ct_in = CipherInput { value: ct.value.expose().to_vec(), ..Default::default() };
    let e = c.keys.decrypt("default", "win", None, "decrypt", "RSA-OAEP-256", &ct_in).await.unwrap_err();
    assert!(e.message.contains("key_ops"), "{}", e.message);
}

fn rotate_after(d: &str, expiry: Option<&str>) -> crate::RotationPolicy {
    crate::RotationPolicy {
        lifetime_actions: vec![crate::LifetimeAction {
            action: crate::ActionType::Rotate,
            time_after_create: Some(d.into()),
            time_before_expiry: None,
        }],
        expiry_time: expiry.map(str::to_owned),
        created: None,
        updated: None,
    }
}

/// Durations and times from requests are bounded, and every sum is checked: a huge
/// `timeAfterCreate` used to wrap around and make a key rotate at every run, a huge `expiryTime`
/// gave new versions a negative `exp`.
#[tokio::test]
async fn out_of_range_durations_and_times_are_refused() {
    let (c, clock, _) = core().await;
    c.keys.create("default", "rot", ec()).await.unwrap();
    let huge = "PT9223372036000000000S";
    for p in [
        rotate_after(huge, None),
        rotate_after("P30D", Some(huge)),
        rotate_after("P30D", Some("P3000000D")),
        rotate_after("PT253402300799S", None),
    ] {
        let e = c.keys.set_rotation_policy("default", "rot", p.clone()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadParameter, "{p:?}");
        assert!(e.message.contains("range"), "{}", e.message);
    }
    // A policy stored before durations were bounded is never due and does not stop the others.
    c.keys.create("default", "ok", ec()).await.unwrap();
    c.keys.set_rotation_policy("default", "ok", rotate_after("P1D", None)).await.unwrap();
    let stale = strongbox_barrier::encode(&rotate_after(huge, None)).unwrap();
    c.barrier.commit(strongbox_barrier::BTxn::new().put("keyrp/default/rot", stale)).await.unwrap();
    clock.advance(2 * 86_400);
    assert_eq!(c.keys.rotate_due().await.unwrap(), 1, "only 'ok' is due");
    assert_eq!(c.keys.rotate_due().await.unwrap(), 0, "and not again at once");
    assert_eq!(c.keys.list_versions("default", "rot", None, 25).await.unwrap().items.len(), 1);

    // nbf / exp: Unix seconds 0 ..= 9999-12-31T23:59:59Z, on create and on update
    let max = 253_402_300_799_i64;
    for (nbf, exp) in [
        (None, Some(1_000_000_000_000_000_000)),
        (Some(-1_000_000_000_000_000_000), None),
        (None, Some(max + 1)),
        (Some(-1), None),
    ] {
        let req = CreateKey { nbf, exp, ..ec() };
        let e = c.keys.create("default", "dates", req).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadParameter, "{nbf:?} {exp:?}");
        assert!(e.message.contains("9999-12-31"), "{}", e.message);
        let upd = KeyUpdate { common: CommonUpdate { nbf, exp, ..Default::default() }, ..Default::default() };
        assert_eq!(c.keys.update("default", "ok", None, upd).await.unwrap_err().kind, ErrorKind::BadParameter);
    }
    let edge = c.keys.create("default", "dates", CreateKey { nbf: Some(0), exp: Some(max), ..ec() }).await.unwrap();
    assert_eq!((edge.attributes.nbf, edge.attributes.exp), (Some(0), Some(max)));
    // secrets share the check
    let s = crate::SetSecret {
        value: strongbox_types::SecretString::new("v".into()),
        content_type: None,
        tags: None,
        enabled: None,
        nbf: None,
        exp: Some(-5),
    };
    assert_eq!(c.secrets.set("default", "s", s).await.unwrap_err().kind, ErrorKind::BadParameter);
}

/// An attestation token serves one release, whichever node sees it: the record of its use is in
/// the storage the nodes share, and it is removed once the token has expired.
#[tokio::test]
async fn an_attestation_token_serves_one_release_across_nodes() {
    use serde_json::json;
    use strongbox_crypto::keys::{KeyMaterial, SignAlg};
    use strongbox_crypto::{b64url, sha256};

    use crate::{ReleasePolicy, ReleaseRequest};

    const A: &str = "https://attest.example";
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let kek = strongbox_crypto::random_key().unwrap();
    let clock = FakeClock::new(T0);
    let cfg = || CoreConfig {
        dns_suffix: "vault.localhost".into(),
        public_port: 8443,
        authority_host: "localhost".into(),
        token_lifetime: 3600,
    };
    let b1 = Arc::new(Barrier::new(storage.clone()));
    b1.initialize(&kek).await.unwrap();
    b1.unseal(&kek).await.unwrap();
    let n1 = Services::open(b1, Arc::new(clock.clone()), cfg()).await.unwrap();
    n1.bootstrap("default").await.unwrap();
    let b2 = Arc::new(Barrier::new(storage.clone()));
    b2.unseal(&kek).await.unwrap();
    let n2 = Services::open(b2, Arc::new(clock.clone()), cfg()).await.unwrap();

    let signer = KeyMaterial::generate_rsa(2048).unwrap();
    let mut jwk = serde_json::to_value(signer.public_jwk()).unwrap();
    jwk["kid"] = json!("att-1");
    n1.identity.put_attestation_authority("maa", A, Some(json!({ "keys": [jwk] }))).await.unwrap();
    let doc = json!({"version": "1.0.0", "anyOf": [{"authority": A, "allOf": [
        {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"}
    ]}]});
    let release_policy = ReleasePolicy {
        content_type: String::new(),
        immutable: false,
        data: b64url(&serde_json::to_vec(&doc).unwrap()),
    };
    let create = CreateKey {
        kty: "RSA".into(),
        exportable: Some(true),
        release_policy: Some(release_policy),
        ..CreateKey::default()
    };
    n1.keys.create("default", "skr", create).await.unwrap();
    let runtime = serde_json::to_value(KeyMaterial::generate_rsa(2048).unwrap().public_jwk()).unwrap();
    let token = |jti: &str, iat: i64| {
        let claims = json!({
            "iss": A, "jti": jti, "iat": iat, "nbf": iat, "exp": iat + 600,
            "x-ms-isolation-tee": {"x-ms-attestation-type": "sevsnpvm"},
            "x-ms-runtime": {"keys": [runtime]},
        });
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": "att-1"});
        let input = format!(
            "{}.{}",
            b64url(&serde_json::to_vec(&header).unwrap()),
            b64url(&serde_json::to_vec(&claims).unwrap())
        );
        let sig = signer.sign(SignAlg::RS256, &sha256(input.as_bytes())).unwrap();
        format!("{input}.{}", b64url(&sig))
    };
    let first = token("one", T0);
    fn req(t: &str) -> ReleaseRequest<'_> {
        ReleaseRequest { target: t, nonce: None, enc: None }
    }
    n1.release_key("default", "skr", None, req(&first), "actor").await.unwrap();
    for node in [&n1, &n2] {
        let e = node.release_key("default", "skr", None, req(&first), "actor").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::OperationNotPermitted);
        assert!(e.message.contains("already been used"), "{}", e.message);
    }
    // a refused request does not use a token up
    let second = token("two", T0);
    let e = n2.release_key("default", "skr", None, ReleaseRequest { enc: Some("A256KW"), ..req(&second) }, "a");
    assert!(e.await.is_err());
    n2.release_key("default", "skr", None, req(&second), "actor").await.unwrap();

    // once the tokens have expired their records go (a later release sweeps them)
    let seen = || async { n1.barrier.scan_prefix("skrseen/", "skrseen/", 100).await.unwrap().len() };
    assert_eq!(seen().await, 2);
    clock.advance(600 + 61);
    n1.release_key("default", "skr", None, req(&token("three", T0 + 661)), "actor").await.unwrap();
    assert_eq!(seen().await, 1, "only the live token's record is left");
}
