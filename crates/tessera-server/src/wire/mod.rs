//! Request and response bodies with their OpenAPI schemas: the only place wire shapes live.

mod admin;
mod applications;
mod client_registration;
mod federation;
mod oauth;
mod private_tokens;
mod resource_servers;
mod resources;
mod tenants;

pub use admin::*;
pub use applications::*;
pub use client_registration::*;
pub use federation::*;
pub use oauth::*;
pub use private_tokens::*;
pub use resource_servers::*;
pub use resources::*;
pub use tenants::*;

pub use tessera_core::model::rfc3339;
