//! The OAuth client libraries applications use, against Tessera (SPEC §15): panva's
//! openid-client (built on oauth4webapi, from npm) and Authlib (from PyPI), both pinned. Each
//! discovers Tessera, takes a client-credentials token, sends a person through
//! `/oauth2/authorize` with its own PKCE S256 challenge and state (the person signs in and
//! allows over HTTP, as a browser posts the console's forms), redeems the code, refreshes
//! (rotated), introspects, revokes the refresh token and sees it refused. openid-client also
//! binds a token to its own DPoP key (RFC 9449), following the server's nonce, and calls `/v2`.

use std::path::Path;

use crate::scripts::{node_clients, python, Script};
use crate::{access_token, data_dir, made_integration, serve, BOOT_ID, BOOT_SECRET};

const REDIRECT_URI: &str = "http://127.0.0.1:7/cb";

/// Runs `script` by `program` against a fresh Tessera and lets the person allow when asked;
/// the script's result, the person's user id and the client's id.
async fn flow(program: &Path, script: &Path) -> (serde_json::Value, String, String) {
    let (_guard, dir) = data_dir();
    let server = serve(&dir, &[], true);
    let admin = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let (client_id, secret) = made_integration(
        &server.url,
        serde_json::json!({"display_name": "Library client", "scopes": ["assets:read", "events:read"],
                           "redirect_uris": ["http://127.0.0.1/cb"]}),
    )
    .await;
    let env = [
        ("ISSUER", server.url.clone()),
        ("CLIENT_ID", client_id.clone()),
        ("CLIENT_SECRET", secret),
        ("REDIRECT_URI", REDIRECT_URI.to_owned()),
    ];
    let mut client = Script::start(program, script, &env);
    let link = client.expect("authorize:", 30);
    assert!(link.starts_with(&format!("{}/oauth2/authorize?", server.url)), "{link}");
    assert!(link.contains("code_challenge_method=S256"), "{link}");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build();
    let back = crate::interop::allow_over_http(&http.unwrap(), &server.url, &link).await;
    assert!(back.as_str().starts_with(REDIRECT_URI), "{back}");
    client.send(back.as_str());
    let result = client.expect("result:", 30);
    let me = crate::get_json(format!("{}/v1/users", server.url), &admin).await;
    let ops =
        me["users"].as_array().into_iter().flatten().find(|u| u["email"] == "ops@example.com");
    let ops = ops.and_then(|u| u["id"].as_str()).expect("the operator's admin").to_owned();
    (serde_json::from_str(&result).expect("the script's JSON"), ops, client_id)
}

/// What both libraries must have seen.
fn completed((result, person, client_id): &(serde_json::Value, String, String)) {
    // RFC 6749 §5.1: the type is case-insensitive (openid-client lower-cases it).
    for grant in ["client_credentials", "code"] {
        let kind = result[grant]["token_type"].as_str().unwrap_or_default();
        assert!(kind.eq_ignore_ascii_case("bearer"), "{grant}: {result}");
    }
    assert_eq!(result["client_credentials"]["scope"], "assets:read", "{result}");
    assert_eq!(result["code"]["scope"], "assets:read events:read", "{result}");
    assert_eq!(result["code"]["has_refresh"], true, "{result}");
    assert_eq!(result["refreshed"]["rotated"], true, "{result}");
    assert_eq!(result["introspected"]["active"], true, "{result}");
    assert_eq!(result["introspected"]["sub"], person.as_str(), "{result}");
    assert_eq!(result["introspected"]["client_id"], client_id.as_str(), "{result}");
    assert_eq!(result["after_revocation"], "invalid_grant", "{result}");
}

#[tokio::test]
async fn openid_client_discovers_redeems_a_pkce_code_refreshes_and_revokes() {
    let Some(dir) = node_clients() else {
        return;
    };
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oauth-clients/openid-client.mjs");
    // Node.js resolves `openid-client` from the script's folder: run it next to node_modules.
    let placed = dir.join("openid-client.mjs");
    std::fs::copy(&script, &placed).expect("the script copied next to node_modules");
    completed(&flow(Path::new("node"), &placed).await);
}

#[tokio::test]
async fn authlib_validates_the_metadata_redeems_a_pkce_code_refreshes_and_revokes() {
    let Some(python) = python() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/authlib_client.py");
    let seen = flow(&python, &script).await;
    completed(&seen);
    assert_eq!(seen.0["revoked"], 200, "{}", seen.0);
}

#[tokio::test]
async fn openid_client_binds_its_token_to_its_dpop_key_follows_the_nonce_and_calls_the_api() {
    let Some(dir) = node_clients() else {
        return;
    };
    let (_guard, data) = data_dir();
    let server = serve(&data, &["--dpop-nonces"], true);
    let scopes = serde_json::json!({"display_name": "DPoP client", "scopes": ["assets:read"]});
    let (client_id, secret) = made_integration(&server.url, scopes).await;
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oauth-clients/openid-client-dpop.mjs");
    let placed = dir.join("openid-client-dpop.mjs");
    std::fs::copy(&script, &placed).expect("the script copied next to node_modules");
    let env = [("ISSUER", server.url.clone()), ("CLIENT_ID", client_id), ("CLIENT_SECRET", secret)];
    let client = Script::start(Path::new("node"), &placed, &env);
    let result: serde_json::Value = serde_json::from_str(&client.expect("result:", 30)).unwrap();
    // RFC 6749 §5.1: the type is case-insensitive (openid-client lower-cases it).
    assert!(
        result["token_type"].as_str().unwrap_or_default().eq_ignore_ascii_case("dpop"),
        "{result}"
    );
    assert_eq!((&result["first"], &result["second"]), (&200.into(), &200.into()), "{result}");
    assert_eq!(result["as_bearer"], 401, "{result}");
    assert!(
        result["as_bearer_challenge"].as_str().unwrap_or_default().starts_with("DPoP "),
        "{result}"
    );
}
