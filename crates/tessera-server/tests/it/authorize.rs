//! The authorization code grant with PKCE (SPEC §15, issue 29) through the real router: sign-in,
//! the consent page, the code and its single use, a remembered consent, every refusal of the
//! authorization endpoint (a page where the client or redirect URI is not known-good, a
//! redirect otherwise) and of the token endpoint, and withdrawal ending the token.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::console::ConsoleSession;
use crate::harness::*;

/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub(crate) const CALLBACK: &str = "https://agent.example/callback";

/// An application of tenant `a` that may be sent back to [`CALLBACK`] or a loopback address.
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: String,
}

pub(crate) async fn client(h: &Harness) -> Client {
    let admin = h.admin_token(&h.a).await;
    let (id, secret, body) = h
        .create_integration(
            &admin,
            json!({"display_name": "Research agent", "scopes": ["assets:read", "events:read"],
                   "redirect_uris": [CALLBACK, "http://127.0.0.1/cb"],
                   "description": "Answers questions about your fleet."}),
        )
        .await;
    assert_eq!(body["redirect_uris"], json!([CALLBACK, "http://127.0.0.1/cb"]));
    Client { id, secret }
}

/// `/oauth2/authorize` for `client_id` with a good request's parameters, each of `change`
/// replacing (`Some`) or removing (`None`) one.
pub(crate) fn authorize_path(client_id: &str, change: &[(&str, Option<&str>)]) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
    ];
    for (name, value) in change {
        params.retain(|(n, _)| n != name);
        params.extend(value.map(|v| (*name, v)));
    }
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
    format!("/oauth2/authorize?{}", query.join("&"))
}

/// A GET without a session.
pub(crate) async fn signed_out(h: &Harness, path: &str) -> Reply {
    h.send(axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap()).await
}

pub(crate) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The query parameters of a redirect's `Location`.
pub(crate) fn location(reply: &Reply) -> (String, std::collections::HashMap<String, String>) {
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let url = url::Url::parse(reply.header("location")).expect("an absolute location");
    let params = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    (format!("{}{}", url.origin().ascii_serialization(), url.path()), params)
}

pub(crate) async fn redeem(h: &Harness, c: &Client, code: &str, verifier: &str) -> Reply {
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
        enc(code),
        enc(CALLBACK)
    );
    h.form("/oauth2/token", body, Some((&c.id, &c.secret))).await
}

/// Signs in as a member of tenant `a`, allows on the consent page; the code.
pub(crate) async fn consented_code(h: &Harness, c: &Client, person: &ConsoleSession) -> String {
    allowed_code(h, person, &authorize_path(&c.id, &[])).await
}

