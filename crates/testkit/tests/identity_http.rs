//! The identity issue over real HTTPS: service-principal management, revocation, client
//! assertions (certificates made and assertions signed by the `openssl` CLI, an independent
//! implementation), federation with a trusted issuer, failed-attempt limiting and signing-key
//! rotation. Every negative case asserts the OAuth2 error body (`error`, AADSTS code).
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use common::call;
use serde_json::{Value, json};
use strongbox_testkit::TestServer;

const T0: i64 = 1_800_000_000;
const V: &str = "api-version=7.6";
const SP: &str = "_strongbox/serviceprincipals";

fn b64u(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn b64u_padded(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(b)
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A key and self-signed certificate made by openssl: `rsa` or `ec`.
struct Cert {
    key: String,
    pem: String,
    der: Vec<u8>,
}

fn make_cert(dir: &Path, name: &str, kind: &str) -> Cert {
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    match kind {
        "rsa" => openssl(dir, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &key]),
        _ => openssl(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &key]),
    };
    openssl(
        dir,
        &["req", "-new", "-x509", "-key", &key, "-out", &crt, "-days", "3650", "-subj", &format!("/CN={name}")],
    );
    let der = openssl(dir, &["x509", "-in", &crt, "-outform", "DER"]);
    Cert { key, pem: std::fs::read_to_string(dir.join(&crt)).unwrap(), der }
}

/// Raw `r ‖ s` (32 bytes each) from openssl's DER ECDSA signature.
fn ecdsa_der_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut i = if der[1] & 0x80 != 0 { 2 + usize::from(der[1] & 0x7f) } else { 2 };
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[i], 0x02);
        let len = usize::from(der[i + 1]);
        let int = &der[i + 2..i + 2 + len];
        let int = if int.len() > 32 { &int[int.len() - 32..] } else { int };
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(int);
        i += 2 + len;
    }
    out
}

/// A compact JWS signed by openssl with `key` (RS256, PS256 or ES256).
fn sign_jwt(dir: &Path, key: &str, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64u(header.to_string().as_bytes()), b64u(claims.to_string().as_bytes()));
    let file = format!("in-{}", uuid_like());
    std::fs::write(dir.join(&file), &input).unwrap();
    let sig = match header["alg"].as_str().unwrap() {
        "RS256" => openssl(dir, &["dgst", "-sha256", "-sign", key, &file]),
        "PS256" => openssl(
            dir,
            &[
                "dgst",
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
                "-sign",
                key,
                &file,
            ],
        ),
        "ES256" => ecdsa_der_to_raw(&openssl(dir, &["dgst", "-sha256", "-sign", key, &file])),
        other => panic!("alg {other}"),
    };
    format!("{input}.{}", b64u(&sig))
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn sha(dir: &Path, der: &[u8], alg: &str) -> Vec<u8> {
    let f = format!("der-{}", uuid_like());
    std::fs::write(dir.join(&f), der).unwrap();
    openssl(dir, &["dgst", alg, "-binary", &f])
}

struct Srv {
    s: TestServer,
    admin: String,
}

impl Srv {
    async fn start() -> Self {
        let s = TestServer::start_with_fake_clock(T0).await;
        let admin = s.admin_token().await;
        Self { s, admin }
    }
    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.s.boot.authority)
    }
    async fn mgmt(&self, method: &str, path: &str, body: Option<Value>) -> common::Reply {
        call(&self.s, method, &format!("{}/{path}?{V}", self.s.vault_url("default")), Some(&self.admin), body).await
    }
    fn advance(&self, secs: i64) {
        self.s.clock.as_ref().unwrap().advance(secs);
    }
    /// POSTs a token request; returns (status, body, headers).
    async fn token(&self, form: &[(&str, &str)]) -> common::Reply {
        let scope = format!("{}/.default", self.s.resource());
        let mut f: Vec<(&str, &str)> = form.to_vec();
        if !form.iter().any(|(k, _)| *k == "grant_type") {
            f.push(("grant_type", "client_credentials"));
        }
        if !form.iter().any(|(k, _)| *k == "scope") {
            f.push(("scope", &scope));
        }
        let r = self.s.http.post(self.s.token_url()).form(&f).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body: Value = r.json().await.unwrap();
        common::Reply { status, body, headers }
    }
    async fn secret_token(&self, app: &str, secret: &str) -> common::Reply {
        self.token(&[("client_id", app), ("client_secret", secret)]).await
    }
    async fn assertion_token(&self, app: &str, assertion: &str) -> common::Reply {
        self.token(&[
            ("client_id", app),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
            ("client_info", "1"),
        ])
        .await
    }
    /// 403 = a valid token without a role; 401 = token rejected.
    async fn probe(&self, token: &str) -> u16 {
        call(&self.s, "GET", &format!("{}/secrets?{V}", self.s.vault_url("default")), Some(token), None).await.status
    }
    async fn new_sp(&self, name: &str) -> (String, String) {
        let r = self.mgmt("POST", SP, Some(json!({"displayName": name}))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        (r.body["appId"].as_str().unwrap().to_owned(), r.body["password"].as_str().unwrap().to_owned())
    }
}

fn assert_oauth(r: &common::Reply, status: u16, error: &str, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"], error, "{}", r.body);
    let d = r.body["error_description"].as_str().unwrap();
    assert!(d.starts_with(&format!("{code}:")), "expected {code}, got {d}");
    assert!(r.body.get("access_token").is_none());
}

