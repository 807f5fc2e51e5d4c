//! Authorization decision cost with 10,000 assignments in the deployment. Run by hand:
//! `cargo run --release -p strongbox-authz --example decide_bench`.
#![allow(clippy::print_stdout, clippy::indexing_slicing, reason = "a measuring example: it prints its figures")]

use std::hint::black_box;
use std::time::Instant;

use strongbox_authz::{Assignment, Index, KEY_VAULT_SECRETS_USER, builtin_roles};

fn main() {
    let roles = builtin_roles();
    let ids: Vec<String> = roles.iter().map(|r| r.id.clone()).collect();
    // 10,000 assignments: 2,000 principals x 5 assignments each, at mixed scopes.
    let mut assignments = Vec::new();
    for p in 0..2_000 {
        for k in 0..5 {
            let scope = match k {
                0 => format!("/vaults/v{}", p % 50),
                1 => format!("/vaults/v{}/secrets/s{p}", p % 50),
                2 => format!("/vaults/v{}/keys", p % 50),
                _ => format!("/vaults/v{}/secrets/x{k}-{p}", p % 50),
            };
            assignments.push(Assignment {
                id: format!("a-{p}-{k}"),
                principal_id: format!("00000000-0000-0000-0000-{p:012}"),
                role_id: if k == 1 { KEY_VAULT_SECRETS_USER.to_owned() } else { ids[(p + k) % ids.len()].clone() },
                scope,
                expires: None,
            });
        }
    }
    let idx = Index::new(roles, assignments);
    let n = 1_000_000u32;
    let action = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
    let start = Instant::now();
    let mut allowed = 0u32;
    for i in 0..n {
        let p = format!("00000000-0000-0000-0000-{:012}", i % 2_000);
        let resource = format!("/vaults/v{}/secrets/s{}", (i % 2_000) % 50, i % 2_000);
        if matches!(black_box(idx.decide(&p, action, &resource, 0)), strongbox_authz::Decision::Allow { .. }) {
            allowed += 1;
        }
    }
    let per = start.elapsed().as_nanos() as f64 / f64::from(n);
    println!(
        "10,000 assignments: {per:.0} ns per decision (including building the two request strings); {allowed} of {n} allowed"
    );
}
