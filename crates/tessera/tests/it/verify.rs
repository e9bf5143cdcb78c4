//! `tessera-verify` against the real server: a resource server checks Tessera's own tokens,
//! signed with each algorithm, with the keys it finds through Tessera's discovery.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use tessera_verify::{PushSubscription, Verifier, VerifyError};

use crate::{
    access_token, claims, data_dir, made_integration, made_tenant, serve, BOOT_ID, BOOT_SECRET,
};

#[tokio::test]
async fn a_resource_server_checks_tessera_tokens_of_every_signing_algorithm() {
    for alg in ["RS256", "ES256", "EdDSA"] {
        let (_guard, dir) = data_dir();
        let server = serve(&dir, &["--signing-alg", alg], true);
        let token = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
        let audience = claims(&token)["aud"].as_str().unwrap().to_owned();

        let verifier = Verifier::builder(&server.url, &audience).build();
        let checked = verifier.verify(&token).await.unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(checked.client_id, BOOT_ID, "{alg}");
        assert!(checked.tenant.is_some(), "{alg}: {checked:?}");
        let scoped = verifier.verify_scopes(&token, &["admin".to_owned()]).await;
        assert!(scoped.is_ok(), "{alg}: the operator's token carries `admin`: {scoped:?}");

        // Another resource's verifier, or another issuer's, refuses the same token.
        let elsewhere = Verifier::builder(&server.url, "https://elsewhere.example/api").build();
        let refused = elsewhere.verify(&token).await;
        assert!(matches!(refused, Err(VerifyError::WrongAudience(_))), "{alg}: {refused:?}");
        let other = Verifier::builder(format!("{}/", server.url), &audience).build();
        let refused = other.verify(&token).await;
        assert!(matches!(refused, Err(VerifyError::KeysUnavailable(_))), "{alg}: {refused:?}");
    }
}

/// Revokes `token` at `url` as the bootstrap integration (RFC 7009).
async fn revoke(url: &str, token: &str) {
    let reply = reqwest::Client::new()
        .post(format!("{url}/oauth2/revoke"))
        .basic_auth(BOOT_ID, Some(BOOT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
}

/// How long until `verifier` refuses `token` as revoked (it must have taken it before), at most
/// two seconds.
async fn refused_after(verifier: &Verifier, token: &str, since: Instant) -> Duration {
    loop {
        match verifier.verify(token).await {
            Err(VerifyError::Revoked(_)) => return since.elapsed(),
            Ok(_) if since.elapsed() < Duration::from_secs(2) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            other => panic!("after {:?}: {other:?}", since.elapsed()),
        }
    }
}

/// A receiver integration (`security_events`) of the operator tenant, which hears every tenant.
async fn receiver(url: &str) -> (String, String) {
    made_integration(url, json!({"display_name": "audit API", "scopes": ["security_events"]})).await
}

/// A service on loopback whose `/ssf` hands Tessera's pushes to `push`, answering RFC 8935's way.
async fn push_endpoint(listener: tokio::net::TcpListener, push: Arc<OnceLock<PushSubscription>>) {
    let app = axum::Router::new().route(
        "/ssf",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let push = push.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                let Some(push) = push.get() else {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({})));
                };
                match push.receive(auth, &body).await {
                    Ok(()) => (axum::http::StatusCode::ACCEPTED, axum::Json(json!({}))),
                    Err(refused) => (refused.status, axum::Json(refused.body())),
                }
            }
        }),
    );
    axum::serve(listener, app).await.unwrap();
}