fn access(r: &common::Reply) -> String {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["access_token"].as_str().unwrap().to_owned()
}

fn claims(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    let p = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

#[tokio::test]
async fn principals_and_secrets_are_managed_and_revoked() {
    let t = Srv::start().await;
    let (app, first) = t.new_sp("managed").await;

    // list and show (no secret anywhere)
    let list = t.mgmt("GET", SP, None).await;
    assert_eq!(list.status, 200);
    assert!(list.body["value"].as_array().unwrap().iter().any(|p| p["appId"] == app.as_str()));
    let show = t.mgmt("GET", &format!("{SP}/{app}"), None).await;
    assert_eq!(show.body["accountEnabled"], true);
    let oid = show.body["objectId"].as_str().unwrap().to_owned();
    assert_eq!(t.mgmt("GET", &format!("{SP}/{oid}"), None).await.body["appId"], app.as_str(), "by object id");
    assert!(!show.body.to_string().contains(&first));

    // a second secret alongside the first (rotation without downtime)
    let reset =
        t.mgmt("POST", &format!("{SP}/{app}/credentials"), Some(json!({"append": true, "displayName": "rot"}))).await;
    assert_eq!(reset.status, 201, "{}", reset.body);
    let second = reset.body["password"].as_str().unwrap().to_owned();
    let second_id = reset.body["keyId"].as_str().unwrap().to_owned();
    assert_eq!(reset.body["endDateTime"], T0 + 365 * 86_400, "one year by default");
    let creds = t.mgmt("GET", &format!("{SP}/{app}/credentials"), None).await;
    let items = creds.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|c| c["type"] == "Password" && c["hint"].as_str().unwrap().len() == 3));
    assert!(!creds.body.to_string().contains(&first) && !creds.body.to_string().contains(&second));
    let first_id =
        items.iter().find(|c| c["keyId"] != second_id.as_str()).unwrap()["keyId"].as_str().unwrap().to_owned();

    let tok1 = access(&t.secret_token(&app, &first).await);
    let tok2 = access(&t.secret_token(&app, &second).await);
    assert_eq!(t.probe(&tok1).await, 403, "valid token, no role");
    assert_eq!(t.probe(&tok2).await, 403);

    // deleting the first secret: its token is rejected at once, the second keeps working
    assert_eq!(t.mgmt("DELETE", &format!("{SP}/{app}/credentials/{first_id}"), None).await.status, 204);
    assert_eq!(t.probe(&tok1).await, 401, "token of a deleted credential");
    assert_eq!(t.probe(&tok2).await, 403);
    assert_oauth(&t.secret_token(&app, &first).await, 401, "invalid_client", "AADSTS7000215");
    assert_oauth(&t.secret_token(&app, "sbx~wrong").await, 401, "invalid_client", "AADSTS7000215");

    // disable / enable
    let d = t.mgmt("PATCH", &format!("{SP}/{app}"), Some(json!({"accountEnabled": false}))).await;
    assert_eq!((d.status, &d.body["accountEnabled"]), (200, &json!(false)));
    assert_eq!(t.probe(&tok2).await, 401, "token of a disabled principal");
    assert_oauth(&t.secret_token(&app, &second).await, 400, "unauthorized_client", "AADSTS7000112");
    t.mgmt("PATCH", &format!("{SP}/{app}"), Some(json!({"accountEnabled": true}))).await;
    assert_eq!(t.probe(&tok2).await, 403, "enabled again");

    // an expiring secret
    let short = t
        .mgmt("POST", &format!("{SP}/{app}/credentials"), Some(json!({"append": true, "endDateTime": T0 + 600})))
        .await;
    let short_pw = short.body["password"].as_str().unwrap().to_owned();
    access(&t.secret_token(&app, &short_pw).await);
    t.advance(601);
    assert_oauth(&t.secret_token(&app, &short_pw).await, 401, "invalid_client", "AADSTS7000222");
    let listed = t.mgmt("GET", &format!("{SP}/{app}/credentials"), None).await;
    assert!(listed.body["value"].as_array().unwrap().iter().any(|c| c["expired"] == true));

    // reset without --append replaces every secret
    let fresh = t.mgmt("POST", &format!("{SP}/{app}/credentials"), Some(json!({}))).await;
    assert_eq!(
        t.mgmt("GET", &format!("{SP}/{app}/credentials"), None).await.body["value"].as_array().unwrap().len(),
        1
    );
    assert_eq!(t.probe(&tok2).await, 401, "replaced secret's token");
    let tok3 = access(&t.secret_token(&app, fresh.body["password"].as_str().unwrap()).await);

    // delete the principal
    assert_eq!(t.mgmt("DELETE", &format!("{SP}/{app}"), None).await.status, 204);
    assert_eq!(t.probe(&tok3).await, 401);
    assert_oauth(
        &t.secret_token(&app, fresh.body["password"].as_str().unwrap()).await,
        400,
        "unauthorized_client",
        "AADSTS700016",
    );
    assert_eq!(t.mgmt("GET", &format!("{SP}/{app}"), None).await.status, 404);

    // only administrators may manage the directory
    let (other, pw) = t.new_sp("not-admin").await;
    let tok = access(&t.secret_token(&other, &pw).await);
    let r = call(&t.s, "GET", &format!("{}/{SP}?{V}", t.s.vault_url("default")), Some(&tok), None).await;
    assert_eq!(r.status, 403);

    // security events: successes and failures, no credential in them
    let events = t.s.running.core.identity.security_events(0, 10_000).await.unwrap();
    let text = format!("{events:?}");
    assert!(events.iter().any(|e| e.kind == "signin" && e.outcome == "failure" && e.detail == "AADSTS7000215"));
    assert!(events.iter().any(|e| e.kind == "signin" && e.outcome == "success" && e.actor == app));
    assert!(events.iter().any(|e| e.kind == "credential.delete" && e.target == app));
    assert!(events.iter().any(|e| e.kind == "principal.disable"));
    for s in [&first, &second, &short_pw, &tok1, &tok2] {
        assert!(!text.contains(s.as_str()), "a credential or token in the security events");
    }
}

