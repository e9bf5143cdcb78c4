//! DPoP proofs (RFC 9449): the checks the token endpoint and a resource server make of a
//! `DPoP` header (§4.3), and the JWK thumbprint (RFC 7638) that a bound token's `cnf.jkt`
//! carries. No I/O: the caller gives the request's method and URI and the time, and remembers
//! the `jti`s it has seen within the window (§11.1).

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::alg::SigningAlg;
use crate::jwk::{JwkError, VerifyingKey};
use crate::jws::DecodedJws;

/// RFC 9449 §4.2: a proof's `typ`.
pub const DPOP_TYP: &str = "dpop+jwt";

/// Proofs longer than this are refused before any parsing.
const MAX_PROOF_LEN: usize = 8 * 1024;

/// The request a proof came with, as the server saw it.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The HTTP method (`POST`).
    pub method: &'a str,
    /// The request's URI as the server is reached (scheme, host, path); any query is ignored.
    pub uri: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
    /// How far `iat` may be from now, either way, in seconds.
    pub window: i64,
    /// At a resource server: the access token the proof came with (its hash must be `ath`).
    pub access_token: Option<&'a str>,
    /// The nonce the server asked for, if it asks for one (`use_dpop_nonce`, §8).
    pub nonce: Option<&'a str>,
}

/// A proof that held: the key it was signed with (its thumbprint) and what the caller must
/// remember so that it is not accepted twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// The RFC 7638 thumbprint of the proof's key: a bound token's `cnf.jkt`.
    pub jkt: String,
    /// The proof's id, to refuse within the window when seen again.
    pub jti: String,
    /// When it was made.
    pub iat: i64,
    /// The nonce it carries, for a server that checks nonces its own way.
    pub nonce: Option<String>,
}

/// Why a proof did not hold. The messages are safe to send back (RFC 9449 `invalid_dpop_proof`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    /// Not a compact JWS, or a claim is missing or of the wrong type.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// A `typ` other than `dpop+jwt`.
    #[error("the DPoP proof's `typ` is not `dpop+jwt`")]
    WrongType,
    /// An algorithm other than RS256, ES256 or EdDSA, or one that does not fit the key.
    #[error("the DPoP proof's algorithm is not accepted; sign it with RS256, ES256 or EdDSA")]
    UnsupportedAlg,
    /// The header's `jwk` is no usable public key.
    #[error("the DPoP proof's `jwk` is not a usable public key: {0}")]
    BadKey(String),
    /// The header's `jwk` holds a private key.
    #[error("the DPoP proof's `jwk` holds a private key; send the public key only")]
    PrivateKey,
    /// The signature does not verify with the header's key.
    #[error("the DPoP proof's signature does not verify with its `jwk`")]
    BadSignature,
    /// `htm` is not the request's method.
    #[error("the DPoP proof's `htm` is not this request's method")]
    WrongMethod,
    /// `htu` is not the request's URI.
    #[error("the DPoP proof's `htu` is not this request's URI")]
    WrongUri,
    /// `iat` is outside the window.
    #[error("the DPoP proof's `iat` is too far from now; make a new proof for each request")]
    Stale,
    /// `ath` is missing or is not the access token's hash.
    #[error("the DPoP proof's `ath` is not the hash of the access token it came with")]
    WrongAth,
    /// The server asked for a nonce and the proof does not carry it.
    #[error("the DPoP proof does not carry the nonce this server gave")]
    WrongNonce,
}

