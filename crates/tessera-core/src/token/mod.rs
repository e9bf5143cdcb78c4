//! Access tokens: the claims of RFC 9068, signing keys, minting and verification. This module is
//! the only place that signs or verifies a JWT.

mod claims;
mod jwk;
mod jws;
mod keys;

pub mod assertion;
pub mod callback;
pub use claims::{AccessTokenClaims, Actor, Origin, TokenSubject};
pub use jwk::{DecodedJws, JwkError, VerifyingKey};
pub use jws::{JwsError, ACCESS_TOKEN_TYP};
pub use keys::{KeyError, KeyRing, SigningAlg, SigningKey};
