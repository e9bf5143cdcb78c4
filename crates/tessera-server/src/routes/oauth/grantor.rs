//! Who a delegated grant stands on: the public client that names itself, and the person who
//! authorized a code or a refresh token. Shared by `authorization_code` and `refresh`, so
//! neither imports the other.

use std::sync::Arc;

use tessera_core::client_auth::RegisteredClient;
use tessera_core::error::OAuthError;

use crate::error::ApiError;
use crate::hot::DelegationFacts;
use crate::state::AppState;

/// The public client a code redemption, a refresh or a revocation names (SPEC §15): by its id,
/// or by its metadata document's URL; a confidential one must authenticate.
pub(crate) fn public_client(
    state: &AppState,
    named: &str,
) -> Result<Arc<RegisteredClient>, OAuthError> {
    crate::routes::external_clients::public_client_named(state, named).ok_or_else(|| {
        OAuthError::no_client_authentication(OAuthError::CLIENT_AUTHENTICATION_METHODS)
    })
}

/// The person a code or a refresh token was given by, and their tenant while it is enabled;
/// `gone` says why the grant no longer holds.
pub(super) async fn person(
    state: &AppState,
    client: &RegisteredClient,
    user: tessera_core::id::UserId,
    gone: fn(&str) -> OAuthError,
) -> Result<(Arc<DelegationFacts>, tessera_core::model::Tenant), ApiError> {
    let facts = state
        .delegation_facts(client, &user.to_string())
        .await
        .map_err(|e| match e {
            // The user is gone; a failing store stays what it is.
            ApiError::OAuth(_) => gone("the person who authorized it no longer exists").into(),
            other => other,
        })?;
    let Some(tenant) = state.clients.enabled_tenant(&facts.user.tenant_id) else {
        return Err(gone("the person's organization is disabled").into());
    };
    Ok((facts, tenant))
}