/// The person opens `path` (an authorization request), allows; the code it redirects with.
pub(crate) async fn allowed_code(h: &Harness, person: &ConsoleSession, path: &str) -> String {
    let page = person.get(h, path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let request = crate::connections::hidden(&page.text, "request");
    let answer =
        person.post(h, "/oauth2/authorize", &[("request", &request), ("decision", "allow")]).await;
    let (to, params) = location(&answer);
    assert_eq!(to, CALLBACK);
    params["code"].clone()
}

#[tokio::test]
async fn a_person_signs_in_allows_and_the_client_redeems_the_code_once() {
    for h in Harness::on_both_backends().await {
        let c = client(&h).await;
        // Signed out: the sign-in page first, which comes back here.
        let signed_out = signed_out(&h, &authorize_path(&c.id, &[])).await;
        assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
        assert!(signed_out
            .header("location")
            .starts_with("/console/sign-in?next=%2Foauth2%2Fauthorize"));

        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let page = pia.get(&h, &authorize_path(&c.id, &[])).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for words in [
            "Research agent asks for access",
            "read assets",
            "read events of assets",
            ISSUER,
            "agent.example",
            "Allow",
            "Deny",
        ] {
            assert!(page.text.contains(words), "{words}: {}", page.text);
        }
        // The page's one form may lead on to the client (Chromium checks the redirect too).
        assert!(page
            .header("content-security-policy")
            .contains("form-action 'self' https://agent.example"));

        let code = consented_code(&h, &c, &pia).await;
        let issued = redeem(&h, &c, &code, VERIFIER).await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        assert_eq!(issued.header("cache-control"), "no-store");
        let token = issued.body["access_token"].as_str().unwrap().to_owned();
        let claims = h.state.keys.load().verify(&token).unwrap();
        assert_eq!(claims.sub.to_string(), pia.user_id);
        assert_eq!(claims.aud, ISSUER);
        assert_eq!(claims.scope.to_string(), "assets:read events:read");
        assert_eq!(h.introspect((&c.id, &c.secret), &token).await.body["active"], true);

        // A second use is refused and ends the token the first one got (RFC 6749 §4.1.2).
        let again = redeem(&h, &c, &code, VERIFIER).await;
        again.refused(&"a code used twice", "used already");
        assert_eq!(again.error(), "invalid_grant");
        assert_eq!(h.introspect((&c.id, &c.secret), &token).await.body["active"], false);

        let account = pia.get(&h, "/console/account").await;
        assert!(
            account.text.contains("Apps and agents with access")
                && account.text.contains("Research agent")
        );
        // Remembered: the next request for no more goes straight back with a code.
        let (_, params) =
            location(&pia.get(&h, &authorize_path(&c.id, &[("scope", Some("assets:read"))])).await);
        assert_eq!((params["state"].as_str(), params["iss"].as_str()), ("st-1", ISSUER));
        let narrowed = redeem(&h, &c, &params["code"], VERIFIER).await;
        assert_eq!(narrowed.body["scope"], "assets:read", "{}", narrowed.text);

        // Denied: the client hears `access_denied`, with its state.
        let dora = ConsoleSession::start(&h, &h.a, "dora@a.example", "member").await;
        let page = dora.get(&h, &authorize_path(&c.id, &[])).await;
        let request = crate::connections::hidden(&page.text, "request");
        let (to, params) = location(
            &dora
                .post(&h, "/oauth2/authorize", &[("request", &request), ("decision", "deny")])
                .await,
        );
        assert_eq!(
            (to.as_str(), params["error"].as_str(), params["state"].as_str()),
            (CALLBACK, "access_denied", "st-1")
        );
    }
}

#[tokio::test]
async fn a_withdrawn_consent_ends_the_token_and_refuses_an_unredeemed_code() {
    let h = Harness::new().await;
    let c = client(&h).await;
    let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
    let code = consented_code(&h, &c, &pia).await;
    let token =
        redeem(&h, &c, &code, VERIFIER).await.body["access_token"].as_str().unwrap().to_owned();
    // Remembered: the second code comes without asking again.
    let (_, params) = location(&pia.get(&h, &authorize_path(&c.id, &[])).await);
    let unredeemed = params["code"].clone();
    // The tenant's admins see it on the person's page.
    let dana = ConsoleSession::start(&h, &h.a, "dana@a.example", "admin").await;
    let page = dana.get(&h, &format!("/console/users/{}", pia.user_id)).await;
    assert!(
        page.text.contains("Apps and agents with access") && page.text.contains("Research agent"),
        "{}",
        page.text
    );
    let admin = h.admin_token(&h.a).await;
    let consents = h.api(Method::GET, "/v1/consents", &admin, None).await;
    let id = consents.body["consents"][0]["id"].as_str().unwrap().to_owned();
    let gone = h.api(Method::DELETE, &format!("/v1/consents/{id}"), &admin, None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    assert_eq!(h.introspect((&c.id, &c.secret), &token).await.body["active"], false);
    redeem(&h, &c, &unredeemed, VERIFIER)
        .await
        .refused(&"a code whose consent was withdrawn", "no longer consents");
}

#[tokio::test]
async fn a_bad_client_or_redirect_uri_is_a_page_and_never_a_redirect() {
    let h = Harness::new().await;
    let c = client(&h).await;
    let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
    let base = "/oauth2/authorize?response_type=code&code_challenge_method=S256&code_challenge=";
    for (path, says) in [
        (format!("{base}{CHALLENGE}"), "`client_id` parameter is missing"),
        (format!("{base}{CHALLENGE}&client_id=nope"), "No application is registered as `nope`"),
        (format!("{base}{CHALLENGE}&client_id={}", c.id), "names none"),
        (
            format!(
                "{base}{CHALLENGE}&client_id={}&redirect_uri={}",
                c.id,
                enc("https://evil.example/cb")
            ),
            "not one of the addresses it registered",
        ),
        (format!("{base}{CHALLENGE}&client_id={}&client_id={}", c.id, c.id), "repeated"),
    ] {
        let page = pia.get(&h, &path).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}: {}", page.text);
        assert!(page.headers.get("location").is_none(), "{path}");
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
        assert!(page.text.contains(says), "{path}: {}", page.text);
    }
}

#[tokio::test]
async fn every_other_fault_goes_back_to_the_client_with_the_error_and_state() {
    let h = Harness::new().await;
    let c = client(&h).await;
    let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
    for (change, error, says) in [
        (vec![("code_challenge", None)], "invalid_request", "requires PKCE"),
        (vec![("code_challenge_method", None)], "invalid_request", "`plain`"),
        (vec![("code_challenge_method", Some("plain"))], "invalid_request", "`plain`"),
        (vec![("response_type", Some("token"))], "unsupported_response_type", "`token`"),
        (vec![("scope", Some("admin"))], "invalid_scope", "admin"),
        (
            // A resource that is no URL; a URL's owner is the person's tenant, known once
            // they signed in (resource_servers.rs).
            vec![("resource", Some("not-a-uri"))],
            "invalid_target",
            "not a resource server",
        ),
    ] {
        let asked = authorize_path(&c.id, &change);
        // Signed in or not, the client hears of it before anyone is asked to sign in.
        for reply in [pia.get(&h, &asked).await, signed_out(&h, &asked).await] {
            let (to, params) = location(&reply);
            assert_eq!(to, CALLBACK, "{asked}");
            assert_eq!(params["error"], error, "{asked}: {params:?}");
            assert!(params["error_description"].contains(says), "{asked}: {params:?}");
            assert_eq!((params["state"].as_str(), params["iss"].as_str()), ("st-1", ISSUER));
        }
    }
}

#[tokio::test]
async fn the_token_endpoint_refuses_each_wrong_redemption_and_names_why() {
    for h in Harness::on_both_backends().await {
        let c = client(&h).await;
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let code = consented_code(&h, &c, &pia).await;
        let admin = h.admin_token(&h.a).await;
        let other = json!({"display_name": "Other", "redirect_uris": [CALLBACK]});
        let (other_id, other_secret, _) = h.create_integration(&admin, other).await;
        let uri = format!("&redirect_uri={}", enc(CALLBACK));
        let right = format!("{uri}&code_verifier={VERIFIER}");
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
        let loopback =
            format!("&redirect_uri={}&code_verifier={VERIFIER}", enc("http://127.0.0.1/cb"));
        // (the parameters after `code`, who asks, the error, what it says)
        for (params, by, error, says) in [
            (uri.clone(), "own", "invalid_request", "`code_verifier` parameter is missing"),
            (format!("{uri}&code_verifier={wrong}"), "own", "invalid_grant", "does not match"),
            (format!("{uri}&code_verifier=short"), "own", "invalid_request", "43 to 128"),
            (
                format!("&code_verifier={VERIFIER}"),
                "own",
                "invalid_request",
                "`redirect_uri` parameter",
            ),
            (loopback, "own", "invalid_grant", "not the one the code was sent to"),
            (right.clone(), "other", "invalid_grant", "another client"),
            (right.clone(), "nobody", "invalid_client", "no client authentication"),
            (
                format!("{right}&resource=https%3A%2F%2Fx.example"),
                "own",
                "invalid_target",
                "`resource`",
            ),
        ] {
            let body = format!("grant_type=authorization_code&code={}{params}", enc(&code));
            let auth = match by {
                "own" => Some((c.id.as_str(), c.secret.as_str())),
                "other" => Some((other_id.as_str(), other_secret.as_str())),
                _ => None,
            };
            let reply = h.form("/oauth2/token", body.clone(), auth).await;
            assert_eq!(reply.error(), error, "{body}: {}", reply.text);
            assert!(reply.description().contains(says), "{body}: {}", reply.text);
        }
        let forged = format!("grant_type=authorization_code&code=forged{right}");
        let reply = h.form("/oauth2/token", forged, Some((&c.id, &c.secret))).await;
        reply.refused(&"a forged code", "not a code Tessera issued");
        // None of those spent the code; a minute later it is gone.
        h.clock.advance_seconds(61);
        redeem(&h, &c, &code, VERIFIER).await.refused(&"an expired code", "expired");
    }
}

#[tokio::test]
async fn redirect_uris_are_https_or_loopback_without_fragments_and_discovery_lists_the_flow() {
    let h = Harness::new().await;
    let admin = h.admin_token(&h.a).await;
    for (uris, says) in [
        (json!(["http://agent.example/cb"]), "must use https"),
        (json!(["https://agent.example/cb#x"]), "#fragment"),
        (json!(["ftp://agent.example/cb"]), "scheme `ftp`"),
        (json!(["/cb"]), "not an absolute URL"),
        (json!([CALLBACK, CALLBACK]), "twice"),
    ] {
        let reply = h
            .api(
                Method::POST,
                "/v1/integrations",
                &admin,
                Some(json!({"display_name": "x", "redirect_uris": uris})),
            )
            .await;
        reply.bad_request(&uris).refused(&uris, says);
        assert!(reply.description().contains("redirect_uris"), "{}", reply.text);
    }
    let c = client(&h).await;
    let patched = h
        .api(
            Method::PATCH,
            &format!("/v1/integrations/{}", c.id),
            &admin,
            Some(json!({"redirect_uris": []})),
        )
        .await;
    assert_eq!(patched.body["redirect_uris"], json!([]), "{}", patched.text);

    let meta: Value = signed_out(&h, "/.well-known/oauth-authorization-server").await.body;
    assert_eq!(meta["authorization_endpoint"], format!("{ISSUER}/oauth2/authorize"));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert!(meta["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("authorization_code")));
}

#[tokio::test]
async fn the_console_sets_redirect_uris_one_a_line_and_names_a_bad_one_next_to_the_field() {
    let h = Harness::new().await;
    let admin = ConsoleSession::start(&h, &h.a, "dana@a.example", "admin").await;
    let form = |uris: &'static str| {
        [
            ("display_name", "Agent"),
            ("scope", "assets:read"),
            ("token_ttl_seconds", "3600"),
            ("redirect_uris", uris),
            ("intent", "save"),
        ]
    };
    let bad = admin
        .post(
            &h,
            "/console/integrations",
            &form("https://agent.example/cb\nhttp://agent.example/cb"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("id=\"redirect_uris-problem\""), "{}", bad.text);
    assert!(bad.text.contains("http://agent.example/cb` must use https"), "{}", bad.text);
    let made = admin
        .post(
            &h,
            "/console/integrations",
            &form("https://agent.example/cb\n\n  http://127.0.0.1/cb  "),
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let token = h.admin_token(&h.a).await;
    let list = h.api(Method::GET, "/v1/integrations", &token, None).await;
    let agent = list.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["display_name"] == "Agent")
        .unwrap()
        .clone();
    assert_eq!(agent["redirect_uris"], json!(["https://agent.example/cb", "http://127.0.0.1/cb"]));
    let id = agent["client_id"].as_str().unwrap();
    let page = admin.get(&h, &format!("/console/integrations/{id}")).await;
    assert!(page.text.contains("<code>http://127.0.0.1/cb</code>"), "{}", page.text);
}

#[tokio::test]
async fn the_resource_api_describes_itself_and_every_bearer_challenge_points_there() {
    let h = Harness::new().await;
    let meta = signed_out(&h, "/.well-known/oauth-protected-resource").await;
    assert_eq!(meta.status, StatusCode::OK, "{}", meta.text);
    assert_eq!(meta.body["resource"], ISSUER);
    assert_eq!(meta.body["authorization_servers"], json!([ISSUER]));
    assert_eq!(meta.body["bearer_methods_supported"], json!(["header"]));
    assert!(meta.body["scopes_supported"].as_array().unwrap().contains(&json!("assets:read")));
    let pointer = format!("resource_metadata=\"{ISSUER}/.well-known/oauth-protected-resource\"");
    // No token at the resource API, a bad one, one without the scope: each challenge names it.
    let no_token = signed_out(&h, "/v2/assets").await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    let bad = h.api(Method::GET, "/v2/assets", "not-a-token", None).await;
    let admin = h.admin_token(&h.a).await;
    let (id, secret, _) =
        h.create_integration(&admin, json!({"display_name": "r", "scopes": ["events:read"]})).await;
    let narrow =
        h.token(&id, &secret, None).await.body["access_token"].as_str().unwrap().to_owned();
    let forbidden = h.api(Method::GET, "/v1/integrations", &narrow, None).await;
    for reply in [&no_token, &bad, &forbidden] {
        let challenge = reply.header("www-authenticate");
        assert!(challenge.starts_with("Bearer realm=\"tessera\""), "{challenge}");
        assert!(challenge.ends_with(&pointer), "{challenge}");
    }
    // A client-authentication challenge (Basic) is left as it is.
    let basic =
        h.form("/oauth2/token", "grant_type=client_credentials", Some(("nobody", "wrong"))).await;
    assert!(
        !basic.header("www-authenticate").contains("resource_metadata"),
        "{}",
        basic.header("www-authenticate")
    );
}

#[tokio::test]
async fn a_public_client_has_no_secret_and_redeems_its_code_with_pkce_alone() {
    for h in Harness::on_both_backends().await {
        let admin = h.admin_token(&h.a).await;
        let made = h
            .api(Method::POST, "/v1/integrations", &admin, Some(json!({"display_name": "CLI agent", "scopes": ["assets:read"], "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"})))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        assert!(
            made.body["client_secret"].is_null(),
            "a public client has nothing to keep secret: {}",
            made.text
        );
        assert_eq!(made.body["token_endpoint_auth_method"], "none");
        let c = Client {
            id: made.body["client_id"].as_str().unwrap().to_owned(),
            secret: String::new(),
        };
        let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
        let code = consented_code(&h, &c, &pia).await;
        let body = |verifier: &str| {
            format!("grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={verifier}", c.id, enc(&code), enc(CALLBACK))
        };
        let wrong = h
            .form("/oauth2/token", body("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"), None)
            .await;
        wrong.refused(&"a public client's wrong verifier", "does not match");
        let issued = h.form("/oauth2/token", body(VERIFIER), None).await;
        assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
        assert_eq!(issued.body["scope"], "assets:read");

        // A confidential client may not skip authentication by naming itself.
        let confidential = client(&h).await;
        let code = consented_code(&h, &confidential, &pia).await;
        let named = format!("grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={VERIFIER}", confidential.id, enc(&code), enc(CALLBACK));
        let refused = h.form("/oauth2/token", named, None).await;
        assert_eq!(
            (refused.status, refused.error()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{}",
            refused.text
        );

        let regenerated =
            h.api(Method::POST, &format!("/v1/integrations/{}/secret", c.id), &admin, None).await;
        assert_eq!(regenerated.status, StatusCode::CONFLICT, "{}", regenerated.text);
        assert!(regenerated.text.contains("no secret to regenerate"), "{}", regenerated.text);

        let odd = h
            .api(
                Method::POST,
                "/v1/integrations",
                &admin,
                Some(json!({"display_name": "x", "token_endpoint_auth_method": "tls_client_auth"})),
            )
            .await;
        odd.refused(&"an unknown method", "`token_endpoint_auth_method`");
    }
}

#[tokio::test]
async fn a_code_of_a_person_removed_since_is_refused() {
    let h = Harness::new().await;
    let c = client(&h).await;
    let pia = ConsoleSession::start(&h, &h.a, "pia@a.example", "member").await;
    let code = consented_code(&h, &c, &pia).await;
    let admin = h.admin_token(&h.a).await;
    let removed = h.api(Method::DELETE, &format!("/v1/users/{}", pia.user_id), &admin, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let reply = redeem(&h, &c, &code, VERIFIER).await;
    reply.refused(&"a removed person's code", "no longer exists");
    assert_eq!(reply.error(), "invalid_grant");
}
