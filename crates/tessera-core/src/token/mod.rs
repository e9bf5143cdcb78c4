//! Access tokens: the claims of RFC 9068, signing keys, minting and verification. The JOSE
//! checks themselves (JWKs, JWS, `typ`, times) are `tessera-jose`'s, shared with resource servers.

mod claims;
mod jws;
mod keys;

pub mod assertion;
pub mod callback;
pub use claims::{AccessTokenClaims, Actor, Confirmation, Origin, TokenSubject};
pub use keys::{KeyError, KeyRing, SigningAlg, SigningKey};
pub use tessera_jose::{
    access_token_hash, check_dpop_proof, event_type, jwk_thumbprint, verify_security_event,
    DecodedJws, DpopProof, DpopRequest, JwkError, JwsError, VerifyingKey, ACCESS_TOKEN_TYP,
    SET_TYP,
};
