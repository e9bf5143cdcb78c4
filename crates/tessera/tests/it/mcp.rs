//! Issue 29 end to end with the official MCP Python SDK (`mcp`, pinned in
//! `tests/mcp/requirements.txt`): an agent calls a small MCP server, finds Tessera from its
//! 401 (RFC 9728), registers itself (RFC 7591, the tenant's registration open), sends the
//! person to Tessera, where headless Chromium signs in and allows; the MCP server checks the
//! token's audience by introspection, the tool answers. Then the person withdraws in My
//! account, and the next call is refused: the agent is sent back to authorize.

use std::time::Duration;

use fantoccini::Locator::{Css, XPath};

use crate::browser::{browser, landed_at, stage, Walk};
use crate::scripts::{python, Script};
use crate::{access_token, BOOT_ID, BOOT_SECRET};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A script of `tests/mcp/`, run by the venv's Python.
fn run(python: &std::path::Path, script: &str, env: &[(&str, String)]) -> Script {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp");
    Script::start(python, &dir.join(script), env)
}

async fn json(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let reply = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.status());
    reply.json().await.unwrap()
}

/// Tessera at `tessera` open to registrations, with the MCP server of `server.py` (the official
/// Python SDK) registered as a resource server and running, and the SDK's agent `agent.py`
/// started against it: the two scripts and the port of the agent's callback.
async fn mcp_server_and_agent(python: &std::path::Path, tessera: &str) -> (Script, Script, u16) {
    let admin = access_token(tessera, BOOT_ID, BOOT_SECRET).await;
    let (mcp_port, callback_port) = (free_port(), free_port());
    let resource = format!("http://127.0.0.1:{mcp_port}/mcp");
    let open = serde_json::json!({"registration": "open", "metadata_documents": true});
    json(reqwest::Method::PUT, format!("{tessera}/v1/client_registration"), &admin, open).await;
    let server = serde_json::json!({"identifier": resource, "display_name": "Fleet tools", "scopes": ["assets:read", "events:read"]});
    json(reqwest::Method::POST, format!("{tessera}/v1/resource_servers"), &admin, server).await;

    let mcp = run(
        python,
        "server.py",
        &[
            ("TESSERA", tessera.to_owned()),
            ("MCP_PORT", mcp_port.to_string()),
            ("INTROSPECT_ID", BOOT_ID.into()),
            ("INTROSPECT_SECRET", BOOT_SECRET.into()),
        ],
    );
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", mcp_port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let agent = run(
        python,
        "agent.py",
        &[("MCP_URL", resource.clone()), ("CALLBACK_PORT", callback_port.to_string())],
    );
    (mcp, agent, callback_port)
}

#[tokio::test]
async fn an_mcp_sdk_agent_registers_is_allowed_calls_a_tool_and_is_refused_once_withdrawn() {
    let Some(python) = python() else {
        return;
    };
    let Some((_stage, port, tessera)) = stage() else {
        return;
    };
    let (mcp, mut agent, callback_port) = mcp_server_and_agent(&python, &tessera.url).await;
    let link = agent.expect("AUTHORIZE", 60);
    assert!(link.starts_with(&format!("{}/oauth2/authorize?", tessera.url)), "{link}");
    assert!(link.contains("code_challenge_method=S256") && link.contains("resource="), "{link}");

    let browser = browser(port).await;
    let allowed = async {
        browser.goto(&link).await?;
        browser.fill("email", "ops@example.com").await?;
        browser.fill("password", "correct horse battery staple").await?;
        browser
            .visit(
                Css("button[type=submit]"),
                XPath("//h1[. = 'Fleet agent asks for access']"),
                "consent",
            )
            .await?;
        let page = browser.source().await?;
        for words in ["Fleet tools", "read assets", "Unverified", "registered itself"] {
            assert!(page.contains(words), "{words}: {page}");
        }
        browser.shot("authorize-mcp-agent.png").await?;
        browser.find(XPath("//button[. = 'Allow']")).await?.click().await?;
        landed_at(&browser, &format!("http://127.0.0.1:{callback_port}/callback")).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    if let Err(e) = allowed {
        let _ = browser.close().await;
        panic!("the browser allows the agent: {e}");
    }
    assert_eq!(agent.expect("TOOL", 60), "42 trucks");
    assert!(!mcp.expect("VERIFIED", 5).is_empty(), "the server saw the person's token");

    let withdrawn = async {
        browser.goto_console(&tessera.url, "account").await?;
        browser
            .visit(
                Css("button[aria-label='Withdraw access of Fleet agent']"),
                XPath("//p[. = 'The consent was withdrawn.']"),
                "my account",
            )
            .await
    }
    .await;
    let _ = browser.close().await;
    withdrawn.expect("the person withdraws in My account");
    agent.send("again");
    assert_eq!(mcp.expect("REJECTED", 30), "inactive");
    // Refused, the SDK starts over: the person must allow it again.
    let again = agent.expect("AUTHORIZE", 60);
    assert!(again.starts_with(&format!("{}/oauth2/authorize?", tessera.url)), "{again}");
}
