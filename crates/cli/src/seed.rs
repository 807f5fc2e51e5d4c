//! `strongbox server --dev --seed FILE`: vaults, secrets, keys and certificates created at start
//! for test fixtures, sent through the server's own HTTPS API as the bootstrap administrator.
//!
//! The file is JSON; each object's `body` is the request body of the REST call that creates
//! it (`PUT /secrets/{name}`, `POST /keys/{name}/create`, `POST /certificates/{name}/create`):
//!
//! ```json
//! { "vaults": [{ "name": "app", "sku": "premium" }],
//!   "secrets": [{ "vault": "app", "name": "db-password", "body": { "value": "s3cret" } }],
//!   "keys": [{ "vault": "app", "name": "signing", "body": { "kty": "EC", "crv": "P-256" } }],
//!   "certificates": [{ "vault": "app", "name": "web", "body": { "policy": { "issuer": { "name": "Self" },
//!       "x509_props": { "subject": "CN=web" } } } }] }
//! ```

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Client, Connection};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seed {
    #[serde(default)]
    vaults: Vec<SeedVault>,
    #[serde(default)]
    secrets: Vec<SeedObject>,
    #[serde(default)]
    keys: Vec<SeedObject>,
    #[serde(default)]
    certificates: Vec<SeedObject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedVault {
    name: String,
    #[serde(default = "standard")]
    sku: String,
}

fn standard() -> String {
    "standard".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedObject {
    #[serde(default = "default_vault")]
    vault: String,
    name: String,
    body: Value,
}

fn default_vault() -> String {
    "default".into()
}

/// Reads and checks a seed file (before the server starts, so a bad file starts nothing).
pub(crate) fn load(path: &Path) -> anyhow::Result<Seed> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the seed file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("the seed file {} is not a valid seed (JSON)", path.display()))
}

/// Creates what the seed lists; returns how many objects it created. A vault that already
/// exists is kept.
pub(crate) async fn apply(seed: &Seed, bootstrap: &Path) -> anyhow::Result<usize> {
    let conn = || Connection::resolve(Some(bootstrap));
    let mut done = 0;
    let admin = Client::new(conn()?, conn()?.default_vault_url()).await?;
    for v in &seed.vaults {
        let path = format!("/_strongbox/vaults/{}", v.name);
        if admin.get_opt(&path).await?.is_none() {
            admin
                .call("PUT", &path, Some(json!({ "sku": v.sku })))
                .await
                .with_context(|| format!("seed: vault {}", v.name))?;
            done += 1;
        }
    }
    let mut clients: HashMap<String, Client> = HashMap::new();
    let kinds = [("secret", &seed.secrets), ("key", &seed.keys), ("certificate", &seed.certificates)];
    for (kind, objects) in kinds {
        for o in objects {
            if !clients.contains_key(&o.vault) {
                let c = conn()?;
                let url = c.vault_url_for(&o.vault)?;
                clients.insert(o.vault.clone(), Client::new(c, url).await?);
            }
            let cl = clients.get(&o.vault).context("seed: no client for the vault")?;
            let (method, path) = match kind {
                "secret" => ("PUT", format!("/secrets/{}", o.name)),
                "key" => ("POST", format!("/keys/{}/create", o.name)),
                _ => ("POST", format!("/certificates/{}/create", o.name)),
            };
            cl.call(method, &path, Some(o.body.clone()))
                .await
                .with_context(|| format!("seed: {kind} {} in vault {}", o.name, o.vault))?;
            done += 1;
        }
    }
    Ok(done)
}
