//! Background purge through a running server, driven by the injected clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::call;
use serde_json::json;
use strongbox_testkit::TestServer;

#[tokio::test]
async fn soft_deleted_secrets_are_purged_after_retention() {
    let s = TestServer::start_with_fake_clock(1_800_000_000).await;
    let clock = s.clock.clone().unwrap();
    let t = s.admin_token().await;
    let t = Some(t.as_str());
    let base = s.vault_url("default");
    let v = "api-version=7.6";
    call(&s, "PUT", &format!("{base}/secrets/old?{v}"), t, Some(json!({"value": "x"}))).await;
    let d = call(&s, "DELETE", &format!("{base}/secrets/old?{v}"), t, None).await;
    assert_eq!(d.body["scheduledPurgeDate"].as_i64().unwrap() - d.body["deletedDate"].as_i64().unwrap(), 90 * 86_400);
    clock.advance(89 * 86_400);
    assert_eq!(s.running.core.purge_expired().await.unwrap(), 0);
    let t1 = s.admin_token().await; // the first token expired days ago on the fake clock
    assert_eq!(call(&s, "GET", &format!("{base}/deletedsecrets/old?{v}"), Some(&t1), None).await.status, 200);
    clock.advance(86_400);
    assert_eq!(s.running.core.purge_expired().await.unwrap(), 1);
    // tokens were minted 90 days ago on the fake clock: get a fresh one
    let t2 = s.admin_token().await;
    assert_eq!(call(&s, "GET", &format!("{base}/deletedsecrets/old?{v}"), Some(&t2), None).await.status, 404);
    let again = call(&s, "PUT", &format!("{base}/secrets/old?{v}"), Some(&t2), Some(json!({"value": "new"}))).await;
    assert_eq!(again.status, 200, "the name is free again after purge");
}
