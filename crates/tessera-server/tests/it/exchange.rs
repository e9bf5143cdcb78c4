//! Token exchange (RFC 8693, SPEC §3.4) through the real router.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_core::token::SigningAlg;

use crate::delegation::{assertion, consent, grant, setup, Setup};
use crate::harness::*;

const EXCHANGE: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange";
const ACCESS_TOKEN: &str = "urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token";

/// Alice's token, got by the connector with the JWT bearer grant.
async fn users_token(h: &Harness, s: &Setup) -> String {
    consent(h, &s.admin, &s.client_id, "alice@example.com", &["assets:read", "events:read"]).await;
    let issued =
        grant(h, &assertion(h, &s.key, &s.client_id, "alice@example.com", |_| {}), None).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    issued.body["access_token"].as_str().unwrap().to_owned()
}

async fn exchange(h: &Harness, caller: (&str, &str), params: &str) -> Reply {
    h.form("/oauth2/token", format!("grant_type={EXCHANGE}&{params}"), Some(caller)).await
}

fn subject(token: &str) -> String {
    format!("subject_token={token}&subject_token_type={ACCESS_TOKEN}")
}

fn token_of(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

fn act_of(h: &Harness, token: &str) -> Value {
    serde_json::to_value(&h.state.validate_token(token).unwrap().act).unwrap()
}

#[tokio::test]
async fn exchanged_tokens_nest_actors_narrow_scope_and_die_with_their_subject() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::EdDsa).await;
    let alice_token = users_token(&h, &s).await;
    let connector = (s.client_id.as_str(), s.secret.as_str());
    let (gateway_id, gateway_secret, _) = h
        .create_integration(
            &s.admin,
            json!({"display_name": "gateway", "scopes": ["assets:read", "assets:write", "impersonation"]}),
        )
        .await;
    let gateway = (gateway_id.as_str(), gateway_secret.as_str());
    let (downstream_id, _, _) =
        h.create_integration(&s.admin, json!({"display_name": "downstream"})).await;

    // The connector narrows its own token: same subject and actor, less scope.
    let narrowed =
        exchange(&h, connector, &format!("{}&scope=assets:read", subject(&alice_token))).await;
    assert_eq!(narrowed.header("cache-control"), "no-store");
    assert_eq!(narrowed.body["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
    assert_eq!(narrowed.body["token_type"], "Bearer");
    assert_eq!(narrowed.body["scope"], "assets:read");
    let narrowed = token_of(&narrowed);
    assert_eq!(act_of(&h, &narrowed), json!({"sub": s.client_id}));
    let claims = h.state.validate_token(&narrowed).unwrap();
    assert_eq!(claims.sub.to_string(), s.alice);
    let listed = h.api(Method::GET, "/v2/assets", &narrowed, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);

    // The gateway acts with Alice's token; the scope is what both have, never more.
    let by_gateway = exchange(&h, gateway, &subject(&alice_token)).await;
    assert_eq!(by_gateway.body["scope"], "assets:read", "{}", by_gateway.text);
    let by_gateway = token_of(&by_gateway);
    assert_eq!(act_of(&h, &by_gateway), json!({"sub": gateway_id, "act": {"sub": s.client_id}}));
    let wider =
        exchange(&h, gateway, &format!("{}&scope=assets:write", subject(&alice_token))).await;
    assert_eq!(wider.status, StatusCode::BAD_REQUEST);
    assert_eq!(wider.error(), "invalid_scope", "{}", wider.text);
    assert!(wider.description().contains("assets:write"), "{}", wider.text);

    // With an actor token and for another audience; then exchanged once more.
    let service_token = token_of(&h.token(&gateway_id, &gateway_secret, None).await);
    let for_downstream = exchange(
        &h,
        gateway,
        &format!(
            "{}&actor_token={service_token}&actor_token_type={ACCESS_TOKEN}&audience={downstream_id}&requested_token_type={ACCESS_TOKEN}",
            subject(&by_gateway)
        ),
    )
    .await;
    let for_downstream = token_of(&for_downstream);
    let claims = h.state.validate_token(&for_downstream).unwrap();
    assert_eq!(claims.aud, downstream_id);
    assert!(claims.exp <= h.state.validate_token(&alice_token).unwrap().exp);
    assert_eq!(
        act_of(&h, &for_downstream),
        json!({"sub": gateway_id, "act": {"sub": gateway_id, "act": {"sub": s.client_id}}})
    );
    // Another audience: not for this server's resource API.
    let refused = h.api(Method::GET, "/v2/assets", &for_downstream, None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);

    // Revoking Alice's token ends everything exchanged from it, at any depth.
    let revoked = h.form("/oauth2/revoke", format!("token={alice_token}"), Some(connector)).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    for token in [&narrowed, &by_gateway, &for_downstream] {
        let seen = h.introspect((&h.a.client_id, &h.a.secret), token).await;
        assert_eq!(seen.body, json!({"active": false}));
    }
    let listed = h.api(Method::GET, "/v2/assets", &narrowed, None).await;
    assert_eq!(listed.status, StatusCode::UNAUTHORIZED);
    let again = exchange(&h, connector, &subject(&narrowed)).await;
    assert_eq!(again.error(), "invalid_grant", "{}", again.text);
    assert!(again.description().contains("subject_token"), "{}", again.text);
    // The gateway's own service token is untouched.
    let seen = h.introspect(gateway, &service_token).await;
    assert_eq!(seen.body["active"], true);
}

#[tokio::test]
async fn deleting_the_subject_tokens_integration_ends_exchanged_tokens() {
    let (h, admin) = Harness::with_admin().await;
    let (origin_id, origin_secret, _) = h
        .create_integration(&admin, json!({"display_name": "origin", "scopes": ["assets:read"]}))
        .await;
    let (gateway_id, gateway_secret, _) = h
        .create_integration(
            &admin,
            json!({"display_name": "gateway", "scopes": ["assets:read", "impersonation"]}),
        )
        .await;
    let original = token_of(&h.token(&origin_id, &origin_secret, None).await);
    let exchanged =
        token_of(&exchange(&h, (&gateway_id, &gateway_secret), &subject(&original)).await);
    assert_eq!(
        act_of(&h, &exchanged),
        json!({"sub": gateway_id}),
        "the first actor of a client's own token"
    );
    let deleted =
        h.api(Method::DELETE, &format!("/v1/integrations/{origin_id}"), &admin, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    let seen = h.introspect((&gateway_id, &gateway_secret), &exchanged).await;
    assert_eq!(seen.body, json!({"active": false}));
}

/// Asserts each `(caller, params)` exchange is a 400 with `error` and a description that
/// contains `words`, never cached.
async fn refused_each(h: &Harness, cases: Vec<((&str, &str), String, &str, &str)>) {
    for (caller, params, error, words) in cases {
        let reply = exchange(h, caller, &params).await;
        reply.bad_request(&params);
        assert_eq!(reply.error(), error, "{params}: {}", reply.text);
        assert!(reply.description().contains(words), "{params}: {}", reply.text);
        assert_eq!(reply.header("cache-control"), "no-store");
    }
}

#[tokio::test]
async fn every_malformed_exchange_is_refused_with_the_parameter_named() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::Es256).await;
    let alice = users_token(&h, &s).await;
    let c = (s.client_id.as_str(), s.secret.as_str());
    let (plain_id, plain_secret, _) = h
        .create_integration(&s.admin, json!({"display_name": "plain", "scopes": ["assets:read"]}))
        .await;
    let plain_token = token_of(&h.token(&plain_id, &plain_secret, None).await);
    let with = |extra: &str| format!("{}{extra}", subject(&alice));
    let saml = "urn:ietf:params:oauth:token-type:saml2";
    let refresh = "urn:ietf:params:oauth:token-type:refresh_token";
    // (caller, params, error, words the description must contain)
    refused_each(
        &h,
        vec![
            (c, String::new(), "invalid_request", "subject_token"),
            (c, format!("subject_token={alice}"), "invalid_request", "subject_token_type"),
            (
                c,
                format!("subject_token={alice}&subject_token_type={saml}"),
                "invalid_request",
                "subject_token_type",
            ),
            (c, subject("not.a.token"), "invalid_grant", "subject_token"),
            (
                c,
                with(&format!("&requested_token_type={refresh}")),
                "invalid_request",
                "requested_token_type",
            ),
            (
                c,
                with(&format!("&actor_token_type={ACCESS_TOKEN}")),
                "invalid_request",
                "actor_token",
            ),
            (c, with(&format!("&actor_token={alice}")), "invalid_request", "actor_token_type"),
            (
                c,
                with(&format!("&actor_token={plain_token}&actor_token_type={ACCESS_TOKEN}")),
                "invalid_grant",
                "actor_token",
            ),
            (c, with("&audience=https://elsewhere.example"), "invalid_target", "audience"),
            (c, with("&resource=https://api.example"), "invalid_target", "resource"),
            (c, with("&scope=admin"), "invalid_scope", "admin"),
        ],
    )
    .await;
}

