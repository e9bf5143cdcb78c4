//! The webhook outbox survives a crash (SPEC §6): with deliveries pending, the server is killed
//! with SIGKILL and started again on the same data; every change is then delivered, in order,
//! none lost.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{access_token, customer_tenant, data_dir, post_json, serve, BOOT_ID, BOOT_SECRET};

/// A receiver on loopback that refuses every webhook until `accept` is set, and records the
/// ids of those it took, in arrival order.
pub struct Receiver {
    pub url: String,
    pub accept: Arc<AtomicBool>,
    pub taken: Arc<Mutex<Vec<(String, String)>>>,
}

pub async fn receiver() -> Receiver {
    let accept = Arc::new(AtomicBool::new(false));
    let taken: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (a, t) = (accept.clone(), taken.clone());
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let (a, t) = (a.clone(), t.clone());
            async move {
                if !a.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                t.lock().unwrap().push((id, body));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url, accept, taken }
}

#[tokio::test]
async fn pending_webhooks_survive_sigkill_and_are_all_delivered_in_order() {
    let hooks = receiver().await;
    let (_guard, dir) = data_dir();
    let flags = ["--webhook-retry-base-ms", "100"];
    let server = serve(&dir, &flags, true);
    let vendor = access_token(&server.url, BOOT_ID, BOOT_SECRET).await;
    let app = post_json(
        format!("{}/v1/integrations", server.url),
        &vendor,
        serde_json::json!({"display_name": "Receiver", "scopes": ["assets:read"],
                           "authentication_url": hooks.url, "webhook_url": hooks.url}),
    )
    .await;
    let client_id = app["client_id"].as_str().unwrap().parse().unwrap();
    let vendor_tenant = app["tenant_id"].as_str().unwrap().parse().unwrap();

    // A data owner connected to the application, written as the accepted consent would be.
    let database = format!("sqlite://{}/tessera.db", dir.display());
    let (owner, owner_id, owner_secret) = customer_tenant(&server.url).await;
    let store = tessera_store::connect(&database).await.unwrap();
    crate::connect_owner(&database, client_id, vendor_tenant, owner.parse().unwrap()).await;

    // Ten changes while the receiver refuses: all pending, retried.
    let mut owner_token = String::new();
    for _ in 0..50 {
        if crate::token(&server.url, &owner_id, &owner_secret, None).await.status() == 200 {
            owner_token = access_token(&server.url, &owner_id, &owner_secret).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!owner_token.is_empty(), "the owner's admin was never known");
    for n in 0..10 {
        let made = post_json(
            format!("{}/v2/assets", server.url),
            &owner_token,
            serde_json::json!({"attributes": {"n": n.to_string()}}),
        )
        .await;
        assert!(made["identity"].is_string(), "{made}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.pending_webhooks().await.unwrap(), 10);
    assert!(hooks.taken.lock().unwrap().is_empty());

    // SIGKILL, then the receiver comes back and the server starts again on the same data.
    drop(server); // Child::kill: SIGKILL
    hooks.accept.store(true, Ordering::SeqCst);
    let again = serve(&dir, &flags, true);
    let mut delivered = Vec::new();
    for _ in 0..300 {
        delivered = hooks.taken.lock().unwrap().clone();
        if delivered.len() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids: Vec<i64> =
        delivered.iter().map(|(id, _)| id.trim_start_matches("msg_").parse().unwrap()).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 10, "every change delivered: {ids:?}");
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in order");
    let numbers: Vec<String> = delivered
        .iter()
        .map(|(_, body)| {
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            body["data"]["attributes"]["n"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(numbers, (0..10).map(|n| n.to_string()).collect::<Vec<_>>());
    assert_eq!(store.pending_webhooks().await.unwrap(), 0);
    drop(again);
}
