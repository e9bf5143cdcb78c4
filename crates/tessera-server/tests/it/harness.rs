use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tessera_core::crypto::generate_client_secret;
use tessera_core::crypto::MasterKey;
use tessera_core::id::Secret;
use tessera_core::id::{ClientId, TenantId};
use tessera_core::ports::{Clock, OsRng, Storage, SystemClock};
use tessera_core::testing::FixedClock;
use tessera_core::token::SigningAlg;
use tessera_server::bootstrap::{create_operator_tenant, OperatorSeed};
use tessera_server::{router, workers, AppState, ServerConfig};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const ISSUER: &str = "http://tessera.test";

/// A tenant with an admin integration.
pub struct TenantAdmin {
    pub tenant: TenantId,
    pub client_id: String,
    pub secret: String,
}

pub struct Harness {
    pub state: AppState,
    pub router: Router,
    pub clock: Arc<FixedClock>,
    pub storage: Arc<dyn Storage>,
    pub a: TenantAdmin,
    shutdown: CancellationToken,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The answer to a request.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
    pub fn description(&self) -> &str {
        self.body["error_description"].as_str().unwrap_or("")
    }

    /// Asserts a 400; `what` (the request's body, say) names the case when it is not one.
    #[track_caller]
    pub fn bad_request(&self, what: &dyn std::fmt::Display) -> &Self {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{what}: {}", self.text);
        self
    }

    /// Asserts a 400 whose answer contains `says` (a field named in backquotes, say).
    #[track_caller]
    pub fn refused(&self, what: &dyn std::fmt::Display, says: &str) {
        self.bad_request(what);
        assert!(self.text.contains(says), "{what}: {}", self.text);
    }
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

impl Harness {
    pub async fn new() -> Harness {
        Self::with_alg(SigningAlg::EdDsa).await
    }

    /// A harness and an `admin` token of its tenant A: how most tests begin.
    pub async fn with_admin() -> (Harness, String) {
        let h = Self::new().await;
        let admin = h.admin_token(&h.a).await;
        (h, admin)
    }

    pub async fn with_alg(alg: SigningAlg) -> Harness {
        Self::configured(|c| c.signing_alg = alg).await
    }

    /// A harness on SQLite with the test's changes to the configuration.
    pub async fn configured(change: impl FnOnce(&mut ServerConfig)) -> Harness {
        let (url, dir) = tessera_store::testing::sqlite_url();
        Self::on(&url, Some(dir), change).await
    }

    /// A harness on SQLite and, where the PostgreSQL binaries exist (always in CI), one on a
    /// fresh PostgreSQL database: for tests that must hold on both backends.
    pub async fn on_both_backends() -> Vec<Harness> {
        Self::on_both_backends_configured(|_| {}).await
    }

    /// [`Harness::on_both_backends`] with a configuration of the test's own.
    pub async fn on_both_backends_configured(change: impl Fn(&mut ServerConfig)) -> Vec<Harness> {
        let mut both = vec![Self::configured(&change).await];
        match tessera_store::testing::postgres_url() {
            Ok(url) => both.push(Self::on(&url, None, &change).await),
            Err(why) => {
                assert!(std::env::var_os("CI").is_none(), "CI must run the PostgreSQL half: {why}")
            }
        }
        both
    }

    async fn on(
        url: &str,
        dir: Option<tempfile::TempDir>,
        change: impl FnOnce(&mut ServerConfig),
    ) -> Harness {
        let storage = tessera_store::connect(url).await.expect("the database opens");
        let clock = Arc::new(FixedClock::at(SystemClock.now_millis()));
        let a = operator_tenant(&*storage, clock.now_millis()).await;
        let mut config = ServerConfig {
            issuer: ISSUER.into(),
            audience: ISSUER.into(),
            signing_alg: SigningAlg::EdDsa,
            remote_keys: Default::default(),
            max_private_token_bytes: tessera_core::model::DEFAULT_MAX_VALUE_BYTES,
            webhook_retry_horizon_seconds: 86_400,
            webhook_retry_base_ms: 1000,
            url_rules: Default::default(),
            verified_token_cache: 1000,
            key_rotation_days: 0,
            // The tests' applications and key sets listen on loopback.
            allow_private_callbacks: true,
            dpop_nonces: false,
            allow_sign_up: false,
            trusted_proxies: Default::default(),
            access_log: Default::default(),
            invitation_ttl_seconds: 7 * 86_400,
            body_budget_bytes: 256 * 1024 * 1024,
            session_seconds: 12 * 3600,
            session_idle_seconds: 3600,
            public_metrics: true,
        };
        change(&mut config);
        let (master, _) = MasterKey::generate(&OsRng);
        let (state, audit_rx) = AppState::load(
            config,
            storage.clone(),
            clock.clone(),
            Arc::new(OsRng),
            Arc::new(master),
        )
        .await
        .expect("state loads");
        let shutdown = CancellationToken::new();
        workers::spawn(state.clone(), audit_rx, shutdown.clone());
        Harness { router: router(state.clone()), state, clock, storage, a, shutdown, _dir: dir }
    }

