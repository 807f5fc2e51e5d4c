//! The dispatcher and its plumbing: path and query normalisation, host → vault, authentication,
//! the request context, body limits, responses.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde::Serialize;
use strongbox_core::AccessPolicyCheck as PolicyCheck;
use strongbox_identity::Principal;
use strongbox_types::{Error, ErrorKind};
use strongbox_wire::ErrorBody;

use crate::errors::{public_message, status_and_code};
use crate::operations::{Authorization, Operation};
use crate::routing::{PathParams, Resolved};
use crate::{AppState, authority, routing};

/// Largest body accepted anywhere: a restore's backup blob (up to 500 versions of 25 KiB
/// secrets, encrypted and base64url-encoded).
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// Certificate import and merge: a PFX or PEM with its chain, base64-encoded.
pub const CERTIFICATE_BODY: usize = 1024 * 1024;
/// Every other JSON body: a 25 KiB secret value JSON-escaped at worst six times over with its
/// tags, a JWK, an attestation token, a role or directory document.
pub const JSON_BODY: usize = 256 * 1024;
/// Requests that carry no body: whatever arrives is read and ignored up to this much.
pub const NO_BODY: usize = 64 * 1024;
const SERVICE_VERSION: &str = concat!("strongbox/", env!("CARGO_PKG_VERSION"));

/// Everything a handler knows about the request it serves. The dispatcher builds one per
/// request, once the caller is authenticated and the operation found, and hands it to the
/// operation's handler.
pub struct RequestContext<'a> {
    pub app: &'a AppState,
    /// Who is calling.
    pub caller: Principal,
    /// The `x-ms-request-id` of the answer.
    pub request_id: &'a str,
    /// The client's address (see [`client_address`]); `None` when the server gave no peer
    /// address (in-process router tests).
    pub client: Option<IpAddr>,
    pub method: Method,
    /// `host[:port]` exactly as the client addressed us: returned ids must use it.
    pub host: String,
    /// The vault the request is addressed to (from the host).
    pub vault: String,
    /// The row of the operation table being served.
    pub operation: &'static Operation,
    query: HashMap<String, String>,
    path: PathParams,
}

impl RequestContext<'_> {
    /// A query parameter (name and value percent-decoded).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// The request's api-version (checked before any handler runs), the latest when absent.
    pub fn api_version(&self) -> &str {
        self.query("api-version").unwrap_or(strongbox_wire::LATEST_API_VERSION)
    }

    /// The route's `{name}` (see [`PathParams::get`]); an internal error if the route has none.
    pub fn param(&self, name: &str) -> Result<&str, Error> {
        self.path.get(name).ok_or_else(|| Error::internal(format!("the route has no '{name}' parameter")))
    }

    /// The raw path segment of an optional part's `{name}`, if the path has it.
    pub fn optional_param(&self, name: &str) -> Option<&str> {
        self.path.get(name)
    }

    /// Whether another operation takes this path with another method.
    pub fn path_has_other_methods(&self) -> bool {
        self.path.other_methods
    }

    pub fn base(&self) -> String {
        format!("https://{}", self.host)
    }
}

/// What a handler's future resolves to.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'a>>;

/// An operation's handler: an `async fn(&RequestContext<'_>, Option<Bytes>) -> Result<Response>`
/// (the body is `Some` for operations that read one), made callable from the table by [`run!`].
#[derive(Clone, Copy)]
pub struct Handler {
    /// `module::function`.
    pub name: &'static str,
    pub call: for<'a> fn(&'a RequestContext<'a>, Option<Bytes>) -> Reply<'a>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// `run!(secrets::get)`: the [`Handler`] of an async handler function.
macro_rules! run {
    ($f:path) => {
        $crate::http::Handler { name: stringify!($f), call: |ctx, body| Box::pin($f(ctx, body)) }
    };
}
pub(crate) use run;

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

pub async fn handle(st: &AppState, req: Request) -> Response {
    let request_id = next_request_id();
    let client_request_id = req.headers().get("x-ms-client-request-id").cloned();
    let method = req.method().clone();
    let mut resp = route_request(st, req, &request_id).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-ms-request-id", v);
    }
    h.insert("x-ms-keyvault-service-version", HeaderValue::from_static(SERVICE_VERSION));
    if let Some(c) = client_request_id {
        h.insert("x-ms-client-request-id", c);
    }
    tracing::debug!(%method, status = resp.status().as_u16(), %request_id, "request");
    resp
}

/// The client's address: the socket peer (set by the server's
/// `into_make_service_with_connect_info`), or the forwarded one behind a trusted proxy.
fn peer(st: &AppState, parts: &axum::http::request::Parts) -> Option<IpAddr> {
    let socket = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    socket.map(|s| client_address(s, &parts.headers, &st.cfg.trusted_proxies))
}

