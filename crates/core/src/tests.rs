use std::sync::Arc;

use strongbox_barrier::Barrier;
use strongbox_storage::MemoryStorage;
use strongbox_types::{ErrorKind, FakeClock, SecretString};

use strongbox_identity::{OAuthError, TokenRequest};

use crate::{CoreConfig, SecretUpdate, Services, SetSecret, Sku};

const T0: i64 = 1_800_000_000;

async fn core() -> (Services, FakeClock) {
    let barrier = Arc::new(Barrier::new(Arc::new(MemoryStorage::new())));
    let kek = strongbox_crypto::random_key().unwrap();
    barrier.initialize(&kek).await.unwrap();
    barrier.unseal(&kek).await.unwrap();
    let clock = FakeClock::new(T0);
    let cfg = CoreConfig {
        dns_suffix: "vault.localhost".into(),
        public_port: 8443,
        authority_host: "localhost".into(),
        token_lifetime: 3600,
    };
    let core = Services::open(barrier, Arc::new(clock.clone()), cfg).await.unwrap();
    core.bootstrap("default").await.unwrap();
    (core, clock)
}

fn set(v: &str) -> SetSecret {
    SetSecret {
        value: SecretString::new(v.into()),
        content_type: None,
        tags: None,
        enabled: None,
        nbf: None,
        exp: None,
    }
}

#[tokio::test]
async fn versions_latest_and_case_insensitive_names() {
    let (c, clock) = core().await;
    let a = c.secrets.set("default", "My-Secret", set("one")).await.unwrap();
    clock.advance(5);
    let b = c.secrets.set("default", "my-secret", set("two")).await.unwrap();
    assert_ne!(a.version, b.version);
    assert_eq!(b.name, "My-Secret", "original case is kept");
    let latest = c.secrets.get("default", "MY-SECRET", None).await.unwrap();
    assert_eq!(latest.value.unwrap().expose(), "two");
    let first = c.secrets.get("default", "my-secret", Some(&a.version.to_uppercase())).await.unwrap();
    assert_eq!(first.value.unwrap().expose(), "one");
    let versions = c.secrets.list_versions("default", "my-secret", None, 25).await.unwrap();
    assert_eq!(versions.items.len(), 2);
    assert!(versions.items.iter().all(|v| v.value.is_none()));
    assert_eq!(c.secrets.get("default", "nope", None).await.unwrap_err().kind, ErrorKind::SecretNotFound);
    let missing_version = c.secrets.get("default", "my-secret", Some(&"0".repeat(32))).await.unwrap_err();
    assert_eq!(missing_version.kind, ErrorKind::SecretNotFound);
}

#[tokio::test]
async fn update_disable_and_limits() {
    let (c, _) = core().await;
    let s = c.secrets.set("default", "s", set("v")).await.unwrap();
    let u = c
        .secrets
        .update(
            "default",
            "s",
            Some(&s.version),
            SecretUpdate {
                content_type: Some("text/plain".into()),
                common: crate::CommonUpdate { enabled: Some(false), ..Default::default() },
            },
        )
        .await
        .unwrap();
    assert!(!u.attributes.enabled);
    assert_eq!(c.secrets.get("default", "s", None).await.unwrap_err().kind, ErrorKind::ObjectDisabled);
    let listed = c.secrets.list("default", None, 25).await.unwrap();
    assert_eq!(listed.items[0].content_type.as_deref(), Some("text/plain"), "head mirrors the latest version");
    let big = c.secrets.set("default", "big", set(&"x".repeat(25 * 1024 + 1))).await.unwrap_err();
    assert_eq!(big.kind, ErrorKind::BadParameter);
    assert!(c.secrets.set("default", "ok", set(&"x".repeat(25 * 1024))).await.is_ok());
    assert_eq!(c.secrets.set("default", "bad_name", set("v")).await.unwrap_err().kind, ErrorKind::BadParameter);
}

