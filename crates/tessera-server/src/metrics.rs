//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabel {
    pub grant: &'static str,
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
    pub http_requests: Family<RequestLabel, Counter>,
    pub audit_records_written: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let tokens_issued = Family::<GrantLabel, Counter>::default();
        let token_errors = Family::<ErrorLabel, Counter>::default();
        let introspections = Counter::default();
        let revocations = Counter::default();
        let http_requests = Family::<RequestLabel, Counter>::default();
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
            registry,
            tokens_issued,
            token_errors,
            introspections,
            revocations,
            http_requests,
            audit_records_written,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