/// Checks a `DPoP` header's proof against the request it came with (RFC 9449 §4.3, points 2–12
/// but the `jti`'s replay, which the caller checks with [`DpopProof::jti`]).
pub fn check_dpop_proof(proof: &str, request: &DpopRequest<'_>) -> Result<DpopProof, DpopError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(DpopError::Malformed("longer than 8 KiB"));
    }
    let jws = DecodedJws::decode(proof).map_err(|_| DpopError::Malformed("not a compact JWS"))?;
    let header = &jws.header;
    if header.get("typ").and_then(|t| t.as_str()) != Some(DPOP_TYP) {
        return Err(DpopError::WrongType);
    }
    let alg = header
        .get("alg")
        .and_then(|a| a.as_str())
        .and_then(SigningAlg::parse);
    let alg = alg.ok_or(DpopError::UnsupportedAlg)?;
    let jwk = header
        .get("jwk")
        .ok_or(DpopError::Malformed("the header has no `jwk`"))?;
    // RFC 9449 §4.3 point 7: the private parts of RSA, EC and OKP keys.
    if ["d", "p", "q", "dp", "dq", "qi"]
        .iter()
        .any(|k| jwk.get(k).is_some())
    {
        return Err(DpopError::PrivateKey);
    }
    let key = VerifyingKey::from_jwk(jwk).map_err(|JwkError(why)| DpopError::BadKey(why))?;
    if key.alg != alg {
        return Err(DpopError::UnsupportedAlg);
    }
    let keys = [key];
    jws.verify_with(&keys)
        .map_err(|_| DpopError::BadSignature)?;

    let claims = &jws.payload;
    let text = |name: &'static str| claims.get(name).and_then(|v| v.as_str());
    let jti = text("jti")
        .filter(|j| !j.is_empty())
        .ok_or(DpopError::Malformed("no `jti`"))?;
    let htm = text("htm").ok_or(DpopError::Malformed("no `htm`"))?;
    let htu = text("htu").ok_or(DpopError::Malformed("no `htu`"))?;
    let iat = claims
        .get("iat")
        .and_then(|v| v.as_i64())
        .ok_or(DpopError::Malformed("no `iat`"))?;
    if htm != request.method {
        return Err(DpopError::WrongMethod);
    }
    if normalized(htu) != normalized(request.uri) {
        return Err(DpopError::WrongUri);
    }
    if (iat - request.now).abs() > request.window {
        return Err(DpopError::Stale);
    }
    if let Some(nonce) = request.nonce {
        if text("nonce") != Some(nonce) {
            return Err(DpopError::WrongNonce);
        }
    }
    if let Some(token) = request.access_token {
        if text("ath") != Some(access_token_hash(token).as_str()) {
            return Err(DpopError::WrongAth);
        }
    }
    Ok(DpopProof {
        jkt: jwk_thumbprint(jwk).map_err(|JwkError(why)| DpopError::BadKey(why))?,
        jti: jti.chars().take(128).collect(),
        iat,
        nonce: text("nonce").map(|n| n.chars().take(256).collect()),
    })
}

