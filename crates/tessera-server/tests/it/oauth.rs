//! The OAuth endpoints: token, introspection, revocation, JWKS, discovery.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;
use tessera_core::token::{DecodedJws, SigningAlg, VerifyingKey};

use crate::harness::*;

#[tokio::test]
async fn client_credentials_with_basic_auth_issues_an_rfc9068_token() {
    for alg in SigningAlg::ALL {
        let h = Harness::with_alg(alg).await;
        let admin = h.admin_token(&h.a).await;
        let (id, secret, _) = h.create_integration(&admin, reader()).await;
        let reply = h.token(&id, &secret, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.body["token_type"], "Bearer");
        assert_eq!(reply.body["expires_in"], 3600);
        assert_eq!(reply.body["scope"], "assets:read events:read");
        let token = reply.body["access_token"].as_str().unwrap();

        let jwks = h.send(Request::get("/oauth2/jwks").body(Body::empty()).unwrap()).await;
        let decoded = DecodedJws::decode(token).unwrap();
        decoded.verify_with(&VerifyingKey::from_jwks(&jwks.body)).unwrap();
        assert_eq!(decoded.header["typ"], "at+jwt");
        assert_eq!(decoded.header["alg"], alg.as_str());
        assert!(decoded.header["kid"].is_string());
        let p = &decoded.payload;
        for claim in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "client_id",
            "scope",
            "tenant_id",
            "tier",
            "name",
        ] {
            assert!(!p[claim].is_null(), "{claim} missing");
        }
        assert_eq!(p["iss"], ISSUER);
        assert_eq!(p["sub"], id.as_str());
        assert_eq!(p["client_id"], id.as_str());
        assert_eq!(p["tenant_id"], h.a.tenant.to_string());
        // Tenant A is the operator tenant, made ENTERPRISE at first start.
        assert_eq!(p["tier"], "ENTERPRISE");
        assert_eq!(p["name"], "reader");
        assert_eq!(p["department"], "ops");
        assert_eq!(p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(), 3600);
    }
}

#[tokio::test]
async fn client_secret_post_works_and_scope_narrows() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    let body = format!(
        "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=events%3Aread"
    );
    let reply = h.form("/oauth2/token", body, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["scope"], "events:read");
}

#[tokio::test]
async fn scope_beyond_the_integration_is_invalid_scope_naming_it() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    let reply = h.token(&id, &secret, Some("assets:read admin")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error(), "invalid_scope");
    assert!(reply.description().contains("`admin`"), "{}", reply.text);
    assert_eq!(reply.header("cache-control"), "no-store");
    let reply = h.token(&id, &secret, Some("assets:admin")).await;
    assert_eq!(reply.error(), "invalid_scope");
    assert!(reply.description().contains("assets:admin"));
}

#[tokio::test]
async fn wrong_or_unknown_credentials_are_invalid_client_with_a_challenge() {
    let h = Harness::new().await;
    let wrong = h.token(&h.a.client_id, "not-the-secret", None).await;
    let unknown = h.token("8d3f4c1e-0000-4000-8000-000000000000", "whatever", None).await;
    let not_uuid = h.token("nope", "whatever", None).await;
    for reply in [&wrong, &unknown, &not_uuid] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.error(), "invalid_client");
        assert!(reply.header("www-authenticate").starts_with("Basic realm=\"tessera\""));
        assert_eq!(reply.header("cache-control"), "no-store");
    }
    // The same words for both, so that client ids cannot be discovered.
    assert_eq!(wrong.description(), unknown.description());
}

