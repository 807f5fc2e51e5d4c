use super::{
    Assignment, DATA_ACCESS_ADMIN_ASSIGNABLE, Decision, DenyAssignment, EVERYONE, Index, KEY_VAULT_ADMINISTRATOR,
    KEY_VAULT_DATA_ACCESS_ADMINISTRATOR, KEY_VAULT_SECRETS_USER, RoleDefinition, builtin_roles, covers, matches,
};
use crate::definitions::root_scopes;

fn a(id: &str, p: &str, role: &str, scope: &str) -> Assignment {
    Assignment { id: id.into(), principal_id: p.into(), role_id: role.into(), scope: scope.into(), expires: None }
}

const GET: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";

#[test]
fn wildcards_and_scopes() {
    assert!(matches("Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action"));
    assert!(matches("Microsoft.KeyVault/vaults/*/read", "microsoft.keyvault/vaults/keys/read"));
    assert!(!matches("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/delete"));
    assert!(!matches("Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/keys/read"));
    assert!(matches("*", "Microsoft.KeyVault/vaults/keys/read"));
    assert!(covers("/", "/vaults/v/secrets/x"));
    assert!(covers("/vaults/V", "/vaults/v/secrets/x"));
    assert!(covers("/vaults/v/secrets/x", "/vaults/v/secrets/X"));
    assert!(!covers("/vaults/v/secrets/x", "/vaults/v/secrets/xy"));
    assert!(!covers("/vaults/v/secrets/x", "/vaults/v"));
    assert!(!covers("/vaults/v", "/vaults/vv"));
}

#[test]
fn deny_by_default_and_object_scope() {
    let idx = Index::new(builtin_roles(), [a("1", "p1", KEY_VAULT_SECRETS_USER, "/vaults/v/secrets/one")]);
    assert_eq!(idx.decide("p1", GET, "/vaults/v/secrets/one", 0), Decision::Allow { assignment_id: "1".into() });
    assert_eq!(idx.decide("P1", GET, "/vaults/v/secrets/one", 0), Decision::Allow { assignment_id: "1".into() });
    assert_eq!(idx.decide("p1", GET, "/vaults/v/secrets/two", 0), Decision::Deny);
    assert_eq!(
        idx.decide("p1", "Microsoft.KeyVault/vaults/secrets/setSecret/action", "/vaults/v/secrets/one", 0),
        Decision::Deny
    );
    assert_eq!(idx.decide("p2", GET, "/vaults/v/secrets/one", 0), Decision::Deny);
}

