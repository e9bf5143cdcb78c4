//! DPoP at the token endpoint (SPEC §16, RFC 9449 §5) through the real router: a proof binds
//! the token to the client's key (`cnf.jkt`, `token_type` `DPoP`); a proof that does not hold,
//! or one used twice, is `invalid_dpop_proof` and no token.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tessera_core::token::SigningAlg;

use crate::federation::key;
use crate::harness::*;

/// A client-credentials request of tenant a's integration with `proofs` as `DPoP` headers.
async fn token_with(h: &Harness, proofs: &[&str]) -> Reply {
    let mut request = Request::post("/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic(&h.a.client_id, &h.a.secret));
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    h.send(request.body(Body::from("grant_type=client_credentials")).unwrap()).await
}

/// The proof's claims for the token endpoint, now, with `change` applied.
fn claims(h: &Harness, jti: &str, change: impl FnOnce(&mut Value)) -> Value {
    let htu = format!("{}/oauth2/token", h.state.config.issuer);
    let mut claims =
        json!({"jti": jti, "htm": "POST", "htu": htu, "iat": h.state.clock.now_seconds()});
    change(&mut claims);
    claims
}

#[tokio::test]
async fn a_dpop_proof_binds_the_token_to_the_clients_key() {
    for h in Harness::on_both_backends().await {
        for alg in [SigningAlg::Es256, SigningAlg::EdDsa] {
            let client_key = key(alg);
            let proof = client_key.sign_dpop_proof(&claims(&h, "p-1", |_| {})).unwrap();
            let bound = token_with(&h, &[&proof]).await;
            assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
            assert_eq!(bound.body["token_type"], "DPoP");
            let token = bound.body["access_token"].as_str().unwrap();
            let checked = h.state.keys.load().verify(token).unwrap();
            let jkt = tessera_core::token::jwk_thumbprint(client_key.public_jwk()).unwrap();
            assert_eq!(checked.cnf.map(|c| c.jkt), Some(jkt.clone()), "{alg:?}");
            // Introspection says so (RFC 9449 §6.2).
            let body = format!("token={token}");
            let seen =
                h.form("/oauth2/introspect", body, Some((&h.a.client_id, &h.a.secret))).await;
            assert_eq!(seen.body["cnf"], json!({"jkt": jkt}), "{}", seen.text);
            assert_eq!(seen.body["token_type"], "DPoP");
        }
        let discovery = h
            .send(Request::get("/.well-known/openid-configuration").body(Body::empty()).unwrap())
            .await;
        let algs = &discovery.body["dpop_signing_alg_values_supported"];
        assert_eq!(algs, &json!(["RS256", "ES256", "EdDSA"]), "{}", discovery.text);
        // Without a proof, a bearer token as before.
        let plain = token_with(&h, &[]).await;
        assert_eq!(plain.body["token_type"], "Bearer", "{}", plain.text);
        let token = plain.body["access_token"].as_str().unwrap();
        assert_eq!(h.state.keys.load().verify(token).unwrap().cnf, None);
    }
}

#[tokio::test]
async fn a_proof_that_does_not_hold_or_comes_twice_is_invalid_dpop_proof() {
    let h = Harness::new().await;
    let client_key = key(SigningAlg::Es256);
    let proof = |jti: &str, change: fn(&mut Value)| {
        client_key.sign_dpop_proof(&claims(&h, jti, change)).unwrap()
    };
    let once = proof("p-1", |_| {});
    assert_eq!(token_with(&h, &[&once]).await.status, StatusCode::OK);
    let old = client_key.sign_dpop_proof(&claims(&h, "p-old", |c| c["iat"] = json!(0))).unwrap();
    for (proofs, says) in [
        (vec![once.clone()], "used already"),
        (vec![proof("p-2", |c| c["htm"] = json!("GET"))], "`htm`"),
        (
            vec![proof("p-3", |c| c["htu"] = json!("https://elsewhere.example/oauth2/token"))],
            "`htu`",
        ),
        (vec![old], "`iat`"),
        (vec![key(SigningAlg::Es256).sign_jwt(&json!({"jti": "x"})).unwrap()], "`typ`"),
        (vec![proof("p-4", |_| {}), proof("p-5", |_| {})], "more than one"),
        (vec!["not-a-proof".to_owned()], "malformed"),
    ] {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let refused = token_with(&h, &proofs).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{says}: {}", refused.text);
        assert_eq!(refused.error(), "invalid_dpop_proof", "{says}: {}", refused.text);
        assert!(refused.description().contains(says), "{says}: {}", refused.text);
    }
}

#[tokio::test]
async fn one_proof_sent_twenty_times_at_once_gets_one_token() {
    let h = Harness::new().await;
    let proof = key(SigningAlg::EdDsa).sign_dpop_proof(&claims(&h, "p-once", |_| {})).unwrap();
    let proofs = [proof.as_str()];
    let answers = futures::future::join_all((0..20).map(|_| token_with(&h, &proofs))).await;
    let issued = answers.iter().filter(|a| a.status == StatusCode::OK).count();
    assert_eq!(issued, 1, "{:?}", answers.iter().map(|a| &a.text).collect::<Vec<_>>());
    assert!(answers
        .iter()
        .all(|a| a.status == StatusCode::OK || a.error() == "invalid_dpop_proof"));
}

/// `GET /v2/assets` with `authorization` and, if given, a `DPoP` proof.
async fn assets(h: &Harness, authorization: &str, proof: Option<&str>) -> Reply {
    let mut request = Request::get("/v2/assets").header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    h.send(request.body(Body::empty()).unwrap()).await
}

/// A proof for `GET /v2/assets` with `token`, by `jti`.
fn api_proof(
    h: &Harness,
    signer: &tessera_core::token::SigningKey,
    jti: &str,
    token: &str,
) -> String {
    let ath = tessera_core::token::access_token_hash(token);
    let claims = claims(h, jti, |c| {
        c["htm"] = json!("GET");
        c["htu"] = json!(format!("{ISSUER}/v2/assets"));
        c["ath"] = json!(ath);
    });
    signer.sign_dpop_proof(&claims).unwrap()
}

#[tokio::test]
async fn the_api_takes_a_bound_token_only_with_a_proof_by_its_key_for_that_request() {
    let h = Harness::new().await;
    let client_key = key(SigningAlg::Es256);
    let proof = client_key.sign_dpop_proof(&claims(&h, "t-1", |_| {})).unwrap();
    let bound = token_with(&h, &[&proof]).await;
    let token = bound.body["access_token"].as_str().unwrap().to_owned();
    let dpop = format!("DPoP {token}");

    let taken = assets(&h, &dpop, Some(&api_proof(&h, &client_key, "a-1", &token))).await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.text);
    let other = key(SigningAlg::Es256);
    for (authorization, proof, code, says) in [
        (format!("Bearer {token}"), None, "invalid_token", "bound to a DPoP key"),
        (dpop.clone(), None, "invalid_dpop_proof", "needs a `DPoP` proof"),
        (
            dpop.clone(),
            Some(api_proof(&h, &client_key, "a-1", &token)),
            "invalid_dpop_proof",
            "used already",
        ),
        (
            dpop.clone(),
            Some(api_proof(&h, &other, "a-3", &token)),
            "invalid_dpop_proof",
            "another key",
        ),
        (
            dpop.clone(),
            Some(api_proof(&h, &client_key, "a-4", "another-token")),
            "invalid_dpop_proof",
            "`ath`",
        ),
        (
            dpop.clone(),
            Some(client_key.sign_dpop_proof(&claims(&h, "a-5", |_| {})).unwrap()),
            "invalid_dpop_proof",
            "`htm`",
        ),
    ] {
        let refused = assets(&h, &authorization, proof.as_deref()).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{says}: {}", refused.text);
        assert_eq!(refused.error(), code, "{says}: {}", refused.text);
        assert!(refused.description().contains(says), "{says}: {}", refused.text);
        let challenge = refused.header("www-authenticate");
        assert!(challenge.starts_with("DPoP ") && challenge.contains(code), "{challenge}");
    }
    // A bearer token sent as DPoP is refused too.
    let plain = token_with(&h, &[]).await.body["access_token"].as_str().unwrap().to_owned();
    let refused = assets(&h, &format!("DPoP {plain}"), None).await;
    assert!(refused.description().contains("not bound"), "{}", refused.text);
}

