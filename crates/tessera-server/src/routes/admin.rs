//! The management API (SPEC §4): integrations, users and the audit log of the caller's tenant.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::crypto::hash_password;
use tessera_core::error::DomainError;
use tessera_core::id::{ClientId, TenantId, UserId};
use tessera_core::model::{
    validate_display_name, validate_email, validate_state, AppProfile, AppProfilePatch,
    ClientSecretRecord, ConnectionRequest, IntegrationPatch, LinkPurpose, NewAppVersion,
    NewIntegration, Role, User, UserLink, CONNECTION_URL_TTL_SECONDS, PASSWORD_RESET_TTL_SECONDS,
};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, AuditFilter, Change};
use tessera_core::scope::{Scope, ScopeSet};
use tessera_core::token::TokenSubject;

use super::conventions::{not_found, page, parse_client_id};
use super::tenants::set_password_url;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, BearerToken, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

/// The longest grace period for a replaced secret: 30 days.
const MAX_GRACE_SECONDS: u32 = 30 * 86_400;
const MIN_PASSWORD_CHARS: usize = 12;

/// Register an integration; its secret is shown once.
#[utoipa::path(post, path = "/v1/integrations", tag = "integrations", request_body = CreateIntegrationRequest,
    responses((status = 201, body = CreatedIntegration), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)))]
pub async fn create_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<CreateIntegrationRequest>,
) -> ApiResult<(StatusCode, Json<CreatedIntegration>)> {
    let scopes = body
        .scopes
        .as_deref()
        .map(|s| parse_scope_list("scopes", s))
        .transpose()?;
    platform_only_for_operator(&state, admin.tenant, scopes)?;
    let now = state.clock.now_millis();
    let app = new_app_version(
        body.multi_tenant,
        body.app_name,
        body.app_version,
        body.tms_enabled,
    )?;
    let integration = NewIntegration {
        display_name: body.display_name,
        scopes,
        custom_claims: body.custom_claims,
        token_ttl_seconds: body.token_ttl_seconds,
        jwks_uri: body.jwks_uri,
        app,
        profile: AppProfile {
            authentication_url: body.authentication_url,
            webhook_url: body.webhook_url,
            description: body.description,
            homepage_url: body.homepage_url,
        },
        urls: state.config.url_rules,
    }
    .validate(ClientId::generate(&*state.rng), admin.tenant, now)?;
    let first = (!body.secretless)
        .then(|| ClientSecretRecord::generate(integration.client_id, &*state.rng, now));
    state
        .storage
        .create_integration(&integration, first.as_ref().map(|(_, record)| record))
        .await?;
    state.publish(Change::Client(integration.client_id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationCreated,
        integration.client_id.to_string(),
        json!({"display_name": integration.display_name, "secretless": body.secretless}),
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedIntegration {
            integration: IntegrationView::from(&integration),
            client_secret: first.map(|(secret, _)| secret.expose().to_owned()),
        }),
    ))
}

/// Which kind of admin a change would take away.
enum Kept {
    User,
    Integration,
}

/// SPEC §11: a tenant keeps at least one admin user and one integration holding `admin` (of
/// each kind it has): the last one cannot be deleted or demoted, so nobody locks a tenant out
/// of its own management by mistake.
async fn keeps_an_admin(
    state: &AppState,
    tenant: tessera_core::id::TenantId,
    kind: Kept,
    change: &str,
) -> Result<(), ApiError> {
    let counts = state.storage.admin_counts(tenant).await?;
    let (left, what, instead) = match kind {
        Kept::User => (
            counts.users,
            "admin user",
            "make another user an admin first",
        ),
        Kept::Integration => (
            counts.integrations,
            "integration holding `admin`",
            "give another integration `admin` first",
        ),
    };
    if left <= 1 {
        return Err(DomainError::Conflict(format!(
            "the tenant's last {what} cannot be {change}: {instead}"
        ))
        .into());
    }
    Ok(())
}

/// `platform` manages every tenant: only the operator tenant's integrations may hold it.
fn platform_only_for_operator(
    state: &AppState,
    tenant: tessera_core::id::TenantId,
    scopes: Option<ScopeSet>,
) -> Result<(), DomainError> {
    let wants_platform = scopes.is_some_and(|s| s.contains(Scope::Platform));
    if wants_platform && !state.clients.tenant(&tenant).is_some_and(|t| t.operator) {
        return Err(DomainError::invalid(
            "scopes",
            "contains `platform`, which only integrations of the operator tenant may hold",
        ));
    }
    Ok(())
}

