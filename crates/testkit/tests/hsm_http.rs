//! HSM-protected keys over real HTTPS with a PKCS#11 token (SoftHSM2, set up by
//! `scripts/test.sh`): premium vaults with RSA-HSM/EC-HSM, managed HSM pools with oct-HSM, and the
//! stored records holding only a token handle. Signatures are verified and ciphertexts produced by
//! the `openssl` command line with the public key the API returns; symmetric results are checked
//! against `openssl enc` and a NIST GCM vector.
//!
//! Without a token the tests print SKIPPED (with `STRONGBOX_REQUIRE_SOFTHSM=1` they fail instead).
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::Path;
use std::process::Command;

use common::{call, code};
use serde_json::{Value, json};
use strongbox_testkit::TestServer;

const V: &str = "api-version=7.6";

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m"), data).unwrap();
    let out = Command::new("openssl").args(["dgst", "-sha256", "-binary"]).arg(dir.path().join("m")).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

async fn hsm_server(test: &str) -> Option<TestServer> {
    let s = TestServer::start_with_hsm().await;
    if s.is_none() {
        println!("SKIPPED: {test} (no PKCS#11 token: install softhsm2 and run scripts/test.sh)");
    }
    s
}

async fn make_vault(s: &TestServer, t: &str, name: &str, sku: &str) -> String {
    let p = call(
        s,
        "PUT",
        &format!("https://localhost:{}/_strongbox/vaults/{name}?{V}", s.port),
        Some(t),
        Some(json!({"sku": sku})),
    )
    .await;
    assert_eq!(p.status, 201, "{}", p.body);
    s.vault_url(name)
}

// --- DER / PEM for openssl --------------------------------------------------------------------

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn der_uint(be: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    der(0x02, &v)
}

fn pem_public(spki: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(spki);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

/// SubjectPublicKeyInfo PEM of a returned JWK (RSA or EC).
fn jwk_pem(jwk: &Value) -> String {
    let spki = if jwk["n"].is_string() {
        let rsa = der(
            0x30,
            &[der_uint(&unb64(jwk["n"].as_str().unwrap())), der_uint(&unb64(jwk["e"].as_str().unwrap()))].concat(),
        );
        let alg = der(0x30, &[der(0x06, &hex("2a864886f70d010101")), vec![0x05, 0x00]].concat());
        der(0x30, &[alg, der(0x03, &[&[0u8][..], &rsa].concat())].concat())
    } else {
        let curve = match jwk["crv"].as_str().unwrap() {
            "P-256" => hex("2a8648ce3d030107"),
            "P-384" => hex("2b81040022"),
            "P-521" => hex("2b81040023"),
            _ => hex("2b8104000a"),
        };
        let alg = der(0x30, &[der(0x06, &hex("2a8648ce3d0201")), der(0x06, &curve)].concat());
        let point = [vec![4u8], unb64(jwk["x"].as_str().unwrap()), unb64(jwk["y"].as_str().unwrap())].concat();
        der(0x30, &[alg, der(0x03, &[&[0u8][..], &point].concat())].concat())
    };
    pem_public(&spki)
}

/// Raw `r ‖ s` → DER `ECDSA-Sig-Value` (what openssl verifies).
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    der(0x30, &[der_uint(r), der_uint(s)].concat())
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl").current_dir(dir).args(args).output().expect("the openssl command line is installed")
}

