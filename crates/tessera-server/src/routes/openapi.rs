//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use super::{
    app_authorizations, audit, client_registration, connections, consents, discovery, federation,
    health, integrations, introspection, keys, oauth, policies, private_tokens, resource_servers,
    resources, secrets, signing_keys, ssf, tenants, tms, users,
};
use crate::wire;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera", description = "OAuth 2.0 / OpenID Connect token service for data platforms"),
    paths(
        oauth::token, introspection::introspect, introspection::revoke, discovery::jwks, discovery::discovery,
        discovery::authorization_server_metadata, discovery::protected_resource_metadata,
        integrations::create_integration, integrations::list_integrations, integrations::get_integration,
        integrations::patch_integration, integrations::delete_integration, secrets::regenerate_secret,
        secrets::remove_secrets,
        users::create_user, users::list_users, users::get_user, users::patch_user, users::delete_user,
        audit::list_audit, signing_keys::list_signing_keys, signing_keys::rotate_signing_key,
        health::healthz, health::readyz,
        keys::add_key, keys::list_keys, keys::delete_key,
        consents::give_consent, consents::list_consents, consents::withdraw_consent,
        policies::create_policy, policies::list_policies, policies::get_policy,
        policies::patch_policy, policies::delete_policy,
        resources::list_assets, resources::create_asset, resources::get_asset,
        resources::patch_asset, resources::delete_asset, resources::list_events,
        resources::append_event,
        private_tokens::put_entry, private_tokens::post_entry, private_tokens::get_entry,
        private_tokens::delete_entry, private_tokens::delete_related, private_tokens::list_entries,
        private_tokens::list_for_integration, private_tokens::get_for_integration,
        private_tokens::delete_for_integration, private_tokens::delete_related_for_integration,
        app_authorizations::promote_integration, connections::connection_url, app_authorizations::authorize_app,
        app_authorizations::list_app_authorizations, app_authorizations::revoke_app_authorization,
        tms::issue_tokens, tms::list_tenants,
        connections::list_connections, connections::get_connection, connections::revoke_connection,
        connections::list_deliveries,
        users::password_reset, tenants::create_tenant, tenants::list_tenants,
        tenants::get_tenant, tenants::patch_tenant, tenants::delete_tenant,
        federation::create_trusted_issuer, federation::list_trusted_issuers,
        federation::delete_trusted_issuer, federation::create_federated_credential,
        federation::list_federated_credentials, federation::delete_federated_credential,
        resource_servers::create_resource_server, resource_servers::list_resource_servers,
        resource_servers::get_resource_server, resource_servers::patch_resource_server,
        resource_servers::delete_resource_server, ssf::list_event_streams,
        client_registration::register,
        client_registration::get_client_registration,
        client_registration::put_client_registration,
    ),
    components(schemas(wire::TokenResponse, wire::ErrorResponse, wire::IntrospectionResponse)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
