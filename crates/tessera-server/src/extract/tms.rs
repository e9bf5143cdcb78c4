//! The caller of `POST /tms/v1/tokens` (SPEC §8): an integration with HTTP Basic, or (SPEC §14)
//! a platform token as the body's `client_assertion`; and the body.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use tessera_core::client_auth::{RegisteredClient, CLIENT_ASSERTION_TYPE_JWT};
use tessera_core::error::OAuthError;
use tessera_core::federation::PlatformToken;
use tessera_core::id::FederatedCredentialId;

use super::client::{platform_client, refuse_federated};
use super::{ApiJson, BasicClient, PeerAddress};
use crate::access_log::RequestNotes;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::TmsTokensRequest;

/// The integration calling TMS, how it proved itself, and what it asks for.
pub struct TmsCaller {
    /// The integration.
    pub client: Arc<RegisteredClient>,
    /// The federated credential whose platform token authenticated it, if one did.
    pub federated: Option<FederatedCredentialId>,
    /// The request's body.
    pub body: TmsTokensRequest,
}

impl FromRequest<AppState> for TmsCaller {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        tms_caller(state, request).await
    }
}

async fn tms_caller(state: &AppState, request: Request) -> Result<TmsCaller, ApiError> {
    let (mut parts, body) = request.into_parts();
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let BasicClient(client) = BasicClient::from_request_parts(&mut parts, state).await?;
        let ApiJson(body) =
            ApiJson::<TmsTokensRequest>::from_request(Request::from_parts(parts, body), state)
                .await?;
        if body.client_assertion.is_some() {
            return Err(OAuthError::invalid_request(
                "the client authenticated twice (HTTP Basic and a client assertion); use one method",
            )
            .into());
        }
        return Ok(TmsCaller {
            client,
            federated: None,
            body,
        });
    }
    let peer = PeerAddress::of(&parts.extensions).0;
    let notes = parts.extensions.get::<RequestNotes>().cloned();
    let ApiJson(body) =
        ApiJson::<TmsTokensRequest>::from_request(Request::from_parts(parts, body), state).await?;
    let (Some(CLIENT_ASSERTION_TYPE_JWT), Some(assertion)) = (
        body.client_assertion_type.as_deref(),
        body.client_assertion.as_deref(),
    ) else {
        return Err(OAuthError::no_client_authentication(
            "send the integration's client_id and client_secret with HTTP Basic, or a platform token as `client_assertion` with `client_assertion_type` urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .into());
    };
    let platform = PlatformToken::read(assertion).map_err(refuse_federated)?;
    let (client, credential) =
        platform_client(state, &platform, body.client_id.as_deref(), peer).await?;
    if let Some(notes) = notes {
        notes.set_client(client.integration.client_id);
    }
    Ok(TmsCaller {
        client,
        federated: Some(credential),
        body,
    })
}
