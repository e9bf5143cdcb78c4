//! The verifier through a real axum router, against an issuer on loopback that publishes its
//! discovery document and key set the way Tessera does.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use tessera_verify::{Claims, RequireBearer, Verifier};
use tower::ServiceExt;

const RESOURCE: &str = "https://fleet.example/api";

/// How a test key signs a message.
type Signer = Box<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// A signing key of the test issuer: its `kid`, its JWK, and how it signs.
struct TestKey {
    kid: String,
    jwk: Value,
    alg: &'static str,
    sign: Signer,
}

fn ed25519(kid: &str) -> TestKey {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    TestKey {
        kid: kid.into(),
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA"}),
        alg: "EdDSA",
        sign: Box::new(move |m| pair.sign(m).as_ref().to_vec()),
    }
}

fn es256(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..]),
    );
    TestKey {
        kid: kid.into(),
        jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256"}),
        alg: "ES256",
        sign: Box::new(move |m| {
            pair.sign(&SystemRandom::new(), m)
                .unwrap()
                .as_ref()
                .to_vec()
        }),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl TestKey {
    /// A compact JWS of `claims` with this header's `typ`.
    fn sign_with(&self, typ: &str, claims: &Value) -> String {
        let header = json!({"alg": self.alg, "typ": typ, "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode((self.sign)(input.as_bytes()));
        format!("{input}.{signature}")
    }

    /// An access token for [`RESOURCE`] from `issuer`, `changed` applied to its claims.
    fn token(&self, issuer: &str, changed: impl FnOnce(&mut Value)) -> String {
        let mut claims = json!({
            "iss": issuer, "sub": "user-7", "aud": RESOURCE, "exp": now() + 300, "nbf": now(),
            "iat": now(), "jti": "t-1", "client_id": "c-1", "scope": "assets:read events:read",
            "tenant_id": "tenant/a", "site": "north",
        });
        changed(&mut claims);
        self.sign_with("at+jwt", &claims)
    }
}

/// An issuer on loopback: discovery (RFC 8414) and the key set it publishes now; counts the
/// key set's fetches.
struct Issuer {
    url: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    async fn start(keys: &[&TestKey]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let published = Arc::new(Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (own, keys, counted) = (url.clone(), published.clone(), fetches.clone());
        let app =
            Router::new()
                .route(
                    "/.well-known/oauth-authorization-server",
                    get(move || {
                        let own = own.clone();
                        async move {
                            axum::Json(json!({"issuer": own, "jwks_uri": format!("{own}/jwks")}))
                        }
                    }),
                )
                .route(
                    "/jwks",
                    get(move || {
                        let (keys, counted) = (keys.clone(), counted.clone());
                        async move {
                            counted.fetch_add(1, Ordering::SeqCst);
                            axum::Json(json!({"keys": *keys.lock().unwrap()}))
                        }
                    }),
                );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Issuer {
            url,
            published,
            fetches,
        }
    }

    fn publish(&self, keys: &[&TestKey]) {
        *self.published.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }
}

/// A resource server: `/trucks` needs `assets:read`, `/drivers` needs `people:read` too; the
/// handlers say what the claims told them.
fn resource_server(verifier: Verifier) -> Router {
    let said = |claims: Claims| async move {
        format!(
            "{} {} {} {}",
            claims.sub,
            claims.tenant.unwrap_or_default(),
            claims.client_id,
            claims.extra.get("site").cloned().unwrap_or_default()
        )
    };
    Router::new()
        .route(
            "/trucks",
            get(said).layer(RequireBearer::new(verifier.clone()).scopes(["assets:read"])),
        )
        .route(
            "/drivers",
            get(said).layer(RequireBearer::new(verifier).scopes(["assets:read", "people:read"])),
        )
        .route("/unguarded", get(said))
}

struct Answer {
    status: StatusCode,
    challenge: String,
    body: String,
}

async fn call(app: &Router, path: &str, authorization: &[&str]) -> Answer {
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|v| ("authorization", *v))
        .collect();
    call_with(app, path, &headers).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn a_good_token_reaches_the_handler_with_its_claims_for_each_algorithm() {
    let (ed, ec) = (ed25519("ed-1"), es256("ec-1"));
    let issuer = Issuer::start(&[&ed, &ec]).await;
    let app = resource_server(Verifier::builder(&issuer.url, RESOURCE).build());
    for key in [&ed, &ec] {
        let answer = call(&app, "/trucks", &[&bearer(&key.token(&issuer.url, |_| {}))]).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{}: {}",
            key.alg,
            answer.body
        );
        assert_eq!(answer.body, "user-7 tenant/a c-1 \"north\"");
    }
    // An audience array holding the resource is accepted too; `typ` may be the media type.
    let listed = ed.token(&issuer.url, |c| {
        c["aud"] = json!(["https://other.example", RESOURCE])
    });
    assert_eq!(
        call(&app, "/trucks", &[&bearer(&listed)]).await.status,
        StatusCode::OK
    );
    let claims = json!({"iss": issuer.url, "sub": "s", "aud": RESOURCE, "exp": now() + 60,
                        "client_id": "c", "scope": "assets:read"});
    let media = ed.sign_with("application/at+jwt", &claims);
    assert_eq!(
        call(&app, "/trucks", &[&bearer(&media)]).await.status,
        StatusCode::OK
    );
    // The keys were fetched once for all of it.
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_refusal_is_an_rfc_6750_answer_pointing_at_the_resource_metadata() {
    let key = ed25519("ed-1");
    let issuer = Issuer::start(&[&key]).await;
    let app = resource_server(Verifier::builder(&issuer.url, RESOURCE).build());
    let pointer =
        "resource_metadata=\"https://fleet.example/.well-known/oauth-protected-resource/api\"";

    // No token, or another scheme: 401 with the pointer and no error code (RFC 6750 §3.1).
    for authorization in [&[][..], &["Basic Yzpz"][..]] {
        let answer = call(&app, "/trucks", authorization).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.challenge, format!("Bearer {pointer}"));
    }
    let twice = call(&app, "/trucks", &["Bearer a", "Bearer b"]).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert!(
        twice.challenge.contains("error=\"invalid_request\""),
        "{}",
        twice.challenge
    );

    let good = key.token(&issuer.url, |_| {});
    // Another payload under the good token's header and signature.
    let parts: Vec<&str> = good.split('.').collect();
    let forged = key.token(&issuer.url, |c| {
        c["scope"] = json!("assets:read people:read")
    });
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        forged.split('.').nth(1).unwrap(),
        parts[2]
    );
    let stranger = ed25519("ed-1").token(&issuer.url, |_| {});
    let plain_jwt = key.sign_with("JWT", &json!({"iss": issuer.url, "aud": RESOURCE}));
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#)
    );
    for (token, says) in [
        (
            key.token(&issuer.url, |c| c["exp"] = json!(now() - 120)),
            "expired",
        ),
        (
            key.token(&issuer.url, |c| c["nbf"] = json!(now() + 600)),
            "not valid yet",
        ),
        (
            key.token("https://elsewhere.example", |_| {}),
            "another issuer",
        ),
        (
            key.token(&issuer.url, |c| c["aud"] = json!("https://other.example")),
            "audience",
        ),
        (tampered, "signature"),
        (stranger, "signature"),
        (plain_jwt, "`typ`"),
        (none, "`none`"),
        ("not-a-token".to_owned(), "compact form"),
    ] {
        let answer = call(&app, "/trucks", &[&bearer(&token)]).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{says}: {}",
            answer.body
        );
        assert!(answer
            .challenge
            .starts_with(&format!("Bearer {pointer}, error=\"invalid_token\"")));
        assert!(
            answer.challenge.contains(says),
            "{says}: {}",
            answer.challenge
        );
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"], "invalid_token");
    }

    // A good token without the route's scopes: 403, naming them.
    let answer = call(&app, "/drivers", &[&bearer(&good)]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer.challenge.contains("error=\"insufficient_scope\""),
        "{}",
        answer.challenge
    );
    assert!(
        answer
            .challenge
            .contains("scope=\"assets:read people:read\""),
        "{}",
        answer.challenge
    );
    // A handler that asks for claims without the layer in front gets none.
    let bare = call(&app, "/unguarded", &[&bearer(&good)]).await;
    assert_eq!(
        (bare.status, bare.challenge.as_str()),
        (StatusCode::UNAUTHORIZED, "Bearer")
    );
}