#[tokio::test]
async fn only_an_integration_that_may_act_for_users_exchanges_and_only_toward_its_tenant() {
    let h = Harness::new().await;
    let s = setup(&h, SigningAlg::Es256).await;
    let alice = users_token(&h, &s).await;
    let connector = (s.client_id.as_str(), s.secret.as_str());
    let (plain_id, plain_secret, _) = h
        .create_integration(&s.admin, json!({"display_name": "plain", "scopes": ["assets:read"]}))
        .await;
    let other = h.add_tenant().await;
    let other_admin = h.admin_token(&other).await;
    let foreign = json!({"display_name": "foreign", "scopes": ["assets:read", "impersonation"]});
    let (foreign_id, foreign_secret, _) = h.create_integration(&other_admin, foreign).await;
    refused_each(
        &h,
        vec![
            (
                connector,
                format!("{}&audience={foreign_id}", subject(&alice)),
                "invalid_target",
                "audience",
            ),
            ((&plain_id, &plain_secret), subject(&alice), "unauthorized_client", "impersonation"),
            (
                (&foreign_id, &foreign_secret),
                subject(&alice),
                "unauthorized_client",
                "another integration",
            ),
        ],
    )
    .await;

    // Without client authentication: invalid_client, 401.
    let anonymous =
        h.form("/oauth2/token", format!("grant_type={EXCHANGE}&{}", subject(&alice)), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.error(), "invalid_client");

    // Discovery names the grant.
    let get = axum::http::Request::get("/.well-known/oauth-authorization-server");
    let discovery = h.send(get.body(axum::body::Body::empty()).unwrap()).await;
    let grants = discovery.body["grant_types_supported"].as_array().unwrap().clone();
    assert!(grants.contains(&json!("urn:ietf:params:oauth:grant-type:token-exchange")));
}