/// The application part of a new integration: all of it with `multi_tenant: true`, none of
/// it otherwise.
fn new_app_version(
    multi_tenant: bool,
    app_name: Option<String>,
    app_version: Option<String>,
    tms_enabled: Option<bool>,
) -> Result<Option<NewAppVersion>, DomainError> {
    if !multi_tenant {
        let given = [
            ("app_name", app_name.is_some()),
            ("app_version", app_version.is_some()),
            ("tms_enabled", tms_enabled.is_some()),
        ];
        if let Some((field, _)) = given.into_iter().find(|(_, given)| *given) {
            return Err(DomainError::invalid(
                field,
                "applies only to a multi-tenant integration: add `\"multi_tenant\": true`",
            ));
        }
        return Ok(None);
    }
    let required = |field: &'static str, value: Option<String>| {
        value.ok_or_else(|| {
            DomainError::invalid(field, "is required for a multi-tenant integration")
        })
    };
    Ok(Some(NewAppVersion {
        app_name: required("app_name", app_name)?,
        app_version: required("app_version", app_version)?,
        tms_enabled: tms_enabled.unwrap_or(false),
    }))
}

/// Promote an application version to production with new credentials.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/promote", tag = "integrations",
    responses((status = 200, body = PromotedIntegration), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn promote_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<Json<PromotedIntegration>> {
    let id = parse_client_id(&client_id)?;
    let now = state.clock.now_millis();
    let (secret, record) = ClientSecretRecord::generate(id, &*state.rng, now);
    state
        .storage
        .promote_integration(admin.tenant, &record)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    // Every instance reloads the integration: the development secret stops at once.
    state.publish(Change::Client(id)).await?;
    let integration = state.storage.get_integration(admin.tenant, id).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationPromoted,
        id.to_string(),
        json!({}),
    );
    Ok(Json(PromotedIntegration {
        integration: IntegrationView::from(&integration),
        client_secret: secret.expose().to_owned(),
    }))
}

/// Make a signed connection URL for one data owner.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/connection_url", tag = "connections", request_body = ConnectionUrlRequest,
    description = "A tenant admin's token makes one for any integration of the tenant; an integration's own client-credentials token for that integration only.",
    responses((status = 200, body = ConnectionUrl), (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn connection_url(
    State(state): State<AppState>,
    BearerToken(claims): BearerToken,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<ConnectionUrlRequest>,
) -> ApiResult<Json<ConnectionUrl>> {
    let id = parse_client_id(&client_id)?;
    // A tenant admin makes them for any integration of the tenant; an application for itself
    // alone, with a token of its own (seed 001: one URL per customer, made by the developer's
    // application). A token for another tenant's data names that tenant, where the
    // integration is not found.
    let itself = claims.client_id == id && claims.sub == TokenSubject::Integration(id);
    if !claims.scope.contains(Scope::Admin) && !itself {
        return Err(ApiError::Forbidden(format!(
            "a token without `admin` makes connection URLs for its own integration only \
             (`{}`), not for `{id}`",
            claims.client_id
        )));
    }
    make_connection_url(&state, claims.tenant_id, id, body)
        .await
        .map(Json)
}

/// A connection URL for the integration `id` of `tenant` (the caller was checked): for the API
/// and the console's connection-URL maker.
pub(crate) async fn make_connection_url(
    state: &AppState,
    tenant: TenantId,
    id: ClientId,
    body: ConnectionUrlRequest,
) -> ApiResult<ConnectionUrl> {
    let integration = state
        .storage
        .get_integration(tenant, id)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    if integration.profile.authentication_url.is_none() {
        return Err(DomainError::invalid(
            "authentication_url",
            "is not set on this integration: set it first, Tessera hands the owner's answer to it",
        )
        .into());
    }
    let scopes = parse_scope_list("scopes", &body.scopes)?;
    if scopes.is_empty() {
        return Err(DomainError::invalid("scopes", "must name at least one scope").into());
    }
    let beyond = scopes.difference(integration.scopes);
    if !beyond.is_empty() {
        return Err(DomainError::invalid(
            "scopes",
            format!(
                "`{beyond}` is beyond what this integration may request ({})",
                integration.scopes
            ),
        )
        .into());
    }
    validate_state(&body.state)?;
    let expires_at = state.clock.now_seconds() + CONNECTION_URL_TTL_SECONDS;
    let request = ConnectionRequest {
        client_id: id,
        scopes,
        state: body.state,
        expires_at,
    };
    Ok(ConnectionUrl {
        url: format!(
            "{}/connect?{}",
            state.config.issuer,
            request.to_query(&state.master_key)
        ),
        expires_at: rfc3339(expires_at * 1000),
    })
}

/// List the tenant's integrations.
#[utoipa::path(get, path = "/v1/integrations", tag = "integrations", params(PageQuery),
    responses((status = 200, body = IntegrationList), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)))]
