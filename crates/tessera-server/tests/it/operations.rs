//! Health, readiness, metrics and the OpenAPI document.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::harness::*;

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let h = Harness::new().await;
    let get = |p: &'static str| Request::get(p).body(Body::empty()).unwrap();
    assert_eq!(h.send(get("/healthz")).await.body["status"], "ok");
    let ready = h.send(get("/readyz")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["database"], "sqlite");
    h.admin_token(&h.a).await;
    let metrics = h.send(get("/metrics")).await;
    assert!(
        metrics.text.contains("tessera_tokens_issued_total{grant=\"client_credentials\"} 1"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("tessera_http_requests_total"));
    assert!(!h.send(get("/healthz")).await.header("x-request-id").is_empty());
    let traced =
        Request::get("/healthz").header("x-request-id", "trace-me-42").body(Body::empty()).unwrap();
    assert_eq!(
        h.send(traced).await.header("x-request-id"),
        "trace-me-42",
        "a caller's request id is kept"
    );
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_json_endpoint() {
    let h = Harness::new().await;
    let doc = h.send(Request::get("/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/oauth2/token",
        "/oauth2/introspect",
        "/oauth2/revoke",
        "/oauth2/jwks",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/v1/integrations",
        "/v1/integrations/{client_id}",
        "/v1/integrations/{client_id}/secret",
        "/v1/users",
        "/v1/users/{id}",
        "/v1/audit",
        "/v1/integrations/{client_id}/keys",
        "/v1/integrations/{client_id}/keys/{kid}",
        "/v1/consents",
        "/v1/consents/{id}",
        "/v1/access_policies",
        "/v1/access_policies/{uuid}",
        "/v2/assets",
        "/v2/assets/{uuid}",
        "/v2/assets/{uuid}/events",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc.body["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
}

/// `/openapi.json` passes the OpenAPI 3.1 JSON Schema, and every operation says in a summary
/// what it does.
#[tokio::test]
async fn the_openapi_document_is_valid_3_1_and_every_operation_has_a_summary() {
    let h = Harness::new().await;
    let doc = h.send(Request::get("/openapi.json").body(Body::empty()).unwrap()).await.body;
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/openapi-3.1.schema.json")).unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("the OpenAPI 3.1 schema compiles");
    let problems: Vec<String> =
        validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(problems.is_empty(), "{problems:#?}");
    // What the JSON Schema cannot say and validators check: each path parameter is a `{name}`
    // of its path and each `{name}` has one; operation ids are unique; each has a summary.
    let mut without = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: std::collections::BTreeSet<&str> =
            path.split('{').skip(1).filter_map(|rest| rest.split('}').next()).collect();
        for (method, operation) in item.as_object().unwrap() {
            let summary = operation["summary"].as_str().unwrap_or_default();
            if summary.trim().is_empty() {
                without.push(format!("{method} {path}"));
            }
            let in_path: std::collections::BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(in_path, templated, "{method} {path}: path parameters");
            if let Some(id) = operation["operationId"].as_str() {
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            }
        }
    }
    assert!(without.is_empty(), "operations without a summary: {without:#?}");
}

/// A token request from `peer` (the connection's address) with an `X-Forwarded-For`, as a
/// proxy would send it.
fn from_peer(peer: &str, forwarded_for: &str, id: &str, secret: &str) -> Request<Body> {
    crate::oauth::token_request(peer, &[("x-forwarded-for", forwarded_for)], id, secret)
}

/// Behind a trusted proxy the limiter counts failures against the client the proxy names;
/// anyone else's `X-Forwarded-For` is ignored, so a client cannot spread its failures over
/// made-up addresses. `X-Forwarded-Proto: https` from the proxy marks cookies `Secure`.
#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let h = Harness::configured(|c| {
        c.trusted_proxies = tessera_server::forwarded::TrustedProxies::parse("10.0.0.0/8").unwrap()
    })
    .await;
    let (id, secret) = (h.a.client_id.as_str(), h.a.secret.as_str());
    for _ in 0..20 {
        let failed = h.send(from_peer("10.0.0.2", "198.51.100.1", id, "wrong")).await;
        assert_eq!(failed.error(), "invalid_client");
    }
    let slowed = h.send(from_peer("10.0.0.2", "198.51.100.1", id, secret)).await;
    assert_eq!(slowed.status, StatusCode::TOO_MANY_REQUESTS, "{}", slowed.text);
    assert_eq!(slowed.error(), "slow_down");
    // Another client behind the same proxy is not slowed by the first one's failures.
    let other = h.send(from_peer("10.0.0.2", "198.51.100.2", id, secret)).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);

    // Not a trusted proxy: the header is ignored and the failures count against the peer.
    for n in 0..20 {
        let failed = h.send(from_peer("203.0.113.9", &format!("192.0.2.{n}"), id, "wrong")).await;
        assert_eq!(failed.error(), "invalid_client");
    }
    let caught = h.send(from_peer("203.0.113.9", "192.0.2.99", id, secret)).await;
    assert_eq!(caught.error(), "slow_down", "{}", caught.text);

    // The scheme: https at the proxy makes the console's cookies Secure; from anyone else not.
    for (peer, secure) in [("10.0.0.2", true), ("203.0.113.9", false)] {
        let page = Request::get("/console/sign-in")
            .header("x-forwarded-proto", "https")
            .body(Body::empty())
            .unwrap();
        let shown = h.send(with_peer(page, peer)).await;
        let cookie = shown.header("set-cookie");
        assert!(cookie.starts_with("tessera_sign_in="), "{cookie}");
        assert_eq!(cookie.ends_with("; Secure"), secure, "{peer}: {cookie}");
    }
}

/// `/metrics` has request latency by route template and status class, and the process's
/// memory, CPU time and open files.
#[tokio::test]
async fn metrics_have_latency_by_route_and_the_process_figures() {
    let h = Harness::new().await;
    let ok = h.token(&h.a.client_id, &h.a.secret, None).await;
    assert_eq!(ok.status, StatusCode::OK);
    let refused = h.token(&h.a.client_id, &h.a.secret, Some("nonsense")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let unsupported = h
        .send(
            Request::post("/oauth2/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("grant_type=password&username=a&password=b"))
                .unwrap(),
        )
        .await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
    let missing = h.send(Request::get("/v1/no-such-thing").body(Body::empty()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let text = h.send(Request::get("/metrics").body(Body::empty()).unwrap()).await.text;
    for wanted in [
        "tessera_request_duration_seconds_bucket{le=\"0.0001\",route=\"/oauth2/token\",status=\"2xx\"}",
        "tessera_request_duration_seconds_count{route=\"/oauth2/token\",status=\"2xx\"} 1",
        "tessera_request_duration_seconds_count{route=\"unmatched\",status=\"4xx\"} 1",
        "# TYPE process_cpu_seconds counter",
        "tessera_token_requests_total{grant=\"client_credentials\",outcome=\"issued\"} 1",
        "tessera_token_requests_total{grant=\"client_credentials\",outcome=\"invalid_scope\"} 1",
        "tessera_token_requests_total{grant=\"other\",outcome=\"unsupported_grant_type\"} 1",
        "tessera_webhooks_pending 0",
        "tessera_webhooks_failing 0",
        "tessera_webhooks_oldest_pending_age_seconds 0",
        "tessera_access_log_dropped_total 0",
    ] {
        assert!(text.contains(wanted), "{wanted} in {text}");
    }
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert!(value("process_resident_memory_bytes") > 1_000_000.0);
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_cpu_seconds_total") > 0.0);
}
