//! Tenant isolation across every endpoint: another tenant's ids and tokens get 404/403/inactive,
//! never data.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn another_tenant_can_neither_see_nor_touch_anything() {
    let h = Harness::new().await;
    let b = h.add_tenant().await;
    let admin_a = h.admin_token(&h.a).await;
    let admin_b = h.admin_token(&b).await;
    let (id, secret, _) = h.create_integration(&admin_a, reader()).await;
    let user = h.api(Method::POST, "/v1/users", &admin_a, Some(json!({"email": "a@a.test", "display_name": "A", "password": "correct horse battery"}))).await;
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    let token_a =
        h.token(&id, &secret, None).await.body["access_token"].as_str().unwrap().to_owned();

    // Management: B sees only its own things, and A's ids are not found.
    let listed = h.api(Method::GET, "/v1/integrations", &admin_b, None).await;
    let ids: Vec<&str> = listed.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b.client_id.as_str()]);
    for (method, path, body) in [
        (Method::GET, format!("/v1/integrations/{id}"), None),
        (
            Method::PATCH,
            format!("/v1/integrations/{id}"),
            Some(json!({"display_name": "hijacked"})),
        ),
        (Method::DELETE, format!("/v1/integrations/{id}"), None),
        (Method::POST, format!("/v1/integrations/{id}/secret"), None),
        (Method::GET, format!("/v1/users/{user_id}"), None),
        (Method::PATCH, format!("/v1/users/{user_id}"), Some(json!({"role": "admin"}))),
        (Method::DELETE, format!("/v1/users/{user_id}"), None),
    ] {
        let reply = h.api(method.clone(), &path, &admin_b, body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.text);
    }
    // Tenant B sees only its own first admin, invited when it was made.
    let users_b = h.api(Method::GET, "/v1/users", &admin_b, None).await;
    let users_b = users_b.body["users"].as_array().unwrap();
    assert_eq!(users_b.len(), 1);
    assert_eq!(users_b[0]["tenant_id"], b.tenant.to_string());
    assert_eq!(users_b[0]["email"], "owner@t.example");
    let audit_b = h.api(Method::GET, "/v1/audit", &admin_b, None).await;
    assert!(!audit_b.text.contains(&id));

    // OAuth: B learns nothing of A's tokens and cannot revoke them.
    assert_eq!(
        h.introspect((&b.client_id, &b.secret), &token_a).await.body,
        json!({"active": false})
    );
    let revoke =
        h.form("/oauth2/revoke", format!("token={token_a}"), Some((&b.client_id, &b.secret))).await;
    assert_eq!(revoke.error(), "unauthorized_client");

    // A's objects are intact.
    assert_eq!(h.introspect((&h.a.client_id, &h.a.secret), &token_a).await.body["active"], true);
    let kept = h.api(Method::GET, &format!("/v1/integrations/{id}"), &admin_a, None).await;
    assert_eq!(kept.body["display_name"], "reader");
    assert_eq!(
        h.api(Method::GET, &format!("/v1/users/{user_id}"), &admin_a, None).await.body["role"],
        "member"
    );
    assert_eq!(h.token(&id, &secret, None).await.status, StatusCode::OK, "secret unchanged");
}

#[tokio::test]
async fn another_tenant_cannot_reach_assets_events_or_policies() {
    let h = Harness::new().await;
    let b = h.add_tenant().await;
    let admin_a = h.admin_token(&h.a).await;
    let admin_b = h.admin_token(&b).await;
    let made = h
        .api(
            Method::POST,
            "/v2/assets",
            &admin_a,
            Some(json!({"attributes": {"arc_display_type": "Crate", "weight": "1t"}})),
        )
        .await;
    let asset = made.body["identity"].as_str().unwrap().to_owned();
    h.api(
        Method::POST,
        &format!("/v2/{asset}/events"),
        &admin_a,
        Some(json!({"event_attributes": {"k": "v"}})),
    )
    .await;
    // Tenant A's policy even names B's integration: policies never reach across tenants.
    let (b_client, b_secret, _) = h
        .create_integration(&admin_b, json!({"display_name": "b app", "scopes": ["assets:read", "assets:write", "events:read", "events:write"]}))
        .await;
    let policy = h
        .api(
            Method::POST,
            "/v1/access_policies",
            &admin_a,
            Some(json!({"display_name": "p", "filters": [{"asset_types": ["*"]}],
                "permissions": [{"actors": [{"client_id": b_client}], "attributes": ["*"], "event_visibility": "all", "write": true}]})),
        )
        .await;
    let policy_id =
        policy.body["identity"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let b_token =
        h.token(&b_client, &b_secret, None).await.body["access_token"].as_str().unwrap().to_owned();

    for token in [&admin_b, &b_token] {
        let listed = h.api(Method::GET, "/v2/assets", token, None).await;
        assert_eq!(listed.body, json!({"assets": [], "next_page_token": ""}));
        for (method, path, body) in [
            (Method::GET, format!("/v2/{asset}"), None),
            (Method::PATCH, format!("/v2/{asset}"), Some(json!({"attributes": {"weight": "0"}}))),
            (Method::DELETE, format!("/v2/{asset}"), None),
            (Method::GET, format!("/v2/{asset}/events"), None),
            (Method::POST, format!("/v2/{asset}/events"), Some(json!({"event_attributes": {}}))),
        ] {
            let reply = h.api(method.clone(), &path, token, body).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.text);
        }
    }
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"display_name": "hijacked"}))),
        (Method::DELETE, None),
    ] {
        let reply = h
            .api(method.clone(), &format!("/v1/access_policies/{policy_id}"), &admin_b, body)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}: {}", reply.text);
    }
    let policies_b = h.api(Method::GET, "/v1/access_policies", &admin_b, None).await;
    assert_eq!(policies_b.body["access_policies"], json!([]));

    // A's data is intact.
    let kept = h.api(Method::GET, &format!("/v2/{asset}"), &admin_a, None).await;
    assert_eq!(kept.body["attributes"]["weight"], "1t");
    let events = h.api(Method::GET, &format!("/v2/{asset}/events"), &admin_a, None).await;
    assert_eq!(events.body["events"].as_array().unwrap().len(), 1);
    let p = h.api(Method::GET, &format!("/v1/access_policies/{policy_id}"), &admin_a, None).await;
    assert_eq!(p.body["display_name"], "p");
}
