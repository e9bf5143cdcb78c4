//! The hand-written parsers on the request path, driven by generated input (proptest, a fixed
//! number of cases so `cargo test` stays quick): none panics, each refuses what it did not
//! make, and what Tessera writes reads back. Tokens Tessera signs verify with `jsonwebtoken`,
//! and any change to one is refused by both.

#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use proptest::prelude::*;
use tessera_core::crypto::MasterKey;
use tessera_core::id::ClientId;
use tessera_core::model::{next_part_len_of_bytes, ConnectionRequest};
use tessera_core::page::{decode_page_token, encode_page_token, PageRequest};
use tessera_core::ports::OsRng;
use tessera_core::scope::ScopeSet;
use tessera_core::token::{
    AccessTokenClaims, DecodedJws, KeyRing, SigningAlg, SigningKey, TokenSubject, VerifyingKey,
};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Three base64url parts of anything, and strings of any shape.
fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (any::<Vec<u8>>(), any::<Vec<u8>>(), any::<Vec<u8>>()).prop_map(|(h, p, s)| format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(p),
            URL_SAFE_NO_PAD.encode(s)
        )),
        (any::<String>(), any::<String>()).prop_map(|(h, p)| format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(p)
        )),
    ]
}

fn ring(alg: SigningAlg) -> KeyRing {
    let (key, _) = SigningKey::generate(alg, &OsRng).unwrap();
    KeyRing::new(vec![key]).unwrap()
}

fn claims(client: ClientId, scope: ScopeSet, now: i64) -> AccessTokenClaims {
    let sub = client.to_string();
    AccessTokenClaims {
        iss: "https://tessera.test".into(),
        sub: TokenSubject::Integration(client),
        aud: "https://tessera.test".into(),
        exp: now + 600,
        iat: now,
        nbf: now,
        jti: URL_SAFE_NO_PAD.encode(sub.as_bytes()),
        client_id: client,
        scope,
        tenant_id: "tenant/00000000-0000-4000-8000-000000000000"
            .parse()
            .unwrap(),
        tier: "TEAM".into(),
        name: "prop".into(),
        act: None,
        exchanged_from: Vec::new(),
        grant: None,
        consent: None,
        federated: None,
        cnf: None,
        custom: Default::default(),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn access_token_verification_refuses_anything_it_did_not_sign(token in token_like()) {
        let ring = ring(SigningAlg::EdDsa);
        prop_assert!(ring.verify(&token).is_err());
        if let Ok(decoded) = DecodedJws::decode(&token) {
            let keys = VerifyingKey::from_jwks(&serde_json::from_str(ring.jwks_json()).unwrap());
            prop_assert!(decoded.verify_with(&keys).is_err());
        }
    }

    #[test]
    fn a_jwk_of_any_shape_is_refused_or_read(jwk in any::<String>(), kty in "[A-Za-z]{0,4}", crv in "[A-Za-z0-9-]{0,8}", x in any::<Vec<u8>>(), n in any::<Vec<u8>>()) {
        let _ = VerifyingKey::from_jwk(&serde_json::json!(jwk));
        let _ = VerifyingKey::from_jwk(&serde_json::json!({
            "kty": kty, "crv": crv, "x": URL_SAFE_NO_PAD.encode(&x), "y": URL_SAFE_NO_PAD.encode(&x),
            "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB", "alg": "RS256", "kid": "k",
        }));
    }

    #[test]
    fn page_tokens_read_back_and_nothing_else_does(kind in "[a-z0-9]{1,4}", position in any::<String>(), junk in any::<String>()) {
        let token = encode_page_token(&kind, &position);
        prop_assert_eq!(decode_page_token(&kind, &token).unwrap(), position);
        if let Ok(read) = decode_page_token(&kind, &junk) {
            // Only what decodes to "<kind>:…" is taken.
            prop_assert_eq!(encode_page_token(&kind, &read), junk.trim_end_matches('='));
        }
        let _ = PageRequest::parse(Some(&junk), Some(&junk));
    }

    #[test]
    fn connection_urls_read_back_and_any_change_is_refused(state in "[^\n\r]{0,64}", query in any::<String>(), cut in 0usize..200) {
        let (key, _) = MasterKey::generate(&OsRng);
        let request = ConnectionRequest {
            client_id: ClientId::random(),
            scopes: ScopeSet::parse("assets:read events:read").unwrap(),
            state,
            expires_at: 2_000_000_000,
        };
        let made = request.to_query(&key);
        prop_assert_eq!(ConnectionRequest::from_query(&made, &key, 1_000).unwrap(), request);
        prop_assert!(ConnectionRequest::from_query(&query, &key, 1_000).is_err());
        let shortened: String = made.chars().take(cut.min(made.len().saturating_sub(1))).collect();
        prop_assert!(ConnectionRequest::from_query(&shortened, &key, 1_000).is_err());
    }

    #[test]
    fn a_private_token_body_is_cut_only_between_characters(bytes in any::<Vec<u8>>(), text in any::<String>()) {
        if let Some(n) = next_part_len_of_bytes(&bytes) {
            prop_assert!(std::str::from_utf8(&bytes[..n]).is_ok());
        }
        prop_assert_eq!(next_part_len_of_bytes(text.as_bytes()), Some(text.len()));
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn every_token_tessera_signs_verifies_with_jsonwebtoken_and_no_altered_one_does(
        id in any::<[u8; 16]>(),
        scope in "(assets:read|events:read|admin)( assets:write)?",
        flip in any::<prop::sample::Index>(),
        alg in prop_oneof![Just(SigningAlg::Rs256), Just(SigningAlg::Es256), Just(SigningAlg::EdDsa)],
    ) {
        let ring = ring(alg);
        let now = 1_800_000_000;
        let client = ClientId::from_uuid(uuid::Uuid::from_bytes(id));
        let sub = client.to_string();
        let scope = ScopeSet::parse(&scope).unwrap();
        let token = ring.current().mint(&claims(client, scope, now)).unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(ring.jwks_json()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_issuer(&["https://tessera.test"]);
        validation.set_audience(&["https://tessera.test"]);
        validation.validate_exp = false;
        let read = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation).unwrap();
        prop_assert_eq!(read.claims["sub"].as_str(), Some(sub.as_str()));
        prop_assert_eq!(ring.verify(&token).unwrap().scope, scope);

        // One character changed anywhere (but for the dots): both refuse it.
        let mut altered: Vec<char> = token.chars().collect();
        let at = flip.index(altered.len());
        if altered[at] != '.' {
            altered[at] = if altered[at] == 'A' { 'B' } else { 'A' };
            let altered: String = altered.into_iter().collect();
            if altered != token {
                prop_assert!(ring.verify(&altered).is_err());
                prop_assert!(jsonwebtoken::decode::<serde_json::Value>(&altered, &key, &validation).is_err());
            }
        }
    }
}
