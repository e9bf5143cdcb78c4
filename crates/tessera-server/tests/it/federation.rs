//! Secretless integrations (SPEC §14) through the real router, on both backends, against fake
//! platforms on loopback that serve an OpenID discovery document and a JWK Set: tokens shaped
//! like a Kubernetes service-account token (RS256), a GitHub Actions OIDC token (ES256) and a
//! SPIFFE JWT-SVID without `iss` (ES256). Each acceptance, each refusal with its words, a key
//! rotated at the platform, and the removal of a credential or of the trust in its issuer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tessera_core::ports::{Clock, OsRng};
use tessera_core::token::{SigningAlg, SigningKey};

use crate::assertions::assertion_form;
use crate::harness::*;

/// A platform's token service: its discovery document and its current keys.
#[derive(Clone)]
pub struct Platform {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    key_fetches: Arc<AtomicUsize>,
}

impl Platform {
    pub async fn start() -> Platform {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let platform = Platform {
            url: url.clone(),
            keys: Arc::new(Mutex::new(Vec::new())),
            key_fetches: Arc::new(AtomicUsize::new(0)),
        };
        let (keys, fetches) = (platform.keys.clone(), platform.key_fetches.clone());
        let app =
            axum::Router::new()
                .route(
                    "/.well-known/openid-configuration",
                    axum::routing::get(move || {
                        let url = url.clone();
                        async move {
                            axum::Json(json!({"issuer": url, "jwks_uri": format!("{url}/keys")}))
                        }
                    }),
                )
                .route(
                    "/keys",
                    axum::routing::get(move || {
                        let (keys, fetches) = (keys.clone(), fetches.clone());
                        async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            axum::Json(json!({"keys": *keys.lock()}))
                        }
                    }),
                );
        tokio::spawn(async move { axum::serve(listener, app).await });
        platform
    }

    /// Publishes these keys only (a rotation drops the old ones).
    pub fn publish(&self, keys: &[&SigningKey]) {
        *self.keys.lock() = keys.iter().map(|k| k.public_jwk().clone()).collect();
    }

    pub fn key_fetches(&self) -> usize {
        self.key_fetches.load(Ordering::SeqCst)
    }
}

pub fn key(alg: SigningAlg) -> SigningKey {
    SigningKey::generate(alg, &OsRng).unwrap().0
}

fn now(h: &Harness) -> i64 {
    h.clock.now_millis() / 1000
}

/// A Kubernetes projected service-account token.
pub fn k8s_token(h: &Harness, key: &SigningKey, iss: &str, namespace: &str, sa: &str) -> String {
    let now = now(h);
    key.sign_jwt(&json!({
        "iss": iss, "sub": format!("system:serviceaccount:{namespace}:{sa}"),
        "aud": ["tessera"], "exp": now + 3600, "iat": now, "nbf": now,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": sa, "uid": "0c5e…"}}
    }))
    .unwrap()
}

fn github_token(h: &Harness, key: &SigningKey, iss: &str, claims: Value) -> String {
    let now = now(h);
    let mut body = json!({
        "iss": iss, "sub": "repo:acme/app:ref:refs/heads/main", "aud": "https://github.com/acme",
        "repository": "acme/app", "repository_id": "42", "ref": "refs/heads/main",
        "run_attempt": "1", "exp": now + 300, "iat": now, "nbf": now, "jti": "same-every-time"
    });
    for (k, v) in claims.as_object().unwrap() {
        body[k] = v.clone();
    }
    key.sign_jwt(&body).unwrap()
}

fn spiffe_svid(h: &Harness, key: &SigningKey) -> String {
    let now = now(h);
    key.sign_jwt(&json!({"sub": "spiffe://example.org/ns/prod/sa/billing", "aud": ["tessera"],
                         "exp": now + 300, "iat": now}))
        .unwrap()
}

