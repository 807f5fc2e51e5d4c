//! The dispatcher: path and query normalisation, host → vault, authentication, the operation
//! and its authorization, the body under its limit, then the handler with its
//! [`RequestContext`]; errors in the API's error shape.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use strongbox_core::AccessPolicyCheck as PolicyCheck;
use strongbox_types::{Error, ErrorKind};
use strongbox_wire::ErrorBody;

use crate::context::{RequestContext, json, parse_query};
use crate::errors::{public_message, status_and_code};
use crate::operations::{Authorization, NO_BODY, Operation};
use crate::routing::Resolved;
use crate::{AppState, authority, routing};

const SERVICE_VERSION: &str = concat!("strongbox/", env!("CARGO_PKG_VERSION"));

/// Request ids: a random per-process prefix and a counter, in UUID form (one random draw per
/// process instead of one per request).
fn next_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let p = *PREFIX.get_or_init(|| u64::from_be_bytes(strongbox_crypto::random_array().unwrap_or_default()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        p >> 32,
        (p >> 16) & 0xffff,
        p & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

/// What the access log says of one request, filled in while it is served. Never a value, a
/// token, a body or a path (object names stay out of the log).
#[derive(Default)]
struct AccessRecord {
    /// Whether the access log is on: when it is not, nothing is copied into the record.
    on: bool,
    /// Whether metrics are kept (the vault is copied into the record for them).
    metrics: bool,
    vault: String,
    /// The handler of the operation (`secrets::get`), `token` for the authority, empty when
    /// the request was refused before its operation was known.
    operation: &'static str,
    /// The caller's object id, once authenticated.
    caller: String,
    client: Option<IpAddr>,
}

pub(crate) async fn handle(st: &AppState, req: Request) -> Response {
    let started = std::time::Instant::now();
    let request_id = next_request_id();
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    let method = req.method().clone();
    let mut rec = AccessRecord {
        on: tracing::enabled!(target: "strongbox::access", tracing::Level::INFO),
        metrics: st.cfg.metrics.is_some(),
        ..AccessRecord::default()
    };
    let mut resp = route_request(st, req, &request_id, &mut rec).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-ms-request-id", v);
    }
    h.insert("x-ms-keyvault-service-version", HeaderValue::from_static(SERVICE_VERSION));
    if let Some(c) = client_request_id {
        h.insert("x-ms-client-request-id", c);
    }
    tracing::info!(
        target: "strongbox::access",
        %request_id,
        %method,
        vault = %rec.vault,
        operation = rec.operation,
        status = resp.status().as_u16(),
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        caller = %rec.caller,
        client = %rec.client.map(|c| c.to_string()).unwrap_or_default(),
        "request"
    );
    if let Some(m) = &st.cfg.metrics {
        m.request(&rec.vault, rec.operation, resp.status().as_u16(), started.elapsed());
    }
    resp
}

/// The client's address: the socket peer (set by the server's
/// `into_make_service_with_connect_info`), or the forwarded one behind a trusted proxy.
fn peer(st: &AppState, parts: &axum::http::request::Parts) -> Option<IpAddr> {
    let socket = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    socket.map(|s| client_address(s, &parts.headers, &st.cfg.trusted_proxies))
}

async fn route_request(st: &AppState, req: Request, request_id: &str, rec: &mut AccessRecord) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    // Collapsing empty segments tolerates `//` and a trailing `/` (wire §1.3).
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let host = request_host(&parts.headers, &parts.uri);

    if authority::is_authority_path(&segs) {
        // Token requests are small forms: read (at most one byte past the endpoint's own limit,
        // so that it still refuses oversized forms itself) before any answer, so that no answer
        // leaves a request body unread (HTTP/2 would reset the stream).
        let body = match prefetch(body, authority::MAX_FORM + 1, st.cfg.body_timeout).await {
            Ok(b) => Body::from(b),
            Err(e) => return error_response(&e, request_id),
        };
        // The peer address feeds the token endpoint's per-address failed-attempt limiting.
        let peer = peer(st, &parts);
        rec.operation = "token";
        rec.client = peer;
        return authority::handle(st, &parts.method, &segs, &query, &parts.headers, body, peer).await;
    }

    // Each operation reads at most what it can legally carry; a declared length over that is
    // refused before a byte of the body is read.
    let resolved = routing::resolve(&parts.method, &segs);
    let cap = resolved.as_ref().map_or(NO_BODY, |r| r.operation.body.limit(&parts.method));
    if declared_length(&parts.headers).is_some_and(|n| n > cap as u64) {
        return error_response(&too_large(cap), request_id);
    }
    let mut body = Some(body);
    let resp = route_inner(st, &parts, &segs, resolved, query, host, &mut body, cap, request_id, rec).await;
    // the request head is no longer needed: do not hold it while a slow body drains
    drop(segs);
    drop(path);
    drop(parts);
    // An answer given before the body was read (401 challenge, 403, 404, sealed…): read the rest
    // of the body first (bounded), so that the answer arrives intact over HTTP/2 instead of a
    // stream reset.
    if let Some(b) = body.take() {
        drain(b, cap, st.cfg.body_timeout).await;
    }
    resp
}

