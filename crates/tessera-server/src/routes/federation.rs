//! Trusted issuers and federated credentials (SPEC §14): a tenant admin says which platforms
//! vouch for its workloads and which platform identities each integration accepts in place of a
//! secret. Every change is published on the change feed, so each instance's snapshot follows
//! within a second and a removal ends the tokens issued through it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::{FederatedCredentialId, TrustedIssuerId};
use tessera_core::model::{
    FederatedCredential, TrustedIssuer, TrustedIssuerRequest, MAX_FEDERATED_CREDENTIALS,
    MAX_TRUSTED_ISSUERS,
};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, Change, StoreError};

use super::conventions::{not_found, own_integration, page, parse_client_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// A path's id, or 404 as for any id of another tenant.
fn parse<T: std::str::FromStr>(raw: &str, prefix: &str, what: &'static str) -> ApiResult<T> {
    let full = if raw.starts_with(prefix) {
        raw.to_owned()
    } else {
        format!("{prefix}{raw}")
    };
    full.parse().map_err(|_| DomainError::NotFound(what).into())
}

/// Trust a platform's identity tokens.
#[utoipa::path(post, path = "/v1/trusted_issuers", tag = "federation", request_body = CreateTrustedIssuerRequest,
    responses((status = 201, body = TrustedIssuerView), (status = 400, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create_trusted_issuer(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<CreateTrustedIssuerRequest>,
) -> ApiResult<(StatusCode, Json<TrustedIssuerView>)> {
    let request = TrustedIssuerRequest {
        issuer: body.issuer,
        jwks_uri: body.jwks_uri,
        audiences: body.audiences,
        max_token_lifetime_seconds: body.max_token_lifetime_seconds,
    };
    let issuer = TrustedIssuer::new(
        TrustedIssuerId::generate(&*state.rng),
        admin.tenant,
        &request,
        state.config.url_rules,
        state.clock.now_millis(),
    )?;
    if state.federation.issuer_count(admin.tenant) >= MAX_TRUSTED_ISSUERS {
        return Err(DomainError::invalid(
            "issuer",
            format!("the tenant already trusts {MAX_TRUSTED_ISSUERS} issuers; remove one first"),
        )
        .into());
    }
    state
        .storage
        .create_trusted_issuer(&issuer)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Domain(DomainError::Conflict(format!(
                "the tenant already trusts `{}`",
                issuer.issuer
            ))),
            other => other.into(),
        })?;
    state.publish(Change::Federation(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::TrustedIssuerAdded,
        issuer.id.to_string(),
        json!({"issuer": issuer.issuer, "audiences": issuer.audiences}),
    );
    Ok((StatusCode::CREATED, Json(TrustedIssuerView::from(&issuer))))
}

/// List the tenant's trusted issuers.
#[utoipa::path(get, path = "/v1/trusted_issuers", tag = "federation", params(PageQuery),
    responses((status = 200, body = TrustedIssuerList), (status = 400, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_trusted_issuers(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<TrustedIssuerList>> {
    let found = state
        .storage
        .list_trusted_issuers(admin.tenant, page(&q)?)
        .await?;
    Ok(Json(TrustedIssuerList {
        trusted_issuers: found.items.iter().map(TrustedIssuerView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Stop trusting a platform: its federated credentials go with it, and every token issued
/// through them stops working on every instance within a second.
#[utoipa::path(delete, path = "/v1/trusted_issuers/{id}", tag = "federation",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_trusted_issuer(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: TrustedIssuerId = parse(&id, "trusted_issuers/", "trusted issuer")?;
    let (gone, credentials) = state
        .storage
        .delete_trusted_issuer(admin.tenant, id)
        .await
        .map_err(not_found("trusted issuer"))?;
    state.publish(Change::Federation(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::TrustedIssuerRemoved,
        id.to_string(),
        json!({"issuer": gone.issuer, "federated_credentials_removed": credentials}),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Accept a platform identity in place of the integration's secret.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/federated_credentials", tag = "federation",
    request_body = CreateFederatedCredentialRequest,
    responses((status = 201, body = FederatedCredentialView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create_federated_credential(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<CreateFederatedCredentialRequest>,
) -> ApiResult<(StatusCode, Json<FederatedCredentialView>)> {
    let client_id = own_integration(&state, admin.tenant, &client_id).await?;
    let credential = FederatedCredential::new(
        FederatedCredentialId::generate(&*state.rng),
        admin.tenant,
        client_id,
        &body.issuer,
        &body.subject,
        &body.claims,
        state.clock.now_millis(),
    )?;
    if state
        .federation
        .credentials_of(admin.tenant, client_id)
        .len()
        >= MAX_FEDERATED_CREDENTIALS
    {
        return Err(DomainError::invalid(
            "subject",
            format!("the integration already has {MAX_FEDERATED_CREDENTIALS} federated credentials; remove one first"),
        )
        .into());
    }
    state
        .storage
        .create_federated_credential(&credential)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Domain(DomainError::Conflict(
                "the integration already accepts this issuer and subject".into(),
            )),
            // The integration is the tenant's (checked above): the issuer is not trusted. The
            // store decides, not this instance's snapshot, which may be a second behind.
            StoreError::NotFound => DomainError::invalid(
                "issuer",
                "is not a trusted issuer of this tenant: register it first (POST /v1/trusted_issuers)",
            )
            .into(),
            other => other.into(),
        })?;
    state.publish(Change::Federation(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::FederatedCredentialAdded,
        client_id.to_string(),
        json!({"id": credential.id, "issuer": credential.issuer, "subject": credential.subject}),
    );
    Ok((
        StatusCode::CREATED,
        Json(FederatedCredentialView::from(&credential)),
    ))
}

/// List an integration's federated credentials.
#[utoipa::path(get, path = "/v1/integrations/{client_id}/federated_credentials", tag = "federation", params(PageQuery),
    responses((status = 200, body = FederatedCredentialList), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_federated_credentials(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<FederatedCredentialList>> {
    let client_id = own_integration(&state, admin.tenant, &client_id).await?;
    let found = state
        .storage
        .list_federated_credentials(admin.tenant, client_id, page(&q)?)
        .await?;
    Ok(Json(FederatedCredentialList {
        federated_credentials: found
            .items
            .iter()
            .map(FederatedCredentialView::from)
            .collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Stop accepting a platform identity: the tokens issued through it stop working on every
/// instance within a second.
#[utoipa::path(delete, path = "/v1/integrations/{client_id}/federated_credentials/{id}", tag = "federation",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_federated_credential(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path((client_id, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let client_id = parse_client_id(&client_id)?;
    let id: FederatedCredentialId = parse(&id, "federated_credentials/", "federated credential")?;
    let gone = state
        .storage
        .delete_federated_credential(admin.tenant, client_id, id)
        .await
        .map_err(not_found("federated credential"))?;
    state.publish(Change::Federation(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::FederatedCredentialRemoved,
        client_id.to_string(),
        json!({"id": id, "issuer": gone.issuer, "subject": gone.subject}),
    );
    Ok(StatusCode::NO_CONTENT)
}