#[tokio::test]
async fn certificate_assertions_rs256_ps256_es256_with_replay_and_revocation() {
    let t = Srv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (app, _) = t.new_sp("cert-app").await;
    let rsa = make_cert(d, "rsa", "rsa");
    let ec = make_cert(d, "ec", "ec");
    let up = t.mgmt("POST", &format!("{SP}/{app}/certificates"), Some(json!({"certificate": rsa.pem}))).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let sha1 = sha(d, &rsa.der, "-sha1");
    assert_eq!(
        up.body["customKeyIdentifier"].as_str().unwrap(),
        sha1.iter().map(|b| format!("{b:02X}")).collect::<String>()
    );
    let rsa_key_id = up.body["keyId"].as_str().unwrap().to_owned();
    assert_eq!(
        t.mgmt("POST", &format!("{SP}/{app}/certificates"), Some(json!({"certificate": ec.pem}))).await.status,
        201
    );
    assert_eq!(
        t.mgmt(
            "POST",
            &format!("{SP}/{app}/certificates"),
            Some(json!({"certificate": format!("{}\n-----BEGIN PRIVATE KEY-----", rsa.pem)}))
        )
        .await
        .status,
        400,
        "a private key is refused"
    );

    let aud = t.s.token_url();
    let base = |jti: &str| {
        // MSAL's shape: float iat/exp, no nbf
        json!({"aud": aud, "iss": app, "sub": app, "jti": jti, "iat": T0 as f64 + 0.25, "exp": T0 as f64 + 600.7})
    };
    // RS256 with MSAL's padded x5t
    let h = json!({"alg": "RS256", "typ": "JWT", "x5t": b64u_padded(&sha1)});
    let a1 = sign_jwt(d, &rsa.key, &h, &base("jti-1"));
    let tok = access(&t.assertion_token(&app, &a1).await);
    assert_eq!(claims(&tok)["appid"], app.as_str());
    assert_eq!(t.probe(&tok).await, 403);
    // the same assertion again: replay
    assert_oauth(&t.assertion_token(&app, &a1).await, 401, "invalid_client", "AADSTS700025");
    // PS256 with x5t#S256
    let sha256 = sha(d, &rsa.der, "-sha256");
    let h = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": b64u(&sha256)});
    access(&t.assertion_token(&app, &sign_jwt(d, &rsa.key, &h, &base("jti-2"))).await);
    // ES256 with the EC certificate
    let h = json!({"alg": "ES256", "typ": "JWT", "x5t": b64u(&sha(d, &ec.der, "-sha1"))});
    access(&t.assertion_token(&app, &sign_jwt(d, &ec.key, &h, &base("jti-3"))).await);

    // signed by another key under the registered thumbprint
    let other = make_cert(d, "other", "rsa");
    let h = json!({"alg": "RS256", "typ": "JWT", "x5t": b64u(&sha1)});
    assert_oauth(
        &t.assertion_token(&app, &sign_jwt(d, &other.key, &h, &base("jti-4"))).await,
        401,
        "invalid_client",
        "AADSTS700027",
    );
    // an unregistered certificate
    let h2 = json!({"alg": "RS256", "typ": "JWT", "x5t": b64u(&sha(d, &other.der, "-sha1"))});
    assert_oauth(
        &t.assertion_token(&app, &sign_jwt(d, &other.key, &h2, &base("jti-5"))).await,
        401,
        "invalid_client",
        "AADSTS700027",
    );
    // wrong audience
    let mut c = base("jti-6");
    c["aud"] = json!("https://login.microsoftonline.com/x/oauth2/v2.0/token");
    assert_oauth(&t.assertion_token(&app, &sign_jwt(d, &rsa.key, &h, &c)).await, 400, "invalid_client", "AADSTS700212");
    // expired
    let mut c = base("jti-7");
    c["exp"] = json!(T0 - 3600);
    assert_oauth(&t.assertion_token(&app, &sign_jwt(d, &rsa.key, &h, &c)).await, 400, "invalid_client", "AADSTS700024");
    // no jti
    let mut c = base("x");
    c.as_object_mut().unwrap().remove("jti");
    assert_oauth(&t.assertion_token(&app, &sign_jwt(d, &rsa.key, &h, &c)).await, 400, "invalid_request", "AADSTS50027");
    // alg none
    let none = format!("{}.{}.", b64u(br#"{"alg":"none","x5t":"x"}"#), b64u(base("n").to_string().as_bytes()));
    assert!(t.assertion_token(&app, &none).await.status >= 400);

    // deleting the certificate revokes its tokens at once
    assert_eq!(t.mgmt("DELETE", &format!("{SP}/{app}/credentials/{rsa_key_id}"), None).await.status, 204);
    assert_eq!(t.probe(&tok).await, 401);
    let h = json!({"alg": "RS256", "typ": "JWT", "x5t": b64u(&sha1)});
    assert_oauth(
        &t.assertion_token(&app, &sign_jwt(d, &rsa.key, &h, &base("jti-8"))).await,
        401,
        "invalid_client",
        "AADSTS700027",
    );

    // jti memory is dropped after the assertions expire
    t.advance(700);
    t.s.running.core.identity.maintenance().await.unwrap();
}

/// The issuer's public key as a JWK, from openssl's DER SubjectPublicKeyInfo.
fn jwk_of(d: &Path, c: &Cert, kid: &str) -> Value {
    let der = openssl(d, &["pkey", "-in", &c.key, "-pubout", "-outform", "DER"]);
    if c.key.starts_with("ec") || c.key.starts_with("iss-ec") {
        let point = &der[der.len() - 65..];
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64u(&point[1..33]), "y": b64u(&point[33..])})
    } else {
        let text = String::from_utf8(openssl(d, &["rsa", "-in", &c.key, "-noout", "-modulus"])).unwrap();
        let hex = text.trim().trim_start_matches("Modulus=");
        let n: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        json!({"kty": "RSA", "kid": kid, "n": b64u(&n), "e": "AQAB"})
    }
}

