//! Router-level tests (`oneshot`, no TLS, no sockets).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use strongbox_barrier::Barrier;
use strongbox_core::{CoreConfig, Services};
use strongbox_identity::TokenRequest;
use strongbox_storage::MemoryStorage;
use strongbox_types::{SecretString, SystemClock};
use tower::ServiceExt;

use crate::{ApiConfig, OPERATIONS, all_route_examples, resolve, router};

async fn app() -> (axum::Router, Arc<Services>, String) {
    let barrier = Arc::new(Barrier::new(Arc::new(MemoryStorage::new())));
    let kek = strongbox_crypto::random_key().unwrap();
    barrier.initialize(&kek).await.unwrap();
    barrier.unseal(&kek).await.unwrap();
    let cfg = CoreConfig {
        dns_suffix: "vault.localhost".into(),
        public_port: 443,
        authority_host: "localhost".into(),
        token_lifetime: 3600,
    };
    let core = Arc::new(Services::open(barrier, Arc::new(SystemClock), cfg).await.unwrap());
    let cred = core.bootstrap("default").await.unwrap().unwrap();
    let grant = core
        .identity
        .issue_token(
            &cred.tenant_id,
            &TokenRequest {
                grant_type: Some("client_credentials".into()),
                client_id: Some(cred.client_id.clone()),
                client_secret: Some(SecretString::new(cred.client_secret.expose().into())),
                scope: Some("https://vault.localhost/.default".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    (router(core.clone(), ApiConfig::new("default")), core, grant.access_token.expose().to_owned())
}

fn req(method: Method, uri: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri).header("host", "default.vault.localhost");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// `(handler, name, version)` of a request, or the error.
fn served_by(
    method: Method,
    path: &str,
) -> Result<(&'static str, Option<String>, Option<String>), strongbox_types::Error> {
    resolve(&method, &segments(path)).map(|r| {
        let p = |n: &str| r.params.get(n).map(str::to_owned);
        (r.operation.handler.name, p("name"), p("version"))
    })
}

#[test]
fn every_route_declares_a_data_action() {
    for op in OPERATIONS {
        assert!(op.action.starts_with("Microsoft.KeyVault/vaults"), "{} -> {}", op.route, op.action);
    }
    for (method, path) in all_route_examples() {
        let r = resolve(&method, &segments(&path)).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(r.operation.action.starts_with("Microsoft.KeyVault/vaults"), "{method} {path}");
    }
}

#[test]
fn literal_segments_do_not_shadow_names() {
    // a secret may be named "restore" or "versions": only POST /secrets/restore is restore
    let op = |h: &'static str, name: Option<&str>| (h, name.map(str::to_owned), None);
    assert_eq!(served_by(Method::GET, "/secrets/restore").unwrap(), op("secrets::get", Some("restore")));
    assert_eq!(served_by(Method::PUT, "/secrets/restore").unwrap(), op("secrets::set", Some("restore")));
    assert_eq!(served_by(Method::POST, "/secrets/restore").unwrap(), op("secrets::restore", None));
    assert_eq!(served_by(Method::GET, "/secrets/versions").unwrap(), op("secrets::get", Some("versions")));
    assert_eq!(served_by(Method::GET, "/SECRETS/a/Versions").unwrap(), op("secrets::list_versions", Some("a")));
}

/// Every example under `/secrets`, `/keys`, `/certificates` and their deleted collections
/// maps to an access-policy permission; nothing else does.
#[test]
fn every_data_plane_route_has_a_permission() {
    for (method, path) in all_route_examples() {
        let segs = segments(&path);
        let op = resolve(&method, &segs).unwrap().operation;
        let first = segs[0].to_ascii_lowercase();
        let data = ["secrets", "keys", "certificates", "deletedsecrets", "deletedkeys", "deletedcertificates"]
            .contains(&first.as_str())
            && !path.contains("/providers/");
        assert_eq!(op.access_policy.is_some(), data, "{method} {path}");
    }
}

#[tokio::test]
async fn every_route_challenges_before_anything_else() {
    let (app, _, _) = app().await;
    for (method, path) in all_route_examples() {
        // no api-version, no body: the challenge must still come first
        let r = app.clone().oneshot(req(method.clone(), &path, None, "")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let h = r.headers()["www-authenticate"].to_str().unwrap();
        assert!(h.starts_with("Bearer authorization=\"https://localhost/"), "{h}");
        assert!(h.ends_with(", resource=\"https://vault.localhost\""), "port 443 is left out: {h}");
    }
}

#[tokio::test]
async fn set_and_get_through_the_router() {
    let (app, _, t) = app().await;
    let r = app
        .clone()
        .oneshot(req(Method::PUT, "/secrets/x?api-version=7.4", Some(&t), r#"{"value":"v"}"#))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-ms-request-id"));
    assert_eq!(r.headers()["content-type"], "application/json; charset=utf-8");
    let r = app.oneshot(req(Method::GET, "/secrets/x/?api-version=7.4", Some(&t), "")).await.unwrap();
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["value"], "v");
    assert!(v["id"].as_str().unwrap().starts_with("https://default.vault.localhost/secrets/x/"));
}

#[tokio::test]
async fn sealed_server_answers_503() {
    let (app, core, t) = app().await;
    core.seal().await;
    let r = app.oneshot(req(Method::GET, "/secrets/x?api-version=7.4", Some(&t), "")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "ServiceUnavailable");
}