/// Client credentials authenticated with a platform token (and `client_id` when given).
pub async fn federated_token(h: &Harness, platform_token: &str, client_id: Option<&str>) -> Reply {
    let mut rest = String::from("&grant_type=client_credentials");
    if let Some(id) = client_id {
        rest.push_str(&format!("&client_id={id}"));
    }
    h.form("/oauth2/token", assertion_form(platform_token, &rest), None).await
}

/// Registers a trusted issuer; its answer.
pub async fn trust(h: &Harness, admin: &str, body: Value) -> Reply {
    h.api(Method::POST, "/v1/trusted_issuers", admin, Some(body)).await
}

/// Adds a federated credential to `client_id`; its id.
pub async fn accept(h: &Harness, admin: &str, client_id: &str, body: Value) -> String {
    let reply = h
        .api(
            Method::POST,
            &format!("/v1/integrations/{client_id}/federated_credentials"),
            admin,
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// A cluster trusted by tenant A, an integration of A and a credential for one of the
/// cluster's service accounts (in `prod`).
pub struct K8sScene {
    pub admin: String,
    pub cluster: Platform,
    pub key: SigningKey,
    pub issuer_id: String,
    pub client_id: String,
    pub secret: String,
    pub credential: String,
}

impl K8sScene {
    pub async fn new(h: &Harness, alg: SigningAlg, integration: Value, account: &str) -> K8sScene {
        let admin = h.admin_token(&h.a).await;
        let cluster = Platform::start().await;
        let key = key(alg);
        cluster.publish(&[&key]);
        let issuer =
            trust(h, &admin, json!({"issuer": cluster.url, "audiences": ["tessera"]})).await;
        assert_eq!(issuer.status, StatusCode::CREATED, "{}", issuer.text);
        let (client_id, secret, _) = h.create_integration(&admin, integration).await;
        let credential = accept(
            h,
            &admin,
            &client_id,
            json!({"issuer": cluster.url, "subject": format!("system:serviceaccount:prod:{account}")}),
        )
        .await;
        K8sScene {
            admin,
            issuer_id: issuer.body["id"].as_str().unwrap().to_owned(),
            cluster,
            key,
            client_id,
            secret,
            credential,
        }
    }

    /// A token of the service account `account` in `prod`, signed with `key`.
    pub fn token(&self, h: &Harness, key: &SigningKey, account: &str) -> String {
        k8s_token(h, key, &self.cluster.url, "prod", account)
    }
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap()
}

/// Three platforms trusted by tenant a (Kubernetes and GitHub by discovery, SPIFFE by its
/// bundle's keys) and one integration each of them may get tokens for.
struct Workloads {
    admin: String,
    k8s: (Platform, SigningKey),
    github: (Platform, SigningKey),
    /// What signs the SPIFFE SVIDs (its platform serves the bundle and lives on).
    svid_key: SigningKey,
    client_id: String,
    /// The federated credentials' ids: Kubernetes, GitHub, SPIFFE.
    credentials: [String; 3],
}

async fn workloads(h: &Harness) -> Workloads {
    let admin = h.admin_token(&h.a).await;
    let (k8s, github, spire) =
        (Platform::start().await, Platform::start().await, Platform::start().await);
    let (k8s_key, gh_key, svid_key) =
        (key(SigningAlg::Rs256), key(SigningAlg::Es256), key(SigningAlg::Es256));
    k8s.publish(&[&k8s_key]);
    github.publish(&[&gh_key]);
    spire.publish(&[&svid_key]);
    for body in [
        json!({"issuer": k8s.url, "audiences": ["tessera"]}),
        json!({"issuer": github.url, "audiences": ["https://github.com/acme"]}),
        json!({"issuer": "spiffe://example.org", "jwks_uri": format!("{}/keys", spire.url),
               "audiences": ["tessera"], "max_token_lifetime_seconds": 600}),
    ] {
        let reply = trust(h, &admin, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    // An integration that never uses its secret.
    let deployer = json!({"display_name": "deployer", "scopes": ["assets:read"]});
    let (client_id, _, _) = h.create_integration(&admin, deployer).await;
    let mut credentials = Vec::new();
    for body in [
        json!({"issuer": k8s.url, "subject": "system:serviceaccount:prod:billing",
               "claims": {"/kubernetes.io/namespace": "prod"}}),
        json!({"issuer": github.url, "subject": "repo:acme/app:ref:refs/heads/main",
               "claims": {"repository_id": "42", "ref": "refs/heads/main"}}),
        json!({"issuer": "spiffe://example.org",
               "subject": "spiffe://example.org/ns/prod/sa/billing"}),
    ] {
        credentials.push(accept(h, &admin, &client_id, body).await);
    }
    let credentials = credentials.try_into().unwrap();
    let (k8s, github) = ((k8s, k8s_key), (github, gh_key));
    Workloads { admin, k8s, github, svid_key, client_id, credentials }
}

#[tokio::test]
async fn kubernetes_github_and_spiffe_tokens_get_tokens_with_no_secret_at_all() {
    for h in Harness::on_both_backends().await {
        let w = workloads(&h).await;
        let (admin, client_id) = (&w.admin, &w.client_id);
        let ((k8s, k8s_key), (github, gh_key)) = (&w.k8s, &w.github);
        let [by_k8s, by_github, by_spiffe] = &w.credentials;
        let listed = h.api(Method::GET, "/v1/trusted_issuers", admin, None).await;
        assert_eq!(listed.body["trusted_issuers"].as_array().unwrap().len(), 3);
        assert_eq!(listed.body["trusted_issuers"][0]["jwks_uri"], Value::Null);
        let path = format!("/v1/integrations/{client_id}/federated_credentials");
        let listed = h.api(Method::GET, &path, admin, None).await;
        assert_eq!(listed.body["federated_credentials"].as_array().unwrap().len(), 3);

        for (platform_token, credential, with_client_id) in [
            (k8s_token(&h, k8s_key, &k8s.url, "prod", "billing"), by_k8s, true),
            (github_token(&h, gh_key, &github.url, json!({})), by_github, false),
            (spiffe_svid(&h, &w.svid_key), by_spiffe, true),
        ] {
            let reply =
                federated_token(&h, &platform_token, with_client_id.then_some(client_id.as_str()))
                    .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            let token = reply.body["access_token"].as_str().unwrap();
            let claims = claims_of(token);
            assert_eq!(claims["client_id"], client_id.as_str());
            assert_eq!(claims["tessera_federated"], credential.as_str());
            assert_eq!(claims["scope"], "assets:read");
            // The token works, and a platform token is reused as platforms reuse them.
            let assets = h.api(Method::GET, "/v2/assets", token, None).await;
            assert_eq!(assets.status, StatusCode::OK, "{}", assets.text);
            let again = federated_token(&h, &platform_token, Some(client_id)).await;
            assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        }
        // Cached: a handful of fetches, not one per token.
        assert_eq!(k8s.key_fetches(), 1);

        // Introspection and revocation authenticate the same way.
        let platform_token = k8s_token(&h, k8s_key, &k8s.url, "prod", "billing");
        let issued = federated_token(&h, &platform_token, Some(client_id)).await;
        let token = issued.body["access_token"].as_str().unwrap().to_owned();
        let introspected = h
            .form(
                "/oauth2/introspect",
                assertion_form(&platform_token, &format!("&client_id={client_id}&token={token}")),
                None,
            )
            .await;
        assert_eq!(introspected.status, StatusCode::OK, "{}", introspected.text);
        assert_eq!(introspected.body["active"], true);

        // The audit log says which credential authenticated each token.
        let entry = h
            .audit_entry(admin, |e| {
                e["action"] == "token.issued"
                    && e["detail"]["federated_credential"] == by_spiffe.as_str()
            })
            .await;
        assert_eq!(entry["actor"], format!("client:{client_id}"));
    }
}

#[tokio::test]
async fn each_refusal_names_the_check_that_failed_and_never_the_token() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let (github, stranger) = (Platform::start().await, Platform::start().await);
        let gh_key = key(SigningAlg::Es256);
        github.publish(&[&gh_key]);
        stranger.publish(&[&gh_key]);
        let reply = trust(
            &h,
            &admin,
            json!({"issuer": github.url, "audiences": ["https://github.com/acme"]}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let (client_id, _, _) = h
            .create_integration(&admin, json!({"display_name": "ci", "scopes": ["assets:read"]}))
            .await;
        accept(
            &h,
            &admin,
            &client_id,
            json!({"issuer": github.url,
            "subject": "repo:acme/app:ref:refs/heads/main",
            "claims": {"repository_id": "42"}}),
        )
        .await;
        let n = now(&h);
        let gh = |claims: Value| github_token(&h, &gh_key, &github.url, claims);
        let expired = json!({"iat": n - 900, "nbf": n - 900, "exp": n - 300});
        let cases: Vec<(String, &str)> = vec![
            (
                github_token(&h, &gh_key, &stranger.url, json!({})),
                "is not a trusted issuer of the integration's tenant",
            ),
            (gh(json!({"aud": "https://github.com/other"})), "`aud` names none of the audiences"),
            (gh(expired), "has expired"),
            (gh(json!({"exp": n + 7200})), "lives longer than the 3600 seconds"),
            (
                gh(json!({"sub": "repo:acme/app:ref:refs/heads/dev"})),
                "no federated credential of the integration accepts the platform token's subject",
            ),
            (gh(json!({"repository_id": "43"})), "claim `repository_id` is missing or differs"),
            (gh(json!({"repository_id": null})), "claim `repository_id` is missing or differs"),
            (
                github_token(&h, &key(SigningAlg::Es256), &github.url, json!({})),
                "the issuer publishes no key with kid",
            ),
        ];
        for (platform_token, says) in cases {
            let reply = federated_token(&h, &platform_token, Some(&client_id)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{says}: {}", reply.text);
            assert_eq!(reply.error(), "invalid_client");
            assert!(reply.description().contains(says), "{says}: {}", reply.text);
            assert!(!reply.text.contains(&platform_token), "the token is not echoed");
        }
        // Without client_id, a subject no credential names.
        let unknown = gh(json!({"sub": "repo:acme/other:ref:refs/heads/main"}));
        let reply = federated_token(&h, &unknown, None).await;
        assert!(
            reply.description().contains("no integration has a federated credential"),
            "{}",
            reply.text
        );
    }
}

#[tokio::test]
async fn a_key_rotated_at_the_platform_is_fetched_again_and_the_old_one_refused() {
    for h in Harness::on_both_backends().await {
        let billing = json!({"display_name": "billing", "scopes": ["assets:read"]});
        let scene = K8sScene::new(&h, SigningAlg::Rs256, billing, "billing").await;
        let (k8s, client_id, old) = (&scene.cluster, &scene.client_id, &scene.key);
        let new = key(SigningAlg::Rs256);
        let reply = federated_token(&h, &scene.token(&h, old, "billing"), Some(client_id)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

        // The platform rotates. Within 30 s of the last fetch a new kid is not looked for (a
        // stream of unknown kids cannot make Tessera hammer the platform); after, it is.
        k8s.publish(&[&new]);
        let early = federated_token(&h, &scene.token(&h, &new, "billing"), Some(client_id)).await;
        assert!(early.description().contains("publishes no key"), "{}", early.text);
        h.clock.advance_seconds(31);
        let reply = federated_token(&h, &scene.token(&h, &new, "billing"), Some(client_id)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(k8s.key_fetches(), 2);
        // The old key is gone from the platform's set: its tokens are refused.
        let reply = federated_token(&h, &scene.token(&h, old, "billing"), Some(client_id)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(reply.description().contains("publishes no key"), "{}", reply.text);
        // Revocation (RFC 7009) authenticates with the platform token too.
        let token = federated_token(&h, &scene.token(&h, &new, "billing"), Some(client_id)).await;
        let token = token.body["access_token"].as_str().unwrap().to_owned();
        let platform_token = scene.token(&h, &new, "billing");
        let revoked = h
            .form(
                "/oauth2/revoke",
                assertion_form(&platform_token, &format!("&client_id={client_id}&token={token}")),
                None,
            )
            .await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
        let gone = h.api(Method::GET, "/v2/assets", &token, None).await;
        assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn removing_a_credential_or_the_trust_in_its_issuer_ends_its_tokens() {
    for h in Harness::on_both_backends().await {
        let billing = json!({"display_name": "billing", "scopes": ["assets:read"]});
        let scene = K8sScene::new(&h, SigningAlg::Es256, billing, "billing").await;
        let K8sScene { admin, client_id, secret, credential, .. } = &scene;
        let platform_token = scene.token(&h, &scene.key, "billing");
        let live = |token: String| {
            let h = &h;
            let (id, secret) = (client_id.clone(), secret.clone());
            async move { h.introspect((&id, &secret), &token).await.body["active"] == true }
        };
        let first = federated_token(&h, &platform_token, Some(client_id)).await;
        let first = first.body["access_token"].as_str().unwrap().to_owned();
        // An exchanged token lives no longer than the credential either.
        let exchanged = h
            .form(
                "/oauth2/token",
                format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={first}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"),
                Some((client_id, secret)),
            )
            .await;
        assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text);
        let exchanged = exchanged.body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims_of(&exchanged)["tessera_federated"], credential.as_str());
        // The secret still authenticates too; its tokens carry no credential.
        let by_secret = h.token(client_id, secret, None).await;
        let by_secret = by_secret.body["access_token"].as_str().unwrap().to_owned();
        assert!(live(first.clone()).await && live(exchanged.clone()).await);

        let removed = h
            .api(
                Method::DELETE,
                &format!(
                    "/v1/integrations/{client_id}/federated_credentials/{}",
                    credential.replace('/', "%2F")
                ),
                admin,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
        assert!(!live(first.clone()).await, "the credential's token ends");
        assert!(!live(exchanged).await, "and what was exchanged from it");
        assert!(live(by_secret).await, "the secret's token stands");
        let resources = h.api(Method::GET, "/v2/assets", &first, None).await;
        assert_eq!(resources.status, StatusCode::UNAUTHORIZED);
        let refused = federated_token(&h, &platform_token, Some(client_id)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    }
}

#[tokio::test]
async fn removing_the_trust_in_an_issuer_removes_its_credentials_and_ends_their_tokens() {
    for h in Harness::on_both_backends().await {
        let billing = json!({"display_name": "billing", "scopes": ["assets:read"]});
        let scene = K8sScene::new(&h, SigningAlg::Es256, billing, "billing").await;
        let K8sScene { admin, issuer_id, client_id, secret, credential, .. } = &scene;
        let platform_token = scene.token(&h, &scene.key, "billing");
        let live = |token: String| {
            let h = &h;
            let (id, secret) = (client_id.clone(), secret.clone());
            async move { h.introspect((&id, &secret), &token).await.body["active"] == true }
        };
        let second = federated_token(&h, &platform_token, Some(client_id)).await;
        let second = second.body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims_of(&second)["tessera_federated"], credential.as_str());
        let removed = h
            .api(
                Method::DELETE,
                &format!("/v1/trusted_issuers/{}", issuer_id.replace('/', "%2F")),
                admin,
                None,
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
        assert!(!live(second).await);
        let listed = h
            .api(
                Method::GET,
                &format!("/v1/integrations/{client_id}/federated_credentials"),
                admin,
                None,
            )
            .await;
        assert_eq!(listed.body["federated_credentials"], json!([]));
        let entry = h.audit_entry(admin, |e| e["action"] == "trusted_issuer.removed").await;
        assert_eq!(entry["detail"]["federated_credentials_removed"], 1);
    }
}

/// Tenant `a` trusts `https://k8s.example` (audience `a`): the admin token and the answer.
async fn trusting_k8s(h: &Harness) -> (String, Reply) {
    let admin = h.admin_token(&h.a).await;
    let made = trust(h, &admin, json!({"issuer": "https://k8s.example", "audiences": ["a"]})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    (admin, made)
}

#[tokio::test]
async fn a_trusted_issuer_is_checked_once_per_tenant_and_at_most_fifty() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let short = json!({"issuer": "https://k8s.example", "audiences": ["a"], "max_token_lifetime_seconds": 10});
        for (body, field) in [
            (json!({"issuer": "https://k8s.example", "audiences": []}), "audiences"),
            (json!({"issuer": "k8s", "audiences": ["a"]}), "issuer"),
            (json!({"issuer": "spiffe://example.org", "audiences": ["a"]}), "jwks_uri"),
            (short, "max_token_lifetime_seconds"),
        ] {
            let reply = trust(&h, &admin, body.clone()).await;
            reply.bad_request(&body);
            assert_eq!(reply.body["field"], field, "{}", reply.text);
        }
        let (admin, _) = trusting_k8s(&h).await;
        let twice =
            trust(&h, &admin, json!({"issuer": "https://k8s.example", "audiences": ["b"]})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
        assert!(twice.description().contains("already trusts"), "{}", twice.text);
        for n in 1..50 {
            let made = trust(
                &h,
                &admin,
                json!({"issuer": format!("https://k8s{n}.example"), "audiences": ["a"]}),
            )
            .await;
            assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        }
        let one_more =
            trust(&h, &admin, json!({"issuer": "https://k8s50.example", "audiences": ["a"]})).await;
        one_more.refused(&"a 51st issuer", "already trusts 50");
    }
}

#[tokio::test]
async fn a_federated_credential_needs_a_trusted_issuer_is_unique_and_at_most_twenty() {
    for h in Harness::on_both_backends().await {
        let (admin, _) = trusting_k8s(&h).await;
        let (client_id, _, _) = h
            .create_integration(&admin, json!({"display_name": "w", "scopes": ["assets:read"]}))
            .await;
        let path = format!("/v1/integrations/{client_id}/federated_credentials");
        let post = |body: Value| h.api(Method::POST, &path, &admin, Some(body));
        let untrusted = post(json!({"issuer": "https://gitlab.example", "subject": "s"})).await;
        untrusted.refused(&"an untrusted issuer", "register it first");
        let pinned =
            post(json!({"issuer": "https://k8s.example", "subject": "s", "claims": {"aud": "x"}}))
                .await;
        assert_eq!(pinned.body["field"], "claims", "{}", pinned.text);
        accept(&h, &admin, &client_id, json!({"issuer": "https://k8s.example", "subject": "s"}))
            .await;
        let duplicate = post(json!({"issuer": "https://k8s.example", "subject": "s"})).await;
        assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.text);
        for n in 1..20 {
            let more = json!({"issuer": "https://k8s.example", "subject": format!("s{n}")});
            accept(&h, &admin, &client_id, more).await;
        }
        let one_more = post(json!({"issuer": "https://k8s.example", "subject": "s20"})).await;
        one_more.refused(&"a 21st identity", "already has 20");
    }
}

#[tokio::test]
async fn another_tenant_sees_and_removes_none_of_a_tenants_federation() {
    for h in Harness::on_both_backends().await {
        let (admin, made) = trusting_k8s(&h).await;
        let (client_id, _, _) = h
            .create_integration(&admin, json!({"display_name": "w", "scopes": ["assets:read"]}))
            .await;
        let path = format!("/v1/integrations/{client_id}/federated_credentials");
        let b = h.add_tenant().await;
        let other = h.admin_token(&b).await;
        let theirs = h.api(Method::GET, "/v1/trusted_issuers", &other, None).await;
        assert_eq!(theirs.body["trusted_issuers"], json!([]));
        let id = made.body["id"].as_str().unwrap().replace('/', "%2F");
        for (method, path) in [
            (Method::DELETE, format!("/v1/trusted_issuers/{id}")),
            (Method::GET, path.clone()),
            (Method::POST, path.clone()),
        ] {
            let body = (method == Method::POST)
                .then(|| json!({"issuer": "https://k8s.example", "subject": "t"}));
            let reply = h.api(method.clone(), &path, &other, body).await;
            let refused =
                reply.status == StatusCode::NOT_FOUND || reply.status == StatusCode::BAD_REQUEST;
            assert!(refused, "{method} {path}: {}", reply.text);
        }
        let ours = h.api(Method::GET, "/v1/trusted_issuers", &admin, None).await;
        let issuers = ours.body["trusted_issuers"].as_array().unwrap().clone();
        assert!(issuers.iter().any(|t| t["issuer"] == "https://k8s.example"), "{}", ours.text);
    }
}

/// A multi-tenant TMS application `kpi` whose Kubernetes service account `kpi` may act for
/// it, and a platform token of that account.
async fn kpi_scene(h: &Harness) -> (K8sScene, String) {
    let kpi = json!({"display_name": "kpi", "scopes": ["assets:read", "events:read"],
        "multi_tenant": true, "app_name": "fed-kpi", "app_version": "1", "tms_enabled": true});
    let scene = K8sScene::new(h, SigningAlg::Rs256, kpi, "kpi").await;
    let platform_token = scene.token(h, &scene.key, "kpi");
    (scene, platform_token)
}

#[tokio::test]
async fn a_platform_token_is_exchanged_for_the_integrations_token() {
    for h in Harness::on_both_backends().await {
        let (scene, platform_token) = kpi_scene(&h).await;
        let (client_id, credential) = (&scene.client_id, &scene.credential);

        // RFC 8693: the platform token as the subject, no client authentication at all.
        let exchange = |extra: &str| {
            format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={platform_token}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt{extra}")
        };
        for extra in [
            format!("&client_id={client_id}&scope=assets%3Aread"),
            "&scope=assets%3Aread".to_owned(),
        ] {
            let reply = h.form("/oauth2/token", exchange(&extra), None).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            assert_eq!(
                reply.body["issued_token_type"],
                "urn:ietf:params:oauth:token-type:access_token"
            );
            let claims = claims_of(reply.body["access_token"].as_str().unwrap());
            assert_eq!(
                (claims["client_id"].as_str(), claims["scope"].as_str()),
                (Some(client_id.as_str()), Some("assets:read"))
            );
            assert_eq!(claims["tessera_federated"], credential.as_str());
        }
        for (extra, code, says) in [
            (
                "&actor_token=x&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt",
                "invalid_request",
                "actor_token",
            ),
            ("&audience=https%3A%2F%2Felsewhere", "invalid_target", "audience"),
            (
                "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token",
                "invalid_request",
                "requested_token_type",
            ),
        ] {
            let reply = h.form("/oauth2/token", exchange(extra), None).await;
            assert_eq!(
                (reply.status, reply.error()),
                (StatusCode::BAD_REQUEST, code),
                "{}",
                reply.text
            );
            assert!(reply.description().contains(says), "{}", reply.text);
        }
        let stranger = scene.token(&h, &scene.key, "someone-else");
        let reply = h
            .form(
                "/oauth2/token",
                exchange(&format!("&client_id={client_id}")).replace(&platform_token, &stranger),
                None,
            )
            .await;
        assert_eq!(reply.error(), "invalid_grant", "{}", reply.text);
        assert!(
            reply.description().starts_with("`subject_token`: no federated credential"),
            "{}",
            reply.text
        );
    }
}

#[tokio::test]
async fn a_platform_token_is_the_client_assertion_of_a_tms_request() {
    for h in Harness::on_both_backends().await {
        let (scene, platform_token) = kpi_scene(&h).await;
        let (client_id, credential) = (&scene.client_id, &scene.credential);
        let stranger = scene.token(&h, &scene.key, "someone-else");
        // TMS: the platform token as the JSON body's client assertion.
        let own = h.a.tenant.to_string();
        let tms = |body: Value| {
            let h = &h;
            async move {
                h.send(
                    axum::http::Request::builder()
                        .method(Method::POST)
                        .uri("/tms/v1/tokens")
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(body.to_string()))
                        .unwrap(),
                )
                .await
            }
        };
        let reply = tms(json!({"tenants": [own], "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": platform_token}))
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let token = reply.body["tokens"][0]["access_token"].as_str().unwrap();
        assert_eq!(claims_of(token)["tessera_federated"], credential.as_str());
        let refused = tms(json!({"tenants": [own], "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": stranger}))
        .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
        // HTTP Basic and an assertion together: one method, please.
        let twice = h
            .send(
                axum::http::Request::builder()
                    .method(Method::POST)
                    .uri("/tms/v1/tokens")
                    .header("content-type", "application/json")
                    .header("authorization", basic(client_id, &scene.secret))
                    .body(axum::body::Body::from(
                        json!({"tenants": [own], "client_assertion": platform_token,
                               "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
                        .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.text);
        assert!(twice.description().contains("authenticated twice"), "{}", twice.text);
        let bare = tms(json!({"tenants": [own]})).await;
        assert_eq!(bare.status, StatusCode::UNAUTHORIZED, "{}", bare.text);
        assert!(bare.description().contains("client_assertion"), "{}", bare.text);
    }
}

#[tokio::test]
async fn discovery_says_platform_tokens_are_accepted_and_how() {
    let h = Harness::new().await;
    let reply = h
        .send(
            axum::http::Request::builder()
                .uri("/.well-known/openid-configuration")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let meta = &reply.body;
    assert_eq!(
        meta["client_assertion_types_supported"],
        json!(["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"])
    );
    assert!(meta["subject_token_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("urn:ietf:params:oauth:token-type:jwt")));
    let federation = &meta["tessera_workload_identity_federation"];
    assert_eq!(federation["trusted_issuers_endpoint"], format!("{ISSUER}/v1/trusted_issuers"));
    assert_eq!(federation["client_assertion"], true);
    assert!(meta["claims_supported"].as_array().unwrap().contains(&json!("tessera_federated")));
}

#[tokio::test]
async fn an_integration_may_have_no_secret_at_all() {
    for h in Harness::on_both_backends().await {
        // Made without one: the answer holds no secret, and a platform token is its only way in.
        let workload =
            json!({"display_name": "secretless", "scopes": ["assets:read"], "secretless": true});
        let made = h
            .api(
                Method::POST,
                "/v1/integrations",
                &h.admin_token(&h.a).await,
                Some(workload.clone()),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert!(made.body.get("client_secret").is_none(), "{}", made.text);
        let scene = K8sScene::new(
            &h,
            SigningAlg::Es256,
            json!({"display_name": "with a secret", "scopes": ["assets:read"]}),
            "billing",
        )
        .await;
        let id = made.body["client_id"].as_str().unwrap();
        accept(
            &h,
            &scene.admin,
            id,
            json!({"issuer": scene.cluster.url, "subject": "system:serviceaccount:prod:job"}),
        )
        .await;
        let reply = federated_token(&h, &scene.token(&h, &scene.key, "job"), Some(id)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let guessed = h.token(id, "", None).await;
        assert_eq!(guessed.status, StatusCode::UNAUTHORIZED);

        // An integration with a secret gives it up: its secret stops at once, its platform
        // identity goes on working.
        let before = h.token(&scene.client_id, &scene.secret, None).await;
        assert_eq!(before.status, StatusCode::OK);
        let path = format!("/v1/integrations/{}/secret", scene.client_id);
        let removed = h.api(Method::DELETE, &path, &scene.admin, None).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
        let after = h.token(&scene.client_id, &scene.secret, None).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);
        let reply =
            federated_token(&h, &scene.token(&h, &scene.key, "billing"), Some(&scene.client_id))
                .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let entry =
            h.audit_entry(&scene.admin, |e| e["action"] == "integration.secret_removed").await;
        assert_eq!(entry["detail"]["secrets_removed"], 1);
        // Another tenant's integration, or none: not found.
        let b = h.add_tenant().await;
        let other = h.api(Method::DELETE, &path, &h.admin_token(&b).await, None).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.text);
    }
}
