//! `strongbox status`: each node's health (`GET /_strongbox/health`, no credential): seal,
//! role, storage, the leases it holds, replication lag.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::output::Output;

#[derive(Args)]
pub(crate) struct StatusArgs {
    /// A node's address, `https://host:port` (repeatable, or comma-separated). Default: the
    /// authority of --bootstrap, else https://localhost:8443.
    #[arg(long, env = "STRONGBOX_ADDR", value_delimiter = ',')]
    address: Vec<String>,
    /// PEM CA file that issued the nodes' certificates (default: the bootstrap file's, else the
    /// system trust store).
    #[arg(long, env = "STRONGBOX_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// A bootstrap file, for its authority address and CA file.
    #[arg(long, env = "STRONGBOX_BOOTSTRAP")]
    bootstrap: Option<PathBuf>,
    /// `table` (one row per node) or `json` (the health answers, with each node's address).
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: Output,
}

/// Runs the command; fails (exit 1) when any node is unreachable, sealed or unhealthy, after
/// printing every node.
pub(crate) async fn run(a: StatusArgs) -> anyhow::Result<()> {
    let boot: Option<Value> = match &a.bootstrap {
        Some(p) => Some(crate::read_json(p)?),
        None => None,
    };
    let mut addresses = a.address.clone();
    if addresses.is_empty() {
        let from_boot = boot.as_ref().and_then(|b| b.get("authority")).and_then(Value::as_str);
        addresses.push(from_boot.unwrap_or("https://localhost:8443").to_owned());
    }
    let ca = a
        .ca_file
        .clone()
        .or_else(|| boot.as_ref().and_then(|b| b.get("ca_file")).and_then(Value::as_str).map(PathBuf::from));
    let mut b = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
    if let Some(f) = &ca {
        let pem = std::fs::read(f).with_context(|| format!("cannot read CA file {}", f.display()))?;
        b = b.tls_certs_merge([reqwest::Certificate::from_pem(&pem).context("the CA file is not PEM")?]);
    }
    let http = b.build()?;
    let mut nodes = Vec::new();
    let mut healthy = true;
    for addr in &addresses {
        let url = format!("{}/_strongbox/health", addr.trim_end_matches('/'));
        let answer = match http.get(&url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let mut body: Value = r.json().await.unwrap_or_else(|_| json!({}));
                healthy &= status == 200;
                if let Some(m) = body.as_object_mut() {
                    m.insert("httpStatus".into(), json!(status));
                }
                body
            }
            Err(e) => {
                healthy = false;
                json!({ "error": format!("unreachable: {e}") })
            }
        };
        let mut row = json!({ "address": addr });
        if let (Some(r), Some(m)) = (row.as_object_mut(), answer.as_object()) {
            r.extend(m.clone());
        }
        nodes.push(row);
    }
    #[allow(clippy::print_stdout, reason = "the command's output")]
    match a.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&nodes).unwrap_or_default()),
        Output::Table => {
            println!(
                "{:<32} {:<24} {:<10} {:<9} {:<6} {:<14} {:>8}  Leases held",
                "Address", "Node", "Role", "Storage", "Sealed", "Lag", "Job runs"
            );
            for n in &nodes {
                let text = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("");
                if let Some(err) = n.get("error").and_then(Value::as_str) {
                    println!("{:<32} {err}", text("address"));
                    continue;
                }
                let held: Vec<String> = n
                    .get("leases")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter(|x| x.get("heldByThisNode") == Some(&Value::Bool(true)))
                            .map(|x| {
                                format!(
                                    "{} (term {})",
                                    x.get("name").and_then(Value::as_str).unwrap_or("?"),
                                    x.get("term").map(ToString::to_string).unwrap_or_default()
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let lag = n
                    .get("replicationLagSeconds")
                    .and_then(Value::as_f64)
                    .map(|l| format!("{l:.1} s"))
                    .unwrap_or_else(|| "-".to_owned());
                println!(
                    "{:<32} {:<24} {:<10} {:<9} {:<6} {:<14} {:>8}  {}",
                    text("address"),
                    n.pointer("/node/name").and_then(Value::as_str).unwrap_or(""),
                    text("role"),
                    text("storage"),
                    n.get("sealed").map(ToString::to_string).unwrap_or_default(),
                    lag,
                    n.get("jobRuns").map(ToString::to_string).unwrap_or_default(),
                    if held.is_empty() { "-".to_owned() } else { held.join(", ") }
                );
            }
        }
    }
    if !healthy {
        anyhow::bail!("not every node is healthy");
    }
    Ok(())
}
