//! Serving connections with limits (SPEC §11): a request head must arrive within a time, a
//! kept-alive connection may sit idle between requests for a (usually shorter) time, a request
//! body must arrive within a time and without long gaps, and the number of open connections is
//! capped below the process's file limit. Connections beyond the cap wait in the kernel's backlog, so the
//! process never runs out of file descriptors and keeps answering as the slow ones time out.
//!
//! axum's own `serve` sets no timer, so hyper's header timeout never fires there: this is the
//! same hyper-util connection builder with a timer and the limits.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{sleep_until, Instant, Sleep};
use tower::ServiceExt;

use crate::tls::Tls;

/// How long a client may take, and how many may be connected at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From connecting, or from the last response on a kept-alive connection, to the end of
    /// the next request's head.
    pub header_timeout: Duration,
    /// From the end of a response to the first byte of the next request on the same
    /// connection; then the connection is closed. Bounded by `header_timeout` too.
    pub keep_alive_idle: Duration,
    /// From the request head to the end of its body.
    pub body_timeout: Duration,
    /// The longest pause between two parts of a request body.
    pub body_idle_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(20),
            keep_alive_idle: Duration::from_secs(10),
            body_timeout: Duration::from_secs(120),
            body_idle_timeout: Duration::from_secs(20),
            max_connections: 10_000,
        }
    }
}

