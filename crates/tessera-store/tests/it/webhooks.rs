//! The storage contract for the webhook outbox (SPEC §6), on both backends: entries are written
//! with the data change, each connection's are leased one at a time and oldest first, a leased
//! entry is left alone by a second claimer, and one call records a whole round's outcomes.

use tessera_core::id::{ConnectionId, TenantId};
use tessera_core::model::{
    Connection, ConnectionStatus, DataChange, OutboxState, PendingWebhook, WebhookAttempt,
    WebhookOutcome,
};
use tessera_core::page::PageRequest;
use tessera_core::ports::Storage;
use tessera_core::scope::{Scope, ScopeSet};

use crate::contract::{integration, secret, tenant};
use crate::on_both_backends;
use crate::resources::asset;

/// An active connection from a new owner tenant to an integration that takes webhooks.
async fn connection(store: &dyn Storage) -> (TenantId, ConnectionId) {
    let developer = tenant(store).await;
    let owner = tenant(store).await;
    let mut app = integration(developer);
    app.profile.webhook_url = Some("https://app.example.com/hooks".into());
    store.create_integration(&app, Some(&secret(app.client_id, 1, 10))).await.unwrap();
    let c = Connection {
        id: ConnectionId::random(),
        owner_tenant_id: owner,
        client_id: app.client_id,
        client_tenant_id: developer,
        scopes: ScopeSet::parse("assets:read").unwrap(),
        state: "s".into(),
        status: ConnectionStatus::Active,
        granted_by: "user:x".into(),
        created_at: 10,
        updated_at: 10,
    };
    store.create_connection(&c).await.unwrap();
    (owner, c.id)
}

/// Creates an asset in `owner`, which every connection of the owner hears of.
async fn change(store: &dyn Storage, owner: TenantId, n: usize) {
    let change = DataChange {
        kind: "asset.created",
        needs: Scope::AssetsRead,
        payload: format!("{{\"n\":{n}}}"),
        at: 100,
    };
    store.create_asset(&asset(owner, "Crate", n), Some(&change)).await.unwrap();
}

fn done(entry: &PendingWebhook, outcome: WebhookOutcome) -> (WebhookAttempt, WebhookOutcome) {
    let attempt = WebhookAttempt {
        seq: 0,
        connection_id: entry.connection_id,
        event_seq: entry.seq,
        kind: entry.kind.clone(),
        attempt: entry.attempts + 1,
        at: 1_000,
        status: Some(200),
        error: None,
        duration_ms: 3,
    };
    (attempt, outcome)
}

#[tokio::test]
async fn each_connection_is_delivered_oldest_first_one_at_a_time() {
    on_both_backends(|store| async move {
        let (owner_a, a) = connection(&*store).await;
        let (owner_b, b) = connection(&*store).await;
        for n in 0..3 {
            change(&*store, owner_a, n).await;
        }
        change(&*store, owner_b, 0).await;
        assert_eq!(store.pending_webhooks().await.unwrap(), 4);

        // One entry per connection: A's oldest, and B's.
        let round = store.claim_webhooks(1_000, 31_000, 32).await.unwrap();
        let connections: Vec<ConnectionId> = round.iter().map(|e| e.connection_id).collect();
        assert_eq!(connections, vec![a, b]);
        assert_eq!(round[0].payload, "{\"n\":0}");
        assert_eq!(round[0].kind, "asset.created");
        // Leased: a second claimer (another instance) gets nothing until the lease ends.
        assert!(store.claim_webhooks(1_000, 31_000, 32).await.unwrap().is_empty());

        // A's first delivered and B's failed for later, in one call.
        store
            .finish_webhooks(&[
                done(&round[0], WebhookOutcome::Delivered),
                done(&round[1], WebhookOutcome::RetryAt(60_000)),
            ])
            .await
            .unwrap();
        // For the metrics: three pending (A's two, B's one), B's failing, all written at 100.
        assert_eq!(
            store.outbox_state().await.unwrap(),
            OutboxState { pending: 3, failing: 1, oldest_at: Some(100) }
        );
        let next = store.claim_webhooks(2_000, 32_000, 32).await.unwrap();
        assert_eq!(next.len(), 1, "B's entry is not due yet");
        assert_eq!((next[0].connection_id, next[0].payload.as_str()), (a, "{\"n\":1}"));
        // B's comes back once due, as its second attempt.
        store.finish_webhooks(&[done(&next[0], WebhookOutcome::Delivered)]).await.unwrap();
        let later = store.claim_webhooks(60_000, 90_000, 32).await.unwrap();
        let seen: Vec<(ConnectionId, u32)> =
            later.iter().map(|e| (e.connection_id, e.attempts)).collect();
        assert_eq!(seen, vec![(a, 0), (b, 1)]);

        // A lease that ran out is claimed again (the instance holding it died).
        let again = store.claim_webhooks(90_001, 120_000, 32).await.unwrap();
        assert_eq!(again.len(), 2);
        store
            .finish_webhooks(&[
                done(&again[0], WebhookOutcome::Delivered),
                done(&again[1], WebhookOutcome::Dropped),
            ])
            .await
            .unwrap();
        assert_eq!(store.pending_webhooks().await.unwrap(), 0);
        assert_eq!(store.outbox_state().await.unwrap(), OutboxState::default());
        assert!(store.claim_webhooks(200_000, 230_000, 32).await.unwrap().is_empty());

        // Every attempt but the dropped one is listed for its connection, oldest first.
        let attempts = store.webhook_attempts(a, PageRequest { after: 0, size: 10 }).await.unwrap();
        assert_eq!(attempts.items.len(), 3);
        assert!(attempts.items.windows(2).all(|w| w[0].event_seq < w[1].event_seq));
        let b_attempts =
            store.webhook_attempts(b, PageRequest { after: 0, size: 10 }).await.unwrap();
        assert_eq!(b_attempts.items.len(), 1, "the dropped entry left no attempt");
        // Finishing nothing is no transaction and no error.
        store.finish_webhooks(&[]).await.unwrap();
    })
    .await;
}
