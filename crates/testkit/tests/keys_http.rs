//! Keys over real HTTPS: the server-side encrypt/verify/wrap paths (SDKs usually do those
//! locally), key_ops and nbf/exp enforcement (encrypt, wrapKey and sign only), and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

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
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

#[tokio::test]
async fn server_side_round_trips_and_enforcement() {
    let s = TestServer::start_with_fake_clock(1_800_000_000).await;
    let t = s.admin_token().await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");

    let k =
        call(&s, "POST", &format!("{base}/keys/Rsa-1/create?{V}"), t, Some(json!({"kty": "RSA", "key_size": 2048})))
            .await;
    assert_eq!(k.status, 200, "{}", k.body);
    let kid = k.body["key"]["kid"].as_str().unwrap().to_owned();
    assert!(kid.starts_with(&format!("{base}/keys/Rsa-1/")));
    assert!(k.body["key"].get("d").is_none());

    // encrypt → decrypt, wrap → unwrap through the server, all three RSA algorithms
    for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
        let e =
            call(&s, "POST", &format!("{kid}/encrypt?{V}"), t, Some(json!({"alg": alg, "value": b64(b"hello")}))).await;
        assert_eq!(e.status, 200, "{alg}: {}", e.body);
        assert_eq!(e.body["kid"], kid);
        let d = call(&s, "POST", &format!("{kid}/decrypt?{V}"), t, Some(json!({"alg": alg, "value": e.body["value"]})))
            .await;
        assert_eq!(unb64(d.body["value"].as_str().unwrap()), b"hello", "{alg}");
        let w = call(
            &s,
            "POST",
            &format!("{base}/keys/rsa-1/wrapKey?{V}"),
            t,
            Some(json!({"alg": alg, "value": b64(&[7u8; 32])})),
        )
        .await;
        assert_eq!(w.status, 200, "{}", w.body);
        let u = call(
            &s,
            "POST",
            &format!("{base}/keys/rsa-1/unwrapkey?{V}"),
            t,
            Some(json!({"alg": alg, "value": w.body["value"]})),
        )
        .await;
        assert_eq!(unb64(u.body["value"].as_str().unwrap()), [7u8; 32]);
    }
    // sign → verify on the server; a wrong digest does not verify
    let digest = [0x42u8; 32];
    let sg =
        call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(json!({"alg": "PS256", "value": b64(&digest)}))).await;
    let sig = sg.body["value"].as_str().unwrap().to_owned();
    let ok = call(
        &s,
        "POST",
        &format!("{kid}/verify?{V}"),
        t,
        Some(json!({"alg": "PS256", "digest": b64(&digest), "value": sig})),
    )
    .await;
    assert_eq!(ok.body["value"], true);
    let bad = call(
        &s,
        "POST",
        &format!("{kid}/verify?{V}"),
        t,
        Some(json!({"alg": "PS256", "digest": b64(&[0u8; 32]), "value": sig})),
    )
    .await;
    assert_eq!(bad.body["value"], false);

    // bad input: wrong digest length, unknown alg, EC alg on RSA, bad base64, oversized plaintext
    for (path, body) in [
        ("sign", json!({"alg": "RS256", "value": b64(&[1u8; 20])})),
        ("sign", json!({"alg": "XS999", "value": b64(&digest)})),
        ("sign", json!({"alg": "ES256", "value": b64(&digest)})),
        ("sign", json!({"alg": "RS256", "value": "***"})),
        ("encrypt", json!({"alg": "RSA1_5", "value": b64(&[1u8; 300])})),
        ("encrypt", json!({"value": b64(b"x")})),
        ("decrypt", json!({"alg": "RSA-OAEP", "value": b64(&[0u8; 256])})),
    ] {
        let r = call(&s, "POST", &format!("{kid}/{path}?{V}"), t, Some(body.clone())).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{path} {body}: {}", r.body);
    }

    // key_ops: restrict to verify; sign is then refused
    let u = call(&s, "PATCH", &format!("{base}/keys/rsa-1?{V}"), t, Some(json!({"key_ops": ["verify"]}))).await;
    assert_eq!(u.body["key"]["key_ops"], json!(["verify"]));
    let r = call(&s, "POST", &format!("{kid}/sign?{V}"), t, Some(json!({"alg": "RS256", "value": b64(&digest)}))).await;
    assert_eq!((r.status, code(&r)), (403, "Forbidden"));
    let r = call(&s, "PATCH", &format!("{base}/keys/rsa-1?{V}"), t, Some(json!({"key_ops": ["fly"]}))).await;
    assert_eq!(r.status, 400);

    // nbf / exp are enforced for operations (reads still work)
    let now = 1_800_000_000i64;
    let ec = call(
        &s,
        "POST",
        &format!("{base}/keys/ec-1/create?{V}"),
        t,
        Some(json!({"kty": "EC", "crv": "P-256", "attributes": {"nbf": now + 100, "exp": now + 200}})),
    )
    .await;
    assert_eq!(ec.status, 200, "{}", ec.body);
    let ec_kid = ec.body["key"]["kid"].as_str().unwrap().to_owned();
    let sign = |_: ()| json!({"alg": "ES256", "value": b64(&digest)});
    assert_eq!(call(&s, "POST", &format!("{ec_kid}/sign?{V}"), t, Some(sign(()))).await.status, 403, "before nbf");
    s.clock.as_ref().unwrap().advance(150);
    let t2 = s.admin_token().await;
    let r = call(&s, "POST", &format!("{ec_kid}/sign?{V}"), Some(&t2), Some(sign(()))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(unb64(r.body["value"].as_str().unwrap()).len(), 64, "ES256 signatures are raw r||s");
    s.clock.as_ref().unwrap().advance(100);
    let t3 = s.admin_token().await;
    assert_eq!(
        call(&s, "POST", &format!("{ec_kid}/sign?{V}"), Some(&t3), Some(sign(()))).await.status,
        403,
        "after exp"
    );
    // verify is not refused outside the window (Azure's rule): earlier signatures still check
    let earlier = json!({"alg": "ES256", "digest": b64(&digest), "value": r.body["value"]});
    let v = call(&s, "POST", &format!("{ec_kid}/verify?{V}"), Some(&t3), Some(earlier)).await;
    assert_eq!((v.status, &v.body["value"]), (200, &json!(true)), "{}", v.body);
    assert_eq!(call(&s, "GET", &format!("{base}/keys/ec-1?{V}"), Some(&t3), None).await.status, 200);

    // refused creations
    for body in [
        json!({"kty": "RSA", "key_size": 1024}),
        json!({"kty": "EC", "crv": "P-999"}),
        json!({"kty": "oct", "key_size": 256}),
        json!({"kty": "DSA"}),
        json!({"key_size": 2048}),
        json!({"kty": "RSA", "public_exponent": 3}),
    ] {
        let r = call(&s, "POST", &format!("{base}/keys/bad/create?{V}"), Some(&t3), Some(body.clone())).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{body}: {}", r.body);
    }
    let r = call(&s, "POST", &format!("{base}/keys/bad/create?{V}"), Some(&t3), Some(json!({"kty": "RSA-HSM"}))).await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "standard vaults refuse HSM keys");
    let p = call(
        &s,
        "PUT",
        &format!("https://localhost:{}/_strongbox/vaults/prem?{V}", s.port),
        Some(&t3),
        Some(json!({"sku": "premium"})),
    )
    .await;
    assert_eq!(p.status, 201);
    let r = call(
        &s,
        "POST",
        &format!("{}/keys/hsm/create?{V}", s.vault_url("prem")),
        Some(&t3),
        Some(json!({"kty": "EC-HSM"})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (501, "NotImplemented"), "premium: HSM keys need a configured PKCS#11 token");
    let l = call(&s, "GET", &format!("{base}/keys?{V}"), Some(&t3), None).await;
    let names: Vec<&str> = l.body["value"].as_array().unwrap().iter().map(|i| i["kid"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "refused creations wrote nothing: {names:?}");
}

#[tokio::test]
async fn malformed_jwk_imports_are_refused() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let base = s.vault_url("default");
    let cases: Vec<Value> = vec![
        json!({"kty": "RSA", "n": b64(&[1u8; 256]), "e": "AQAB"}),
        json!({"kty": "EC", "crv": "P-256", "x": b64(&[1u8; 32]), "y": b64(&[2u8; 32]), "d": b64(&[3u8; 32])}),
        json!({"kty": "EC", "crv": "P-256", "x": "not base64!", "y": "x", "d": "x"}),
        json!({"kty": "RSA"}),
        json!({"crv": "P-256"}),
    ];
    for key in cases {
        let r = call(&s, "PUT", &format!("{base}/keys/imp?{V}"), Some(&t), Some(json!({"key": key}))).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{key}: {}", r.body);
        assert!(!r.body.to_string().contains(&b64(&[3u8; 32])), "private material echoed");
    }
    assert_eq!(call(&s, "GET", &format!("{base}/keys/imp?{V}"), Some(&t), None).await.status, 404);
}

