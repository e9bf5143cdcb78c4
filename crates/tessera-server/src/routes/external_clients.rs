//! Clients nobody typed in (SPEC §15), as the authorization and token endpoints see them. A
//! Client ID Metadata Document's client becomes a public integration of the operator tenant
//! (its publisher of record) whose id is derived from the URL, stored when a person first
//! allows it and brought up to date with the document after that; until then it exists only
//! in memory. Which of them a person may authorize is their tenant's rule.

use std::sync::Arc;

use serde_json::json;
use tessera_core::client_auth::{ClientDirectory, RegisteredClient};
use tessera_core::model::{
    client_id_for_document, metadata_document_url, ClientMetadata, ClientOrigin, RegistrationMode,
    Tenant,
};
use tessera_core::ports::{AuditAction, AuditRecord, Change};

use crate::error::ApiError;
use crate::state::AppState;

/// The client `client_id` names at the authorization endpoint: a registered integration, or
/// the one a metadata document describes now (fetched if it is a URL). The error is the
/// page's text.
pub(crate) async fn named_client(
    state: &AppState,
    client_id: &str,
) -> Result<Option<Arc<RegisteredClient>>, String> {
    let rules = state.config.url_rules;
    let Some(url) = metadata_document_url(client_id, rules) else {
        let id = client_id.parse().ok();
        return Ok(id.and_then(|id| state.clients.client(&id)));
    };
    let now = state.clock.now_millis();
    let refused = |why: &str| {
        format!("Tessera cannot use the application's metadata document at `{url}`: {why}.")
    };
    let metadata = state
        .metadata_documents
        .metadata(&url, rules, now)
        .await
        .map_err(|why| refused(&why))?;
    document_client(state, &url, &metadata)
        .map(Some)
        .map_err(|why| refused(&why))
}

/// The integration a metadata document describes, as it would be stored now.
fn document_client(
    state: &AppState,
    url: &str,
    metadata: &ClientMetadata,
) -> Result<Arc<RegisteredClient>, String> {
    let Some(publisher) = state
        .clients
        .operator_tenant()
        .and_then(|id| state.clients.tenant(&id))
    else {
        return Err("Tessera has no operator tenant to hold its application".into());
    };
    let id = client_id_for_document(url);
    let stored = state.clients.client(&id);
    let now = state.clock.now_millis();
    let mut integration = metadata
        .new_integration(state.config.url_rules)
        .validate(id, publisher.id, now)
        .map_err(|e| e.to_string())?;
    integration.origin = ClientOrigin::MetadataDocument(url.to_owned());
    if let Some(stored) = &stored {
        integration.created_at = stored.integration.created_at;
        integration.refresh = stored.integration.refresh;
        integration.token_ttl_seconds = stored.integration.token_ttl_seconds;
    }
    Ok(Arc::new(RegisteredClient {
        integration,
        tier: publisher.tier,
        secrets: Vec::new(),
        keys: Vec::new(),
    }))
}

/// Why a person of `tenant` may not authorize `client`, if their tenant's rules say no.
pub(crate) fn refused_by_tenant(tenant: &Tenant, client: &RegisteredClient) -> Option<String> {
    let rules = &tenant.client_registration;
    let organization = &tenant.display_name;
    match &client.integration.origin {
        ClientOrigin::MetadataDocument(_) if !rules.metadata_documents => Some(format!(
            "{organization} does not let its people authorize applications known only by their metadata document. An admin can allow it under Client registration."
        )),
        ClientOrigin::RegisteredOpenly if rules.registration != RegistrationMode::Open => {
            Some(format!(
                "{organization} does not let its people authorize applications that registered themselves. An admin can allow it under Client registration."
            ))
        }
        _ => None,
    }
}

/// Whether `tenant`'s people see `client` as one nobody vouched for: a metadata document's
/// client outside the domains an admin approved, or one that registered itself without a token.
pub(crate) fn unverified(tenant: &Tenant, client: &RegisteredClient) -> Option<String> {
    match &client.integration.origin {
        ClientOrigin::MetadataDocument(url) if !tenant.client_registration.approves(url) => {
            let host = url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            Some(format!(
                "Unverified: this application describes itself at {host}, a domain your organization has not approved. Allow it only if you trust {host}."
            ))
        }
        ClientOrigin::RegisteredOpenly => Some(
            "Unverified: this application registered itself with Tessera; nobody at your organization vouched for it.".into(),
        ),
        _ => None,
    }
}

/// Stores a metadata document's client, or brings the stored one up to date with its
/// document, before a person's consent names it.
pub(crate) async fn keep_document_client(
    state: &AppState,
    client: &RegisteredClient,
    by: &tessera_core::model::User,
) -> Result<(), ApiError> {
    let ClientOrigin::MetadataDocument(url) = &client.integration.origin else {
        return Ok(());
    };
    let integration = &client.integration;
    match state.clients.client(&integration.client_id) {
        None => {
            state.storage.create_integration(integration, None).await?;
            state.audit(AuditRecord {
                tenant_id: integration.tenant_id,
                at: state.clock.now_millis(),
                actor: format!("user:{}", by.id),
                action: AuditAction::ClientRegistered.as_str().to_owned(),
                target: integration.client_id.to_string(),
                detail: json!({"client_id": url, "client_name": integration.display_name, "tenant_id": by.tenant_id.to_string()}).to_string(),
            });
        }
        Some(stored)
            if stored.integration.redirect_uris != integration.redirect_uris
                || stored.integration.display_name != integration.display_name
                || stored.integration.scopes != integration.scopes
                || stored.integration.profile != integration.profile =>
        {
            state.storage.update_integration(integration).await?;
        }
        Some(_) => return Ok(()),
    }
    state.publish(Change::Client(integration.client_id)).await
}

/// The public client a token or revocation request names by `client_id`: a registered id, or
/// the URL of a metadata document whose client a person allowed.
pub(crate) fn public_client_named(state: &AppState, named: &str) -> Option<Arc<RegisteredClient>> {
    let id = match metadata_document_url(named, state.config.url_rules) {
        Some(url) => client_id_for_document(&url),
        None => named.parse().ok()?,
    };
    let client = state.clients.client(&id)?;
    // Found by its id, it is the one named, unless a document's client is named by that id
    // instead of its URL.
    let matches = match &client.integration.origin {
        ClientOrigin::MetadataDocument(url) => url == named,
        _ => true,
    };
    (matches && client.integration.public_client).then_some(client)
}
