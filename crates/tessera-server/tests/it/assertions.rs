//! Public keys on integrations and `private_key_jwt` client authentication (RFC 7523 §2.2)
//! through the real router.

use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_core::ports::{Clock, OsRng};
use tessera_core::token::{SigningAlg, SigningKey};

use crate::harness::*;

pub const TOKEN_URL: &str = "http://tessera.test/oauth2/token";

/// Registers the public half of a fresh key on the integration; returns the key and its kid.
pub async fn register_key(
    h: &Harness,
    admin: &str,
    client_id: &str,
    alg: SigningAlg,
) -> (SigningKey, String) {
    let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
    let reply = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{client_id}/keys"),
            admin,
            Some(json!({ "jwk": key.public_jwk() })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let kid = reply.body["kid"].as_str().unwrap().to_owned();
    assert_eq!(kid, key.kid());
    (key, kid)
}

pub fn jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A client assertion: `iss` = `sub` = the client, for `aud`.
pub fn client_assertion(h: &Harness, key: &SigningKey, client_id: &str, aud: &str) -> String {
    let now = h.clock.now_millis() / 1000;
    key.sign_jwt(&json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 300, "jti": jti()}))
        .unwrap()
}

pub fn assertion_form(assertion: &str, rest: &str) -> String {
    format!(
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}{rest}"
    )
}

/// A self-signed certificate made by the `openssl` command-line tool, valid for a day.
fn certificate(dir: &std::path::Path, algorithm: &[&str]) -> String {
    let key = dir.join("key.pem");
    let cert = dir.join("cert.pem");
    let status = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=connector"])
        .args(algorithm)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl command runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    std::fs::read_to_string(cert).unwrap()
}

#[tokio::test]
async fn keys_are_registered_as_jwks_or_certificates_and_listed_without_secrets() {
    let (h, admin) = Harness::with_admin().await;
    let (id, _, _) = h.create_integration(&admin, reader()).await;
    register_key(&h, &admin, &id, SigningAlg::EdDsa).await;

    let dir = tempfile::tempdir().unwrap();
    for (args, alg) in [
        (vec!["-newkey", "rsa:2048"], "RS256"),
        (vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "ES256"),
        (vec!["-newkey", "ed25519"], "EdDSA"),
    ] {
        let pem = certificate(dir.path(), &args);
        let reply = h
            .api(
                Method::POST,
                &format!("/v1/integrations/{id}/keys"),
                &admin,
                Some(json!({"certificate": pem})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{alg}: {}", reply.text);
        assert_eq!(reply.body["alg"], alg);
        assert!(reply.body["not_after"].as_str().unwrap().ends_with('Z'));
    }
    let listed = h.api(Method::GET, &format!("/v1/integrations/{id}/keys"), &admin, None).await;
    let keys = listed.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|k| k["jwk"].get("d").is_none()));
}

