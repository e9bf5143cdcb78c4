//! Client registration (SPEC §15): RFC 7591 at `/oauth2/register`, and each tenant's rules for
//! clients nobody typed in at `/v1/client_registration`. A client registered with an admin
//! token of a tenant is that tenant's; one registered openly belongs to the operator tenant,
//! and only people of tenants that allow open registration may authorize it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::id::{ClientId, TenantId};
use tessera_core::model::{
    ClientMetadata, ClientOrigin, ClientRegistrationPolicy, RegistrationMode,
};
use tessera_core::ports::{AuditAction, AuditRecord, Change};
use tessera_core::scope::Scope;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PeerAddress, TenantAdmin};
use crate::state::AppState;
use crate::wire::{ClientRegistrationView, ErrorResponse, RegisteredClientView};

/// Open registrations one address may make per minute.
pub const OPEN_REGISTRATIONS_PER_ADDRESS: u32 = 10;

/// `POST /oauth2/register` (RFC 7591).
#[utoipa::path(post, path = "/oauth2/register", tag = "oauth",
    request_body(content = Object, content_type = "application/json", description = "RFC 7591 §2 client metadata: `redirect_uris` (required), `client_name`, `client_uri`, `logo_uri`, `scope`, `grant_types`, `response_types`, `token_endpoint_auth_method`"),
    responses((status = 201, body = RegisteredClientView), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 429, body = ErrorResponse)))]
pub async fn register(
    State(state): State<AppState>,
    PeerAddress(peer): PeerAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (tenant, origin) = match headers.get(header::AUTHORIZATION) {
        Some(_) => (
            registering_tenant(&state, &headers)?,
            ClientOrigin::Registered,
        ),
        None => (
            open_registration(&state, peer)?,
            ClientOrigin::RegisteredOpenly,
        ),
    };
    let rules = state.config.url_rules;
    let metadata = ClientMetadata::from_registration(&body, rules)?;
    let now = state.clock.now_millis();
    let mut integration = metadata
        .new_integration(rules)
        .validate(ClientId::generate(&*state.rng), tenant, now)
        .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidClientMetadata, e.to_string()))?;
    integration.origin = origin;
    state.storage.create_integration(&integration, None).await?;
    state.publish(Change::Client(integration.client_id)).await?;
    state.audit(AuditRecord {
        tenant_id: tenant,
        at: now,
        actor: peer.map_or_else(|| "anonymous".to_owned(), |ip| format!("address:{ip}")),
        action: AuditAction::ClientRegistered.as_str().to_owned(),
        target: integration.client_id.to_string(),
        detail: json!({"client_name": integration.display_name, "redirect_uris": integration.redirect_uris}).to_string(),
    });
    let view = RegisteredClientView {
        client_id: integration.client_id.to_string(),
        client_id_issued_at: now / 1000,
        client_name: integration.display_name.clone(),
        redirect_uris: integration.redirect_uris.clone(),
        grant_types: vec!["authorization_code", "refresh_token"],
        response_types: vec!["code"],
        token_endpoint_auth_method: "none",
        scope: integration.scopes.to_string(),
        client_uri: integration.profile.homepage_url.clone(),
    };
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The tenant an initial access token registers for: an admin token of a tenant whose rules
/// let it (RFC 7591 §3).
fn registering_tenant(state: &AppState, headers: &HeaderMap) -> Result<TenantId, ApiError> {
    let claims = crate::extract::bearer_claims(headers, state)?;
    if !claims.scope.contains(Scope::Admin) {
        return Err(ApiError::InsufficientScope("admin"));
    }
    let mode = state
        .clients
        .tenant(&claims.tenant_id)
        .map(|t| t.client_registration.registration)
        .unwrap_or_default();
    if mode == RegistrationMode::Off {
        return Err(ApiError::Forbidden(
            "this tenant does not take client registrations: an admin turns them on with PUT /v1/client_registration (`registration`)".into(),
        ));
    }
    Ok(claims.tenant_id)
}

/// The operator tenant, for an open registration: while some tenant allows them, and within
/// the address's allowance.
fn open_registration(
    state: &AppState,
    peer: Option<std::net::IpAddr>,
) -> Result<TenantId, ApiError> {
    let limited = format!(
        "register:{}",
        peer.map(|ip| ip.to_string()).unwrap_or_default()
    );
    let now = state.clock.now_seconds();
    if state
        .auth_limiter
        .key_exhausted(&limited, OPEN_REGISTRATIONS_PER_ADDRESS, now)
    {
        return Err(OAuthError::new(
            OAuthErrorCode::SlowDown,
            "too many registrations from this address; wait a minute",
        )
        .into());
    }
    state.auth_limiter.record_failure(&limited, None, now);
    // Counted first: the check below looks at every tenant.
    if !state
        .clients
        .any_tenant(|t| t.client_registration.registration == RegistrationMode::Open)
    {
        return Err(ApiError::InvalidToken(
            "registration needs an initial access token (an admin token of the tenant, as `Authorization: Bearer`): no tenant takes open registrations".into(),
        ));
    }
    state
        .clients
        .operator_tenant()
        .ok_or_else(|| ApiError::Internal("no operator tenant".into()))
}

/// The tenant's rules for clients nobody typed in.
#[utoipa::path(get, path = "/v1/client_registration", tag = "client_registration",
    responses((status = 200, body = ClientRegistrationView), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_client_registration(
    State(state): State<AppState>,
    admin: TenantAdmin,
) -> ApiResult<Json<ClientRegistrationView>> {
    let tenant = state.storage.get_tenant(admin.tenant).await?;
    Ok(Json(ClientRegistrationView::from(
        &tenant.client_registration,
    )))
}

/// Replace the tenant's rules for clients nobody typed in.
#[utoipa::path(put, path = "/v1/client_registration", tag = "client_registration", request_body = ClientRegistrationView,
    responses((status = 200, body = ClientRegistrationView), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn put_client_registration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<ClientRegistrationView>,
) -> ApiResult<Json<ClientRegistrationView>> {
    let policy = ClientRegistrationPolicy::new(
        RegistrationMode::parse(&body.registration)?,
        body.metadata_documents,
        body.approved_domains,
    )?;
    state
        .storage
        .set_client_registration(admin.tenant, &policy)
        .await?;
    state.publish(Change::Tenant(admin.tenant)).await?;
    let view = ClientRegistrationView::from(&policy);
    admin.audit(
        &state,
        AuditAction::ClientRegistrationChanged,
        admin.tenant.to_string(),
        json!(view),
    );
    Ok(Json(view))
}
