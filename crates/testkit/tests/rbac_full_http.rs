//! Authorization over HTTPS: custom roles, Data Access Administrator, groups, deny assignments,
//! legacy access policies and just-in-time activation with the server's fake clock.
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
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const DAA: &str = "8b54135c-b56d-4d72-a534-26097cfdc8d8";

fn oid_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["oid"].as_str().unwrap().to_owned()
}

/// A random GUID (v4 layout) without another dependency.
fn guid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let r = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.finish()
    };
    let (a, b) = (r(1), r(2));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// A new service principal: (token, object id).
async fn principal(s: &TestServer, name: &str) -> (String, String) {
    let (app, secret) = s.running.core.identity.create_app(name).await.unwrap();
    let t = s.token_for(&app, secret.expose()).await;
    let oid = oid_of(&t);
    (t, oid)
}

fn assign_body(role: &str, principal: &str) -> Value {
    json!({"properties": {"roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{role}"), "principalId": principal}})
}

#[tokio::test]
async fn custom_roles_and_data_access_administrator() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let base = s.vault_url("default");
    call(&s, "PUT", &format!("{base}/secrets/one?{V}"), Some(&admin), Some(json!({"value": "1"}))).await;

    // a custom role as KeyVaultAccessControlClient.set_role_definition sends it
    let role = guid();
    let def = json!({"properties": {
        "roleName": "Secret reader without listing",
        "description": "get only",
        "type": "CustomRole",
        "permissions": [{"actions": [], "notActions": [], "dataActions": ["Microsoft.KeyVault/vaults/secrets/*"],
                         "notDataActions": ["Microsoft.KeyVault/vaults/secrets/readMetadata/action", "Microsoft.KeyVault/vaults/secrets/setSecret/action"]}],
        "assignableScopes": ["/"]
    }});
    let url = format!("{base}/providers/Microsoft.Authorization/roleDefinitions/{role}?{V}");
    let created = call(&s, "PUT", &url, Some(&admin), Some(def.clone())).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["properties"]["type"], "CustomRole");
    assert_eq!(created.body["name"], role.as_str());
    let got = call(&s, "GET", &url, Some(&admin), None).await;
    assert_eq!(
        got.body["properties"]["permissions"][0]["notDataActions"][1],
        "Microsoft.KeyVault/vaults/secrets/setSecret/action"
    );
    let filtered = call(
        &s,
        "GET",
        &format!("{base}/providers/Microsoft.Authorization/roleDefinitions?{V}&$filter=roleName%20eq%20'Secret%20reader%20without%20listing'"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(filtered.body["value"].as_array().unwrap().len(), 1);
    // a reader cannot define roles
    let (reader, reader_oid) = principal(&s, "reader").await;
    assert_eq!(call(&s, "PUT", &url, Some(&reader), Some(def.clone())).await.status, 403);

    // assign it; the custom role applies
    let a = guid();
    let aurl = format!("{base}/secrets/one/providers/Microsoft.Authorization/roleAssignments/{a}?{V}");
    assert_eq!(call(&s, "PUT", &aurl, Some(&admin), Some(assign_body(&role, &reader_oid))).await.status, 201);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&reader), None).await.status, 200);
    let set = call(&s, "PUT", &format!("{base}/secrets/one?{V}"), Some(&reader), Some(json!({"value": "x"}))).await;
    assert_eq!(set.status, 403, "notDataActions");
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one/versions?{V}"), Some(&reader), None).await.status, 403);

    // deleting a role in use: Azure's error
    let del = call(&s, "DELETE", &url, Some(&admin), None).await;
    assert_eq!((del.status, code(&del)), (409, "RoleDefinitionHasAssignments"), "{}", del.body);
    call(
        &s,
        "DELETE",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{a}?{V}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(call(&s, "DELETE", &url, Some(&admin), None).await.status, 200);
    let gone = call(&s, "GET", &url, Some(&admin), None).await;
    assert_eq!((gone.status, code(&gone)), (404, "RoleDefinitionNotFound"));
    // built-in roles cannot be changed
    let builtin = format!("{base}/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_USER}?{V}");
    assert_eq!(call(&s, "PUT", &builtin, Some(&admin), Some(def)).await.status, 400);

    // Data Access Administrator at the vault: may assign data roles, and only them
    let (daa, daa_oid) = principal(&s, "daa").await;
    let r = call(
        &s,
        "PUT",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{}?{V}", guid()),
        Some(&admin),
        Some(assign_body(DAA, &daa_oid)),
    )
    .await;
    assert_eq!(r.status, 201);
    let target = guid();
    let by_daa = call(
        &s,
        "PUT",
        &format!("{base}/secrets/one/providers/Microsoft.Authorization/roleAssignments/{target}?{V}"),
        Some(&daa),
        Some(assign_body(SECRETS_USER, &reader_oid)),
    )
    .await;
    assert_eq!(by_daa.status, 201, "{}", by_daa.body);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&reader), None).await.status, 200);
    let escalate = call(
        &s,
        "PUT",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{}?{V}", guid()),
        Some(&daa),
        Some(assign_body(DAA, &reader_oid)),
    )
    .await;
    assert_eq!((escalate.status, code(&escalate)), (403, "Forbidden"), "DAA cannot hand out DAA");
    assert_eq!(
        call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&daa), None).await.status,
        403,
        "no data access"
    );
    let del = call(
        &s,
        "DELETE",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{target}?{V}"),
        Some(&daa),
        None,
    )
    .await;
    assert_eq!(del.status, 200);
    // the reader holds no assignment rights
    let r = call(
        &s,
        "PUT",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{}?{V}", guid()),
        Some(&reader),
        Some(assign_body(SECRETS_USER, &reader_oid)),
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn groups_and_deny_assignments() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let base = s.vault_url("default");
    let mgmt = format!("https://localhost:{}", s.port);
    call(&s, "PUT", &format!("{base}/secrets/one?{V}"), Some(&admin), Some(json!({"value": "1"}))).await;
    let (member, member_oid) = principal(&s, "member").await;

    let g = call(
        &s,
        "POST",
        &format!("{mgmt}/_strongbox/groups?{V}"),
        Some(&admin),
        Some(json!({"displayName": "Readers"})),
    )
    .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    // only administrators manage groups
    let r =
        call(&s, "POST", &format!("{mgmt}/_strongbox/groups?{V}"), Some(&member), Some(json!({"displayName": "x"})))
            .await;
    assert_eq!(r.status, 403);
    let r = call(
        &s,
        "PUT",
        &format!("{base}/providers/Microsoft.Authorization/roleAssignments/{}?{V}", guid()),
        Some(&admin),
        Some(assign_body(SECRETS_USER, &gid)),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&member), None).await.status, 403);
    let add =
        call(&s, "PUT", &format!("{mgmt}/_strongbox/groups/Readers/members/{member_oid}?{V}"), Some(&admin), None)
            .await;
    assert_eq!(add.status, 200, "{}", add.body);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&member), None).await.status, 200);
    let members = call(&s, "GET", &format!("{mgmt}/_strongbox/groups/{gid}/members?{V}"), Some(&admin), None).await;
    assert_eq!(members.body["value"][0], member_oid.as_str());

    // a deny assignment on the group beats the grant
    let d = guid();
    let deny = json!({"principalIds": [gid], "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
                      "scope": "/vaults/default/secrets/one", "name": "not this one"});
    let r =
        call(&s, "PUT", &format!("{mgmt}/_strongbox/denyAssignments/{d}?{V}"), Some(&admin), Some(deny.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let denied = call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&member), None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body["error"]["innererror"]["code"], "ForbiddenByRbac");
    assert!(denied.body["error"]["message"].as_str().unwrap().contains(&d));
    // even the administrator cannot create deny assignments through a member token
    assert_eq!(
        call(&s, "PUT", &format!("{mgmt}/_strongbox/denyAssignments/{}?{V}", guid()), Some(&member), Some(deny))
            .await
            .status,
        403
    );
    assert_eq!(
        call(&s, "DELETE", &format!("{mgmt}/_strongbox/denyAssignments/{d}?{V}"), Some(&admin), None).await.status,
        200
    );
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&member), None).await.status, 200);

    // leaving the group ends the access at once
    let r = call(&s, "DELETE", &format!("{mgmt}/_strongbox/groups/{gid}/members/{member_oid}?{V}"), Some(&admin), None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&member), None).await.status, 403);
    let missing = call(&s, "GET", &format!("{mgmt}/_strongbox/groups/nope?{V}"), Some(&admin), None).await;
    assert_eq!((missing.status, code(&missing)), (404, "NotFound"));
}

