//! Sign-in surfaces over real HTTPS: which applications may start a user sign-in (public
//! clients only, so `appid` — trusted by compound-identity access policies — names an
//! application that authenticated or is registered as public), the device-code approval page
//! (application and requesting address shown, explicit confirmation, CSRF token and Origin
//! check, no pre-filled code), user-code guessing limits, per-user lockout by resolved user, and
//! client-secret throttling per (client, address) so a client id is no kill switch.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use common::call;
use serde_json::{Value, json};
use strongbox_testkit::TestServer;

const T0: i64 = 1_800_000_000;
const V: &str = "api-version=7.6";
const SP: &str = "_strongbox/serviceprincipals";
const CLI_CLIENT: &str = "5b1d3a2e-7c41-4f0e-9d6a-3c8b2f1e0a77";
const PW: &str = "correct horse battery staple";

struct Srv {
    s: TestServer,
    admin: String,
    /// The current fake time (TOTP codes are computed for it).
    now: std::cell::Cell<i64>,
}

fn b32(s: &str) -> Vec<u8> {
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

fn claims(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

/// The value of `<input type=hidden name=csrf value="…">` on a page ("" without one).
fn csrf_of(page: &str) -> String {
    let Some(i) = page.find("name=csrf value=\"") else { return String::new() };
    let rest = &page[i + "name=csrf value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

struct Page {
    status: u16,
    text: String,
    /// The confirmation step's page (of [`Srv::sign_in`]).
    step: String,
}

impl Srv {
    async fn start() -> Self {
        Self::with(TestServer::start_with_fake_clock(T0).await).await
    }
    async fn with(s: TestServer) -> Self {
        let admin = s.admin_token().await;
        Self { s, admin, now: std::cell::Cell::new(T0) }
    }
    fn advance(&self, secs: i64) {
        self.s.clock.as_ref().unwrap().advance(secs);
        self.now.set(self.now.get() + secs);
    }
    fn url(&self, path: &str) -> String {
        format!("{}/{}/{path}", self.s.boot.authority, self.s.boot.tenant_id)
    }
    async fn mgmt(&self, method: &str, path: &str, body: Option<Value>) -> common::Reply {
        call(&self.s, method, &format!("{}/{path}?{V}", self.s.vault_url("default")), Some(&self.admin), body).await
    }
    async fn form(&self, path: &str, form: &[(&str, &str)]) -> common::Reply {
        self.form_with(&self.s.http, path, form, &[]).await
    }
    async fn form_with(
        &self,
        http: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> common::Reply {
        let mut r = http.post(self.url(path)).form(form);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body: Value = r.json().await.unwrap();
        common::Reply { status, body, headers }
    }
    async fn device_code(&self, client: &str) -> common::Reply {
        let scope = format!("{}/.default offline_access", self.s.resource());
        self.form("oauth2/v2.0/devicecode", &[("client_id", client), ("scope", &scope)]).await
    }
    async fn poll(&self, client: &str, device_code: &str) -> common::Reply {
        self.form(
            "oauth2/v2.0/token",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client),
                ("device_code", device_code),
            ],
        )
        .await
    }
    async fn refresh(&self, client: &str, rt: &str) -> common::Reply {
        let scope = format!("{}/.default offline_access", self.s.resource());
        self.form(
            "oauth2/v2.0/token",
            &[("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", rt), ("scope", &scope)],
        )
        .await
    }
    async fn secret_token(&self, http: &reqwest::Client, app: &str, secret: &str, headers: &[(&str, &str)]) -> u16 {
        let scope = format!("{}/.default", self.s.resource());
        let form =
            [("grant_type", "client_credentials"), ("client_id", app), ("client_secret", secret), ("scope", &scope)];
        self.form_with(http, "oauth2/v2.0/token", &form, headers).await.status
    }
    async fn new_user(&self, upn: &str) -> (String, Vec<u8>) {
        let r = self
            .mgmt(
                "POST",
                "_strongbox/users",
                Some(json!({"userPrincipalName": upn, "displayName": upn, "password": PW})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let uri = r.body["otpauthUri"].as_str().unwrap();
        (
            r.body["objectId"].as_str().unwrap().to_owned(),
            b32(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap()),
        )
    }
    /// A TOTP code for the current fake time; the clock moves on a step, so each is fresh.
    fn otp(&self, secret: &[u8]) -> String {
        self.advance(30);
        format!("{:06}", strongbox_crypto::jwt::totp(secret, self.now.get(), 30, 6))
    }

    /// A TOTP code for the current fake time, without moving the clock (back-offs start at
    /// 5 seconds); only for a user who has not signed in at this step yet.
    fn otp_now(&self, secret: &[u8]) -> String {
        format!("{:06}", strongbox_crypto::jwt::totp(secret, self.now.get(), 30, 6))
    }

    // --- the approval page, as a browser drives it
    fn page_url(&self) -> String {
        self.url("oauth2/v2.0/deviceauth")
    }
    /// GET the page: its cookie and CSRF token.
    async fn open_page(&self, query: &str) -> (String, String, String) {
        self.open_page_from(&self.s.http, query).await
    }
    async fn open_page_from(&self, http: &reqwest::Client, query: &str) -> (String, String, String) {
        let r = http.get(format!("{}{query}", self.page_url())).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .next()
            .unwrap_or_default();
        let text = r.text().await.unwrap();
        (cookie, csrf_of(&text), text)
    }
    async fn post_page(&self, cookie: &str, origin: Option<&str>, form: &[(&str, &str)]) -> Page {
        self.post_page_from(&self.s.http, cookie, origin, form).await
    }
    async fn post_page_from(
        &self,
        http: &reqwest::Client,
        cookie: &str,
        origin: Option<&str>,
        form: &[(&str, &str)],
    ) -> Page {
        let mut r = http.post(self.page_url()).form(form);
        if !cookie.is_empty() {
            r = r.header("cookie", cookie);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        let r = r.send().await.unwrap();
        Page { status: r.status().as_u16(), text: r.text().await.unwrap(), step: String::new() }
    }
    fn origin(&self) -> String {
        self.s.boot.authority.clone()
    }
    /// The whole browser flow: open, enter the code, confirm and sign in (or deny).
    async fn sign_in(&self, user_code: &str, upn: &str, pw: &str, otp: &str, action: &str) -> Page {
        self.sign_in_from(&self.s.http, user_code, upn, pw, otp, action).await
    }
    async fn sign_in_from(
        &self,
        http: &reqwest::Client,
        user_code: &str,
        upn: &str,
        pw: &str,
        otp: &str,
        action: &str,
    ) -> Page {
        let (cookie, csrf, _) = self.open_page_from(http, "").await;
        let o = self.origin();
        let step = self
            .post_page_from(http, &cookie, Some(&o), &[("csrf", &csrf), ("user_code", user_code), ("step", "code")])
            .await;
        if step.status != 200 || !step.text.contains("name=password") {
            return step;
        }
        let csrf = csrf_of(&step.text);
        let form = [
            ("csrf", csrf.as_str()),
            ("user_code", user_code),
            ("username", upn),
            ("password", pw),
            ("otp", otp),
            ("confirm", "yes"),
            ("action", action),
        ];
        let mut p = self.post_page_from(http, &cookie, Some(&o), &form).await;
        p.step = step.text;
        p
    }
    async fn read_secret(&self, token: &str) -> common::Reply {
        call(&self.s, "GET", &format!("{}/secrets/s1?{V}", self.s.vault_url("default")), Some(token), None).await
    }
}

fn assert_oauth(r: &common::Reply, status: u16, error: &str, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"], error, "{}", r.body);
    let d = r.body["error_description"].as_str().unwrap();
    assert!(d.starts_with(&format!("{code}:")), "expected {code}, got {d}");
}

/// The reproduction of issue 21.1: Alice may read secrets only through confidential app X.
#[tokio::test]
async fn only_public_clients_start_user_sign_ins_so_compound_identities_hold() {
    let t = Srv::start().await;
    let (oid, totp) = t.new_user("alice@example.org").await;
    let r = t.mgmt("POST", SP, Some(json!({"displayName": "confidential-x"}))).await;
    let x = r.body["appId"].as_str().unwrap().to_owned();
    assert_eq!(r.body["isFallbackPublicClient"], false);
    let put = call(
        &t.s,
        "PUT",
        &format!("{}/secrets/s1?{V}", t.s.vault_url("default")),
        Some(&t.admin),
        Some(json!({"value": "top"})),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let r = t.mgmt("PATCH", "_strongbox/vaults/default", Some(json!({"enableRbacAuthorization": false}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = t
        .mgmt(
            "PUT",
            &format!("_strongbox/vaults/default/accessPolicies/{oid}"),
            Some(json!({"applicationId": x, "permissions": {"secrets": ["get"]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // an unregistered client id, and the confidential app's id without its credential
    let random = "0c7f3b1e-2a4d-4e6f-8a9b-1c2d3e4f5a6b";
    assert_oauth(&t.device_code(random).await, 400, "unauthorized_client", "AADSTS700016");
    assert_oauth(&t.device_code(&x).await, 401, "invalid_client", "AADSTS7000218");

    // through the built-in CLI client: signed in, but the compound policy does not match
    let dc = t.device_code(CLI_CLIENT).await;
    assert_eq!(dc.status, 200, "{}", dc.body);
    let page =
        t.sign_in(dc.body["user_code"].as_str().unwrap(), "alice@example.org", PW, &t.otp(&totp), "approve").await;
    assert!(page.text.contains("Signed in"), "{}", page.text);
    let tok = t.poll(CLI_CLIENT, dc.body["device_code"].as_str().unwrap()).await;
    let cli_token = tok.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&cli_token)["appid"], CLI_CLIENT);
    assert_eq!(t.read_secret(&cli_token).await.status, 403);

    // the administrator registers X as a public client: now it may, and the policy matches
    let r = t.mgmt("PATCH", &format!("{SP}/{x}"), Some(json!({"isFallbackPublicClient": true}))).await;
    assert_eq!((r.status, &r.body["isFallbackPublicClient"]), (200, &json!(true)), "{}", r.body);
    let dc = t.device_code(&x).await;
    assert_eq!(dc.status, 200, "{}", dc.body);
    let page =
        t.sign_in(dc.body["user_code"].as_str().unwrap(), "alice@example.org", PW, &t.otp(&totp), "approve").await;
    assert!(page.step.contains("confidential-x"), "the page names the application: {}", page.step);
    assert!(page.text.contains("Signed in"), "{}", page.text);
    let tok = t.poll(&x, dc.body["device_code"].as_str().unwrap()).await;
    let x_token = tok.body["access_token"].as_str().unwrap().to_owned();
    let rt = tok.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&x_token)["appid"], x.as_str());
    assert_eq!(t.read_secret(&x_token).await.body["value"], "top");
    let refreshed = t.refresh(&x, &rt).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let rt2 = refreshed.body["refresh_token"].as_str().unwrap().to_owned();

    // no longer a public client: its user tokens stop working and refresh is refused
    let r = t.mgmt("PATCH", &format!("{SP}/{x}"), Some(json!({"isFallbackPublicClient": false}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.read_secret(&x_token).await.status, 401);
    assert_oauth(&t.refresh(&x, &rt2).await, 401, "invalid_client", "AADSTS7000218");
    assert_oauth(&t.device_code(&x).await, 401, "invalid_client", "AADSTS7000218");
    // the CLI's own token still works (its client is built in)
    assert_eq!(t.read_secret(&cli_token).await.status, 403);

    // created as a public client from the start; managed identities cannot be one
    let r = t.mgmt("POST", SP, Some(json!({"displayName": "public-y", "isFallbackPublicClient": true}))).await;
    assert_eq!(r.body["isFallbackPublicClient"], true);
    assert_eq!(t.device_code(r.body["appId"].as_str().unwrap()).await.status, 200);
    // Azure CLI's well-known id (azure-identity's default) is built in too
    assert_eq!(t.device_code("04b07795-8ddb-461a-bbee-02f9e1bf7b46").await.status, 200);
}

/// Issue 21.3: the page names the application and the requesting address, asks for an
/// explicit confirmation, carries a CSRF token bound to a cookie, checks Origin/Referer, and
/// does not pre-fill a code from the link.
#[tokio::test]
async fn the_approval_page_resists_cross_site_posts_and_phishing_links() {
    let t = Srv::start().await;
    let (_, totp) = t.new_user("alice@example.org").await;
    let dc = t.device_code(CLI_CLIENT).await;
    let code = dc.body["user_code"].as_str().unwrap().to_owned();
    let device = dc.body["device_code"].as_str().unwrap().to_owned();

    // a link with the code does not pre-fill it; the cookie is strict
    let r = t.s.http.get(format!("{}?user_code={code}", t.page_url())).send().await.unwrap();
    let cookie_attrs = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_ascii_lowercase();
    assert!(cookie_attrs.contains("httponly") && cookie_attrs.contains("samesite=strict"), "{cookie_attrs}");
    let text = r.text().await.unwrap();
    assert!(!text.contains(&code), "the code from the link is not pre-filled");
    let (cookie, csrf, _) = t.open_page("").await;
    let o = t.origin();

    // step 1 shows who asks, from where, and asks for confirmation; HTML is escaped
    let step = t.post_page(&cookie, Some(&o), &[("csrf", &csrf), ("user_code", &code), ("step", "code")]).await;
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(step.text.contains("Strongbox CLI") && step.text.contains(CLI_CLIENT), "{}", step.text);
    assert!(step.text.contains("127.0.0.1"), "the requesting address: {}", step.text);
    assert!(step.text.contains("name=confirm"), "{}", step.text);

    let otp = t.otp(&totp);
    let full = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("user_code".to_owned(), code.clone()),
            ("username".to_owned(), "alice@example.org".to_owned()),
            ("password".to_owned(), PW.to_owned()),
            ("otp".to_owned(), otp.clone()),
            ("confirm".to_owned(), "yes".to_owned()),
            ("action".to_owned(), "approve".to_owned()),
        ]
    };
    let as_ref = |v: &Vec<(String, String)>| v.iter().map(|(a, b)| (a.clone(), b.clone())).collect::<Vec<_>>();
    let post = |cookie: String, origin: Option<String>, form: Vec<(String, String)>| {
        let t = &t;
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            t.post_page(&cookie, origin.as_deref(), &f).await
        }
    };
    // a cross-site POST (the victim's browser sends no SameSite=Strict cookie) is refused
    let r = post(String::new(), Some("https://evil.example".into()), full(&csrf)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    // the right cookie but a foreign Origin; a foreign Referer; neither header
    assert_eq!(post(cookie.clone(), Some("https://evil.example".into()), full(&csrf)).await.status, 403);
    assert_eq!(post(cookie.clone(), Some("null".into()), full(&csrf)).await.status, 403);
    let r =
        t.s.http
            .post(t.page_url())
            .header("cookie", &cookie)
            .header("referer", "https://evil.example/x")
            .form(&as_ref(&full(&csrf)))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(post(cookie.clone(), None, full(&csrf)).await.status, 403);
    // a token that does not match the cookie
    assert_eq!(post(cookie.clone(), Some(o.clone()), full("forged")).await.status, 403);
    // without the confirmation
    let mut no_confirm = full(&csrf);
    no_confirm.retain(|(k, _)| k != "confirm");
    let r = post(cookie.clone(), Some(o.clone()), no_confirm).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(!r.text.contains("Signed in"));
    // nothing of that approved it
    assert_oauth(&t.poll(CLI_CLIENT, &device).await, 400, "authorization_pending", "AADSTS70016");
    // the real thing, with a Referer instead of Origin
    let r =
        t.s.http
            .post(t.page_url())
            .header("cookie", &cookie)
            .header("referer", format!("{}?x=1", t.page_url()))
            .form(&as_ref(&full(&csrf)))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("Signed in"));
    t.advance(5);
    assert_eq!(t.poll(CLI_CLIENT, &device).await.status, 200);
}

/// Issue 21.4: wrong user codes are limited per address and logged; wrong sign-ins against
/// one code are limited per code.
#[tokio::test]
async fn user_code_guessing_is_limited_and_logged() {
    let t = Srv::start().await;
    let (_, totp) = t.new_user("alice@example.org").await;
    let (cookie, csrf, _) = t.open_page("").await;
    let o = t.origin();
    let mut statuses = Vec::new();
    for i in 0..15 {
        let guess = format!("BCDF-{:04}", i).replace('0', "G").replace('1', "H");
        let r = t.post_page(&cookie, Some(&o), &[("csrf", &csrf), ("user_code", &guess), ("step", "code")]).await;
        statuses.push(r.status);
    }
    assert_eq!(statuses[0], 200);
    assert!(statuses[..10].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    let events = t.s.running.core.identity.security_events(0, 10_000).await.unwrap();
    let n = events.iter().filter(|e| e.kind == "device.usercode" && e.outcome == "failure").count();
    assert!(n >= 10, "{n} events");
    assert!(events.iter().any(|e| e.target == "127.0.0.1"));

    // per device code: wrong sign-ins for several names block that code, not the user
    t.advance(901);
    let dc = t.device_code(CLI_CLIENT).await;
    let code = dc.body["user_code"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let p = t.sign_in(&code, &format!("nobody{i}"), "wrong wrong wrong", "000000", "approve").await;
        assert_eq!(p.status, 200, "{}", p.text);
        assert!(p.text.contains("wrong"), "{}", p.text);
    }
    let p = t.sign_in(&code, "alice@example.org", PW, &t.otp_now(&totp), "approve").await;
    assert_eq!(p.status, 429, "{}", p.text);
    // alice herself is not locked out: a fresh code works
    let dc = t.device_code(CLI_CLIENT).await;
    let p = t.sign_in(dc.body["user_code"].as_str().unwrap(), "alice@example.org", PW, &t.otp(&totp), "approve").await;
    assert!(p.text.contains("Signed in"), "{}", p.text);
}

/// Issue 21.5: failures by user name and by object id count against the same user (from one
/// address: the (user, address) pair is what backs off).
#[tokio::test]
async fn user_lockout_counts_per_resolved_user() {
    let t = Srv::start().await;
    let (oid, totp) = t.new_user("alice@example.org").await;
    for (i, name) in
        ["alice@example.org", "ALICE@example.org", "alice@example.org", &oid, &oid.to_uppercase()].iter().enumerate()
    {
        let dc = t.device_code(CLI_CLIENT).await;
        let p = t.sign_in(dc.body["user_code"].as_str().unwrap(), name, "wrong password!", "000000", "approve").await;
        assert!(p.text.contains("wrong"), "attempt {i}: {}", p.text);
    }
    let dc = t.device_code(CLI_CLIENT).await;
    let p = t.sign_in(dc.body["user_code"].as_str().unwrap(), &oid, PW, &t.otp_now(&totp), "approve").await;
    assert!(p.text.contains("Too many"), "{}", p.text);
    assert_eq!(p.status, 429);
    // the same from another address (any spelling): the pair there has not failed
    let other = client_from(&t, IpAddr::from([127, 0, 0, 3]));
    let dc = t.device_code(CLI_CLIENT).await;
    let code = dc.body["user_code"].as_str().unwrap().to_owned();
    let p = t.sign_in_from(&other, &code, "ALICE@example.org", "wrong password!", "000000", "approve").await;
    assert!(p.text.contains("wrong"), "{}", p.text);
    // the back-off passes; then the right credentials sign in
    t.advance(600);
    let dc = t.device_code(CLI_CLIENT).await;
    let p = t.sign_in(dc.body["user_code"].as_str().unwrap(), "alice@example.org", PW, &t.otp(&totp), "approve").await;
    assert!(p.text.contains("Signed in"), "{}", p.text);
}

/// The review finding on 21.5: user names are not secret, so an attacker's failures must not
/// lock the user out from the user's own address.
#[tokio::test]
async fn a_users_failures_from_one_address_do_not_lock_the_user_out_elsewhere() {
    let t = Srv::start().await;
    let (oid, totp) = t.new_user("alice@example.org").await;
    let attacker = client_from(&t, IpAddr::from([127, 0, 0, 2]));
    for i in 0..8 {
        let dc = t.device_code(CLI_CLIENT).await;
        let code = dc.body["user_code"].as_str().unwrap().to_owned();
        let name = if i % 2 == 0 { "alice@example.org" } else { oid.as_str() };
        let p = t.sign_in_from(&attacker, &code, name, "wrong password!", "000000", "approve").await;
        assert!(p.text.contains("wrong") || p.text.contains("Too many"), "attempt {i}: {}", p.text);
    }
    // the attacker's address is refused even with the right password
    let dc = t.device_code(CLI_CLIENT).await;
    let code = dc.body["user_code"].as_str().unwrap().to_owned();
    let p = t.sign_in_from(&attacker, &code, "alice@example.org", PW, &t.otp_now(&totp), "approve").await;
    assert_eq!(p.status, 429, "{}", p.text);
    // alice, from her own (clean) address, signs in at once (the clock has not moved)
    let dc = t.device_code(CLI_CLIENT).await;
    let p =
        t.sign_in(dc.body["user_code"].as_str().unwrap(), "alice@example.org", PW, &t.otp_now(&totp), "approve").await;
    assert!(p.text.contains("Signed in"), "{}", p.text);
}

/// A bad code at the approve step is one guess (one event), not two.
#[tokio::test]
async fn a_bad_code_at_the_approve_step_counts_once() {
    let t = Srv::start().await;
    t.new_user("alice@example.org").await;
    let (cookie, csrf, _) = t.open_page("").await;
    let o = t.origin();
    let form = [
        ("csrf", csrf.as_str()),
        ("user_code", "BCDF-GHJK"),
        ("username", "alice@example.org"),
        ("password", PW),
        ("otp", "000000"),
        ("confirm", "yes"),
        ("action", "approve"),
    ];
    let p = t.post_page(&cookie, Some(&o), &form).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(p.text.contains("not valid or has expired"), "{}", p.text);
    let events = t.s.running.core.identity.security_events(0, 10_000).await.unwrap();
    let n = events.iter().filter(|e| e.kind == "device.usercode" && e.outcome == "failure").count();
    assert_eq!(n, 1);
}

fn client_from(t: &Srv, local: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(t.s.running.ca_pem.as_bytes()).unwrap()])
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], t.s.port)))
        .local_address(local)
        .build()
        .unwrap()
}

/// Issue 11.3: wrong secrets from one address do not lock the client out for everyone.
#[tokio::test]
async fn wrong_secrets_from_one_address_are_no_kill_switch() {
    let t = Srv::start().await;
    let r = t.mgmt("POST", SP, Some(json!({"displayName": "target"}))).await;
    let (app, pw) = (r.body["appId"].as_str().unwrap().to_owned(), r.body["password"].as_str().unwrap().to_owned());
    let attacker = client_from(&t, IpAddr::from([127, 0, 0, 2]));
    for _ in 0..5 {
        assert_eq!(t.secret_token(&attacker, &app, "sbx~guess", &[]).await, 401);
    }
    // the attacker's address is in back-off for this client, even with the right secret
    assert_eq!(t.secret_token(&attacker, &app, &pw, &[]).await, 429);
    // the owner, from another address, is not
    assert_eq!(t.secret_token(&t.s.http, &app, &pw, &[]).await, 200);
    // a forwarded address is ignored without a trusted proxy: still the attacker's address
    assert_eq!(t.secret_token(&attacker, &app, &pw, &[("x-forwarded-for", "10.9.9.9")]).await, 429);
}

/// Issue 11.3 behind a trusted proxy: the forwarded address counts, and past the per-client
/// ceiling an address that failed gets no further verification while a fresh one still does.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let s = TestServer::start_configured(Some(strongbox_types::FakeClock::new(T0)), |c| {
        c.trusted_proxies = vec![IpAddr::from([127, 0, 0, 1])];
    })
    .await;
    let t = Srv::with(s).await;
    let r = t.mgmt("POST", SP, Some(json!({"displayName": "target"}))).await;
    let (app, pw) = (r.body["appId"].as_str().unwrap().to_owned(), r.body["password"].as_str().unwrap().to_owned());
    let http = t.s.http.clone();
    for _ in 0..5 {
        assert_eq!(t.secret_token(&http, &app, "sbx~guess", &[("x-forwarded-for", "203.0.113.7")]).await, 401);
    }
    assert_eq!(t.secret_token(&http, &app, &pw, &[("x-forwarded-for", "203.0.113.7")]).await, 429);
    // the client's address is the right-most one the proxy added (a spoofed left part is ignored)
    assert_eq!(t.secret_token(&http, &app, &pw, &[("x-forwarded-for", "203.0.113.7, 198.51.100.1")]).await, 200);
    // a distributed guess: 100 failures from many addresses pass the per-client ceiling
    for i in 0..100u32 {
        let a = format!("10.1.{}.{}", i / 200, i % 200 + 1);
        let st = t.secret_token(&http, &app, "sbx~guess", &[("x-forwarded-for", &a)]).await;
        assert_eq!(st, 401, "attempt {i}");
    }
    // now an address that failed once is refused unverified, a fresh one is still served
    assert_eq!(t.secret_token(&http, &app, &pw, &[("x-forwarded-for", "10.1.0.1")]).await, 429);
    assert_eq!(t.secret_token(&http, &app, "sbx~guess", &[("x-forwarded-for", "10.1.0.2")]).await, 429);
    assert_eq!(t.secret_token(&http, &app, &pw, &[("x-forwarded-for", "192.0.2.50")]).await, 200);
    assert_eq!(t.secret_token(&http, &app, "sbx~guess", &[("x-forwarded-for", "192.0.2.51")]).await, 401);
}
