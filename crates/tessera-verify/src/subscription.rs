//! Hearing of revocations (SPEC §16): the verifier as an OpenID Shared Signals receiver. It
//! authenticates as its own integration (client credentials with `security_events`), finds or
//! makes its stream at Tessera, and then takes Security Event Tokens — by polling (RFC 8936,
//! long polls, each batch acknowledged by the next) or by push (RFC 8935, through
//! [`PushSubscription::receive`]). Each SET's signature (the issuer's keys), `iss` and `aud`
//! (this integration) are checked before it becomes a rule; no request waits for any of it.
//!
//! The stream keeps what the verifier has not acknowledged, so SETs sent while it was down
//! arrive when it is back; what it acknowledged before a restart it has to be told again by
//! other means (introspection), which is why a restarted service should not accept tokens
//! older than its start without one check at Tessera — see `docs/resource-servers.md`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::{json, Value};
use tessera_jose::{event_type, verify_security_event, JwsError};

use crate::verifier::{Inner, Verifier};

/// The event types the verifier asks for: those that end tokens, and the stream's own.
const EVENTS: [&str; 6] = [
    event_type::TOKEN_REVOKED,
    event_type::SESSION_REVOKED,
    event_type::ACCOUNT_DISABLED,
    event_type::ACCOUNT_PURGED,
    event_type::VERIFICATION,
    event_type::STREAM_UPDATED,
];
const POLL: &str = "urn:ietf:rfc:8936";
const PUSH: &str = "urn:ietf:rfc:8935";

/// Why a subscription could not be set up or a poll failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    /// Tessera could not be reached or answered wrongly; says which call.
    #[error("{0}")]
    Transmitter(String),
    /// The integration's credentials were refused, or it lacks `security_events`.
    #[error("Tessera refused the subscription's credentials: {0}")]
    Refused(String),
}

/// A poll subscription: its task runs until this is dropped.
#[derive(Debug)]
pub struct Subscription {
    stream_id: String,
    task: tokio::task::JoinHandle<()>,
}

impl Subscription {
    /// The stream at Tessera.
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A push subscription: hand each request Tessera sends to the endpoint to [`receive`].
///
/// [`receive`]: PushSubscription::receive
#[derive(Clone)]
pub struct PushSubscription {
    verifier: Verifier,
    client_id: String,
    authorization: String,
    stream_id: String,
}

/// Why a pushed request was not taken: the RFC 8935 §2.3 answer to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct PushRefusal {
    /// 401 for a wrong `Authorization`, 400 for a SET that does not hold.
    pub status: http::StatusCode,
    /// RFC 8935 §2.4's code (`authentication_failed`, `invalid_key`, `invalid_request`, …).
    pub err: &'static str,
    /// In words.
    pub description: String,
}

impl PushRefusal {
    /// The body RFC 8935 §2.3 asks for.
    pub fn body(&self) -> Value {
        json!({"err": self.err, "description": self.description})
    }
}

/// The receiver's side of the calls to Tessera: credentials, the transmitter's endpoints, a
/// token renewed when refused.
struct Client {
    inner: Weak<Inner>,
    http: reqwest::Client,
    client_id: String,
    client_secret: String,
    token_endpoint: String,
    streams: String,
    token: Option<String>,
}

impl Client {
    async fn new(
        verifier: &Verifier,
        client_id: &str,
        secret: &str,
    ) -> Result<Client, SubscriptionError> {
        let inner = &verifier.0;
        let http = inner.http.clone();
        let issuer = inner.issuer.trim_end_matches('/');
        let metadata = get_json(
            &http,
            &format!("{issuer}/.well-known/oauth-authorization-server"),
        )
        .await?;
        let ssf = get_json(&http, &format!("{issuer}/.well-known/ssf-configuration")).await?;
        let field = |doc: &Value, name: &str| {
            doc[name].as_str().map(str::to_owned).ok_or_else(|| {
                SubscriptionError::Transmitter(format!("the issuer's metadata has no `{name}`"))
            })
        };
        if ssf["issuer"].as_str() != Some(inner.issuer.as_str()) {
            return Err(SubscriptionError::Transmitter(
                "the SSF configuration names another issuer".into(),
            ));
        }
        Ok(Client {
            inner: Arc::downgrade(inner),
            token_endpoint: field(&metadata, "token_endpoint")?,
            streams: field(&ssf, "configuration_endpoint")?,
            http,
            client_id: client_id.to_owned(),
            client_secret: secret.to_owned(),
            token: None,
        })
    }