#[tokio::test]
async fn paging_visits_everything_once() {
    let (c, _) = core().await;
    for i in 0..60 {
        c.secrets.set("default", &format!("s{i:02}"), set("v")).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut resume = None;
    loop {
        let page = c.secrets.list("default", resume.as_deref(), 25).await.unwrap();
        assert!(page.items.len() <= 25);
        seen.extend(page.items.into_iter().map(|i| i.name));
        match page.next {
            Some(n) => resume = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60);
    seen.dedup();
    assert_eq!(seen.len(), 60);
}

#[tokio::test]
async fn soft_delete_recover_purge_and_background_purge() {
    let (c, clock) = core().await;
    c.secrets.set("default", "gone", set("v")).await.unwrap();
    let d = c.secrets.delete("default", "gone").await.unwrap();
    let info = d.deleted.unwrap();
    assert_eq!(info.scheduled_purge_date - info.deleted_date, 90 * 86_400);
    assert_eq!(c.secrets.get("default", "gone", None).await.unwrap_err().kind, ErrorKind::SecretNotFound);
    assert_eq!(
        c.secrets.set("default", "gone", set("again")).await.unwrap_err().kind,
        ErrorKind::DeletedButRecoverable
    );
    assert_eq!(c.secrets.list_deleted("default", None, 25).await.unwrap().items.len(), 1);
    c.secrets.recover("default", "gone").await.unwrap();
    assert_eq!(c.secrets.get("default", "gone", None).await.unwrap().value.unwrap().expose(), "v");
    c.secrets.delete("default", "gone").await.unwrap();
    c.secrets.purge("default", "gone").await.unwrap();
    assert_eq!(c.secrets.get_deleted("default", "gone").await.unwrap_err().kind, ErrorKind::SecretNotFound);
    c.secrets.set("default", "gone", set("reborn")).await.unwrap();

    // background purge honours the scheduled date
    c.vaults.create("short", Sku::Standard, 7, true).await.unwrap();
    c.secrets.set("short", "p", set("v")).await.unwrap();
    c.secrets.delete("short", "p").await.unwrap();
    assert_eq!(c.secrets.purge("short", "p").await.unwrap_err().kind, ErrorKind::PurgeProtected);
    clock.advance(7 * 86_400 - 10);
    assert_eq!(c.purge_expired().await.unwrap(), 0);
    assert!(c.secrets.get_deleted("short", "p").await.is_ok());
    clock.advance(11);
    assert_eq!(c.purge_expired().await.unwrap(), 1);
    assert_eq!(c.secrets.get_deleted("short", "p").await.unwrap_err().kind, ErrorKind::SecretNotFound);
    assert!(c.secrets.list_versions("short", "p", None, 25).await.unwrap().items.is_empty());
    c.secrets.set("short", "p", set("new life")).await.unwrap();
}

#[tokio::test]
async fn backup_restore_keeps_versions_and_refuses_taken_names() {
    let (c, _) = core().await;
    let a = c.secrets.set("default", "b", set("one")).await.unwrap();
    let b = c.secrets.set("default", "b", set("two")).await.unwrap();
    let blob = c.secrets.backup("default", "b").await.unwrap();
    assert!(!blob.windows(3).any(|w| w == b"two"), "blob must be encrypted");
    assert_eq!(c.secrets.restore("default", &blob).await.unwrap_err().kind, ErrorKind::Conflict);
    c.secrets.delete("default", "b").await.unwrap();
    assert_eq!(c.secrets.restore("default", &blob).await.unwrap_err().kind, ErrorKind::DeletedButRecoverable);
    c.secrets.purge("default", "b").await.unwrap();
    let r = c.secrets.restore("default", &blob).await.unwrap();
    assert_eq!(r.version, b.version);
    assert_eq!(c.secrets.get("default", "b", Some(&a.version)).await.unwrap().value.unwrap().expose(), "one");
    let mut bad = blob.clone();
    let n = bad.len() - 1;
    bad[n] ^= 1;
    assert_eq!(c.secrets.restore("default", &bad).await.unwrap_err().kind, ErrorKind::BadParameter);
}

#[tokio::test]
async fn tokens_are_validated() {
    let (c, clock) = core().await;
    let (app, secret) = c.identity.create_app("other").await.unwrap();
    let req = |secret: &str, scope: &str| TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some(app.clone()),
        client_secret: Some(SecretString::new(secret.into())),
        scope: Some(scope.into()),
        ..Default::default()
    };
    let tenant = c.tenant_id().to_owned();
    let good =
        c.identity.issue_token(&tenant, &req(secret.expose(), "https://vault.localhost:8443/.default")).await.unwrap();
    let p = c.identity.authenticate(good.access_token.expose()).await.unwrap();
    assert_eq!(p.app_id, app);
    assert_eq!(
        c.access.authorize(&p, "x", "y").unwrap_err().kind,
        ErrorKind::Forbidden,
        "only the bootstrap admin may act"
    );
    assert!(matches!(
        c.identity.issue_token(&tenant, &req("wrong", "https://vault.localhost:8443/.default")).await.unwrap_err(),
        OAuthError::BadClientCredential(_)
    ));
    assert!(matches!(
        c.identity.issue_token(&tenant, &req(secret.expose(), "https://vault.azure.net/.default")).await.unwrap_err(),
        OAuthError::InvalidScope(_)
    ));
    assert!(matches!(
        c.identity
            .issue_token("other-tenant", &req(secret.expose(), "https://vault.localhost:8443/.default"))
            .await
            .unwrap_err(),
        OAuthError::InvalidRequest(_)
    ));
    clock.advance(3600 + 61);
    assert!(c.identity.authenticate(good.access_token.expose()).await.is_err(), "expired token accepted");
    assert!(c.identity.authenticate("not.a.token").await.is_err());
}

#[tokio::test]
async fn credentials_never_show_in_debug_output() {
    let (c, _) = core().await;
    let (app, secret) = c.identity.create_app("dbg").await.unwrap();
    let req = TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some(app.clone()),
        client_secret: Some(secret.clone()),
        scope: Some("https://vault.localhost:8443/.default".into()),
        ..Default::default()
    };
    let grant = c.identity.issue_token(c.tenant_id(), &req).await.unwrap();
    let cred = crate::BootstrapCredential { tenant_id: "t".into(), client_id: app, client_secret: secret.clone() };
    let view = c.secrets.set("default", "dbg", set("hunter2-value")).await.unwrap();
    let printed = format!("{req:?} {grant:?} {cred:?} {view:?} {:?}", set("hunter2-value"));
    assert!(!printed.contains(secret.expose()), "client secret in Debug output");
    assert!(!printed.contains(grant.access_token.expose()), "token in Debug output");
    assert!(!printed.contains("hunter2-value"), "secret value in Debug output");
}

