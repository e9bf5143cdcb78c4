//! The access log (SPEC §13): one `info` line per request on the target `tessera::access` —
//! method, route template, status, microseconds, the integration when one authenticated, the
//! client's address, the request id — for every request (`--access-log all`, the default),
//! only those answered 4xx or 5xx (`errors`) or none (`off`). `TESSERA_LOG` filters it like
//! any other target (`tessera::access=off`).
//!
//! Off the request path: the request formats its line into a shared buffer; a thread hands the
//! buffer to the log writer every 100 ms (or at 64 KiB), which writes it with one system call
//! on a thread of its own. A slow terminal or disk never holds a request up, and the default
//! level costs what the benchmark shows (`bench/RESULTS.md`).
//!
//! A failed client authentication is a `warn` line of its own (`failed_authentication`), with
//! the client id as given (cut to 64 characters), the address and the reason — never the
//! secret or the assertion.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{Extensions, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tessera_core::id::ClientId;
use tracing::Level;

/// Which requests get an access line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessLog {
    /// Every request.
    #[default]
    All,
    /// Those answered 4xx or 5xx.
    Errors,
    /// None.
    Off,
}

impl AccessLog {
    /// `all`, `errors` or `off`.
    pub fn parse(s: &str) -> Option<AccessLog> {
        match s {
            "all" => Some(AccessLog::All),
            "errors" => Some(AccessLog::Errors),
            "off" => Some(AccessLog::Off),
            _ => None,
        }
    }

    /// As the flag writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLog::All => "all",
            AccessLog::Errors => "errors",
            AccessLog::Off => "off",
        }
    }

    fn wants(self, status: u16) -> bool {
        match self {
            AccessLog::All => true,
            AccessLog::Errors => status >= 400,
            AccessLog::Off => false,
        }
    }
}

/// What the request's handling learns that its access line tells: the route it matched and
/// the integration that authenticated. Put on the request by the observability layer, filled
/// in by routing and by the extractors that authenticate.
#[derive(Clone, Default)]
pub struct RequestNotes(Arc<Notes>);

#[derive(Default)]
struct Notes {
    route: OnceLock<MatchedPath>,
    client: OnceLock<ClientId>,
}

impl RequestNotes {
    /// Notes that `client` authenticated this request (if the request carries notes).
    pub fn client(extensions: &Extensions, client: ClientId) {
        if let Some(notes) = extensions.get::<RequestNotes>() {
            notes.set_client(client);
        }
    }

    /// Notes that `client` authenticated this request.
    pub fn set_client(&self, client: ClientId) {
        let _ = self.0.client.set(client);
    }

    /// The route template matched, or `unmatched`.
    pub fn route(&self) -> &str {
        self.0.route.get().map_or("unmatched", MatchedPath::as_str)
    }

    /// The route template matched, shared with axum's (not copied), if one matched.
    pub fn matched(&self) -> Option<MatchedPath> {
        self.0.route.get().cloned()
    }
}

/// A route layer: notes the route template the request matched (axum sets it while routing,
/// after the outer layers have run).
pub async fn remember_route(request: Request, next: Next) -> Response {
    if let (Some(notes), Some(path)) = (
        request.extensions().get::<RequestNotes>(),
        request.extensions().get::<MatchedPath>(),
    ) {
        let _ = notes.0.route.set(path.clone());
    }
    next.run(request).await
}

/// One request's access line, as the request hands it over: nothing formatted yet.
pub struct AccessLine {
    pub method: &'static str,
    pub notes: RequestNotes,
    pub status: u16,
    pub micros: u64,
    pub peer: Option<IpAddr>,
    pub request_id: HeaderValue,
}

/// Where the lines go once `tessera serve` has installed its log writer: formatted on the
/// request's thread into a shared buffer (a few hundred nanoseconds), handed to the writer
/// in batches every [`FLUSH_EVERY`] or [`BATCH`] bytes. Formatting through `tracing`'s text
/// layer and writing each line with a system call of its own cost ~25% of a token request's
/// time at `info`; batched, the access log costs a few percent.
struct Sink {
    buffer: Mutex<Vec<u8>>,
    writer: Mutex<Box<dyn Write + Send>>,
    /// How many writes the writer has dropped so far: a non-blocking writer that falls behind
    /// drops a write and still answers `Ok`, so this is how a dropped batch is seen.
    writes_dropped: WritesDropped,
    json: bool,
}

/// The writer's count of the writes it dropped.
pub type WritesDropped = Box<dyn Fn() -> usize + Send + Sync>;

/// A batch is handed over at this size even before the timer.
const BATCH: usize = 64 * 1024;
/// The longest a line waits in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends the access lines to `writer` (the process's non-blocking log writer), as text or
/// JSON like the other log lines, flushed every 100 ms by a thread of its own. Without it
/// (the tests' routers), lines go through `tracing` one by one.
pub fn install(writer: Box<dyn Write + Send>, writes_dropped: WritesDropped, json: bool) {
    let installed = SINK.set(Sink {
        buffer: Mutex::new(Vec::with_capacity(BATCH)),
        writer: Mutex::new(writer),
        writes_dropped,
        json,
    });
    if installed.is_ok() {
        let _ = std::thread::Builder::new()
            .name("tessera-access-log".into())
            .spawn(|| loop {
                std::thread::sleep(FLUSH_EVERY);
                flush();
            });
    }
}

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Access lines dropped: not written, or dropped by a writer that fell behind.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Writes the request's access line, if `log` and the log filter (`TESSERA_LOG`) want it.
pub fn record(log: AccessLog, line: AccessLine) {
    if !log.wants(line.status) || !tracing::enabled!(target: "tessera::access", Level::INFO) {
        return;
    }
    let Some(sink) = SINK.get() else {
        line.trace();
        return;
    };
    thread_local! {
        static LINE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
    }
    LINE.with_borrow_mut(|formatted| {
        formatted.clear();
        if sink.json {
            line.json(formatted);
        } else {
            line.text(formatted);
        }
        let full = {
            let mut buffer = sink.buffer.lock().unwrap_or_else(|e| e.into_inner());
            buffer.extend_from_slice(formatted);
            (buffer.len() >= BATCH)
                .then(|| std::mem::replace(&mut *buffer, Vec::with_capacity(BATCH)))
        };
        if let Some(batch) = full {
            sink.write(&batch);
        }
    });
}

