//! The JWT bearer grant (RFC 7523 §2.1) and consents (SPEC §3.3) through the real router.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_core::ports::Clock;
use tessera_core::token::{SigningAlg, SigningKey};

use crate::assertions::{jti, register_key, TOKEN_URL};
use crate::harness::*;

const JWT_BEARER: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

pub struct Setup {
    pub admin: String,
    pub client_id: String,
    pub secret: String,
    pub key: SigningKey,
    pub alice: String,
}

pub async fn setup(h: &Harness, alg: SigningAlg) -> Setup {
    let admin = h.admin_token(&h.a).await;
    let (client_id, secret, _) = h
        .create_integration(&admin, json!({"display_name": "connector", "scopes": ["assets:read", "events:read", "impersonation"]}))
        .await;
    let (key, _) = register_key(h, &admin, &client_id, alg).await;
    let alice = create_user(h, &admin, "alice@example.com").await;
    Setup { admin, client_id, secret, key, alice }
}

pub async fn create_user(h: &Harness, admin: &str, email: &str) -> String {
    let reply = h
        .api(
            Method::POST,
            "/v1/users",
            admin,
            Some(json!({"email": email, "display_name": "U", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

pub fn assertion(
    h: &Harness,
    key: &SigningKey,
    iss: &str,
    sub: &str,
    edit: impl Fn(&mut Value),
) -> String {
    let now = h.clock.now_millis() / 1000;
    let mut claims = json!({"iss": iss, "sub": sub, "aud": TOKEN_URL, "iat": now, "exp": now + 300, "jti": jti()});
    edit(&mut claims);
    key.sign_jwt(&claims).unwrap()
}

/// An assertion with `alg: none`.
fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&json!({"alg": "none"})), b64(claims))
}

pub async fn grant(h: &Harness, assertion: &str, scope: Option<&str>) -> Reply {
    let scope = scope.map(|s| format!("&scope={}", s.replace(' ', "+"))).unwrap_or_default();
    h.form("/oauth2/token", format!("grant_type={JWT_BEARER}&assertion={assertion}{scope}"), None)
        .await
}

pub async fn consent(
    h: &Harness,
    admin: &str,
    client_id: &str,
    user: &str,
    scopes: &[&str],
) -> Reply {
    h.api(
        Method::POST,
        "/v1/consents",
        admin,
        Some(json!({"client_id": client_id, "user": user, "scopes": scopes})),
    )
    .await
}

#[tokio::test]
async fn an_integration_gets_a_users_token_once_the_user_consented() {
    for alg in SigningAlg::ALL {
        let h = Harness::new().await;
        let s = setup(&h, alg).await;
        let refused =
            grant(&h, &assertion(&h, &s.key, &s.client_id, "alice@example.com", |_| {}), None)
                .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(refused.error(), "consent_required", "{}", refused.text);
        assert!(refused.description().contains("/v1/consents"), "{}", refused.text);
        assert_eq!(refused.header("cache-control"), "no-store");

        let given =
            consent(&h, &s.admin, &s.client_id, "Alice@Example.com", &["assets:read"]).await;
        assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
        assert_eq!(given.body["user_id"], s.alice.as_str());

        // By email or by id; the same assertion twice is refused.
        let by_email = assertion(&h, &s.key, &s.client_id, "alice@example.com", |_| {});
        let issued = grant(&h, &by_email, None).await;
        assert_eq!(issued.status, StatusCode::OK, "{alg:?}: {}", issued.text);
        assert_eq!(issued.body["scope"], "assets:read");
        let claims = h.state.validate_token(issued.body["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(claims.sub.to_string(), s.alice);
        assert_eq!(claims.client_id.to_string(), s.client_id);
        assert_eq!(serde_json::to_value(&claims.act).unwrap(), json!({"sub": s.client_id}));
        assert_eq!(claims.tenant_id, h.a.tenant);
        let replay = grant(&h, &by_email, None).await;
        assert_eq!(replay.error(), "invalid_grant");
        assert!(replay.description().contains("used before"), "{}", replay.text);
        let by_id =
            grant(&h, &assertion(&h, &s.key, &s.client_id, &s.alice, |_| {}), Some("assets:read"))
                .await;
        assert_eq!(by_id.status, StatusCode::OK, "{}", by_id.text);

        // More than was consented is invalid_scope.
        let more =
            grant(&h, &assertion(&h, &s.key, &s.client_id, &s.alice, |_| {}), Some("events:read"))
                .await;
        assert_eq!(more.error(), "invalid_scope", "{}", more.text);
    }
}

#[tokio::test]
async fn the_users_token_sees_what_policies_grant_the_user() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::EdDsa).await;
    consent(&h, &s.admin, &s.client_id, "*", &["assets:read"]).await;
    h.api(
        Method::POST,
        "/v2/assets",
        &s.admin,
        Some(json!({"attributes": {"arc_display_type": "Crate", "owner": "alice"}})),
    )
    .await;
    h.api(
        Method::POST,
        "/v1/access_policies",
        &s.admin,
        Some(json!({"display_name": "alice", "filters": [{"asset_types": ["Crate"]}],
            "permissions": [{"actors": [{"email": "alice@example.com"}], "attributes": ["owner"]}]})),
    )
    .await;
    let token =
        grant(&h, &assertion(&h, &s.key, &s.client_id, "alice@example.com", |_| {}), None).await;
    let token = token.body["access_token"].as_str().unwrap().to_owned();
    let listed = h.api(Method::GET, "/v2/assets", &token, None).await;
    assert_eq!(
        listed.body["assets"][0]["attributes"],
        json!({"owner": "alice"}),
        "{}",
        listed.text
    );
    // The integration itself, named by no policy, still sees nothing.
    let own = h.token(&s.client_id, &s.secret, Some("assets:read")).await;
    let own = own.body["access_token"].as_str().unwrap().to_owned();
    let listed = h.api(Method::GET, "/v2/assets", &own, None).await;
    assert_eq!(listed.body["assets"], json!([]));
}

#[tokio::test]
async fn every_rejection_of_a_bearer_assertion_says_why() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::Es256).await;
    consent(&h, &s.admin, &s.client_id, "*", &["assets:read"]).await;
    let (stranger, _) =
        SigningKey::generate(SigningAlg::Es256, &tessera_core::ports::OsRng).unwrap();
    let now = h.clock.now_millis() / 1000;
    let a =
        |edit: &dyn Fn(&mut Value)| assertion(&h, &s.key, &s.client_id, "alice@example.com", edit);
    let cases: Vec<(String, &str, &str)> = vec![
        (a(&|c| c["aud"] = json!("https://elsewhere.example")), "invalid_grant", "`aud`"),
        (a(&|c| c["exp"] = json!(now - 600)), "invalid_grant", "expired"),
        (a(&|c| c["exp"] = json!(now + 7200)), "invalid_grant", "more than one hour"),
        (a(&|c| c["nbf"] = json!(now + 600)), "invalid_grant", "not valid yet"),
        (a(&|c| c["iat"] = json!(now + 600)), "invalid_grant", "`iat` is in the future"),
        (a(&|c| { c.as_object_mut().unwrap().remove("jti"); }), "invalid_grant", "`jti`"),
        (a(&|c| { c.as_object_mut().unwrap().remove("sub"); }), "invalid_grant", "`sub`"),
        (a(&|c| c["sub"] = json!("nobody@example.com")), "invalid_grant", "not a user"),
        (a(&|c| c["iss"] = json!("1b4e28ba-2fa1-11d2-883f-0016d3cca427")), "invalid_grant", "not a registered integration"),
        (stranger.sign_jwt(&json!({"iss": s.client_id, "sub": "alice@example.com", "aud": TOKEN_URL, "exp": now + 60, "jti": jti()})).unwrap(), "invalid_grant", "no public key"),
        (unsigned(&json!({"iss": s.client_id, "sub": "alice@example.com", "aud": TOKEN_URL, "exp": now + 60, "jti": jti()})), "invalid_grant", "`alg` `none`"),
    ];
    for (assertion, error, why) in cases {
        let reply = grant(&h, &assertion, None).await;
        reply.bad_request(&why);
        assert_eq!(reply.error(), error, "{why}: {}", reply.text);
        assert!(reply.description().contains(why), "{why}: {}", reply.text);
    }
    let missing = h.form("/oauth2/token", format!("grant_type={JWT_BEARER}"), None).await;
    assert_eq!(missing.error(), "invalid_request");
    assert!(missing.description().contains("`assertion`"));

    // Authenticated as one integration, asserting as another.
    let (other_id, other_secret, _) = h.create_integration(&s.admin, reader()).await;
    let mismatch = h
        .form(
            "/oauth2/token",
            format!("grant_type={JWT_BEARER}&assertion={}", a(&|_| {})),
            Some((&other_id, &other_secret)),
        )
        .await;
    assert_eq!(mismatch.error(), "invalid_grant", "{}", mismatch.text);

    // An integration without `impersonation` may not act for users at all.
    let (plain, _, _) = h.create_integration(&s.admin, reader()).await;
    let (plain_key, _) = register_key(&h, &s.admin, &plain, SigningAlg::EdDsa).await;
    consent(&h, &s.admin, &plain, "*", &["assets:read"]).await;
    let reply =
        grant(&h, &assertion(&h, &plain_key, &plain, "alice@example.com", |_| {}), None).await;
    assert_eq!(reply.error(), "unauthorized_client", "{}", reply.text);
    assert!(reply.description().contains("impersonation"));

    // Withdrawing the consent stops new tokens.
    let listed = h.api(Method::GET, "/v1/consents", &s.admin, None).await;
    for c in listed.body["consents"].as_array().unwrap() {
        if c["client_id"] == s.client_id.as_str() {
            let gone = h
                .api(
                    Method::DELETE,
                    &format!("/v1/consents/{}", c["id"].as_str().unwrap()),
                    &s.admin,
                    None,
                )
                .await;
            assert_eq!(gone.status, StatusCode::NO_CONTENT);
        }
    }
    let reply = grant(&h, &a(&|_| {}), None).await;
    assert_eq!(reply.error(), "consent_required", "{}", reply.text);
}

