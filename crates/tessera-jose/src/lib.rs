//! The JOSE that Tessera's server and the services that check its tokens share: the signing
//! algorithms it accepts, public keys as JWKs (RFC 7517), compact JWS (RFC 7515), and the
//! checks RFC 9068 asks of an access token's header, signature, issuer and times, and the
//! DPoP proofs of RFC 9449 with their JWK thumbprints (RFC 7638), and the Security Event
//! Tokens (RFC 8417) of the Shared Signals Framework.
//!
//! It depends on nothing of Tessera's, so that a resource server's verifier (`tessera-verify`)
//! and Tessera's own `/v2` API check a token with one implementation. No I/O: keys come in as
//! values, time as a number of seconds.

#![warn(missing_docs)]

mod alg;
mod dpop;
mod jwk;
mod jws;
mod secevent;

pub use alg::{PublicKey, SigningAlg};
pub use dpop::{
    access_token_hash, check_dpop_proof, jwk_thumbprint, DpopError, DpopProof, DpopRequest,
    DPOP_TYP,
};
pub use jwk::{JwkError, VerifyingKey};
pub use jws::{
    check_times, verify_access_token, DecodedJws, JwsError, ACCESS_TOKEN_TYP, MAX_TOKEN_LEN,
};
pub use secevent::{event_type, verify_security_event, SET_TYP};