/// `GET /_strongbox/health`, for load balancers and operators, without a credential: 200 when
/// this node is unsealed and reaches its storage, else 503. Beside `sealed` it names the node,
/// its storage kind and role, and the deployment's leases (which node runs the background jobs).
async fn health(st: &AppState) -> Response {
    let sealed = st.core.is_sealed().await;
    let Some(node) = &st.cfg.node else {
        let status = if sealed { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
        return json(status, &serde_json::json!({ "sealed": sealed }));
    };
    let mut body = serde_json::json!({
        "sealed": sealed,
        "node": { "id": node.leases.node_id(), "name": node.leases.node_name() },
        "storage": node.storage,
        "role": if node.read_only.load(std::sync::atomic::Ordering::Relaxed) { "read-only" } else { "read-write" },
        "jobRuns": node.job_runs.load(std::sync::atomic::Ordering::Relaxed),
    });
    if let Some(fields) = body.as_object_mut() {
        let lag = node.replication_lag_ms.load(std::sync::atomic::Ordering::Relaxed);
        if lag >= 0 {
            fields.insert("replicationLagSeconds".into(), serde_json::json!(lag as f64 / 1000.0));
        }
        if let Some(p) = &node.primary {
            fields.insert("primary".into(), serde_json::json!(p));
        }
    }
    let mut ok = !sealed;
    if !sealed && let Some(fields) = body.as_object_mut() {
        match node.leases.status().await {
            Ok(leases) => {
                fields.insert("leases".into(), serde_json::json!(leases));
            }
            Err(e) => {
                tracing::warn!(error = %e, "health check: storage unreachable");
                ok = false;
                fields.insert("storageError".into(), serde_json::json!("The storage could not be read."));
            }
        }
    }
    json(if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, &body)
}

#[allow(clippy::too_many_arguments)]
async fn route_inner(
    st: &AppState,
    parts: &axum::http::request::Parts,
    segs: &[&str],
    resolved: Result<Resolved, Error>,
    query: HashMap<String, String>,
    host: String,
    body: &mut Option<Body>,
    cap: usize,
    request_id: &str,
    rec: &mut AccessRecord,
) -> Response {
    let client = peer(st, parts);
    let vault = vault_from_host(st, &host);
    rec.client = client;
    if rec.on || rec.metrics {
        rec.vault.clone_from(&vault);
    }
    // liveness: the process answers
    if matches!(segs, ["healthz"]) {
        rec.operation = "healthz";
        return json(StatusCode::OK, &serde_json::json!({ "live": true }));
    }
    // readiness: unsealed and the storage answers (the health answer)
    if matches!(segs, ["_strongbox", "health"] | ["readyz"]) {
        rec.operation = "health";
        return health(st).await;
    }

    // 1. sealed: nothing can be checked or served
    if st.core.is_sealed().await {
        return error_response(&Error::new(ErrorKind::Sealed, "The vault service is sealed."), request_id);
    }
    // 2. authentication, before anything else about the request is looked at
    let caller = match bearer(&parts.headers) {
        None => return challenge(st, "AKV10000: Request is missing a Bearer or PoP token."),
        Some(token) => match st.core.identity.authenticate(token).await {
            Ok(p) => p,
            Err(f) if f.is_unchecked() => {
                return error_response(
                    &Error::new(ErrorKind::Unavailable, "The caller could not be checked at the moment; retry later."),
                    request_id,
                );
            }
            Err(f) => return challenge(st, f.0),
        },
    };
    if rec.on {
        rec.caller.clone_from(&caller.object_id);
    }
    // 3. the operation (404, 405)
    let Resolved { operation, params } = match resolved {
        Ok(r) => r,
        Err(e) => return error_response(&e, request_id),
    };
    rec.operation = operation.handler.name;
    let ctx = RequestContext {
        app: st,
        caller,
        request_id,
        client,
        method: parts.method.clone(),
        vault,
        host,
        query,
        path: params,
    };
    match serve(&ctx, operation, body, cap).await {
        Ok(r) => r,
        Err(e) => error_response(&e, request_id),
    }
}

/// After authentication and the operation: authorization, the api-version, the body, no secrets
/// or certificates on a Managed HSM pool, then the handler.
async fn serve(
    ctx: &RequestContext<'_>,
    op: &'static Operation,
    body: &mut Option<Body>,
    cap: usize,
) -> Result<Response, Error> {
    if op.authorization == Authorization::Rbac {
        let vault = ctx.vault.as_str();
        let policy = op.access_policy.map(|(area, permission)| PolicyCheck { vault, area, permission });
        let scope = op.scope.resolve(vault, &ctx.path);
        ctx.app.core.access.authorize_request(&ctx.caller, op.action, &scope, policy).await?;
    }
    strongbox_wire::check_api_version(ctx.query("api-version"))?;
    let body = match body.take() {
        Some(b) if op.body.is_read(&ctx.method) => Some(read_body(b, cap, ctx.app.cfg.body_timeout).await?),
        other => {
            *body = other;
            None
        }
    };
    if let Some(collection) = op.absent_on_managed_hsm {
        crate::secrets::not_on_managed_hsm(ctx, collection).await?;
    }
    (op.handler.call)(ctx, body).await
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn too_large(cap: usize) -> Error {
    Error::new(
        ErrorKind::PayloadTooLarge,
        format!("The request body is larger than {cap} bytes, the most this operation accepts."),
    )
}

fn body_timed_out(t: std::time::Duration) -> Error {
    Error::bad(format!("The request body was not received within {} seconds.", t.as_secs()))
}

/// Reads a body of at most `cap` bytes (reading stops as soon as it is over).
async fn read_body(body: Body, cap: usize, timeout: std::time::Duration) -> Result<Bytes, Error> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, cap)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(too_large(cap)),
        Err(_) => Err(body_timed_out(timeout)),
    }
}

