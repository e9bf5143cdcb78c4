//! A third-party OAuth client gets a token, and a third-party JWT library verifies it with
//! nothing but the JWKS fetched over HTTP.

use crate::Answer;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

use crate::Run;
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
        let jwk =
            jwks.find(header.kid.as_deref().unwrap()).expect("the token's kid is in the JWKS");
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[server.url.as_str()]);
        validation.set_audience(&[server.url.as_str()]);
        let data = decode::<serde_json::Value>(token, &key, &validation)
            .expect("jsonwebtoken verifies it");
        assert_eq!(data.claims["client_id"], BOOT_ID);
        assert_eq!(data.claims["scope"], "assets:read");
        assert!(data.claims["tenant_id"].as_str().unwrap().starts_with("tenant/"));
    }
}

/// An EC P-256 key and a self-signed certificate for it, made by the `openssl` tool.
pub fn openssl_ec_certificate(dir: &std::path::Path) -> (String, Vec<u8>) {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    std::process::Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=connector"])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .succeeds();
    (std::fs::read_to_string(cert).unwrap(), std::fs::read(key).unwrap())
}

/// An assertion signed by the `jsonwebtoken` crate, not by Tessera's code.
pub fn third_party_assertion(pem_key: &[u8], iss: &str, sub: &str, aud: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"iss": iss, "sub": sub, "aud": aud, "iat": now, "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string()});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(pem_key).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn assertions_signed_by_jsonwebtoken_authenticate_and_get_user_tokens() {
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let admin = crate::access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let (cert, key) = openssl_ec_certificate(&dir);
    let registered = crate::post_json(
        format!("{}/v1/integrations/{BOOT_ID}/keys", server.url),
        &admin,
        serde_json::json!({ "certificate": cert }),
    )
    .await;
    assert_eq!(registered["alg"], "ES256", "{registered}");
    let token_url = format!("{}/oauth2/token", server.url);
    let http = reqwest::Client::new();

    // private_key_jwt with a jsonwebtoken assertion.
    let assertion = third_party_assertion(&key, BOOT_ID, BOOT_ID, &token_url);
    let reply: serde_json::Value = http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
        ])
        .answer()
        .await;
    assert!(reply["access_token"].is_string(), "{reply}");

    // The JWT bearer grant for the admin user, after consent.
    crate::post_json(
        format!("{}/v1/consents", server.url),
        &admin,
        serde_json::json!({"client_id": BOOT_ID, "user": "ops@example.com", "scopes": ["assets:read"]}),
    )
    .await;
    let assertion = third_party_assertion(&key, BOOT_ID, "ops@example.com", &server.url);
    let reply: serde_json::Value = http
        .post(&token_url)
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ])
        .answer()
        .await;
    assert_eq!(reply["scope"], "assets:read", "{reply}");
}

/// The value of the hidden input `name` on an HTML page (askama escapes `&` as `&#38;`).
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().replace("&#38;", "&").replace("&amp;", "&")
}

/// The `name=value` of each cookie a response sets, joined as a request's `Cookie` header.
fn cookies(response: &reqwest::Response) -> String {
    let set = response.headers().get_all("set-cookie").iter();
    set.filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

/// SPEC §15 with a third-party client: the `oauth2` crate makes the authorization URL with its
/// own PKCE S256 challenge and state, a person signs in and allows over plain HTTP (the
/// console's forms, as a browser posts them), and the crate redeems the code with its verifier.
#[tokio::test]
async fn the_oauth2_crate_completes_the_authorization_code_flow_with_pkce() {
    use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, RedirectUrl};
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let admin = crate::access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let made = crate::post_json(
        format!("{}/v1/integrations", server.url),
        &admin,
        serde_json::json!({"display_name": "Agent", "scopes": ["assets:read"], "redirect_uris": ["http://127.0.0.1/cb"]}),
    )
    .await;
    let id = made["client_id"].as_str().unwrap().to_owned();
    let client = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(made["client_secret"].as_str().unwrap().into()))
        .set_auth_uri(AuthUrl::new(format!("{}/oauth2/authorize", server.url)).unwrap())
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", server.url)).unwrap())
        .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:8976/cb".into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("assets:read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let back = allow_over_http(&http, &server.url, authorize_url.as_str()).await;
    assert_eq!(back.as_str().split('?').next(), Some("http://127.0.0.1:8976/cb"));
    let params: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    assert_eq!(&params["state"], csrf.secret());
    assert_eq!(params["iss"], server.url);

    let token = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the oauth2 crate redeems the code");
    assert_eq!(token.scopes().map(|s| s[0].to_string()), Some("assets:read".into()));
    let claims = crate::claims(token.access_token().secret());
    assert_eq!(claims["client_id"], id.as_str());
    // The person's token, with the application as its actor.
    assert_eq!(claims["act"]["sub"], id.as_str());
    assert_ne!(claims["sub"], id.as_str(), "{claims}");
}

/// The operator signs in over plain HTTP (the sign-in form with its double-submit cookie), opens
/// `authorize_url` and allows on the consent page, as a browser posts it (or, with a consent
/// remembered, is sent straight back): where Tessera sends them back.
pub(crate) async fn allow_over_http(
    http: &reqwest::Client,
    server: &str,
    authorize_url: &str,
) -> oauth2::url::Url {
    let form = http.get(format!("{server}/console/sign-in")).send().await.unwrap();
    let form_cookie = cookies(&form);
    let csrf = hidden(&form.text().await.unwrap(), "csrf");
    let fields = [
        ("csrf", csrf.as_str()),
        ("next", "/console"),
        ("email", "ops@example.com"),
        ("password", "correct horse battery staple"),
    ];
    let signed = http
        .post(format!("{server}/console/sign-in"))
        .header("cookie", form_cookie)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let session = cookies(&signed);
    let page = http.get(authorize_url).header("cookie", &session).send().await.unwrap();
    if page.status() == 303 {
        return oauth2::url::Url::parse(page.headers()["location"].to_str().unwrap()).unwrap();
    }
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let answer = [
        ("csrf", hidden(&page, "csrf")),
        ("request", hidden(&page, "request")),
        ("decision", "allow".into()),
    ];
    let allowed = http
        .post(format!("{server}/oauth2/authorize"))
        .header("cookie", &session)
        .form(&answer)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 303);
    oauth2::url::Url::parse(allowed.headers()["location"].to_str().unwrap()).unwrap()
}

/// A person's token (the operator's admin, `ops@example.com`) for the client `(id, secret)`
/// of `server`, whose redirect URIs hold `http://127.0.0.1/cb`: the code flow with PKCE, the
/// person allowing over HTTP, the code redeemed.
pub(crate) async fn person_token(server: &str, (id, secret): (&str, &str)) -> String {
    let path = format!(
        "{server}/oauth2/authorize?response_type=code&client_id={id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A7%2Fcb\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s"
    );
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = allow_over_http(&http, server, &path).await;
    let code = back.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{server}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code.expect("a code")),
            ("redirect_uri", "http://127.0.0.1:7/cb"),
            ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a person's token: {answer}"))
        .to_owned()
}
