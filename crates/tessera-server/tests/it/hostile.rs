//! Malformed input on every endpoint gets a 4xx with a clear message, and changes nothing.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn malformed_oauth_requests_are_refused_with_a_reason() {
    let h = Harness::new().await;
    let auth = Some((h.a.client_id.as_str(), h.a.secret.as_str()));
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let repeated = h
            .form(path, "grant_type=client_credentials&token=a&token=b&scope=x&scope=y", auth)
            .await;
        assert_eq!(repeated.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(repeated.description().contains("repeated"), "{path}: {}", repeated.text);

        let not_utf8 =
            h.form(path, &b"grant_type=client_credentials&token=%C3%28&scope=%FF"[..], auth).await;
        assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(not_utf8.description().contains("UTF-8"));

        let json_body = h
            .send(
                Request::post(path)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::AUTHORIZATION, basic(&h.a.client_id, &h.a.secret))
                    .body(Body::from("{\"grant_type\":\"client_credentials\"}"))
                    .unwrap(),
            )
            .await;
        assert_eq!(json_body.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(json_body.description().contains("application/x-www-form-urlencoded"));

        let huge = h.form(path, vec![b'a'; 10 * 1024 * 1024], auth).await;
        assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(huge.description().contains("KiB"));
    }
}

#[tokio::test]
async fn tampered_and_unsigned_tokens_are_refused_everywhere() {
    let (h, admin) = Harness::with_admin().await;
    let parts: Vec<&str> = admin.split('.').collect();
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!("{}.{}.", b64(json!({"alg": "none", "typ": "at+jwt"})), parts[1]);
    let hs256 =
        format!("{}.{}.{}", b64(json!({"alg": "HS256", "typ": "at+jwt"})), parts[1], parts[2]);
    let mut payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap(),
    )
    .unwrap();
    payload["tenant_id"] = json!("tenant/00000000-0000-4000-8000-000000000000");
    let swapped = format!("{}.{}.{}", parts[0], b64(payload), parts[2]);
    let wrong_typ = format!(
        "{}.{}.{}",
        b64(json!({"alg": "EdDSA", "typ": "JWT", "kid": "x"})),
        parts[1],
        parts[2]
    );
    for (bad, why) in [
        (none, "`none`"),
        (hs256, "`HS256`"),
        (swapped, "signature"),
        (wrong_typ, "typ"),
        ("garbage".to_owned(), "compact"),
    ] {
        for path in ["/v1/integrations", "/v1/access_policies", "/v2/assets"] {
            let reply = h.api(Method::GET, path, &bad, None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path} {why}");
            assert!(reply.description().contains(why), "{why}: {}", reply.text);
        }
        let introspected = h.introspect((&h.a.client_id, &h.a.secret), &bad).await;
        assert_eq!(introspected.body, json!({"active": false}));
    }
}

#[tokio::test]
async fn malformed_json_is_refused_and_nothing_is_stored() {
    let (h, admin) = Harness::with_admin().await;
    let asset = h
        .api(
            Method::POST,
            "/v2/assets",
            &admin,
            Some(json!({"attributes": {"arc_display_type": "Crate"}})),
        )
        .await
        .body["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = format!("/v2/{asset}/events");
    for path in ["/v1/integrations", "/v1/access_policies", "/v2/assets", events.as_str()] {
        let send = |body: Body, content_type: &'static str| {
            Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .header(header::CONTENT_TYPE, content_type)
                .body(body)
                .unwrap()
        };
        let syntax = h.send(send(Body::from("{,\"display_name\": "), "application/json")).await;
        assert_eq!(syntax.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(syntax.description().contains("not valid JSON"), "{path}");
        let wrong_type = h.send(send(Body::from("display_name=x"), "text/plain")).await;
        assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(wrong_type.description().contains("application/json"), "{path}");
        let not_utf8 =
            h.send(send(Body::from(vec![b'{', 0xff, 0xfe, b'}']), "application/json")).await;
        assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST, "{path}");
        let huge = format!("{{\"display_name\": \"{}\"}}", "a".repeat(10 * 1024 * 1024));
        let too_big = h.send(send(Body::from(huge), "application/json")).await;
        assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    let list = h.api(Method::GET, "/v1/integrations", &admin, None).await;
    assert_eq!(list.body["integrations"].as_array().unwrap().len(), 1);
    let assets = h.api(Method::GET, "/v2/assets", &admin, None).await;
    assert_eq!(assets.body["assets"].as_array().unwrap().len(), 1);
    let events = h.api(Method::GET, &events, &admin, None).await;
    assert_eq!(events.body["events"], json!([]));
    let policies = h.api(Method::GET, "/v1/access_policies", &admin, None).await;
    assert_eq!(policies.body["access_policies"], json!([]));
    // The server is still up.
    assert_eq!(
        h.send(Request::get("/healthz").body(Body::empty()).unwrap()).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_errors() {
    let h = Harness::new().await;
    let missing = h.send(Request::get("/nowhere").body(Body::empty()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "not_found");
    let wrong = h.send(Request::put("/v1/integrations").body(Body::empty()).unwrap()).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.error(), "invalid_request");
}

/// A request whose 1 MiB body arrives when the test says.
fn slow_put(
    token: &str,
    path: &str,
) -> (Request<Body>, tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let request = Request::put(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::CONTENT_LENGTH, 1024 * 1024)
        .body(Body::from_stream(stream))
        .unwrap();
    (request, tx)
}

#[tokio::test]
async fn large_bodies_in_flight_share_one_memory_budget() {
    use tower::ServiceExt;
    let h = Harness::configured(|c| c.body_budget_bytes = 1536 * 1024).await;
    let token = h.admin_token(&h.a).await;
    let (first, feed) = slow_put(&token, "/v1/private_tokens/big/one");
    let router = h.router.clone();
    let pending = tokio::spawn(async move { router.oneshot(first).await.unwrap() });
    feed.send(Ok(bytes::Bytes::from(vec![b'x'; 1000]))).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // A second megabyte while the first is still arriving: past the budget.
    let (second, _feed) = slow_put(&token, "/v1/private_tokens/big/two");
    let busy = h.send(second).await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE, "{}", busy.text);
    assert_eq!(busy.header("retry-after"), "1");
    assert!(busy.description().contains("retry"), "{}", busy.text);
    // Small bodies never wait for it.
    assert_eq!(h.token(&h.a.client_id, &h.a.secret, None).await.status, StatusCode::OK);

    // Once the first has arrived, there is room again.
    feed.send(Ok(bytes::Bytes::from(vec![b'x'; 1024 * 1024 - 1000]))).await.unwrap();
    drop(feed);
    let done = pending.await.unwrap();
    assert!(done.status().is_success(), "{}", done.status());
    let (third, feed) = slow_put(&token, "/v1/private_tokens/big/three");
    feed.send(Ok(bytes::Bytes::from(vec![b'y'; 1024 * 1024]))).await.unwrap();
    drop(feed);
    let accepted = h.send(third).await;
    assert!(accepted.status.is_success(), "{}", accepted.text);
}