#[tokio::test]
async fn rotation_policy_rotates_when_due() {
    use crate::{ActionType, CreateKey, LifetimeAction, RotationPolicy};
    let (c, clock) = core().await;
    let k = c
        .keys
        .create("default", "rot", CreateKey { kty: "RSA".into(), key_size: Some(3072), ..Default::default() })
        .await
        .unwrap();
    let default = c.keys.rotation_policy("default", "rot").await.unwrap();
    assert_eq!(default.lifetime_actions[0].action, ActionType::Notify);
    let bad =
        RotationPolicy { lifetime_actions: vec![], expiry_time: Some("P7D".into()), created: None, updated: None };
    assert_eq!(c.keys.set_rotation_policy("default", "rot", bad).await.unwrap_err().kind, ErrorKind::BadParameter);
    let p = RotationPolicy {
        lifetime_actions: vec![LifetimeAction {
            action: ActionType::Rotate,
            time_after_create: Some("P30D".into()),
            time_before_expiry: None,
        }],
        expiry_time: Some("P90D".into()),
        created: None,
        updated: None,
    };
    c.keys.set_rotation_policy("default", "rot", p).await.unwrap();
    clock.advance(29 * 86_400);
    assert_eq!(c.keys.rotate_due().await.unwrap(), 0);
    clock.advance(2 * 86_400);
    assert_eq!(c.keys.rotate_due().await.unwrap(), 1);
    let latest = c.keys.get("default", "rot", None).await.unwrap();
    assert_ne!(latest.version, k.version);
    assert_eq!(latest.attributes.exp, Some(c.now() + 90 * 86_400), "expiry from the policy");
    let n_old = k.key.as_ref().unwrap().n.clone();
    assert_ne!(latest.key.as_ref().unwrap().n, n_old, "new key material");
    assert_eq!(latest.key.as_ref().unwrap().n.as_ref().map(|n| n.len()), n_old.as_ref().map(|n| n.len()), "same size");
    assert_eq!(c.keys.rotate_due().await.unwrap(), 0, "not due again until 30 days after the new version");
    assert_eq!(c.keys.list_versions("default", "rot", None, 25).await.unwrap().items.len(), 2);
}
