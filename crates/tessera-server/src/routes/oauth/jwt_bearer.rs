//! The JWT bearer grant (RFC 7523): the assertion names the integration and the user.

use std::sync::Arc;

use tessera_core::client_auth::RegisteredClient;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::grant::{self, Delegation, IssueContext};
use tessera_core::token::assertion::{self, AssertionError};

use crate::error::ApiError;
use crate::state::AppState;

/// RFC 7523 §2.1 and §3.1: every problem with the assertion is `invalid_grant`.
pub(super) fn invalid_grant(e: AssertionError) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidGrant, e.to_string())
}

/// RFC 7523 §2.1. The assertion names the integration (`iss`) and the user (`sub`).
pub(super) async fn jwt_bearer(
    state: &AppState,
    ctx: &IssueContext<'_>,
    authenticated: Option<&Arc<RegisteredClient>>,
    assertion: &str,
    scope: Option<&str>,
) -> Result<grant::IssuedToken, ApiError> {
    let (decoded, iss) = assertion::assertion_issuer(assertion).map_err(invalid_grant)?;
    let client = grant::assertion_client(authenticated, &iss, &state.clients)?;
    let verified = state
        .verify_assertion(&decoded, &client, "/oauth2/token")
        .await
        .map_err(invalid_grant)?;
    let facts = state.delegation_facts(&client, &verified.sub).await?;
    let user = &facts.user;
    let tenant = match state.clients.tenant(&user.tenant_id) {
        Some(tenant) => tenant,
        None => state.storage.get_tenant(user.tenant_id).await?,
    };
    let foreign = user.tenant_id != client.integration.tenant_id;
    let delegation = Delegation {
        asked_for: &verified.sub,
        user,
        tenant: &tenant,
        consented: state.consents.scopes(
            user.tenant_id,
            client.integration.client_id,
            user.id,
            foreign,
        ),
    };
    // Decided before the jti is spent, so a request refused for consent can be retried as is.
    let issued = grant::issue_jwt_bearer(ctx, &client, &delegation, scope)?;
    state.claim_assertion(&verified, invalid_grant).await?;
    Ok(issued)
}
