//! `strongbox role assignment create --assignee …` resolves what it is given to an object id, as
//! `az` does, with the real binary against a real server.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const AZURE_VARS: [&str; 4] = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST"];

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `strongbox …` as the bootstrap administrator, with a clean environment.
fn admin(boot: &Path, args: &[&str]) -> Output {
    base().args(args).arg("--bootstrap").arg(boot).output().unwrap()
}

fn base() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    c.env("STRONGBOX_LOG", "warn")
        .env("STRONGBOX_LOGIN_FILE", "/nonexistent/strongbox-login.json")
        .env_remove("STRONGBOX_BOOTSTRAP")
        .env_remove("STRONGBOX_VAULT_URL")
        .env_remove("STRONGBOX_CA_FILE")
        .env_remove("STRONGBOX_RESOURCE");
    for v in AZURE_VARS {
        c.env_remove(v);
    }
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok_json(o: Output) -> Value {
    assert!(o.status.success(), "command failed: {}", text(&o));
    serde_json::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap()
}

/// `strongbox …` signed in as service principal `sp` (AZURE_* variables).
fn as_sp(boot: &Value, sp: &Value, args: &[&str]) -> Output {
    base()
        .args(args)
        .env("AZURE_TENANT_ID", boot["tenant_id"].as_str().unwrap())
        .env("AZURE_CLIENT_ID", sp["appId"].as_str().unwrap())
        .env("AZURE_CLIENT_SECRET", sp["password"].as_str().unwrap())
        .env("AZURE_AUTHORITY_HOST", boot["authority"].as_str().unwrap())
        .env("STRONGBOX_CA_FILE", boot["ca_file"].as_str().unwrap())
        .env("STRONGBOX_VAULT_URL", boot["vault_url"].as_str().unwrap())
        .output()
        .unwrap()
}

fn principal_of(assignment: &Value) -> String {
    assignment["properties"]["principalId"].as_str().unwrap().to_owned()
}