#[tokio::test]
async fn missing_or_doubled_client_authentication_is_refused() {
    let h = Harness::new().await;
    let none = h.form("/oauth2/token", "grant_type=client_credentials", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.error(), "invalid_client");
    let no_secret = h
        .form(
            "/oauth2/token",
            format!("grant_type=client_credentials&client_id={}", h.a.client_id),
            None,
        )
        .await;
    assert_eq!(no_secret.error(), "invalid_client");
    assert!(no_secret.description().contains("client_secret"));
    let both = h
        .form(
            "/oauth2/token",
            format!("grant_type=client_credentials&client_secret={}", h.a.secret),
            Some((&h.a.client_id, &h.a.secret)),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(both.error(), "invalid_request");
    let garbled = h
        .send(
            Request::post("/oauth2/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::AUTHORIZATION, "Basic %%%")
                .body(Body::from("grant_type=client_credentials"))
                .unwrap(),
        )
        .await;
    assert_eq!(garbled.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn grant_type_missing_or_unknown_is_named() {
    let h = Harness::new().await;
    let auth = Some((h.a.client_id.as_str(), h.a.secret.as_str()));
    let missing = h.form("/oauth2/token", "scope=admin", auth).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error(), "invalid_request");
    assert!(missing.description().contains("`grant_type`"));
    let unknown = h.form("/oauth2/token", "grant_type=password", auth).await;
    assert_eq!(unknown.error(), "unsupported_grant_type");
    assert!(unknown.description().contains("`password`"));
}

#[tokio::test]
async fn get_on_the_token_endpoint_is_refused_with_allow_post() {
    let h = Harness::new().await;
    let reply = h
        .send(
            Request::get("/oauth2/token?grant_type=client_credentials")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), "POST");
    assert_eq!(reply.error(), "invalid_request");
}

#[tokio::test]
async fn failed_authentication_is_rate_limited_per_client() {
    let h = Harness::new().await;
    for _ in 0..20 {
        assert_eq!(h.token(&h.a.client_id, "wrong", None).await.status, StatusCode::UNAUTHORIZED);
    }
    let blocked = h.token(&h.a.client_id, &h.a.secret, None).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blocked.header("retry-after"), "60");
    h.clock.advance_seconds(61);
    assert_eq!(h.token(&h.a.client_id, &h.a.secret, None).await.status, StatusCode::OK);
}

/// A token request with Basic credentials from `peer`, as a connection from there would carry.
async fn token_from(h: &Harness, peer: &str, id: &str, secret: &str) -> Reply {
    h.send(token_request(peer, &[], id, secret)).await
}

/// A client-credentials request from `peer` with `headers` added.
pub(crate) fn token_request(
    peer: &str,
    headers: &[(&str, &str)],
    id: &str,
    secret: &str,
) -> Request<Body> {
    let mut request = Request::post("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, basic(id, secret));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    with_peer(request.body(Body::from("grant_type=client_credentials")).unwrap(), peer)
}

#[tokio::test]
async fn wrong_secrets_slow_the_address_that_sent_them_not_the_owner_elsewhere() {
    let h = Harness::new().await;
    let (id, secret) = (h.a.client_id.clone(), h.a.secret.clone());
    for _ in 0..20 {
        let reply = token_from(&h, "192.0.2.66", &id, "wrong").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    // The attacker's address waits, even with the right secret; the owner's does not.
    let attacker = token_from(&h, "192.0.2.66", &id, &secret).await;
    assert_eq!(attacker.status, StatusCode::TOO_MANY_REQUESTS);
    let owner = token_from(&h, "198.51.100.7", &id, &secret).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text);
    // Many clients failing from one address block that address for everyone it sends.
    for n in 0..200 {
        token_from(&h, "192.0.2.77", &format!("not-a-client-{n}"), "x").await;
    }
    let flood = token_from(&h, "192.0.2.77", &id, &secret).await;
    assert_eq!(flood.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(token_from(&h, "198.51.100.7", &id, &secret).await.status, StatusCode::OK);
}

#[tokio::test]
async fn introspection_answers_active_with_claims_and_inactive_otherwise() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    let token = h.token(&id, &secret, None).await.body["access_token"].as_str().unwrap().to_owned();
    let caller = (h.a.client_id.as_str(), h.a.secret.as_str());

    let active = h.introspect(caller, &token).await;
    assert_eq!(active.status, StatusCode::OK);
    assert_eq!(active.header("cache-control"), "no-store");
    assert_eq!(active.body["active"], true);
    assert_eq!(active.body["client_id"], id.as_str());
    assert_eq!(active.body["scope"], "assets:read events:read");
    assert_eq!(active.body["token_type"], "Bearer");
    assert_eq!(active.body["department"], "ops");

    let mut tampered = token.clone();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    assert_eq!(h.introspect(caller, &tampered).await.body, serde_json::json!({"active": false}));
    assert_eq!(h.introspect(caller, "not.a.jwt").await.body["active"], false);

    h.clock.advance_seconds(3600 + 10);
    let expired = h.introspect(caller, &token).await;
    assert_eq!(expired.body, serde_json::json!({"active": false}));

    let missing = h.form("/oauth2/introspect", "token_type_hint=access_token", Some(caller)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.description().contains("`token`"));
    let unauthenticated = h.form("/oauth2/introspect", format!("token={token}"), None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_token_is_inactive_and_refused_by_the_management_api() {
    let (h, admin) = Harness::with_admin().await;
    let second_admin = h.admin_token(&h.a).await;
    let caller = (h.a.client_id.as_str(), h.a.secret.as_str());
    assert_eq!(h.api(Method::GET, "/v1/integrations", &admin, None).await.status, StatusCode::OK);

    let revoked = h
        .form("/oauth2/revoke", format!("token={admin}&token_type_hint=access_token"), Some(caller))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(h.introspect(caller, &admin).await.body["active"], false);
    let refused = h.api(Method::GET, "/v1/integrations", &admin, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.header("www-authenticate").contains("error=\"invalid_token\""));
    assert!(refused.description().contains("revoked"));
    // Other tokens of the same integration still work.
    assert_eq!(
        h.api(Method::GET, "/v1/integrations", &second_admin, None).await.status,
        StatusCode::OK
    );
    // RFC 7009 §2.2: revoking garbage or twice is not an error.
    assert_eq!(
        h.form("/oauth2/revoke", "token=garbage", Some(caller)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.form("/oauth2/revoke", format!("token={admin}"), Some(caller)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_integration_cannot_revoke_another_integrations_token() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    let (other_id, other_secret, _) = h.create_integration(&admin, reader()).await;
    let token = h.token(&id, &secret, None).await.body["access_token"].as_str().unwrap().to_owned();
    let refused =
        h.form("/oauth2/revoke", format!("token={token}"), Some((&other_id, &other_secret))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.error(), "unauthorized_client");
    assert_eq!(h.introspect((&h.a.client_id, &h.a.secret), &token).await.body["active"], true);
    // Its own tenant's admin integration may.
    let by_admin = h
        .form("/oauth2/revoke", format!("token={token}"), Some((&h.a.client_id, &h.a.secret)))
        .await;
    assert_eq!(by_admin.status, StatusCode::OK);
    assert_eq!(h.introspect((&h.a.client_id, &h.a.secret), &token).await.body["active"], false);
}

#[tokio::test]
async fn jwks_and_both_discovery_documents_describe_the_server() {
    let h = Harness::with_alg(SigningAlg::Es256).await;
    let jwks = h.send(Request::get("/oauth2/jwks").body(Body::empty()).unwrap()).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let key = &jwks.body["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["alg"], "ES256");
    assert!(key.get("d").is_none(), "no private part");
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let d = h.send(Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(d.status, StatusCode::OK);
        assert_eq!(d.body["issuer"], ISSUER);
        assert_eq!(d.body["token_endpoint"], format!("{ISSUER}/oauth2/token"));
        assert_eq!(d.body["jwks_uri"], format!("{ISSUER}/oauth2/jwks"));
        assert_eq!(d.body["introspection_endpoint"], format!("{ISSUER}/oauth2/introspect"));
        assert_eq!(d.body["revocation_endpoint"], format!("{ISSUER}/oauth2/revoke"));
        assert_eq!(
            d.body["grant_types_supported"],
            serde_json::json!([
                "client_credentials",
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ])
        );
        assert_eq!(
            d.body["token_endpoint_auth_signing_alg_values_supported"],
            serde_json::json!(["RS256", "ES256", "EdDSA"])
        );
        let methods: Vec<Value> =
            d.body["token_endpoint_auth_methods_supported"].as_array().unwrap().clone();
        assert!(
            methods.contains(&Value::from("client_secret_basic"))
                && methods.contains(&Value::from("client_secret_post"))
                && methods.contains(&Value::from("private_key_jwt"))
        );
        assert!(d.body["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("assets:read")));
        assert_eq!(d.body["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));
    }
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_publishes_both_keys() {
    let h = Harness::new().await;
    let before = h.admin_token(&h.a).await;
    tessera_server::hot::keys::rotate(
        &*h.storage,
        &h.state.master_key,
        SigningAlg::EdDsa,
        &*h.clock,
        &tessera_core::ports::OsRng,
    )
    .await
    .unwrap();
    h.state.apply(&tessera_core::ports::Change::SigningKeys).await.unwrap();
    let after = h.admin_token(&h.a).await;
    let kid = |t: &str| DecodedJws::decode(t).unwrap().header["kid"].clone();
    assert_ne!(kid(&before), kid(&after));
    let jwks = h.send(Request::get("/oauth2/jwks").body(Body::empty()).unwrap()).await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 2);
    let caller = (h.a.client_id.as_str(), h.a.secret.as_str());
    assert_eq!(h.introspect(caller, &before).await.body["active"], true);
    assert_eq!(h.introspect(caller, &after).await.body["active"], true);
}