/// Reads up to `limit` bytes of a body (for a handler that applies its own limit).
async fn prefetch(mut body: Body, limit: usize, timeout: std::time::Duration) -> Result<Bytes, Error> {
    let read = async {
        let mut buf = Vec::new();
        while buf.len() < limit {
            match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(f)) => {
                    if let Some(d) = f.data_ref() {
                        let room = limit - buf.len();
                        let d: &[u8] = d;
                        buf.extend_from_slice(d.get(..room).unwrap_or(d));
                    }
                }
                Some(Err(_)) => return Err(Error::bad("The request body could not be read.")),
                None => break,
            }
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| body_timed_out(timeout))?
}

/// Reads and discards what is left of a body, up to `cap` bytes and `timeout`.
async fn drain(mut body: Body, cap: usize, timeout: std::time::Duration) {
    let discard = async {
        let mut seen = 0usize;
        while seen <= cap {
            match std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(f)) => seen = seen.saturating_add(f.data_ref().map_or(0, |d| d.len())),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(timeout, discard).await;
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() { Some(token.trim()) } else { None }
}

/// 401 with the Key Vault challenge (wire §2.2; quoted values, `", "` separators).
fn challenge(st: &AppState, message: &str) -> Response {
    let cfg = st.core.config();
    let value = format!(
        "Bearer authorization=\"{}/{}\", resource=\"{}\"",
        cfg.authority(),
        st.core.tenant_id(),
        cfg.resource()
    );
    let mut r = json(StatusCode::UNAUTHORIZED, &ErrorBody::new("Unauthorized", message, None));
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

pub(crate) fn error_response(e: &Error, request_id: &str) -> Response {
    let (status, code, inner) = status_and_code(e.kind);
    if e.kind == ErrorKind::Internal {
        tracing::error!(%request_id, detail = %e.message, "internal error");
    }
    let mut resp = json(status, &ErrorBody::new(code, public_message(e, request_id), inner));
    if e.kind == ErrorKind::Unavailable {
        resp.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER));
    }
    resp
}

