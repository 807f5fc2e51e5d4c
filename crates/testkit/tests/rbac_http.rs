//! RBAC down to one object, through the Managed HSM RBAC API served on the vault.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{call, code};
use serde_json::{Value, json};
use strongbox_testkit::TestServer;

const V: &str = "api-version=7.6";

fn oid_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["oid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_reader_gets_exactly_what_it_is_assigned() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let base = s.vault_url("default");
    for n in ["one", "two"] {
        call(&s, "PUT", &format!("{base}/secrets/{n}?{V}"), Some(&admin), Some(json!({"value": n}))).await;
    }
    let (app, secret) = s.running.core.create_app("reader").await.unwrap();
    let reader = s.token_for(&app, secret.expose()).await;
    let oid = oid_of(&reader);

    let denied = call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&reader), None).await;
    assert_eq!((denied.status, code(&denied)), (403, "Forbidden"));
    assert_eq!(denied.body["error"]["innererror"]["code"], "ForbiddenByRbac");

    // the reader cannot grant itself anything
    let id = "4f0c3a55-86e8-4a1f-a4c3-6d1c1b0f5e21";
    let body = json!({"properties": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6", "principalId": oid}});
    let url = format!("{base}/secrets/one/providers/Microsoft.Authorization/roleAssignments/{id}?{V}");
    assert_eq!(call(&s, "PUT", &url, Some(&reader), Some(body.clone())).await.status, 403);

    // the administrator assigns Key Vault Secrets User on that one secret
    let created = call(&s, "PUT", &url, Some(&admin), Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["properties"]["scope"], "/secrets/one");
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&reader), None).await.body["value"], "one");
    assert_eq!(
        call(&s, "GET", &format!("{base}/secrets/two?{V}"), Some(&reader), None).await.status,
        403,
        "no other secret"
    );
    let set = call(&s, "PUT", &format!("{base}/secrets/one?{V}"), Some(&reader), Some(json!({"value": "x"}))).await;
    assert_eq!(set.status, 403, "Secrets User cannot write");
    assert_eq!(
        call(&s, "GET", &format!("{}/secrets/one?{V}", s.vault_url("default")), Some(&reader), None).await.status,
        200
    );

    // listing definitions and assignments
    let defs =
        call(&s, "GET", &format!("{base}/providers/Microsoft.Authorization/roleDefinitions?{V}"), Some(&admin), None)
            .await;
    let names: Vec<&str> =
        defs.body["value"].as_array().unwrap().iter().map(|d| d["properties"]["roleName"].as_str().unwrap()).collect();
    assert!(names.contains(&"Key Vault Secrets User") && names.contains(&"Key Vault Administrator"));
    let list =
        call(&s, "GET", &format!("{base}/providers/Microsoft.Authorization/roleAssignments?{V}"), Some(&admin), None)
            .await;
    assert!(list.body["value"].as_array().unwrap().iter().any(|a| a["name"] == id));

    // deleting the assignment takes effect for the next request
    let del = call(
        &s,
        "DELETE",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{id}?{V}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(del.status, 200);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&reader), None).await.status, 403);
    let gone = call(
        &s,
        "GET",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{id}?{V}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(gone.status, 404);

    // a vault-wide grant covers every secret of that vault and nothing in another vault
    let id2 = "0a6d9a3e-2f7b-4c52-9a67-3a4e5b6c7d8e";
    let body = json!({"properties": {"roleDefinitionId": "4633458b-17de-408a-b874-0445c86b69e6", "principalId": oid}});
    let r = call(
        &s,
        "PUT",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{id2}?{V}"),
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/two?{V}"), Some(&reader), None).await.status, 200);
    call(
        &s,
        "PUT",
        &format!("https://localhost:{}/_strongbox/vaults/other?{V}", s.port),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    call(&s, "PUT", &format!("{}/secrets/x?{V}", s.vault_url("other")), Some(&admin), Some(json!({"value": "x"})))
        .await;
    assert_eq!(
        call(&s, "GET", &format!("{}/secrets/x?{V}", s.vault_url("other")), Some(&reader), None).await.status,
        403
    );

    // bad assignment requests
    let bad = call(
        &s,
        "PUT",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/not-a-guid?{V}"),
        Some(&admin),
        Some(json!({"properties": {"roleDefinitionId": "x", "principalId": oid}})),
    )
    .await;
    assert_eq!((bad.status, code(&bad)), (400, "BadParameter"));
}
