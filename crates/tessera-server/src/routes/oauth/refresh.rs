//! The refresh token grant at the token endpoint (RFC 6749 §6, RFC 9700 §4.14, SPEC §15): the
//! family read once, rotated by the core, the person and their consent from memory, and the
//! next generation stored only if no other use got there first.

use std::sync::Arc;

use serde_json::json;
use tessera_core::client_auth::RegisteredClient;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::grant::{self, IssueContext, RefreshAsk, RefreshRefusal};
use tessera_core::id::Secret;
use tessera_core::model::{canonical_resource, RefreshFamily};
use tessera_core::ports::{AuditAction, AuditRecord, RevokedToken};

use crate::error::ApiError;
use crate::state::AppState;

/// What the token request says besides its grant type.
pub(super) struct RefreshRequest<'a> {
    pub token: &'a str,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
}

/// A new access token and the family's next refresh token; a replaced token coming back ends
/// the family and its newest access token.
pub(super) async fn refresh(
    state: &AppState,
    ctx: &IssueContext<'_>,
    client: &Arc<RegisteredClient>,
    asked: RefreshRequest<'_>,
) -> Result<(grant::IssuedToken, Secret), ApiError> {
    let found = match grant::refresh_token_family(asked.token) {
        Some(id) => state.storage.refresh_family(id).await?,
        None => None,
    };
    let ask = RefreshAsk {
        token: asked.token,
        resource: asked.resource,
        dpop_jkt: ctx.dpop_jkt,
    };
    let (next_token, next) = match grant::rotate_refresh(
        &state.master_key,
        found.as_ref(),
        &ask,
        client,
        ctx.now_seconds,
        ctx.rng,
    ) {
        Ok(rotated) => rotated,
        Err(RefreshRefusal::Reused(e)) => {
            if let Some(family) = &found {
                end_family(
                    state,
                    family,
                    AuditAction::RefreshTokenReused,
                    "refresh token reused",
                )
                .await?;
            }
            return Err(e.into());
        }
        Err(RefreshRefusal::Refused(e)) => return Err(e.into()),
    };
    let integration = &client.integration;
    let (facts, tenant) = super::grantor::person(state, client, next.user_id, gone).await?;
    let user = &facts.user;
    let foreign = user.tenant_id != integration.tenant_id;
    if !resource_still_consented(state, ctx, &next) {
        return Err(gone("the person no longer consents to this resource").into());
    }
    let consented = state
        .consents
        .scopes(user.tenant_id, integration.client_id, user.id, foreign);
    let issued = grant::issue_refresh(ctx, client, &next, user, &tenant, consented, asked.scope)?;
    let previous = found.as_ref().map(|f| f.token_hash).unwrap_or_default();
    if !state
        .storage
        .rotate_refresh_family(&next, &previous)
        .await?
    {
        // Another use of the same token got there first (or the family just ended): the token
        // is in two hands.
        if let Some(family) = &found {
            let why = "refresh token used twice at once";
            end_family(state, family, AuditAction::RefreshTokenReused, why).await?;
        }
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "`refresh_token` was used twice at once: since someone else may hold it, every refresh token of this authorization is revoked; send the person through /oauth2/authorize again",
        )
        .into());
    }
    Ok((issued, next_token))
}

/// Tessera's own API needs the person's consent only; a tenant's resource server needs one
/// that names it, and must still be registered.
fn resource_still_consented(
    state: &AppState,
    ctx: &IssueContext<'_>,
    family: &RefreshFamily,
) -> bool {
    let canonical = |r: &str| canonical_resource(r).unwrap_or_else(|| r.to_owned());
    let resource = canonical(&family.resource);
    resource == canonical(ctx.audience)
        || state
            .resource_servers
            .find(family.tenant_id, &resource)
            .is_some()
            && state
                .consents
                .resources(family.tenant_id, family.client_id, family.user_id)
                .contains(&resource)
}

/// Ends a family on every instance: its row, and the access token its newest generation got
/// (older ones were replaced when it was used, and expire on their own). Audited in the
/// person's tenant as `action`.
pub(crate) async fn end_family(
    state: &AppState,
    family: &RefreshFamily,
    action: AuditAction,
    reason: &str,
) -> Result<(), ApiError> {
    let Some(ended) = state.storage.delete_refresh_family(&family.id).await? else {
        return Ok(());
    };
    let access_expires = ended.last_used_at + i64::from(tessera_core::model::MAX_TOKEN_TTL_SECONDS);
    let actor = format!("client:{}", ended.client_id);
    let detail = json!({"client_id": ended.client_id, "reason": reason});
    if access_expires > state.clock.now_seconds() {
        let revoked = RevokedToken {
            jti: ended.access_token_jti(),
            expires_at: access_expires,
        };
        crate::security_events::revoke(
            state,
            ended.tenant_id,
            revoked,
            actor.clone(),
            detail.to_string(),
        )
        .await?;
    }
    state.audit(AuditRecord {
        tenant_id: ended.tenant_id,
        at: state.clock.now_millis(),
        actor,
        action: action.into(),
        target: ended.id.clone(),
        detail: json!({"client_id": ended.client_id, "user_id": ended.user_id, "reason": reason})
            .to_string(),
    });
    Ok(())
}

fn gone(why: &str) -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::InvalidGrant,
        format!("`refresh_token` no longer holds: {why}; send the person through /oauth2/authorize again"),
    )
}