    async fn token(&mut self) -> Result<String, SubscriptionError> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        let reply = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "security_events"),
            ])
            .send()
            .await
            .map_err(|e| SubscriptionError::Transmitter(format!("the token endpoint: {e}")))?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or_default();
        let token = body["access_token"]
            .as_str()
            .filter(|_| status.is_success())
            .ok_or_else(|| {
                SubscriptionError::Refused(
                    body["error_description"]
                        .as_str()
                        .unwrap_or("no token")
                        .to_owned(),
                )
            })?;
        self.token = Some(token.to_owned());
        Ok(token.to_owned())
    }

    /// A JSON call with the token; one new token if it was refused.
    async fn call(
        &mut self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), SubscriptionError> {
        for _ in 0..2 {
            let token = self.token().await?;
            let mut request = self.http.request(method.clone(), url).bearer_auth(token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let reply = request
                .send()
                .await
                .map_err(|e| SubscriptionError::Transmitter(format!("{url}: {e}")))?;
            let status = reply.status().as_u16();
            if status == 401 {
                self.token = None;
                continue;
            }
            return Ok((status, reply.json().await.unwrap_or_default()));
        }
        Err(SubscriptionError::Refused(format!(
            "{url} refused a fresh token"
        )))
    }

    /// The receiver's stream of `method` (for push, to `endpoint`), made if it has none;
    /// its id and its delivery endpoint.
    async fn stream(&mut self, delivery: Value) -> Result<(String, String), SubscriptionError> {
        let streams = self.streams.clone();
        let (status, existing) = self.call(reqwest::Method::GET, &streams, None).await?;
        if status != 200 {
            return Err(SubscriptionError::Transmitter(format!(
                "reading the streams answered {status}"
            )));
        }
        let same = existing.as_array().into_iter().flatten().find(|s| {
            s["delivery"]["method"] == delivery["method"]
                && (delivery["method"] == POLL
                    || s["delivery"]["endpoint_url"] == delivery["endpoint_url"])
        });
        let body = json!({"delivery": delivery, "events_requested": EVENTS, "description": "tessera-verify"});
        let (status, stream) = match same {
            // Found again after a restart: what it kept is delivered now; a push stream takes
            // this start's `Authorization` value.
            Some(found) => {
                let mut change = body;
                change["stream_id"] = found["stream_id"].clone();
                self.call(reqwest::Method::PATCH, &streams, Some(&change))
                    .await?
            }
            None => {
                self.call(reqwest::Method::POST, &streams, Some(&body))
                    .await?
            }
        };
        match (
            status,
            stream["stream_id"].as_str(),
            stream["delivery"]["endpoint_url"].as_str(),
        ) {
            (200 | 201, Some(id), Some(endpoint)) => Ok((id.to_owned(), endpoint.to_owned())),
            _ => Err(SubscriptionError::Transmitter(format!(
                "the stream could not be set up ({status}): {}",
                stream["error_description"]
                    .as_str()
                    .unwrap_or("no reason given")
            ))),
        }
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, SubscriptionError> {
    let reply = http
        .get(url)
        .send()
        .await
        .map_err(|e| SubscriptionError::Transmitter(format!("{url}: {e}")))?;
    if !reply.status().is_success() {
        return Err(SubscriptionError::Transmitter(format!(
            "{url} answered {}",
            reply.status()
        )));
    }
    reply
        .json()
        .await
        .map_err(|e| SubscriptionError::Transmitter(format!("{url}: not JSON ({e})")))
}

impl Verifier {
    /// Subscribes to Tessera's revocations by polling, as the integration `client_id` (which
    /// must hold `security_events`): its poll stream is found or made, then polled in a task
    /// until the returned [`Subscription`] is dropped. A revocation is refused here as soon as
    /// its SET arrives (a long poll returns when one is queued).
    pub async fn subscribe_by_poll(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Subscription, SubscriptionError> {
        let mut client = Client::new(self, client_id, client_secret).await?;
        let (stream_id, endpoint) = client.stream(json!({"method": POLL})).await?;
        let task = tokio::spawn(poll_loop(client, endpoint));
        Ok(Subscription { stream_id, task })
    }

    /// Subscribes by push: Tessera POSTs each SET to `endpoint_url` with `authorization` as
    /// its `Authorization` header (a value only this service and Tessera know); route those
    /// requests to [`PushSubscription::receive`].
    pub async fn subscribe_by_push(
        &self,
        client_id: &str,
        client_secret: &str,
        endpoint_url: &str,
        authorization: &str,
    ) -> Result<PushSubscription, SubscriptionError> {
        let mut client = Client::new(self, client_id, client_secret).await?;
        let delivery = json!({"method": PUSH, "endpoint_url": endpoint_url, "authorization_header": authorization});
        let (stream_id, _) = client.stream(delivery).await?;
        Ok(PushSubscription {
            verifier: self.clone(),
            client_id: client_id.to_owned(),
            authorization: authorization.to_owned(),
            stream_id,
        })
    }

    /// Checks one SET (signature with the issuer's keys, `iss`, `aud` the receiver) and takes
    /// in what it says.
    async fn take_set(&self, set: &str, receiver: &str) -> Result<(), (&'static str, String)> {
        let inner = &self.0;
        let keys = inner.keys.current();
        let claims = match verify_security_event(set, keys.all()) {
            Err(JwsError::UnknownKey(_)) => {
                let keys = inner
                    .keys
                    .refetch()
                    .await
                    .map_err(|e| ("invalid_key", e.to_string()))?;
                verify_security_event(set, keys.all())
            }
            checked => checked,
        }
        .map_err(|e| ("invalid_key", e.to_string()))?;
        if claims["iss"].as_str() != Some(inner.issuer.as_str()) {
            return Err((
                "invalid_issuer",
                "the SET was issued by another issuer".into(),
            ));
        }
        let aud_holds = match &claims["aud"] {
            Value::String(a) => a == receiver,
            Value::Array(a) => a.iter().any(|a| a == receiver),
            _ => false,
        };
        if !aud_holds {
            return Err(("invalid_audience", "the SET is for another receiver".into()));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if inner.revocations.apply(&claims, now, inner.forget_after) {
            tracing::debug!(
                jti = claims["jti"].as_str().unwrap_or(""),
                "revocation heard"
            );
        }
        Ok(())
    }
}

impl PushSubscription {
    /// The stream at Tessera.
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// Takes one pushed request: its `Authorization` header and its body (the SET). `Ok` is
    /// answered 202 Accepted; a refusal with its status and [`PushRefusal::body`].
    pub async fn receive(
        &self,
        authorization: Option<&str>,
        body: &str,
    ) -> Result<(), PushRefusal> {
        let expected = self.authorization.as_bytes();
        let given = authorization.unwrap_or("").as_bytes();
        // Constant time in the header's content (its length is no secret).
        let same = given.len() == expected.len()
            && given
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(PushRefusal {
                status: http::StatusCode::UNAUTHORIZED,
                err: "authentication_failed",
                description: "the Authorization header is not the stream's".into(),
            });
        }
        self.verifier
            .take_set(body.trim(), &self.client_id)
            .await
            .map_err(|(err, description)| PushRefusal {
                status: http::StatusCode::BAD_REQUEST,
                err,
                description,
            })
    }
}

/// Polls until the verifier is gone: each answer's SETs checked and taken, then acknowledged
/// (or reported in `setErrs`) by the next poll. A failure waits a second and tries again.
async fn poll_loop(mut client: Client, endpoint: String) {
    let mut ack: Vec<String> = Vec::new();
    let mut errs = serde_json::Map::new();
    loop {
        let Some(inner) = client.inner.upgrade() else {
            return;
        };
        let verifier = Verifier(inner);
        let body =
            json!({"ack": ack, "setErrs": errs, "returnImmediately": false, "maxEvents": 100});
        match client
            .call(reqwest::Method::POST, &endpoint, Some(&body))
            .await
        {
            Ok((200, answer)) => {
                ack.clear();
                errs.clear();
                for (jti, set) in answer["sets"].as_object().into_iter().flatten() {
                    match verifier
                        .take_set(set.as_str().unwrap_or(""), &client.client_id)
                        .await
                    {
                        Ok(()) => ack.push(jti.clone()),
                        Err((err, description)) => {
                            tracing::warn!(%jti, %description, "a SET from Tessera did not hold");
                            errs.insert(
                                jti.clone(),
                                json!({"err": err, "description": description}),
                            );
                        }
                    }
                }
            }
            Ok((status, _)) => {
                tracing::warn!(status, "polling Tessera's stream failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "polling Tessera's stream failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
