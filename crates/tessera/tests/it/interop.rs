//! A third-party OAuth client gets a token, and a third-party JWT library verifies it with
//! nothing but the JWKS fetched over HTTP.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

use crate::{data_dir, serve, BOOT_ID, BOOT_SECRET};

#[tokio::test]
async fn the_oauth2_crate_gets_a_token_that_jsonwebtoken_verifies_with_the_jwks() {
    for alg in ["RS256", "ES256", "EdDSA"] {
        let (_guard, dir) = data_dir();
        let server = serve(&dir, &["--signing-alg", alg], true);
        let client = BasicClient::new(ClientId::new(BOOT_ID.into()))
            .set_client_secret(ClientSecret::new(BOOT_SECRET.into()))
            .set_auth_uri(AuthUrl::new(format!("{}/unused", server.url)).unwrap())
            .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", server.url)).unwrap());
        let http = oauth2::reqwest::ClientBuilder::new()
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = client
            .exchange_client_credentials()
            .add_scope(Scope::new("assets:read".into()))
            .request_async(&http)
            .await
            .expect("the oauth2 crate gets a token");
        let token = response.access_token().secret();
        assert_eq!(response.scopes().unwrap()[0].as_str(), "assets:read");

        let jwks: JwkSet = reqwest::get(format!("{}/oauth2/jwks", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let header = decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("the token's kid is in the JWKS");
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[server.url.as_str()]);
        validation.set_audience(&[server.url.as_str()]);
        let data = decode::<serde_json::Value>(token, &key, &validation)
            .expect("jsonwebtoken verifies it");
        assert_eq!(data.claims["client_id"], BOOT_ID);
        assert_eq!(data.claims["scope"], "assets:read");
        assert!(data.claims["tenant_id"]
            .as_str()
            .unwrap()
            .starts_with("tenant/"));
    }
}
