#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Unit tests of the identity service that need no HTTP (the HTTPS tier is in
//! `crates/testkit/tests/identity_http.rs`).

use std::sync::Arc;

use strongbox_barrier::Barrier;
use strongbox_storage::MemoryStorage;
use strongbox_types::{FakeClock, SecretString};

use crate::{GroupFuture, GroupLookup, Identity, IdentityConfig, OAuthError, TokenRequest};

/// A directory without groups.
struct NoGroups;

impl GroupLookup for NoGroups {
    fn group_id<'a>(&'a self, _: &'a str) -> GroupFuture<'a> {
        Box::pin(async { Ok(None) })
    }
}

fn config() -> IdentityConfig {
    IdentityConfig {
        authority: "https://localhost:8443".into(),
        resource: "https://vault.localhost:8443".into(),
        token_lifetime: 3600,
    }
}

async fn open(barrier: Arc<Barrier>, clock: &FakeClock) -> Identity {
    Identity::open(barrier, Arc::new(clock.clone()), config(), Arc::new(NoGroups)).await.unwrap()
}

async fn identity() -> (Identity, FakeClock) {
    let barrier = Arc::new(Barrier::new(Arc::new(MemoryStorage::new())));
    let kek = strongbox_crypto::random_key().unwrap();
    barrier.initialize(&kek).await.unwrap();
    barrier.unseal(&kek).await.unwrap();
    let clock = FakeClock::new(1_800_000_000);
    let c = open(barrier, &clock).await;
    (c, clock)
}

#[tokio::test]
async fn new_credentials_never_show_in_debug_output() {
    let (c, _) = identity().await;
    let (app, _) = c.create_app("dbg").await.unwrap();
    let cred = c.reset_credential(&app, true, None, None).await.unwrap();
    let mi = c.create_managed_identity("mi").await.unwrap();
    let user = c.create_user("dbg-user", "Dbg", &SecretString::new("a long enough password".into())).await.unwrap();
    let dev = c
        .device_authorization(
            c.tenant_id(),
            Some(crate::BUILTIN_PUBLIC_CLIENTS[0].0),
            Some("https://vault.localhost:8443/.default"),
            None,
        )
        .await
        .unwrap();
    let req = TokenRequest {
        client_assertion: Some(SecretString::new("assertion-value".into())),
        device_code: Some(dev.device_code.clone()),
        refresh_token: Some(SecretString::new("refresh-value".into())),
        ..Default::default()
    };
    let printed = format!("{cred:?} {mi:?} {user:?} {dev:?} {req:?}");
    assert!(!printed.contains(cred.password.expose()));
    assert!(!printed.contains(mi.enrollment_code.expose()));
    assert!(!printed.contains(user.otpauth_uri.as_ref().unwrap().expose()));
    assert!(!printed.contains(dev.device_code.expose()));
    assert!(!printed.contains("assertion-value") && !printed.contains("refresh-value"));
}

#[tokio::test]
async fn a_status_row_from_another_node_is_reread_within_the_ttl() {
    // Two cores on one storage stand for two nodes sharing PostgreSQL.
    let storage = Arc::new(MemoryStorage::new());
    let kek = strongbox_crypto::random_key().unwrap();
    let b1 = Arc::new(Barrier::new(storage.clone()));
    b1.initialize(&kek).await.unwrap();
    b1.unseal(&kek).await.unwrap();
    let b2 = Arc::new(Barrier::new(storage));
    b2.unseal(&kek).await.unwrap();
    let clock = FakeClock::new(1_800_000_000);
    let n1 = open(b1, &clock).await;
    let n2 = open(b2, &clock).await;
    let (app, secret) = n1.create_app("x").await.unwrap();
    let req = TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some(app.clone()),
        client_secret: Some(secret),
        scope: Some("https://vault.localhost:8443/.default".into()),
        ..Default::default()
    };
    let t = n1.issue_token(n1.tenant_id(), &req).await.unwrap();
    n2.authenticate(t.access_token.expose()).await.unwrap();
    n1.set_service_principal_enabled(&app, false).await.unwrap();
    assert!(n1.authenticate(t.access_token.expose()).await.is_err(), "immediate on the node that changed it");
    assert!(n2.authenticate(t.access_token.expose()).await.is_ok(), "the other node still has its cached row");
    clock.advance(crate::STATUS_TTL);
    assert!(n2.authenticate(t.access_token.expose()).await.is_err(), "re-read after the TTL");
}