    /// Another tenant with its own admin integration, made as an operator would: `POST
    /// /v1/tenants` with the operator's `platform` token, then an `admin` token for the new
    /// tenant (client credentials with `tenant_id`) that registers its admin integration.
    pub async fn add_tenant(&self) -> TenantAdmin {
        let platform = self.admin_token(&self.a).await;
        let created = self
            .api(
                Method::POST,
                "/v1/tenants",
                &platform,
                Some(json!({"display_name": "T", "admin_email": "owner@t.example"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let tenant: TenantId =
            created.body["tenant_id"].as_str().expect("tenant_id").parse().expect("a tenant id");
        let operator = self.operator_token(tenant).await;
        let (client_id, secret, _) = self
            .create_integration(
                &operator,
                json!({"display_name": "admin", "scopes": [
                    "assets:read", "assets:write", "events:read", "events:write",
                    "private_tokens", "admin", "impersonation"]}),
            )
            .await;
        TenantAdmin { tenant, client_id, secret }
    }

    /// An `admin` token for `tenant` from the operator's integration (SPEC §4.1).
    pub async fn operator_token(&self, tenant: TenantId) -> String {
        let reply = self
            .form(
                "/oauth2/token",
                format!("grant_type=client_credentials&scope=admin&tenant_id={tenant}"),
                Some((&self.a.client_id, &self.a.secret)),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    /// POSTs a form body with optional Basic credentials.
    pub async fn form(
        &self,
        path: &str,
        body: impl Into<Body>,
        auth: Option<(&str, &str)>,
    ) -> Reply {
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some((id, secret)) = auth {
            req = req.header(header::AUTHORIZATION, basic(id, secret));
        }
        self.send(req.body(body.into()).expect("request")).await
    }

    pub async fn token(&self, id: &str, secret: &str, scope: Option<&str>) -> Reply {
        let body = match scope {
            Some(s) => format!("grant_type=client_credentials&scope={}", s.replace(' ', "+")),
            None => "grant_type=client_credentials".to_owned(),
        };
        self.form("/oauth2/token", body, Some((id, secret))).await
    }

    /// A token for the tenant's admin integration.
    pub async fn admin_token(&self, admin: &TenantAdmin) -> String {
        let reply = self.token(&admin.client_id, &admin.secret, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["access_token"].as_str().expect("token").to_owned()
    }

    /// A JSON request with a bearer token.
    pub async fn api(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let req = match body {
            Some(b) => {
                req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string()))
            }
            None => req.body(Body::empty()),
        };
        self.send(req.expect("request")).await
    }

    /// Creates an integration through the API; returns (client_id, secret, reply body).
    pub async fn create_integration(
        &self,
        admin_token: &str,
        body: Value,
    ) -> (String, String, Value) {
        let reply = self.api(Method::POST, "/v1/integrations", admin_token, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        (
            reply.body["client_id"].as_str().expect("client_id").to_owned(),
            reply.body["client_secret"].as_str().expect("secret").to_owned(),
            reply.body,
        )
    }

    pub async fn introspect(&self, caller: (&str, &str), token: &str) -> Reply {
        self.form("/oauth2/introspect", format!("token={token}"), Some(caller)).await
    }

    /// Waits until the audit flusher has written an entry with this action.
    pub async fn audit_actions(&self, token: &str, wanted: &str) -> Vec<Value> {
        let entry = self.audit_entry(token, |e| e["action"] == wanted).await;
        let entries = self.audit_entries(token).await;
        assert!(entries.contains(&entry));
        entries
    }

    /// The tenant's audit log as it stands, newest first.
    pub async fn audit_entries(&self, token: &str) -> Vec<Value> {
        let reply = self.api(Method::GET, "/v1/audit?page_size=1000", token, None).await;
        reply.body["entries"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the audit flusher has written an entry that `matches`, and returns it.
    pub async fn audit_entry(&self, token: &str, matches: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let entries = self.audit_entries(token).await;
            if let Some(found) = entries.into_iter().find(|e| matches(e)) {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no such audit entry");
    }
}

/// The operator tenant, made as the first start makes it.
async fn operator_tenant(storage: &dyn Storage, now: i64) -> TenantAdmin {
    let seed = OperatorSeed {
        tenant_id: TenantId::random(),
        client_id: ClientId::random(),
        client_secret: generate_client_secret(&OsRng),
        email: "ops@operator.example".into(),
        password: Secret::new("correct horse battery staple"),
    };
    assert!(create_operator_tenant(storage, now, &seed, &OsRng)
        .await
        .expect("the operator tenant"));
    TenantAdmin {
        tenant: seed.tenant_id,
        client_id: seed.client_id.to_string(),
        secret: seed.client_secret.expose().to_owned(),
    }
}

pub fn reader() -> Value {
    json!({"display_name": "reader", "scopes": ["assets:read", "events:read"], "custom_claims": {"department": "ops"}})
}

/// `request` as if it came over a connection from `peer` (an IP address).
pub fn with_peer(mut request: Request<Body>, peer: &str) -> Request<Body> {
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    request
}
