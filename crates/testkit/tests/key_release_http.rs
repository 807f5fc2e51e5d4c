//! Secure key release over real HTTPS: a local attestation authority (static JWKS) signs
//! attestation tokens carrying a runtime RSA key; the vault releases an exportable key wrapped to
//! that key, and the test unwraps it and proves it is the vault's key. Then every refusal.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{Reply, call, code};
use serde_json::{Value, json};
use strongbox_crypto::keys::{KeyKind, KeyMaterial, SignAlg};
use strongbox_crypto::release::{ReleaseEnc, material_from_release, release_material, unwrap_release};
use strongbox_crypto::{b64url, b64url_decode};
use strongbox_testkit::TestServer;

const V: &str = "api-version=7.6";
const T0: i64 = 1_800_000_000;
const AUTH_A: &str = "https://attest-a.example";
const AUTH_B: &str = "https://attest-b.example";
const RELEASE_USER: &str = "08bbd89e-9f13-488c-ac41-acfcb10c90ab";
const CRYPTO_USER: &str = "12338af0-0e69-4776-bea7-57ae8d297424";

/// An attestation authority of the test: an RSA signing key and its `kid`.
struct Authority {
    key: KeyMaterial,
    kid: &'static str,
}

impl Authority {
    fn new(kid: &'static str) -> Self {
        Self { key: KeyMaterial::generate_rsa(2048).unwrap(), kid }
    }

    fn jwks(&self) -> Value {
        let mut jwk = serde_json::to_value(self.key.public_jwk()).unwrap();
        jwk["kid"] = json!(self.kid);
        json!({ "keys": [jwk] })
    }

    /// An RS256 compact JWS of `claims`, signed by `key` under this authority's `kid`.
    fn sign_with(&self, key: &KeyMaterial, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64url(&serde_json::to_vec(&header).unwrap()),
            b64url(&serde_json::to_vec(claims).unwrap())
        );
        let sig = key.sign(SignAlg::RS256, &strongbox_crypto::sha256(input.as_bytes())).unwrap();
        format!("{input}.{}", b64url(&sig))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.key, claims)
    }
}

fn runtime_jwk(rt: &KeyMaterial) -> Value {
    let mut jwk = serde_json::to_value(rt.public_jwk()).unwrap();
    jwk["kid"] = json!("TpmEphemeralEncryptionKey");
    jwk["key_ops"] = json!(["encrypt"]);
    jwk
}

/// Claims of a confidential VM that passes the policy below; a fresh `jti` makes every token
/// distinct (a token serves one release).
fn cvm_claims(iss: &str, rt: &KeyMaterial, now: i64) -> Value {
    json!({
        "jti": strongbox_crypto::hex(&strongbox_crypto::random_array::<16>().unwrap()),
        "iss": iss,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "x-ms-attestation-type": "azurevm",
        "x-ms-isolation-tee": {
            "x-ms-attestation-type": "sevsnpvm",
            "x-ms-compliance-status": "azure-compliant-cvm",
        },
        "x-ms-runtime": { "keys": [runtime_jwk(rt)] },
    })
}

