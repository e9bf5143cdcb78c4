//! The domain model: plain data and the invariants that make it valid.

mod integration;
mod tenant;
mod user;

pub use integration::{
    validate_custom_claims, validate_display_name, ClientSecretRecord, Integration,
    IntegrationPatch, NewIntegration, DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS,
};
pub use tenant::{Tenant, Tier};
pub use user::{validate_email, NewUser, Role, User, UserPatch};

/// Milliseconds since the Unix epoch; every stored time is one.
pub type UnixMillis = i64;