#[tokio::test]
async fn a_new_key_is_fetched_when_a_token_names_it_but_made_up_kids_do_not_flood_the_issuer() {
    let (old, new) = (ed25519("k-1"), ed25519("k-2"));
    let issuer = Issuer::start(&[&old]).await;
    let verifier = Verifier::builder(&issuer.url, RESOURCE)
        .refetch_at_most_every(Duration::from_millis(300))
        .build();
    let app = resource_server(verifier);
    let by_old = key_call(&app, &old, &issuer.url).await;
    assert_eq!(by_old, StatusCode::OK);
    // A token by a key the issuer does not publish (yet): one fetch, refused; a hundred more
    // within the interval fetch nothing.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        key_call(&app, &new, &issuer.url).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 2);
    issuer.publish(&[&old, &new]);
    for _ in 0..100 {
        assert_eq!(
            key_call(&app, &new, &issuer.url).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        2,
        "no fetch within the interval"
    );
    // After it, the rotated key is fetched and its tokens pass; the old key's still do.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(key_call(&app, &new, &issuer.url).await, StatusCode::OK);
    assert_eq!(key_call(&app, &old, &issuer.url).await, StatusCode::OK);
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 3);
}

async fn key_call(app: &Router, key: &TestKey, issuer: &str) -> StatusCode {
    call(app, "/trucks", &[&bearer(&key.token(issuer, |_| {}))])
        .await
        .status
}