fn policy(immutable: bool) -> Value {
    let doc = json!({
        "version": "1.0.0",
        "anyOf": [{
            "authority": AUTH_A,
            "allOf": [
                {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
                {"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"}
            ]
        }]
    });
    json!({
        "contentType": "application/json; charset=utf-8",
        "immutable": immutable,
        "data": b64url(&serde_json::to_vec(&doc).unwrap()),
    })
}

fn unb64_json(s: &str) -> Value {
    serde_json::from_slice(&b64url_decode(s).unwrap()).unwrap()
}

/// Checks the release JWS against the tenant's published keys and returns its payload.
async fn verified_payload(s: &TestServer, jws: &str) -> Value {
    let jwks_url = format!("{}/{}/discovery/v2.0/keys", s.boot.authority, s.boot.tenant_id);
    let jwks: Value = s.http.get(&jwks_url).send().await.unwrap().json().await.unwrap();
    let parsed = strongbox_crypto::jwt::parse(jws).unwrap();
    assert_eq!(parsed.header.alg, "ES256");
    let kid = parsed.header.kid.clone().unwrap();
    let jwk =
        jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("signing key published");
    let key = strongbox_crypto::jwt::VerifyKey::from_jwk(jwk).unwrap();
    parsed.verify(&key).expect("the release response verifies with the vault's published key");
    parsed.claims
}

/// Unwraps the released key of a release payload with the runtime private key.
fn unwrap_released(payload: &Value, rt: &KeyMaterial) -> KeyMaterial {
    let enc = ReleaseEnc::parse(payload["request"]["enc"].as_str()).unwrap();
    let blob = unb64_json(payload["response"]["key"]["key"]["key_hsm"].as_str().unwrap());
    assert_eq!(blob["schema_version"], "1.0");
    assert_eq!(blob["header"]["kid"], "TpmEphemeralEncryptionKey");
    assert_eq!(blob["header"]["enc"], enc.as_str());
    let ct = b64url_decode(blob["ciphertext"].as_str().unwrap()).unwrap();
    let rt_pkcs8 = release_material(rt).unwrap();
    let plain = unwrap_release(enc, rt_pkcs8.expose(), &ct).unwrap();
    material_from_release(KeyKind::Rsa, plain.expose()).unwrap()
}

fn assert_denied(r: &Reply, what: &str) {
    assert_eq!((r.status, code(r)), (403, "Forbidden"), "{what}: {}", r.body);
    assert_eq!(r.body["error"]["innererror"]["code"], "OperationNotPermitted", "{what}");
}

#[tokio::test]
async fn release_wraps_the_key_to_the_attested_runtime_key() {
    let s = TestServer::start_with_fake_clock(T0).await;
    let admin = s.admin_token().await;
    let t = Some(admin.as_str());
    let base = s.vault_url("default");
    let a = Authority::new("att-a-1");
    let b = Authority::new("att-b-1");
    for (name, auth, at) in [("maa-a", AUTH_A, &a), ("maa-b", AUTH_B, &b)] {
        let r = call(
            &s,
            "PUT",
            &format!("{base}/_strongbox/attestationauthorities/{name}?{V}"),
            t,
            Some(json!({"authority": auth, "jwks": at.jwks()})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["keyIds"], json!([at.kid]));
    }
    let l = call(&s, "GET", &format!("{base}/_strongbox/attestationauthorities?{V}"), t, None).await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 2);
    // attestation authorities are not sign-in issuers
    let ti = call(&s, "GET", &format!("{base}/_strongbox/trustedissuers?{V}"), t, None).await;
    assert_eq!(ti.body["value"], json!([]), "{}", ti.body);

    // an exportable key with a policy
    let k = call(
        &s,
        "POST",
        &format!("{base}/keys/cvm-key/create?{V}"),
        t,
        Some(json!({"kty": "RSA", "key_size": 2048, "attributes": {"exportable": true}, "release_policy": policy(false)})),
    )
    .await;
    assert_eq!(k.status, 200, "{}", k.body);
    assert_eq!(k.body["attributes"]["exportable"], true);
    assert_eq!(k.body["release_policy"]["data"], policy(false)["data"]);
    assert_eq!(k.body["release_policy"]["immutable"], false);
    let kid = k.body["key"]["kid"].as_str().unwrap().to_owned();
    let got = call(&s, "GET", &format!("{kid}?{V}"), t, None).await;
    assert_eq!(got.body["release_policy"], k.body["release_policy"], "stored per version");

    let rt = KeyMaterial::generate_rsa(2048).unwrap();
    let token = a.sign(&cvm_claims(AUTH_A, &rt, T0));
    let r = call(&s, "POST", &format!("{kid}/release?{V}"), t, Some(json!({"target": token, "nonce": "n-1"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let payload = verified_payload(&s, r.body["value"].as_str().unwrap()).await;
    assert_eq!(payload["request"]["enc"], "CKM_RSA_AES_KEY_WRAP");
    assert_eq!(payload["request"]["kid"], kid.as_str());
    assert_eq!(payload["request"]["nonce"], "n-1");
    let released_key = &payload["response"]["key"]["key"];
    assert!(released_key.get("d").is_none(), "no private member in clear");
    assert_eq!(payload["response"]["key"]["release_policy"]["data"], policy(false)["data"]);

    // the unwrapped key is the vault's key: same modulus, and its signature verifies in the vault
    let released = unwrap_released(&payload, &rt);
    assert_eq!(released.public_jwk().n.as_deref(), k.body["key"]["n"].as_str());
    let digest = strongbox_crypto::sha256(b"released");
    let sig = released.sign(SignAlg::PS256, &digest).unwrap();
    let ver = call(
        &s,
        "POST",
        &format!("{kid}/verify?{V}"),
        t,
        Some(json!({"alg": "PS256", "digest": b64url(&digest), "value": b64url(&sig)})),
    )
    .await;
    assert_eq!(ver.body["value"], true, "{}", ver.body);

    // a token serves one release: the same token again is refused, even for another version
    // or algorithm, and does not use up a fresh one
    let again = call(&s, "POST", &format!("{kid}/release?{V}"), t, Some(json!({"target": token}))).await;
    assert_denied(&again, "replayed token");
    assert!(again.body["error"]["message"].as_str().unwrap().contains("already been used"), "{}", again.body);
    // nor does another encoding of its signature (padding the decoder ignores) make it new
    let padded = format!("{token}==");
    let again = call(&s, "POST", &format!("{kid}/release?{V}"), t, Some(json!({"target": padded}))).await;
    assert_denied(&again, "replayed token with a padded signature");
    assert!(again.body["error"]["message"].as_str().unwrap().contains("already been used"), "{}", again.body);

    // without a version (latest) and with RSA_AES_KEY_WRAP_256
    let fresh = a.sign(&cvm_claims(AUTH_A, &rt, T0));
    let r = call(
        &s,
        "POST",
        &format!("{base}/keys/cvm-key/release?{V}"),
        t,
        Some(json!({"target": fresh, "enc": "RSA_AES_KEY_WRAP_256"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let payload = verified_payload(&s, r.body["value"].as_str().unwrap()).await;
    assert_eq!(payload["request"]["enc"], "RSA_AES_KEY_WRAP_256");
    assert_eq!(unwrap_released(&payload, &rt).public_jwk().n.as_deref(), k.body["key"]["n"].as_str());

    // the audit trail has the successful releases (and nothing of the token)
    let evs = s.running.core.identity.security_events(0, 1000).await.unwrap();
    let rel: Vec<_> = evs.iter().filter(|e| e.kind == "KeyRelease").collect();
    assert_eq!(rel.iter().filter(|e| e.outcome == "success").count(), 2, "{rel:?}");
    let ok: Vec<_> = rel.iter().filter(|e| e.outcome == "success").collect();
    assert!(ok.iter().all(|e| e.target.starts_with("default/cvm-key/") && e.detail == AUTH_A));
    assert!(rel.iter().any(|e| e.outcome == "failure" && e.detail == "replayed"), "{rel:?}");

    // ---- refusals ----
    let release = |target: String| {
        let url = format!("{kid}/release?{V}");
        let s = &s;
        async move { call(s, "POST", &url, t, Some(json!({ "target": target }))).await }
    };
    // claims that do not satisfy the policy; the message echoes nothing of the token
    let mut wrong = cvm_claims(AUTH_A, &rt, T0);
    wrong["x-ms-isolation-tee"]["x-ms-attestation-type"] = json!("tdxvm");
    let r = release(a.sign(&wrong)).await;
    assert_denied(&r, "claim mismatch");
    assert!(!r.body.to_string().contains("tdxvm"));
    let mut missing = cvm_claims(AUTH_A, &rt, T0);
    missing.as_object_mut().unwrap().remove("x-ms-isolation-tee");
    assert_denied(&release(a.sign(&missing)).await, "claim missing");
    // a registered authority the policy does not name
    assert_denied(&release(b.sign(&cvm_claims(AUTH_B, &rt, T0))).await, "other authority");
    // an issuer that is not registered at all
    assert_denied(&release(a.sign(&cvm_claims("https://unknown.example", &rt, T0))).await, "unknown issuer");
    // expired, and not yet valid
    let mut old = cvm_claims(AUTH_A, &rt, T0 - 7200);
    old["exp"] = json!(T0 - 3600);
    assert_denied(&release(a.sign(&old)).await, "expired");
    let mut early = cvm_claims(AUTH_A, &rt, T0);
    early["nbf"] = json!(T0 + 3600);
    assert_denied(&release(a.sign(&early)).await, "not yet valid");
    // signed by a key that is not the authority's (same kid)
    let forger = KeyMaterial::generate_rsa(2048).unwrap();
    assert_denied(&release(a.sign_with(&forger, &cvm_claims(AUTH_A, &rt, T0))).await, "bad signature");
    // not a JWS
    let r = release("not-a-token".into()).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    // no runtime key to wrap to
    let mut no_rt = cvm_claims(AUTH_A, &rt, T0);
    no_rt.as_object_mut().unwrap().remove("x-ms-runtime");
    let r = release(a.sign(&no_rt)).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("x-ms-runtime"));
    // an unknown enc
    let r = call(&s, "POST", &format!("{kid}/release?{V}"), t, Some(json!({"target": token, "enc": "A256KW"}))).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"));
    // failures are audited too
    let evs = s.running.core.identity.security_events(0, 1000).await.unwrap();
    let failed: Vec<&str> =
        evs.iter().filter(|e| e.kind == "KeyRelease" && e.outcome == "failure").map(|e| e.detail.as_str()).collect();
    for reason in ["policy-not-satisfied", "untrusted-issuer", "expired", "bad-signature", "no-runtime-key", "replayed"]
    {
        assert!(failed.contains(&reason), "{reason} in {failed:?}");
    }

    // a key that is not exportable cannot be released
    let plain = call(&s, "POST", &format!("{base}/keys/plain/create?{V}"), t, Some(json!({"kty": "RSA"}))).await;
    assert_eq!(plain.body["attributes"]["exportable"], false);
    let r = call(&s, "POST", &format!("{base}/keys/plain/release?{V}"), t, Some(json!({"target": token}))).await;
    assert_denied(&r, "not exportable");
}

#[tokio::test]
async fn release_needs_the_release_permission() {
    let s = TestServer::start_with_fake_clock(T0).await;
    let admin = s.admin_token().await;
    let base = s.vault_url("default");
    let a = Authority::new("att-a-1");
    let r = call(
        &s,
        "PUT",
        &format!("{base}/_strongbox/attestationauthorities/maa?{V}"),
        Some(&admin),
        Some(json!({"authority": AUTH_A, "jwks": a.jwks()})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let k = call(
        &s,
        "POST",
        &format!("{base}/keys/k1/create?{V}"),
        Some(&admin),
        Some(json!({"kty": "RSA", "attributes": {"exportable": true}, "release_policy": policy(false)})),
    )
    .await;
    assert_eq!(k.status, 200, "{}", k.body);

    let (app, secret) = s.running.core.identity.create_app("cvm-workload").await.unwrap();
    let user = s.token_for(&app, secret.expose()).await;
    let oid = {
        let claims = unb64_json(user.split('.').nth(1).unwrap());
        claims["oid"].as_str().unwrap().to_owned()
    };
    let assign = |id: &'static str, role: &'static str| {
        let body = json!({"properties": {
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "principalId": oid,
        }});
        let url = format!("{base}/keys/k1/providers/Microsoft.Authorization/roleAssignments/{id}?{V}");
        let (s, admin) = (&s, &admin);
        async move { call(s, "PUT", &url, Some(admin), Some(body)).await }
    };
    // Crypto User can use the key but not release it
    assert_eq!(assign("6a1f0e52-1b8c-4c52-9a7a-0d7d3c1f2e01", CRYPTO_USER).await.status, 201);
    let rt = KeyMaterial::generate_rsa(2048).unwrap();
    let token = a.sign(&cvm_claims(AUTH_A, &rt, T0));
    let url = format!("{base}/keys/k1/release?{V}");
    let r = call(&s, "POST", &url, Some(&user), Some(json!({"target": token}))).await;
    assert_eq!((r.status, code(&r)), (403, "Forbidden"), "{}", r.body);
    assert_eq!(r.body["error"]["innererror"]["code"], "ForbiddenByRbac");
    // Key Vault Crypto Service Release User can
    assert_eq!(assign("6a1f0e52-1b8c-4c52-9a7a-0d7d3c1f2e02", RELEASE_USER).await.status, 201);
    let r = call(&s, "POST", &url, Some(&user), Some(json!({"target": token}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let payload = verified_payload(&s, r.body["value"].as_str().unwrap()).await;
    assert_eq!(unwrap_released(&payload, &rt).public_jwk().n.as_deref(), k.body["key"]["n"].as_str());
    let evs = s.running.core.identity.security_events(0, 1000).await.unwrap();
    assert!(evs.iter().any(|e| e.kind == "KeyRelease" && e.outcome == "success" && e.actor == oid));
}

#[tokio::test]
async fn export_settings_are_checked() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let t = Some(admin.as_str());
    let base = s.vault_url("default");
    let create = |name: &'static str, body: Value| {
        let url = format!("{base}/keys/{name}/create?{V}");
        let s = &s;
        async move { call(s, "POST", &url, t, Some(body)).await }
    };

    // exportable without a policy
    let r = create("nopol", json!({"kty": "RSA", "attributes": {"exportable": true}})).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("release policy"));
    // import too
    let jwk = serde_json::to_value(KeyMaterial::generate_rsa(2048).unwrap().public_jwk()).unwrap();
    let r = call(
        &s,
        "PUT",
        &format!("{base}/keys/imp?{V}"),
        t,
        Some(json!({"key": jwk, "attributes": {"exportable": true}})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("release policy"));
    // an unsupported operator is refused by name
    let doc = json!({"version": "1.0.0", "anyOf": [{"authority": AUTH_A, "allOf": [{"claim": "c", "greater": 1}]}]});
    let bad = json!({"data": b64url(&serde_json::to_vec(&doc).unwrap())});
    let r = create("badop", json!({"kty": "RSA", "attributes": {"exportable": true}, "release_policy": bad})).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("'greater' is not supported"));

    // a mutable policy can be replaced; an immutable one cannot
    let r =
        create("mut", json!({"kty": "EC", "attributes": {"exportable": true}, "release_policy": policy(false)})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let kid = r.body["key"]["kid"].as_str().unwrap().to_owned();
    let p2 = policy(true);
    let u = call(&s, "PATCH", &format!("{kid}?{V}"), t, Some(json!({"release_policy": p2}))).await;
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(u.body["release_policy"]["immutable"], true);
    let u = call(&s, "PATCH", &format!("{kid}?{V}"), t, Some(json!({"release_policy": policy(false)}))).await;
    assert_eq!((u.status, code(&u)), (400, "BadParameter"), "{}", u.body);
    assert!(u.body["error"]["message"].as_str().unwrap().contains("immutable"));
    let got = call(&s, "GET", &format!("{kid}?{V}"), t, None).await;
    assert_eq!(got.body["release_policy"]["immutable"], true, "unchanged");
    // other updates still work on it, and exportable cannot be turned off
    let u = call(&s, "PATCH", &format!("{kid}?{V}"), t, Some(json!({"tags": {"a": "b"}}))).await;
    assert_eq!(u.status, 200, "{}", u.body);
    let u = call(&s, "PATCH", &format!("{kid}?{V}"), t, Some(json!({"attributes": {"exportable": false}}))).await;
    assert_eq!((u.status, code(&u)), (400, "BadParameter"), "{}", u.body);

    // rotation keeps the export settings
    let rot = call(&s, "POST", &format!("{base}/keys/mut/rotate?{V}"), t, None).await;
    assert_eq!(rot.status, 200, "{}", rot.body);
    assert_eq!(rot.body["attributes"]["exportable"], true);
    assert_eq!(rot.body["release_policy"]["immutable"], true);

    // HSM-protected keys cannot be exportable here (the token keeps them non-extractable)
    let p = call(
        &s,
        "PUT",
        &format!("https://localhost:{}/_strongbox/vaults/prem?{V}", s.port),
        t,
        Some(json!({"sku": "premium"})),
    )
    .await;
    assert_eq!(p.status, 201, "{}", p.body);
    let r = call(
        &s,
        "POST",
        &format!("{}/keys/hsm/create?{V}", s.vault_url("prem")),
        t,
        Some(json!({"kty": "RSA-HSM", "attributes": {"exportable": true}, "release_policy": policy(false)})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (501, "NotImplemented"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("non-extractable"));
}

/// With a PKCS#11 token (scripts/test.sh sets up SoftHSM2): an HSM key can be neither exportable
/// nor released. Without a token this test prints SKIPPED (`STRONGBOX_REQUIRE_SOFTHSM=1` fails).
#[tokio::test]
async fn hsm_keys_are_never_released() {
    let Some(s) = TestServer::start_with_hsm().await else {
        println!("SKIPPED: hsm_keys_are_never_released (no PKCS#11 token: run scripts/test.sh)");
        return;
    };
    let admin = s.admin_token().await;
    let t = Some(admin.as_str());
    let p = call(
        &s,
        "PUT",
        &format!("https://localhost:{}/_strongbox/vaults/hsmrel?{V}", s.port),
        t,
        Some(json!({"sku": "premium"})),
    )
    .await;
    assert_eq!(p.status, 201, "{}", p.body);
    let base = s.vault_url("hsmrel");
    let r = call(
        &s,
        "POST",
        &format!("{base}/keys/hk/create?{V}"),
        t,
        Some(json!({"kty": "RSA-HSM", "attributes": {"exportable": true}, "release_policy": policy(false)})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (501, "NotImplemented"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("non-extractable"));
    // a plain HSM key with a policy: release is refused before any token is looked at
    let k = call(
        &s,
        "POST",
        &format!("{base}/keys/hk/create?{V}"),
        t,
        Some(json!({"kty": "RSA-HSM", "release_policy": policy(false)})),
    )
    .await;
    assert_eq!(k.status, 200, "{}", k.body);
    assert_eq!(k.body["attributes"]["exportable"], false);
    let a = Authority::new("att-a-1");
    let rt = KeyMaterial::generate_rsa(2048).unwrap();
    let r = call(
        &s,
        "POST",
        &format!("{base}/keys/hk/release?{V}"),
        t,
        Some(json!({"target": a.sign(&cvm_claims(AUTH_A, &rt, s.running.core.now()))})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (501, "NotImplemented"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("non-extractable"));
}

/// A compact JWS with any header and signature bytes (forgeries).
fn forged(header: &Value, claims: &Value, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(&serde_json::to_vec(header).unwrap()),
        b64url(&serde_json::to_vec(claims).unwrap()),
        b64url(sig)
    )
}

/// An attacker's view of the release endpoint: the signed release response replayed as a bearer
/// token, algorithm confusion, look-alike issuers, tokens without expiry, weak runtime keys,
/// oversized targets, and keys that are disabled or outside their validity window.
#[tokio::test]
async fn forged_confused_and_replayed_tokens_are_refused() {
    let s = TestServer::start_with_fake_clock(T0).await;
    let admin = s.admin_token().await;
    let t = Some(admin.as_str());
    let base = s.vault_url("default");
    let a = Authority::new("att-a-1");
    let r = call(
        &s,
        "PUT",
        &format!("{base}/_strongbox/attestationauthorities/maa?{V}"),
        t,
        Some(json!({"authority": AUTH_A, "jwks": a.jwks()})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let k = call(
        &s,
        "POST",
        &format!("{base}/keys/k1/create?{V}"),
        t,
        Some(json!({"kty": "RSA", "attributes": {"exportable": true}, "release_policy": policy(false)})),
    )
    .await;
    assert_eq!(k.status, 200, "{}", k.body);
    let kid = k.body["key"]["kid"].as_str().unwrap().to_owned();
    let url = format!("{kid}/release?{V}");
    let release = |target: String| {
        let (s, url) = (&s, url.clone());
        async move { call(s, "POST", &url, t, Some(json!({ "target": target }))).await }
    };
    let rt = KeyMaterial::generate_rsa(2048).unwrap();
    let good = cvm_claims(AUTH_A, &rt, T0);
    let ok = release(a.sign(&good)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    // The release response is signed with the token service's key: it must not pass as an
    // access token on the data plane or the management API (no aud/iss/tid/oid/exp).
    let jws = ok.body["value"].as_str().unwrap().to_owned();
    for u in [format!("{base}/secrets?{V}"), format!("{base}/keys/k1?{V}"), format!("{base}/_strongbox/users?{V}")] {
        let r = call(&s, "GET", &u, Some(&jws), None).await;
        assert_eq!(r.status, 401, "release JWS accepted as a bearer token at {u}: {}", r.body);
    }
    // nor as an attestation token (its issuer is no attestation authority)
    assert_denied(&release(jws.clone()).await, "release JWS as target");

    // algorithm confusion: none, HMAC keyed with the public modulus, ES256 over an RSA key,
    // and an RS256 header on a signature by an unknown key
    let n = b64url_decode(a.jwks()["keys"][0]["n"].as_str().unwrap()).unwrap();
    let genuine_sig = b64url_decode(a.sign(&good).rsplit('.').next().unwrap()).unwrap();
    for (header, sig) in [
        (json!({"alg": "none", "kid": a.kid}), Vec::new()),
        (json!({"alg": "None"}), Vec::new()),
        (json!({"alg": "HS256", "kid": a.kid}), strongbox_crypto::sha256(&n).to_vec()),
        (json!({"alg": "ES256", "kid": a.kid}), genuine_sig.clone()),
        (json!({"alg": "PS256", "kid": a.kid}), genuine_sig.clone()),
        (json!({"alg": "RS256", "kid": "someone-else"}), genuine_sig.clone()),
    ] {
        let r = release(forged(&header, &good, &sig)).await;
        assert_denied(&r, &header.to_string());
    }

    // issuer comparison is exact (up to a trailing slash): no prefix, suffix or case games
    for iss in ["https://attest-a.example.evil", "https://attest-a.exampl", "HTTPS://ATTEST-A.EXAMPLE", ""] {
        assert_denied(&release(a.sign(&cvm_claims(iss, &rt, T0))).await, iss);
    }
    assert_eq!(release(a.sign(&cvm_claims(&format!("{AUTH_A}/"), &rt, T0))).await.status, 200);

    // exp is required; a string exp is no exp
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_denied(&release(a.sign(&no_exp)).await, "no exp");
    let mut str_exp = good.clone();
    str_exp["exp"] = json!((T0 + 600).to_string());
    assert_denied(&release(a.sign(&str_exp)).await, "string exp");
    // an absurd exp (1e300 reads as i64::MAX) is compared without overflowing, and refused as a
    // lifetime beyond 8 hours; so are tokens without iat and nbf, or issued in the future
    let mut huge_exp = good.clone();
    huge_exp["exp"] = json!(1e300);
    let r = release(a.sign(&huge_exp)).await;
    assert_denied(&r, "huge exp");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("8 hours"), "{}", r.body);
    let mut long = cvm_claims(AUTH_A, &rt, T0);
    long["exp"] = json!(T0 + 8 * 3600 + 120);
    assert_denied(&release(a.sign(&long)).await, "9-hour token");
    let mut nbf_only = cvm_claims(AUTH_A, &rt, T0);
    nbf_only.as_object_mut().unwrap().remove("iat");
    nbf_only["exp"] = json!(T0 + 8 * 3600 + 120);
    assert_denied(&release(a.sign(&nbf_only)).await, "9 hours from nbf");
    let mut no_start = cvm_claims(AUTH_A, &rt, T0);
    no_start.as_object_mut().unwrap().remove("iat");
    no_start.as_object_mut().unwrap().remove("nbf");
    assert_denied(&release(a.sign(&no_start)).await, "no iat or nbf");
    let mut future = cvm_claims(AUTH_A, &rt, T0);
    future["iat"] = json!(T0 + 3600);
    future["exp"] = json!(T0 + 4000);
    assert_denied(&release(a.sign(&future)).await, "issued in the future");
    let mut eight = cvm_claims(AUTH_A, &rt, T0 - 3600);
    eight["exp"] = json!(T0 - 3600 + 8 * 3600);
    assert_eq!(release(a.sign(&eight)).await.status, 200, "an 8-hour token, as Azure Attestation issues");

    // dotted claim paths read nested objects only; a flat claim of the same name next to them
    // is refused as ambiguous (it used to win over the nested claim)
    let mut both = cvm_claims(AUTH_A, &rt, T0);
    both["x-ms-isolation-tee"]["x-ms-attestation-type"] = json!("tdxvm");
    both["x-ms-isolation-tee.x-ms-attestation-type"] = json!("sevsnpvm");
    let r = release(a.sign(&both)).await;
    assert_denied(&r, "flat and nested claim");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("both as a dotted name"), "{}", r.body);
    let mut flat = cvm_claims(AUTH_A, &rt, T0);
    flat.as_object_mut().unwrap().remove("x-ms-isolation-tee");
    flat["x-ms-isolation-tee.x-ms-attestation-type"] = json!("sevsnpvm");
    assert_denied(&release(a.sign(&flat)).await, "flat claim only");

    // the policy's claims cannot be satisfied by type confusion
    let mut as_string = good.clone();
    as_string["x-ms-isolation-tee"] = json!("{\"x-ms-attestation-type\":\"sevsnpvm\"}");
    assert_denied(&release(a.sign(&as_string)).await, "claim as a string");

    // weak or malformed runtime keys are refused as bad requests (not wrapped to, not a 500)
    let rt_jwk = runtime_jwk(&rt);
    let mut short_n = n[..128].to_vec();
    short_n[127] |= 1;
    for (what, nn, e) in [
        ("1024-bit", b64url(&short_n), "AQAB".to_owned()),
        ("e = 1", rt_jwk["n"].as_str().unwrap().to_owned(), b64url(&[1])),
        ("even e", rt_jwk["n"].as_str().unwrap().to_owned(), b64url(&[2])),
    ] {
        let mut c = good.clone();
        c["x-ms-runtime"]["keys"][0]["n"] = json!(nn);
        c["x-ms-runtime"]["keys"][0]["e"] = json!(e);
        let r = release(a.sign(&c)).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{what}: {}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("runtime key"), "{what}");
    }
    // an EC runtime key is not something to wrap to
    let mut ec = good.clone();
    ec["x-ms-runtime"]["keys"] = json!([{"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}]);
    assert_eq!(release(a.sign(&ec)).await.status, 400);

    // a huge target is refused before any work
    let r = release("a".repeat(64 * 1024)).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);

    // disabled, expired and not-yet-valid key versions are not released
    let token = a.sign(&good);
    for (attrs, what) in [
        (json!({"enabled": false}), "disabled"),
        (json!({"enabled": true, "exp": T0 - 10}), "expired"),
        (json!({"exp": T0 + 7200, "nbf": T0 + 3600}), "not yet valid"),
    ] {
        let r = call(&s, "PATCH", &format!("{kid}?{V}"), t, Some(json!({ "attributes": attrs }))).await;
        assert_eq!(r.status, 200, "{what}: {}", r.body);
        let r = release(token.clone()).await;
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        assert!(r.body.pointer("/response").is_none() && r.body.get("value").is_none(), "{what}");
    }
    let evs = s.running.core.identity.security_events(0, 1000).await.unwrap();
    let failed: Vec<&str> =
        evs.iter().filter(|e| e.kind == "KeyRelease" && e.outcome == "failure").map(|e| e.detail.as_str()).collect();
    for reason in
        ["key-not-valid", "bad-signature", "untrusted-issuer", "expired", "wrap", "lifetime", "ambiguous-claim"]
    {
        assert!(failed.contains(&reason), "{reason} in {failed:?}");
    }
}
