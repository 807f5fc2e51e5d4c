//! Authorization services: custom roles, Data Access Administrator, groups, deny assignments,
//! access policies, PIM with a fake clock, and two nodes on one storage.

use std::sync::Arc;

use strongbox_authz::{KEY_VAULT_ADMINISTRATOR, KEY_VAULT_DATA_ACCESS_ADMINISTRATOR, KEY_VAULT_SECRETS_USER};
use strongbox_barrier::Barrier;
use strongbox_storage::MemoryStorage;
use strongbox_types::{ErrorKind, FakeClock, SecretBytes};

use crate::{
    AccessPolicyArea, AccessPolicyCheck, CoreConfig, EligibleAssignment, NewDenyAssignment, NewRoleDefinition,
    PermissionModelUpdate, Principal, RequestStatus, Services,
};

const T0: i64 = 1_800_000_000;
const GET: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
const WRITE: &str = "Microsoft.KeyVault/vaults/roleAssignments/write/action";

fn cfg() -> CoreConfig {
    CoreConfig {
        dns_suffix: "vault.localhost".into(),
        public_port: 8443,
        authority_host: "localhost".into(),
        token_lifetime: 3600,
    }
}

async fn node(storage: Arc<MemoryStorage>, kek: &SecretBytes, init: bool, clock: &FakeClock) -> Services {
    let barrier = Arc::new(Barrier::new(storage));
    if init {
        barrier.initialize(kek).await.unwrap();
    }
    barrier.unseal(kek).await.unwrap();
    let core = Services::open(barrier, Arc::new(clock.clone()), cfg()).await.unwrap();
    if init {
        core.bootstrap("default").await.unwrap();
    }
    core
}

async fn core() -> (Services, FakeClock) {
    let clock = FakeClock::new(T0);
    let kek = strongbox_crypto::random_key().unwrap();
    (node(Arc::new(MemoryStorage::new()), &kek, true, &clock).await, clock)
}

fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn who(oid: &str) -> Principal {
    Principal {
        object_id: oid.into(),
        app_id: guid(),
        tenant_id: String::new(),
        amr: Vec::new(),
        token_groups: Vec::new(),
    }
}

fn custom(name: &str) -> NewRoleDefinition {
    NewRoleDefinition {
        role_name: name.into(),
        description: "test".into(),
        data_actions: vec!["Microsoft.KeyVault/vaults/secrets/*".into()],
        not_data_actions: vec!["Microsoft.KeyVault/vaults/secrets/purge/action".into()],
        ..NewRoleDefinition::default()
    }
}

#[tokio::test]
async fn custom_roles_are_assignable_and_protected_while_in_use() {
    let (c, _) = core().await;
    let id = guid();
    let role = c.access.put_role_definition(&id, custom("Secret operator")).await.unwrap();
    assert!(!role.built_in);
    assert!(c.access.role_definitions().iter().any(|r| r.id == id && r.name == "Secret operator"));
    // same name, other id: refused; built-in ids cannot be overwritten
    assert_eq!(
        c.access.put_role_definition(&guid(), custom("secret OPERATOR")).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    assert_eq!(
        c.access.put_role_definition(KEY_VAULT_ADMINISTRATOR, custom("x")).await.unwrap_err().kind,
        ErrorKind::BadParameter
    );
    let mut bad = custom("bad");
    bad.data_actions = vec!["Microsoft.KeyVault/vaults/secrets/get secret".into()];
    assert_eq!(c.access.put_role_definition(&guid(), bad).await.unwrap_err().kind, ErrorKind::BadParameter);

    let user = guid();
    let a = guid();
    c.access
        .create_role_assignment(
            &a,
            &user,
            &format!("/providers/Microsoft.Authorization/roleDefinitions/{id}"),
            "/vaults/default",
        )
        .await
        .unwrap();
    let p = who(&user);
    assert!(c.access.authorize(&p, GET, "/vaults/default/secrets/x").is_ok());
    let purge = "Microsoft.KeyVault/vaults/secrets/purge/action";
    assert_eq!(c.access.authorize(&p, purge, "/vaults/default/secrets/x").unwrap_err().kind, ErrorKind::Forbidden);

    // in use: 409 RoleDefinitionInUse; after the assignment goes, the role can be deleted
    assert_eq!(c.access.delete_role_definition(&id).await.unwrap_err().kind, ErrorKind::RoleDefinitionInUse);
    c.access.delete_role_assignment(&a).await.unwrap();
    c.access.delete_role_definition(&id).await.unwrap();
    assert_eq!(c.access.role_definition(&id).await.unwrap_err().kind, ErrorKind::RoleDefinitionNotFound);
    assert_eq!(c.access.delete_role_definition(&id).await.unwrap_err().kind, ErrorKind::RoleDefinitionNotFound);
    // assignable scopes are honoured
    let narrow = guid();
    let def = NewRoleDefinition { assignable_scopes: vec!["/vaults/default".into()], ..custom("Narrow") };
    c.access.put_role_definition(&narrow, def).await.unwrap();
    assert!(c.access.create_role_assignment(&guid(), &user, &narrow, "/vaults/default/secrets/s").await.is_ok());
    let e = c.access.create_role_assignment(&guid(), &user, &narrow, "/vaults/other").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParameter);
    // an assignment of a deleted role is refused
    let e = c.access.create_role_assignment(&guid(), &user, &id, "/").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParameter);
}