#[tokio::test]
async fn withdrawing_a_consent_ends_the_tokens_issued_under_it() {
    for h in Harness::on_both_backends().await {
        let s = setup(&h, SigningAlg::EdDsa).await;
        let connector = (s.client_id.as_str(), s.secret.as_str());
        let own = consent(&h, &s.admin, &s.client_id, "alice@example.com", &["assets:read"]).await;
        let everyone = consent(&h, &s.admin, &s.client_id, "*", &["events:read"]).await;
        let fresh = || assertion(&h, &s.key, &s.client_id, "alice@example.com", |_| {});
        let both = token_of(&grant(&h, &fresh(), Some("assets:read events:read")).await);
        let assets_only = token_of(&grant(&h, &fresh(), Some("assets:read")).await);
        let exchanged = token_of(
            &exchange(&h, connector, &format!("{}&scope=assets%3Aread", subject(&both))).await,
        );
        for token in [&both, &assets_only, &exchanged] {
            assert_eq!(h.introspect(connector, token).await.body["active"], true);
            assert_eq!(h.api(Method::GET, "/v2/assets", token, None).await.status, StatusCode::OK);
        }
        let withdraw =
            |reply: &Reply| format!("/v1/consents/{}", reply.body["id"].as_str().unwrap());

        // The consent for all users withdrawn: the token that needed `events:read` ends; the
        // others are still within Alice's own consent.
        let gone = h.api(Method::DELETE, &withdraw(&everyone), &s.admin, None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
        assert_eq!(h.introspect(connector, &both).await.body, json!({"active": false}));
        let refused = h.api(Method::GET, "/v2/assets", &both, None).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.text.contains("no longer consents"), "{}", refused.text);
        for token in [&assets_only, &exchanged] {
            assert_eq!(h.introspect(connector, token).await.body["active"], true);
        }

        // Alice's own consent withdrawn: every token acting for her under it ends, the one
        // exchanged from a token of hers too.
        h.api(Method::DELETE, &withdraw(&own), &s.admin, None).await;
        for token in [&assets_only, &exchanged] {
            assert_eq!(h.introspect(connector, token).await.body, json!({"active": false}));
            assert_eq!(
                h.api(Method::GET, "/v2/assets", token, None).await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        // The integration's own token does not act for anyone and is untouched.
        let own_token = token_of(&h.token(&s.client_id, &s.secret, None).await);
        assert_eq!(h.introspect(connector, &own_token).await.body["active"], true);
    }
}
