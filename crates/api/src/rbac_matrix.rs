//! The authorization matrix: every built-in role × every route, with the role assigned at the
//! deployment root, at the vault, and at one object. Expected outcomes are written out below
//! (`Y` allow, `.` deny, one column per role in [`ROLES`] order); a route without a row, or a
//! row without a route, fails the test.

use std::collections::BTreeMap;

use strongbox_authz::{Assignment, Decision, Index, builtin_roles};

use crate::{Authorization, Resolved, all_route_examples, resolve};

/// Column order of the masks.
const ROLES: [&str; 11] = [
    "Key Vault Administrator",
    "Key Vault Certificates Officer",
    "Key Vault Certificate User",
    "Key Vault Crypto Officer",
    "Key Vault Crypto Service Encryption User",
    "Key Vault Crypto Service Release User",
    "Key Vault Crypto User",
    "Key Vault Reader",
    "Key Vault Secrets Officer",
    "Key Vault Secrets User",
    "Key Vault Data Access Administrator",
];

/// `(method path, at "/", at "/vaults/default", at one object)`; `n/a` for routes the service
/// authorises itself (PIM self-service).
const TABLE: &[(&str, &str, &str, &str)] = &[
    ("POST /certificates/c/create", "YY.........", "YY.........", "YY........."),
    ("POST /certificates/c/import", "YY.........", "YY.........", "YY........."),
    ("GET /certificates/c", "YYY....Y...", "YYY....Y...", "YYY....Y..."),
    ("GET /certificates/c/0123456789abcdef0123456789abcdef", "YYY....Y...", "YYY....Y...", "YYY....Y..."),
    ("PATCH /certificates/c", "YY.........", "YY.........", "YY........."),
    ("PATCH /certificates/c/0123456789abcdef0123456789abcdef", "YY.........", "YY.........", "YY........."),
    ("DELETE /certificates/c", "YY.........", "YY.........", "YY........."),
    ("GET /certificates", "YYY....Y...", "YYY....Y...", "..........."),
    ("GET /certificates/c/versions", "YYY....Y...", "YYY....Y...", "YYY....Y..."),
    ("GET /certificates/c/policy", "YYY....Y...", "YYY....Y...", "YYY....Y..."),
    ("PATCH /certificates/c/policy", "YY.........", "YY.........", "YY........."),
    ("GET /certificates/c/pending", "YYY....Y...", "YYY....Y...", "YYY....Y..."),
    ("PATCH /certificates/c/pending", "YY.........", "YY.........", "YY........."),
    ("DELETE /certificates/c/pending", "YY.........", "YY.........", "YY........."),
    ("POST /certificates/c/pending/merge", "YY.........", "YY.........", "YY........."),
    ("POST /certificates/c/backup", "YY.........", "YY.........", "YY........."),
    ("POST /certificates/restore", "YY.........", "YY.........", "..........."),
    ("GET /deletedcertificates", "YYY....Y...", "YYY....Y...", "..........."),
    ("GET /deletedcertificates/c", "YYY....Y...", "YYY....Y...", "YYY....Y..."),
    ("DELETE /deletedcertificates/c", "YY.........", "YY.........", "YY........."),
    ("POST /deletedcertificates/c/recover", "YY.........", "YY.........", "YY........."),
    ("GET /certificates/contacts", "YYY....Y...", "YYY....Y...", "..........."),
    ("PUT /certificates/contacts", "YY.........", "YY.........", "..........."),
    ("DELETE /certificates/contacts", "YY.........", "YY.........", "..........."),
    ("GET /certificates/issuers", "YY.....Y...", "YY.....Y...", "..........."),
    ("GET /certificates/issuers/i", "YY.....Y...", "YY.....Y...", "..........."),
    ("PUT /certificates/issuers/i", "YY.........", "YY.........", "..........."),
    ("PATCH /certificates/issuers/i", "YY.........", "YY.........", "..........."),
    ("DELETE /certificates/issuers/i", "YY.........", "YY.........", "..........."),
    ("PUT /secrets/a", "Y.......Y..", "Y.......Y..", "Y.......Y.."),
    ("GET /secrets/a", "Y.Y.....YY.", "Y.Y.....YY.", "Y.Y.....YY."),
    ("GET /secrets/a/0123456789abcdef0123456789abcdef", "Y.Y.....YY.", "Y.Y.....YY.", "Y.Y.....YY."),
    ("PATCH /secrets/a", "Y.......Y..", "Y.......Y..", "Y.......Y.."),
    ("PATCH /secrets/a/0123456789abcdef0123456789abcdef", "Y.......Y..", "Y.......Y..", "Y.......Y.."),
    ("DELETE /secrets/a", "Y.......Y..", "Y.......Y..", "Y.......Y.."),
    ("GET /secrets", "Y.Y....YYY.", "Y.Y....YYY.", "..........."),
    ("GET /secrets/a/versions", "Y.Y....YYY.", "Y.Y....YYY.", "Y.Y....YYY."),
    ("POST /secrets/a/backup", "Y.......Y..", "Y.......Y..", "Y.......Y.."),
    ("POST /secrets/restore", "Y.......Y..", "Y.......Y..", "..........."),
    ("GET /deletedsecrets", "Y.Y....YYY.", "Y.Y....YYY.", "..........."),
    ("GET /deletedsecrets/a", "Y.Y....YYY.", "Y.Y....YYY.", "Y.Y....YYY."),
    ("DELETE /deletedsecrets/a", "Y.......Y..", "Y.......Y..", "Y.......Y.."),
    ("POST /deletedsecrets/a/recover", "Y.......Y..", "Y.......Y..", "Y.......Y.."),
    ("POST /keys/k/create", "Y..Y.......", "Y..Y.......", "Y..Y......."),
    ("PUT /keys/k", "Y..Y.......", "Y..Y.......", "Y..Y......."),
    ("GET /keys/k", "Y.YYY.YY...", "Y.YYY.YY...", "Y.YYY.YY..."),
    ("GET /keys/k/0123456789abcdef0123456789abcdef", "Y.YYY.YY...", "Y.YYY.YY...", "Y.YYY.YY..."),
    ("PATCH /keys/k", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("PATCH /keys/k/0123456789abcdef0123456789abcdef", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("DELETE /keys/k", "Y..Y.......", "Y..Y.......", "Y..Y......."),
    ("GET /keys", "Y.YYY.YY...", "Y.YYY.YY...", "..........."),
    ("GET /keys/k/versions", "Y.YYY.YY...", "Y.YYY.YY...", "Y.YYY.YY..."),
    ("POST /keys/k/backup", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/restore", "Y..Y.......", "Y..Y.......", "..........."),
    ("GET /deletedkeys", "Y.YYY.YY...", "Y.YYY.YY...", "..........."),
    ("GET /deletedkeys/k", "Y.YYY.YY...", "Y.YYY.YY...", "Y.YYY.YY..."),
    ("DELETE /deletedkeys/k", "Y..Y.......", "Y..Y.......", "Y..Y......."),
    ("POST /deletedkeys/k/recover", "Y..Y.......", "Y..Y.......", "Y..Y......."),
    ("POST /keys/k/0123456789abcdef0123456789abcdef/encrypt", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/0123456789abcdef0123456789abcdef/decrypt", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/0123456789abcdef0123456789abcdef/sign", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/0123456789abcdef0123456789abcdef/verify", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/0123456789abcdef0123456789abcdef/wrapkey", "Y..YY.Y....", "Y..YY.Y....", "Y..YY.Y...."),
    ("POST /keys/k/0123456789abcdef0123456789abcdef/unwrapkey", "Y..YY.Y....", "Y..YY.Y....", "Y..YY.Y...."),
    ("POST /keys/k/sign", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/rotate", "Y..Y.......", "Y..Y.......", "Y..Y......."),
    ("GET /keys/k/rotationpolicy", "Y..Y...Y...", "Y..Y...Y...", "Y..Y...Y..."),
    ("PUT /keys/k/rotationpolicy", "Y..Y.......", "Y..Y.......", "Y..Y......."),
    ("POST /keys/k/0123456789abcdef0123456789abcdef/release", "Y..Y.Y.....", "Y..Y.Y.....", "Y..Y.Y....."),
    ("GET /_strongbox/certificateauthorities", "YY.....Y...", "YY.....Y...", "..........."),
    ("GET /_strongbox/certificateauthorities/ca", "YY.....Y...", "YY.....Y...", "..........."),
    ("PUT /_strongbox/certificateauthorities/ca", "YY.........", "YY.........", "..........."),
    ("POST /rng", "Y..........", "Y..........", "..........."),
    ("GET /_strongbox/vaults", "Y..........", "...........", "..........."),
    ("POST /_strongbox/dev/time-shift", "Y..........", "...........", "..........."),
    ("GET /_strongbox/sys/keyring", "Y..........", "...........", "..........."),
    ("POST /_strongbox/sys/keyring/rotate", "Y..........", "...........", "..........."),
    ("GET /_strongbox/vaults/v", "Y..........", "...........", "..........."),
    ("PUT /_strongbox/vaults/v", "Y..........", "...........", "..........."),
    ("POST /_strongbox/serviceprincipals", "Y..........", "...........", "..........."),
    ("GET /_strongbox/serviceprincipals", "Y..........", "...........", "..........."),
    (
        "PATCH /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "POST /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/credentials",
        "Y..........",
        "...........",
        "...........",
    ),
    ("GET /_strongbox/trustedissuers", "Y..........", "...........", "..........."),
    ("GET /_strongbox/identitypolicy", "Y..........", "...........", "..........."),
    ("GET /providers/Microsoft.Authorization/roleDefinitions", "Y.........Y", "Y.........Y", "..........."),
    (
        "GET /providers/Microsoft.Authorization/roleDefinitions/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y.........Y",
        "Y.........Y",
        "...........",
    ),
    (
        "PUT /providers/Microsoft.Authorization/roleDefinitions/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "Y..........",
        "...........",
    ),
    (
        "DELETE /providers/Microsoft.Authorization/roleDefinitions/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "Y..........",
        "...........",
    ),
    ("PATCH /_strongbox/vaults/v", "Y..........", "...........", "..........."),
    (
        "PUT /_strongbox/vaults/v/accessPolicies/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/vaults/v/accessPolicies/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    ("GET /_strongbox/groups", "Y......Y...", "...........", "..........."),
    ("POST /_strongbox/groups", "Y..........", "...........", "..........."),
    ("GET /_strongbox/groups/g", "Y......Y...", "...........", "..........."),
    ("DELETE /_strongbox/groups/g", "Y..........", "...........", "..........."),
    ("GET /_strongbox/groups/g/members", "Y......Y...", "...........", "..........."),
    (
        "PUT /_strongbox/groups/g/members/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/groups/g/members/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    ("GET /_strongbox/denyAssignments", "Y......Y...", "...........", "..........."),
    (
        "GET /_strongbox/denyAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y......Y...",
        "...........",
        "...........",
    ),
    (
        "PUT /_strongbox/denyAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/denyAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    ("GET /_strongbox/pim/eligible", "Y.........Y", "...........", "..........."),
    ("PUT /_strongbox/pim/eligible/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a", "Y.........Y", "...........", "..........."),
    (
        "DELETE /_strongbox/pim/eligible/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y.........Y",
        "...........",
        "...........",
    ),
    ("GET /_strongbox/pim/requests", "n/a", "n/a", "n/a"),
    ("POST /_strongbox/pim/requests", "n/a", "n/a", "n/a"),
    ("POST /_strongbox/pim/requests/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/approve", "n/a", "n/a", "n/a"),
    ("POST /_strongbox/pim/requests/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/deny", "n/a", "n/a", "n/a"),
    ("POST /_strongbox/pim/requests/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/revoke", "n/a", "n/a", "n/a"),
    ("GET /keys/providers/Microsoft.Authorization/roleAssignments", "Y.........Y", "Y.........Y", "..........."),
    (
        "GET /secrets/s/providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y.........Y",
        "Y.........Y",
        "Y.........Y",
    ),
    (
        "PUT /secrets/s/providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y.........Y",
        "Y.........Y",
        "Y.........Y",
    ),
    (
        "DELETE /providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y.........Y",
        "Y.........Y",
        "...........",
    ),
    // every other route shape of the operation table (directory: deployment administrators only)
    ("POST /keys/k/encrypt", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/decrypt", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/verify", "Y..Y..Y....", "Y..Y..Y....", "Y..Y..Y...."),
    ("POST /keys/k/wrapkey", "Y..YY.Y....", "Y..YY.Y....", "Y..YY.Y...."),
    ("POST /keys/k/unwrapkey", "Y..YY.Y....", "Y..YY.Y....", "Y..YY.Y...."),
    ("POST /keys/k/release", "Y..Y.Y.....", "Y..Y.Y.....", "Y..Y.Y....."),
    ("GET /keys/k/0123456789abcdef0123456789abcdef/attestation", "Y..Y.Y.....", "Y..Y.Y.....", "..........."),
    ("GET /providers/Microsoft.Authorization/roleAssignments", "Y.........Y", "Y.........Y", "..........."),
    (
        "GET /providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y.........Y",
        "Y.........Y",
        "...........",
    ),
    (
        "PUT /providers/Microsoft.Authorization/roleAssignments/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y.........Y",
        "Y.........Y",
        "...........",
    ),
    (
        "GET /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "GET /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/credentials",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/credentials/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "POST /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/certificates",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "GET /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/federatedcredentials",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "POST /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/federatedcredentials",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/serviceprincipals/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/federatedcredentials/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    ("GET /_strongbox/attestationauthorities", "Y..........", "...........", "..........."),
    (
        "PUT /_strongbox/attestationauthorities/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/attestationauthorities/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "PUT /_strongbox/trustedissuers/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "PATCH /_strongbox/trustedissuers/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "DELETE /_strongbox/trustedissuers/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a",
        "Y..........",
        "...........",
        "...........",
    ),
    (
        "POST /_strongbox/trustedissuers/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/principalid",
        "Y..........",
        "...........",
        "...........",
    ),
    ("PUT /_strongbox/identitypolicy", "Y..........", "...........", "..........."),
    ("POST /_strongbox/managedidentities", "Y..........", "...........", "..........."),
    (
        "POST /_strongbox/managedidentities/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a/enrollmentcode",
        "Y..........",
        "...........",
        "...........",
    ),
    ("GET /_strongbox/users", "Y..........", "...........", "..........."),
    ("POST /_strongbox/users", "Y..........", "...........", "..........."),
    ("GET /_strongbox/users/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a", "Y..........", "...........", "..........."),
    ("PATCH /_strongbox/users/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a", "Y..........", "...........", "..........."),
    ("DELETE /_strongbox/users/0b8e5c7e-4a0a-4c1e-9d1e-0f1e2d3c4b5a", "Y..........", "...........", "..........."),
];

fn mask(r: &Resolved, scope: &str) -> String {
    let roles = builtin_roles();
    let mut out = String::new();
    for name in ROLES {
        let role = roles.iter().find(|r| r.name == name).unwrap();
        let idx = Index::new(
            builtin_roles(),
            [Assignment {
                id: "a".into(),
                principal_id: "p".into(),
                role_id: role.id.clone(),
                scope: scope.into(),
                expires: None,
            }],
        );
        let d = idx.decide("p", r.operation.action, &r.operation.scope.resolve("default", &r.params), 0);
        out.push(if matches!(d, Decision::Allow { .. }) { 'Y' } else { '.' });
    }
    out
}

/// The object an object-scope assignment is made on: the route's own object, or a secret for
/// routes that are not about one object.
fn object_scope(r: &Resolved) -> String {
    let s = r.operation.scope.resolve("default", &r.params);
    if s.split('/').filter(|x| !x.is_empty()).count() == 4 { s } else { "/vaults/default/secrets/a".into() }
}

#[test]
fn every_builtin_role_against_every_route() {
    let table: BTreeMap<&str, (&str, &str, &str)> = TABLE.iter().map(|(k, a, b, c)| (*k, (*a, *b, *c))).collect();
    assert_eq!(table.len(), TABLE.len(), "duplicate rows");
    let mut seen = Vec::new();
    let mut computed = Vec::new();
    let mut failures = Vec::new();
    for (method, path) in all_route_examples() {
        let key = format!("{method} {path}");
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let route = resolve(&method, &segs).unwrap();
        let got = if route.operation.authorization == Authorization::ByService {
            ("n/a".to_owned(), "n/a".to_owned(), "n/a".to_owned())
        } else {
            (mask(&route, "/"), mask(&route, "/vaults/default"), mask(&route, &object_scope(&route)))
        };
        computed.push(format!("    (\"{key}\", \"{}\", \"{}\", \"{}\"),", got.0, got.1, got.2));
        match table.get(key.as_str()) {
            None => failures.push(format!("no row for {key}")),
            Some(want) => {
                if (want.0, want.1, want.2) != (got.0.as_str(), got.1.as_str(), got.2.as_str()) {
                    failures.push(format!("{key}: want {want:?}, got {got:?}"));
                }
            }
        }
        seen.push(key);
    }
    for k in table.keys() {
        if !seen.iter().any(|s| s == k) {
            failures.push(format!("row without a route: {k}"));
        }
    }
    #[allow(clippy::print_stdout, reason = "prints the computed matrix when asked (PRINT_RBAC_MATRIX)")]
    if std::env::var("PRINT_RBAC_MATRIX").is_ok() {
        println!("{}", computed.join("\n"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
