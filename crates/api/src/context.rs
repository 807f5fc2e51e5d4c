//! What a handler sees and uses: the [`RequestContext`] of the request it serves, the
//! [`Handler`] type the operation table holds, the path's parameters, and the reply helpers
//! (JSON responses, pages, the request body as JSON, query decoding).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use strongbox_identity::Principal;
use strongbox_types::Error;

use crate::AppState;

/// Everything a handler knows about the request it serves. The dispatcher builds one per
/// request, once the caller is authenticated and the operation found, and hands it to the
/// operation's handler.
pub struct RequestContext<'a> {
    pub app: &'a AppState,
    /// Who is calling.
    pub caller: Principal,
    /// The `x-ms-request-id` of the answer.
    pub request_id: &'a str,
    /// The client's address (the socket peer, or the client a trusted proxy names); `None` when the server gave no peer
    /// address (in-process router tests).
    pub client: Option<IpAddr>,
    pub method: Method,
    /// `host[:port]` exactly as the client addressed us: returned ids must use it.
    pub host: String,
    /// The vault the request is addressed to (from the host).
    pub vault: String,
    pub(crate) query: HashMap<String, String>,
    pub(crate) path: PathParams,
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
pub(crate) type Reply<'a> = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'a>>;

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
        $crate::context::Handler { name: stringify!($f), call: |ctx, body| Box::pin($f(ctx, body)) }
    };
}
pub(crate) use run;

/// The parameters a path gave its operation, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathParams {
    pub(crate) values: Vec<(&'static str, String)>,
    /// Another row takes this path with another method (the directory fallback answers 405
    /// then, 404 otherwise).
    pub other_methods: bool,
}

impl PathParams {
    /// The value of the route's `{name}`: the raw path segment (for `{scope}`, the path before
    /// `/providers/Microsoft.Authorization`), if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// `maxresults` and `$skiptoken` of a list request.
pub(crate) fn paging(ctx: &RequestContext<'_>) -> Result<(Option<String>, usize), Error> {
    let max = strongbox_wire::parse_maxresults(ctx.query("maxresults"))?;
    let resume = ctx.query("$skiptoken").filter(|t| !t.is_empty()).map(strongbox_wire::decode_skiptoken).transpose()?;
    Ok((resume, max))
}

/// A `{value, nextLink}` page; `nextLink` is absolute, on the host the client used.
pub(crate) fn page<T: Serialize>(
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

/// Object attributes (of strongbox-core) in their wire form.
pub(crate) fn wire_attributes(a: &strongbox_core::Attributes, exportable: Option<bool>) -> strongbox_wire::Attributes {
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
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: Option<Bytes>) -> Result<T, Error> {
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

pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
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

pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// Query parameters with percent-decoded names and values (`+` is a space).
pub(crate) fn parse_query(q: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.entry(percent_decode(k)).or_insert_with(|| percent_decode(v));
    }
    m
}

pub(crate) fn percent_decode(s: &str) -> String {
    let mut rest = s.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    while let Some((&c, tail)) = rest.split_first() {
        rest = tail;
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let escape = tail.split_first_chunk::<2>().and_then(|(h, after)| {
                    let v = std::str::from_utf8(h).ok().and_then(|h| u8::from_str_radix(h, 16).ok())?;
                    Some((v, after))
                });
                match escape {
                    Some((v, after)) => {
                        out.push(v);
                        rest = after;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