/// `Retry-After` (seconds) of a 503 for unavailable storage: a restarting database is usually
/// back within seconds, and the Azure SDKs wait this long before their next try.
const UNAVAILABLE_RETRY_AFTER: &str = "2";

/// `host[:port]` from the Host header (HTTP/1.1) or the URI authority (HTTP/2). Anything that
/// is not a plausible host is replaced, since it is echoed into returned ids.
fn request_host(headers: &HeaderMap, uri: &Uri) -> String {
    let h = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    if !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)) {
        h
    } else {
        "localhost".into()
    }
}

/// `{vault}.{dns_suffix}` → vault; any other host is the bare server host → the default vault.
fn vault_from_host(st: &AppState, host: &str) -> String {
    let name = strip_port(host).to_ascii_lowercase();
    let suffix = format!(".{}", st.core.config().dns_suffix.to_ascii_lowercase());
    match name.strip_suffix(&suffix) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => st.cfg.default_vault.clone(),
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split(']').next().map(|h| h.trim_start_matches('[')).unwrap_or(host);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The client's address: the socket peer, or — when the peer is a trusted proxy — the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left
/// were written by the client and prove nothing). Unparsable entries end the walk at the
/// proxy.
pub(crate) fn client_address(socket: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |a: &IpAddr| trusted.iter().any(|t| t == a || t.to_canonical() == a.to_canonical());
    if !is_trusted(&socket) {
        return socket;
    }
    let mut client = socket;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match forwarded_ip(hop) {
            Some(a) => {
                client = a;
                if !is_trusted(&a) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: a bare address, `ip:port` or `[v6]` / `[v6]:port` (as some
/// proxies write them).
fn forwarded_ip(hop: &str) -> Option<IpAddr> {
    if let Ok(a) = hop.parse::<IpAddr>() {
        return Some(a);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']')?;
        if !(tail.is_empty() || tail.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        return addr.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (addr, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_are_decoded() {
        let q = parse_query("api%2Dversion=7.4&%24skiptoken=abc&maxresults=3&x=a+b%20c&bad=%zz&tail=%4");
        assert_eq!(q["api-version"], "7.4");
        assert_eq!(q["$skiptoken"], "abc");
        assert_eq!(q["x"], "a b c");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(q["tail"], "%4");
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("a.vault.localhost:8443"), "a.vault.localhost");
        assert_eq!(strip_port("[::1]:8443"), "::1");
        assert_eq!(strip_port("localhost"), "localhost");
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"));
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // from a proxy: the right-most entry that is not a proxy (the left part is the client's word)
        assert_eq!(client_address(ip("10.0.0.1"), &h, &proxies), ip("203.0.113.7"));
        // from anyone else, or with no trusted proxies: the socket peer
        assert_eq!(client_address(ip("192.0.2.9"), &h, &proxies), ip("192.0.2.9"));
        assert_eq!(client_address(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
        // garbage ends the walk; no header: the proxy itself
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7, junk"));
        assert_eq!(client_address(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.1"));
        assert_eq!(client_address(ip("10.0.0.1"), &HeaderMap::new(), &proxies), ip("10.0.0.1"));
        // entries with ports count as their address
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7:5678, 10.0.0.2:443"));
        assert_eq!(client_address(ip("10.0.0.1"), &h, &proxies), ip("203.0.113.7"));
        h.insert("x-forwarded-for", HeaderValue::from_static("[2001:db8::7]:80"));
        assert_eq!(client_address(ip("10.0.0.1"), &h, &proxies), ip("2001:db8::7"));
    }

    #[test]
    fn forwarded_entries_with_ports_parse() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert_eq!(forwarded_ip("1.2.3.4"), ip("1.2.3.4"));
        assert_eq!(forwarded_ip("1.2.3.4:5678"), ip("1.2.3.4"));
        assert_eq!(forwarded_ip("[::1]:80"), ip("::1"));
        assert_eq!(forwarded_ip("[::1]"), ip("::1"));
        assert_eq!(forwarded_ip("2001:db8::1"), ip("2001:db8::1"));
        for bad in ["1.2.3.4:", "1.2.3.4:99999", "[::1]:x", "[::1", "[1.2.3.4]:80", "::1]:80", "junk", "host:80", ""] {
            assert_eq!(forwarded_ip(bad), None, "{bad}");
        }
    }
}
