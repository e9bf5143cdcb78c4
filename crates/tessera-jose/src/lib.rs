//! The JOSE that Tessera's server and the services that check its tokens share: the signing
//! algorithms it accepts, public keys as JWKs (RFC 7517), compact JWS (RFC 7515), and the
//! checks RFC 9068 asks of an access token's header, signature, issuer and times.
//!
//! It depends on nothing of Tessera's, so that a resource server's verifier (`tessera-verify`)
//! and Tessera's own `/v2` API check a token with one implementation. No I/O: keys come in as
//! values, time as a number of seconds.

#![warn(missing_docs)]

mod alg;
mod jwk;
mod jws;

pub use alg::{PublicKey, SigningAlg};
pub use jwk::{JwkError, VerifyingKey};
pub use jws::{
    check_times, verify_access_token, DecodedJws, JwsError, ACCESS_TOKEN_TYP, MAX_TOKEN_LEN,
};