impl Sink {
    fn write(&self, batch: &[u8]) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let before = (self.writes_dropped)();
        // Another thread's log line dropped meanwhile is counted here too: an overcount only
        // when the writer is already dropping.
        if writer.write_all(batch).is_err() || (self.writes_dropped)() > before {
            let lines = batch.iter().filter(|b| **b == b'\n').count();
            DROPPED.fetch_add(lines as u64, Ordering::Relaxed);
        }
    }
}

/// Hands the lines recorded so far to the writer: every 100 ms, and at shutdown.
pub fn flush() {
    let Some(sink) = SINK.get() else { return };
    let batch = std::mem::take(&mut *sink.buffer.lock().unwrap_or_else(|e| e.into_inner()));
    if !batch.is_empty() {
        sink.write(&batch);
    }
}

/// `2026-11-29T21:47:12.930272Z`, as the other log lines write the time.
fn timestamp(out: &mut Vec<u8>) {
    let now = time::OffsetDateTime::now_utc();
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    );
}

impl AccessLine {
    /// `<time>  INFO tessera::access: method="POST" route="/oauth2/token" status=200 …`, as
    /// `tracing`'s text format writes it.
    fn text(&self, out: &mut Vec<u8>) {
        timestamp(out);
        let _ = write!(
            out,
            "  INFO tessera::access: method={:?} route={:?} status={} micros={}",
            self.method,
            self.notes.route(),
            self.status,
            self.micros
        );
        if let Some(client) = self.notes.0.client.get() {
            let _ = write!(out, " client_id={client}");
        }
        if let Some(peer) = self.peer {
            let _ = write!(out, " peer={peer}");
        }
        // The client may have chosen the request id: quoted and escaped.
        let _ = writeln!(out, " request_id={:?}", self.request_id());
    }

    /// One JSON object, as `tracing`'s JSON format writes it.
    fn json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(out);
        let _ = write!(
            out,
            "\",\"level\":\"INFO\",\"fields\":{{\"method\":\"{}\",\"route\":",
            self.method
        );
        let _ = serde_json::to_writer(&mut *out, self.notes.route());
        let _ = write!(
            out,
            ",\"status\":{},\"micros\":{}",
            self.status, self.micros
        );
        if let Some(client) = self.notes.0.client.get() {
            let _ = write!(out, ",\"client_id\":\"{client}\"");
        }
        if let Some(peer) = self.peer {
            let _ = write!(out, ",\"peer\":\"{peer}\"");
        }
        out.extend_from_slice(b",\"request_id\":");
        let _ = serde_json::to_writer(&mut *out, self.request_id());
        out.extend_from_slice(b"},\"target\":\"tessera::access\"}\n");
    }

    fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or("-")
    }

    /// Through `tracing`, when no writer is installed.
    fn trace(&self) {
        let client = self.notes.0.client.get();
        tracing::info!(
            target: "tessera::access",
            method = self.method,
            route = self.notes.route(),
            status = self.status,
            micros = self.micros,
            client_id = client.map(tracing::field::display),
            peer = self.peer.map(tracing::field::display),
            request_id = self.request_id(),
        );
    }
}

/// The `warn` line of a failed authentication.
pub fn failed_authentication(who: &str, peer: Option<IpAddr>, reason: &str) {
    let who: String = who.chars().take(64).collect();
    tracing::warn!(
        target: "tessera::auth",
        who = %who,
        peer = peer.map(tracing::field::display),
        reason,
        "authentication failed"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that drops every second write yet answers `Ok`, as a lagging
    /// `tracing_appender::non_blocking` writer does.
    struct Lagging(Arc<std::sync::atomic::AtomicUsize>);

    impl Write for Lagging {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_batch_the_writer_drops_is_counted_line_by_line() {
        let writes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = writes.clone();
        let sink = Sink {
            buffer: Mutex::new(Vec::new()),
            writer: Mutex::new(Box::new(Lagging(writes))),
            // Every other write is a dropped one.
            writes_dropped: Box::new(move || seen.load(Ordering::Relaxed) / 2),
            json: false,
        };
        let before = dropped();
        sink.write(b"one\ntwo\nthree\n"); // write 1: kept
        assert_eq!(dropped(), before);
        sink.write(b"four\nfive\n"); // write 2: dropped
        assert_eq!(dropped(), before + 2);
    }

    #[test]
    fn the_levels_parse_and_choose_the_lines() {
        for level in [AccessLog::All, AccessLog::Errors, AccessLog::Off] {
            assert_eq!(AccessLog::parse(level.as_str()), Some(level));
        }
        assert_eq!(AccessLog::parse("some"), None);
        assert!(AccessLog::All.wants(200) && AccessLog::All.wants(500));
        assert!(!AccessLog::Errors.wants(204) && AccessLog::Errors.wants(401));
        assert!(!AccessLog::Off.wants(500));
    }
}
