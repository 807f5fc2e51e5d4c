//! Table of malformed requests: each gets the right status and Azure error code, and nothing
//! is written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{Reply, call, code};
use serde_json::{Value, json};
use strongbox_testkit::TestServer;

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    token: Tok,
    body: Option<Body>,
    status: u16,
    code: &'static str,
}

enum Tok {
    Admin,
    None,
    Raw(String),
}

enum Body {
    Json(Value),
    Raw(&'static str),
    Big(usize),
}

#[tokio::test]
async fn malformed_requests_are_refused_cleanly() {
    let s = TestServer::start_with_fake_clock(1_800_000_000).await;
    let admin = s.admin_token().await;
    let base = s.vault_url("default");
    let v = "api-version=7.6";

    // Tokens that must not work: forged signature, expired, wrong audience, wrong tenant/issuer.
    let parts: Vec<&str> = admin.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    let forge = |c: &Value| format!("{}.{}.{}", parts[0], enc(&serde_json::to_vec(c).unwrap()), parts[2]);
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("https://vault.azure.net");
    let mut wrong_tid = claims.clone();
    wrong_tid["tid"] = json!("00000000-0000-0000-0000-000000000000");
    claims["oid"] = json!("someone-else");
    let forged = forge(&claims);

    // An expired token: minted, then the clock moves past its lifetime.
    let other = strongbox_testkit::TestServer::start_with_fake_clock(1_700_000_000).await;
    let foreign = other.admin_token().await; // signed by another deployment's key

    let cases = vec![
        Case {
            what: "no token",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::None,
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 401,
            code: "Unauthorized",
        },
        Case {
            what: "garbage token",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Raw("garbage".into()),
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 401,
            code: "Unauthorized",
        },
        Case {
            what: "forged claims",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Raw(forged),
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 401,
            code: "Unauthorized",
        },
        Case {
            what: "wrong audience",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Raw(forge(&wrong_aud)),
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 401,
            code: "Unauthorized",
        },
        Case {
            what: "wrong tenant",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Raw(forge(&wrong_tid)),
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 401,
            code: "Unauthorized",
        },
        Case {
            what: "other deployment's token",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Raw(foreign),
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 401,
            code: "Unauthorized",
        },
        Case {
            what: "bad json",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Raw("{\"value\": ")),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "not an object",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Raw("[1,2]")),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "value wrong type",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": 12345}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "value missing",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"contentType": "x"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "empty body",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: None,
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "attributes wrong type",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x", "attributes": {"exp": "tomorrow"}}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "tags wrong type",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x", "tags": {"a": 1}}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "too many tags",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(
                json!({"value": "x", "tags": (0..16).map(|i| (format!("t{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            )),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "content type too long",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x", "contentType": "c".repeat(256)}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "nbf after exp",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x", "attributes": {"nbf": 20, "exp": 10}}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "value over 25 KB",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x".repeat(25 * 1024 + 1)}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "oversized body",
            method: "PUT",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Big(33 * 1024 * 1024)),
            status: 413,
            code: "RequestBodyTooLarge",
        },
        Case {
            what: "bad name (underscore)",
            method: "PUT",
            path: format!("/secrets/a_b?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "bad name (too long)",
            method: "PUT",
            path: format!("/secrets/{}?{v}", "n".repeat(128)),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "bad name (encoded dot)",
            method: "PUT",
            path: format!("/secrets/a%2Eb?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "bad version id",
            method: "GET",
            path: format!("/secrets/a/not-a-version?{v}"),
            token: Tok::Admin,
            body: None,
            status: 404,
            code: "SecretNotFound",
        },
        Case {
            what: "unknown api-version",
            method: "PUT",
            path: "/secrets/a?api-version=9.9".into(),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "missing api-version",
            method: "PUT",
            path: "/secrets/a".into(),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "x"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "bad maxresults",
            method: "GET",
            path: format!("/secrets?{v}&maxresults=0"),
            token: Tok::Admin,
            body: None,
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "bad skiptoken",
            method: "GET",
            path: format!("/secrets?{v}&$skiptoken=***"),
            token: Tok::Admin,
            body: None,
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "foreign skiptoken",
            method: "GET",
            path: format!("/secrets?{v}&$skiptoken=c2VjL290aGVyLw"),
            token: Tok::Admin,
            body: None,
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "bad restore blob",
            method: "POST",
            path: format!("/secrets/restore?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "AAAA"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "restore not base64url",
            method: "POST",
            path: format!("/secrets/restore?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"value": "!!"}))),
            status: 400,
            code: "BadParameter",
        },
        Case {
            what: "unknown route",
            method: "GET",
            path: format!("/nothing/here?{v}"),
            token: Tok::Admin,
            body: None,
            status: 404,
            code: "NotFound",
        },
        Case {
            what: "wrong method",
            method: "POST",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: None,
            status: 405,
            code: "MethodNotAllowed",
        },
        Case {
            what: "patch missing secret",
            method: "PATCH",
            path: format!("/secrets/a?{v}"),
            token: Tok::Admin,
            body: Some(Body::Json(json!({"contentType": "x"}))),
            status: 404,
            code: "SecretNotFound",
        },
    ];

    for c in cases {
        let url = format!("{base}{}", c.path);
        let mut req = s.http.request(reqwest::Method::from_bytes(c.method.as_bytes()).unwrap(), &url);
        req = match &c.token {
            Tok::Admin => req.bearer_auth(&admin),
            Tok::None => req,
            Tok::Raw(t) => req.bearer_auth(t),
        };
        req = match &c.body {
            Some(Body::Json(j)) => req.json(j),
            Some(Body::Raw(r)) => req.header("content-type", "application/json").body(*r),
            Some(Body::Big(n)) => req.header("content-type", "application/json").body(vec![b' '; *n]),
            None => req,
        };
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let reply = Reply { status, body, headers };
        assert_eq!((reply.status, code(&reply)), (c.status, c.code), "{}: {}", c.what, reply.body);
        if c.status == 401 {
            assert!(reply.headers.contains_key("www-authenticate"), "{}: 401 without challenge", c.what);
        }
        // 5xx never; and the error message never echoes a submitted value
        assert!(!reply.body.to_string().contains("12345"), "{}: echoed input", c.what);
    }

    // nothing was written by any of them
    let l = call(&s, "GET", &format!("{base}/secrets?{v}"), Some(&admin), None).await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 0, "a refused request wrote something: {}", l.body);
    let d = call(&s, "GET", &format!("{base}/deletedsecrets?{v}"), Some(&admin), None).await;
    assert_eq!(d.body["value"].as_array().unwrap().len(), 0);

    // expiry: the admin's own token stops working once the clock passes exp (+ skew)
    s.clock.as_ref().unwrap().advance(3600 + 120);
    let r = call(&s, "GET", &format!("{base}/secrets?{v}"), Some(&admin), None).await;
    assert_eq!((r.status, code(&r)), (401, "Unauthorized"));
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn enc(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