#[tokio::test]
async fn with_nonces_on_a_proof_must_carry_the_servers_nonce() {
    let h = Harness::configured(|c| c.dpop_nonces = true).await;
    let client_key = key(SigningAlg::EdDsa);
    let first = client_key.sign_dpop_proof(&claims(&h, "n-1", |_| {})).unwrap();
    let asked = token_with(&h, &[&first]).await;
    assert_eq!(asked.status, StatusCode::BAD_REQUEST, "{}", asked.text);
    assert_eq!(asked.error(), "use_dpop_nonce");
    let nonce = asked.header("dpop-nonce").to_owned();
    assert!(!nonce.is_empty());
    let forged =
        client_key.sign_dpop_proof(&claims(&h, "n-2", |c| c["nonce"] = json!("1.forged"))).unwrap();
    assert_eq!(token_with(&h, &[&forged]).await.error(), "use_dpop_nonce");
    let with =
        client_key.sign_dpop_proof(&claims(&h, "n-3", |c| c["nonce"] = json!(nonce))).unwrap();
    let issued = token_with(&h, &[&with]).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    // Five minutes on, the nonce still holds; ten on, a new one is needed.
    h.clock.advance_seconds(300);
    let later =
        client_key.sign_dpop_proof(&claims(&h, "n-4", |c| c["nonce"] = json!(nonce))).unwrap();
    assert_eq!(token_with(&h, &[&later]).await.status, StatusCode::OK);
    h.clock.advance_seconds(300);
    let stale =
        client_key.sign_dpop_proof(&claims(&h, "n-5", |c| c["nonce"] = json!(nonce))).unwrap();
    let refused = token_with(&h, &[&stale]).await;
    assert_eq!(refused.error(), "use_dpop_nonce");
    assert_ne!(refused.header("dpop-nonce"), nonce);
}