#[tokio::test]
async fn a_subscribed_verifier_refuses_a_revoked_token_within_a_second_by_poll_and_by_push() {
    let _timing = crate::TIMING.lock().await;
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let (id, secret) = receiver(&server.url).await;
    let token = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let audience = claims(&token)["aud"].as_str().unwrap().to_owned();

    let polled = Verifier::builder(&server.url, &audience).build();
    let subscription = polled.subscribe_by_poll(&id, &secret).await.unwrap();
    let pushed = Verifier::builder(&server.url, &audience).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/ssf", listener.local_addr().unwrap());
    let slot = Arc::new(OnceLock::new());
    tokio::spawn(push_endpoint(listener, slot.clone()));
    let push = pushed.subscribe_by_push(&id, &secret, &endpoint, "Bearer rs-only").await.unwrap();
    assert_ne!(push.stream_id(), subscription.stream_id());
    let wrong = push.receive(Some("Bearer guess"), "x").await.unwrap_err();
    assert_eq!((wrong.status.as_u16(), wrong.err), (401, "authentication_failed"));
    let forged = push.receive(Some("Bearer rs-only"), "e30.e30.e30").await.unwrap_err();
    assert_eq!((forged.status.as_u16(), forged.err), (400, "invalid_key"), "{forged}");
    let _ = slot.set(push);

    for verifier in [&polled, &pushed] {
        verifier.verify(&token).await.unwrap();
    }
    let since = Instant::now();
    revoke(&server.url, &token).await;
    let by_poll = refused_after(&polled, &token, since).await;
    let by_push = refused_after(&pushed, &token, since).await;
    eprintln!("revocation honoured after {by_poll:?} (poll) and {by_push:?} (push)");
    assert!(by_poll < Duration::from_secs(1) && by_push < Duration::from_secs(1));

    // Deleting the integration a token was issued to, and disabling its tenant, end it too.
    let (tenant, admin_id, admin_secret) =
        made_tenant(&server.url, "Fleet", "o@fleet.example").await;
    let theirs = access_token(&server.url, &admin_id, &admin_secret).await;
    let (other, other_secret) =
        made_integration(&server.url, json!({"display_name": "doomed"})).await;
    let doomed = access_token(&server.url, &other, &other_secret).await;
    for t in [&theirs, &doomed] {
        polled.verify(t).await.unwrap();
    }
    let platform = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let since = Instant::now();
    let path = format!("{}/v1/tenants/{tenant}", server.url);
    let disabled = reqwest::Client::new()
        .patch(path)
        .bearer_auth(&platform)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert!(refused_after(&polled, &theirs, since).await < Duration::from_secs(1));
    let since = Instant::now();
    let gone = reqwest::Client::new()
        .delete(format!("{}/v1/integrations/{other}", server.url))
        .bearer_auth(&platform)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    assert!(refused_after(&polled, &doomed, since).await < Duration::from_secs(1));
    assert!(polled.verify(&access_token(&server.url, BOOT_ID, BOOT_SECRET).await).await.is_ok());
}

#[tokio::test]
async fn a_revocation_queued_while_nobody_listens_survives_a_restart_of_tessera() {
    let (_guard, dir) = data_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let server = serve(&dir, &["--listen", &listen], true);
    let (id, secret) = receiver(&server.url).await;
    let token = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let audience = claims(&token)["aud"].as_str().unwrap().to_owned();
    let first = Verifier::builder(&server.url, &audience).build();
    let stream = first.subscribe_by_poll(&id, &secret).await.unwrap().stream_id().to_owned();
    drop(first);
    revoke(&server.url, &token).await;
    drop(server);

    let server = serve(&dir, &["--listen", &listen], true);
    let again = Verifier::builder(&server.url, &audience).build();
    let subscription = again.subscribe_by_poll(&id, &secret).await.unwrap();
    assert_eq!(subscription.stream_id(), stream, "the stream is found again, with what it kept");
    refused_after(&again, &token, Instant::now()).await;
}

#[tokio::test]
async fn a_subscribed_verifier_refuses_the_tokens_of_a_withdrawn_consent_within_a_second() {
    let _timing = crate::TIMING.lock().await;
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let (id, secret) = receiver(&server.url).await;
    let agent = json!({"display_name": "Agent", "scopes": ["assets:read"], "redirect_uris": ["http://127.0.0.1/cb"]});
    let (agent_id, agent_secret) = made_integration(&server.url, agent).await;
    let person = crate::interop::person_token(&server.url, (&agent_id, &agent_secret)).await;
    let audience = claims(&person)["aud"].as_str().unwrap().to_owned();
    let verifier = Verifier::builder(&server.url, &audience).build();
    let _subscription = verifier.subscribe_by_poll(&id, &secret).await.unwrap();
    let checked = verifier.verify(&person).await.unwrap();
    assert_eq!(checked.extra["tessera_consent"], agent_id.as_str(), "{checked:?}");

    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let consents = crate::get_json(format!("{}/v1/consents", server.url), &admin).await;
    let consent = consents["consents"][0]["id"].as_str().expect("the person's consent").to_owned();
    let since = Instant::now();
    let withdrawn = reqwest::Client::new()
        .delete(format!("{}/v1/consents/{consent}", server.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 204);
    let after = refused_after(&verifier, &person, since).await;
    assert!(after < Duration::from_secs(1), "{after:?}");
    // The verifier's other tokens stand.
    assert!(verifier.verify(&access_token(&server.url, BOOT_ID, BOOT_SECRET).await).await.is_ok());
}