#[tokio::test]
async fn an_issuer_that_cannot_be_reached_is_a_503_and_never_a_pass() {
    let key = ed25519("ed-1");
    let app = resource_server(Verifier::builder("http://127.0.0.1:9", RESOURCE).build());
    let answer = call(
        &app,
        "/trucks",
        &[&bearer(&key.token("http://127.0.0.1:9", |_| {}))],
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert!(answer.body.contains("cannot be fetched"), "{}", answer.body);
}

#[tokio::test]
async fn the_resource_metadata_names_the_issuer_as_its_authorization_server() {
    let verifier = Verifier::builder("https://tessera.example", RESOURCE).build();
    let document = verifier.protected_resource_metadata(&["assets:read"]);
    assert_eq!(document["resource"], RESOURCE);
    assert_eq!(
        document["authorization_servers"],
        json!(["https://tessera.example"])
    );
    assert_eq!(document["scopes_supported"], json!(["assets:read"]));
}

#[tokio::test]
async fn a_token_checked_before_is_remembered_but_still_expires() {
    let key = ed25519("ed-1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = Verifier::builder(&issuer.url, RESOURCE)
        .leeway(Duration::ZERO)
        .build();
    let token = key.token(&issuer.url, |c| c["exp"] = json!(now() + 2));
    let first = verifier.verify(&token).await.unwrap();
    assert_eq!(
        verifier.verify(&token).await.unwrap(),
        first,
        "the same claims, remembered"
    );
    // Another resource's verifier never saw it: its audience check still refuses it.
    let elsewhere = Verifier::builder(&issuer.url, "https://other.example").build();
    assert!(elsewhere.verify(&token).await.is_err());
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let expired = verifier.verify(&token).await;
    let expired_error = tessera_verify::VerifyError::Invalid(tessera_verify::JwsError::Expired);
    assert_eq!(expired, Err(expired_error));
}

impl TestKey {
    /// A DPoP proof (RFC 9449 §4.2) by this key: its public JWK in the header.
    fn proof(&self, claims: &Value) -> String {
        let mut jwk = self.jwk.clone();
        jwk.as_object_mut().unwrap().remove("kid");
        let header = json!({"alg": self.alg, "typ": "dpop+jwt", "jwk": jwk});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode((self.sign)(input.as_bytes()))
        )
    }
}

async fn call_with(app: &Router, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        challenge,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn a_dpop_bound_token_passes_only_with_a_fresh_proof_of_its_key_for_that_request() {
    let signer = ed25519("k1");
    let issuer = Issuer::start(&[&signer]).await;
    let app = resource_server(Verifier::builder(&issuer.url, RESOURCE).build());
    let holder = es256("holder");
    let jkt = tessera_jose::jwk_thumbprint(&holder.jwk).unwrap();
    let token = signer.token(&issuer.url, |c| c["cnf"] = json!({"jkt": jkt}));
    let ath = tessera_jose::access_token_hash(&token);
    let proof = |key: &TestKey, jti: &str, change: &dyn Fn(&mut Value)| {
        let mut claims = json!({"jti": jti, "htm": "GET", "htu": "https://fleet.example/trucks",
                                "iat": now(), "ath": ath});
        change(&mut claims);
        key.proof(&claims)
    };
    let dpop = format!("DPoP {token}");
    let first = proof(&holder, "p1", &|_| {});
    let taken = call_with(
        &app,
        "/trucks",
        &[("authorization", &dpop), ("dpop", &first)],
    )
    .await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.body);

    let refusals: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![("dpop", first.clone())], "used already"),
        (vec![], "needs one `DPoP` proof"),
        (
            vec![(
                "dpop",
                proof(&holder, "p2", &|c| {
                    c["htu"] = json!("https://fleet.example/drivers")
                }),
            )],
            "`htu`",
        ),
        (
            vec![("dpop", proof(&holder, "p3", &|c| c["htm"] = json!("POST")))],
            "`htm`",
        ),
        (
            vec![("dpop", proof(&holder, "p4", &|c| c["ath"] = json!("x")))],
            "`ath`",
        ),
        (
            vec![(
                "dpop",
                proof(&holder, "p5", &|c| c["iat"] = json!(now() - 3600)),
            )],
            "`iat`",
        ),
        (
            vec![("dpop", proof(&es256("thief"), "p6", &|_| {}))],
            "another key",
        ),
    ];
    for (extra, says) in refusals {
        let mut headers = vec![("authorization", dpop.as_str())];
        headers.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
        let refused = call_with(&app, "/trucks", &headers).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{says}: {}",
            refused.body
        );
        assert!(refused.body.contains(says), "{says}: {}", refused.body);
        assert!(
            refused.challenge.starts_with("DPoP "),
            "{says}: {}",
            refused.challenge
        );
        assert!(
            refused.challenge.contains("invalid_dpop_proof"),
            "{}",
            refused.challenge
        );
    }
    // A bound token is no bearer token; an unbound one is no DPoP token.
    let as_bearer = call(&app, "/trucks", &[&bearer(&token)]).await;
    assert!(
        as_bearer.body.contains("bound to a DPoP key"),
        "{}",
        as_bearer.body
    );
    let plain = signer.token(&issuer.url, |c| c["jti"] = json!("t-2"));
    let as_dpop = call_with(
        &app,
        "/trucks",
        &[("authorization", &format!("DPoP {plain}"))],
    )
    .await;
    assert!(as_dpop.body.contains("not bound"), "{}", as_dpop.body);
}