#[tokio::test]
async fn data_access_administrator_assigns_only_data_roles() {
    let (c, _) = core().await;
    let daa = guid();
    c.access
        .create_role_assignment(&guid(), &daa, KEY_VAULT_DATA_ACCESS_ADMINISTRATOR, "/vaults/default")
        .await
        .unwrap();
    let p = who(&daa);
    assert!(c.access.authorize_role_write(&p, WRITE, "/vaults/default/secrets/s", KEY_VAULT_SECRETS_USER).is_ok());
    assert!(c.access.authorize_role_write(&p, WRITE, "/vaults/default", KEY_VAULT_ADMINISTRATOR).is_ok());
    let e =
        c.access.authorize_role_write(&p, WRITE, "/vaults/default", KEY_VAULT_DATA_ACCESS_ADMINISTRATOR).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    let id = guid();
    c.access.put_role_definition(&id, custom("Custom one")).await.unwrap();
    assert!(
        c.access.authorize_role_write(&p, WRITE, "/vaults/default", &id).is_err(),
        "custom roles are not data roles"
    );
    assert!(
        c.access.authorize_role_write(&p, WRITE, "/vaults/other", KEY_VAULT_SECRETS_USER).is_err(),
        "outside its scope"
    );
    assert!(c.access.authorize(&p, GET, "/vaults/default/secrets/s").is_err(), "no data access itself");
    // a plain secrets officer has no assignment rights at all
    let officer = guid();
    c.access.create_role_assignment(&guid(), &officer, "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "/").await.unwrap();
    assert!(c.access.authorize_role_write(&who(&officer), WRITE, "/vaults/default", KEY_VAULT_SECRETS_USER).is_err());
}

#[tokio::test]
async fn group_assignments_reach_members_and_follow_changes() {
    let (c, _) = core().await;
    let g = c.access.create_group("Payments team", "").await.unwrap();
    assert_eq!(c.access.create_group("payments TEAM", "").await.unwrap_err().kind, ErrorKind::Conflict);
    c.access.create_role_assignment(&guid(), &g.id, KEY_VAULT_SECRETS_USER, "/vaults/default").await.unwrap();
    let (m1, m2) = (guid(), guid());
    assert!(c.access.authorize(&who(&m1), GET, "/vaults/default/secrets/x").is_err());
    c.access.add_group_member("Payments team", &m1).await.unwrap();
    c.access.add_group_member(&g.id, &m2).await.unwrap();
    assert_eq!(c.access.group_members(&g.id).await.unwrap().len(), 2);
    assert!(c.access.authorize(&who(&m1), GET, "/vaults/default/secrets/x").is_ok());
    assert_eq!(c.access.groups_of(&m1), vec![g.id.clone()]);
    c.access.remove_group_member(&g.id, &m1).await.unwrap();
    assert!(c.access.authorize(&who(&m1), GET, "/vaults/default/secrets/x").is_err());
    assert!(c.access.authorize(&who(&m2), GET, "/vaults/default/secrets/x").is_ok());
    // no nesting
    let g2 = c.access.create_group("Other", "").await.unwrap();
    assert_eq!(c.access.add_group_member(&g2.id, &g.id).await.unwrap_err().kind, ErrorKind::BadParameter);
    c.access.delete_group("payments team").await.unwrap();
    assert!(c.access.authorize(&who(&m2), GET, "/vaults/default/secrets/x").is_err());
    assert_eq!(c.access.group(&g.id).await.unwrap_err().kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn deny_assignments_win_over_grants() {
    let (c, _) = core().await;
    let (u, g) = (guid(), c.access.create_group("Ops", "").await.unwrap());
    c.access.create_role_assignment(&guid(), &u, KEY_VAULT_ADMINISTRATOR, "/").await.unwrap();
    c.access.add_group_member(&g.id, &u).await.unwrap();
    let d = guid();
    let deny = NewDenyAssignment {
        name: "no prod secrets".into(),
        principals: vec![g.id.clone()],
        data_actions: vec!["Microsoft.KeyVault/vaults/secrets/*".into()],
        not_data_actions: vec!["Microsoft.KeyVault/vaults/secrets/readMetadata/action".into()],
        scope: "/vaults/default".into(),
        ..NewDenyAssignment::default()
    };
    c.access.put_deny_assignment(&d, deny.clone()).await.unwrap();
    let e = c.access.authorize(&who(&u), GET, "/vaults/default/secrets/x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert!(e.message.contains("DeniedWithDenyAssignment") && e.message.contains(&d), "{}", e.message);
    let meta = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
    assert!(c.access.authorize(&who(&u), meta, "/vaults/default/secrets/x").is_ok(), "notDataActions");
    assert!(c.access.authorize(&who(&u), GET, "/vaults/other/secrets/x").is_ok(), "other vault");
    assert_eq!(c.access.list_deny_assignments().await.unwrap().len(), 1);
    c.access.delete_deny_assignment(&d).await.unwrap();
    assert!(c.access.authorize(&who(&u), GET, "/vaults/default/secrets/x").is_ok());
    // bad scope
    let bad = NewDenyAssignment { scope: "/nope/x".into(), ..deny };
    assert_eq!(c.access.put_deny_assignment(&guid(), bad).await.unwrap_err().kind, ErrorKind::BadParameter);
}

#[tokio::test]
async fn access_policies_replace_rbac_when_switched_off() {
    let (c, _) = core().await;
    let u = guid();
    c.access.create_role_assignment(&guid(), &u, KEY_VAULT_SECRETS_USER, "/vaults/default").await.unwrap();
    let p = who(&u);
    let check = AccessPolicyCheck { vault: "default", area: AccessPolicyArea::Secrets, permission: "get" };
    assert!(
        c.access.authorize_request(&p, GET, "/vaults/default/secrets/x", Some(check)).await.is_ok(),
        "RBAC by default"
    );
    let info = c
        .access
        .update_permission_model(
            "default",
            PermissionModelUpdate { enable_rbac_authorization: Some(false), access_policies: None },
        )
        .await
        .unwrap();
    assert!(!info.enable_rbac_authorization);
    let e = c.access.authorize_request(&p, GET, "/vaults/default/secrets/x", Some(check)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied);
    assert!(e.message.contains("does not have secrets get permission on key vault 'default"), "{}", e.message);
    assert!(e.message.contains(&u));
    c.access.set_access_policy("default", &u, None, None, Some(vec!["Get".into(), "LIST".into()]), None).await.unwrap();
    assert!(c.access.authorize_request(&p, GET, "/vaults/default/secrets/x", Some(check)).await.is_ok());
    let set = AccessPolicyCheck { permission: "set", ..check };
    assert_eq!(c.access.authorize_request(&p, GET, "/", Some(set)).await.unwrap_err().kind, ErrorKind::AccessDenied);
    // a policy for a group covers its members; "all" covers everything in its area
    let g = c.access.create_group("Writers", "").await.unwrap();
    c.access.add_group_member(&g.id, &u).await.unwrap();
    c.access.set_access_policy("default", &g.id, None, None, Some(vec!["all".into()]), None).await.unwrap();
    assert!(c.access.authorize_request(&p, GET, "/", Some(set)).await.is_ok());
    let keys = AccessPolicyCheck { area: AccessPolicyArea::Keys, permission: "get", ..check };
    assert!(c.access.authorize_request(&p, GET, "/", Some(keys)).await.is_err());
    // bad permission names are refused; delete-policy
    let bad = c.access.set_access_policy("default", &u, None, Some(vec!["fly".into()]), None, None).await.unwrap_err();
    assert_eq!(bad.kind, ErrorKind::BadParameter);
    c.access.delete_access_policy("default", &g.id, None).await.unwrap();
    assert!(c.access.authorize_request(&p, GET, "/", Some(set)).await.is_err());
    let info = c.vaults.get("default").await.unwrap();
    assert_eq!(info.access_policies.len(), 1);
    assert_eq!(info.access_policies[0].permissions.secrets, vec!["get", "list"]);
    // back to RBAC: the Secrets User assignment applies again
    c.access
        .update_permission_model(
            "default",
            PermissionModelUpdate { enable_rbac_authorization: Some(true), access_policies: None },
        )
        .await
        .unwrap();
    assert!(c.access.authorize_request(&p, GET, "/vaults/default/secrets/x", Some(set)).await.is_ok());
}

#[tokio::test]
async fn pim_activation_expires_by_the_clock_and_is_audited() {
    let (c, clock) = core().await;
    let (u, approver) = (guid(), guid());
    let p = who(&u);
    let e = EligibleAssignment {
        id: String::new(),
        principal_id: u.clone(),
        role_id: "Key Vault Secrets Officer".into(),
        scope: "/vaults/default".into(),
        max_duration: 3600,
        justification_required: true,
        mfa_required: false,
        approval_required: false,
        approvers: Vec::new(),
    };
    let eid = guid();
    c.access.put_eligible_assignment(&eid, e.clone()).await.unwrap();
    let set = "Microsoft.KeyVault/vaults/secrets/setSecret/action";
    assert!(c.access.authorize(&p, set, "/vaults/default/secrets/x").is_err());
    // refusals: no justification, too long, not eligible there
    assert_eq!(
        c.access
            .request_activation(&p, "Key Vault Secrets Officer", "/vaults/default", 600, "")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::BadParameter
    );
    assert_eq!(
        c.access
            .request_activation(&p, "Key Vault Secrets Officer", "/vaults/default", 7200, "x")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::BadParameter
    );
    assert_eq!(
        c.access.request_activation(&p, "Key Vault Secrets Officer", "/vaults/other", 600, "x").await.unwrap_err().kind,
        ErrorKind::Forbidden
    );
    let r = c
        .access
        .request_activation(&p, "Key Vault Secrets Officer", "/vaults/default/secrets", 600, "ticket 42")
        .await
        .unwrap();
    assert_eq!(r.status, RequestStatus::Active);
    assert_eq!(r.expires, Some(T0 + 600));
    assert!(c.access.authorize(&p, set, "/vaults/default/secrets/x").is_ok());
    assert_eq!(
        c.access
            .request_activation(&p, "Key Vault Secrets Officer", "/vaults/default/secrets", 600, "again")
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Conflict
    );
    clock.advance(599);
    assert!(c.access.authorize(&p, set, "/vaults/default/secrets/x").is_ok());
    clock.advance(1);
    assert!(
        c.access.authorize(&p, set, "/vaults/default/secrets/x").is_err(),
        "expired at the decision, no job needed"
    );
    assert_eq!(c.access.pim_sweep().await.unwrap(), 1);
    let list = c.access.list_activation_requests(&p).await.unwrap();
    assert_eq!(list[0].status, RequestStatus::Expired);
    assert!(c.access.get_role_assignment(r.assignment_id.as_deref().unwrap()).await.is_err(), "record removed");

    // approval + MFA
    let e2 = EligibleAssignment { mfa_required: true, approval_required: true, approvers: vec![approver.clone()], ..e };
    c.access.put_eligible_assignment(&eid, e2).await.unwrap();
    let e =
        c.access.request_activation(&p, "Key Vault Secrets Officer", "/vaults/default", 600, "y").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden, "no mfa");
    let mfa = Principal { amr: vec!["pwd".into(), "mfa".into()], ..p.clone() };
    let r = c.access.request_activation(&mfa, "Key Vault Secrets Officer", "/vaults/default", 600, "y").await.unwrap();
    assert_eq!(r.status, RequestStatus::PendingApproval);
    assert!(c.access.authorize(&p, set, "/vaults/default/secrets/x").is_err());
    assert_eq!(c.access.approve_activation(&p, &r.id).await.unwrap_err().kind, ErrorKind::Forbidden, "own request");
    assert_eq!(c.access.approve_activation(&who(&guid()), &r.id).await.unwrap_err().kind, ErrorKind::Forbidden);
    let seen = c.access.list_activation_requests(&who(&approver)).await.unwrap();
    assert!(seen.iter().any(|x| x.id == r.id && x.status == RequestStatus::PendingApproval), "approver sees it");
    assert!(c.access.list_activation_requests(&who(&guid())).await.unwrap().is_empty(), "others see nothing");
    clock.advance(100);
    let r = c.access.approve_activation(&who(&approver), &r.id).await.unwrap();
    assert_eq!((r.status, r.expires), (RequestStatus::Active, Some(T0 + 700 + 600)));
    assert!(c.access.authorize(&p, set, "/vaults/default/secrets/x").is_ok());
    // early revoke by the requester
    let r = c.access.revoke_activation(&p, &r.id).await.unwrap();
    assert_eq!(r.status, RequestStatus::Revoked);
    assert!(c.access.authorize(&p, set, "/vaults/default/secrets/x").is_err());
    // a denied request never activates
    let r = c.access.request_activation(&mfa, "Key Vault Secrets Officer", "/vaults/default", 600, "z").await.unwrap();
    assert_eq!(c.access.deny_activation(&who(&approver), &r.id).await.unwrap().status, RequestStatus::Denied);
    assert!(c.access.approve_activation(&who(&approver), &r.id).await.is_err());

    let kinds: Vec<String> = c.identity.security_events(0, 1000).await.unwrap().into_iter().map(|e| e.kind).collect();
    for k in [
        "role.activation.request",
        "role.activate",
        "role.activation.expire",
        "role.activation.approve",
        "role.activation.revoke",
        "role.activation.deny",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    // a role with eligible assignments cannot be deleted
    let cid = guid();
    c.access.put_role_definition(&cid, custom("Eligible only")).await.unwrap();
    let e3 = EligibleAssignment {
        id: String::new(),
        principal_id: u.clone(),
        role_id: cid.clone(),
        scope: "/".into(),
        max_duration: 600,
        justification_required: false,
        mfa_required: false,
        approval_required: false,
        approvers: Vec::new(),
    };
    c.access.put_eligible_assignment(&guid(), e3).await.unwrap();
    assert_eq!(c.access.delete_role_definition(&cid).await.unwrap_err().kind, ErrorKind::RoleDefinitionInUse);
}

#[tokio::test]
async fn a_second_node_sees_changes_after_its_sync() {
    let clock = FakeClock::new(T0);
    let kek = strongbox_crypto::random_key().unwrap();
    let storage = Arc::new(MemoryStorage::new());
    let a = node(storage.clone(), &kek, true, &clock).await;
    let b = node(storage, &kek, false, &clock).await;
    let u = guid();
    let p = who(&u);
    let check = AccessPolicyCheck { vault: "default", area: AccessPolicyArea::Secrets, permission: "get" };
    let id = guid();
    a.access.create_role_assignment(&id, &u, KEY_VAULT_SECRETS_USER, "/vaults/default").await.unwrap();
    assert!(a.access.authorize(&p, GET, "/vaults/default/secrets/x").is_ok(), "the writing node: at once");
    assert!(b.access.authorize(&p, GET, "/vaults/default/secrets/x").is_err(), "the other node: not yet synced");
    b.access.set_authorization_sync_interval(0);
    assert!(b.access.authorize_request(&p, GET, "/vaults/default/secrets/x", Some(check)).await.is_ok());
    // revocation and vault settings travel the same way
    a.access.delete_role_assignment(&id).await.unwrap();
    assert!(b.access.authorize_request(&p, GET, "/vaults/default/secrets/x", Some(check)).await.is_err());
    a.access
        .update_permission_model(
            "default",
            PermissionModelUpdate { enable_rbac_authorization: Some(false), access_policies: None },
        )
        .await
        .unwrap();
    a.access.set_access_policy("default", &u, None, None, Some(vec!["get".into()]), None).await.unwrap();
    assert!(b.access.authorize_request(&p, GET, "/vaults/default/secrets/x", Some(check)).await.is_ok());
    let g = a.access.create_group("Shared", "").await.unwrap();
    a.access.add_group_member(&g.id, &u).await.unwrap();
    b.access.sync_authorization(true).await.unwrap();
    assert_eq!(b.access.groups_of(&u), vec![g.id]);
}

/// Issue 11.1 in the core: a custom role touches every scope it is assignable to or assigned
/// at, and a writer needs the right at each of them; narrowing a role under its assignments is
/// refused.
#[tokio::test]
async fn writing_a_custom_role_needs_rights_wherever_it_reaches() {
    let (c, _) = core().await;
    let x = guid();
    c.access.create_role_assignment(&guid(), &x, KEY_VAULT_ADMINISTRATOR, "/vaults/teama").await.unwrap();
    let px = who(&x);

    // deployment-wide by default: X cannot create it, nor name teamb
    let r = guid();
    assert_eq!(c.access.put_role_definition_as(&px, &r, custom("wide")).await.unwrap_err().kind, ErrorKind::Forbidden);
    let both = || NewRoleDefinition {
        assignable_scopes: vec!["/vaults/teama".into(), "/vaults/teamb".into()],
        ..custom("both")
    };
    assert_eq!(c.access.put_role_definition_as(&px, &r, both()).await.unwrap_err().kind, ErrorKind::Forbidden);
    assert!(c.access.role_definition(&r).await.is_err(), "nothing was written");
    let bad = NewRoleDefinition { assignable_scopes: vec!["/vaults/a/nonsense".into()], ..custom("bad") };
    assert_eq!(c.access.put_role_definition(&guid(), bad).await.unwrap_err().kind, ErrorKind::BadParameter);

    // the administrator makes it assignable in both and assigns it in teamb
    c.access.put_role_definition(&r, both()).await.unwrap();
    c.access.create_role_assignment(&guid(), &guid(), &r, "/vaults/teamb/secrets/s").await.unwrap();
    let narrowed = || NewRoleDefinition { assignable_scopes: vec!["/vaults/teama".into()], ..custom("both") };
    assert_eq!(c.access.put_role_definition_as(&px, &r, narrowed()).await.unwrap_err().kind, ErrorKind::Forbidden);
    assert_eq!(c.access.delete_role_definition_as(&px, &r).await.unwrap_err().kind, ErrorKind::Forbidden);
    // even the administrator cannot narrow it below its assignment
    assert_eq!(c.access.put_role_definition(&r, narrowed()).await.unwrap_err().kind, ErrorKind::Conflict);
    // no scopes given on an update: the role keeps its own
    let kept = c.access.put_role_definition(&r, NewRoleDefinition { description: "v2".into(), ..custom("both") }).await;
    assert_eq!(kept.unwrap().assignable_scopes, vec!["/vaults/teama", "/vaults/teamb"]);

    // a role of teama's own: X may write, rewrite and delete it
    let own = guid();
    let in_a = || NewRoleDefinition { assignable_scopes: vec!["/vaults/teama/secrets".into()], ..custom("team a") };
    c.access.put_role_definition_as(&px, &own, in_a()).await.unwrap();
    c.access.put_role_definition_as(&px, &own, in_a()).await.unwrap();
    c.access.delete_role_definition_as(&px, &own).await.unwrap();
}