#[test]
fn groups_are_expanded_and_follow_membership_changes() {
    let mut idx = Index::build(
        builtin_roles(),
        [a("1", "g1", KEY_VAULT_SECRETS_USER, "/vaults/v")],
        [],
        [("g1".to_owned(), "m1".to_owned())],
    );
    assert_eq!(idx.decide("m1", GET, "/vaults/v/secrets/x", 0), Decision::Allow { assignment_id: "1".into() });
    assert_eq!(idx.decide("m2", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
    idx.add_member("g1", "m2");
    assert!(matches!(idx.decide("m2", GET, "/vaults/v/secrets/x", 0), Decision::Allow { .. }));
    idx.remove_member("G1", "M1");
    assert_eq!(idx.decide("m1", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
    // an assignment to the group after the fact reaches its members
    idx.add(a("2", "g1", KEY_VAULT_ADMINISTRATOR, "/vaults/w"));
    assert!(matches!(
        idx.decide("m2", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
        Decision::Allow { .. }
    ));
    idx.remove("2");
    assert_eq!(idx.decide("m2", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0), Decision::Deny);
    idx.remove_group("g1");
    assert_eq!(idx.decide("m2", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
}

fn deny(id: &str, principals: &[&str], exclude: &[&str], actions: &[&str], scope: &str) -> DenyAssignment {
    DenyAssignment {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        principals: principals.iter().map(|s| (*s).to_owned()).collect(),
        exclude_principals: exclude.iter().map(|s| (*s).to_owned()).collect(),
        data_actions: actions.iter().map(|s| (*s).to_owned()).collect(),
        not_data_actions: Vec::new(),
        scope: scope.into(),
    }
}

#[test]
fn deny_assignments_win_at_their_scope_and_below() {
    let mut idx = Index::build(
        builtin_roles(),
        [a("1", "p1", KEY_VAULT_ADMINISTRATOR, "/"), a("2", "g", KEY_VAULT_ADMINISTRATOR, "/")],
        [deny("d1", &["p1"], &[], &["Microsoft.KeyVault/vaults/secrets/*"], "/vaults/v")],
        [("g".to_owned(), "m".to_owned())],
    );
    assert_eq!(idx.decide("p1", GET, "/vaults/v/secrets/x", 0), Decision::DeniedByAssignment { deny_id: "d1".into() });
    assert_eq!(idx.decide("p1", GET, "/vaults/v", 0), Decision::DeniedByAssignment { deny_id: "d1".into() });
    assert!(matches!(idx.decide("p1", GET, "/vaults/w/secrets/x", 0), Decision::Allow { .. }), "other vault");
    assert!(matches!(
        idx.decide("p1", "Microsoft.KeyVault/vaults/keys/read", "/vaults/v/keys/k", 0),
        Decision::Allow { .. }
    ));
    // a deny on a group reaches its members; everyone-with-exclusions
    idx.add_deny(deny("d2", &["g"], &[], &["*"], "/vaults/v/keys/k"));
    assert!(matches!(
        idx.decide("m", "Microsoft.KeyVault/vaults/keys/read", "/vaults/v/keys/k", 0),
        Decision::DeniedByAssignment { .. }
    ));
    idx.remove_deny("d2");
    assert!(matches!(
        idx.decide("m", "Microsoft.KeyVault/vaults/keys/read", "/vaults/v/keys/k", 0),
        Decision::Allow { .. }
    ));
    idx.add_deny(deny("d3", &[EVERYONE], &["g"], &["Microsoft.KeyVault/vaults/keys/delete"], "/"));
    assert!(matches!(
        idx.decide("p1", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
        Decision::DeniedByAssignment { .. }
    ));
    assert!(
        matches!(
            idx.decide("m", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
            Decision::Allow { .. }
        ),
        "excluded through its group"
    );
    assert!(matches!(
        idx.decide("nobody", "Microsoft.KeyVault/vaults/keys/delete", "/vaults/w/keys/k", 0),
        Decision::DeniedByAssignment { .. }
    ));
}

#[test]
fn token_groups_grant_and_deny_like_memberships() {
    let tg = |g: &[&str]| g.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>();
    let mut jit = a("3", "gj", KEY_VAULT_SECRETS_USER, "/vaults/j");
    jit.expires = Some(100);
    let mut idx = Index::build(
        builtin_roles(),
        [a("1", "g1", KEY_VAULT_SECRETS_USER, "/vaults/v"), a("2", "u", KEY_VAULT_ADMINISTRATOR, "/vaults/w"), jit],
        [],
        [],
    );
    let d = |idx: &Index, groups: &[&str], resource: &str, now: i64| {
        idx.decide_with_groups("u", &tg(groups), GET, resource, now, None)
    };
    // a grant made to a group the token carries applies; without it, nothing
    assert_eq!(d(&idx, &["g1"], "/vaults/v/secrets/x", 0), Decision::Allow { assignment_id: "1".into() });
    assert_eq!(d(&idx, &[], "/vaults/v/secrets/x", 0), Decision::Deny);
    assert_eq!(d(&idx, &["g2"], "/vaults/v/secrets/x", 0), Decision::Deny, "group not in the token");
    assert_eq!(idx.decide("u", GET, "/vaults/v/secrets/x", 0), Decision::Deny);
    // the caller's own grants still apply alongside
    assert_eq!(d(&idx, &["g1"], "/vaults/w/secrets/x", 0), Decision::Allow { assignment_id: "2".into() });
    // expiry of a group's time-bound assignment is respected
    assert!(matches!(d(&idx, &["gj"], "/vaults/j/secrets/x", 99), Decision::Allow { .. }));
    assert_eq!(d(&idx, &["gj"], "/vaults/j/secrets/x", 100), Decision::Deny);
    // a deny on a token group wins over the caller's direct grant
    idx.add_deny(deny("d1", &["g1"], &[], &["Microsoft.KeyVault/vaults/secrets/*"], "/"));
    assert_eq!(d(&idx, &["g1"], "/vaults/w/secrets/x", 0), Decision::DeniedByAssignment { deny_id: "d1".into() });
    assert_eq!(d(&idx, &["g1"], "/vaults/v/secrets/x", 0), Decision::DeniedByAssignment { deny_id: "d1".into() });
    assert!(matches!(d(&idx, &[], "/vaults/w/secrets/x", 0), Decision::Allow { .. }), "deny needs the group");
    idx.remove_deny("d1");
    // an exclusion of a token group from an everyone-deny counts
    idx.add_deny(deny("d2", &[EVERYONE], &["g1"], &[GET], "/"));
    assert!(matches!(d(&idx, &["g1"], "/vaults/v/secrets/x", 0), Decision::Allow { .. }));
    assert!(matches!(d(&idx, &["gj"], "/vaults/j/secrets/x", 0), Decision::DeniedByAssignment { .. }));
}

#[test]
fn activations_expire_and_custom_roles_apply() {
    let custom = RoleDefinition {
        id: "c0ffee00-0000-4000-8000-000000000001".into(),
        name: "Secret lister".into(),
        description: String::new(),
        built_in: false,
        actions: Vec::new(),
        not_actions: Vec::new(),
        data_actions: vec!["Microsoft.KeyVault/vaults/secrets/*".into()],
        not_data_actions: vec!["Microsoft.KeyVault/vaults/secrets/getSecret/action".into()],
        assignable_scopes: root_scopes(),
        assignable_roles: None,
    };
    let mut roles = builtin_roles();
    roles.push(custom.clone());
    let mut jit = a("1", "p", KEY_VAULT_SECRETS_USER, "/vaults/v");
    jit.expires = Some(100);
    let idx = Index::new(roles, [jit, a("2", "q", &custom.id.to_uppercase(), "/")]);
    assert!(matches!(idx.decide("p", GET, "/vaults/v/secrets/x", 99), Decision::Allow { .. }));
    assert_eq!(idx.decide("p", GET, "/vaults/v/secrets/x", 100), Decision::Deny);
    assert_eq!(idx.decide("q", GET, "/vaults/v/secrets/x", 0), Decision::Deny, "notDataActions");
    let meta = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
    assert!(matches!(idx.decide("q", meta, "/vaults/v/secrets/x", 0), Decision::Allow { .. }));
    assert!(idx.role_in_use(&custom.id));
}

#[test]
fn data_access_administrator_only_assigns_data_roles() {
    let idx = Index::new(builtin_roles(), [a("1", "daa", KEY_VAULT_DATA_ACCESS_ADMINISTRATOR, "/vaults/v")]);
    let write = "Microsoft.KeyVault/vaults/roleAssignments/write/action";
    for r in DATA_ACCESS_ADMIN_ASSIGNABLE {
        assert!(matches!(idx.decide_for_role("daa", write, "/vaults/v", 0, Some(r)), Decision::Allow { .. }));
    }
    assert_eq!(
        idx.decide_for_role("daa", write, "/vaults/v", 0, Some(KEY_VAULT_DATA_ACCESS_ADMINISTRATOR)),
        Decision::Deny
    );
    assert_eq!(
        idx.decide_for_role("daa", write, "/vaults/v", 0, Some("c0ffee00-0000-4000-8000-000000000001")),
        Decision::Deny
    );
    assert_eq!(idx.decide("daa", GET, "/vaults/v/secrets/x", 0), Decision::Deny, "no data access itself");
    assert_eq!(idx.decide_for_role("daa", write, "/vaults/w", 0, Some(KEY_VAULT_SECRETS_USER)), Decision::Deny);
}

#[test]
fn every_builtin_role_against_sample_actions() {
    // (role, action, allowed) for a representative action of each family
    let r = |name: &str| builtin_roles().into_iter().find(|r| r.name == name).unwrap();
    let table = [
        ("Key Vault Administrator", "Microsoft.KeyVault/vaults/keys/sign/action", true),
        ("Key Vault Reader", "Microsoft.KeyVault/vaults/keys/read", true),
        ("Key Vault Reader", "Microsoft.KeyVault/vaults/secrets/getSecret/action", false),
        ("Key Vault Reader", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", true),
        ("Key Vault Secrets User", "Microsoft.KeyVault/vaults/secrets/setSecret/action", false),
        ("Key Vault Secrets Officer", "Microsoft.KeyVault/vaults/secrets/purge/action", true),
        ("Key Vault Crypto User", "Microsoft.KeyVault/vaults/keys/sign/action", true),
        ("Key Vault Crypto User", "Microsoft.KeyVault/vaults/keys/delete", false),
        ("Key Vault Crypto Officer", "Microsoft.KeyVault/vaults/keys/purge/action", true),
        ("Key Vault Crypto Service Encryption User", "Microsoft.KeyVault/vaults/keys/unwrap/action", true),
        ("Key Vault Crypto Service Encryption User", "Microsoft.KeyVault/vaults/keys/decrypt/action", false),
        ("Key Vault Data Access Administrator", "Microsoft.KeyVault/vaults/secrets/getSecret/action", false),
    ];
    for (role, action, allowed) in table {
        assert_eq!(r(role).grants(action), allowed, "{role} / {action}");
    }
}