#[tokio::test]
async fn consents_are_given_by_admins_with_clear_errors() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::EdDsa).await;
    for (body, field) in [
        (json!({"client_id": "nope", "user": "*", "scopes": ["assets:read"]}), "client_id"),
        (
            json!({"client_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "user": "*", "scopes": ["assets:read"]}),
            "client_id",
        ),
        (
            json!({"client_id": s.client_id, "user": "ghost@example.com", "scopes": ["assets:read"]}),
            "user",
        ),
        (json!({"client_id": s.client_id, "user": "*", "scopes": ["everything"]}), "scopes"),
        (json!({"client_id": s.client_id, "user": "*", "scopes": []}), "scopes"),
    ] {
        let reply = h.api(Method::POST, "/v1/consents", &s.admin, Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    let first = consent(&h, &s.admin, &s.client_id, "alice@example.com", &["assets:read"]).await;
    let again =
        consent(&h, &s.admin, &s.client_id, "alice@example.com", &["assets:read", "events:read"])
            .await;
    assert_eq!(first.body["id"], again.body["id"], "one consent per integration and user");
    let listed = h.api(Method::GET, "/v1/consents", &s.admin, None).await;
    assert_eq!(listed.body["consents"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["consents"][0]["scopes"], json!(["assets:read", "events:read"]));

    let (_, reader_token) = {
        let (id, secret, _) = h.create_integration(&s.admin, reader()).await;
        let t = h.token(&id, &secret, None).await;
        (id, t.body["access_token"].as_str().unwrap().to_owned())
    };
    let forbidden = h.api(Method::GET, "/v1/consents", &reader_token, None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    for id in ["nope", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"] {
        let reply = h.api(Method::DELETE, &format!("/v1/consents/{id}"), &s.admin, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
    // Another tenant does not see or withdraw it.
    let b = h.add_tenant().await;
    let admin_b = h.admin_token(&b).await;
    assert_eq!(
        h.api(Method::GET, "/v1/consents", &admin_b, None).await.body["consents"],
        json!([])
    );
    let id = first.body["id"].as_str().unwrap();
    assert_eq!(
        h.api(Method::DELETE, &format!("/v1/consents/{id}"), &admin_b, None).await.status,
        StatusCode::NOT_FOUND
    );
    let audit = h.audit_actions(&s.admin, "consent.given").await;
    assert!(!audit.is_empty());
}

#[tokio::test]
async fn another_tenants_users_only_where_that_tenant_granted_impersonation() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::Rs256).await;
    let b = h.add_tenant().await;
    let admin_b = h.admin_token(&b).await;
    let bob = create_user(&h, &admin_b, "bob@b.example").await;
    let ask = |sub: &str| assertion(&h, &s.key, &s.client_id, sub, |_| {});

    // Tenant B consents without `impersonation`: A's integration learns nothing of Bob.
    consent(&h, &admin_b, &s.client_id, "*", &["assets:read"]).await;
    let reply = grant(&h, &ask(&bob), None).await;
    assert_eq!(reply.error(), "invalid_grant", "{}", reply.text);
    assert!(reply.description().contains("not a user"));
    // B's email means nothing in A's tenant.
    assert_eq!(grant(&h, &ask("bob@b.example"), None).await.error(), "invalid_grant");

    consent(&h, &admin_b, &s.client_id, "*", &["assets:read", "impersonation"]).await;
    let reply = grant(&h, &ask(&bob), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["scope"], "assets:read");
    let claims = h.state.validate_token(reply.body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims.tenant_id, b.tenant, "the token reaches B's data");
    assert_eq!(claims.sub.to_string(), bob);
}

#[tokio::test]
async fn a_disabled_tenant_ends_the_impersonation_tokens_reaching_it_and_gives_no_more() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::EdDsa).await;
    let b = h.add_tenant().await;
    let admin_b = h.admin_token(&b).await;
    let bob = create_user(&h, &admin_b, "bob@b.example").await;
    consent(&h, &admin_b, &s.client_id, "*", &["assets:read", "impersonation"]).await;
    let ask = || assertion(&h, &s.key, &s.client_id, &bob, |_| {});
    let reply = grant(&h, &ask(), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let token = reply.body["access_token"].as_str().unwrap().to_owned();
    assert!(h.state.validate_token(&token).is_ok());

    let platform = h.admin_token(&h.a).await;
    h.api(
        Method::PATCH,
        &format!("/v1/tenants/{}", b.tenant),
        &platform,
        Some(json!({"disabled": true})),
    )
    .await;
    let refused = h.state.validate_token(&token).unwrap_err();
    assert_eq!(refused, tessera_server::state::TokenRejection::TenantDisabled);
    let again = grant(&h, &ask(), None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error(), "invalid_grant");
    assert!(again.description().contains("disabled"), "{}", again.text);
}

#[tokio::test]
async fn a_users_token_does_not_make_connection_urls_for_its_integration() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::EdDsa).await;
    let given = consent(&h, &s.admin, &s.client_id, "alice@example.com", &["assets:read"]).await;
    assert_eq!(given.status, StatusCode::CREATED, "{}", given.text);
    let alices =
        grant(&h, &assertion(&h, &s.key, &s.client_id, "alice@example.com", |_| {}), None).await;
    let alices = alices.body["access_token"].as_str().unwrap().to_owned();
    // Alice's token names the integration as its client, but it is Alice's: the connection
    // URLs of the integration are the integration's (or a tenant admin's) to make.
    let made = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{}/connection_url", s.client_id),
            &alices,
            Some(json!({"scopes": ["assets:read"], "state": "x"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::FORBIDDEN, "{}", made.text);
}
