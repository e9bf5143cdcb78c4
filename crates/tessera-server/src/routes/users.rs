//! The tenant's users (SPEC §4): invite or create, read, change, reset a password, remove.

use crate::security_events::signal;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;
use tessera_core::error::DomainError;
use tessera_core::id::UserId;
use tessera_core::model::SecurityEvent;
use tessera_core::model::{
    validate_display_name, validate_email, LinkPurpose, Role, User, UserLink,
    PASSWORD_RESET_TTL_SECONDS,
};
use tessera_core::page::next_page_token;
use tessera_core::ports::{AuditAction, Change};

use super::conventions::{checked_password_hash, keeps_an_admin, Kept};
use super::conventions::{not_found, page};
use super::tenants::set_password_url;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, TenantAdmin};
use crate::state::AppState;
use crate::wire::*;

fn parse_role(raw: Option<&str>) -> Result<Option<Role>, DomainError> {
    raw.map(|r| {
        Role::parse(r).ok_or_else(|| DomainError::invalid("role", "must be `admin` or `member`"))
    })
    .transpose()
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
        .map_err(not_found("user"))?;
    state.publish(Change::People(admin.tenant)).await?;
    signal(
        &state,
        admin.tenant,
        SecurityEvent::UserDeleted { user: id },
    )
    .await?;
    admin.audit(&state, AuditAction::UserDeleted, id.to_string(), json!({}));
    Ok(StatusCode::NO_CONTENT)
}
