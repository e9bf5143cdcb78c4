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
            .form(
                path,
                "grant_type=client_credentials&token=a&token=b&scope=x&scope=y",
                auth,
            )
            .await;
        assert_eq!(repeated.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            repeated.description().contains("repeated"),
            "{path}: {}",
            repeated.text
        );

        let not_utf8 = h
            .form(
                path,
                &b"grant_type=client_credentials&token=%C3%28&scope=%FF"[..],
                auth,
            )
            .await;
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
        assert!(json_body
            .description()
            .contains("application/x-www-form-urlencoded"));

        let huge = h.form(path, vec![b'a'; 10 * 1024 * 1024], auth).await;
        assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(huge.description().contains("KiB"));
    }
}

#[tokio::test]
async fn tampered_and_unsigned_tokens_are_refused_everywhere() {
    let h = Harness::new().await;
    let admin = h.admin_token(&h.a).await;
    let parts: Vec<&str> = admin.split('.').collect();
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "at+jwt"})),
        parts[1]
    );
    let hs256 = format!(
        "{}.{}.{}",
        b64(json!({"alg": "HS256", "typ": "at+jwt"})),
        parts[1],
        parts[2]
    );
    let mut payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
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
    let h = Harness::new().await;
    let admin = h.admin_token(&h.a).await;
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
    for path in [
        "/v1/integrations",
        "/v1/access_policies",
        "/v2/assets",
        events.as_str(),
    ] {
        let send = |body: Body, content_type: &'static str| {
            Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .header(header::CONTENT_TYPE, content_type)
                .body(body)
                .unwrap()
        };
        let syntax = h
            .send(send(Body::from("{,\"display_name\": "), "application/json"))
            .await;
        assert_eq!(syntax.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(syntax.description().contains("not valid JSON"), "{path}");
        let wrong_type = h
            .send(send(Body::from("display_name=x"), "text/plain"))
            .await;
        assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            wrong_type.description().contains("application/json"),
            "{path}"
        );
        let not_utf8 = h
            .send(send(
                Body::from(vec![b'{', 0xff, 0xfe, b'}']),
                "application/json",
            ))
            .await;
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
    let policies = h
        .api(Method::GET, "/v1/access_policies", &admin, None)
        .await;
    assert_eq!(policies.body["access_policies"], json!([]));
    // The server is still up.
    assert_eq!(
        h.send(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json_errors() {
    let h = Harness::new().await;
    let missing = h
        .send(Request::get("/nowhere").body(Body::empty()).unwrap())
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error(), "not_found");
    let wrong = h
        .send(
            Request::put("/v1/integrations")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.error(), "invalid_request");
}