/// Verifies a signature over a digest with openssl; `opts` are `-pkeyopt` values.
fn openssl_verify(pem: &str, digest: &[u8], sig: &[u8], opts: &[&str]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pub.pem"), pem).unwrap();
    std::fs::write(dir.path().join("d.bin"), digest).unwrap();
    std::fs::write(dir.path().join("s.bin"), sig).unwrap();
    let mut args = vec!["pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "d.bin", "-sigfile", "s.bin"];
    for o in opts {
        args.extend(["-pkeyopt", o]);
    }
    let out = openssl(dir.path(), &args);
    String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully")
}

fn openssl_encrypt(pem: &str, plaintext: &[u8], opts: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pub.pem"), pem).unwrap();
    std::fs::write(dir.path().join("p.bin"), plaintext).unwrap();
    let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "p.bin", "-out", "c.bin"];
    for o in opts {
        args.extend(["-pkeyopt", o]);
    }
    let out = openssl(dir.path(), &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(dir.path().join("c.bin")).unwrap()
}

fn openssl_enc(cipher: &str, key: &[u8], iv: &[u8], data: &[u8], nopad: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.bin"), data).unwrap();
    let (k, i) = (hex_of(key), hex_of(iv));
    let mut args = vec!["enc", cipher, "-K", &k, "-iv", &i, "-in", "p.bin", "-out", "c.bin"];
    if nopad {
        args.push("-nopad");
    }
    let out = openssl(dir.path(), &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(dir.path().join("c.bin")).unwrap()
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The stored records of a version hold a token handle and no key material.
async fn assert_only_handle(s: &TestServer, vault: &str, name: &str, version: &str) -> String {
    let recs = s.running.core.keys.storage_summary(vault, name, version).await.unwrap();
    assert_eq!(recs.len(), 2, "the version record and the head's copy");
    for r in &recs {
        assert_eq!(r.material_len, 0, "no key material in storage: {r:?}");
        assert!(r.hsm_handle.is_some(), "{r:?}");
        for f in &r.fields {
            assert!(["kty", "key_ops", "material", "hsm"].contains(&f.as_str()), "unexpected stored member {f}");
        }
    }
    assert_eq!(recs[0].hsm_handle, recs[1].hsm_handle);
    recs[0].hsm_handle.clone().unwrap()
}

fn provider() -> strongbox_hsm::Pkcs11Provider {
    strongbox_hsm::Pkcs11Provider::open(&strongbox_hsm::Pkcs11Config::from_env().unwrap().unwrap()).unwrap()
}

#[tokio::test]
async fn premium_vault_hsm_keys() {
    let Some(s) = hsm_server("premium_vault_hsm_keys").await else { return };
    let token = s.admin_token().await;
    let base = make_vault(&s, &token, "prem", "premium").await;
    let t = Some(token.as_str());

    // RSA-HSM: generated in the token
    let k = call(
        &s,
        "POST",
        &format!("{base}/keys/Signer/create?{V}"),
        t,
        Some(json!({"kty": "RSA-HSM", "key_size": 2048})),
    )
    .await;
    assert_eq!(k.status, 200, "{}", k.body);
    assert_eq!(k.body["key"]["kty"], "RSA-HSM");
    assert_eq!(k.body["key"]["key_ops"], json!(["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]));
    assert!(k.body["key"].get("d").is_none());
    let kid = k.body["key"]["kid"].as_str().unwrap().to_owned();
    let version = kid.rsplit('/').next().unwrap().to_owned();
    let handle = assert_only_handle(&s, "prem", "signer", &version).await;
    let pem = jwk_pem(&k.body["key"]);

    let digest = sha256(b"signed in the HSM");
    for (alg, opts) in [
        ("RS256", vec!["digest:sha256"]),
        ("PS256", vec!["rsa_padding_mode:pss", "rsa_pss_saltlen:32", "digest:sha256", "rsa_mgf1_md:sha256"]),
    ] {
        let r = call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(json!({"alg": alg, "value": b64(&digest)}))).await;
        assert_eq!(r.status, 200, "{alg}: {}", r.body);
        let sig = unb64(r.body["value"].as_str().unwrap());
        assert!(openssl_verify(&pem, &digest, &sig, &opts), "{alg}: openssl rejects the HSM signature");
        assert!(!openssl_verify(&pem, &sha256(b"other"), &sig, &opts));
        let v = call(
            &s,
            "POST",
            &format!("{kid}/verify?{V}"),
            t,
            Some(json!({"alg": alg, "digest": b64(&digest), "value": b64(&sig)})),
        )
        .await;
        assert_eq!(v.body["value"], true);
    }
    // openssl encrypts with the returned public key; the token decrypts
    for (alg, opts) in [("RSA-OAEP", vec!["rsa_padding_mode:oaep"]), ("RSA1_5", vec!["rsa_padding_mode:pkcs1"])] {
        let ct = openssl_encrypt(&pem, b"content encryption key", &opts);
        let d = call(&s, "POST", &format!("{kid}/decrypt?{V}"), t, Some(json!({"alg": alg, "value": b64(&ct)}))).await;
        assert_eq!(d.status, 200, "{alg}: {}", d.body);
        assert_eq!(unb64(d.body["value"].as_str().unwrap()), b"content encryption key");
        let w =
            call(&s, "POST", &format!("{kid}/unwrapkey?{V}"), t, Some(json!({"alg": alg, "value": b64(&ct)}))).await;
        assert_eq!(unb64(w.body["value"].as_str().unwrap()), b"content encryption key");
    }
    // tampered ciphertext: the uniform error
    let mut ct = openssl_encrypt(&pem, b"x", &["rsa_padding_mode:oaep"]);
    ct[5] ^= 1;
    let d =
        call(&s, "POST", &format!("{kid}/decrypt?{V}"), t, Some(json!({"alg": "RSA-OAEP", "value": b64(&ct)}))).await;
    assert_eq!((d.status, code(&d)), (400, "BadParameter"));
    // SoftHSM2 has no OAEP-SHA256: a clear 501 for both directions, no software fallback
    let ct = openssl_encrypt(&pem, b"x", &["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"]);
    let d = call(&s, "POST", &format!("{kid}/decrypt?{V}"), t, Some(json!({"alg": "RSA-OAEP-256", "value": b64(&ct)})))
        .await;
    if d.status == 200 {
        assert_eq!(unb64(d.body["value"].as_str().unwrap()), b"x", "a token with OAEP-SHA256");
    } else {
        assert_eq!((d.status, code(&d)), (501, "NotImplemented"), "{}", d.body);
        assert!(d.body.to_string().contains("OAEP with SHA-256"));
        let e = call(
            &s,
            "POST",
            &format!("{kid}/encrypt?{V}"),
            t,
            Some(json!({"alg": "RSA-OAEP-256", "value": b64(b"x")})),
        )
        .await;
        assert_eq!(e.status, 501);
    }

    // disabling is seen by the very next operation (the operation cache is dropped on update)
    let sign = json!({"alg": "RS256", "value": b64(&digest)});
    assert_eq!(call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(sign.clone())).await.status, 200);
    let u = call(
        &s,
        "PATCH",
        &format!("{base}/keys/signer/{version}?{V}"),
        t,
        Some(json!({"attributes": {"enabled": false}})),
    )
    .await;
    assert_eq!(u.status, 200);
    let r = call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(sign.clone())).await;
    assert_eq!(r.status, 403, "disabled key refused at once: {}", r.body);
    call(&s, "PATCH", &format!("{base}/keys/signer/{version}?{V}"), t, Some(json!({"attributes": {"enabled": true}})))
        .await;
    let u = call(&s, "PATCH", &format!("{base}/keys/signer?{V}"), t, Some(json!({"key_ops": ["verify"]}))).await;
    assert_eq!(u.status, 200);
    assert_eq!(
        call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(sign.clone())).await.status,
        403,
        "key_ops change seen at once"
    );
    call(&s, "PATCH", &format!("{base}/keys/signer?{V}"), t, Some(json!({"key_ops": ["sign", "verify"]}))).await;
    assert_eq!(call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(sign.clone())).await.status, 200);

    // rotation makes a new token key
    let r = call(&s, "POST", &format!("{base}/keys/signer/rotate?{V}"), t, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["key"]["kty"], "RSA-HSM");
    assert_ne!(r.body["key"]["n"], k.body["key"]["n"]);
    let v2 = r.body["key"]["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let handle2 = assert_only_handle(&s, "prem", "signer", &v2).await;
    assert_ne!(handle, handle2);

    // EC-HSM on P-256 and secp256k1: openssl verifies the raw r||s signatures
    for (crv, alg) in [("P-256", "ES256"), ("P-256K", "ES256K"), ("P-384", "ES384")] {
        let e = call(
            &s,
            "POST",
            &format!("{base}/keys/ec-{alg}/create?{V}"),
            t,
            Some(json!({"kty": "EC-HSM", "crv": crv})),
        )
        .await;
        assert_eq!(e.status, 200, "{}", e.body);
        assert_eq!(e.body["key"]["kty"], "EC-HSM");
        assert_eq!(e.body["key"]["key_ops"], json!(["sign", "verify"]));
        let ekid = e.body["key"]["kid"].as_str().unwrap().to_owned();
        let d = if alg == "ES384" {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("m"), b"ec").unwrap();
            Command::new("openssl")
                .args(["dgst", "-sha384", "-binary"])
                .arg(dir.path().join("m"))
                .output()
                .unwrap()
                .stdout
        } else {
            sha256(b"ec")
        };
        let r = call(&s, "POST", &format!("{ekid}/sign?{V}"), t, Some(json!({"alg": alg, "value": b64(&d)}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let raw = unb64(r.body["value"].as_str().unwrap());
        assert!(openssl_verify(&jwk_pem(&e.body["key"]), &d, &ecdsa_der(&raw), &[]), "{alg}");
        let wrong =
            call(&s, "POST", &format!("{ekid}/sign?{V}"), t, Some(json!({"alg": "RS256", "value": b64(&d)}))).await;
        assert_eq!((wrong.status, code(&wrong)), (400, "BadParameter"));
    }

    // import into the token with the Hsm flag: RFC 7515 A.2's deterministic RS256 signature
    let jwk: Value = serde_json::from_str(RFC7515_A2).unwrap();
    let i = call(&s, "PUT", &format!("{base}/keys/imported?{V}"), t, Some(json!({"key": jwk, "Hsm": true}))).await;
    assert_eq!(i.status, 200, "{}", i.body);
    assert_eq!(i.body["key"]["kty"], "RSA-HSM");
    assert!(i.body.to_string().find(jwk["d"].as_str().unwrap()).is_none());
    let ikid = i.body["key"]["kid"].as_str().unwrap().to_owned();
    let iver = ikid.rsplit('/').next().unwrap().to_owned();
    assert_only_handle(&s, "prem", "imported", &iver).await;
    let input = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let r = call(
        &s,
        "POST",
        &format!("{ikid}/sign?{V}"),
        t,
        Some(json!({"alg": "RS256", "value": b64(&sha256(input.as_bytes()))})),
    )
    .await;
    assert_eq!(r.body["value"], RFC7515_A2_SIG);

    // backups of HSM keys are refused (the key cannot leave the token)
    let b = call(&s, "POST", &format!("{base}/keys/signer/backup?{V}"), t, None).await;
    assert_eq!((b.status, code(&b)), (501, "NotImplemented"), "{}", b.body);

    // delete + purge destroys the token objects of every version
    let p = provider();
    assert!(p.exists(&handle).unwrap() && p.exists(&handle2).unwrap());
    assert_eq!(call(&s, "DELETE", &format!("{base}/keys/signer?{V}"), t, None).await.status, 200);
    assert_eq!(
        call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(sign)).await.status,
        404,
        "deleted key refused at once"
    );
    assert_eq!(call(&s, "DELETE", &format!("{base}/deletedkeys/signer?{V}"), t, None).await.status, 204);
    assert!(!p.exists(&handle).unwrap() && !p.exists(&handle2).unwrap(), "purge destroys the token objects");

    // oct keys do not belong in premium vaults
    let r = call(&s, "POST", &format!("{base}/keys/o/create?{V}"), t, Some(json!({"kty": "oct-HSM"}))).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"));
}

#[tokio::test]
async fn managed_hsm_pool_oct_keys() {
    let Some(s) = hsm_server("managed_hsm_pool_oct_keys").await else { return };
    let token = s.admin_token().await;
    let base = make_vault(&s, &token, "pool", "managedhsm").await;
    let t = Some(token.as_str());

    // only HSM key types
    for kty in ["RSA", "EC", "oct"] {
        let r = call(&s, "POST", &format!("{base}/keys/x/create?{V}"), t, Some(json!({"kty": kty}))).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{kty}: {}", r.body);
        assert!(r.body.to_string().contains("managed HSM pool"));
        assert_eq!(r.body["error"]["innererror"]["code"], "KeyTypeNotSupported");
        assert!(r.body["error"]["message"].as_str().unwrap().starts_with(&format!("Invalid kty value: {kty}")));
    }
    let r = call(&s, "PUT", &format!("{base}/keys/x?{V}"), t, Some(json!({"key": {"kty": "oct", "k": b64(&[1; 16])}})))
        .await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "software import refused");
    let r =
        call(&s, "POST", &format!("{base}/keys/rsa/create?{V}"), t, Some(json!({"kty": "RSA-HSM", "key_size": 3072})))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // generated oct-HSM keys of every size: GCM round trip with aad
    for bits in [128, 192, 256] {
        let k = call(
            &s,
            "POST",
            &format!("{base}/keys/aes{bits}/create?{V}"),
            t,
            Some(json!({"kty": "oct-HSM", "key_size": bits})),
        )
        .await;
        assert_eq!(k.status, 200, "{}", k.body);
        assert_eq!(k.body["key"]["kty"], "oct-HSM");
        assert!(k.body["key"].get("k").is_none());
        assert_eq!(k.body["key"]["key_ops"], json!(["encrypt", "decrypt", "wrapKey", "unwrapKey"]));
        let kid = k.body["key"]["kid"].as_str().unwrap().to_owned();
        assert_only_handle(&s, "pool", &format!("aes{bits}"), kid.rsplit('/').next().unwrap()).await;
        let alg = format!("A{bits}GCM");
        let e = call(
            &s,
            "POST",
            &format!("{kid}/encrypt?{V}"),
            t,
            Some(json!({"alg": alg, "value": b64(b"attack at dawn"), "aad": b64(b"hdr")})),
        )
        .await;
        assert_eq!(e.status, 200, "{}", e.body);
        assert_eq!(unb64(e.body["iv"].as_str().unwrap()).len(), 12);
        assert_eq!(unb64(e.body["tag"].as_str().unwrap()).len(), 16);
        assert_eq!(e.body["aad"], b64(b"hdr"));
        let dec = |aad: &[u8]| json!({"alg": alg, "value": e.body["value"], "iv": e.body["iv"], "tag": e.body["tag"], "aad": b64(aad)});
        let d = call(&s, "POST", &format!("{kid}/decrypt?{V}"), t, Some(dec(b"hdr"))).await;
        assert_eq!(unb64(d.body["value"].as_str().unwrap()), b"attack at dawn");
        let d = call(&s, "POST", &format!("{kid}/decrypt?{V}"), t, Some(dec(b"other"))).await;
        assert_eq!((d.status, code(&d)), (400, "BadParameter"), "wrong aad");
        // wrap / unwrap
        let w = call(
            &s,
            "POST",
            &format!("{kid}/wrapkey?{V}"),
            t,
            Some(json!({"alg": format!("A{bits}KW"), "value": b64(&[9u8; 32])})),
        )
        .await;
        assert_eq!(w.status, 200, "{}", w.body);
        assert_eq!(unb64(w.body["value"].as_str().unwrap()).len(), 40);
        let u = call(
            &s,
            "POST",
            &format!("{kid}/unwrapkey?{V}"),
            t,
            Some(json!({"alg": format!("A{bits}KW"), "value": w.body["value"]})),
        )
        .await;
        assert_eq!(unb64(u.body["value"].as_str().unwrap()), [9u8; 32]);
    }

    // a known key imported into the pool: NIST GCM test case 16 through the API, and CBC / KW
    // byte for byte against openssl enc
    let key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    let i =
        call(&s, "PUT", &format!("{base}/keys/known?{V}"), t, Some(json!({"key": {"kty": "oct-HSM", "k": b64(&key)}})))
            .await;
    assert_eq!(i.status, 200, "{}", i.body);
    assert_eq!(i.body["key"]["kty"], "oct-HSM");
    let kid = i.body["key"]["kid"].as_str().unwrap().to_owned();
    let d = call(
        &s,
        "POST",
        &format!("{kid}/decrypt?{V}"),
        t,
        Some(json!({
            "alg": "A256GCM",
            "value": b64(&hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")),
            "iv": b64(&hex("cafebabefacedbaddecaf888")),
            "aad": b64(&hex("feedfacedeadbeeffeedfacedeadbeefabaddad2")),
            "tag": b64(&hex("76fc6ece0f4e1768cddf8853bb2d551b")),
        })),
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(
        unb64(d.body["value"].as_str().unwrap()),
        hex(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        )
    );
    let iv = [0x24u8; 16];
    for (alg, cipher, nopad, pt) in [
        ("A256CBC", "-aes-256-cbc", true, vec![0x11u8; 48]),
        ("A256CBCPAD", "-aes-256-cbc", false, b"seventeen bytes!!".to_vec()),
    ] {
        let e = call(
            &s,
            "POST",
            &format!("{kid}/encrypt?{V}"),
            t,
            Some(json!({"alg": alg, "value": b64(&pt), "iv": b64(&iv)})),
        )
        .await;
        assert_eq!(e.status, 200, "{}", e.body);
        assert_eq!(unb64(e.body["value"].as_str().unwrap()), openssl_enc(cipher, &key, &iv, &pt, nopad), "{alg}");
        assert_eq!(e.body["iv"], b64(&iv));
        let d = call(
            &s,
            "POST",
            &format!("{kid}/decrypt?{V}"),
            t,
            Some(json!({"alg": alg, "value": e.body["value"], "iv": b64(&iv)})),
        )
        .await;
        assert_eq!(unb64(d.body["value"].as_str().unwrap()), pt);
    }
    for i in 0..5u8 {
        let raw: Vec<u8> = (0..16u8).map(|j| j.wrapping_mul(91).wrapping_add(i * 17) ^ 0x5d).collect();
        let r = call(&s, "PUT", &format!("{base}/keys/rnd{i}?{V}"), t, Some(json!({"key": {"kty": "oct-HSM", "k": b64(&raw), "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"]}}))).await;
        let rkid = r.body["key"]["kid"].as_str().unwrap().to_owned();
        let cek: Vec<u8> = (0..32u8).map(|j| j.wrapping_mul(29).wrapping_add(i) ^ 0xa1).collect();
        let w = call(&s, "POST", &format!("{rkid}/wrapkey?{V}"), t, Some(json!({"alg": "A128KW", "value": b64(&cek)})))
            .await;
        assert_eq!(
            unb64(w.body["value"].as_str().unwrap()),
            openssl_enc("-id-aes128-wrap", &raw, &[0xA6; 8], &cek, false),
            "random key {i}"
        );
    }
    let cek = [0x77u8; 24];
    let w =
        call(&s, "POST", &format!("{kid}/wrapkey?{V}"), t, Some(json!({"alg": "A256KW", "value": b64(&cek)}))).await;
    assert_eq!(unb64(w.body["value"].as_str().unwrap()), openssl_enc("-id-aes256-wrap", &key, &[0xA6; 8], &cek, false));

    // bad input: Azure 400s
    let gcm_ct =
        call(&s, "POST", &format!("{kid}/encrypt?{V}"), t, Some(json!({"alg": "A256GCM", "value": b64(b"x")}))).await;
    for (op, body, needle) in [
        ("encrypt", json!({"alg": "A128GCM", "value": b64(b"x")}), "needs a 128-bit key"),
        ("encrypt", json!({"alg": "A256GCM", "value": b64(b"x"), "iv": b64(&[0; 12])}), "generates the GCM nonce"),
        ("encrypt", json!({"alg": "A256CBC", "value": b64(&[0; 15]), "iv": b64(&iv)}), "multiple of 16"),
        ("encrypt", json!({"alg": "A256CBC", "value": b64(&[0; 16]), "iv": b64(&[0; 8])}), "16 bytes"),
        ("encrypt", json!({"alg": "A256CBC", "value": b64(&[0; 16]), "iv": "**"}), "base64url"),
        ("encrypt", json!({"alg": "RSA-OAEP", "value": b64(b"x")}), "symmetric (oct) key"),
        (
            "decrypt",
            json!({"alg": "A256GCM", "value": gcm_ct.body["value"], "iv": gcm_ct.body["iv"]}),
            "'tag' member is required",
        ),
        (
            "decrypt",
            json!({"alg": "A256GCM", "value": gcm_ct.body["value"], "iv": b64(&[0; 16]), "tag": gcm_ct.body["tag"]}),
            "12 bytes",
        ),
        (
            "decrypt",
            json!({"alg": "A256GCM", "value": gcm_ct.body["value"], "iv": gcm_ct.body["iv"], "tag": b64(&[0; 8])}),
            "16 bytes",
        ),
        ("decrypt", json!({"alg": "A256CBC", "value": b64(&[0; 32])}), "'iv' member is required"),
        ("wrapkey", json!({"alg": "A256KW", "value": b64(&[0; 12])}), "at least 16 bytes"),
        ("wrapkey", json!({"alg": "A256KW", "value": b64(&[0; 16]), "iv": b64(&iv)}), "does not apply"),
        ("unwrapkey", json!({"alg": "A256KW", "value": b64(&[0; 40])}), "could not be decrypted"),
        ("encrypt", json!({"alg": "A512GCM", "value": b64(b"x")}), "not valid"),
    ] {
        let r = call(&s, "POST", &format!("{kid}/{op}?{V}"), t, Some(body.clone())).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{op} {body}: {}", r.body);
        assert!(r.body.to_string().contains(needle), "{op} {body}: {}", r.body);
    }
    // sign is not among an oct key's operations
    let r =
        call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(json!({"alg": "RS256", "value": b64(&[0; 32])}))).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

/// Without a configured token, HSM key types are refused with 501 (never kept in software).
#[tokio::test]
async fn without_a_token_hsm_types_are_not_implemented() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let prem = make_vault(&s, &t, "prem", "premium").await;
    let pool = make_vault(&s, &t, "pool", "managedhsm").await;
    for (base, body) in [
        (&prem, json!({"kty": "RSA-HSM"})),
        (&prem, json!({"kty": "EC-HSM", "crv": "P-256"})),
        (&pool, json!({"kty": "oct-HSM", "key_size": 256})),
    ] {
        let r = call(&s, "POST", &format!("{base}/keys/k/create?{V}"), Some(&t), Some(body.clone())).await;
        assert_eq!((r.status, code(&r)), (501, "NotImplemented"), "{body}: {}", r.body);
        assert!(r.body.to_string().contains("STRONGBOX_PKCS11_MODULE"));
    }
    let r = call(
        &s,
        "PUT",
        &format!("{prem}/keys/k?{V}"),
        Some(&t),
        Some(json!({"key": {"kty": "EC", "crv": "P-256"}, "Hsm": true})),
    )
    .await;
    assert_eq!(r.status, 501);
    // software keys in a premium vault still work
    let r = call(&s, "POST", &format!("{prem}/keys/soft/create?{V}"), Some(&t), Some(json!({"kty": "EC"}))).await;
    assert_eq!(r.status, 200);
}

/// Azure Managed HSM has no secrets or certificates data plane: on a pool those paths do not
/// exist (404 NotFound, like any unknown path), while keys, RNG and roles are served. Needs no
/// PKCS#11 token, so it always runs.
#[tokio::test]
async fn managed_hsm_pools_have_no_secrets_or_certificates() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let pool = make_vault(&s, &t, "pool", "managedhsm").await;
    let std_vault = make_vault(&s, &t, "plain", "standard").await;
    let secret = json!({"value": "s3cr3t-value"});
    let cert = json!({"policy": {"x509_props": {"subject": "CN=a"}, "issuer": {"name": "Self"}}});
    let requests: Vec<(&str, &str, Option<Value>)> = vec![
        ("PUT", "/secrets/a", Some(secret.clone())),
        ("GET", "/secrets/a", None),
        ("PATCH", "/secrets/a", Some(json!({"contentType": "x"}))),
        ("DELETE", "/secrets/a", None),
        ("GET", "/secrets", None),
        ("GET", "/secrets/a/versions", None),
        ("POST", "/secrets/a/backup", None),
        ("POST", "/secrets/restore", Some(json!({"value": "AAAA"}))),
        ("GET", "/deletedsecrets", None),
        ("GET", "/deletedsecrets/a", None),
        ("DELETE", "/deletedsecrets/a", None),
        ("POST", "/deletedsecrets/a/recover", None),
        ("POST", "/certificates/c/create", Some(cert.clone())),
        ("GET", "/certificates/c", None),
        ("GET", "/certificates", None),
        ("GET", "/certificates/c/policy", None),
        ("GET", "/certificates/c/pending", None),
        ("GET", "/certificates/contacts", None),
        ("GET", "/certificates/issuers", None),
        ("GET", "/deletedcertificates", None),
        ("GET", "/_strongbox/certificateauthorities", None),
    ];
    for (m, path, body) in &requests {
        let r = call(&s, m, &format!("{pool}{path}?{V}"), Some(&t), body.clone()).await;
        assert_eq!((r.status, code(&r)), (404, "NotFound"), "{m} {path} on a pool: {}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("managed HSM pool holds keys only"), "{m} {path}: {msg}");
        assert!(!r.body.to_string().contains("s3cr3t-value"));
    }
    // the refused PUT stored nothing anywhere: the same name is free in the standard vault
    let r = call(&s, "GET", &format!("{std_vault}/secrets/a?{V}"), Some(&t), None).await;
    assert_eq!((r.status, code(&r)), (404, "SecretNotFound"), "{}", r.body);

    // a standard vault serves the same paths
    let r = call(&s, "PUT", &format!("{std_vault}/secrets/a?{V}"), Some(&t), Some(secret)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for path in ["/secrets", "/deletedsecrets", "/certificates", "/certificates/issuers", "/deletedcertificates"] {
        let r = call(&s, "GET", &format!("{std_vault}{path}?{V}"), Some(&t), None).await;
        assert_eq!(r.status, 200, "{path} on a standard vault: {}", r.body);
    }
    let r = call(&s, "POST", &format!("{std_vault}/certificates/c/create?{V}"), Some(&t), Some(cert)).await;
    assert_eq!(r.status, 202, "{}", r.body);

    // what a pool does serve: keys, RNG, role definitions
    let r = call(&s, "GET", &format!("{pool}/keys?{V}"), Some(&t), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&s, "POST", &format!("{pool}/rng?{V}"), Some(&t), Some(json!({"count": 16}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(unb64(r.body["value"].as_str().unwrap()).len(), 16);
    let r =
        call(&s, "GET", &format!("{pool}/providers/Microsoft.Authorization/roleDefinitions?{V}"), Some(&t), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

const RFC7515_A2: &str = r#"{"kty":"RSA",
 "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
 "e":"AQAB",
 "d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
 "p":"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
 "q":"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
 "dp":"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
 "dq":"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
 "qi":"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"}"#;

const RFC7515_A2_SIG: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

#[tokio::test]
async fn offloaded_hsm_operations_answer_like_inline_ones() {
    let Some(s) = TestServer::start_with_hsm_offload().await else {
        assert!(std::env::var("STRONGBOX_REQUIRE_SOFTHSM").as_deref() != Ok("1"), "no PKCS#11 token");
        println!("SKIPPED: offloaded_hsm_operations_answer_like_inline_ones (no PKCS#11 token)");
        return;
    };
    let token = s.admin_token().await;
    let base = make_vault(&s, &token, "offl", "premium").await;
    let t = Some(token.as_str());
    let k = call(&s, "POST", &format!("{base}/keys/ec/create?{V}"), t, Some(json!({"kty": "EC-HSM", "crv": "P-256"})))
        .await;
    assert_eq!(k.status, 200, "{}", k.body);
    let kid = k.body["key"]["kid"].as_str().unwrap().to_owned();
    // several at once: each runs on the blocking pool and comes back to its own request
    let digests: Vec<Vec<u8>> = (0..8u8).map(|i| sha256(&[i; 5])).collect();
    let sigs =
        futures_util::future::join_all(digests.iter().map(|d| {
            let (s, kid) = (&s, &kid);
            async move {
                call(s, "POST", &format!("{kid}/sign?{V}"), t, Some(json!({"alg": "ES256", "value": b64(d)}))).await
            }
        }))
        .await;
    for (d, r) in digests.iter().zip(&sigs) {
        assert_eq!(r.status, 200, "{}", r.body);
        let raw = unb64(r.body["value"].as_str().unwrap());
        assert_eq!(raw.len(), 64);
        let v = call(
            &s,
            "POST",
            &format!("{kid}/verify?{V}"),
            t,
            Some(json!({"alg": "ES256", "digest": b64(d), "value": b64(&raw)})),
        )
        .await;
        assert_eq!(v.body["value"], true, "{}", v.body);
        let other = call(
            &s,
            "POST",
            &format!("{kid}/verify?{V}"),
            t,
            Some(json!({"alg": "ES256", "digest": b64(&sha256(b"x")), "value": b64(&raw)})),
        )
        .await;
        assert_eq!(other.body["value"], false);
    }
}

/// An HSM key past its `exp` still decrypts and unwraps what it protected (Azure's rule, the same
/// check as software keys); encrypt and wrapKey are refused.
#[tokio::test]
async fn expired_hsm_keys_still_decrypt_and_unwrap() {
    let Some(s) = hsm_server("expired_hsm_keys_still_decrypt_and_unwrap").await else { return };
    let token = s.admin_token().await;
    let base = make_vault(&s, &token, "pool", "managedhsm").await;
    let t = Some(token.as_str());
    let k =
        call(&s, "POST", &format!("{base}/keys/old/create?{V}"), t, Some(json!({"kty": "oct-HSM", "key_size": 256})))
            .await;
    assert_eq!(k.status, 200, "{}", k.body);
    let kid = k.body["key"]["kid"].as_str().unwrap().to_owned();
    let e = call(&s, "POST", &format!("{kid}/encrypt?{V}"), t, Some(json!({"alg": "A256GCM", "value": b64(b"kept")})))
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    let w = call(&s, "POST", &format!("{kid}/wrapkey?{V}"), t, Some(json!({"alg": "A256KW", "value": b64(&[5; 32])})))
        .await;
    assert_eq!(w.status, 200, "{}", w.body);
    let created = k.body["attributes"]["created"].as_i64().unwrap();
    let u = call(&s, "PATCH", &format!("{kid}?{V}"), t, Some(json!({"attributes": {"exp": created - 10}}))).await;
    assert_eq!(u.status, 200, "{}", u.body);
    let d = call(
        &s,
        "POST",
        &format!("{kid}/decrypt?{V}"),
        t,
        Some(json!({"alg": "A256GCM", "value": e.body["value"], "iv": e.body["iv"], "tag": e.body["tag"]})),
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(unb64(d.body["value"].as_str().unwrap()), b"kept");
    let uw =
        call(&s, "POST", &format!("{kid}/unwrapkey?{V}"), t, Some(json!({"alg": "A256KW", "value": w.body["value"]})))
            .await;
    assert_eq!((uw.status, unb64(uw.body["value"].as_str().unwrap())), (200, vec![5; 32]), "{}", uw.body);
    for (op, body) in [
        ("encrypt", json!({"alg": "A256GCM", "value": b64(b"new")})),
        ("wrapkey", json!({"alg": "A256KW", "value": b64(&[6; 32])})),
    ] {
        let r = call(&s, "POST", &format!("{kid}/{op}?{V}"), t, Some(body)).await;
        assert_eq!(r.status, 403, "{op}: {}", r.body);
    }
}