#[tokio::test]
async fn access_policies_when_rbac_is_off() {
    let s = TestServer::start().await;
    let admin = s.admin_token().await;
    let mgmt = format!("https://localhost:{}", s.port);
    let r = call(&s, "PUT", &format!("{mgmt}/_strongbox/vaults/legacy?{V}"), Some(&admin), Some(json!({}))).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["enableRbacAuthorization"], true, "RBAC by default");
    let base = s.vault_url("legacy");
    call(&s, "PUT", &format!("{base}/secrets/one?{V}"), Some(&admin), Some(json!({"value": "1"}))).await;
    let (app, app_oid) = principal(&s, "legacy-app").await;

    let r = call(
        &s,
        "PATCH",
        &format!("{mgmt}/_strongbox/vaults/legacy?{V}"),
        Some(&admin),
        Some(json!({"enableRbacAuthorization": false})),
    )
    .await;
    assert_eq!((r.status, &r.body["enableRbacAuthorization"]), (200, &json!(false)), "{}", r.body);
    let denied = call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&app), None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body["error"]["innererror"]["code"], "AccessDenied");
    let msg = denied.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("does not have secrets get permission on key vault 'legacy") && msg.contains(&app_oid),
        "{msg}"
    );
    // the bootstrap administrator has no policy either: RBAC no longer applies to this vault's data
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&admin), None).await.status, 403);

    let r = call(
        &s,
        "PUT",
        &format!("{mgmt}/_strongbox/vaults/legacy/accessPolicies/{app_oid}?{V}"),
        Some(&admin),
        Some(json!({"permissions": {"secrets": ["Get", "List"]}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["accessPolicies"][0]["permissions"]["secrets"], json!(["get", "list"]));
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&app), None).await.body["value"], "1");
    assert_eq!(call(&s, "GET", &format!("{base}/secrets?{V}"), Some(&app), None).await.status, 200);
    let set = call(&s, "PUT", &format!("{base}/secrets/one?{V}"), Some(&app), Some(json!({"value": "2"}))).await;
    assert_eq!(set.status, 403);
    assert!(set.body["error"]["message"].as_str().unwrap().contains("secrets set permission"));
    let keys = call(&s, "GET", &format!("{base}/keys?{V}"), Some(&app), None).await;
    assert!(keys.body["error"]["message"].as_str().unwrap().contains("keys list permission"));
    // a bad permission name
    let bad = call(
        &s,
        "PUT",
        &format!("{mgmt}/_strongbox/vaults/legacy/accessPolicies/{app_oid}?{V}"),
        Some(&admin),
        Some(json!({"permissions": {"secrets": ["fly"]}})),
    )
    .await;
    assert_eq!(bad.status, 400);
    // delete-policy, then back to RBAC
    let r = call(
        &s,
        "DELETE",
        &format!("{mgmt}/_strongbox/vaults/legacy/accessPolicies/{app_oid}?{V}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&app), None).await.status, 403);
    call(
        &s,
        "PATCH",
        &format!("{mgmt}/_strongbox/vaults/legacy?{V}"),
        Some(&admin),
        Some(json!({"enableRbacAuthorization": true})),
    )
    .await;
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&admin), None).await.status, 200);
    // other vaults were never affected
    assert_eq!(
        call(&s, "GET", &format!("{}/secrets?{V}", s.vault_url("default")), Some(&admin), None).await.status,
        200
    );
}