#[tokio::test]
async fn an_assertion_with_a_huge_exp_is_refused_not_a_panic() {
    let (c, _) = identity().await;
    let (app, _) = c.create_app("big-exp").await.unwrap();
    let now = 1_800_000_000;
    let (pem, key) = strongbox_crypto::jwt::generate_client_certificate("big-exp", now - 300, now + 86_400).unwrap();
    c.upload_certificate(&app, pem.as_bytes(), None).await.unwrap();
    let info = strongbox_crypto::jwt::parse_certificate(pem.as_bytes()).unwrap();
    let header = serde_json::json!({"alg": "ES256", "x5t#S256": strongbox_crypto::b64url(&info.sha256)});
    for exp in [serde_json::json!(i64::MAX), serde_json::json!(1e300)] {
        let claims = serde_json::json!({
            "aud": c.token_endpoint(), "iss": app, "sub": app,
            "jti": format!("j-{exp}"), "nbf": now, "exp": exp,
        });
        let req = TokenRequest {
            grant_type: Some("client_credentials".into()),
            client_id: Some(app.clone()),
            client_assertion_type: Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
            client_assertion: Some(SecretString::new(
                strongbox_crypto::jwt::sign_es256(&key, &header, &claims).unwrap(),
            )),
            scope: Some("https://vault.localhost:8443/.default".into()),
            ..Default::default()
        };
        let e = c.issue_token(c.tenant_id(), &req).await.err().unwrap();
        assert!(matches!(&e, OAuthError::AssertionRejected(a) if a.code == 700024), "{exp}: {e:?}");
    }
}

/// A trusted IdP's user token with an absurd `exp` (1e300 reads as i64::MAX): refused for its
/// lifetime (at most 24 h for external tokens), without an overflow (a panic in the request),
/// also on a second use.
#[tokio::test]
async fn a_cached_external_token_with_a_huge_exp_does_not_overflow() {
    let (c, _) = identity().await;
    let now = 1_800_000_000;
    let (pem, key) = strongbox_crypto::jwt::generate_client_certificate("idp", now - 300, now + 86_400).unwrap();
    let strongbox_crypto::jwt::VerifyKey::Ec { point } =
        strongbox_crypto::jwt::parse_certificate(pem.as_bytes()).unwrap().key
    else {
        panic!("not an EC key")
    };
    let b = strongbox_crypto::b64url;
    let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": b(&point[1..33]), "y": b(&point[33..])}]});
    let settings: crate::UserTokens = serde_json::from_value(
        serde_json::json!({"audiences": ["api://vault"], "userClaim": "sub", "principalMapping": "external"}),
    )
    .unwrap();
    c.put_trusted_issuer("idp", "https://idp.example", Some(jwks), None, Some(settings)).await.unwrap();
    let claims = serde_json::json!({"iss": "https://idp.example", "aud": "api://vault", "sub": "alice", "exp": 1e300});
    let token =
        strongbox_crypto::jwt::sign_es256(&key, &serde_json::json!({"alg": "ES256", "kid": "k1"}), &claims).unwrap();
    for _ in 0..2 {
        let e = c.authenticate(&token).await.err().unwrap();
        assert!(e.0.contains("lifetime exceeds"), "{}", e.0);
    }
}

/// Past the per-user ceiling, an address that failed for the user is refused, a fresh one is
/// still verified (so the user is never locked out everywhere).
#[tokio::test]
async fn user_ceiling_refuses_only_addresses_that_failed() {
    let (c, _) = identity().await;
    let ip = |i: u32| Some(std::net::IpAddr::from([10, 1, (i / 200) as u8, (i % 200 + 1) as u8]));
    for i in 0..crate::limits::USER_CEILING - 1 {
        c.note_user_failure("u:victim", ip(i));
    }
    assert_eq!(c.user_throttled("u:victim", ip(0)), None);
    c.note_user_failure("u:victim", ip(99));
    assert!(c.user_throttled("u:victim", ip(0)).is_some());
    assert_eq!(c.user_throttled("u:victim", Some(std::net::IpAddr::from([192, 0, 2, 7]))), None);
    assert_eq!(c.user_throttled("u:other", ip(0)), None);
}
