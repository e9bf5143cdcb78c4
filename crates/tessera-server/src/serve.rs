//! Serving thread-per-core. Each core runs a single-threaded runtime; one acceptor hands new
//! connections to them in turn, so they stay evenly loaded. A request is then parsed, handled
//! and answered on one thread: on a 2-core machine this saves the futex wake-ups and
//! reschedule interrupts a work-stealing runtime spends per request (about a fifth of a token
//! request's cost in `bench/`), and it balances better than `SO_REUSEPORT`, whose hash can put
//! most connections on one core.

use std::net::SocketAddr;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use axum::Router;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The peer of a connection, as `ConnectInfo<PeerAddr>` in request extensions.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Connections handed to one serving thread.
struct Handed {
    rx: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for Handed {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some((stream, peer)) = self.rx.recv().await else {
                // The acceptor has stopped: wait for the graceful shutdown to end this thread.
                return std::future::pending().await;
            };
            if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                return (stream, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, Handed>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, Handed>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// Serves `app` on `listener` with `threads` serving threads until `stop` is cancelled. The
/// acceptor runs on the caller's runtime; call from within one.
pub fn serve_per_core(
    listener: tokio::net::TcpListener,
    app: Router,
    threads: usize,
    stop: CancellationToken,
) -> std::io::Result<Vec<std::thread::JoinHandle<std::io::Result<()>>>> {
    let local = listener.local_addr()?;
    let mut senders = Vec::with_capacity(threads);
    let mut handles = Vec::with_capacity(threads);
    for n in 0..threads.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        let app = app.clone();
        let stop = stop.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("tessera-http-{n}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async move {
                        axum::serve(
                            Handed { rx, local },
                            app.into_make_service_with_connect_info::<PeerAddr>(),
                        )
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await
                    })
                })?,
        );
    }
    tokio::spawn(async move {
        let mut next = 0;
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.cancelled() => break,
            };
            match accepted.and_then(|(stream, peer)| stream.into_std().map(|s| (s, peer))) {
                Ok(connection) => {
                    let _ = senders[next].send(connection);
                    next = (next + 1) % senders.len();
                }
                // Out of file descriptors and the like: back off briefly instead of spinning.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(handles)
}
