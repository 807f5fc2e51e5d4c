//! RBAC down to one object, through the Managed HSM RBAC API served on the vault.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
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
    let (app, secret) = s.running.core.identity.create_app("reader").await.unwrap();
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

const DEFS: &str = "providers/Microsoft.Authorization/roleDefinitions";
const ASSIGNS: &str = "providers/Microsoft.Authorization/roleAssignments";
const KVA: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";

fn assign_body(role: &str, principal: &str) -> Value {
    json!({"properties": {"roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"), "principalId": principal}})
}

fn role_body(name: &str, data_actions: &[&str], scopes: Option<&[&str]>) -> Value {
    let mut props = json!({
        "roleName": name,
        "description": "",
        "type": "CustomRole",
        "permissions": [{"actions": [], "notActions": [], "dataActions": data_actions, "notDataActions": []}],
    });
    if let Some(s) = scopes {
        props["assignableScopes"] = json!(s);
    }
    json!({ "properties": props })
}

/// Vaults `teama` and `teamb` with a secret in `teamb`, and principal X: Key Vault
/// Administrator of `teama` only. Returns (admin token, X token, X object id).
async fn two_teams(s: &TestServer) -> (String, String, String) {
    let admin = s.admin_token().await;
    for v in ["teama", "teamb"] {
        let r = call(
            s,
            "PUT",
            &format!("https://localhost:{}/_strongbox/vaults/{v}?{V}", s.port),
            Some(&admin),
            Some(json!({})),
        )
        .await;
        assert!(r.status < 300, "{}", r.body);
    }
    let b = s.vault_url("teamb");
    let r = call(s, "PUT", &format!("{b}/secrets/db?{V}"), Some(&admin), Some(json!({"value": "teamb-only"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (app, secret) = s.running.core.identity.create_app("team-a-admin").await.unwrap();
    let x = s.token_for(&app, secret.expose()).await;
    let oid = oid_of(&x);
    let a = s.vault_url("teama");
    let url = format!("{a}/{ASSIGNS}/6a0e2f41-8a55-4c1e-9a5e-1b2c3d4e5f60?{V}");
    let r = call(s, "PUT", &url, Some(&admin), Some(assign_body(KVA, &oid))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    (admin, x, oid)
}

/// Issue 11.1: a vault administrator must not widen (or delete) a custom role that is
/// assignable, or assigned, outside its vault.
#[tokio::test]
async fn a_vault_admin_cannot_rewrite_a_shared_custom_role_to_reach_another_vault() {
    let s = TestServer::start().await;
    let (admin, x, oid) = two_teams(&s).await;
    let (a, b) = (s.vault_url("teama"), s.vault_url("teamb"));

    // a deployment-wide custom role R (default assignable scope `/`), held by X in teamb
    let r = "3f2b8c1d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    let put = call(
        &s,
        "PUT",
        &format!("{b}/{DEFS}/{r}?{V}"),
        Some(&admin),
        Some(role_body("team-b-lister", &["Microsoft.KeyVault/vaults/secrets/readMetadata/action"], None)),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let put = call(
        &s,
        "PUT",
        &format!("{b}/{ASSIGNS}/7b1f3a52-9b66-4d2f-8b6f-2c3d4e5f6071?{V}"),
        Some(&admin),
        Some(assign_body(r, &oid)),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    assert_eq!(call(&s, "GET", &format!("{b}/secrets/db?{V}"), Some(&x), None).await.status, 403);

    // the attack: widen R through teama, where X is administrator
    let widen = call(
        &s,
        "PUT",
        &format!("{a}/{DEFS}/{r}?{V}"),
        Some(&x),
        Some(role_body("team-b-lister", &["Microsoft.KeyVault/vaults/*"], None)),
    )
    .await;
    assert_eq!((widen.status, code(&widen)), (403, "Forbidden"), "{}", widen.body);
    assert_eq!(call(&s, "GET", &format!("{b}/secrets/db?{V}"), Some(&x), None).await.status, 403);
    let kept = call(&s, "GET", &format!("{b}/{DEFS}/{r}?{V}"), Some(&admin), None).await;
    assert_eq!(
        kept.body["properties"]["permissions"][0]["dataActions"][0],
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
    );

    // nor can X narrow R's assignable scopes to teama to take it over
    let grab = call(
        &s,
        "PUT",
        &format!("{a}/{DEFS}/{r}?{V}"),
        Some(&x),
        Some(role_body("team-b-lister", &["Microsoft.KeyVault/vaults/*"], Some(&["/vaults/teama"]))),
    )
    .await;
    assert_eq!(grab.status, 403, "{}", grab.body);

    // nor delete a shared (deployment-wide, unassigned) role through teama
    let shared = "4a3c9d2e-6f70-4b8c-9dae-1f2a3b4c5d6e";
    let put = call(
        &s,
        "PUT",
        &format!("{b}/{DEFS}/{shared}?{V}"),
        Some(&admin),
        Some(role_body("shared-reader", &["Microsoft.KeyVault/vaults/secrets/getSecret/action"], Some(&["/"]))),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let del = call(&s, "DELETE", &format!("{a}/{DEFS}/{shared}?{V}"), Some(&x), None).await;
    assert_eq!(del.status, 403, "{}", del.body);
    assert_eq!(call(&s, "GET", &format!("{b}/{DEFS}/{shared}?{V}"), Some(&admin), None).await.status, 200);

    // nor create a role assignable in teamb, through teama
    let into_b = call(
        &s,
        "PUT",
        &format!("{a}/{DEFS}/5b4d0e3f-7081-4c9d-8ebf-2a3b4c5d6e7f?{V}"),
        Some(&x),
        Some(role_body("sneaky", &["Microsoft.KeyVault/vaults/*"], Some(&["/vaults/teamb"]))),
    )
    .await;
    assert_eq!(into_b.status, 403, "{}", into_b.body);
    // a deployment-wide role needs rights at `/`
    let global = call(
        &s,
        "PUT",
        &format!("{a}/{DEFS}/5b4d0e3f-7081-4c9d-8ebf-2a3b4c5d6e7f?{V}"),
        Some(&x),
        Some(role_body("sneaky", &["Microsoft.KeyVault/vaults/*"], None)),
    )
    .await;
    assert_eq!(global.status, 403, "{}", global.body);

    // what X may do: roles assignable within teama only, written and deleted through teama
    let own = "6c5e1f40-8192-4dae-9fc0-3b4c5d6e7f80";
    for scopes in [&["/vaults/teama"][..], &["/secrets"][..]] {
        let put = call(
            &s,
            "PUT",
            &format!("{a}/{DEFS}/{own}?{V}"),
            Some(&x),
            Some(role_body("team-a-reader", &["Microsoft.KeyVault/vaults/secrets/getSecret/action"], Some(scopes))),
        )
        .await;
        assert_eq!(put.status, 201, "{}", put.body);
    }
    let got = call(&s, "GET", &format!("{a}/{DEFS}/{own}?{V}"), Some(&x), None).await;
    assert_eq!(got.body["properties"]["assignableScopes"], json!(["/vaults/teama/secrets"]));
    // an update that leaves the scopes out keeps them
    let put = call(
        &s,
        "PUT",
        &format!("{a}/{DEFS}/{own}?{V}"),
        Some(&x),
        Some(role_body("team-a-reader", &["Microsoft.KeyVault/vaults/secrets/*"], None)),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    assert_eq!(put.body["properties"]["assignableScopes"], json!(["/vaults/teama/secrets"]));
    let del = call(&s, "DELETE", &format!("{a}/{DEFS}/{own}?{V}"), Some(&x), None).await;
    assert_eq!(del.status, 200, "{}", del.body);
}

/// Issue 11.1: a role assigned in teamb cannot be changed by someone who only holds rights in
/// teama, even when its assignable scopes name teama too.
#[tokio::test]
async fn a_role_assigned_in_another_vault_needs_rights_there_to_change() {
    let s = TestServer::start().await;
    let (admin, x, oid) = two_teams(&s).await;
    let (a, b) = (s.vault_url("teama"), s.vault_url("teamb"));
    let r = "7d6f2051-92a3-4ebf-8ad1-4c5d6e7f8091";
    let put = call(
        &s,
        "PUT",
        &format!("{a}/{DEFS}/{r}?{V}"),
        Some(&admin),
        Some(role_body(
            "two-teams",
            &["Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
            Some(&["/vaults/teama", "/vaults/teamb"]),
        )),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let put = call(
        &s,
        "PUT",
        &format!("{b}/{ASSIGNS}/8e703162-a3b4-4fc0-9be2-5d6e7f8091a2?{V}"),
        Some(&admin),
        Some(assign_body(r, &oid)),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let widen = call(
        &s,
        "PUT",
        &format!("{a}/{DEFS}/{r}?{V}"),
        Some(&x),
        Some(role_body("two-teams", &["Microsoft.KeyVault/vaults/*"], Some(&["/vaults/teama"]))),
    )
    .await;
    assert_eq!(widen.status, 403, "{}", widen.body);
    assert_eq!(call(&s, "GET", &format!("{b}/secrets/db?{V}"), Some(&x), None).await.status, 403);
}

/// Issue 11.2: an assignment is visible and deletable only through a scope that contains it;
/// role definitions assignable only elsewhere are not shown either.
#[tokio::test]
async fn assignments_and_roles_of_another_vault_are_invisible_by_id() {
    let s = TestServer::start().await;
    let (admin, x, _) = two_teams(&s).await;
    let (a, b) = (s.vault_url("teama"), s.vault_url("teamb"));
    let other = "9f814273-b4c5-4ad1-8cf3-6e7f8091a2b3";
    let stranger = "0a925384-c5d6-4be2-9d04-7f8091a2b3c4";
    let put = call(
        &s,
        "PUT",
        &format!("{b}/secrets/db/{ASSIGNS}/{other}?{V}"),
        Some(&admin),
        Some(assign_body(SECRETS_USER, stranger)),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);

    let got = call(&s, "GET", &format!("{a}/{ASSIGNS}/{other}?{V}"), Some(&x), None).await;
    assert_eq!((got.status, code(&got)), (404, "RoleAssignmentNotFound"), "{}", got.body);
    let del = call(&s, "DELETE", &format!("{a}/{ASSIGNS}/{other}?{V}"), Some(&x), None).await;
    assert_eq!((del.status, code(&del)), (404, "RoleAssignmentNotFound"), "{}", del.body);
    let list = call(&s, "GET", &format!("{a}/{ASSIGNS}?{V}"), Some(&x), None).await;
    assert!(!list.body["value"].as_array().unwrap().iter().any(|v| v["name"] == other));
    // still there, and visible through teamb at a containing scope
    let got = call(&s, "GET", &format!("{b}/{ASSIGNS}/{other}?{V}"), Some(&admin), None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["properties"]["scope"], "/secrets/db");
    // but not through a scope of teamb that does not contain it
    let got = call(&s, "GET", &format!("{b}/keys/{ASSIGNS}/{other}?{V}"), Some(&admin), None).await;
    assert_eq!(got.status, 404, "{}", got.body);

    // a role assignable only in teamb: not listed or readable through teama
    let r = "1ba36495-d6e7-4cf3-8e15-8091a2b3c4d5";
    let put = call(
        &s,
        "PUT",
        &format!("{b}/{DEFS}/{r}?{V}"),
        Some(&admin),
        Some(role_body("team-b-only", &["Microsoft.KeyVault/vaults/secrets/getSecret/action"], Some(&["/"]))),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let put = call(
        &s,
        "PUT",
        &format!("{b}/{DEFS}/{r}?{V}"),
        Some(&admin),
        Some(role_body("team-b-only", &["Microsoft.KeyVault/vaults/secrets/getSecret/action"], Some(&["/secrets"]))),
    )
    .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let got = call(&s, "GET", &format!("{a}/{DEFS}/{r}?{V}"), Some(&x), None).await;
    assert_eq!((got.status, code(&got)), (404, "RoleDefinitionNotFound"), "{}", got.body);
    let list = call(&s, "GET", &format!("{a}/{DEFS}?{V}"), Some(&x), None).await;
    let ids: Vec<&str> = list.body["value"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert!(!ids.contains(&r) && ids.contains(&KVA), "{ids:?}");
    let list = call(&s, "GET", &format!("{b}/{DEFS}?{V}"), Some(&admin), None).await;
    assert!(list.body["value"].as_array().unwrap().iter().any(|d| d["name"] == r));
    let del = call(&s, "DELETE", &format!("{a}/{DEFS}/{r}?{V}"), Some(&x), None).await;
    assert_eq!(del.status, 404, "{}", del.body);
}

/// Issue 11.11: deleting a role assignment that does not exist is 404 RoleAssignmentNotFound.
#[tokio::test]
async fn deleting_a_missing_role_assignment_is_not_found() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let base = s.vault_url("default");
    for path in ["", "/secrets/nothing"] {
        let del = call(
            &s,
            "DELETE",
            &format!("{base}{path}/{ASSIGNS}/2cb475a6-e7f8-4d04-9f26-91a2b3c4d5e6?{V}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!((del.status, code(&del)), (404, "RoleAssignmentNotFound"), "{}", del.body);
    }
}
