//! Resource servers (SPEC §15, RFC 8707) through the real router: `/v1/resource_servers` and
//! each refusal, tenants kept apart, and `resource` at the authorization and token endpoints
//! setting the token's audience and bounding its scopes.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::authorize::*;
use crate::console::ConsoleSession;
use crate::harness::*;

const TOOLS: &str = "https://Tools.example.com/mcp";

async fn register(h: &Harness, admin: &str, body: Value) -> Reply {
    h.api(Method::POST, "/v1/resource_servers", admin, Some(body)).await
}

#[tokio::test]
async fn an_admin_registers_lists_changes_and_removes_a_resource_server() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let made = register(
            &h,
            &admin,
            json!({"identifier": TOOLS, "display_name": "Fleet tools", "scopes": ["events:read"]}),
        )
        .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert_eq!(made.body["identifier"], TOOLS, "kept as registered: it is the tokens' aud");
        assert_eq!(made.body["scopes"], json!(["events:read"]));
        let id = made.body["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("resource_servers/"));
        let path = format!("/v1/{id}");

        let listed = h.api(Method::GET, "/v1/resource_servers", &admin, None).await;
        assert_eq!(listed.body["resource_servers"][0]["id"], id.as_str());
        let got = h.api(Method::GET, &path, &admin, None).await;
        assert_eq!(got.body["display_name"], "Fleet tools");

        let changed = h
            .api(
                Method::PATCH,
                &path,
                &admin,
                Some(json!({"scopes": ["events:read", "assets:read"]})),
            )
            .await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
        assert_eq!(changed.body["scopes"], json!(["assets:read", "events:read"]));
        assert_eq!(changed.body["identifier"], TOOLS);

        // Another tenant sees none of it.
        let b = h.add_tenant().await;
        let other = h.admin_token(&b).await;
        assert_eq!(h.api(Method::GET, &path, &other, None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(h.api(Method::DELETE, &path, &other, None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            h.api(Method::GET, "/v1/resource_servers", &other, None).await.body["resource_servers"],
            json!([])
        );
        // …and may register the same URL for itself.
        assert_eq!(
            register(&h, &other, json!({"identifier": TOOLS})).await.status,
            StatusCode::CREATED
        );

        assert_eq!(h.api(Method::DELETE, &path, &admin, None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(h.api(Method::GET, &path, &admin, None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(h.api(Method::DELETE, &path, &admin, None).await.status, StatusCode::NOT_FOUND);
        let actions: Vec<Value> = h
            .audit_actions(&admin, "resource_server.deleted")
            .await
            .iter()
            .map(|e| e["action"].clone())
            .collect();
        for action in
            ["resource_server.created", "resource_server.updated", "resource_server.deleted"]
        {
            assert!(actions.contains(&json!(action)), "{action}: {actions:?}");
        }
    }
}

#[tokio::test]
async fn a_bad_resource_server_is_refused_by_field_and_nothing_is_stored() {
    let h = Harness::new().await;
    let admin = h.admin_token(&h.a).await;
    assert_eq!(
        register(&h, &admin, json!({"identifier": TOOLS})).await.status,
        StatusCode::CREATED
    );
    for (body, says) in [
        (json!({"identifier": "http://tools.example.com"}), "`identifier` must use https"),
        (
            json!({"identifier": "https://tools.example.com/?x=1"}),
            "`identifier` must not have a ?query",
        ),
        (json!({"identifier": "tools"}), "`identifier` is not an absolute URL"),
        (
            json!({"identifier": "https://x.example", "scopes": ["admin"]}),
            "`scopes` `admin` is not a scope",
        ),
        (
            json!({"identifier": "https://x.example", "scopes": []}),
            "`scopes` must name at least one",
        ),
        (
            json!({"identifier": "https://x.example", "display_name": "x".repeat(201)}),
            "`display_name`",
        ),
        (json!({"identifier": "https://x.example", "audience": "x"}), "audience"),
        (json!({"display_name": "x"}), "identifier"),
    ] {
        register(&h, &admin, body.clone()).await.refused(&body, says);
    }
    // The same resource however it is spelled.
    let twice =
        register(&h, &admin, json!({"identifier": "https://tools.example.com:443/mcp"})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
    assert!(twice.text.contains("already has a resource server"), "{}", twice.text);
    let listed = h.api(Method::GET, "/v1/resource_servers", &admin, None).await;
    assert_eq!(listed.body["resource_servers"].as_array().unwrap().len(), 1);
    let id = listed.body["resource_servers"][0]["id"].as_str().unwrap().to_owned();
    let bad = h
        .api(Method::PATCH, &format!("/v1/{id}"), &admin, Some(json!({"scopes": ["platform"]})))
        .await;
    bad.refused(&"a patch to `platform`", "`scopes`");
    let kept = h.api(Method::GET, &format!("/v1/{id}"), &admin, None).await;
    assert_eq!(kept.body["scopes"].as_array().unwrap().len(), 5, "the patch changed nothing");
    let (id, secret, _) = h
        .create_integration(&admin, json!({"display_name": "Reader", "scopes": ["assets:read"]}))
        .await;
    let member = h.token(&id, &secret, None).await;
    let member = member.body["access_token"].as_str().unwrap();
    assert_eq!(
        h.api(Method::GET, "/v1/resource_servers", member, None).await.status,
        StatusCode::FORBIDDEN
    );
}

/// The person's answer to a consent page for `path`: the code.
async fn allowed_code(h: &Harness, person: &ConsoleSession, path: &str) -> String {
    let page = person.get(h, path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let request = crate::connections::hidden(&page.text, "request");
    let answer =
        person.post(h, "/oauth2/authorize", &[("request", &request), ("decision", "allow")]).await;
    location(&answer).1["code"].clone()
}

async fn redeem_for(h: &Harness, c: &Client, code: &str, resource: &str) -> Reply {
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}&resource={}",
        enc(code),
        enc(CALLBACK),
        enc(resource)
    );
    h.form("/oauth2/token", body, Some((&c.id, &c.secret))).await
}

#[tokio::test]
async fn resource_sets_the_audience_bounds_the_scopes_and_is_consented_on_its_own() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        register(
            &h,
            &admin,
            json!({"identifier": TOOLS, "display_name": "Fleet tools", "scopes": ["events:read"]}),
        )
        .await;
        let c = client(&h).await;
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let spelled = "https://tools.example.com/mcp";
        let path = authorize_path(&c.id, &[("resource", Some(spelled))]);
        let page = pia.get(&h, &path).await;
        assert!(page.text.contains("Fleet tools"), "{}", page.text);
        assert!(
            page.text.contains("read events of assets") && !page.text.contains("read assets<"),
            "only what the resource accepts: {}",
            page.text
        );

        let code = allowed_code(&h, &pia, &path).await;
        // The token request must name the same resource, however spelled.
        let wrong = redeem_for(&h, &c, &code, ISSUER).await;
        assert_eq!(wrong.error(), "invalid_target", "{}", wrong.text);
        // Remembered now: straight back with a code.
        let code = location(&pia.get(&h, &path).await).1["code"].clone();
        let issued = redeem_for(&h, &c, &code, spelled).await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        let claims =
            h.state.keys.load().verify(issued.body["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims.aud, TOOLS, "the identifier as registered");
        assert_eq!(claims.scope.to_string(), "events:read");

        // The consent does not cover another resource server of the tenant: that one asks.
        register(
            &h,
            &admin,
            json!({"identifier": "https://reports.example.com", "scopes": ["events:read"]}),
        )
        .await;
        let reports = pia
            .get(&h, &authorize_path(&c.id, &[("resource", Some("https://reports.example.com"))]))
            .await;
        assert_eq!(reports.status, StatusCode::OK, "a consent page: {}", reports.text);
        let consents = h.api(Method::GET, "/v1/consents", &admin, None).await;
        assert_eq!(
            consents.body["consents"][0]["resources"],
            json!(["https://tools.example.com/mcp"])
        );
    }
}

#[tokio::test]
async fn an_unknown_or_foreign_resource_is_invalid_target() {
    let h = Harness::new().await;
    let b = h.add_tenant().await;
    let other = h.admin_token(&b).await;
    register(&h, &other, json!({"identifier": "https://b-only.example.com"})).await;
    let c = client(&h).await;
    let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
    for resource in ["https://unknown.example.com", "https://b-only.example.com", "not a uri"] {
        let path = authorize_path(&c.id, &[("resource", Some(resource))]);
        // Signed out, the sign-in comes first: whose resource servers count is not known yet.
        if resource.starts_with("https") {
            let first = signed_out(&h, &path).await;
            assert_eq!(first.header("location").split('?').next(), Some("/console/sign-in"));
        }
        let (to, params) = location(&pia.get(&h, &path).await);
        assert_eq!(to, CALLBACK);
        assert_eq!(params["error"], "invalid_target", "{resource}: {params:?}");
        assert_eq!(params["state"], "st-1");
    }
    // Scopes the resource does not accept are named.
    let admin = h.admin_token(&h.a).await;
    register(&h, &admin, json!({"identifier": TOOLS, "scopes": ["events:read"]})).await;
    let path = authorize_path(&c.id, &[("resource", Some(TOOLS)), ("scope", Some("assets:read"))]);
    let (_, params) = location(&pia.get(&h, &path).await);
    assert_eq!(params["error"], "invalid_scope");
    assert!(params["error_description"].contains("does not accept"), "{params:?}");
}