#[tokio::test]
async fn a_bad_key_is_refused_by_its_field_and_another_tenant_reaches_none() {
    let (h, admin) = Harness::with_admin().await;
    let (id, _, _) = h.create_integration(&admin, reader()).await;
    let (key, kid) = register_key(&h, &admin, &id, SigningAlg::EdDsa).await;
    let dir = tempfile::tempdir().unwrap();
    // Errors name the field; nothing is stored.
    let mut private = key.public_jwk().clone();
    private["d"] = json!("c2VjcmV0");
    let p384 = json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"});
    for (body, field) in [
        (json!({"jwk": private}), "jwk"),
        (json!({"jwk": p384}), "jwk"),
        (json!({}), "jwk"),
        (json!({"jwk": key.public_jwk(), "certificate": "x"}), "jwk"),
        (
            json!({"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}),
            "certificate",
        ),
    ] {
        let reply =
            h.api(Method::POST, &format!("/v1/integrations/{id}/keys"), &admin, Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
        assert_eq!(reply.body["field"], field, "{}", reply.text);
    }
    let duplicate = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{id}/keys"),
            &admin,
            Some(json!({"jwk": key.public_jwk()})),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    // A certificate that has expired by the time it is registered is refused.
    let pem = certificate(dir.path(), &["-newkey", "ed25519"]);
    h.clock.advance_seconds(2 * 86_400);
    let admin = h.admin_token(&h.a).await;
    let expired = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{id}/keys"),
            &admin,
            Some(json!({"certificate": pem})),
        )
        .await;
    assert_eq!(expired.status, StatusCode::BAD_REQUEST);
    assert!(expired.description().contains("expired"), "{}", expired.text);

    // Another tenant cannot see, add or delete.
    let b = h.add_tenant().await;
    let admin_b = h.admin_token(&b).await;
    for (method, path, body) in [
        (Method::GET, format!("/v1/integrations/{id}/keys"), None),
        (
            Method::POST,
            format!("/v1/integrations/{id}/keys"),
            Some(
                json!({"jwk": SigningKey::generate(SigningAlg::EdDsa, &OsRng).unwrap().0.public_jwk()}),
            ),
        ),
        (Method::DELETE, format!("/v1/integrations/{id}/keys/{kid}"), None),
    ] {
        let reply = h.api(method.clone(), &path, &admin_b, body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.text);
    }

    let deleted =
        h.api(Method::DELETE, &format!("/v1/integrations/{id}/keys/{kid}"), &admin, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again =
        h.api(Method::DELETE, &format!("/v1/integrations/{id}/keys/{kid}"), &admin, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let listed = h.api(Method::GET, &format!("/v1/integrations/{id}/keys"), &admin, None).await;
    assert!(listed.body["keys"].as_array().unwrap().is_empty(), "{}", listed.text);
}

#[tokio::test]
async fn private_key_jwt_authenticates_at_every_oauth_endpoint_once_per_assertion() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    for alg in SigningAlg::ALL {
        let (key, _) = register_key(&h, &admin, &id, alg).await;
        let assertion = client_assertion(&h, &key, &id, TOKEN_URL);
        let form = assertion_form(&assertion, "&grant_type=client_credentials");
        let issued = h.form("/oauth2/token", form.clone(), None).await;
        assert_eq!(issued.status, StatusCode::OK, "{alg:?}: {}", issued.text);
        let token = issued.body["access_token"].as_str().unwrap().to_owned();
        let claims = h.state.validate_token(&token).unwrap();
        assert_eq!(claims.sub.to_string(), id);

        // The same assertion again: refused, with the reason.
        let replay = h.form("/oauth2/token", form, None).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert_eq!(replay.error(), "invalid_client");
        assert!(replay.description().contains("used before"), "{}", replay.text);

        // Introspection and revocation take assertions for themselves or for the issuer.
        let intro = client_assertion(&h, &key, &id, "http://tessera.test/oauth2/introspect");
        let reply = h
            .form("/oauth2/introspect", assertion_form(&intro, &format!("&token={token}")), None)
            .await;
        assert_eq!(reply.body["active"], true, "{}", reply.text);
        let revoke = client_assertion(&h, &key, &id, ISSUER);
        let reply = h
            .form("/oauth2/revoke", assertion_form(&revoke, &format!("&token={token}")), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(h.introspect((&id, &secret), &token).await.body["active"], false);
    }
}

#[tokio::test]
async fn a_wrong_client_assertion_is_invalid_client_with_the_check_that_failed() {
    let (h, admin) = Harness::with_admin().await;
    let (id, secret, _) = h.create_integration(&admin, reader()).await;
    let (key, _) = register_key(&h, &admin, &id, SigningAlg::Es256).await;
    let now = h.clock.now_millis() / 1000;
    let sign = |claims: Value| key.sign_jwt(&claims).unwrap();
    let cases = [
        (
            sign(
                json!({"iss": id, "sub": id, "aud": "https://elsewhere", "exp": now + 60, "jti": jti()}),
            ),
            "aud",
        ),
        (
            sign(
                json!({"iss": id, "sub": "someone-else", "aud": TOKEN_URL, "exp": now + 60, "jti": jti()}),
            ),
            "`sub` must equal",
        ),
        (
            sign(json!({"iss": id, "sub": id, "aud": TOKEN_URL, "exp": now - 3600, "jti": jti()})),
            "expired",
        ),
        (sign(json!({"iss": id, "sub": id, "aud": TOKEN_URL, "exp": now + 60})), "`jti`"),
        (
            sign(
                json!({"iss": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "sub": "x", "aud": TOKEN_URL, "exp": now + 60, "jti": jti()}),
            ),
            "not a registered integration",
        ),
        ("not-a-jwt".to_owned(), "not a signed JWT"),
    ];
    for (assertion, why) in cases {
        let reply = h
            .form(
                "/oauth2/token",
                assertion_form(&assertion, "&grant_type=client_credentials"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{why}: {}", reply.text);
        assert_eq!(reply.error(), "invalid_client");
        assert!(reply.description().contains(why), "{why}: {}", reply.text);
        assert!(reply.header("www-authenticate").contains("invalid_client"));
    }

    // Twice authenticated, or the wrong assertion type: invalid_request.
    let both = h
        .form(
            "/oauth2/token",
            assertion_form(
                &client_assertion(&h, &key, &id, TOKEN_URL),
                &format!("&grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            ),
            None,
        )
        .await;
    assert_eq!(both.error(), "invalid_request", "{}", both.text);
    let wrong_type = h
        .form(
            "/oauth2/token",
            format!(
                "grant_type=client_credentials&client_assertion_type=x&client_assertion={}",
                client_assertion(&h, &key, &id, TOKEN_URL)
            ),
            None,
        )
        .await;
    assert_eq!(wrong_type.error(), "invalid_request");
}

#[tokio::test]
async fn a_deleted_key_stops_working_at_once() {
    let (h, admin) = Harness::with_admin().await;
    let (id, _, _) = h.create_integration(&admin, reader()).await;
    let (key, kid) = register_key(&h, &admin, &id, SigningAlg::Es256).await;
    h.api(Method::DELETE, &format!("/v1/integrations/{id}/keys/{kid}"), &admin, None).await;
    let gone = h
        .form(
            "/oauth2/token",
            assertion_form(
                &client_assertion(&h, &key, &id, TOKEN_URL),
                "&grant_type=client_credentials",
            ),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert!(gone.description().contains("no public key"), "{}", gone.text);
}
