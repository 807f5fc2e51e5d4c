//! The HTTP surface. One handler parses every request itself, because the Key Vault wire has
//! quirks a pattern router fights: the vault comes from the Host header, `//` and a trailing `/`
//! must be tolerated, literal segments overlap legal object names (`/secrets/restore`), and
//! query parameter names may arrive percent-encoded (`api%2Dversion`, JS SDK).
//!
//! Every vault and management operation is one row of the operation table (`operations.rs`):
//! route, data action, scope, access-policy permission, body and handler. Order of checks for
//! vault requests (the SDKs depend on it): sealed → 503; no valid bearer token → 401 with the
//! challenge (before looking at path, body or api-version); then the vault, the operation (404,
//! 405), its data action, the api-version, the body and finally the handler.

mod admin;
mod authority;
mod certificates;
mod context;
mod directory;
mod errors;
mod http;
mod keys;
pub mod metrics;
mod operations;
mod operator;
mod rbac;
mod routing;
mod secrets;
mod vaults;

pub use context::{PathParams, RequestContext};
pub use operations::{Authorization, Body, Claim, OPERATIONS, Operation, Scope};
pub use routing::{Resolved, all_route_examples, resolve};

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use strongbox_core::Services;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The vault served on hosts that are not `{vault}.{dns_suffix}` (the bare server host).
    pub default_vault: String,
    /// How long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Reverse proxies in front of the server: for connections from one of them the client
    /// address is the right-most `X-Forwarded-For` entry that is not a trusted proxy. Empty:
    /// the socket peer is the client, and `X-Forwarded-For` is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The movable clock of a `--dev` server (`POST /_strongbox/dev/time-shift`); `None`:
    /// the clock cannot be moved.
    pub dev_clock: Option<strongbox_types::ShiftedClock>,
    /// What `/_strongbox/health` reports about this node beyond the seal (`None`: only that).
    pub node: Option<NodeInfo>,
    /// Request metrics (`--metrics-listen`); `None`: not kept.
    pub metrics: Option<std::sync::Arc<metrics::Metrics>>,
}

/// This node, as `GET /_strongbox/health` describes it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub leases: std::sync::Arc<strongbox_core::leases::Leases>,
    /// `sqlite` or `postgres`.
    pub storage: &'static str,
    /// Runs of the scheduled jobs on this node since it started.
    pub job_runs: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Set while the node serves reads only (a standby database).
    pub read_only: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The standby's replication lag in ms; -1 when not measured.
    pub replication_lag_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// Where writes go (`--primary-url`).
    pub primary: Option<String>,
}

impl ApiConfig {
    pub fn new(default_vault: impl Into<String>) -> Self {
        Self {
            default_vault: default_vault.into(),
            body_timeout: std::time::Duration::from_secs(60),
            trusted_proxies: Vec::new(),
            dev_clock: None,
            node: None,
            metrics: None,
        }
    }
}

pub struct AppState {
    pub core: Arc<Services>,
    pub cfg: ApiConfig,
}

pub fn router(core: Arc<Services>, cfg: ApiConfig) -> Router {
    Router::new().fallback(dispatch).with_state(Arc::new(AppState { core, cfg }))
}

async fn dispatch(State(st): State<Arc<AppState>>, req: Request) -> Response {
    http::handle(&st, req).await
}

#[cfg(test)]
mod tests;
