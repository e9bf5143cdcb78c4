//! Tessera's protocol core: the domain model, scopes, client authentication, grants, token
//! minting and validation.
//!
//! Architecture invariant: this crate does no I/O. It knows nothing of HTTP, SQL or an async
//! runtime; time and randomness come in through [`world`], storage through [`ports`]. The
//! server and the store adapt it to the outside world.

#![warn(missing_docs)]

pub mod client_auth;
pub mod crypto;
pub mod error;
pub mod federation;
pub mod grant;
pub mod id;
pub mod model;
pub mod page;
pub mod policy;
pub mod ports;
pub mod scope;
pub mod token;
pub mod world;

#[cfg(feature = "testing")]
pub mod testing;
