//! Request and response bodies with their OpenAPI schemas: the only place wire shapes live.

mod admin;
mod applications;
mod oauth;
mod private_tokens;
mod resources;
mod tenants;

pub use admin::*;
pub use applications::*;
pub use oauth::*;
pub use private_tokens::*;
pub use resources::*;
pub use tenants::*;

/// Milliseconds since the epoch as RFC 3339 (UTC, seconds precision).
pub fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
