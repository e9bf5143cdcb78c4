//! Checks Tessera's access tokens in the services that receive them (SPEC §16).
//!
//! A resource server builds one [`Verifier`] for its resource identifier and Tessera's issuer
//! URL, then puts [`RequireBearer`] in front of its routes (a tower layer, for axum, hyper or
//! any tower stack) and reads the token's [`Claims`] in its handlers:
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use tessera_verify::{Claims, RequireBearer, Verifier};
//!
//! # async fn run() {
//! let verifier = Verifier::builder("https://tessera.example", "https://fleet.example/api").build();
//! let app: Router = Router::new()
//!     .route("/trucks", get(|claims: Claims| async move { format!("hello {}", claims.sub) }))
//!     .layer(RequireBearer::new(verifier).scopes(["assets:read"]));
//! # }
//! ```
//!
//! The checks are RFC 9068 §4's: the header's `typ` is `at+jwt`; the signature verifies with
//! one of the issuer's keys (RS256, ES256 or EdDSA, nothing else), found through its discovery
//! document and cached, fetched again when a token names a key not seen yet but at most once a
//! [`VerifierBuilder::refetch_at_most_every`]; `iss` is the issuer; `aud` holds the resource's
//! identifier; `exp` and `nbf` hold with a small leeway; the route's scopes were granted.
//! A refusal is an RFC 6750 answer whose `WWW-Authenticate` points at the resource's RFC 9728
//! metadata, so that an OAuth client (an MCP SDK, say) finds the authorization server.
//!
//! The JOSE checks themselves are `tessera-jose`'s, the code Tessera's own API runs: one
//! implementation on both ends. This crate adds the keys' fetching and the HTTP edge.

#![warn(missing_docs)]

mod claims;
mod error;
mod keys;
mod layer;
mod revocations;
mod subscription;
mod verifier;

pub use claims::Claims;
pub use error::{Rejection, VerifyError};
pub use layer::{bearer_token, RequireBearer, RequireBearerService};
pub use subscription::{PushRefusal, PushSubscription, Subscription, SubscriptionError};
pub use tessera_jose::JwsError;
pub use verifier::{Verifier, VerifierBuilder};
