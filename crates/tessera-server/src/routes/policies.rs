//! Access policies (SPEC §4): who may see which assets of the caller's tenant. Every change is
//! published on the change feed, so each instance drops its compiled policies for the tenant.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::AccessPolicyId;
use tessera_core::page::next_page_token;
use tessera_core::policy::{validate_policy, AccessPolicy, PolicyRules};
use tessera_core::ports::{AuditAction, Change};

use super::conventions::{not_found, page};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

const MAX_DESCRIPTION_CHARS: usize = 1024;

fn policy_id(raw: &str) -> Result<AccessPolicyId, ApiError> {
    uuid::Uuid::try_parse(raw.strip_prefix("access_policies/").unwrap_or(raw))
        .map(AccessPolicyId::from_uuid)
        .map_err(|_| DomainError::NotFound("access policy").into())
}

/// The caller's policy with this id; 404 for any other (or another tenant's).
async fn find(state: &AppState, admin: &TenantAdmin, raw: &str) -> ApiResult<AccessPolicy> {
    state
        .storage
        .get_policy(admin.tenant, policy_id(raw)?)
        .await
        .map_err(not_found("access policy"))
}

fn validate_description(description: &str) -> Result<(), DomainError> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(DomainError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Create an access policy.
#[utoipa::path(post, path = "/v1/access_policies", tag = "access policies", request_body = CreateAccessPolicyRequest,
    responses((status = 201, body = AccessPolicyView), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn create_policy(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<CreateAccessPolicyRequest>,
) -> ApiResult<(StatusCode, Json<AccessPolicyView>)> {
    let (display_name, description, rules) = body.rules();
    let rules = validate_policy(&display_name, rules)?;
    validate_description(&description)?;
    let now = state.clock.now_millis();
    let policy = AccessPolicy {
        id: AccessPolicyId::generate(&*state.rng),
        tenant_id: admin.tenant,
        seq: 0,
        display_name: display_name.trim().to_owned(),
        description,
        rules,
        created_at: now,
        updated_at: now,
    };
    let policy = state.storage.create_policy(&policy).await?;
    state.publish(Change::AccessPolicies(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::AccessPolicyCreated,
        policy.id.to_string(),
        json!({"display_name": policy.display_name}),
    );
    Ok((StatusCode::CREATED, Json(AccessPolicyView::from(&policy))))
}

/// List the tenant's access policies.
#[utoipa::path(get, path = "/v1/access_policies", tag = "access policies", params(PageQuery),
    responses((status = 200, body = AccessPolicyList), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn list_policies(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<AccessPolicyList>> {
    let found = state.storage.list_policies(admin.tenant, page(&q)?).await?;
    Ok(Json(AccessPolicyList {
        access_policies: found.items.iter().map(AccessPolicyView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Read an access policy.
#[utoipa::path(get, path = "/v1/access_policies/{uuid}", tag = "access policies",
    responses((status = 200, body = AccessPolicyView), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<AccessPolicyView>> {
    let policy = find(&state, &admin, &id).await?;
    Ok(Json(AccessPolicyView::from(&policy)))
}

/// Change an access policy.
#[utoipa::path(patch, path = "/v1/access_policies/{uuid}", tag = "access policies", request_body = PatchAccessPolicyRequest,
    responses((status = 200, body = AccessPolicyView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn patch_policy(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchAccessPolicyRequest>,
) -> ApiResult<Json<AccessPolicyView>> {
    let mut policy = find(&state, &admin, &id).await?;
    let display_name = body.display_name.unwrap_or(policy.display_name.clone());
    let rules = PolicyRules {
        filters: body
            .filters
            .map(filters_from_wire)
            .unwrap_or(policy.rules.filters.clone()),
        permissions: body
            .permissions
            .map(permissions_from_wire)
            .unwrap_or(policy.rules.permissions.clone()),
    };
    policy.rules = validate_policy(&display_name, rules)?;
    policy.display_name = display_name.trim().to_owned();
    if let Some(description) = body.description {
        validate_description(&description)?;
        policy.description = description;
    }
    policy.updated_at = state.clock.now_millis();
    state
        .storage
        .update_policy(&policy)
        .await
        .map_err(not_found("access policy"))?;
    state.publish(Change::AccessPolicies(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::AccessPolicyUpdated,
        policy.id.to_string(),
        json!({}),
    );
    Ok(Json(AccessPolicyView::from(&policy)))
}

/// Delete an access policy.
#[utoipa::path(delete, path = "/v1/access_policies/{uuid}", tag = "access policies",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn delete_policy(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = policy_id(&id)?;
    state
        .storage
        .delete_policy(admin.tenant, id)
        .await
        .map_err(not_found("access policy"))?;
    state.publish(Change::AccessPolicies(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::AccessPolicyDeleted,
        id.to_string(),
        json!({}),
    );
    Ok(StatusCode::NO_CONTENT)
}