#[tokio::test]
async fn federated_tokens_from_a_trusted_issuer() {
    let t = Srv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (app, _) = t.new_sp("workload").await;
    let ec = make_cert(d, "iss-ec", "ec");
    let rsa = make_cert(d, "iss-rsa", "rsa");
    let issuer = "https://oidc.cluster.example/issuer";
    let jwks = json!({"keys": [jwk_of(d, &ec, "k-ec"), jwk_of(d, &rsa, "k-rsa")]});
    let put = t.mgmt("PUT", "_strongbox/trustedissuers/cluster", Some(json!({"issuer": issuer, "jwks": jwks}))).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let subject = "system:serviceaccount:apps:web";
    let fc = t
        .mgmt(
            "POST",
            &format!("{SP}/{app}/federatedcredentials"),
            Some(json!({"name": "web", "issuer": issuer, "subject": subject})),
        )
        .await;
    assert_eq!(fc.status, 201, "{}", fc.body);
    assert_eq!(fc.body["audiences"], json!(["api://AzureADTokenExchange"]));
    let untrusted_fc = t
        .mgmt(
            "POST",
            &format!("{SP}/{app}/federatedcredentials"),
            Some(json!({"name": "x", "issuer": "https://nobody.example", "subject": "s"})),
        )
        .await;
    assert_eq!(untrusted_fc.status, 400, "an issuer must be trusted first");

    let claims_for = |iss: &str, sub: &str, aud: &str, exp: i64| json!({"iss": iss, "sub": sub, "aud": [aud], "iat": T0, "nbf": T0, "exp": exp});
    let aud = "api://AzureADTokenExchange";
    let es = json!({"alg": "ES256", "typ": "JWT", "kid": "k-ec"});
    let rs = json!({"alg": "RS256", "typ": "JWT", "kid": "k-rsa"});
    let fed = sign_jwt(d, &ec.key, &es, &claims_for(issuer, subject, aud, T0 + 3600));
    let tok = access(&t.assertion_token(&app, &fed).await);
    assert_eq!(claims(&tok)["appid"], app.as_str());
    // the same federated token may be presented again (azure-identity re-reads the file)
    access(&t.assertion_token(&app, &fed).await);
    access(&t.assertion_token(&app, &sign_jwt(d, &rsa.key, &rs, &claims_for(issuer, subject, aud, T0 + 3600))).await);

    // negatives
    let other = make_cert(d, "other-ec", "ec");
    assert_oauth(
        &t.assertion_token(&app, &sign_jwt(d, &other.key, &es, &claims_for(issuer, subject, aud, T0 + 3600))).await,
        401,
        "invalid_client",
        "AADSTS700027",
    );
    assert_oauth(
        &t.assertion_token(
            &app,
            &sign_jwt(d, &ec.key, &es, &claims_for("https://evil.example", subject, aud, T0 + 3600)),
        )
        .await,
        400,
        "invalid_client",
        "AADSTS700211",
    );
    assert_oauth(
        &t.assertion_token(
            &app,
            &sign_jwt(d, &ec.key, &es, &claims_for(issuer, "system:serviceaccount:x:y", aud, T0 + 3600)),
        )
        .await,
        400,
        "invalid_client",
        "AADSTS700213",
    );
    assert_oauth(
        &t.assertion_token(&app, &sign_jwt(d, &ec.key, &es, &claims_for(issuer, subject, "api://other", T0 + 3600)))
            .await,
        400,
        "invalid_client",
        "AADSTS700212",
    );
    t.advance(3600 + 61);
    assert_oauth(&t.assertion_token(&app, &fed).await, 400, "invalid_client", "AADSTS700024");

    // deleting the federated credential revokes its tokens
    let tok = access(
        &t.assertion_token(&app, &sign_jwt(d, &ec.key, &es, &claims_for(issuer, subject, aud, T0 + 7200))).await,
    );
    let admin = t.s.admin_token().await;
    let r = call(
        &t.s,
        "DELETE",
        &format!("{}/{SP}/{app}/federatedcredentials/web?{V}", t.s.vault_url("default")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(t.probe(&tok).await, 401);
}

#[tokio::test]
async fn failed_attempts_are_throttled_with_backoff() {
    let t = Srv::start().await;
    let (app, pw) = t.new_sp("target").await;
    for _ in 0..5 {
        assert_oauth(&t.secret_token(&app, "sbx~guess").await, 401, "invalid_client", "AADSTS7000215");
    }
    // now even the right secret is refused, unverified, until the back-off passes
    let r = t.secret_token(&app, &pw).await;
    assert_oauth(&r, 429, "temporarily_unavailable", "AADSTS50053");
    let wait: i64 = r.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait));
    // another client from the same address is not blocked (address threshold is higher)
    let (other, other_pw) = t.new_sp("bystander").await;
    access(&t.secret_token(&other, &other_pw).await);
    t.advance(wait);
    access(&t.secret_token(&app, &pw).await);
    let events = t.s.running.core.identity.security_events(0, 10_000).await.unwrap();
    assert!(events.iter().any(|e| e.detail == "AADSTS50053" && e.actor == app));
}