async fn route_request(st: &AppState, req: Request, request_id: &str) -> Response {
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
    let resp = route_inner(st, &parts, &segs, resolved, query, host, &mut body, cap, request_id).await;
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
) -> Response {
    if segs.len() == 2 && segs[0] == "_strongbox" && segs[1] == "health" {
        let sealed = st.core.is_sealed().await;
        let status = if sealed { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
        return json(status, &serde_json::json!({ "sealed": sealed }));
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
            Err(f) => return challenge(st, f.0),
        },
    };
    // 3. the operation (404, 405)
    let Resolved { operation, params } = match resolved {
        Ok(r) => r,
        Err(e) => return error_response(&e, request_id),
    };
    let ctx = RequestContext {
        app: st,
        caller,
        request_id,
        client: peer(st, parts),
        method: parts.method.clone(),
        vault: vault_from_host(st, &host),
        host,
        operation,
        query,
        path: params,
    };
    match serve(&ctx, body, cap).await {
        Ok(r) => r,
        Err(e) => error_response(&e, request_id),
    }
}

/// After authentication and the operation: authorization, the api-version, the body, no secrets
/// or certificates on a Managed HSM pool, then the handler.
async fn serve(ctx: &RequestContext<'_>, body: &mut Option<Body>, cap: usize) -> Result<Response, Error> {
    let op = ctx.operation;
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

impl crate::operations::Body {
    /// The most a request of this kind may carry.
    pub fn limit(self, method: &Method) -> usize {
        use crate::operations::Body::*;
        match self {
            Backup => MAX_BODY,
            Certificate => CERTIFICATE_BODY,
            Json => JSON_BODY,
            JsonUnlessGetOrDelete if self.is_read(method) => JSON_BODY,
            JsonUnlessGetOrDelete | None => NO_BODY,
        }
    }

    /// Whether the body is read and handed to the handler (otherwise it is drained unread).
    pub fn is_read(self, method: &Method) -> bool {
        use crate::operations::Body::*;
        match self {
            None => false,
            Json | Certificate | Backup => true,
            JsonUnlessGetOrDelete => *method != Method::GET && *method != Method::DELETE,
        }
    }
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
                        buf.extend_from_slice(&d[..d.len().min(room)]);
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

/// `maxresults` and `$skiptoken` of a list request.
pub fn paging(ctx: &RequestContext<'_>) -> Result<(Option<String>, usize), Error> {
    let max = strongbox_wire::parse_maxresults(ctx.query("maxresults"))?;
    let resume = ctx.query("$skiptoken").filter(|t| !t.is_empty()).map(strongbox_wire::decode_skiptoken).transpose()?;
    Ok((resume, max))
}

/// A `{value, nextLink}` page; `nextLink` is absolute, on the host the client used.
pub fn page<T: Serialize>(
    ctx: &RequestContext<'_>,
    path: &str,
    value: Vec<T>,
    next: Option<String>,
    max: usize,
) -> Response {
    let api = ctx.api_version();
    let next_link = next.map(|n| {
        format!(
            "{}/{path}?api-version={api}&$skiptoken={}&maxresults={max}",
            ctx.base(),
            strongbox_wire::encode_skiptoken(&n)
        )
    });
    json(StatusCode::OK, &strongbox_wire::Page { value, next_link })
}

/// Core attributes in their wire form.
pub fn wire_attributes(a: &strongbox_core::Attributes, exportable: Option<bool>) -> strongbox_wire::Attributes {
    strongbox_wire::Attributes {
        enabled: Some(a.enabled),
        nbf: a.nbf,
        exp: a.exp,
        created: Some(a.created),
        updated: Some(a.updated),
        recoverable_days: Some(a.recoverable_days),
        recovery_level: Some(a.recovery_level.to_owned()),
        exportable,
    }
}

/// Reads and parses a JSON body. Parser messages are reduced to position and category so
/// that no fragment of a (possibly secret) value is echoed back.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: Option<Bytes>) -> Result<T, Error> {
    let body = body.unwrap_or_default();
    if body.is_empty() {
        return Err(Error::bad("The request body is required."));
    }
    serde_json::from_slice(&body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "a member has the wrong type or value",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "it is not valid JSON",
            serde_json::error::Category::Io => "it could not be read",
        };
        Error::bad(format!("The request body is invalid: {what} (line {}, column {}).", e.line(), e.column()))
    })
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

pub fn error_response(e: &Error, request_id: &str) -> Response {
    let (status, code, inner) = status_and_code(e.kind);
    if e.kind == ErrorKind::Internal {
        tracing::error!(%request_id, detail = %e.message, "internal error");
    }
    json(status, &ErrorBody::new(code, public_message(e, request_id), inner))
}

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut r = Response::new(Body::from(bytes));
            *r.status_mut() = status;
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
            r
        }
        Err(_) => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

pub fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

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

/// Query parameters with percent-decoded names and values (`+` is a space).
pub fn parse_query(q: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.entry(percent_decode(k)).or_insert_with(|| percent_decode(v));
    }
    m
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
