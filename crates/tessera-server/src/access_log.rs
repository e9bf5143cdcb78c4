//! The access log (SPEC §13): one `info` line per request on the target `tessera::access` —
//! method, route template, status, microseconds, the integration when one authenticated, the
//! client's address, the request id — for every request (`--access-log all`, the default),
//! only those answered 4xx or 5xx (`errors`) or none (`off`). The line is handed to the log
//! writer, which writes it on its own thread (`tessera serve` installs a non-blocking writer),
//! so a slow terminal or disk never holds a request up.
//!
//! A failed client authentication is a `warn` line of its own (`failed_authentication`), with
//! the client id as given (cut to 64 characters), the address and the reason — never the
//! secret or the assertion.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request};
use axum::http::Extensions;
use axum::middleware::Next;
use axum::response::Response;
use tessera_core::id::ClientId;

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

/// Writes the request's access line, if `log` wants it.
pub fn record(
    log: AccessLog,
    notes: &RequestNotes,
    method: &str,
    status: u16,
    micros: u64,
    peer: Option<IpAddr>,
    request_id: &str,
) {
    if !log.wants(status) {
        return;
    }
    let client = notes.0.client.get();
    tracing::info!(
        target: "tessera::access",
        method,
        route = notes.route(),
        status,
        micros,
        client_id = client.map(tracing::field::display),
        peer = peer.map(tracing::field::display),
        request_id,
    );
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
