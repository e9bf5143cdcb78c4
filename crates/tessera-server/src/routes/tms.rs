//! The Token Management Service (SPEC §8, seed 004): a multi-tenant integration, authenticated
//! with HTTP Basic, asks for tokens for up to five tenants at once, and lists the tenants that
//! authorized its application. Everything it reads is in memory (clients, tenants,
//! authorizations), so a batch costs about what its signatures do.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tessera_core::error::DomainError;
use tessera_core::grant::IssueContext;
use tessera_core::grant::{self, tms_version};
use tessera_core::id::TenantId;
use tessera_core::model::parse_tms_tenants;
use tessera_core::page::{bad_page_token, decode_page_token, encode_page_token, parse_page_size};
use tessera_core::ports::{AuditAction, AuditRecord, StoreError};
use utoipa::IntoParams;

use super::oauth::no_store;
use crate::error::ApiResult;
use crate::extract::{BasicClient, TmsCaller};
use crate::metrics::{GrantLabel, TokenLabel};
use crate::state::AppState;
use crate::wire::*;

/// How the audit log and the metrics name a TMS issuance.
const GRANT_TMS: &str = "tms";

/// Issue tokens for up to five tenants that authorized the application.
#[utoipa::path(post, path = "/tms/v1/tokens", tag = "tms", operation_id = "tms_issue_tokens", request_body = TmsTokensRequest,
    responses((status = 200, body = TmsTokensResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("basic" = [])))]
pub async fn issue_tokens(
    State(state): State<AppState>,
    TmsCaller {
        client,
        federated,
        body,
    }: TmsCaller,
) -> ApiResult<Response> {
    let app = tms_version(&client)?;
    let tenants = parse_tms_tenants(&body.tenants)?;
    let ring = state.keys.load();
    let ctx = IssueContext {
        federated,
        ..state.issue_context(&ring)
    };
    let own_tenant = client.integration.tenant_id;
    let mut answer = TmsTokensResponse {
        tokens: Vec::with_capacity(tenants.len()),
        errors: Vec::new(),
    };
    for tenant_id in tenants {
        let tenant = match state.clients.tenant(&tenant_id) {
            Some(tenant) => Some(tenant),
            None => match state.storage.get_tenant(tenant_id).await {
                Ok(tenant) => Some(tenant),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
        };
        // A disabled tenant gets nothing new, and says no more than one that does not exist.
        let tenant = tenant.filter(|t| !t.disabled);
        let authorization = state.app_authorizations.find(tenant_id, &app.app_name);
        match grant::issue_tms(
            &ctx,
            &client,
            app,
            tenant.as_ref(),
            authorization.as_deref(),
        )? {
            Ok(issued) => {
                let claims = &issued.claims;
                let detail = serde_json::json!({
                    "grant_type": GRANT_TMS, "scope": claims.scope.to_string(), "sub": claims.sub,
                    "exp": claims.exp, "tenant_id": claims.tenant_id,
                    "app_name": app.app_name, "app_version": app.app_version,
                })
                .to_string();
                // In the audit of the tenant whose data it reaches, and of the application's.
                let mut audited = vec![tenant_id];
                if tenant_id != own_tenant {
                    audited.push(own_tenant);
                }
                for audit_tenant in audited {
                    state.audit(AuditRecord {
                        tenant_id: audit_tenant,
                        at: state.clock.now_millis(),
                        actor: format!("client:{}", claims.client_id),
                        action: AuditAction::TokenIssued.into(),
                        target: claims.jti.clone(),
                        detail: detail.clone(),
                    });
                }
                answer.tokens.push(TmsToken {
                    tenant_id: tenant_id.to_string(),
                    access_token: issued.access_token,
                    token_type: "Bearer",
                    expires_in: issued.expires_in,
                    scope: issued.scope.to_string(),
                });
            }
            Err(refusal) => {
                state.metrics.token_request(GRANT_TMS, refusal.code());
                answer.errors.push(TmsError {
                    tenant_id: tenant_id.to_string(),
                    error: refusal.code(),
                    error_description: refusal.description(),
                })
            }
        }
    }
    state
        .metrics
        .tokens_issued
        .get_or_create(&GrantLabel { grant: GRANT_TMS })
        .inc_by(answer.tokens.len() as u64);
    state
        .metrics
        .token_requests
        .get_or_create(&TokenLabel {
            grant: GRANT_TMS,
            outcome: "issued",
        })
        .inc_by(answer.tokens.len() as u64);
    Ok(no_store(Json(answer).into_response()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TmsTenantsQuery {
    /// 1 to 1000; default 100.
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

/// The page token after `tenant`: opaque to the caller, the last tenant id underneath.
fn tenant_page_token(tenant: TenantId) -> String {
    encode_page_token("t1", &tenant.to_string())
}

fn parse_tenant_page_token(token: &str) -> Result<TenantId, DomainError> {
    decode_page_token("t1", token)?
        .parse()
        .map_err(|_| bad_page_token())
}

/// List the tenants that authorized the application.
#[utoipa::path(get, path = "/tms/v1/tenants", tag = "tms", operation_id = "tms_list_tenants", params(TmsTenantsQuery),
    responses((status = 200, body = TmsTenantList), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("basic" = [])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    BasicClient(client): BasicClient,
    Query(q): Query<TmsTenantsQuery>,
) -> ApiResult<Json<TmsTenantList>> {
    let app = tms_version(&client)?;
    let size = parse_page_size(q.page_size.as_deref())?;
    let after = match q.page_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(parse_tenant_page_token(token)?),
    };
    // Keyset by tenant id: a tenant that authorizes or revokes meanwhile never makes another
    // repeat or go missing.
    let mut tenants = state
        .storage
        .authorizing_tenants(&app.app_name, after, size + 1)
        .await?;
    let more = tenants.len() > size as usize;
    tenants.truncate(size as usize);
    let next_page_token = match tenants.last() {
        Some(last) if more => tenant_page_token(*last),
        _ => String::new(),
    };
    Ok(Json(TmsTenantList {
        tenants: tenants
            .into_iter()
            .filter_map(|t| authorizing_tenant(&state, t, &app.app_name))
            .collect(),
        next_page_token,
    }))
}

/// A tenant that authorized `app_name`, with its name and the access it gave, from memory
/// (the store gave the page of ids). One revoked between the two reads is left out.
pub(crate) fn authorizing_tenant(
    state: &AppState,
    tenant: TenantId,
    app_name: &str,
) -> Option<TmsTenant> {
    let authorization = state.app_authorizations.find(tenant, app_name)?;
    Some(TmsTenant {
        tenant_id: tenant.to_string(),
        display_name: state
            .clients
            .tenant(&tenant)
            .map(|t| t.display_name)
            .unwrap_or_default(),
        access: authorization.access.as_str(),
        scopes: authorization.scopes.to_vec(),
    })
}
