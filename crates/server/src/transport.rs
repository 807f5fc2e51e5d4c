//! HTTPS serving: our own accept loop on tokio-rustls and hyper-util's HTTP/1.1 + HTTP/2
//! connection builder, so that every connection is bounded in time and number:
//!
//! - at most `max_connections` at once (the accept loop waits for a free slot, the kernel backlog
//!   holds the rest);
//! - the TLS handshake must finish within `handshake_timeout`;
//! - the first request head must arrive within `header_timeout` of the handshake (silent
//!   connections, partial heads, HTTP/2 without its preface), and on HTTP/1.1 every later head
//!   within `header_timeout` of its first byte;
//! - a connection with no request in flight (a request is in flight until its response body has
//!   ended) is closed after `idle_timeout`, gracefully (GOAWAY on HTTP/2, close_notify on
//!   HTTP/1.1) within a short hard deadline; silent connections and stuck heads are cut off;
//! - HTTP/2 stream handlers run in a tracked set, aborted and awaited at shutdown;
//! - HTTP/2: bounded concurrent streams and header list size (and hyper's reset-flood limits);
//!   heads over `max_header_bytes` get an Azure-shaped 431 from us up to twice that (the
//!   advertised `SETTINGS_MAX_HEADER_LIST_SIZE`), beyond which h2 answers a bare 431 itself.
//!
//! hyper answers HTTP/1.1 heads it cannot parse (too large, overlong URI, malformed) itself with
//! an empty body; [`Guarded`] rewrites those answers into Azure's error shape on the way out.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

/// Limits of the HTTPS listener (see the module documentation).
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub handshake_timeout: Duration,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// How long a request body may take to arrive (enforced by the HTTP layer).
    pub body_timeout: Duration,
    /// Connections served at once (over all listeners).
    pub max_connections: usize,
    pub h2_max_concurrent_streams: u32,
    /// Largest request head: HTTP/1.1 read buffer and HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`.
    pub max_header_bytes: usize,
}

/// Default connection cap: 10,000, or fewer when the open-file limit is lower (keeping room
/// for the database, the HSM and outgoing connections).
pub fn default_max_connections() -> usize {
    const CAP: usize = 10_000;
    const RESERVED: usize = 128;
    match open_file_limit() {
        Some(n) => CAP.min(n.saturating_sub(RESERVED)).max(16),
        None => CAP,
    }
}

/// The soft `RLIMIT_NOFILE` from `/proc/self/limits` (Linux), if readable.
pub fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            h2_max_concurrent_streams: 64,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// What the idle watcher of one connection knows.
struct ConnState {
    established: Instant,
    requests: u64,
    in_flight: usize,
    last_done: Instant,
    /// First byte read while no request was in flight (a request head being received).
    head_started: Option<Instant>,
    http1: bool,
}

impl ConnState {
    /// When the connection is to be closed, `None` while a request is being served.
    fn deadline(&self, cfg: &TransportConfig) -> Option<Instant> {
        if self.in_flight > 0 {
            return None;
        }
        if self.requests == 0 {
            return Some(self.established + cfg.header_timeout);
        }
        let idle = self.last_done + cfg.idle_timeout;
        match self.head_started {
            Some(t) if self.http1 => Some(idle.min(t + cfg.header_timeout)),
            _ => Some(idle),
        }
    }
}

type Shared = Arc<Mutex<ConnState>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, ConnState> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Resolves when the connection has been idle (or silent, or stuck in a request head) too long.
async fn watch_idle(state: Shared, cfg: Arc<TransportConfig>) {
    loop {
        let deadline = lock(&state).deadline(&cfg);
        match deadline {
            Some(d) if Instant::now() >= d => return,
            Some(d) => tokio::time::sleep_until(d).await,
            None => tokio::time::sleep(cfg.header_timeout.min(cfg.idle_timeout)).await,
        }
    }
}

/// Resolves once shutdown is asked for (never when the sender is merely dropped: a dropped
/// [`crate::Running`] leaves the server serving, as before).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|v| *v).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Where hyper spawns the futures of HTTP/2 streams (each request's handler): a set aborted
/// and awaited at shutdown, so that no handler outlives [`serve`].
#[derive(Clone, Default)]
struct Tasks(Arc<Mutex<JoinSet<()>>>);