#[tokio::test]
async fn signing_keys_rotate_with_jwks_overlap() {
    let t = Srv::start().await;
    let jwks_url = t.url(&format!("{}/discovery/v2.0/keys", t.s.boot.tenant_id));
    let keys = |v: Value| {
        v["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let before = keys(t.s.http.get(&jwks_url).send().await.unwrap().json().await.unwrap());
    assert_eq!(before.len(), 1);
    assert_eq!(header(&t.admin)["kid"], before[0].as_str());

    let p = t
        .mgmt(
            "PUT",
            "_strongbox/identitypolicy",
            Some(json!({"signingKeyRotationSeconds": 7200, "mfaRequiredForUsers": true})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        t.mgmt("PUT", "_strongbox/identitypolicy", Some(json!({"signingKeyRotationSeconds": 5}))).await.status,
        400
    );
    t.s.running.core.identity.maintenance().await.unwrap();
    assert_eq!(keys(t.s.http.get(&jwks_url).send().await.unwrap().json().await.unwrap()), before, "not due yet");

    // a token signed by the old key shortly before the rotation
    t.advance(5400);
    let old_token = t.s.admin_token().await;
    assert_eq!(header(&old_token)["kid"], before[0].as_str());
    t.advance(1800);
    t.s.running.core.identity.maintenance().await.unwrap();
    let during = keys(t.s.http.get(&jwks_url).send().await.unwrap().json().await.unwrap());
    assert_eq!(during.len(), 2, "old and new key are both published");
    let new_token = t.s.admin_token().await;
    let new_kid = header(&new_token)["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, before[0], "the new key signs");
    assert!(during.contains(&new_kid));
    assert_eq!(t.probe(&new_token).await, 200);
    assert_eq!(t.probe(&old_token).await, 200, "tokens of the old key stay valid until they expire");

    // after the old key's last possible token expired it leaves the JWKS
    t.advance(3600 + 61);
    t.s.running.core.identity.maintenance().await.unwrap();
    let after = keys(t.s.http.get(&jwks_url).send().await.unwrap().json().await.unwrap());
    assert_eq!(after, vec![new_kid.clone()]);
    let fresh = t.s.admin_token().await;
    assert_eq!(header(&fresh)["kid"], new_kid.as_str());
    assert_eq!(t.probe(&fresh).await, 200);
}

/// A static HTTPS file server (`openssl s_server -WWW`, serving `dir`) on a loopback port,
/// with a certificate from a local CA (`ca.pem` in `dir`'s parent). Killed on drop.
struct StaticHttps {
    child: std::process::Child,
    port: u16,
}

impl Drop for StaticHttps {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl StaticHttps {
    fn start(d: &Path, www: &Path) -> Self {
        let run = |cmd: &str| openssl(d, &cmd.split(' ').collect::<Vec<_>>());
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        run(&format!(
            "req -x509 {ec} -keyout ca.key -out ca.pem -days 30 -subj /CN=TestIdpCA -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
        ));
        run(&format!("req -new {ec} -keyout tls.key -out tls.csr -subj /CN=127.0.0.1"));
        std::fs::write(
            d.join("tls.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run("x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tls.pem -days 30 -extfile tls.ext");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("openssl")
            .current_dir(www)
            .args(["s_server", "-quiet", "-WWW", "-accept", &format!("127.0.0.1:{port}")])
            .args(["-cert", d.join("tls.pem").to_str().unwrap(), "-key", d.join("tls.key").to_str().unwrap()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        let s = Self { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("openssl s_server did not start on port {port}");
    }

    fn url(&self, file: &str) -> String {
        format!("https://127.0.0.1:{}/{file}", self.port)
    }
}

#[tokio::test]
async fn trusted_issuer_keys_are_fetched_by_discovery_and_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let www = d.join("www");
    std::fs::create_dir(&www).unwrap();
    let idp = StaticHttps::start(d, &www);
    let issuer = "https://idp.corp.example/tenant-a";
    let write = |file: &str, v: &Value| std::fs::write(www.join(file), v.to_string()).unwrap();
    write("disc.json", &json!({"issuer": issuer, "jwks_uri": idp.url("jwks.json")}));
    write("disc-other.json", &json!({"issuer": "https://someone.else.example", "jwks_uri": idp.url("jwks.json")}));
    let (k1, k2, k3) = (make_cert(d, "iss-ec-1", "ec"), make_cert(d, "iss-ec-2", "ec"), make_cert(d, "iss-ec-3", "ec"));
    write("jwks.json", &json!({"keys": [jwk_of(d, &k1, "k1")]}));

    let ca = d.join("ca.pem");
    let s = TestServer::start_configured(Some(strongbox_types::FakeClock::new(T0)), |c| {
        c.trusted_issuer_ca = Some(ca.clone());
        // the test's issuer is on loopback
        c.issuer_fetch_allow_private = true;
    })
    .await;
    let admin = s.admin_token().await;
    let t = Srv { s, admin };
    let put = |url: String| {
        let t = &t;
        async move {
            t.mgmt("PUT", "_strongbox/trustedissuers/corp", Some(json!({"issuer": issuer, "discoveryUrl": url}))).await
        }
    };

    // failures are 400s naming the host, and nothing is stored
    let bad = |r: &common::Reply, host: &str, what: &str| {
        assert_eq!(r.status, 400, "{}", r.body);
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.contains(host) && m.contains(what), "{m}");
    };
    let host = format!("127.0.0.1:{}", idp.port);
    let other = put(idp.url("disc-other.json")).await;
    bad(&other, &host, "not the registered");
    assert!(!other.body.to_string().contains("someone.else"), "the remote issuer value is repeated: {}", other.body);
    // (s_server answers a missing file with a 200 and an error text)
    bad(&put(idp.url("missing.json")).await, &host, "is not JSON");
    std::fs::write(www.join("huge.json"), vec![b' '; 300 * 1024]).unwrap();
    bad(&put(idp.url("huge.json")).await, &host, "larger than");
    bad(&put("https://127.0.0.1:1/disc.json".into()).await, "127.0.0.1:1", "failed");
    bad(&put(format!("http://127.0.0.1:{}/disc.json", idp.port)).await, "", "https");
    let listed = t.mgmt("GET", "_strongbox/trustedissuers", None).await;
    assert_eq!(listed.body["value"], json!([]), "{}", listed.body);

    // registered by discovery URL only: the server fetched the keys itself
    let r = put(idp.url("disc.json")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["keyIds"], json!(["k1"]));
    assert_eq!(r.body["jwksFetched"], T0);

    let (app, _) = t.new_sp("corp-workload").await;
    let subject = "user:alice";
    let fc = t
        .mgmt(
            "POST",
            &format!("{SP}/{app}/federatedcredentials"),
            Some(json!({"name": "corp", "issuer": issuer, "subject": subject})),
        )
        .await;
    assert_eq!(fc.status, 201, "{}", fc.body);
    let aud = "api://AzureADTokenExchange";
    let fed = |c: &Cert, kid: &str| {
        let claims = json!({"iss": issuer, "sub": subject, "aud": [aud], "iat": T0, "nbf": T0, "exp": T0 + 3600});
        sign_jwt(d, &c.key, &json!({"alg": "ES256", "typ": "JWT", "kid": kid}), &claims)
    };
    let tok = access(&t.assertion_token(&app, &fed(&k1, "k1")).await);
    assert_eq!(claims(&tok)["appid"], app.as_str());

    // the issuer rotates k1 -> k2; within a minute of the last fetch an unknown kid is refused
    write("jwks.json", &json!({"keys": [jwk_of(d, &k2, "k2")]}));
    assert_oauth(&t.assertion_token(&app, &fed(&k2, "k2")).await, 401, "invalid_client", "AADSTS700027");
    // later, the unknown kid makes the server re-fetch: the new key works, the removed one not
    t.advance(61);
    access(&t.assertion_token(&app, &fed(&k2, "k2")).await);
    assert_oauth(&t.assertion_token(&app, &fed(&k1, "k1")).await, 401, "invalid_client", "AADSTS700027");

    // the scheduled refresh (what the background loop runs) picks up the next rotation
    write("jwks.json", &json!({"keys": [jwk_of(d, &k3, "k3")]}));
    assert_oauth(&t.assertion_token(&app, &fed(&k3, "k3")).await, 401, "invalid_client", "AADSTS700027");
    assert_eq!(t.s.running.core.identity.refresh_trusted_issuers().await.unwrap(), 1);
    let listed = t.mgmt("GET", "_strongbox/trustedissuers", None).await;
    assert_eq!(listed.body["value"][0]["keyIds"], json!(["k3"]), "{}", listed.body);
    access(&t.assertion_token(&app, &fed(&k3, "k3")).await);
    assert_oauth(&t.assertion_token(&app, &fed(&k2, "k2")).await, 401, "invalid_client", "AADSTS700027");

    // a failed refresh keeps the last good keys
    std::fs::remove_file(www.join("jwks.json")).unwrap();
    assert_eq!(t.s.running.core.identity.refresh_trusted_issuers().await.unwrap(), 0);
    access(&t.assertion_token(&app, &fed(&k3, "k3")).await);

    // attestation authorities registered without a JWKS are refreshed by the same loop
    let authority = idp.url("att");
    std::fs::create_dir_all(www.join("att/.well-known")).unwrap();
    write("att/.well-known/openid-configuration", &json!({"issuer": authority, "jwks_uri": idp.url("att-jwks.json")}));
    write("att-jwks.json", &json!({"keys": [jwk_of(d, &k1, "a1")]}));
    let r = t.mgmt("PUT", "_strongbox/attestationauthorities/maa", Some(json!({"authority": authority}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["keyIds"], json!(["a1"]), "{}", r.body);
    write("att-jwks.json", &json!({"keys": [jwk_of(d, &k2, "a2")]}));
    t.advance(61);
    assert_eq!(t.s.running.core.identity.refresh_attestation_authorities().await.unwrap(), 1);
    let listed = t.mgmt("GET", "_strongbox/attestationauthorities", None).await;
    assert_eq!(listed.body["value"][0]["keyIds"], json!(["a2"]), "{}", listed.body);
    std::fs::remove_file(www.join("att-jwks.json")).unwrap();
    t.advance(61);
    assert_eq!(t.s.running.core.identity.refresh_attestation_authorities().await.unwrap(), 0, "a failed fetch");
    let listed = t.mgmt("GET", "_strongbox/attestationauthorities", None).await;
    assert_eq!(listed.body["value"][0]["keyIds"], json!(["a2"]), "the last good keys stay: {}", listed.body);
}

fn base32_decode(s: &str) -> Vec<u8> {
    let (mut buf, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32"),
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 code computed with openssl's HMAC-SHA1 (independent of the server's code).
fn totp_by_openssl(d: &Path, secret: &[u8], time: i64) -> String {
    let f = format!("ctr-{}", uuid_like());
    std::fs::write(d.join(&f), ((time / 30) as u64).to_be_bytes()).unwrap();
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mac = openssl(d, &["dgst", "-sha1", "-mac", "HMAC", "-macopt", &format!("hexkey:{hex}"), "-binary", &f]);
    let off = usize::from(mac[19] & 0x0f);
    let bin = (u32::from(mac[off] & 0x7f) << 24)
        | (u32::from(mac[off + 1]) << 16)
        | (u32::from(mac[off + 2]) << 8)
        | u32::from(mac[off + 3]);
    format!("{:06}", bin % 1_000_000)
}

const CLI_CLIENT: &str = "5b1d3a2e-7c41-4f0e-9d6a-3c8b2f1e0a77";

impl Srv {
    async fn device_code(&self) -> Value {
        let url = self.url(&format!("{}/oauth2/v2.0/devicecode", self.s.boot.tenant_id));
        let scope = format!("{}/.default offline_access", self.s.resource());
        let r =
            self.s.http.post(url).form(&[("client_id", CLI_CLIENT), ("scope", scope.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
    async fn poll(&self, device_code: &str) -> common::Reply {
        self.token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", CLI_CLIENT),
            ("device_code", device_code),
        ])
        .await
    }
    /// The page as a browser drives it: open (cookie + CSRF token), enter the code, then the
    /// credentials with the confirmation.
    async fn verify_page(&self, user_code: &str, user: &str, pw: &str, otp: &str, action: &str) -> String {
        let url = self.url(&format!("{}/oauth2/v2.0/deviceauth", self.s.boot.tenant_id));
        let r = self.s.http.get(&url).send().await.unwrap();
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let page = r.text().await.unwrap();
        let csrf = page.split("name=csrf value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let origin = self.s.boot.authority.clone();
        let post = |form: Vec<(&'static str, String)>| {
            let (url, cookie, origin) = (url.clone(), cookie.clone(), origin.clone());
            async move {
                let r = self.s.http.post(url).header("cookie", cookie).header("origin", origin).form(&form);
                let r = r.send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.text().await.unwrap()
            }
        };
        let step = post(vec![("csrf", csrf.clone()), ("user_code", user_code.into()), ("step", "code".into())]).await;
        if !step.contains("name=password") {
            return step;
        }
        post(vec![
            ("csrf", csrf),
            ("user_code", user_code.into()),
            ("username", user.into()),
            ("password", pw.into()),
            ("otp", otp.into()),
            ("confirm", "yes".into()),
            ("action", action.into()),
        ])
        .await
    }
}

#[tokio::test]
async fn users_sign_in_with_device_code_password_and_totp() {
    let t = Srv::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pw = "correct horse battery staple";
    let weak = t.mgmt("POST", "_strongbox/users", Some(json!({"userPrincipalName": "bob", "password": "short"}))).await;
    assert_eq!(weak.status, 400);
    let created = t
        .mgmt(
            "POST",
            "_strongbox/users",
            Some(json!({"userPrincipalName": "alice@example.org", "displayName": "Alice", "password": pw})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let oid = created.body["objectId"].as_str().unwrap().to_owned();
    let uri = created.body["otpauthUri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("otpauth://totp/Strongbox:alice@example.org?secret="));
    let secret = base32_decode(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap());
    assert_eq!(secret.len(), 20);
    let shown = t.mgmt("GET", "_strongbox/users/alice@example.org", None).await;
    assert_eq!(shown.body["mfaEnrolled"], true);
    assert!(shown.body.get("otpauthUri").is_none(), "the TOTP URI is shown once");
    assert_eq!(t.mgmt("GET", "_strongbox/users", None).await.body["value"].as_array().unwrap().len(), 1);

    // a device code; polling before approval
    let dc = t.device_code().await;
    let (device, user_code) =
        (dc["device_code"].as_str().unwrap().to_owned(), dc["user_code"].as_str().unwrap().to_owned());
    assert_eq!(dc["interval"], 5);
    assert!(dc["verification_uri"].as_str().unwrap().ends_with("/oauth2/v2.0/deviceauth"));
    assert_oauth(&t.poll(&device).await, 400, "authorization_pending", "AADSTS70016");
    let page = t.s.http.get(dc["verification_uri"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let text = page.text().await.unwrap();
    assert!(text.contains("name=user_code") && text.contains("name=csrf"), "{text}");

    // wrong TOTP, wrong password: refused, still pending
    let good = totp_by_openssl(d, &secret, T0);
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert!(t.verify_page(&user_code, "alice@example.org", pw, &wrong, "approve").await.contains("wrong"));
    assert!(t.verify_page(&user_code, "alice@example.org", "nope nope nope", &good, "approve").await.contains("wrong"));
    // polling faster than the interval (RFC 8628 slow_down)
    assert_oauth(&t.poll(&device).await, 400, "slow_down", "AADSTS70016");
    t.advance(5);
    assert_oauth(&t.poll(&device).await, 400, "authorization_pending", "AADSTS70016");
    // approve
    assert!(t.verify_page(&user_code, "alice@example.org", pw, &good, "approve").await.contains("Signed in"));
    let r = t.poll(&device).await;
    let user_token = access(&r);
    let c = claims(&user_token);
    assert_eq!(c["amr"], json!(["pwd", "mfa"]));
    assert_eq!((c["idtyp"].as_str(), c["oid"].as_str()), (Some("user"), Some(oid.as_str())));
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_oauth(&t.poll(&device).await, 400, "expired_token", "AADSTS70020");
    assert_eq!(t.probe(&user_token).await, 403, "a valid user token, no role");

    // refresh tokens rotate and are single use
    let scope = format!("{}/.default offline_access", t.s.resource());
    let refreshed = t
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLI_CLIENT),
            ("refresh_token", &refresh),
            ("scope", &scope),
        ])
        .await;
    let access2 = access(&refreshed);
    assert_eq!(claims(&access2)["amr"], json!(["pwd", "mfa"]));
    assert_oauth(
        &t.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLI_CLIENT),
            ("refresh_token", &refresh),
            ("scope", &scope),
        ])
        .await,
        400,
        "invalid_grant",
        "AADSTS70008",
    );
    let refresh2 = refreshed.body["refresh_token"].as_str().unwrap().to_owned();

    // a TOTP code is good once; deny flow
    let dc2 = t.device_code().await;
    let uc2 = dc2["user_code"].as_str().unwrap();
    assert!(t.verify_page(uc2, "alice@example.org", pw, &good, "approve").await.contains("wrong"), "reused code");
    t.advance(30);
    let next = totp_by_openssl(d, &secret, T0 + 30);
    assert!(t.verify_page(uc2, "alice@example.org", pw, &next, "deny").await.contains("denied"));
    assert_oauth(&t.poll(dc2["device_code"].as_str().unwrap()).await, 400, "authorization_declined", "AADSTS70000");

    // an expired device code
    let dc3 = t.device_code().await;
    t.advance(901);
    assert_oauth(&t.poll(dc3["device_code"].as_str().unwrap()).await, 400, "expired_token", "AADSTS70020");

    // disabling the user revokes access and refresh tokens
    let dis = t.mgmt("PATCH", "_strongbox/users/alice@example.org", Some(json!({"accountEnabled": false}))).await;
    assert_eq!(dis.status, 200, "{}", dis.body);
    assert_eq!(t.probe(&access2).await, 401);
    assert_oauth(
        &t.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLI_CLIENT),
            ("refresh_token", &refresh2),
            ("scope", &scope),
        ])
        .await,
        400,
        "invalid_grant",
        "AADSTS70008",
    );
    let events = t.s.running.core.identity.security_events(0, 10_000).await.unwrap();
    assert!(events.iter().any(|e| e.kind == "signin.user" && e.outcome == "failure" && e.detail == "AADSTS50076"));
    assert!(events.iter().any(|e| e.kind == "signin.user" && e.outcome == "failure" && e.detail == "AADSTS50126"));
    assert!(events.iter().any(|e| e.kind == "device.approve" && e.actor == oid));
    let text = format!("{events:?}");
    assert!(!text.contains(pw) && !text.contains(&good) && !text.contains(&refresh));
    assert_eq!(t.mgmt("DELETE", &format!("_strongbox/users/{oid}"), None).await.status, 204);
    assert_eq!(t.mgmt("GET", "_strongbox/users/alice@example.org", None).await.status, 404);

    // device codes are created unauthenticated: one address gets a budget, then back-off
    t.advance(901);
    let url = t.url(&format!("{}/oauth2/v2.0/devicecode", t.s.boot.tenant_id));
    let form = [("client_id", CLI_CLIENT), ("scope", scope.as_str())];
    for _ in 0..30 {
        assert_eq!(t.s.http.post(&url).form(&form).send().await.unwrap().status(), 200);
    }
    let r = t.s.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}
