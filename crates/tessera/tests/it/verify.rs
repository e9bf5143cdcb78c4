//! `tessera-verify` against the real server: a resource server checks Tessera's own tokens,
//! signed with each algorithm, with the keys it finds through Tessera's discovery.

use tessera_verify::{Verifier, VerifyError};

use crate::{access_token, claims, data_dir, serve, BOOT_ID, BOOT_SECRET};

#[tokio::test]
async fn a_resource_server_checks_tessera_tokens_of_every_signing_algorithm() {
    for alg in ["RS256", "ES256", "EdDSA"] {
        let (_guard, dir) = data_dir();
        let server = serve(&dir, &["--signing-alg", alg], true);
        let token = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
        let audience = claims(&token)["aud"].as_str().unwrap().to_owned();

        let verifier = Verifier::builder(&server.url, &audience).build();
        let checked = verifier.verify(&token).await.unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(checked.client_id, BOOT_ID, "{alg}");
        assert!(checked.tenant.is_some(), "{alg}: {checked:?}");
        let scoped = verifier.verify_scopes(&token, &["admin".to_owned()]).await;
        assert!(scoped.is_ok(), "{alg}: the operator's token carries `admin`: {scoped:?}");

        // Another resource's verifier, or another issuer's, refuses the same token.
        let elsewhere = Verifier::builder(&server.url, "https://elsewhere.example/api").build();
        let refused = elsewhere.verify(&token).await;
        assert!(matches!(refused, Err(VerifyError::WrongAudience(_))), "{alg}: {refused:?}");
        let other = Verifier::builder(format!("{}/", server.url), &audience).build();
        let refused = other.verify(&token).await;
        assert!(matches!(refused, Err(VerifyError::KeysUnavailable(_))), "{alg}: {refused:?}");
    }
}
