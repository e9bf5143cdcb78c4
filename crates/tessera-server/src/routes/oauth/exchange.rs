//! Token exchange (RFC 8693): a subject token of this server, or a platform's identity token (SPEC §14).

use tessera_core::client_auth::RegisteredClient;
use tessera_core::error::{OAuthError, OAuthErrorCode};
use tessera_core::federation::PlatformToken;
use tessera_core::grant::{
    self, Exchange, ExchangeRequest, IssueContext, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
};

use crate::error::ApiError;
use crate::extract::TokenCaller;
use crate::state::AppState;

/// Whether the exchange's subject is a JWT that some other issuer than this server signed: a
/// platform's identity token (SPEC §14).
pub(super) fn is_platform_token(state: &AppState, exchange: &ExchangeRequest) -> bool {
    exchange.subject_token_type == TOKEN_TYPE_JWT
        && PlatformToken::read(&exchange.subject_token)
            .is_ok_and(|t| t.issuer != state.config.issuer)
}

/// RFC 8693 with a platform's identity token as the subject (SPEC §14): the token proves the
/// workload, a federated credential names its integration (`client_id`, the authenticated
/// client, or the only integration that accepts the token's issuer and subject), and the
/// answer is that integration's own token, as client credentials would give it.
pub(super) async fn platform_exchange(
    state: &AppState,
    ctx: &IssueContext<'_>,
    caller: &TokenCaller,
    exchange: &ExchangeRequest,
) -> Result<grant::IssuedToken, ApiError> {
    if exchange.actor.is_some() {
        return Err(OAuthError::invalid_request(
            "an `actor_token` cannot go with a platform token as the `subject_token`",
        )
        .into());
    }
    if exchange
        .requested_token_type
        .as_deref()
        .is_some_and(|t| t != TOKEN_TYPE_ACCESS_TOKEN)
    {
        return Err(OAuthError::invalid_request(format!(
            "`requested_token_type` must be `{TOKEN_TYPE_ACCESS_TOKEN}`"
        ))
        .into());
    }
    if exchange
        .audience
        .as_deref()
        .is_some_and(|a| a != state.config.audience)
    {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "a platform token is exchanged for the integration's own token: leave `audience` out",
        )
        .into());
    }
    let invalid = |e: String| OAuthError::new(OAuthErrorCode::InvalidGrant, e);
    let platform =
        PlatformToken::read(&exchange.subject_token).map_err(|e| invalid(e.to_string()))?;
    let authenticated = caller
        .client
        .as_ref()
        .map(|(c, _)| c.integration.client_id.to_string());
    let named = authenticated.as_deref().or(caller.named_client.as_deref());
    let (client, credential) = state
        .federated_client(&platform, named)
        .await
        .map_err(|e| invalid(format!("`subject_token`: {e}")))?;
    let ctx = IssueContext {
        federated: Some(credential),
        ..*ctx
    };
    Ok(grant::issue_client_credentials(
        &ctx,
        &client,
        exchange.scope.as_deref(),
        None,
        state,
    )?)
}

/// RFC 8693. The subject token (and an actor token) must be live access tokens of this server.
pub(super) fn token_exchange(
    state: &AppState,
    ctx: &IssueContext<'_>,
    client: &RegisteredClient,
    request: &ExchangeRequest,
) -> Result<grant::IssuedToken, ApiError> {
    let live = |parameter: &str, token: &str| -> Result<_, OAuthError> {
        state.validate_token(token).map_err(|reason| {
            OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                format!("`{parameter}` is not a live access token of this server: {reason}"),
            )
        })
    };
    let subject = live("subject_token", &request.subject_token)?;
    let actor = match &request.actor {
        Some((token, kind)) => Some((live("actor_token", token)?, kind.as_str())),
        None => None,
    };
    let audience = grant::exchange_audience(
        request.audience.as_deref(),
        &state.config.audience,
        &state.config.issuer,
        subject.tenant_id,
        &state.clients,
    )?;
    let exchange = Exchange {
        subject: &subject,
        subject_token_type: &request.subject_token_type,
        actor: actor.as_ref().map(|(claims, kind)| (&**claims, *kind)),
        scope: request.scope.as_deref(),
        requested_token_type: request.requested_token_type.as_deref(),
    };
    let ctx = IssueContext { audience, ..*ctx };
    Ok(grant::issue_token_exchange(&ctx, client, &exchange)?)
}
