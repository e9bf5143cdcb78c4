//! The domain model: plain data and the invariants that make it valid.

mod application;
mod asset;
mod client_key;
mod client_registration;
mod connection;
mod consent;
mod federation;
mod integration;
mod private_token;
mod refresh_token;
mod resource_server;
mod security_event;
mod tenant;
mod user;
mod web_url;
mod webhook;

pub use application::{
    parse_tms_tenants, validate_app_label, AppAccess, AppAuthorization, AppVersion, Stage,
    DATA_SCOPES, MAX_TMS_TENANTS,
};
pub use asset::{
    asset_type_of, validate_attribute_name, validate_attributes, Asset, AssetEvent,
    AttributeFilter, Attributes, ASSET_TYPE_ATTRIBUTE,
};
pub use client_key::{ClientKey, RemoteKeySetError, MAX_KEYS_PER_INTEGRATION, MAX_REMOTE_KEYS};
pub use client_registration::{
    client_id_for_document, metadata_document_url, ClientMetadata, ClientOrigin,
    ClientRegistrationPolicy, RegistrationMode, MAX_APPROVED_DOMAINS, MAX_CLIENT_METADATA_BYTES,
};
pub use connection::{
    validate_state, Connection, ConnectionRequest, ConnectionStatus, ConnectionUrlError,
    CONNECTION_URL_TTL_SECONDS, MAX_BEARER_TOKEN_LEN, MAX_STATE_LEN,
};
pub use consent::{consented_scopes, consents_allow, Consent, ConsentUser};
pub use federation::{
    FederatedCredential, TrustedIssuer, TrustedIssuerRequest, DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
    MAX_AUDIENCES, MAX_FEDERATED_CREDENTIALS, MAX_FEDERATION_TEXT, MAX_MAX_TOKEN_LIFETIME_SECONDS,
    MAX_REQUIRED_CLAIMS, MAX_TRUSTED_ISSUERS,
};
pub use integration::{
    validate_custom_claims, validate_display_name, AppProfile, AppProfilePatch, ClientSecretRecord,
    Integration, IntegrationPatch, NewAppVersion, NewIntegration, RefreshLifetimes,
    DEFAULT_REFRESH_ABSOLUTE_SECONDS, DEFAULT_REFRESH_IDLE_SECONDS, DEFAULT_TOKEN_TTL_SECONDS,
    MAX_DESCRIPTION_CHARS, MAX_REFRESH_SECONDS, MAX_TOKEN_TTL_SECONDS, MIN_REFRESH_SECONDS,
};
pub use private_token::{
    new_etag, next_part_len, next_part_len_of_bytes, open_stored_value, open_value,
    prefix_successor, seal_value, validate_entry_name, EntryFilter, EntryName, PrivateToken,
    PrivateTokenInfo, ValuePiece, WriteCondition, DEFAULT_MAX_VALUE_BYTES, MAX_NAME_BYTES,
    VALUE_PART_BYTES,
};
pub use refresh_token::RefreshFamily;
pub use resource_server::{
    canonical_resource, resource_scopes, ResourceServer, ResourceServerRequest,
    MAX_RESOURCE_SERVERS,
};
pub use security_event::{
    Delivery, DeliveryRequest, EventStream, PendingSet, PushOutcome, SecurityEvent, SetContext,
    StreamBacklog, StreamRequest, StreamStatus, MAX_EVENTS_PER_POLL, MAX_STREAMS_PER_RECEIVER,
    POLL_DELIVERY, PUSH_DELIVERY,
};
pub use tenant::{validate_tenant_name, Tenant, TenantPatch, Tier};
pub use user::{
    link_token_hash, validate_email, LinkPurpose, LinkRefusal, NewUser, Role, User, UserLink,
    UserPatch, PASSWORD_RESET_TTL_SECONDS,
};
pub use web_url::{validate_web_url, UrlRules, MAX_URL_LEN};
pub use webhook::{
    after_failure, next_attempt, retry_delay_ms, rfc3339, DataChange, OutboxState, PendingWebhook,
    WebhookAttempt, WebhookMessage, WebhookOutcome, MAX_RETRY_DELAY_MS,
};

pub use crate::world::UnixMillis;