#[tokio::test]
async fn an_integration_with_dpop_bound_access_tokens_gets_no_token_without_a_proof() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let body = json!({"display_name": "bound", "dpop_bound_access_tokens": true});
        let (id, secret, made) = h.create_integration(&admin, body).await;
        assert_eq!(made["dpop_bound_access_tokens"], true);
        let refused = h.token(&id, &secret, None).await;
        assert_eq!(refused.error(), "invalid_dpop_proof", "{}", refused.text);
        assert!(refused.description().contains("dpop_bound_access_tokens"), "{}", refused.text);

        let proof = key(SigningAlg::Es256).sign_dpop_proof(&claims(&h, "b-1", |_| {})).unwrap();
        let request = Request::post("/oauth2/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic(&id, &secret))
            .header("dpop", proof);
        let bound =
            h.send(request.body(Body::from("grant_type=client_credentials")).unwrap()).await;
        assert_eq!(bound.body["token_type"], "DPoP", "{}", bound.text);

        let path = format!("/v1/integrations/{id}");
        let off = json!({"dpop_bound_access_tokens": false});
        let patched = h.api(axum::http::Method::PATCH, &path, &admin, Some(off)).await;
        assert_eq!(patched.body["dpop_bound_access_tokens"], false, "{}", patched.text);
        assert_eq!(h.token(&id, &secret, None).await.body["token_type"], "Bearer");
    }
}

/// A token-endpoint POST of `form` with one DPoP proof by `signer` (no client authentication).
async fn public_post(
    h: &Harness,
    form: String,
    signer: &tessera_core::token::SigningKey,
    jti: &str,
) -> Reply {
    let proof = signer.sign_dpop_proof(&claims(h, jti, |_| {})).unwrap();
    let request = Request::post("/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", proof);
    h.send(request.body(Body::from(form)).unwrap()).await
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_the_key_its_code_was_redeemed_with() {
    use crate::authorize::{enc, CALLBACK, VERIFIER};
    let h = Harness::new().await;
    let admin = h.admin_token(&h.a).await;
    let body = json!({"display_name": "CLI agent", "scopes": ["assets:read"], "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"});
    let made = h.api(axum::http::Method::POST, "/v1/integrations", &admin, Some(body)).await;
    let c = crate::authorize::Client {
        id: made.body["client_id"].as_str().unwrap().to_owned(),
        secret: String::new(),
    };
    let pia = crate::console::ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
    let code = crate::authorize::consented_code(&h, &c, &pia).await;
    let holder = key(SigningAlg::Es256);
    let form = format!("grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={VERIFIER}", c.id, enc(&code), enc(CALLBACK));
    let redeemed = public_post(&h, form, &holder, "r-1").await;
    assert_eq!(redeemed.body["token_type"], "DPoP", "{}", redeemed.text);
    let refresh_token = redeemed.body["refresh_token"].as_str().unwrap().to_owned();
    let again = |token: &str| {
        format!("grant_type=refresh_token&client_id={}&refresh_token={}", c.id, enc(token))
    };

    let bare = h.form("/oauth2/token", again(&refresh_token), None).await;
    assert_eq!(bare.error(), "invalid_dpop_proof", "{}", bare.text);
    let thief = public_post(&h, again(&refresh_token), &key(SigningAlg::Es256), "r-2").await;
    assert!(thief.description().contains("bound to a DPoP key"), "{}", thief.text);
    let rotated = public_post(&h, again(&refresh_token), &holder, "r-3").await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let next = rotated.body["refresh_token"].as_str().unwrap();
    assert_eq!(public_post(&h, again(next), &holder, "r-4").await.status, StatusCode::OK);
}
