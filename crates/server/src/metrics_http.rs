//! The metrics listener (`--metrics-listen`, off by default): plain HTTP for a Prometheus scraper
//! on a private address, with `GET /metrics`, `GET /healthz` (live) and `GET /readyz` (unsealed
//! and the storage answers). No credential: bind it to loopback or a monitoring network. It
//! shows counts and latencies only, never a name of an object, a caller or a value.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use strongbox_api::metrics::Metrics;
use strongbox_core::Services;
use strongbox_core::leases::Leases;

pub(crate) struct MetricsState {
    pub core: Arc<Services>,
    pub leases: Arc<Leases>,
    pub metrics: Arc<Metrics>,
    pub job_runs: Arc<AtomicU64>,
    pub job_failures: Arc<AtomicU64>,
    pub read_only: Arc<AtomicBool>,
    pub lag_ms: Arc<AtomicI64>,
}

pub(crate) fn router(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { (StatusCode::OK, "live\n") }))
        .route("/readyz", get(ready))
        .with_state(Arc::new(state))
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

async fn metrics(State(st): State<Arc<MetricsState>>) -> Response {
    let sealed = st.core.is_sealed().await;
    let mut gauges: Vec<(&str, &str, f64)> = vec![
        ("strongbox_sealed", "1 while this node is sealed.", flag(sealed)),
        (
            "strongbox_read_only",
            "1 while this node serves reads only (a standby database).",
            flag(st.read_only.load(Ordering::Relaxed)),
        ),
        (
            "strongbox_job_runs",
            "Runs of the scheduled jobs on this node since it started.",
            st.job_runs.load(Ordering::Relaxed) as f64,
        ),
        (
            "strongbox_job_failures",
            "Scheduled jobs that failed on this node since it started.",
            st.job_failures.load(Ordering::Relaxed) as f64,
        ),
    ];
    let lag = st.lag_ms.load(Ordering::Relaxed);
    if lag >= 0 {
        gauges.push((
            "strongbox_replication_lag_seconds",
            "Seconds since the standby replayed a transaction.",
            lag as f64 / 1000.0,
        ));
    }
    if !sealed {
        if let Ok(leases) = st.leases.status().await {
            let held = leases.iter().any(|l| l.name == crate::JOBS_LEASE && l.held_by_this_node);
            gauges.push(("strongbox_jobs_lease_held", "1 while this node holds the jobs lease.", flag(held)));
        }
        if let Ok(k) = st.core.keyring_status().await {
            gauges.push((
                "strongbox_keyring_active_term",
                "The keyring term new values are encrypted under.",
                f64::from(k.active),
            ));
            gauges.push((
                "strongbox_keyring_encryptions",
                "Values encrypted under the active term.",
                k.encryptions as f64,
            ));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics.render(&gauges)).into_response()
}

async fn ready(State(st): State<Arc<MetricsState>>) -> Response {
    if st.core.is_sealed().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "sealed\n").into_response();
    }
    match st.leases.status().await {
        Ok(_) => (StatusCode::OK, "ready\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage unreachable\n").into_response(),
    }
}