impl Tasks {
    fn set(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Aborts every task and waits until all have ended.
    async fn shutdown(&self) {
        let mut set = std::mem::take(&mut *self.set());
        set.shutdown().await;
    }
}

impl<F> hyper::rt::Executor<F> for Tasks
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let mut set = self.set();
        // reap finished streams so the set does not grow
        while set.try_join_next().is_some() {}
        set.spawn(async move {
            let _ = fut.await;
        });
    }
}

/// Serves one listener until `shutdown` becomes true; then closes its connections and returns.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    cfg: Arc<TransportConfig>,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let mut conns = JoinSet::new();
    let streams = Tasks::default();
    loop {
        // reap finished connection tasks so the set does not grow
        while conns.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = stopped(&mut shutdown) => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let cfg = cfg.clone();
        let mut stop = shutdown.clone();
        let streams = streams.clone();
        conns.spawn(async move {
            let _permit = permit;
            tokio::select! {
                _ = serve_connection(tcp, peer, acceptor, app, cfg, streams) => {}
                _ = stopped(&mut stop) => {}
            }
        });
    }
    conns.shutdown().await;
    streams.shutdown().await;
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    cfg: Arc<TransportConfig>,
    streams: Tasks,
) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(cfg.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let now = Instant::now();
    let state: Shared = Arc::new(Mutex::new(ConnState {
        established: now,
        requests: 0,
        in_flight: 0,
        last_done: now,
        head_started: None,
        http1: true,
    }));
    let io = TokioIo::new(Guarded::new(tls, state.clone()));
    let svc_state = state.clone();
    let header_limit = cfg.max_header_bytes;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut router = app.clone();
        let state = svc_state.clone();
        let limit = header_limit;
        async move {
            {
                let mut s = lock(&state);
                s.requests += 1;
                s.in_flight += 1;
                s.head_started = None;
                s.http1 = req.version() < hyper::Version::HTTP_2;
            }
            // ends the request when the response body has been written (or dropped), and also
            // when this future is dropped before answering
            let done = InFlight(state);
            // HTTP/2 heads between our limit and the (larger) advertised one: answered here, in
            // Azure's shape (h2 itself would answer a bare 431)
            if req.version() >= hyper::Version::HTTP_2 && header_list_size(&req) > limit {
                return Ok(track(parse_error_response(431), done));
            }
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            router.call(req).await.map(|r| track(r, done))
        }
    });

    let mut builder = auto::Builder::new(streams);
    builder
        .http1()
        .timer(TokioTimer::new())
        // our idle watcher enforces the head deadline (hyper's would also cut idle keep-alive)
        .header_read_timeout(None)
        .max_buf_size(cfg.max_header_bytes.max(8192))
        .writev(false);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(cfg.h2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(cfg.max_header_bytes.saturating_mul(2)).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(Some(20))
        .max_local_error_reset_streams(Some(256));
    let mut conn = std::pin::pin!(builder.serve_connection(io, service));
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        _ = watch_idle(state.clone(), cfg) => {}
    }
    // a silent connection or a head stuck half-way: cut off; an idle one after requests: closed
    // gracefully (GOAWAY on HTTP/2, close_notify on HTTP/1.1), within a short hard deadline
    let graceful = {
        let s = lock(&state);
        s.requests > 0 && (!s.http1 || s.head_started.is_none())
    };
    if !graceful {
        tracing::debug!(%peer, "connection closed: header timeout");
        return;
    }
    tracing::debug!(%peer, "connection closing: idle timeout");
    conn.as_mut().graceful_shutdown();
    if tokio::time::timeout(GRACEFUL_CLOSE, conn.as_mut()).await.is_err() {
        tracing::debug!(%peer, "connection closed: graceful close took too long");
    }
}

/// How long an idle connection being closed gracefully may take to finish.
const GRACEFUL_CLOSE: Duration = Duration::from_secs(2);