/// Serves `app` on `listener` within `limits` (over TLS when `tls` is given) until
/// `shutdown` completes; open requests then finish before this returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    // Plain http is HTTP/1 only: detecting HTTP/2 first would wait, without a timeout, for a
    // client that connects and sends nothing. Over TLS, ALPN says which one the client speaks.
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2.timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        // At the cap, wait for a slot before accepting: the next clients queue in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let service = connection_service(&app, peer, limits, &activity);
        let Some(tls) = &tls else {
            let io = IdleLimit::new(stream, activity, limits.keep_alive_idle);
            let connection = graceful.watch(http1.serve_connection(TokioIo::new(io), service));
            tokio::spawn(async move {
                let _ = connection.await;
                drop(slot);
            });
            continue;
        };
        let (acceptor, watcher) = (tls.acceptor.clone(), graceful.watcher());
        let (http1, http2) = (http1.clone(), http2.clone());
        tokio::spawn(async move {
            // The handshake is part of the request head's time.
            let Ok(Ok(stream)) =
                tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await
            else {
                drop(slot);
                return;
            };
            let _ = if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                let io = IdleLimit::multiplexed(
                    stream,
                    activity,
                    limits.keep_alive_idle,
                    limits.header_timeout,
                );
                watcher
                    .watch(http2.serve_connection(TokioIo::new(io), service))
                    .await
            } else {
                let io = IdleLimit::new(stream, activity, limits.keep_alive_idle);
                watcher
                    .watch(http1.serve_connection(TokioIo::new(io), service))
                    .await
            };
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The app as one connection serves it: each request carries the peer's address and a body
/// with deadlines, and each response tells the connection's activity when it has been sent.
fn connection_service(
    app: &Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    activity: &Arc<Activity>,
) -> TowerToHyperService<
    impl tower::Service<
            http::Request<Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
> {
    let (started, ended) = (activity.clone(), activity.clone());
    let service = app
        .clone()
        .map_request(move |request: http::Request<Incoming>| {
            started.open.fetch_add(1, Ordering::AcqRel);
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            let body = axum::body::Body::new(BodyDeadline::new(body, limits));
            http::Request::from_parts(parts, body)
        })
        .map_response(move |response: axum::response::Response| {
            let (parts, body) = response.into_parts();
            let body = axum::body::Body::new(ResponseEnd {
                inner: body,
                activity: Some(ended.clone()),
            });
            axum::response::Response::from_parts(parts, body)
        });
    TowerToHyperService::new(service)
}

/// A request body that must end within `body_timeout` of the head, with no pause longer than
/// `body_idle_timeout` between its parts: a client trickling a byte at a time cannot hold a
/// connection. The clocks run while the handler reads the body. A body that is there at once
/// (a token request's few bytes arrive with its head) never sets a timer.
struct BodyDeadline {
    inner: Incoming,
    total_at: Instant,
    idle_at: Instant,
    idle_for: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl BodyDeadline {
    fn new(inner: Incoming, limits: ConnectionLimits) -> Self {
        let now = Instant::now();
        BodyDeadline {
            inner,
            total_at: now + limits.body_timeout,
            idle_at: now + limits.body_idle_timeout,
            idle_for: limits.body_idle_timeout,
            timer: None,
        }
    }
}

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimeout;

impl http_body::Body for BodyDeadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            self.idle_at = Instant::now() + self.idle_for;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = self.total_at.min(self.idle_at);
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// What a connection's requests are doing: how many are open (head read, response not yet
/// sent whole), and how many responses have ended.
#[derive(Default)]
struct Activity {
    open: AtomicUsize,
    ended: AtomicU64,
}

/// A response body that tells the connection when it has been sent (or dropped).
struct ResponseEnd {
    inner: axum::body::Body,
    activity: Option<Arc<Activity>>,
}

impl ResponseEnd {
    fn end(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.open.fetch_sub(1, Ordering::AcqRel);
            activity.ended.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Drop for ResponseEnd {
    fn drop(&mut self) {
        self.end();
    }
}

impl http_body::Body for ResponseEnd {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            self.end();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, closed (a read error) when it has been idle for `idle_for` after a response:
/// no request open and no byte of the next one arrived. Before the first response the header
/// timeout alone applies.
///
/// HTTP/2 multiplexes, and a client's PING and SETTINGS frames are bytes that are not
/// requests: there (`multiplexed`) only a request ends an idle period, and the first one must
/// come within the header timeout — hyper's HTTP/2 server has no header timeout of its own, so
/// without this a client could hold a connection by sending the preface and nothing else.
struct IdleLimit<S> {
    inner: S,
    activity: Arc<Activity>,
    idle_for: Duration,
    /// Responses ended when this last looked; a change starts a new idle period.
    seen: u64,
    /// Whether the current idle period is still waiting for the next request.
    waiting: bool,
    /// HTTP/1: the next request's first byte ends the idle period.
    bytes_end_idle: bool,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> IdleLimit<S> {
    /// For HTTP/1.
    fn new(inner: S, activity: Arc<Activity>, idle_for: Duration) -> Self {
        IdleLimit {
            inner,
            activity,
            idle_for,
            seen: 0,
            waiting: false,
            bytes_end_idle: true,
            timer: None,
        }
    }

    /// For HTTP/2: idle from the start, the first request due within `first_within`.
    fn multiplexed(
        inner: S,
        activity: Arc<Activity>,
        idle_for: Duration,
        first_within: Duration,
    ) -> Self {
        IdleLimit {
            inner,
            activity,
            idle_for,
            seen: 0,
            waiting: true,
            bytes_end_idle: false,
            timer: Some(Box::pin(sleep_until(Instant::now() + first_within))),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleLimit<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let ended = self.activity.ended.load(Ordering::Acquire);
        if ended != self.seen {
            self.seen = ended;
            self.waiting = true;
            let deadline = Instant::now() + self.idle_for;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(sleep_until(deadline))),
            }
        }
        match polled {
            Poll::Ready(Ok(())) if self.bytes_end_idle && buf.filled().len() > before => {
                self.waiting = false;
            }
            Poll::Pending if self.waiting && self.activity.open.load(Ordering::Acquire) == 0 => {
                if let Some(timer) = &mut self.timer {
                    if timer.as_mut().poll(cx).is_ready() {
                        self.waiting = false;
                        return Poll::Ready(Err(std::io::ErrorKind::TimedOut.into()));
                    }
                }
            }
            _ => {}
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleLimit<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