pub async fn list_integrations(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<IntegrationList>> {
    let found = state
        .storage
        .list_integrations(admin.tenant, page(&q)?)
        .await?;
    Ok(Json(IntegrationList {
        integrations: found.items.iter().map(IntegrationView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// Read an integration.
#[utoipa::path(get, path = "/v1/integrations/{client_id}", tag = "integrations",
    responses((status = 200, body = IntegrationView), (status = 404, body = ErrorResponse)))]
pub async fn get_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<Json<IntegrationView>> {
    let id = parse_client_id(&client_id)?;
    let found = state
        .storage
        .get_integration(admin.tenant, id)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    Ok(Json(IntegrationView::from(&found)))
}

/// Change an integration.
#[utoipa::path(patch, path = "/v1/integrations/{client_id}", tag = "integrations", request_body = PatchIntegrationRequest,
    responses((status = 200, body = IntegrationView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn patch_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    ApiJson(body): ApiJson<PatchIntegrationRequest>,
) -> ApiResult<Json<IntegrationView>> {
    let id = parse_client_id(&client_id)?;
    let mut integration = state
        .storage
        .get_integration(admin.tenant, id)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    let scopes = body
        .scopes
        .as_deref()
        .map(|s| parse_scope_list("scopes", s))
        .transpose()?;
    platform_only_for_operator(&state, admin.tenant, scopes)?;
    if integration.scopes.contains(Scope::Admin)
        && scopes.is_some_and(|s| !s.contains(Scope::Admin))
    {
        keeps_an_admin(
            &state,
            admin.tenant,
            Kept::Integration,
            "stripped of `admin`",
        )
        .await?;
    }
    IntegrationPatch {
        display_name: body.display_name,
        scopes,
        custom_claims: body.custom_claims,
        token_ttl_seconds: body.token_ttl_seconds,
        jwks_uri: body.jwks_uri,
        tms_enabled: body.tms_enabled,
        profile: AppProfilePatch {
            authentication_url: body.authentication_url,
            webhook_url: body.webhook_url,
            description: body.description,
            homepage_url: body.homepage_url,
        },
        urls: state.config.url_rules,
    }
    .apply(&mut integration, state.clock.now_millis())?;
    state.storage.update_integration(&integration).await?;
    state.publish(Change::Client(id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationUpdated,
        id.to_string(),
        json!({}),
    );
    Ok(Json(IntegrationView::from(&integration)))
}

/// Delete an integration and end everything it holds.
#[utoipa::path(delete, path = "/v1/integrations/{client_id}", tag = "integrations",
    responses((status = 204, description = "Deleted; its tokens stop working on every instance within a second"), (status = 404, body = ErrorResponse)))]
pub async fn delete_integration(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_client_id(&client_id)?;
    let integration = state
        .storage
        .get_integration(admin.tenant, id)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    if integration.scopes.contains(Scope::Admin) {
        keeps_an_admin(&state, admin.tenant, Kept::Integration, "deleted").await?;
    }
    state
        .storage
        .delete_integration(admin.tenant, id)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    // Tokens name their client; a client that is gone makes them inactive everywhere.
    state.publish(Change::Client(id)).await?;
    // Its federated credentials went with it.
    if !state.federation.credentials_of(admin.tenant, id).is_empty() {
        state.publish(Change::Federation(admin.tenant)).await?;
    }
    admin.audit(
        &state,
        AuditAction::IntegrationDeleted,
        id.to_string(),
        json!({}),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Remove every secret of an integration at once: from then on it authenticates only with
/// platform tokens (SPEC §14) or its keys. A new one can be made with `POST …/secret`.
#[utoipa::path(delete, path = "/v1/integrations/{client_id}/secret", tag = "integrations",
    responses((status = 204), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub async fn remove_secrets(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_client_id(&client_id)?;
    let removed = state
        .storage
        .remove_secrets(admin.tenant, id)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    state.publish(Change::Client(id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationSecretRemoved,
        id.to_string(),
        json!({"secrets_removed": removed}),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Regenerate an integration's secret, now or after a grace period.
#[utoipa::path(post, path = "/v1/integrations/{client_id}/secret", tag = "integrations", request_body = RegenerateSecretRequest,
    responses((status = 200, body = RegeneratedSecret), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn regenerate_secret(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(client_id): Path<String>,
    body: Option<ApiJson<RegenerateSecretRequest>>,
) -> ApiResult<Json<RegeneratedSecret>> {
    let id = parse_client_id(&client_id)?;
    let grace = body
        .map(|ApiJson(b)| b.grace_seconds.unwrap_or(0))
        .unwrap_or(0);
    if grace > MAX_GRACE_SECONDS {
        return Err(DomainError::invalid(
            "grace_seconds",
            format!("is {grace}; at most {MAX_GRACE_SECONDS} (30 days)"),
        )
        .into());
    }
    let now = state.clock.now_millis();
    let (secret, record) = ClientSecretRecord::generate(id, &*state.rng, now);
    let old_expire_at = now + i64::from(grace) * 1000;
    state
        .storage
        .replace_secret(admin.tenant, &record, old_expire_at)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("integration"))?;
    state.publish(Change::Client(id)).await?;
    admin.audit(
        &state,
        AuditAction::IntegrationSecretRegenerated,
        id.to_string(),
        json!({"grace_seconds": grace}),
    );
    Ok(Json(RegeneratedSecret {
        client_id: id.to_string(),
        client_secret: secret.expose().to_owned(),
        previous_secret_expires_at: rfc3339(old_expire_at),
    }))
}

fn parse_role(raw: Option<&str>) -> Result<Option<Role>, DomainError> {
    raw.map(|r| {
        Role::parse(r).ok_or_else(|| DomainError::invalid("role", "must be `admin` or `member`"))
    })
    .transpose()
}

/// The argon2id hash of a password long enough, off the async workers (argon2 is deliberately
/// slow).
async fn checked_password_hash(state: &AppState, password: String) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(DomainError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        )
        .into());
    }
    let rng = state.rng.clone();
    tokio::task::spawn_blocking(move || hash_password(&password, &*rng))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}

/// Create or invite a user.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 400, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn create_user(
    State(state): State<AppState>,
    admin: TenantAdmin,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let email = validate_email(&body.email)?;
    validate_display_name(&body.display_name)?;
    let role = parse_role(body.role.as_deref())?.unwrap_or(Role::Member);
    let now = state.clock.now_millis();
    let password_hash = match body.password {
        Some(password) => checked_password_hash(&state, password).await?,
        None => String::new(),
    };
    let user = User {
        id: UserId::generate(&*state.rng),
        tenant_id: admin.tenant,
        email,
        display_name: body.display_name.trim().to_owned(),
        role,
        password_hash,
        created_at: now,
        updated_at: now,
        sessions_not_before: 0,
    };
    let mut view = UserView::from(&user);
    let stored = if user.has_password() {
        state.storage.create_user(&user).await
    } else {
        let (token, link) = UserLink::generate(
            &user,
            LinkPurpose::Invitation,
            &*state.rng,
            now,
            state.config.invitation_ttl_seconds,
        );
        view.invitation_url = Some(set_password_url(&state, token.expose()));
        view.invitation_expires_at = Some(rfc3339(link.expires_at));
        state.storage.create_invited_user(&user, &link).await
    };
    stored.map_err(|e| match ApiError::from(e) {
        ApiError::Domain(DomainError::Conflict(_)) => DomainError::Conflict(format!(
            "a user with the email `{}` exists already (invited or not)",
            user.email
        ))
        .into(),
        other => other,
    })?;
    state.publish(Change::People(admin.tenant)).await?;
    admin.audit(
        &state,
        if user.has_password() {
            AuditAction::UserCreated
        } else {
            AuditAction::UserInvited
        },
        user.id.to_string(),
        json!({"email": user.email, "role": role.as_str()}),
    );
    Ok((StatusCode::CREATED, Json(view)))
}

/// Make a one-time password reset link for a user.
#[utoipa::path(post, path = "/v1/users/{id}/password_reset", tag = "users",
    responses((status = 200, body = PasswordResetLink, description = "A one-time link, shown once; the user's console sessions have ended"), (status = 404, body = ErrorResponse)))]
pub async fn password_reset(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<PasswordResetLink>> {
    let user = tenant_user(&state, &admin, &id).await?;
    let now = state.clock.now_millis();
    // A user who never set a password gets a fresh invitation instead.
    let purpose = if user.has_password() {
        LinkPurpose::PasswordReset
    } else {
        LinkPurpose::Invitation
    };
    let ttl = match purpose {
        LinkPurpose::PasswordReset => PASSWORD_RESET_TTL_SECONDS,
        LinkPurpose::Invitation => state.config.invitation_ttl_seconds,
    };
    let (token, link) = UserLink::generate(&user, purpose, &*state.rng, now, ttl);
    // Sessions that began before the next second end: this one's included.
    state
        .storage
        .put_user_link(&link, now + 1)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("user"))?;
    state.publish(Change::People(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::UserPasswordReset,
        user.id.to_string(),
        json!({"email": user.email}),
    );
    Ok(Json(PasswordResetLink {
        user_id: user.id.to_string(),
        password_reset_url: set_password_url(&state, token.expose()),
        expires_at: rfc3339(link.expires_at),
    }))
}

/// List the tenant's users.
#[utoipa::path(get, path = "/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = UserList), (status = 400, body = ErrorResponse)))]
pub async fn list_users(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<UserList>> {
    let found = state.storage.list_users(admin.tenant, page(&q)?).await?;
    Ok(Json(UserList {
        users: found.items.iter().map(UserView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}

/// A user of the caller's tenant by the id in the path; 404 for anything else.
async fn tenant_user(state: &AppState, admin: &TenantAdmin, raw: &str) -> ApiResult<User> {
    state
        .storage
        .get_user(admin.tenant, parse_user_id(raw)?)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("user"))
}

fn parse_user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse()
        .map_err(|_| DomainError::NotFound("user").into())
}

/// Read a user.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", responses((status = 200, body = UserView), (status = 404, body = ErrorResponse)))]
pub async fn get_user(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = tenant_user(&state, &admin, &id).await?;
    Ok(Json(UserView::from(&user)))
}

/// Change a user's name, role or password.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", request_body = PatchUserRequest,
    responses((status = 200, body = UserView), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn patch_user(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchUserRequest>,
) -> ApiResult<Json<UserView>> {
    let mut user = tenant_user(&state, &admin, &id).await?;
    if let Some(name) = &body.display_name {
        validate_display_name(name)?;
        user.display_name = name.trim().to_owned();
    }
    let now = state.clock.now_millis();
    if let Some(role) = parse_role(body.role.as_deref())? {
        if user.role == Role::Admin && role != Role::Admin {
            keeps_an_admin(&state, admin.tenant, Kept::User, "made a member").await?;
        }
        if role != user.role {
            // A demoted admin's sessions must not keep admin pages open.
            user.sessions_not_before = now + 1;
        }
        user.role = role;
    }
    if let Some(password) = body.password {
        user.sessions_not_before = now + 1;
        user.password_hash = checked_password_hash(&state, password).await?;
    }
    user.updated_at = now;
    state.storage.update_user(&user).await?;
    state.publish(Change::People(admin.tenant)).await?;
    admin.audit(
        &state,
        AuditAction::UserUpdated,
        user.id.to_string(),
        json!({}),
    );
    Ok(Json(UserView::from(&user)))
}

/// Remove a user.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", responses((status = 204), (status = 404, body = ErrorResponse)))]
pub async fn delete_user(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let user = tenant_user(&state, &admin, &id).await?;
    if user.role == Role::Admin {
        keeps_an_admin(&state, admin.tenant, Kept::User, "deleted").await?;
    }
    let id = user.id;
    state
        .storage
        .delete_user(admin.tenant, id)
        .await
        .map_err(ApiError::from)
        .map_err(not_found("user"))?;
    state.publish(Change::People(admin.tenant)).await?;
    admin.audit(&state, AuditAction::UserDeleted, id.to_string(), json!({}));
    Ok(StatusCode::NO_CONTENT)
}

/// Read the tenant's audit log, newest first, filtered.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditList, description = "Newest first"), (status = 400, body = ErrorResponse)))]
pub async fn list_audit(
    State(state): State<AppState>,
    admin: TenantAdmin,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let time = |field: &'static str, value: &Option<String>| -> ApiResult<Option<i64>> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => {
                time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                    .map(|t| Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
                    .map_err(|_| {
                        DomainError::invalid(
                            field,
                            format!("is `{v}`; give an RFC 3339 time such as 2026-11-29T10:00:00Z"),
                        )
                        .into()
                    })
            }
        }
    };
    let filter = AuditFilter {
        actor: q.actor.clone().filter(|a| !a.trim().is_empty()),
        action: q.action.clone().filter(|a| !a.trim().is_empty()),
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
    };
    let paging = PageQuery {
        page_size: q.page_size,
        page_token: q.page_token,
    };
    let found = state
        .storage
        .list_audit(admin.tenant, &filter, page(&paging)?)
        .await?;
    Ok(Json(AuditList {
        entries: found.items.iter().map(AuditView::from).collect(),
        next_page_token: next_page_token(found.next_after),
    }))
}
