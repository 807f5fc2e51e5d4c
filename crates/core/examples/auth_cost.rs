//! The per-request cost of bearer-token validation on the hot path: `Identity::authenticate` on a
//! token already verified once (SHA-256 of the token, cache lookup, revocation status check)
//! plus the RBAC decision the data plane makes next, and, for scale, the first (uncached)
//! validation with its signature check. Set the figures next to the secret GET benchmark's
//! CPU µs per request (bench/run.sh) to see what validation adds to a request.
//!
//! Run by hand: `cargo run --release -p strongbox-core --example auth_cost`.
#![allow(clippy::print_stdout, clippy::indexing_slicing, reason = "a measuring example: it prints its figures")]

use std::sync::Arc;
use std::time::Instant;

use strongbox_barrier::Barrier;
use strongbox_core::{CoreConfig, Services};
use strongbox_identity::TokenRequest;
use strongbox_storage::MemoryStorage;
use strongbox_types::SystemClock;

fn per_op(label: &str, n: u32, start: Instant) {
    let ns = start.elapsed().as_nanos() as f64 / f64::from(n);
    println!("{label:<52} {:>9.0} ns/op ({n} ops)", ns);
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let barrier = Arc::new(Barrier::new(Arc::new(MemoryStorage::new())));
    let kek = strongbox_crypto::random_key()?;
    barrier.initialize(&kek).await?;
    barrier.unseal(&kek).await?;
    let cfg = CoreConfig {
        dns_suffix: "vault.localhost".into(),
        public_port: 8443,
        authority_host: "localhost".into(),
        token_lifetime: 3600,
    };
    let core = Services::open(barrier, Arc::new(SystemClock), cfg).await?;
    let boot = core.bootstrap("default").await?.ok_or("the store was already bootstrapped")?;
    let req = TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some(boot.client_id.clone()),
        client_secret: Some(boot.client_secret.clone()),
        scope: Some("https://vault.localhost:8443/.default".into()),
        ..Default::default()
    };
    let token = core.identity.issue_token(&boot.tenant_id, &req).await.map_err(|e| e.description())?.access_token;
    println!("token of {} bytes (RS256-signed JWT as the SDKs send it)", token.expose().len());

    // uncached: a fresh token each time, so every call verifies a signature
    let n = 2_000u32;
    let mut fresh = Vec::with_capacity(n as usize);
    for _ in 0..n {
        fresh.push(core.identity.issue_token(&boot.tenant_id, &req).await.map_err(|e| e.description())?.access_token);
    }
    let start = Instant::now();
    for t in &fresh {
        core.identity.authenticate(t.expose()).await.map_err(|e| e.0)?;
    }
    per_op("first validation (signature check, then cached)", n, start);

    let n = 200_000u32;
    let start = Instant::now();
    for _ in 0..n {
        core.identity.authenticate(token.expose()).await.map_err(|e| e.0)?;
    }
    per_op("cached validation (hash, lookup, revocation check)", n, start);

    let p = core.identity.authenticate(token.expose()).await.map_err(|e| e.0)?;
    let action = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
    let scope = "/vaults/default/secrets/hot";
    let allowed = core.access.authorize(&p, action, scope).is_ok();
    let start = Instant::now();
    for _ in 0..n {
        let p = core.identity.authenticate(token.expose()).await.map_err(|e| e.0)?;
        let _ = core.access.authorize(&p, action, scope);
    }
    per_op(&format!("cached validation + RBAC decision (allowed: {allowed})"), n, start);
    Ok(())
}
