//! Prometheus metrics, served at `/metrics`: Tessera's own under `tessera_`, and the
//! process's (`process_resident_memory_bytes`, `process_cpu_seconds_total`,
//! `process_open_fds`, read from `/proc` when scraped).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabel {
    pub grant: &'static str,
}

/// A token request's grant (`client_credentials`, `jwt_bearer`, `token_exchange`, `tms`, or
/// `other` for one not supported) and outcome (`issued`, or the error code).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabel {
    pub grant: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    pub error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    pub method: &'static str,
    pub status: u16,
}

/// A request's route template (`/v1/integrations/{client_id}`, or `unmatched`) and status
/// class (`2xx` …), for the latency histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabel {
    pub route: RouteLabel,
    pub status: &'static str,
}

/// A route template as a label: the matched path axum already holds (shared, not copied per
/// request), or `unmatched`.
#[derive(Clone, Debug, Default)]
pub struct RouteLabel(pub Option<axum::extract::MatchedPath>);

impl RouteLabel {
    pub fn as_str(&self) -> &str {
        self.0
            .as_ref()
            .map_or("unmatched", axum::extract::MatchedPath::as_str)
    }
}

impl PartialEq for RouteLabel {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RouteLabel {}

impl std::hash::Hash for RouteLabel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl prometheus_client::encoding::EncodeLabelValue for RouteLabel {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

/// `2xx` and the like.
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// The latency histograms, one per route and status class.
pub type LatencyFamily = Family<LatencyLabel, Histogram, fn() -> Histogram>;

/// 100 µs to about 2.4 s, each bucket 2.5 times the last.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.5, 12))
}

/// The method as a label without allocating; unusual methods share one label.
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The counters Tessera keeps.
pub struct Metrics {
    registry: Registry,
    pub tokens_issued: Family<GrantLabel, Counter>,
    pub token_errors: Family<ErrorLabel, Counter>,
    pub introspections: Counter,
    pub revocations: Counter,
    /// SETs queued on Shared Signals streams (SPEC §16).
    pub security_events: Counter,
    pub http_requests: Family<RequestLabel, Counter>,
    pub request_seconds: LatencyFamily,
    pub token_requests: Family<TokenLabel, Counter>,
    pub audit_records_written: Counter,
    process: ProcessMetrics,
    outbox: OutboxGauges,
    access_log_dropped: Counter,
}

/// The webhook outbox as it stood at the scrape.
#[derive(Default)]
struct OutboxGauges {
    pending: Gauge,
    failing: Gauge,
    oldest_seconds: Gauge<f64, AtomicU64>,
}

/// What the process uses, read from `/proc/self` at each scrape.
#[derive(Default)]
struct ProcessMetrics {
    resident_bytes: Gauge,
    open_fds: Gauge,
    cpu_seconds: Counter<f64, AtomicU64>,
}

impl ProcessMetrics {
    /// Reads `/proc/self` (Linux); elsewhere the figures stay 0.
    fn refresh(&self) {
        if let Some(kb) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            })
        {
            self.resident_bytes.set(kb * 1024);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds
                .set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
        }
        // utime and stime, the 14th and 15th fields after the command's closing parenthesis,
        // in clock ticks of 1/100 s (USER_HZ).
        if let Some(ticks) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1;
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let user: f64 = fields.get(11)?.parse().ok()?;
                let system: f64 = fields.get(12)?.parse().ok()?;
                Some(user + system)
            })
        {
            let seconds = ticks / 100.0;
            let delta = seconds - self.cpu_seconds.get();
            if delta > 0.0 {
                self.cpu_seconds.inc_by(delta);
            }
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut root = Registry::default();
        let process = ProcessMetrics::default();
        root.register(
            "process_resident_memory_bytes",
            "Resident memory of the process, in bytes",
            process.resident_bytes.clone(),
        );
        root.register(
            "process_open_fds",
            "Open file descriptors of the process",
            process.open_fds.clone(),
        );
        root.register(
            "process_cpu_seconds",
            "CPU time the process used (user and system), in seconds",
            process.cpu_seconds.clone(),
        );
        let registry = root.sub_registry_with_prefix("tessera");
        let tokens_issued = Family::<GrantLabel, Counter>::default();
        let token_errors = Family::<ErrorLabel, Counter>::default();
        let introspections = Counter::default();
        let revocations = Counter::default();
        let security_events = Counter::default();
        let http_requests = Family::<RequestLabel, Counter>::default();
        let request_seconds = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to its response, by route template and status class",
            request_seconds.clone(),
        );
        let token_requests = Family::<TokenLabel, Counter>::default();
        registry.register(
            "token_requests",
            "Token requests, by grant and outcome (`issued` or the error code)",
            token_requests.clone(),
        );
        let outbox = OutboxGauges::default();
        registry.register(
            "webhooks_pending",
            "Webhook outbox entries not yet delivered",
            outbox.pending.clone(),
        );
        registry.register(
            "webhooks_failing",
            "Pending webhook outbox entries at least one attempt has failed for",
            outbox.failing.clone(),
        );
        registry.register(
            "webhooks_oldest_pending_age_seconds",
            "Age of the oldest pending webhook outbox entry (0 when none is pending)",
            outbox.oldest_seconds.clone(),
        );
        let access_log_dropped = Counter::default();
        registry.register(
            "access_log_dropped",
            "Access log lines dropped because the log writer fell behind",
            access_log_dropped.clone(),
        );
        let audit_records_written = Counter::default();
        registry.register(
            "tokens_issued",
            "Access tokens issued, by grant",
            tokens_issued.clone(),
        );
        registry.register(
            "token_errors",
            "Token requests refused, by error code",
            token_errors.clone(),
        );
        registry.register(
            "introspections",
            "Introspection requests answered",
            introspections.clone(),
        );
        registry.register("revocations", "Tokens revoked", revocations.clone());
        registry.register(
            "security_events",
            "Security Event Tokens queued on Shared Signals streams",
            security_events.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests, by method and status",
            http_requests.clone(),
        );
        registry.register(
            "audit_records_written",
            "Audit records written to storage",
            audit_records_written.clone(),
        );
        Metrics {
            registry: root,
            tokens_issued,
            token_errors,
            introspections,
            revocations,
            security_events,
            http_requests,
            request_seconds,
            token_requests,
            audit_records_written,
            process,
            outbox,
            access_log_dropped,
        }
    }
}

impl Metrics {
    /// Counts a token request by grant and outcome.
    pub fn token_request(&self, grant: &'static str, outcome: &'static str) {
        self.token_requests
            .get_or_create(&TokenLabel { grant, outcome })
            .inc();
    }

    /// The text exposition format, with the outbox as `outbox` says it stands at `now`
    /// (`None`: it could not be read, and the gauges keep their last values) and the access log
    /// lines dropped so far.
    pub fn render(
        &self,
        outbox: Option<tessera_core::model::OutboxState>,
        now: tessera_core::model::UnixMillis,
        access_log_dropped: u64,
    ) -> String {
        self.process.refresh();
        if let Some(outbox) = outbox {
            self.outbox
                .pending
                .set(i64::try_from(outbox.pending).unwrap_or(i64::MAX));
            self.outbox
                .failing
                .set(i64::try_from(outbox.failing).unwrap_or(i64::MAX));
            let age = outbox.oldest_at.map_or(0, |at| (now - at).max(0));
            self.outbox.oldest_seconds.set(age as f64 / 1000.0);
        }
        self.access_log_dropped
            .inc_by(access_log_dropped.saturating_sub(self.access_log_dropped.get()));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
