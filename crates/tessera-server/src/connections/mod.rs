//! Connections across tenants (SPEC §6), whoever drives them — the console's consent screen,
//! the management API, the webhook worker: the owner's acceptance and the hand-over to the
//! application, the callbacks the application is told by, the connection's secrets, and
//! (`outbox`) the delivery of one webhook.

pub mod outbox;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::crypto::random_token;
use tessera_core::grant;
use tessera_core::id::{ClientId, ConnectionId};
use tessera_core::model::{
    Connection, ConnectionRequest, ConnectionStatus, Tenant, User, MAX_BEARER_TOKEN_LEN,
};
use tessera_core::ports::{AuditAction, AuditRecord, Change};
use tessera_core::token::callback::{sign_callback, CallbackClaims, CALLBACK_SIGNATURE_HEADER};

use crate::state::AppState;

/// What the master key encrypts a connection's secrets for.
pub const BEARER_PURPOSE: &str = "connection bearer token";
pub const WEBHOOK_SECRET_PURPOSE: &str = "connection webhook secret";

/// An accepted connection, handed over.
pub(crate) struct Accepted {
    pub owner: Tenant,
    pub connection: Connection,
}

/// Why an owner's acceptance made no connection.
pub(crate) enum NotAccepted {
    /// The application is the owner's own: it needs no connection.
    OwnIntegration,
    /// The answer could not be recorded; nothing was shared.
    Unavailable,
    /// The application did not take the hand-over (in words for the owner); nothing stays.
    HandOver(String),
}

/// The owner `user` accepts `request`: the connection is created (active, so the token handed
/// over works at once), the application gets `connection.granted` with a token and answers
/// with its bearer token, stored encrypted; if it does not, the connection is removed again.
/// A new connection replaces an earlier one between the same two.
pub(crate) async fn accept(
    state: &AppState,
    client: &RegisteredClient,
    user: &User,
    request: ConnectionRequest,
    url: &str,
) -> Result<Accepted, NotAccepted> {
    let integration = &client.integration;
    if user.tenant_id == integration.tenant_id {
        return Err(NotAccepted::OwnIntegration);
    }
    let Some(owner) = state.clients.tenant(&user.tenant_id) else {
        return Err(NotAccepted::Unavailable);
    };
    let now = state.clock.now_millis();
    let connection = Connection {
        id: ConnectionId::generate(&*state.rng),
        owner_tenant_id: user.tenant_id,
        client_id: integration.client_id,
        client_tenant_id: integration.tenant_id,
        scopes: request.scopes,
        state: request.state,
        status: ConnectionStatus::Active,
        granted_by: format!("user:{}", user.id),
        created_at: now,
        updated_at: now,
    };
    let replaced = state
        .connections
        .between(integration.client_id, user.tenant_id);
    if state.storage.create_connection(&connection).await.is_err()
        || state
            .publish(Change::Connection(connection.id))
            .await
            .is_err()
    {
        return Err(NotAccepted::Unavailable);
    }
    match hand_over(state, client, &owner, &connection, url).await {
        Ok(()) => {}
        Err(why) => {
            tracing::warn!(connection = %connection.id, %why, "connection hand-over failed");
            // Nothing stays half-made: the connection and the token handed over go.
            let _ = state.storage.discard_connection(connection.id).await;
            let _ = state.publish(Change::Connection(connection.id)).await;
            return Err(NotAccepted::HandOver(why));
        }
    }
    // A new answer replaces an earlier connection between the same two.
    if let Some(old) = replaced {
        if state
            .storage
            .revoke_connection(user.tenant_id, old.id, now)
            .await
            .is_ok()
        {
            let _ = state.publish(Change::Connection(old.id)).await;
        }
    }
    for tenant_id in [connection.owner_tenant_id, connection.client_tenant_id] {
        state.audit(AuditRecord {
            tenant_id,
            at: now,
            actor: connection.granted_by.clone(),
            action: AuditAction::ConnectionGranted.into(),
            target: connection.id.to_string(),
            detail: json!({"client_id": connection.client_id.to_string(), "owner_tenant_id": connection.owner_tenant_id.to_string(), "scope": connection.scopes.to_string()}).to_string(),
        });
    }
    Ok(Accepted { owner, connection })
}