/// The HTTP/2 size of a request head (RFC 9113 §6.5.2: name + value + 32 per field, pseudo-
/// headers included).
fn header_list_size<B>(req: &hyper::Request<B>) -> usize {
    let fields: usize = req.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 32).sum();
    let uri = req.uri();
    let pseudo = req.method().as_str().len()
        + uri.scheme_str().map_or(0, str::len)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len())
        + 4 * 32;
    fields + pseudo
}

/// `code` and `message` of the transport's own error answers.
fn parse_error_text(status: u16) -> Option<(&'static str, &'static str)> {
    match status {
        400 => Some(("BadRequest", "The request could not be parsed as HTTP.")),
        414 => Some(("RequestUriTooLong", "The request URI is too long.")),
        431 => Some(("RequestHeaderFieldsTooLarge", "The request headers are too large.")),
        _ => None,
    }
}

fn parse_error_json(code: &str, message: &str) -> String {
    serde_json::json!({ "error": { "code": code, "message": message } }).to_string()
}

/// An Azure-shaped transport error answer (HTTP/2 path).
fn parse_error_response(status: u16) -> axum::response::Response {
    let (code, message) = parse_error_text(status).unwrap_or(("BadRequest", "The request could not be parsed."));
    let mut r = axum::response::Response::new(axum::body::Body::from(parse_error_json(code, message)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// Marks the end of a request when dropped: with the response body (see [`Tracked`]), or with
/// the service future if that is dropped before answering.
struct InFlight(Shared);

/// A response body that holds its request's [`InFlight`] mark until the body has ended (or is
/// dropped, e.g. when the connection goes away), so that the idle and header timers start only
/// once the whole answer has gone out.
struct Tracked {
    inner: axum::body::Body,
    done: Option<InFlight>,
}

fn track(r: axum::response::Response, done: InFlight) -> hyper::Response<Tracked> {
    r.map(|inner| Tracked { done: if inner.is_end_stream() { None } else { Some(done) }, inner })
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let r = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if r.is_none() || self.inner.is_end_stream() {
            self.done = None;
        }
        Poll::Ready(r)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = lock(&self.0);
        s.in_flight = s.in_flight.saturating_sub(1);
        s.last_done = Instant::now();
        s.head_started = None;
    }
}

/// The TLS stream as hyper sees it: reads feed the idle watcher; hyper's own empty-bodied
/// HTTP/1.1 error answers (400/414/431, which never carry our `x-ms-request-id`) are rewritten
/// into Azure's error shape.
struct Guarded<T> {
    inner: T,
    state: Shared,
    /// Bytes of a rewritten answer not yet handed to `inner`.
    pending: Vec<u8>,
    pending_at: usize,
}

impl<T> Guarded<T> {
    fn new(inner: T, state: Shared) -> Self {
        Self { inner, state, pending: Vec::new(), pending_at: 0 }
    }
}

impl<T: AsyncWrite + Unpin> Guarded<T> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.pending.get(self.pending_at..).filter(|r| !r.is_empty()) {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending_at += n;
        }
        self.pending.clear();
        self.pending_at = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let mut s = lock(&self.state);
            if s.in_flight == 0 && s.head_started.is_none() {
                s.head_started = Some(Instant::now());
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // only before the service has answered anything on this connection: later writes are
        // its responses (whose bodies may look like anything)
        let untouched = lock(&self.state).requests > 0;
        if let Some(answer) = azure_shaped_parse_error(buf).filter(|_| !untouched) {
            self.pending = answer;
            self.pending_at = 0;
            // the bytes are ours now; flush/shutdown finish writing them
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// If `buf` is one of hyper's own HTTP/1.x error answers (a 400, 414 or 431 head without our
/// `x-ms-request-id` and without a body), the same answer with an Azure-shaped JSON body.
fn azure_shaped_parse_error(buf: &[u8]) -> Option<Vec<u8>> {
    if !buf.starts_with(b"HTTP/1.") {
        return None;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None; // a body follows: not hyper's empty answer
    }
    let head = std::str::from_utf8(buf.get(..end)?).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let (code, message) = parse_error_text(status)?;
    let mut date = None;
    for l in lines {
        let lower = l.to_ascii_lowercase();
        if lower.starts_with("x-ms-request-id:") {
            return None; // one of our own answers
        }
        if lower.starts_with("date:") {
            date = Some(l);
        }
    }
    let body = parse_error_json(code, message);
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(d) = date {
        out.push_str(d);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_cap_leaves_room_under_the_open_file_limit() {
        let n = default_max_connections();
        assert!((16..=10_000).contains(&n), "{n}");
        if let Some(limit) = open_file_limit().filter(|l| *l > 144) {
            assert!(n <= limit - 128, "{n} with an open-file limit of {limit}");
        }
    }

    /// A body of `n` 1 KiB frames.
    struct Chunks(usize);

    impl hyper::body::Body for Chunks {
        type Data = axum::body::Bytes;
        type Error = io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
            if self.0 == 0 {
                return Poll::Ready(None);
            }
            self.0 -= 1;
            Poll::Ready(Some(Ok(hyper::body::Frame::data(axum::body::Bytes::from(vec![7u8; 1024])))))
        }
    }

    fn test_state() -> Shared {
        let now = Instant::now();
        Arc::new(Mutex::new(ConnState {
            established: now,
            requests: 1,
            in_flight: 1,
            last_done: now,
            head_started: None,
            http1: true,
        }))
    }

    #[tokio::test]
    async fn a_request_stays_in_flight_until_its_response_body_has_ended() {
        let cfg = TransportConfig::default();
        let state = test_state();
        let body = axum::body::Body::new(Chunks(3));
        let r = track(axum::response::Response::new(body), InFlight(state.clone()));
        // the handler has answered, the body has not gone out: no idle deadline yet
        assert_eq!(lock(&state).in_flight, 1);
        assert!(lock(&state).deadline(&cfg).is_none());
        let mut body = r.into_body();
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(first.is_some());
        assert_eq!(lock(&state).in_flight, 1, "still sending");
        while std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await.is_some() {}
        assert_eq!(lock(&state).in_flight, 0);
        assert!(lock(&state).deadline(&cfg).is_some());

        // a body dropped half-way (connection gone) also ends the request
        let state = test_state();
        let body = axum::body::Body::new(Chunks(3));
        let r = track(axum::response::Response::new(body), InFlight(state.clone()));
        assert_eq!(lock(&state).in_flight, 1);
        drop(r);
        assert_eq!(lock(&state).in_flight, 0);
    }

    #[tokio::test]
    async fn stream_tasks_are_aborted_and_awaited_at_shutdown() {
        use hyper::rt::Executor;
        struct Alive(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Alive {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let alive = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks = Tasks::default();
        for _ in 0..3 {
            alive.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let guard = Alive(alive.clone());
            tasks.execute(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
        }
        tokio::task::yield_now().await;
        assert_eq!(alive.load(std::sync::atomic::Ordering::SeqCst), 3);
        tasks.shutdown().await;
        assert_eq!(alive.load(std::sync::atomic::Ordering::SeqCst), 0, "a stream task outlived the shutdown");
    }

    #[tokio::test]
    async fn only_writes_before_the_first_request_are_rewritten() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        for requests in [0, 1] {
            let state = test_state();
            lock(&state).requests = requests;
            let (a, mut b) = tokio::io::duplex(1 << 16);
            let mut g = Guarded::new(a, state);
            g.write_all(head).await.unwrap_or_default();
            g.shutdown().await.unwrap_or_default();
            drop(g);
            let mut out = Vec::new();
            b.read_to_end(&mut out).await.unwrap_or_default();
            if requests == 0 {
                assert!(out.ends_with(b"}"), "hyper's answer gets a body: {out:?}");
            } else {
                assert_eq!(out, head, "a response of the service passes unchanged");
            }
        }
    }

    #[test]
    fn hyper_error_heads_get_an_azure_body() {
        let out = azure_shaped_parse_error(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
        )
        .unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(v["error"]["code"], "RequestHeaderFieldsTooLarge");
        // our own answers and answers with bodies pass unchanged
        assert!(azure_shaped_parse_error(b"HTTP/1.1 400 Bad Request\r\nx-ms-request-id: 1\r\n\r\n").is_none());
        assert!(azure_shaped_parse_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").is_none());
        assert!(azure_shaped_parse_error(b"HTTP/1.1 404 Not Found\r\n\r\n").is_none());
    }
}
