//! Shared Signals (SPEC §16, OpenID SSF 1.0) through the real router: the transmitter's
//! metadata, a receiver's streams, the signed SETs each revocation puts on them, poll delivery
//! (RFC 8936) with acknowledgements, and push delivery (RFC 8935) to a receiver on loopback.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_core::token::{event_type, verify_security_event, VerifyingKey};

use crate::harness::*;

const POLL: &str = "urn:ietf:rfc:8936";
const PUSH: &str = "urn:ietf:rfc:8935";

/// An integration of `admin`'s tenant holding `security_events`, and a token of it.
async fn receiver(h: &Harness, admin: &TenantAdmin) -> (String, String) {
    let token = h.admin_token(admin).await;
    let body = json!({"display_name": "audit-trail API", "scopes": ["security_events"]});
    let (id, secret, _) = h.create_integration(&token, body).await;
    let reply = h.token(&id, &secret, Some("security_events")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    (id, reply.body["access_token"].as_str().unwrap().to_owned())
}

/// A poll stream of the receiver, asking for every event type Tessera sends.
async fn poll_stream(h: &Harness, token: &str) -> String {
    let body = json!({"delivery": {"method": POLL}, "events_requested": event_type::ALL});
    let made = h.api(Method::POST, "/ssf/streams", token, Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    made.body["stream_id"].as_str().unwrap().to_owned()
}

/// Polls at once, acknowledging `ack`; the SETs' claims, each verified with the JWKS.
async fn poll(h: &Harness, token: &str, stream: &str, ack: &[String]) -> Vec<Value> {
    let body = json!({"returnImmediately": true, "ack": ack});
    let reply = h.api(Method::POST, &format!("/ssf/poll/{stream}"), token, Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["sets"]
        .as_object()
        .unwrap()
        .values()
        .map(|set| verified(h, set.as_str().unwrap()))
        .collect()
}

/// Every SET the stream holds, in the order it was queued: one a poll, each acknowledged by
/// the next (a poll's `sets` is an object, so one poll says nothing of order).
async fn drain(h: &Harness, token: &str, stream: &str) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let ack: Vec<String> =
            all.last().map(|c| c["jti"].as_str().unwrap().to_owned()).into_iter().collect();
        let body = json!({"returnImmediately": true, "ack": ack, "maxEvents": 1});
        let reply = h.api(Method::POST, &format!("/ssf/poll/{stream}"), token, Some(body)).await;
        let Some(set) = reply.body["sets"].as_object().unwrap().values().next().cloned() else {
            return all;
        };
        all.push(verified(h, set.as_str().unwrap()));
    }
}

fn verified(h: &Harness, set: &str) -> Value {
    let jwks: Value = serde_json::from_str(h.state.keys.load().jwks_json()).unwrap();
    let claims = verify_security_event(set, &VerifyingKey::from_jwks(&jwks)).unwrap();
    assert_eq!(claims["iss"], ISSUER);
    claims
}

/// The one event of a SET: its type and its payload.
fn event(claims: &Value) -> (String, Value) {
    let (kind, payload) = claims["events"].as_object().unwrap().iter().next().unwrap();
    (kind.clone(), payload.clone())
}

#[tokio::test]
async fn the_transmitter_describes_itself_at_its_well_known_address() {
    let h = Harness::new().await;
    let reply = h
        .send(
            axum::http::Request::get("/.well-known/ssf-configuration")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["issuer"], ISSUER);
    assert_eq!(reply.body["jwks_uri"], format!("{ISSUER}/oauth2/jwks"));
    assert_eq!(reply.body["delivery_methods_supported"], json!([PUSH, POLL]));
    assert_eq!(reply.body["configuration_endpoint"], format!("{ISSUER}/ssf/streams"));
    assert_eq!(reply.body["verification_endpoint"], format!("{ISSUER}/ssf/verify"));
    assert_eq!(reply.body["events_supported"], json!(event_type::ALL));
}

#[tokio::test]
async fn a_receiver_creates_reads_changes_and_deletes_its_own_streams() {
    for h in Harness::on_both_backends().await {
        let (client, token) = receiver(&h, &h.a).await;
        let body = json!({"delivery": {"method": POLL}, "events_requested": [event_type::TOKEN_REVOKED, "urn:other:event"], "description": "audit trail"});
        let made = h.api(Method::POST, "/ssf/streams", &token, Some(body)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let id = made.body["stream_id"].as_str().unwrap().to_owned();
        assert_eq!(made.body["aud"], client);
        assert_eq!(made.body["delivery"]["endpoint_url"], format!("{ISSUER}/ssf/poll/{id}"));
        assert_eq!(
            made.body["events_delivered"],
            json!([event_type::TOKEN_REVOKED]),
            "unknown types are not delivered"
        );

        let read = h.api(Method::GET, &format!("/ssf/streams?stream_id={id}"), &token, None).await;
        assert_eq!(read.body, made.body);
        let all = h.api(Method::GET, "/ssf/streams", &token, None).await;
        assert_eq!(all.body, json!([made.body]));

        let patch = json!({"stream_id": id, "events_requested": [event_type::SESSION_REVOKED]});
        let patched = h.api(Method::PATCH, "/ssf/streams", &token, Some(patch)).await;
        assert_eq!(
            patched.body["events_delivered"],
            json!([event_type::SESSION_REVOKED]),
            "{}",
            patched.text
        );
        assert_eq!(
            patched.body["description"], "audit trail",
            "a PATCH keeps what it does not name"
        );
        let put = json!({"stream_id": id, "delivery": {"method": PUSH, "endpoint_url": "https://rs.example/ssf", "authorization_header": "Bearer s3cret"}});
        let replaced = h.api(Method::PUT, "/ssf/streams", &token, Some(put)).await;
        assert_eq!(
            replaced.body["delivery"],
            json!({"method": PUSH, "endpoint_url": "https://rs.example/ssf"}),
            "{}",
            replaced.text
        );
        assert_eq!(replaced.body["description"], Value::Null, "a PUT clears what it leaves out");
        assert!(!replaced.text.contains("s3cret"), "the push header is never shown again");

        let status = json!({"stream_id": id, "status": "paused", "reason": "maintenance"});
        let paused = h.api(Method::POST, "/ssf/status", &token, Some(status)).await;
        assert_eq!(
            paused.body,
            json!({"stream_id": id, "status": "paused", "reason": "maintenance"})
        );
        let read = h.api(Method::GET, &format!("/ssf/status?stream_id={id}"), &token, None).await;
        assert_eq!(read.body["status"], "paused");

        let gone =
            h.api(Method::DELETE, &format!("/ssf/streams?stream_id={id}"), &token, None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
        let again = h.api(Method::GET, &format!("/ssf/streams?stream_id={id}"), &token, None).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        let admin = h.admin_token(&h.a).await;
        h.audit_actions(&admin, "event_stream.deleted").await;
    }
}

#[tokio::test]
async fn stream_requests_that_do_not_hold_are_refused_naming_what_is_wrong() {
    let h = Harness::new().await;
    let (_, token) = receiver(&h, &h.a).await;
    let create = |body: Value| {
        let token = token.clone();
        let h = &h;
        async move { h.api(Method::POST, "/ssf/streams", &token, Some(body)).await }
    };
    create(json!({})).await.bad_request(&"`delivery.method`");
    create(json!({"delivery": {"method": "urn:smoke:signal"}}))
        .await
        .bad_request(&"urn:ietf:rfc:8935");
    create(json!({"delivery": {"method": PUSH}})).await.bad_request(&"`delivery.endpoint_url`");
    create(json!({"delivery": {"method": PUSH, "endpoint_url": "http://rs.example/ssf"}}))
        .await
        .bad_request(&"`delivery.endpoint_url`");
    create(json!({"delivery": {"method": POLL, "authorization_header": "Bearer x"}}))
        .await
        .bad_request(&"`delivery.authorization_header`");
    create(json!({"stream_id": "x", "delivery": {"method": POLL}}))
        .await
        .bad_request(&"`stream_id`");
    create(json!({"delivery": {"method": POLL}, "events_requested": ["nothing"]}))
        .await
        .bad_request(&"`events_requested`");
    create(json!({"delivery": {"method": POLL}, "colour": "red"})).await.bad_request(&"colour");

    let admin = h.admin_token(&h.add_tenant().await).await;
    let refused = h.api(Method::GET, "/ssf/streams", &admin, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(
        refused.header("www-authenticate").contains("security_events"),
        "{:?}",
        refused.headers
    );
    let anonymous = h.api(Method::GET, "/ssf/streams", "not-a-token", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // Another receiver of the tenant sees none of it.
    let stream = poll_stream(&h, &token).await;
    let (_, other) = receiver(&h, &h.a).await;
    for path in [
        format!("/ssf/streams?stream_id={stream}"),
        format!("/ssf/status?stream_id={stream}"),
        "/ssf/streams?stream_id=nope".into(),
    ] {
        assert_eq!(
            h.api(Method::GET, &path, &other, None).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let polled = h.api(Method::POST, &format!("/ssf/poll/{stream}"), &other, Some(json!({}))).await;
    assert_eq!(polled.status, StatusCode::NOT_FOUND);
    assert_eq!(h.api(Method::GET, "/ssf/streams", &other, None).await.body, json!([]));
    for _ in 1..10 {
        poll_stream(&h, &token).await;
    }
    let eleventh = h
        .api(Method::POST, "/ssf/streams", &token, Some(json!({"delivery": {"method": POLL}})))
        .await;
    assert_eq!(eleventh.status, StatusCode::CONFLICT, "{}", eleventh.text);
}

#[tokio::test]
async fn a_revoked_token_reaches_a_polled_stream_as_a_signed_set_until_acknowledged() {
    for h in Harness::on_both_backends().await {
        let (client, token) = receiver(&h, &h.a).await;
        let stream = poll_stream(&h, &token).await;
        assert_eq!(poll(&h, &token, &stream, &[]).await, Vec::<Value>::new());

        let issued = h.token(&h.a.client_id, &h.a.secret, None).await;
        let access = issued.body["access_token"].as_str().unwrap();
        let jti = h.introspect((&h.a.client_id, &h.a.secret), access).await.body["jti"]
            .as_str()
            .unwrap()
            .to_owned();
        let revoked = h
            .form("/oauth2/revoke", format!("token={access}"), Some((&h.a.client_id, &h.a.secret)))
            .await;
        assert_eq!(revoked.status, StatusCode::OK);

        let sets = poll(&h, &token, &stream, &[]).await;
        assert_eq!(sets.len(), 1, "{sets:?}");
        assert_eq!(sets[0]["aud"], client);
        assert_eq!(sets[0]["sub_id"], json!({"format": "opaque", "id": jti}));
        assert_eq!(event(&sets[0]).0, event_type::TOKEN_REVOKED);
        // Not acknowledged: given again; acknowledged: gone.
        let again = poll(&h, &token, &stream, &[]).await;
        assert_eq!(again, sets);
        let set_jti = sets[0]["jti"].as_str().unwrap().to_owned();
        assert_eq!(poll(&h, &token, &stream, &[set_jti]).await, Vec::<Value>::new());
    }
}

#[tokio::test]
async fn each_revocation_goes_out_as_its_caep_or_risc_event() {
    let h = Harness::new().await;
    // The operator tenant's stream hears every tenant.
    let (_, token) = receiver(&h, &h.a).await;
    let stream = poll_stream(&h, &token).await;
    let t = h.add_tenant().await;
    let admin = h.admin_token(&t).await;
    let (doomed, _, _) = h.create_integration(&admin, json!({"display_name": "doomed"})).await;
    let regenerated =
        h.api(Method::POST, &format!("/v1/integrations/{doomed}/secret"), &admin, None).await;
    assert_eq!(regenerated.status, StatusCode::OK, "{}", regenerated.text);
    assert_eq!(
        h.api(Method::DELETE, &format!("/v1/integrations/{doomed}"), &admin, None).await.status,
        StatusCode::NO_CONTENT
    );
    let platform = h.admin_token(&h.a).await;
    for disabled in [true, false] {
        let path = format!("/v1/tenants/{}", t.tenant);
        let changed =
            h.api(Method::PATCH, &path, &platform, Some(json!({"disabled": disabled}))).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    }
    let tenant = json!({"format": "opaque", "id": t.tenant.to_string()});
    let application = json!({"format": "opaque", "id": doomed});
    let sets = drain(&h, &token, &stream).await;
    let seen: Vec<(String, Value)> =
        sets.iter().map(|s| (event(s).0, s["sub_id"].clone())).collect();
    assert_eq!(
        seen,
        vec![
            (
                event_type::CREDENTIAL_CHANGE.into(),
                json!({"format": "complex", "application": application, "tenant": tenant})
            ),
            (
                event_type::ACCOUNT_PURGED.into(),
                json!({"format": "complex", "application": application, "tenant": tenant})
            ),
            (event_type::ACCOUNT_DISABLED.into(), json!({"format": "complex", "tenant": tenant})),
            (event_type::ACCOUNT_ENABLED.into(), json!({"format": "complex", "tenant": tenant})),
        ]
    );
    assert_eq!(event(&sets[0]).1["change_type"], "update");
    assert_eq!(event(&sets[0]).1["credential_type"], "password");

    // A stream of the other tenant hears only that tenant's (issued to from the next second:
    // disabling ended every token issued until then).
    h.clock.advance_seconds(1);
    let (_, theirs) = receiver(&h, &t).await;
    let their_stream = poll_stream(&h, &theirs).await;
    let mine = h.token(&h.a.client_id, &h.a.secret, None).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    h.form("/oauth2/revoke", format!("token={mine}"), Some((&h.a.client_id, &h.a.secret))).await;
    assert_eq!(poll(&h, &theirs, &their_stream, &[]).await, Vec::<Value>::new());
}

#[tokio::test]
async fn verification_and_status_changes_go_out_on_the_stream_and_a_paused_stream_holds_its_events()
{
    let h = Harness::new().await;
    let (_, token) = receiver(&h, &h.a).await;
    let stream = poll_stream(&h, &token).await;
    let asked = h
        .api(
            Method::POST,
            "/ssf/verify",
            &token,
            Some(json!({"stream_id": stream, "state": "abc"})),
        )
        .await;
    assert_eq!(asked.status, StatusCode::NO_CONTENT, "{}", asked.text);
    let sets = poll(&h, &token, &stream, &[]).await;
    assert_eq!(event(&sets[0]), (event_type::VERIFICATION.into(), json!({"state": "abc"})));
    assert_eq!(sets[0]["sub_id"], json!({"format": "opaque", "id": stream}));
    let acked = vec![sets[0]["jti"].as_str().unwrap().to_owned()];

    let pause = json!({"stream_id": stream, "status": "paused"});
    assert_eq!(
        h.api(Method::POST, "/ssf/status", &token, Some(pause)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        poll(&h, &token, &stream, &acked).await,
        Vec::<Value>::new(),
        "paused: nothing is handed out"
    );
    let enable = json!({"stream_id": stream, "status": "enabled"});
    assert_eq!(
        h.api(Method::POST, "/ssf/status", &token, Some(enable)).await.status,
        StatusCode::OK
    );
    let held: Vec<Value> = drain(&h, &token, &stream).await.iter().map(|s| event(s).1).collect();
    assert_eq!(held, vec![json!({"status": "paused"}), json!({"status": "enabled"})]);
    let wrong = h
        .api(
            Method::POST,
            "/ssf/status",
            &token,
            Some(json!({"stream_id": stream, "status": "asleep"})),
        )
        .await;
    wrong.bad_request(&"`status`");
}

/// A receiver on loopback that records each push and answers `answer`.
async fn push_receiver(answer: StatusCode) -> (String, Arc<Mutex<Vec<(String, String, String)>>>) {
    let seen: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/ssf",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let kept = kept.clone();
            async move {
                let header =
                    |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                kept.lock().unwrap().push((header("authorization"), header("content-type"), body));
                (answer, axum::Json(json!({"err": "invalid_key", "description": "no"})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ssf", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn sets_are_pushed_in_order_with_the_receivers_header_and_a_refused_one_is_not_sent_again() {
    for (answer, tries) in [(StatusCode::ACCEPTED, 1), (StatusCode::BAD_REQUEST, 1)] {
        let h = Harness::new().await;
        let (url, seen) = push_receiver(answer).await;
        let (_, token) = receiver(&h, &h.a).await;
        let body = json!({"delivery": {"method": PUSH, "endpoint_url": url, "authorization_header": "Bearer rs-secret"}, "events_requested": event_type::ALL});
        let made = h.api(Method::POST, "/ssf/streams", &token, Some(body)).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        let stream = made.body["stream_id"].as_str().unwrap().to_owned();
        for state in ["one", "two"] {
            h.api(
                Method::POST,
                "/ssf/verify",
                &token,
                Some(json!({"stream_id": stream, "state": state})),
            )
            .await;
        }
        for _ in 0..100 {
            if seen.lock().unwrap().len() >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let pushes = seen.lock().unwrap().clone();
        assert_eq!(pushes.len(), 2 * tries, "{pushes:?}");
        let states: Vec<Value> =
            pushes.iter().map(|(_, _, set)| event(&verified(&h, set)).1["state"].clone()).collect();
        assert_eq!(states, vec![json!("one"), json!("two")], "in the order they were queued");
        assert!(pushes.iter().all(
            |(auth, kind, _)| auth == "Bearer rs-secret" && kind == "application/secevent+jwt"
        ));
        let polled =
            h.api(Method::POST, &format!("/ssf/poll/{stream}"), &token, Some(json!({}))).await;
        assert_eq!(polled.status, StatusCode::CONFLICT, "a push stream is not polled");
    }
}

#[tokio::test]
async fn an_admin_sees_every_stream_of_the_tenant_with_its_delivery_state() {
    let h = Harness::new().await;
    let (client, token) = receiver(&h, &h.a).await;
    let stream = poll_stream(&h, &token).await;
    let access = h.token(&h.a.client_id, &h.a.secret, None).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    h.form("/oauth2/revoke", format!("token={access}"), Some((&h.a.client_id, &h.a.secret))).await;
    let admin = h.admin_token(&h.a).await;
    let listed = h.api(Method::GET, "/v1/event_streams", &admin, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let seen = &listed.body["event_streams"][0];
    assert_eq!(seen["stream_id"], stream);
    assert_eq!(seen["receiver"], client);
    assert_eq!(seen["receiver_name"], "audit-trail API");
    assert_eq!(
        (&seen["pending"], &seen["delivered"], &seen["failed"]),
        (&json!(1), &json!(0), &json!(0))
    );
    assert_eq!(seen["endpoint_url"], format!("{ISSUER}/ssf/poll/{stream}"));
    let sets = poll(&h, &token, &stream, &[]).await;
    poll(&h, &token, &stream, &[sets[0]["jti"].as_str().unwrap().to_owned()]).await;
    let after = h.api(Method::GET, "/v1/event_streams", &admin, None).await;
    assert_eq!(after.body["event_streams"][0]["delivered"], 1, "{}", after.text);
    // Only admins: the receiver's own token has no `admin`.
    assert_eq!(
        h.api(Method::GET, "/v1/event_streams", &token, None).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_deleted_user_and_a_withdrawn_consent_go_out_naming_the_person() {
    let h = Harness::new().await;
    let (_, token) = receiver(&h, &h.a).await;
    let stream = poll_stream(&h, &token).await;
    let admin = h.admin_token(&h.a).await;
    let body = json!({"email": "leaver@example.com", "display_name": "Leaver", "password": "correct horse battery staple"});
    let made = h.api(Method::POST, "/v1/users", &admin, Some(body)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let user = made.body["id"].as_str().unwrap().to_owned();
    let consent = json!({"client_id": h.a.client_id, "user": "leaver@example.com", "scopes": ["assets:read"]});
    let given = h.api(Method::POST, "/v1/consents", &admin, Some(consent)).await;
    let consent = given.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.api(Method::DELETE, &format!("/v1/consents/{consent}"), &admin, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.api(Method::DELETE, &format!("/v1/users/{user}"), &admin, None).await.status,
        StatusCode::NO_CONTENT
    );
    let person = json!({"format": "iss_sub", "iss": ISSUER, "sub": user});
    let tenant = json!({"format": "opaque", "id": h.a.tenant.to_string()});
    let seen: Vec<(String, Value)> = drain(&h, &token, &stream)
        .await
        .iter()
        .map(|s| (event(s).0, s["sub_id"].clone()))
        .collect();
    let application = json!({"format": "opaque", "id": h.a.client_id});
    assert_eq!(
        seen,
        vec![
            (
                event_type::SESSION_REVOKED.into(),
                json!({"format": "complex", "user": person, "application": application, "tenant": tenant})
            ),
            (
                event_type::ACCOUNT_PURGED.into(),
                json!({"format": "complex", "user": person, "tenant": tenant})
            ),
        ]
    );
}
