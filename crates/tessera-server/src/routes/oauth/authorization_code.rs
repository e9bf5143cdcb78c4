//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5): the
//! code opened and checked by the core, the person and their consent from memory, the code's
//! single use recorded in the shared replay store.

use std::sync::Arc;

use serde_json::json;
use tessera_core::client_auth::RegisteredClient;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::grant::{self, CodeGrant, IssueContext};
use tessera_core::id::Secret;
use tessera_core::ports::{AuditAction, Change, RevokedToken};

use crate::error::ApiError;
use crate::state::AppState;

use super::grantor::person;
use super::refresh::end_family;

/// How long a consent given on another instance may take to arrive here by the change feed
/// (polled four times a second; SPEC §2 promises a second).
const FEED_LAG_SECONDS: i64 = 2;

/// What the token request says of its code.
pub(super) struct Redemption<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: &'a str,
    pub resource: Option<&'a str>,
}

/// Redeems the code once, starting its refresh token family: a second use refuses and revokes
/// what the first one got, the access token and the family (RFC 6749 §4.1.2, RFC 9700 §4.2.4),
/// on every instance.
pub(super) async fn authorization_code(
    state: &AppState,
    ctx: &IssueContext<'_>,
    client: &Arc<RegisteredClient>,
    asked: Redemption<'_>,
) -> Result<(grant::IssuedToken, Secret), ApiError> {
    let integration = &client.integration;
    let code = CodeGrant::redeem(
        &state.master_key,
        asked.code,
        integration.client_id,
        asked.redirect_uri,
        asked.code_verifier,
        asked.resource,
        ctx.now_seconds,
    )?;
    let (facts, tenant) = person(state, client, code.user_id, gone).await?;
    let user = &facts.user;
    let foreign = user.tenant_id != integration.tenant_id;
    let consents = || {
        state
            .consents
            .scopes(user.tenant_id, integration.client_id, user.id, foreign)
    };
    let covers = |c: Option<tessera_core::scope::ScopeSet>| {
        tessera_core::scope::ScopeSet::parse(&code.scope)
            .is_ok_and(|asked| c.is_some_and(|c| asked.difference(c).is_empty()))
    };
    let mut consented = consents();
    // The consent may have been given on another instance a moment ago, before the change feed
    // brought it here: for a code that new, read the person's tenant once before refusing.
    // Older codes are refused from memory, so a refused code replayed costs no reads.
    let fresh = ctx.now_seconds - (code.exp - grant::CODE_TTL_SECONDS) <= FEED_LAG_SECONDS;
    if fresh && !covers(consented) {
        state.apply(&Change::People(user.tenant_id)).await?;
        consented = consents();
    }
    let issued = grant::issue_authorization_code(ctx, client, &code, user, &tenant, consented)?;
    let until = code.exp + i64::from(integration.token_ttl_seconds);
    let (refresh_token, family) = grant::start_refresh_family(
        &state.master_key,
        &code,
        user.tenant_id,
        integration.refresh,
        // A public client has no credential to hold its refresh token to: its DPoP key does.
        ctx.dpop_jkt.filter(|_| integration.public_client),
        ctx.now_seconds,
        ctx.rng,
    )?;
    // The code's single use and its family in one write: a second use starts nothing.
    let first = state
        .storage
        .redeem_code(&format!("code:{}", integration.client_id), until, &family)
        .await?;
    if !first {
        // The token of the first use has the code's id as its `jti`.
        let revoked = RevokedToken {
            jti: code.id.clone(),
            expires_at: until,
        };
        let actor = format!("client:{}", integration.client_id);
        let detail =
            json!({"client_id": integration.client_id, "reason": "authorization code used twice"});
        crate::security_events::revoke(state, user.tenant_id, revoked, actor, detail.to_string())
            .await?;
        if let Some(family) = state.storage.refresh_family(&code.id).await? {
            let why = "authorization code used twice";
            end_family(state, &family, AuditAction::RefreshTokenRevoked, why).await?;
        }
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidGrant,
            "`code` was used already: a code is good for one token, and the token the first use got is revoked",
        )
        .into());
    }
    Ok((issued, refresh_token))
}

fn gone(why: &str) -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::InvalidGrant,
        format!("`code` no longer holds: {why}"),
    )
}
