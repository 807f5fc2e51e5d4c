//! The Secrets API over real HTTPS against an in-process server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{call, code};
use serde_json::{Value, json};
use strongbox_testkit::TestServer;

const V: &str = "api-version=7.6";

#[tokio::test]
async fn challenge_comes_first_and_has_the_sdk_shape() {
    let s = TestServer::start().await;
    let url = format!("{}/secrets/anything?{V}", s.vault_url("default"));
    // bodiless PUT probe, as every SDK sends first
    let r = s.http.put(&url).header("content-length", "0").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let h = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert_eq!(
        h,
        format!(
            "Bearer authorization=\"https://localhost:{}/{}\", resource=\"https://vault.localhost:{}\"",
            s.port, s.boot.tenant_id, s.port
        )
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Unauthorized");
    // 401 even for nonsense paths, bad api-versions and unknown vaults: nothing is looked at first
    for u in [
        format!("{}/nonsense/path?api-version=bogus", s.vault_url("default")),
        format!("{}/secrets?{V}", s.vault_url("novault")),
    ] {
        assert_eq!(call(&s, "GET", &u, None, None).await.status, 401, "{u}");
    }
}

#[tokio::test]
async fn full_secret_lifecycle() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let base = s.vault_url("default");
    let t = Some(t.as_str());

    let set = call(
        &s,
        "PUT",
        &format!("{base}/secrets/Db-Password?{V}"),
        t,
        Some(json!({
            "value": "s3cret", "contentType": "text/plain", "tags": {"env": "dev"},
            "attributes": {"enabled": true, "exp": 4_000_000_000i64}
        })),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let id = set.body["id"].as_str().unwrap().to_owned();
    let prefix = format!("{base}/secrets/Db-Password/");
    assert!(id.starts_with(&prefix), "id {id} must carry host and port");
    let v1 = id.rsplit('/').next().unwrap().to_owned();
    assert_eq!(v1.len(), 32);
    assert!(v1.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(set.body["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(set.body["attributes"]["recoverableDays"], 90);
    assert_eq!(set.body["attributes"]["exp"], 4_000_000_000i64);

    // latest, with trailing slash, doubled slashes, different case, percent-encoded query name
    for u in [
        format!("{base}/secrets/db-password?{V}"),
        format!("{base}/secrets/DB-PASSWORD/?{V}"),
        format!("{base}//secrets//Db-Password/?{V}"),
        format!("{base}/secrets/Db-Password?api%2Dversion=2025-07-01"),
    ] {
        let g = call(&s, "GET", &u, t, None).await;
        assert_eq!(g.status, 200, "{u}: {}", g.body);
        assert_eq!(g.body["value"], "s3cret");
        assert_eq!(g.body["contentType"], "text/plain");
    }
    let v2 = call(&s, "PUT", &format!("{base}/secrets/db-password?{V}"), t, Some(json!({"value": "second"}))).await;
    let v2id = v2.body["id"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/db-password?{V}"), t, None).await.body["value"], "second");
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/db-password/{v1}?{V}"), t, None).await.body["value"], "s3cret");

    // update an old version: disable it; the latest stays readable
    let u = call(
        &s,
        "PATCH",
        &format!("{base}/secrets/db-password/{v1}?{V}"),
        t,
        Some(json!({"attributes": {"enabled": false}, "tags": {"a": "b"}})),
    )
    .await;
    assert_eq!(u.status, 200);
    assert_eq!(u.body["attributes"]["enabled"], false);
    assert!(u.body.get("value").is_none());
    let g = call(&s, "GET", &format!("{base}/secrets/db-password/{v1}?{V}"), t, None).await;
    assert_eq!((g.status, code(&g)), (403, "Forbidden"));
    assert_eq!(g.body["error"]["innererror"]["code"], "SecretDisabled");

    // lists: metadata only; versions
    let l = call(&s, "GET", &format!("{base}/secrets?{V}"), t, None).await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(l.body["value"][0]["id"], format!("{base}/secrets/Db-Password"));
    assert!(l.body["value"][0].get("value").is_none());
    assert!(l.body["nextLink"].is_null());
    let lv = call(&s, "GET", &format!("{base}/secrets/db-password/versions?{V}"), t, None).await;
    let ids: Vec<&str> = lv.body["value"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().any(|i| i.ends_with(&v2id)));

    // backup while live
    let b = call(&s, "POST", &format!("{base}/secrets/db-password/backup?{V}"), t, None).await;
    assert_eq!(b.status, 200);
    let blob = b.body["value"].as_str().unwrap().to_owned();
    let r = call(&s, "POST", &format!("{base}/secrets/restore?{V}"), t, Some(json!({"value": blob}))).await;
    assert_eq!(r.status, 409, "restore onto an existing name");

    // soft delete: visible at once under deletedsecrets
    let d = call(&s, "DELETE", &format!("{base}/secrets/db-password?{V}"), t, None).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.body["recoveryId"], format!("{base}/deletedsecrets/Db-Password"));
    assert!(d.body["deletedDate"].is_i64() && d.body["scheduledPurgeDate"].is_i64());
    assert!(d.body.get("value").is_none());
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/db-password?{V}"), t, None).await.status, 404);
    let gd = call(&s, "GET", &format!("{base}/deletedsecrets/db-password?{V}"), t, None).await;
    assert_eq!(gd.status, 200);
    let ld = call(&s, "GET", &format!("{base}/deletedsecrets?{V}"), t, None).await;
    assert_eq!(ld.body["value"].as_array().unwrap().len(), 1);
    let again = call(&s, "PUT", &format!("{base}/secrets/db-password?{V}"), t, Some(json!({"value": "x"}))).await;
    assert_eq!(
        (again.status, again.body["error"]["innererror"]["code"].as_str()),
        (409, Some("ObjectIsDeletedButRecoverable"))
    );

    // recover, delete, purge, restore from backup
    let rc = call(&s, "POST", &format!("{base}/deletedsecrets/db-password/recover?{V}"), t, None).await;
    assert_eq!(rc.status, 200);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/db-password?{V}"), t, None).await.body["value"], "second");
    call(&s, "DELETE", &format!("{base}/secrets/db-password?{V}"), t, None).await;
    let p = call(&s, "DELETE", &format!("{base}/deletedsecrets/db-password?{V}"), t, None).await;
    assert_eq!(p.status, 204);
    assert_eq!(call(&s, "GET", &format!("{base}/deletedsecrets/db-password?{V}"), t, None).await.status, 404);
    let r = call(&s, "POST", &format!("{base}/secrets/restore?{V}"), t, Some(json!({"value": blob}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"].as_str().unwrap().rsplit('/').next().unwrap(), v2id, "restore keeps version ids");
    assert_eq!(
        call(&s, "GET", &format!("{base}/secrets/db-password/{v1}?{V}"), t, None).await.status,
        403,
        "old version (disabled) came back too"
    );
}

#[tokio::test]
async fn paging_follows_next_link_on_the_same_host() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let base = s.vault_url("default");
    for i in 0..31 {
        let r = call(&s, "PUT", &format!("{base}/secrets/p{i:02}?{V}"), Some(&t), Some(json!({"value": "v"}))).await;
        assert_eq!(r.status, 200);
    }
    let mut url = format!("{base}/secrets?{V}&maxresults=10");
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let r = call(&s, "GET", &url, Some(&t), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        let items = r.body["value"].as_array().unwrap();
        assert!(items.len() <= 10);
        names.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match r.body["nextLink"].as_str() {
            Some(n) => {
                assert!(n.starts_with(&format!("{base}/secrets?")), "{n}");
                assert!(n.contains("$skiptoken="));
                url = n.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 4);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 31);
    let bad = call(&s, "GET", &format!("{base}/secrets?{V}&maxresults=26"), Some(&t), None).await;
    assert_eq!((bad.status, code(&bad)), (400, "BadParameter"));
}

#[tokio::test]
async fn vaults_are_isolated_and_bare_host_is_the_default_vault() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let t = Some(t.as_str());
    let c = call(
        &s,
        "PUT",
        &format!("https://localhost:{}/_strongbox/vaults/Second?{V}", s.port),
        t,
        Some(json!({"retentionDays": 7, "purgeProtection": true})),
    )
    .await;
    assert_eq!(c.status, 201, "{}", c.body);
    let dup =
        call(&s, "PUT", &format!("https://localhost:{}/_strongbox/vaults/second?{V}", s.port), t, Some(json!({})))
            .await;
    assert_eq!(dup.status, 409);
    let second = s.vault_url("second");
    let r = call(&s, "PUT", &format!("{second}/secrets/only-here?{V}"), t, Some(json!({"value": "x"}))).await;
    assert_eq!(r.body["attributes"]["recoveryLevel"], "CustomizedRecoverable");
    assert_eq!(r.body["attributes"]["recoverableDays"], 7);
    assert_eq!(
        call(&s, "GET", &format!("{}/secrets/only-here?{V}", s.vault_url("default")), t, None).await.status,
        404
    );
    // purge protection refuses purge
    call(&s, "DELETE", &format!("{second}/secrets/only-here?{V}"), t, None).await;
    let p = call(&s, "DELETE", &format!("{second}/deletedsecrets/only-here?{V}"), t, None).await;
    assert_eq!((p.status, code(&p)), (403, "Forbidden"));
    // the bare host serves the default vault
    call(&s, "PUT", &format!("{}/secrets/in-default?{V}", s.vault_url("default")), t, Some(json!({"value": "d"})))
        .await;
    let g = call(&s, "GET", &format!("https://localhost:{}/secrets/in-default?{V}", s.port), t, None).await;
    assert_eq!(g.body["value"], "d");
    let missing = call(&s, "GET", &format!("{}/secrets/x?{V}", s.vault_url("nosuchvault")), t, None).await;
    assert_eq!((missing.status, code(&missing)), (404, "VaultNotFound"));
}

#[tokio::test]
async fn only_the_bootstrap_admin_may_act() {
    let s = TestServer::start().await;
    let (app, secret) = s.running.core.identity.create_app("reader").await.unwrap();
    let t = s.token_for(&app, secret.expose()).await;
    let r = call(&s, "GET", &format!("{}/secrets?{V}", s.vault_url("default")), Some(&t), None).await;
    assert_eq!((r.status, code(&r)), (403, "Forbidden"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains(&app));
}

#[tokio::test]
async fn oidc_discovery_and_token_errors() {
    let s = TestServer::start().await;
    let auth = &s.boot.authority;
    let tenant = &s.boot.tenant_id;
    let d = call(&s, "GET", &format!("{auth}/{tenant}/v2.0/.well-known/openid-configuration"), None, None).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.body["token_endpoint"], format!("{auth}/{tenant}/oauth2/v2.0/token"));
    assert_eq!(d.body["issuer"], format!("{auth}/{tenant}/v2.0"));
    let jwks = call(&s, "GET", d.body["jwks_uri"].as_str().unwrap(), None, None).await;
    assert_eq!(jwks.body["keys"][0]["crv"], "P-256");
    let other =
        call(&s, "GET", &format!("{auth}/not-a-tenant/v2.0/.well-known/openid-configuration"), None, None).await;
    assert_eq!(other.status, 400);

    let scope = format!("{}/.default", s.resource());
    let post = |form: Vec<(&'static str, String)>| {
        let http = s.http.clone();
        let url = s.token_url();
        async move {
            let r = http.post(url).form(&form).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let base = |secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", s.boot.client_id.clone()),
            ("client_secret", secret.to_owned()),
            ("scope", scope.clone()),
            ("client_info", "1".to_owned()),
            ("claims", r#"{"access_token": {"xms_cc": {"values": ["CP1"]}}}"#.to_owned()),
        ]
    };
    let (st, ok) = post(base(s.boot.client_secret.expose())).await;
    assert_eq!(st, 200, "{ok}");
    assert!(ok["expires_in"].as_i64().unwrap() >= 3600);
    let (st, e) = post(base("wrong")).await;
    assert_eq!((st, e["error"].as_str()), (401, Some("invalid_client")));
    assert!(!e.to_string().contains("wrong"));
    let mut f = base(s.boot.client_secret.expose());
    f[0].1 = "password".into();
    assert_eq!(post(f).await.1["error"], "unsupported_grant_type");
    let mut f = base(s.boot.client_secret.expose());
    f[3].1 = "https://vault.azure.net/.default".into();
    assert_eq!(post(f).await.1["error"], "invalid_scope");
    // HTTP Basic client authentication
    let r = s
        .http
        .post(s.token_url())
        .basic_auth(&s.boot.client_id, Some(s.boot.client_secret.expose()))
        .form(&[("grant_type", "client_credentials"), ("scope", scope.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unbuilt_parts_answer_not_implemented() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    // (certificates and key release are built now: certificates_http.rs, key_release_http.rs)
    for (m, p) in [("GET", "keys/k/0123456789abcdef0123456789abcdef/attestation")] {
        let r = call(&s, m, &format!("{}/{p}?{V}", s.vault_url("default")), Some(&t), None).await;
        assert_eq!((r.status, code(&r)), (501, "NotImplemented"), "{p}");
    }
    let r = call(&s, "GET", &format!("{}/keys/none?{V}", s.vault_url("default")), Some(&t), None).await;
    assert_eq!((r.status, code(&r)), (404, "KeyNotFound"));
}

#[tokio::test]
async fn restart_reuses_everything() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    call(
        &s,
        "PUT",
        &format!("{}/secrets/persist?{V}", s.vault_url("default")),
        Some(&t),
        Some(json!({"value": "kept"})),
    )
    .await;
    let boot = s.boot.clone();
    let dir = s.stop().await;
    let s2 = TestServer::start_in(dir, None).await;
    assert_eq!(s2.boot.client_id, boot.client_id);
    assert_eq!(s2.boot.tenant_id, boot.tenant_id);
    let t2 = s2.admin_token().await;
    let g = call(&s2, "GET", &format!("{}/secrets/persist?{V}", s2.vault_url("default")), Some(&t2), None).await;
    assert_eq!(g.body["value"], "kept");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&s2.running.bootstrap_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn secret_values_never_reach_the_data_folder_in_clear() {
    let s = TestServer::start().await;
    let t = s.admin_token().await;
    let marker = "CLEARTEXT-MARKER-4b1d9e-never-on-disk";
    for i in 0..20 {
        let r = call(
            &s,
            "PUT",
            &format!("{}/secrets/m{i}?{V}", s.vault_url("default")),
            Some(&t),
            Some(json!({"value": marker, "tags": {"t": marker}})),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let r = call(&s, "POST", &format!("{}/secrets/m0/backup?{V}", s.vault_url("default")), Some(&t), None).await;
    assert_eq!(r.status, 200);
    let data = s.dir.path().join("data");
    let mut scanned = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()), "cleartext found in {}", path.display());
        // the client secret is stored only as a hash (bootstrap.json is the one place it is written)
        if !path.ends_with("bootstrap.json") {
            let secret = s.boot.client_secret.expose().as_bytes();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret), "client secret found in {}", path.display());
        }
    }
    assert!(scanned > 4096, "nothing was scanned");
}