#[tokio::test]
async fn just_in_time_activation_expires_with_the_clock() {
    let t0 = 1_800_000_000;
    let s = TestServer::start_with_fake_clock(t0).await;
    let clock = s.clock.clone().unwrap();
    let admin = s.admin_token().await;
    let base = s.vault_url("default");
    let mgmt = format!("https://localhost:{}", s.port);
    call(&s, "PUT", &format!("{base}/secrets/one?{V}"), Some(&admin), Some(json!({"value": "1"}))).await;
    let (op, op_oid) = principal(&s, "operator").await;
    let (boss, boss_oid) = principal(&s, "approver").await;

    let e = guid();
    let r = call(
        &s,
        "PUT",
        &format!("{mgmt}/_strongbox/pim/eligible/{e}?{V}"),
        Some(&admin),
        Some(json!({"principalId": op_oid, "roleDefinitionId": "Key Vault Secrets Officer", "scope": "/vaults/default",
                    "maximumDuration": "PT1H", "justificationRequired": true, "approvalRequired": true, "approvers": [boss_oid]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&op), None).await.status, 403);
    let req = call(
        &s,
        "POST",
        &format!("{mgmt}/_strongbox/pim/requests?{V}"),
        Some(&op),
        Some(json!({"roleDefinitionId": "Key Vault Secrets Officer", "scope": "/vaults/default", "duration": 1800, "justification": "INC-7"})),
    )
    .await;
    assert_eq!(req.status, 201, "{}", req.body);
    assert_eq!(req.body["status"], "PendingApproval");
    let id = req.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&op), None).await.status,
        403,
        "not yet approved"
    );
    let own = call(&s, "POST", &format!("{mgmt}/_strongbox/pim/requests/{id}/approve?{V}"), Some(&op), None).await;
    assert_eq!(own.status, 403);
    let ok = call(&s, "POST", &format!("{mgmt}/_strongbox/pim/requests/{id}/approve?{V}"), Some(&boss), None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["status"], "Active");
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&op), None).await.status, 200);
    clock.advance(1799);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&op), None).await.status, 200);
    clock.advance(1);
    assert_eq!(call(&s, "GET", &format!("{base}/secrets/one?{V}"), Some(&op), None).await.status, 403, "expired");
    let list = call(&s, "GET", &format!("{mgmt}/_strongbox/pim/requests?{V}"), Some(&op), None).await;
    assert_eq!(list.body["value"][0]["status"], "Expired");
    // too long is refused; the activation API itself needs no role
    let long = call(
        &s,
        "POST",
        &format!("{mgmt}/_strongbox/pim/requests?{V}"),
        Some(&op),
        Some(json!({"roleDefinitionId": "Key Vault Secrets Officer", "scope": "/vaults/default", "duration": "PT2H", "justification": "x"})),
    )
    .await;
    assert_eq!(long.status, 400);
    let events = s.running.core.identity.security_events(0, 1000).await.unwrap();
    for k in ["role.activation.request", "role.activation.approve", "role.activate", "role.activation.expire"] {
        assert!(events.iter().any(|e| e.kind == k), "{k}");
    }
}