/// RFC 9449 §4.2's `ath`: the base64url SHA-256 of the access token.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// The RFC 7638 thumbprint of a public JWK: the base64url SHA-256 of its required members, in
/// order, as JSON without white space.
pub fn jwk_thumbprint(jwk: &serde_json::Value) -> Result<String, JwkError> {
    let member = |name: &str| {
        jwk.get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| JwkError(format!("`{name}` is missing")))
    };
    let canonical = match member("kty")? {
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            q(member("e")?),
            q(member("n")?)
        ),
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            q(member("crv")?),
            q(member("x")?),
            q(member("y")?)
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            q(member("crv")?),
            q(member("x")?)
        ),
        other => return Err(JwkError(format!("kty `{other}` has no thumbprint here"))),
    };
    Ok(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

/// A JSON string.
fn q(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// RFC 9449 §4.3 point 9 with RFC 3986 §6.2.2's normalization of scheme and host: the URI
/// without its query and fragment, scheme and host in lower case.
fn normalized(uri: &str) -> String {
    let uri = uri.split(['?', '#']).next().unwrap_or_default();
    match uri.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
            format!(
                "{}://{}{path}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::json;

    #[test]
    fn the_thumbprint_is_rfc_7638s_example() {
        let jwk = json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// A client's ES256 key: its public JWK and a proof signed with it.
    struct Client {
        pair: EcdsaKeyPair,
        jwk: serde_json::Value,
    }

    impl Client {
        fn new() -> Client {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
            let point = pair.public_key().as_ref().to_vec();
            let jwk = json!({"kty": "EC", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])});
            Client { pair, jwk }
        }

        fn proof(&self, header: serde_json::Value, claims: serde_json::Value) -> String {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let sig = self
                .pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }

        fn good(&self, change: impl FnOnce(&mut serde_json::Value)) -> String {
            let mut claims = json!({"jti": "p-1", "htm": "POST", "iat": 1000,
                                    "htu": "https://tessera.example/oauth2/token"});
            change(&mut claims);
            self.proof(
                json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}),
                claims,
            )
        }
    }

    const AT_TOKEN: DpopRequest<'static> = DpopRequest {
        method: "POST",
        uri: "https://Tessera.example/oauth2/token?x=1",
        now: 1010,
        window: 60,
        access_token: None,
        nonce: None,
    };

    #[test]
    fn a_good_proof_gives_its_keys_thumbprint_and_its_jti() {
        let client = Client::new();
        let proof = check_dpop_proof(&client.good(|_| {}), &AT_TOKEN).unwrap();
        assert_eq!(proof.jkt, jwk_thumbprint(&client.jwk).unwrap());
        assert_eq!((proof.jti.as_str(), proof.iat), ("p-1", 1000));
        // At a resource: `ath` binds it to the access token it came with.
        let at_resource = DpopRequest {
            access_token: Some("token-1"),
            ..AT_TOKEN
        };
        let bound = client.good(|c| c["ath"] = json!(access_token_hash("token-1")));
        assert!(check_dpop_proof(&bound, &at_resource).is_ok());
        let other = DpopRequest {
            access_token: Some("token-2"),
            ..AT_TOKEN
        };
        assert_eq!(check_dpop_proof(&bound, &other), Err(DpopError::WrongAth));
    }

    #[test]
    fn each_check_of_rfc_9449_refuses_with_its_own_words() {
        let client = Client::new();
        let header =
            |typ: &str, jwk: serde_json::Value| json!({"typ": typ, "alg": "ES256", "jwk": jwk});
        let claims = json!({"jti": "p", "htm": "POST", "iat": 1000, "htu": "https://tessera.example/oauth2/token"});
        let mut private = client.jwk.clone();
        private["d"] = json!("c2VjcmV0");
        let stranger = Client::new();
        let signed_by_stranger =
            stranger.proof(header("dpop+jwt", client.jwk.clone()), claims.clone());
        for (proof, error) in [
            (
                client.proof(header("JWT", client.jwk.clone()), claims.clone()),
                DpopError::WrongType,
            ),
            (
                client.proof(header("dpop+jwt", private), claims.clone()),
                DpopError::PrivateKey,
            ),
            (signed_by_stranger, DpopError::BadSignature),
            (
                client.good(|c| c["htm"] = json!("GET")),
                DpopError::WrongMethod,
            ),
            (
                client.good(|c| c["htu"] = json!("https://elsewhere.example/oauth2/token")),
                DpopError::WrongUri,
            ),
            (client.good(|c| c["iat"] = json!(900)), DpopError::Stale),
            (client.good(|c| c["iat"] = json!(1100)), DpopError::Stale),
            (
                client.good(|c| {
                    c.as_object_mut().unwrap().remove("jti");
                }),
                DpopError::Malformed("no `jti`"),
            ),
            ("a.b".to_owned(), DpopError::Malformed("not a compact JWS")),
        ] {
            assert_eq!(check_dpop_proof(&proof, &AT_TOKEN), Err(error));
        }
        let with_nonce = DpopRequest {
            nonce: Some("n-1"),
            ..AT_TOKEN
        };
        assert_eq!(
            check_dpop_proof(&client.good(|_| {}), &with_nonce),
            Err(DpopError::WrongNonce)
        );
        let noncey = client.good(|c| c["nonce"] = json!("n-1"));
        assert!(check_dpop_proof(&noncey, &with_nonce).is_ok());
    }
}
