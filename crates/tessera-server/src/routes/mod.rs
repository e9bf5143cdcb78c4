//! The routes, one module per area. Handlers are thin: extract, call the core, map.

pub mod app_authorizations;
pub mod audit;
pub mod client_registration;
pub mod connections;
pub mod consents;
pub mod conventions;
pub mod discovery;
pub mod external_clients;
pub mod federation;
pub mod health;
pub mod integrations;
pub mod introspection;
pub mod keys;
pub mod oauth;
pub mod openapi;
pub mod policies;
pub mod private_tokens;
pub mod resource_servers;
pub mod resources;
pub mod secrets;
pub mod signing_keys;
pub mod ssf;
pub mod tenants;
pub mod tms;
pub mod users;
