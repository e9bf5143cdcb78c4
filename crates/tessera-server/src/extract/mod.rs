//! Extractors: they reject bad input before a handler runs, with the error the endpoint's
//! standard asks for.

mod bearer;
mod client;
mod form;
mod json;
mod tms;

pub use bearer::{
    bearer_claims, BearerToken, PlatformCaller, PrivateTokenCaller, ResourceCaller, StreamReceiver,
    TenantAdmin,
};
pub use client::{AuthenticatedClient, BasicClient, PeerAddress, TokenCaller};
pub use form::OAuthForm;
pub use json::ApiJson;
pub use tms::TmsCaller;