#[test]
fn role_assignment_assignee_is_resolved_to_an_object_id() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let _server = Server(common::spawn(&data, common::free_port()));
    let b = data.join("bootstrap.json");
    let boot: Value = serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();

    ok_json(admin(&b, &["secret", "set", "--vault-name", "default", "--name", "by-app", "--value", "v1"]));
    let sp = ok_json(admin(&b, &["ad", "sp", "create-for-rbac", "--name", "resolver-app"]));
    let (app_id, sp_oid) = (sp["appId"].as_str().unwrap(), sp["objectId"].as_str().unwrap());
    assert_ne!(app_id, sp_oid);
    let denied = as_sp(&boot, &sp, &["secret", "show", "--name", "by-app"]);
    assert!(!denied.status.success() && text(&denied).contains("HTTP 403"), "{}", text(&denied));

    // by app id: the assignment names the service principal's object id, and it takes effect
    let a = ok_json(admin(
        &b,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            app_id,
            "--role",
            "Key Vault Secrets User",
            "--scope",
            "/secrets/by-app",
        ],
    ));
    assert_eq!(principal_of(&a), sp_oid.to_ascii_lowercase());
    let shown = ok_json(as_sp(&boot, &sp, &["secret", "show", "--name", "by-app"]));
    assert_eq!(shown["value"], "v1");

    // by object id, by sign-in name, by group name
    let a = ok_json(admin(&b, &["role", "assignment", "create", "--assignee", sp_oid, "--role", "Key Vault Reader"]));
    assert_eq!(principal_of(&a), sp_oid.to_ascii_lowercase());
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "correct horse battery staple").unwrap();
    let user = ok_json(
        base()
            .args(["ad", "user", "create", "--upn", "Bob@Example.org", "--password-file"])
            .arg(&pw)
            .arg("--bootstrap")
            .arg(&b)
            .output()
            .unwrap(),
    );
    let a = ok_json(admin(
        &b,
        &["role", "assignment", "create", "--assignee", "bob@example.org", "--role", "Key Vault Reader"],
    ));
    assert_eq!(principal_of(&a), user["objectId"].as_str().unwrap().to_ascii_lowercase());
    let group = ok_json(admin(&b, &["ad", "group", "create", "--display-name", "Team A"]));
    let a = ok_json(admin(&b, &["role", "assignment", "create", "--assignee", "team a", "--role", "Key Vault Reader"]));
    assert_eq!(principal_of(&a), group["id"].as_str().unwrap().to_ascii_lowercase());

    // what resolves to nothing is refused, and nothing is assigned
    let before = ok_json(admin(&b, &["role", "assignment", "list"]))["value"].as_array().unwrap().len();
    for nobody in ["0b2f6f8e-1c1d-4e4e-9f9f-5a5a5a5a5a5a", "nobody@example.org", "No Such Group"] {
        let r = admin(&b, &["role", "assignment", "create", "--assignee", nobody, "--role", "Key Vault Reader"]);
        assert!(!r.status.success(), "{nobody}: {}", text(&r));
        assert!(text(&r).contains("cannot find"), "{}", text(&r));
    }
    let after = ok_json(admin(&b, &["role", "assignment", "list"]))["value"].as_array().unwrap().len();
    assert_eq!(before, after);
    // an id outside the directory only as --assignee-object-id
    let outside = "0b2f6f8e-1c1d-4e4e-9f9f-5a5a5a5a5a5a";
    let a = ok_json(admin(
        &b,
        &["role", "assignment", "create", "--assignee-object-id", outside, "--role", "Key Vault Reader"],
    ));
    assert_eq!(principal_of(&a), outside);

    // a vault administrator (only) writes custom roles assignable within its vault
    let va = ok_json(admin(&b, &["ad", "sp", "create-for-rbac", "--name", "vault-admin"]));
    let app2 = va["appId"].as_str().unwrap();
    ok_json(admin(&b, &["role", "assignment", "create", "--assignee", app2, "--role", "Key Vault Administrator"]));
    let def = [
        "role",
        "definition",
        "create",
        "--role-name",
        "team reader",
        "--data-actions",
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    ];
    let wide = as_sp(&boot, &va, &def);
    assert!(!wide.status.success() && text(&wide).contains("HTTP 403"), "{}", text(&wide));
    let mut narrow = def.to_vec();
    narrow.extend(["--assignable-scopes", "/secrets"]);
    let role = ok_json(as_sp(&boot, &va, &narrow));
    assert_eq!(role["properties"]["assignableScopes"], serde_json::json!(["/vaults/default/secrets"]));

    // eligible assignments and deny assignments resolve their principals the same way
    let e = ok_json(admin(
        &b,
        &[
            "role",
            "eligible",
            "create",
            "--assignee",
            app_id,
            "--role",
            "Key Vault Reader",
            "--scope",
            "/vaults/default",
            "--approver",
            "bob@example.org",
        ],
    ));
    assert_eq!(e["principalId"], sp_oid.to_ascii_lowercase());
    assert_eq!(e["approvers"], serde_json::json!([user["objectId"].as_str().unwrap().to_ascii_lowercase()]));
    let r = admin(
        &b,
        &[
            "role",
            "eligible",
            "create",
            "--assignee",
            "nobody@example.org",
            "--role",
            "Key Vault Reader",
            "--scope",
            "/",
        ],
    );
    assert!(!r.status.success() && text(&r).contains("cannot find"), "{}", text(&r));
    let d = ok_json(admin(
        &b,
        &[
            "role",
            "deny-assignment",
            "create",
            "--assignee",
            app_id,
            outside,
            "--data-actions",
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "--scope",
            "/vaults/other",
        ],
    ));
    assert_eq!(d["principalIds"], serde_json::json!([sp_oid.to_ascii_lowercase(), outside]));

    // list and delete filter by the resolved id too
    let listed = ok_json(admin(&b, &["role", "assignment", "list", "--assignee", app_id]));
    assert_eq!(listed["value"].as_array().unwrap().len(), 2, "{listed}");
    ok_json(admin(&b, &["role", "assignment", "delete", "--assignee", app_id, "--scope", "/secrets/by-app"]));
    let denied = as_sp(&boot, &sp, &["secret", "show", "--name", "by-app"]);
    assert!(!denied.status.success(), "{}", text(&denied));
}
