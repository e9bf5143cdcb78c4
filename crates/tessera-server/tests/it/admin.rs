//! The management API: integrations, secrets, users, audit.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn management_needs_a_token_with_the_admin_scope() {
    let h = Harness::new().await;
    let none = h
        .send(axum::http::Request::get("/v1/integrations").body(axum::body::Body::empty()).unwrap())
        .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.header("www-authenticate").split(',').next().unwrap(),
        "Bearer realm=\"tessera\""
    );
    assert!(none.header("www-authenticate").contains("error=\"invalid_token\""));

    let admin = h.admin_token(&h.a).await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    let reader_token =
        h.token(&id, &secret, None).await.body["access_token"].as_str().unwrap().to_owned();
    let forbidden = h.api(Method::GET, "/v1/integrations", &reader_token, None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.error(), "insufficient_scope");
    assert!(forbidden.header("www-authenticate").contains("scope=\"admin\""));
    // An admin integration whose token was narrowed away from `admin` is refused too.
    let narrowed = h.token(&h.a.client_id, &h.a.secret, Some("assets:read")).await.body
        ["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        h.api(Method::GET, "/v1/integrations", &narrowed, None).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn integrations_are_created_listed_read_patched_and_never_show_the_secret_again() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, created) = h.create_integration(&admin, reader()).await;
    assert_eq!(secret.len(), 43, "256 random bits, base64url");
    assert_eq!(created["scopes"], json!(["assets:read", "events:read"]));
    assert_eq!(created["token_ttl_seconds"], 3600);

    let got = h.api(Method::GET, &format!("/v1/integrations/{id}"), &admin, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body.get("client_secret").is_none());
    assert!(!got.text.contains(&secret));

    let patched = h
        .api(Method::PATCH, &format!("/v1/integrations/{id}"), &admin, Some(json!({"display_name": "renamed", "token_ttl_seconds": 600, "custom_claims": {"team": "red"}})))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["display_name"], "renamed");
    let token = h.token(&id, &secret, None).await;
    assert_eq!(token.body["expires_in"], 600);
    let claims =
        tessera_core::token::DecodedJws::decode(token.body["access_token"].as_str().unwrap())
            .unwrap()
            .payload;
    assert_eq!(claims["name"], "renamed");
    assert_eq!(claims["team"], "red");
    assert!(claims.get("department").is_none());

    for _ in 0..3 {
        h.create_integration(&admin, reader()).await;
    }
    let mut seen = Vec::new();
    let mut next = String::new();
    loop {
        let page = h
            .api(
                Method::GET,
                &format!("/v1/integrations?page_size=2&page_token={next}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(
            page.body["integrations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["client_id"].as_str().unwrap().to_owned()),
        );
        next = page.body["next_page_token"].as_str().unwrap().to_owned();
        if next.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 5, "the admin integration and four others");
    assert!(!seen.iter().any(|s| s.is_empty()));
}

#[tokio::test]
async fn bad_integration_input_names_the_field() {
    let (h, admin) = Harness::with_admin().await;
    let cases = [
        (
            json!({"display_name": "x", "custom_claims": {"sub": "me"}}),
            "`sub` is a reserved claim name",
        ),
        (json!({"display_name": "x", "custom_claims": {"tessera_x": "1"}}), "reserved prefix"),
        (json!({"display_name": "x", "custom_claims": {"tier": "GOLD"}}), "`tier`"),
        (json!({"display_name": "  "}), "`display_name`"),
        (json!({"display_name": "x", "scopes": ["assets:read", "root"]}), "`root`"),
        (json!({"display_name": "x", "token_ttl_seconds": 5}), "`token_ttl_seconds`"),
        (json!({"display_name": "x", "colour": "blue"}), "colour"),
        (json!({"scopes": []}), "display_name"),
        (json!({"display_name": 7}), "display_name"),
    ];
    for (body, expected) in cases {
        let reply = h.api(Method::POST, "/v1/integrations", &admin, Some(body.clone())).await;
        reply.bad_request(&body);
        assert!(reply.description().contains(expected), "{body}: {}", reply.text);
    }
    let list = h.api(Method::GET, "/v1/integrations", &admin, None).await;
    assert_eq!(list.body["integrations"].as_array().unwrap().len(), 1, "nothing was stored");
    let bad_page = h.api(Method::GET, "/v1/integrations?page_token=zzz", &admin, None).await;
    assert_eq!(bad_page.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_page.body["field"], "page_token");
    let bad_size = h.api(Method::GET, "/v1/integrations?page_size=100000", &admin, None).await;
    assert_eq!(bad_size.body["field"], "page_size");
}

#[tokio::test]
async fn regenerating_a_secret_stops_the_old_one_at_once_or_after_the_grace_period() {
    let (h, admin) = Harness::with_admin().await;
    let (id, first, _) = h.create_integration(&admin, reader()).await;

    let now = h.api(Method::POST, &format!("/v1/integrations/{id}/secret"), &admin, None).await;
    assert_eq!(now.status, StatusCode::OK, "{}", now.text);
    let second = now.body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(h.token(&id, &first, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.token(&id, &second, None).await.status, StatusCode::OK);

    let graced = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{id}/secret"),
            &admin,
            Some(json!({"grace_seconds": 300})),
        )
        .await;
    let third = graced.body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(h.token(&id, &second, None).await.status, StatusCode::OK, "still in grace");
    assert_eq!(h.token(&id, &third, None).await.status, StatusCode::OK);
    h.clock.advance_seconds(301);
    assert_eq!(h.token(&id, &second, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.token(&id, &third, None).await.status, StatusCode::OK);

    let too_long = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{id}/secret"),
            &admin,
            Some(json!({"grace_seconds": 99999999})),
        )
        .await;
    assert_eq!(too_long.body["field"], "grace_seconds");
    let garbled = h
        .send(
            axum::http::Request::post(format!("/v1/integrations/{id}/secret"))
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"grace_seconds\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST, "{}", garbled.text);
    assert_eq!(h.token(&id, &third, None).await.status, StatusCode::OK, "nothing changed");
    let unknown = h
        .api(
            Method::POST,
            "/v1/integrations/6b1c9a4e-1111-4111-8111-111111111111/secret",
            &admin,
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_an_integration_revokes_its_tokens() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    let token = h.token(&id, &secret, None).await.body["access_token"].as_str().unwrap().to_owned();
    let caller = (h.a.client_id.as_str(), h.a.secret.as_str());
    assert_eq!(h.introspect(caller, &token).await.body["active"], true);
    assert_eq!(
        h.api(Method::DELETE, &format!("/v1/integrations/{id}"), &admin, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(h.introspect(caller, &token).await.body["active"], false);
    assert_eq!(h.token(&id, &secret, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.api(Method::GET, &format!("/v1/integrations/{id}"), &admin, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.api(Method::DELETE, &format!("/v1/integrations/{id}"), &admin, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.api(Method::DELETE, "/v1/integrations/not-a-uuid", &admin, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn users_are_managed_without_ever_showing_a_password() {
    let (h, admin) = Harness::with_admin().await;
    let body = json!({"email": "Jane@Example.com", "display_name": "Jane", "role": "admin", "password": "correct horse battery"});
    let created = h.api(Method::POST, "/v1/users", &admin, Some(body.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["email"], "jane@example.com");
    assert!(!created.text.contains("argon2") && !created.text.contains("correct horse"));
    let id = created.body["id"].as_str().unwrap().to_owned();

    let twin = h.api(Method::POST, "/v1/users", &admin, Some(body)).await;
    assert_eq!(twin.status, StatusCode::CONFLICT);
    for (bad, field) in [
        (
            json!({"email": "nope", "display_name": "J", "password": "correct horse battery"}),
            "email",
        ),
        (json!({"email": "a@b.c", "display_name": "J", "password": "short"}), "password"),
        (
            json!({"email": "a@b.c", "display_name": "J", "password": "correct horse battery", "role": "owner"}),
            "role",
        ),
    ] {
        let reply = h.api(Method::POST, "/v1/users", &admin, Some(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }

    let patched = h
        .api(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            &admin,
            Some(json!({"role": "member", "display_name": "Jane D"})),
        )
        .await;
    assert_eq!(patched.body["role"], "member");
    for (bad, field) in [
        (json!({"password": "short"}), "password"),
        (json!({"role": "owner"}), "role"),
        (json!({"display_name": " "}), "display_name"),
    ] {
        let reply = h.api(Method::PATCH, &format!("/v1/users/{id}"), &admin, Some(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    assert_eq!(
        h.api(Method::GET, &format!("/v1/users/{id}"), &admin, None).await.body["display_name"],
        "Jane D"
    );
    // Jane and the operator's own admin user, made at first start.
    let list = h.api(Method::GET, "/v1/users", &admin, None).await;
    let emails: Vec<&str> =
        list.body["users"].as_array().unwrap().iter().filter_map(|u| u["email"].as_str()).collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails.contains(&"jane@example.com"), "{emails:?}");
    assert_eq!(
        h.api(Method::DELETE, &format!("/v1/users/{id}"), &admin, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.api(Method::GET, &format!("/v1/users/{id}"), &admin, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_audit_log_records_admin_actions_and_issued_tokens_newest_first() {
    let (h, admin) = Harness::with_admin().await;
    let (id, _, _) = h.create_integration(&admin, reader()).await;
    let entries = h.audit_actions(&admin, "integration.created").await;
    let created = entries.iter().find(|e| e["action"] == "integration.created").unwrap();
    assert_eq!(created["target"], id.as_str());
    assert_eq!(created["actor"], format!("client:{}", h.a.client_id));
    let issued = entries.iter().find(|e| e["action"] == "token.issued").unwrap();
    assert_eq!(issued["actor"], format!("client:{}", h.a.client_id));
    assert!(issued["detail"]["scope"].as_str().unwrap().contains("admin"));
    let position = |action: &str| entries.iter().position(|e| e["action"] == action).unwrap();
    assert!(position("integration.created") < position("token.issued"), "newest first");
    assert!(!serde_json::to_string(&entries).unwrap().contains(&h.a.secret));
}

#[tokio::test]
async fn a_tenant_keeps_its_last_admin_user_and_its_last_admin_integration() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let users = h.api(Method::GET, "/v1/users", &admin, None).await;
        let ops = users.body["users"][0]["id"].as_str().unwrap().to_owned();
        let own = format!("/v1/integrations/{}", h.a.client_id);
        for (method, path, body, says) in [
            (Method::DELETE, format!("/v1/users/{ops}"), None, "last admin user"),
            (
                Method::PATCH,
                format!("/v1/users/{ops}"),
                Some(json!({"role": "member"})),
                "last admin user",
            ),
            (Method::DELETE, own.clone(), None, "last integration holding `admin`"),
            (
                Method::PATCH,
                own.clone(),
                Some(json!({"scopes": ["assets:read"]})),
                "last integration holding `admin`",
            ),
        ] {
            let reply = h.api(method.clone(), &path, &admin, body).await;
            assert_eq!(reply.status, StatusCode::CONFLICT, "{method} {path}: {}", reply.text);
            assert!(reply.text.contains(says), "{}", reply.text);
        }
        // With a second of each, either may go.
        let (second, second_secret, _) = h
            .create_integration(&admin, json!({"display_name": "ops 2", "scopes": ["admin"]}))
            .await;
        let jane = h
            .api(
                Method::POST,
                "/v1/users",
                &admin,
                Some(json!({"email": "jane@ops.example", "display_name": "Jane", "role": "admin"})),
            )
            .await;
        assert_eq!(jane.status, StatusCode::CREATED);
        let demoted = h
            .api(
                Method::PATCH,
                &format!("/v1/users/{ops}"),
                &admin,
                Some(json!({"role": "member"})),
            )
            .await;
        assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text);
        let gone = h.api(Method::DELETE, &own, &admin, None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        let admin2 = h.token(&second, &second_secret, None).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let last =
            h.api(Method::DELETE, &format!("/v1/integrations/{second}"), &admin2, None).await;
        assert_eq!(last.status, StatusCode::CONFLICT);
    }
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_told_by_field_and_json_form_not_rust_type() {
    let (h, admin) = Harness::with_admin().await;
    for (path, body, field) in [
        (
            "/v1/integrations",
            json!({"display_name": "x", "token_ttl_seconds": "soon"}),
            Some("token_ttl_seconds"),
        ),
        (
            "/v1/integrations",
            json!({"display_name": "x", "token_ttl_seconds": -5}),
            Some("token_ttl_seconds"),
        ),
        ("/v1/integrations", json!({"display_name": 7}), Some("display_name")),
        ("/v1/integrations", json!(["display_name"]), None),
        ("/v1/integrations", json!({}), Some("display_name")),
        ("/v1/integrations", json!({"display_name": "x", "scopes": "admin"}), Some("scopes")),
        (
            "/v1/access_policies",
            json!({"display_name": "p", "filters": {"asset_types": []}, "permissions": []}),
            Some("filters"),
        ),
        ("/v1/users", json!({"email": "a@b.c", "display_name": "A", "role": 1}), Some("role")),
        (
            "/v1/tenants",
            json!({"display_name": "T", "admin_email": ["a@b.c"]}),
            Some("admin_email"),
        ),
    ] {
        let reply = h.api(Method::POST, path, &admin, Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path} {body}: {}", reply.text);
        let said = reply.description();
        for rust in ["struct", "u32", "i64", "sequence", "Request", "Vec<", "Option<", "map"] {
            assert!(!said.contains(rust), "{path} {body}: {said}");
        }
        assert_eq!(reply.body["field"].as_str(), field, "{path} {body}: {}", reply.text);
    }
}