/// Mints the connection's first token, POSTs `connection.granted` and stores what the
/// application answers. The error says, in words for the owner, what went wrong.
async fn hand_over(
    state: &AppState,
    client: &RegisteredClient,
    owner: &Tenant,
    connection: &Connection,
    url: &str,
) -> Result<(), String> {
    let ring = state.keys.load();
    let issued =
        grant::issue_for_connection(&state.issue_context(&ring), client, owner, connection, None)
            .map_err(|e| e.description)?;
    // Standard Webhooks: `whsec_` and the base64 of the key; the application verifies every
    // webhook with it.
    let mut key = [0u8; 32];
    state.rng.fill(&mut key);
    let secret = format!("whsec_{}", STANDARD.encode(key));
    let body = json!({
        "event": "connection.granted",
        "connection_id": connection.id.to_string(),
        "tenant_id": connection.owner_tenant_id.to_string(),
        "scope": issued.scope.to_string(),
        "state": connection.state,
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "webhook_secret": secret,
    });
    let answer = post_event(state, connection.client_id, url, None, &body).await?;
    let bearer = answer
        .get("bearer_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.trim().is_empty() && t.len() <= MAX_BEARER_TOKEN_LEN)
        .ok_or("it did not answer with a bearer token")?;
    let rng = &*state.rng;
    state
        .storage
        .store_connection_secrets(
            connection.id,
            &state
                .master_key
                .encrypt(rng, BEARER_PURPOSE, bearer.as_bytes()),
            &state
                .master_key
                .encrypt(rng, WEBHOOK_SECRET_PURPOSE, secret.as_bytes()),
            state.clock.now_millis(),
        )
        .await
        .map_err(|_| "its answer could not be stored".to_owned())
}

/// A connection's secrets in the clear: the application's bearer token and the webhook key
/// (the bytes behind `whsec_`). `None` for a connection without them (revoked, or not yet
/// handed over) or that does not decrypt.
pub(crate) async fn connection_secrets(
    state: &AppState,
    id: ConnectionId,
) -> Option<(String, Vec<u8>)> {
    let (bearer, secret) = state.storage.connection_secrets(id).await.ok()??;
    let bearer = state.master_key.decrypt(BEARER_PURPOSE, &bearer).ok()?;
    let secret = state
        .master_key
        .decrypt(WEBHOOK_SECRET_PURPOSE, &secret)
        .ok()?;
    let key = STANDARD
        .decode(std::str::from_utf8(&secret).ok()?.strip_prefix("whsec_")?)
        .ok()?;
    Some((String::from_utf8(bearer).ok()?, key))
}

/// POSTs one event to the application `client_id` and reads its JSON answer; any status but
/// 2xx, or no answer, is an error in words. The body goes with its signature
/// (`Tessera-Signature`, see `tessera_core::token::callback`).
pub(crate) async fn post_event(
    state: &AppState,
    client_id: ClientId,
    url: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    // A literal private address is refused like an unreachable one: the answer tells nothing
    // about what is there (names are checked as they resolve).
    if !crate::outbound::url_allowed(url, state.config.allow_private_callbacks) {
        return Err("it did not answer".to_owned());
    }
    let bytes = body.to_string().into_bytes();
    let claims = CallbackClaims {
        issuer: state.config.issuer.clone(),
        audience: client_id.to_string(),
        event: body["event"].as_str().unwrap_or_default().to_owned(),
        issued_at: state.clock.now_millis() / 1000,
        jti: random_token(&*state.rng, 16),
    };
    let signature = sign_callback(state.keys.load().current(), &claims, &bytes)
        .map_err(|_| "the call could not be signed".to_owned())?;
    let mut request = state
        .outbound
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(CALLBACK_SIGNATURE_HEADER, signature)
        .body(bytes);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|_| "it did not answer".to_owned())?;
    if !response.status().is_success() {
        return Err(format!("it answered HTTP {}", response.status().as_u16()));
    }
    Ok(response.json().await.unwrap_or(serde_json::Value::Null))
}

/// Tells the application that a connection ended (`connection.revoked`), with its own bearer
/// token, off the request path: telling it must not hold up the revocation. An application
/// whose integration is gone (its tenant was deleted) has nobody left to tell.
pub(crate) fn tell_revoked(state: &AppState, revoked: &Connection, bearer: Option<String>) {
    let url = state
        .clients
        .client(&revoked.client_id)
        .and_then(|c| c.integration.profile.authentication_url.clone());
    let Some(url) = url else { return };
    let state = state.clone();
    let body = json!({"event": "connection.revoked", "connection_id": revoked.id.to_string(),
                      "tenant_id": revoked.owner_tenant_id.to_string(), "state": revoked.state});
    let id = revoked.id;
    let client_id = revoked.client_id;
    tokio::spawn(async move {
        if let Err(why) = post_event(&state, client_id, &url, bearer.as_deref(), &body).await {
            tracing::warn!(connection = %id, %why, "the application was not told of a revocation");
        }
    });
}
