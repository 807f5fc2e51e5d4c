//! `--metrics-listen`: Prometheus text at `/metrics`, `/healthz` and `/readyz` on a plain-HTTP
//! listener, and `/healthz`, `/readyz` on the HTTPS one; counts by vault, operation and status
//! class, and never a value, name or token.
#![allow(clippy::indexing_slicing, reason = "integration test: indexes into answers whose shape it asserts")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::process::{Command, Stdio};

use common::{Node, bootstrap_token, free_port, https_client, read_boot, spawn_server, terminate};
use serde_json::json;

/// The value of the sample `line_start` (the text before the value) in Prometheus text.
fn sample(text: &str, line_start: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(line_start).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_operation_and_status_without_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (port, metrics_port) = (free_port(), free_port());
    let mut server = Command::new(env!("CARGO_BIN_EXE_strongbox"));
    server.env("STRONGBOX_LOG", "warn").stderr(Stdio::inherit());
    let mut child = Node(spawn_server(server, &dir, port, &["--metrics-listen", &format!("127.0.0.1:{metrics_port}")]));
    let boot = read_boot(&dir);
    let vault = boot["vault_url"].as_str().unwrap().to_owned();
    let http = https_client(&boot, port);
    let tok = bootstrap_token(&http, &boot).await;
    let secret_value = "metrics-must-not-show-this-7f3a";
    let url = |name: &str| format!("{vault}/secrets/{name}?api-version=7.6");
    let r = http.put(url("counted")).bearer_auth(&tok).json(&json!({ "value": secret_value })).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..3 {
        assert_eq!(http.get(url("counted")).bearer_auth(&tok).send().await.unwrap().status(), 200);
    }
    assert_eq!(http.get(url("missing-one")).bearer_auth(&tok).send().await.unwrap().status(), 404);
    assert_eq!(http.get(url("counted")).send().await.unwrap().status(), 401);
    // liveness and readiness on the HTTPS listener
    for path in ["healthz", "readyz"] {
        let r = http.get(format!("https://localhost:{port}/{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "/{path} on the main listener");
    }

    let plain = reqwest::Client::new();
    let m = format!("http://127.0.0.1:{metrics_port}");
    for path in ["healthz", "readyz"] {
        assert_eq!(
            plain.get(format!("{m}/{path}")).send().await.unwrap().status(),
            200,
            "/{path} on the metrics listener"
        );
    }
    let r = plain.get(format!("{m}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    let req = |op: &str, status: &str| {
        sample(&text, &format!("strongbox_requests_total{{vault=\"default\",operation=\"{op}\",status=\"{status}\"}}"))
    };
    assert_eq!(req("secrets::get", "2xx"), Some(3.0), "{text}");
    assert_eq!(req("secrets::get", "4xx"), Some(1.0), "{text}");
    assert_eq!(req("secrets::set", "2xx"), Some(1.0), "{text}");
    assert_eq!(req("unknown", "4xx"), Some(1.0), "the request without a token: {text}");
    // the token endpoint belongs to no vault
    let tokens = sample(&text, "strongbox_requests_total{vault=\"\",operation=\"token\",status=\"2xx\"}");
    assert!(tokens.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        sample(&text, "strongbox_storage_duration_seconds_count{call=\"get\"}").is_some_and(|n| n >= 4.0),
        "{text}"
    );
    assert!(sample(&text, "strongbox_storage_duration_seconds_count{call=\"commit\"}").is_some_and(|n| n >= 1.0));
    assert_eq!(sample(&text, "strongbox_sealed"), Some(0.0));
    assert_eq!(sample(&text, "strongbox_read_only"), Some(0.0));
    assert_eq!(sample(&text, "strongbox_keyring_active_term"), Some(1.0));
    assert!(text.contains("le=\"+Inf\""), "{text}");
    for never in [secret_value, tok.as_str(), "counted", "missing-one", boot["client_secret"].as_str().unwrap()] {
        assert!(!text.contains(never), "the metrics show {never:?}");
    }
    terminate(&mut child.0);
}