/// Out-of-range times and durations are 400 BadParameter, never stored (issue 11.5).
#[tokio::test]
async fn out_of_range_times_and_durations_are_bad_parameters() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    for attrs in [json!({"exp": 1_000_000_000_000_000_000_i64}), json!({"nbf": -1_000_000_000_000_000_000_i64})] {
        let body = json!({"kty": "EC", "crv": "P-256", "attributes": attrs});
        let r = call(&s, "POST", &format!("{base}/keys/far/create?{V}"), t, Some(body)).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{attrs}: {}", r.body);
        let r =
            call(&s, "PUT", &format!("{base}/secrets/far?{V}"), t, Some(json!({"value": "v", "attributes": attrs})))
                .await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{attrs}: {}", r.body);
    }
    let k = call(&s, "POST", &format!("{base}/keys/far/create?{V}"), t, Some(json!({"kty": "EC"}))).await;
    assert_eq!(k.status, 200, "{}", k.body);
    let r = call(
        &s,
        "PATCH",
        &format!("{base}/keys/far?{V}"),
        t,
        Some(json!({"attributes": {"exp": 253_402_300_800_i64}})),
    )
    .await;
    assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
    let huge = "PT9223372036000000000S";
    for (after, expiry) in [(huge, "P90D"), ("P30D", huge)] {
        let pol = json!({
            "lifetimeActions": [{"trigger": {"timeAfterCreate": after}, "action": {"type": "Rotate"}}],
            "attributes": {"expiryTime": expiry}
        });
        let r = call(&s, "PUT", &format!("{base}/keys/far/rotationpolicy?{V}"), t, Some(pol)).await;
        assert_eq!((r.status, code(&r)), (400, "BadParameter"), "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("out of range"), "{}", r.body);
    }
}
