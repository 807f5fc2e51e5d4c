//! `strongbox login` / `logout` end to end, and the other commands using the saved sign-in: the
//! real server binary, the CLI run as a subprocess, the device code approved over HTTPS with the
//! user's password and TOTP code.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use strongbox_types::{Clock, SystemClock};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const AZURE_VARS: [&str; 4] = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST"];

/// `strongbox …` with a clean environment: no AZURE_* variables, no bootstrap, the sign-in file
/// at `login`.
fn cli(login: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    c.args(args)
        .env("STRONGBOX_LOGIN_FILE", login)
        .env("STRONGBOX_LOG", "warn")
        .env_remove("STRONGBOX_BOOTSTRAP")
        .env_remove("STRONGBOX_VAULT_URL")
        .env_remove("STRONGBOX_CA_FILE")
        .env_remove("STRONGBOX_RESOURCE");
    for v in AZURE_VARS {
        c.env_remove(v);
    }
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok_json(o: Output) -> Value {
    assert!(o.status.success(), "command failed: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    if out.trim().is_empty() { Value::Null } else { serde_json::from_str(&out).unwrap() }
}

fn saved(login: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(login).unwrap()).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
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

struct Env {
    boot: Value,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Env {
    fn form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let url = format!("{}/{}/oauth2/v2.0/{path}", self.boot["authority"].as_str().unwrap(), self.tenant());
        self.rt.block_on(async {
            let r = self.http.post(url).form(form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }
    /// The approval page as a browser drives it: open it (CSRF cookie and token), enter the
    /// code, then sign in with the confirmation. Same-origin requests (`Origin`).
    fn approve(&self, user_code: &str, form: &[(&str, &str)]) -> (u16, String) {
        let url = format!("{}/{}/oauth2/v2.0/deviceauth", self.s("authority"), self.tenant());
        self.rt.block_on(async {
            let r = self.http.get(&url).send().await.unwrap();
            let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
            let page = r.text().await.unwrap();
            let csrf = page.split("name=csrf value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
            let post = |f: Vec<(&str, &str)>| {
                self.http.post(&url).header("cookie", &cookie).header("origin", self.s("authority")).form(&f).send()
            };
            let step = post(vec![("csrf", &csrf), ("user_code", user_code), ("step", "code")]).await.unwrap();
            assert_eq!(step.status(), 200);
            let step = step.text().await.unwrap();
            assert!(step.contains("Strongbox CLI"), "the page names the application: {step}");
            let mut f = vec![("csrf", csrf.as_str()), ("user_code", user_code), ("confirm", "yes")];
            f.extend_from_slice(form);
            let r = post(f).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }
    fn tenant(&self) -> &str {
        self.boot["tenant_id"].as_str().unwrap()
    }
    fn s(&self, k: &str) -> &str {
        self.boot[k].as_str().unwrap()
    }
}

#[test]
fn login_is_used_by_the_other_commands_refreshed_and_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let _server = Server(common::spawn(&data, common::free_port()));
    let bootstrap = data.join("bootstrap.json");
    let boot: Value = serde_json::from_str(&std::fs::read_to_string(&bootstrap).unwrap()).unwrap();
    let ca = std::fs::read(boot["ca_file"].as_str().unwrap()).unwrap();
    let http =
        reqwest::Client::builder().tls_certs_merge([reqwest::Certificate::from_pem(&ca).unwrap()]).build().unwrap();
    let e = Env { boot, http, rt: tokio::runtime::Runtime::new().unwrap() };
    let b = bootstrap.to_str().unwrap();
    let login = tmp.path().join("cfg/strongbox/login.json");

    // with nothing at all: a hint at the three ways in
    let none = cli(&login, &["secret", "list", "--vault-name", "default"]).output().unwrap();
    assert!(!none.status.success());
    assert!(text(&none).contains("strongbox login"), "{}", text(&none));

    // a user (the admin creates it) with a role on the default vault
    let pw_file = tmp.path().join("pw");
    let pw = "correct horse battery staple";
    std::fs::write(&pw_file, pw).unwrap();
    let user = ok_json(
        cli(&login, &["ad", "user", "create", "--upn", "alice@example.org", "--password-file"])
            .arg(&pw_file)
            .args(["--bootstrap", b])
            .output()
            .unwrap(),
    );
    let oid = user["objectId"].as_str().unwrap().to_owned();
    let uri = user["otpauthUri"].as_str().unwrap();
    let totp_secret = base32_decode(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap());
    ok_json(
        cli(&login, &["role", "assignment", "create", "--assignee", &oid, "--role", "Key Vault Secrets Officer"])
            .args(["--bootstrap", b])
            .output()
            .unwrap(),
    );

    // strongbox login: read the user code, approve in the "browser", wait for the CLI
    let mut child = cli(&login, &["login", "--authority", e.s("authority"), "--tenant", e.tenant()])
        .args(["--resource", e.s("resource"), "--ca-file", e.s("ca_file")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let message = err_lines.next().unwrap().unwrap();
    let user_code = message.split("enter the code ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let otp = format!("{:06}", strongbox_crypto::jwt::totp(&totp_secret, SystemClock.now(), 30, 6));
    let (st, page) = e.approve(
        &user_code,
        &[("username", "alice@example.org"), ("password", pw), ("otp", &otp), ("action", "approve")],
    );
    assert_eq!(st, 200);
    assert!(page.contains("Signed in"), "{page}");
    let out = child.wait_with_output().unwrap();
    let rest: Vec<String> = err_lines.map_while(Result::ok).collect();
    assert!(out.status.success(), "login failed: {}", rest.join("\n"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("signed in"), "{stdout}");

    // the saved file: 0600 in a 0700 folder, the tokens and where they are good
    assert_eq!(mode(&login), 0o600);
    assert_eq!(mode(login.parent().unwrap()), 0o700);
    let s1 = saved(&login);
    let access1 = s1["access_token"].as_str().unwrap().to_owned();
    let refresh1 = s1["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(s1["resource"], e.s("resource"));
    assert!(s1["expires_on"].as_i64().unwrap() > SystemClock.now() + 600);
    for t in [&access1, &refresh1] {
        assert!(!stdout.contains(t.as_str()) && !rest.join("\n").contains(t.as_str()), "login printed a token");
    }

    // other commands act as the user: a data-plane write and read
    let set = ok_json(
        cli(&login, &["secret", "set", "--vault-name", "default", "--name", "s1", "--value", "v1"]).output().unwrap(),
    );
    assert_eq!(set["value"], "v1");
    // the management API takes the same token (same audience): the user is known but has no
    // role on the vault resource itself, so 403 — not 401
    let mgmt = cli(&login, &["vault", "show", "default"]).output().unwrap();
    assert!(!mgmt.status.success());
    assert!(text(&mgmt).contains("HTTP 403"), "{}", text(&mgmt));
    ok_json(
        cli(&login, &["role", "assignment", "create", "--assignee", &oid, "--role", "Key Vault Administrator"])
            .args(["--bootstrap", b])
            .output()
            .unwrap(),
    );
    let shown = ok_json(cli(&login, &["vault", "show", "default"]).output().unwrap());
    assert_eq!(shown["name"], "default", "{shown}");
    // without --vault-name: the default vault, on the bare server host
    let r = cli(&login, &["secret", "show", "--name", "s1"]).output().unwrap();
    assert_eq!(ok_json(r)["value"], "v1");
    let listed = ok_json(cli(&login, &["secret", "list", "--vault-name", "default"]).output().unwrap());
    assert!(listed["value"].as_array().unwrap().iter().any(|i| i["id"].as_str().unwrap().ends_with("/secrets/s1")));

    // an expired access token is refreshed with the refresh token, and both are saved again
    let mut s = saved(&login);
    s["expires_on"] = json!(SystemClock.now() - 10);
    std::fs::write(&login, s.to_string()).unwrap();
    let shown = cli(&login, &["secret", "show", "--vault-name", "default", "--name", "s1"]).output().unwrap();
    let shown_text = text(&shown);
    assert_eq!(ok_json(shown)["value"], "v1");
    let s2 = saved(&login);
    assert_eq!(mode(&login), 0o600);
    let (access2, refresh2) = (s2["access_token"].as_str().unwrap(), s2["refresh_token"].as_str().unwrap());
    assert_ne!(access2, access1);
    assert_ne!(refresh2, refresh1);
    assert!(s2["expires_on"].as_i64().unwrap() > SystemClock.now() + 600);
    assert!(!shown_text.contains(access2) && !shown_text.contains(refresh2));
    // the old refresh token was spent by the CLI (single use)
    let (st, body) = e.form(
        "token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", s2["client_id"].as_str().unwrap()),
            ("refresh_token", &refresh1),
        ],
    );
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("invalid_grant"));

    // precedence: explicit credentials win over the saved sign-in. A broken saved access token
    // fails on its own ...
    let mut broken = s2.clone();
    broken["access_token"] = json!("not-a-token");
    std::fs::write(&login, broken.to_string()).unwrap();
    let r = cli(&login, &["secret", "show", "--vault-name", "default", "--name", "s1"]).output().unwrap();
    assert!(!r.status.success());
    assert!(text(&r).contains("HTTP 401"), "{}", text(&r));
    // ... but --bootstrap, STRONGBOX_BOOTSTRAP and the AZURE_* variables are used first
    let r = cli(&login, &["secret", "show", "--name", "s1", "--bootstrap", b]).output().unwrap();
    assert_eq!(ok_json(r)["value"], "v1");
    let r = cli(&login, &["secret", "show", "--name", "s1"]).env("STRONGBOX_BOOTSTRAP", b).output().unwrap();
    assert_eq!(ok_json(r)["value"], "v1");
    let r = cli(&login, &["secret", "show", "--vault-name", "default", "--name", "s1"])
        .env("AZURE_TENANT_ID", e.tenant())
        .env("AZURE_CLIENT_ID", e.s("client_id"))
        .env("AZURE_CLIENT_SECRET", e.s("client_secret"))
        .env("AZURE_AUTHORITY_HOST", e.s("authority"))
        .env("STRONGBOX_CA_FILE", e.s("ca_file"))
        .output()
        .unwrap();
    assert_eq!(ok_json(r)["value"], "v1");

    // the token goes only to hosts of the challenged resource: this server under another name
    // (as a look-alike server echoing the real resource would be) is sent none
    std::fs::write(&login, s2.to_string()).unwrap();
    let port = e.s("resource").rsplit(':').next().unwrap();
    let r = cli(&login, &["secret", "show", "--name", "s1", "--vault-url", &format!("https://127.0.0.1:{port}")])
        .env("STRONGBOX_CA_FILE", e.s("ca_file"))
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(text(&r).contains("no token was requested or sent"), "{}", text(&r));

    // a sign-in for another audience is refused before any token is sent
    let mut other = s2.clone();
    other["resource"] = json!("https://vault.example.org");
    std::fs::write(&login, other.to_string()).unwrap();
    let r = cli(&login, &["secret", "list", "--vault-url", &format!("https://default.{}", &e.s("resource")[8..])])
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(text(&r).contains("wants tokens for"), "{}", text(&r));

    // an expired sign-in whose refresh token is spent: told to sign in again, nothing printed
    let mut spent = s2.clone();
    spent["expires_on"] = json!(SystemClock.now() - 10);
    spent["refresh_token"] = json!(refresh1);
    std::fs::write(&login, spent.to_string()).unwrap();
    let r = cli(&login, &["secret", "show", "--vault-name", "default", "--name", "s1"]).output().unwrap();
    assert!(!r.status.success());
    let t = text(&r);
    assert!(t.contains("run `strongbox login` again"), "{t}");
    assert!(!t.contains(&refresh1) && !t.contains(access2));

    // a token file others can read is refused
    std::fs::write(&login, s2.to_string()).unwrap();
    std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = cli(&login, &["secret", "show", "--vault-name", "default", "--name", "s1"]).output().unwrap();
    assert!(!r.status.success());
    assert!(text(&r).contains("readable by other users"), "{}", text(&r));

    // logout deletes the file; afterwards the commands have no credential; logging out twice is fine
    let r = cli(&login, &["logout"]).output().unwrap();
    assert!(r.status.success() && text(&r).contains("signed out"), "{}", text(&r));
    assert!(!login.exists());
    let r = cli(&login, &["secret", "show", "--vault-name", "default", "--name", "s1"]).output().unwrap();
    assert!(!r.status.success() && text(&r).contains("strongbox login"), "{}", text(&r));
    let r = cli(&login, &["logout"]).output().unwrap();
    assert!(r.status.success() && text(&r).contains("not signed in"), "{}", text(&r));
}

/// Without STRONGBOX_LOGIN_FILE the sign-in lives in the per-user config folder.
#[test]
fn the_default_login_file_is_in_the_config_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let home: PathBuf = tmp.path().join("home");
    let file = home.join(".config/strongbox/login.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{}").unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .arg("logout")
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("STRONGBOX_LOGIN_FILE")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    assert!(!file.exists(), "logout did not delete {}", file.display());
    let xdg = tmp.path().join("xdg");
    let file = xdg.join("strongbox/login.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{}").unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_strongbox"))
        .arg("logout")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &xdg)
        .env_remove("STRONGBOX_LOGIN_FILE")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    assert!(!file.exists());
}
