//! The storage contract for integrations' public keys and used assertion ids, on both backends.

use serde_json::json;
use tessera_core::model::ClientKey;
use tessera_core::ports::StoreError;
use tessera_core::token::SigningAlg;

use crate::contract::{integration, secret, tenant};
use crate::on_both_backends;

fn key(client: tessera_core::id::ClientId, kid: &str) -> ClientKey {
    ClientKey {
        kid: kid.into(),
        client_id: client,
        alg: SigningAlg::EdDsa,
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": kid}),
        not_after: Some(5_000),
        created_at: 7,
    }
}

#[tokio::test]
async fn keys_belong_to_an_integration_of_the_tenant_and_reach_the_snapshot() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let i = integration(t);
        store.create_integration(&i, Some(&secret(i.client_id, 1, 10))).await.unwrap();
        store.add_client_key(t, &key(i.client_id, "k1")).await.unwrap();
        store.add_client_key(t, &key(i.client_id, "k2")).await.unwrap();
        assert!(matches!(
            store.add_client_key(t, &key(i.client_id, "k1")).await,
            Err(StoreError::Conflict(_))
        ));
        let listed = store.list_client_keys(t, i.client_id).await.unwrap();
        assert_eq!(listed, vec![key(i.client_id, "k1"), key(i.client_id, "k2")]);
        let found = store.find_client(i.client_id).await.unwrap().unwrap();
        assert_eq!(found.keys.len(), 2);
        let all = store.all_clients(0).await.unwrap();
        assert_eq!(all[0].keys.len(), 2);

        // Another tenant can neither add, list nor delete.
        let other = tenant(&*store).await;
        assert!(matches!(
            store.add_client_key(other, &key(i.client_id, "k3")).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.list_client_keys(other, i.client_id).await.unwrap().is_empty());
        assert!(matches!(
            store.delete_client_key(other, i.client_id, "k1").await,
            Err(StoreError::NotFound)
        ));

        store.delete_client_key(t, i.client_id, "k1").await.unwrap();
        assert!(matches!(
            store.delete_client_key(t, i.client_id, "k1").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.list_client_keys(t, i.client_id).await.unwrap().len(), 1);
        // Deleting the integration takes its keys along.
        store.delete_integration(t, i.client_id).await.unwrap();
        assert!(store.list_client_keys(t, i.client_id).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_assertion_id_is_accepted_once_per_issuer() {
    on_both_backends(|store| async move {
        assert!(store.claim_assertion("client-a", "jti-1", 100).await.unwrap());
        assert!(!store.claim_assertion("client-a", "jti-1", 100).await.unwrap());
        assert!(store.claim_assertion("client-b", "jti-1", 100).await.unwrap());
        assert_eq!(store.prune_assertions(101).await.unwrap(), 2);
        assert!(store.claim_assertion("client-a", "jti-1", 200).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn consents_are_one_per_integration_and_user_and_stay_in_their_tenant() {
    use tessera_core::id::{ClientId, ConsentId, UserId};
    use tessera_core::model::{Consent, ConsentUser, Role, User};
    use tessera_core::page::PageRequest;
    use tessera_core::scope::ScopeSet;

    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let client = ClientId::random();
        let user = User {
            id: UserId::random(),
            tenant_id: t,
            email: "a@example.com".into(),
            display_name: "A".into(),
            role: Role::Member,
            password_hash: "x".into(),
            created_at: 1,
            updated_at: 1,
            sessions_not_before: 0,
        };
        store.create_user(&user).await.unwrap();
        assert_eq!(store.find_user(user.id).await.unwrap(), Some(user.clone()));
        assert_eq!(store.find_user(UserId::random()).await.unwrap(), None);

        let consent = |who: ConsentUser, scopes: &str| Consent {
            id: ConsentId::random(),
            tenant_id: t,
            client_id: client,
            user: who,
            scopes: ScopeSet::parse(scopes).unwrap(),
            granted_by: "client:admin".into(),
            created_at: 5,
            resources: vec!["https://tools.example.com/".into()],
        };
        let first = store
            .put_consent(&consent(
                ConsentUser::User { id: user.id, email: user.email.clone() },
                "assets:read",
            ))
            .await
            .unwrap();
        let replaced = store
            .put_consent(&consent(
                ConsentUser::User { id: user.id, email: user.email.clone() },
                "assets:read events:read",
            ))
            .await
            .unwrap();
        assert_eq!(replaced.id, first.id, "the same integration and user: one consent");
        assert_eq!(replaced.scopes, ScopeSet::parse("assets:read events:read").unwrap());
        let all = store.put_consent(&consent(ConsentUser::All, "events:read")).await.unwrap();
        let page = store.list_consents(t, PageRequest { after: 0, size: 1 }).await.unwrap();
        assert_eq!(page.items, vec![replaced.clone()]);
        assert!(page.next_after.is_some());

        let other = tenant(&*store).await;
        assert_eq!(store.consents_of(Some(t)).await.unwrap(), vec![replaced.clone(), all.clone()]);
        assert!(store.consents_of(Some(other)).await.unwrap().is_empty());
        let everyone = store.consents_of(None).await.unwrap();
        assert!(everyone.contains(&replaced) && everyone.contains(&all));
        assert!(matches!(store.delete_consent(other, all.id).await, Err(StoreError::NotFound)));
        assert_eq!(store.delete_consent(t, all.id).await.unwrap(), all);
        assert_eq!(store.consents_of(Some(t)).await.unwrap(), vec![replaced]);
    })
    .await;
}

/// Claims each of `jtis` for `issuer` at once, alternating between two stores; the outcomes
/// in order.
async fn at_once(
    stores: [&std::sync::Arc<dyn tessera_core::ports::Storage>; 2],
    issuer: &'static str,
    jtis: Vec<String>,
) -> Vec<bool> {
    let claims: Vec<_> = jtis
        .into_iter()
        .enumerate()
        .map(|(i, jti)| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move { store.claim_assertion(issuer, &jti, 100).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for c in claims {
        outcomes.push(c.await.unwrap().unwrap());
    }
    outcomes
}

/// The token path's writes are committed in groups (`group_commit`): of 40 uses of one `jti`
/// at once, on two stores on one database (two instances), exactly one is the first; 300
/// different ones at once are each the first, once; and every outcome is each request's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_are_grouped_and_each_jti_is_first_once_across_instances() {
    let (sqlite, _dir) = tessera_store::testing::sqlite_url();
    let mut urls = vec![sqlite];
    match tessera_store::testing::postgres_url() {
        Ok(url) => urls.push(url),
        Err(why) => assert!(std::env::var_os("CI").is_none(), "CI must run PostgreSQL: {why}"),
    }
    for url in urls {
        let a = tessera_store::connect(&url).await.unwrap();
        let b = tessera_store::connect(&url).await.unwrap();
        let replayed = at_once([&a, &b], "client-a", vec!["jti-replayed".to_owned(); 40]).await;
        assert_eq!(replayed.iter().filter(|f| **f).count(), 1, "{url}: {replayed:?}");
        let distinct = || (0..300).map(|i| format!("jti-{i}")).collect::<Vec<_>>();
        let first = at_once([&a, &b], "client-b", distinct()).await;
        assert!(first.iter().all(|f| *f), "{url}: each new jti is the first: {first:?}");
        let again = at_once([&a, &b], "client-b", distinct()).await;
        assert!(again.iter().all(|f| !*f), "{url}: each is used already: {again:?}");
        // Used and new mixed in one group: each answer is its own request's.
        let half: Vec<String> = (0..300).step_by(2).map(|i| format!("jti-{i}")).collect();
        at_once([&a, &b], "client-c", half).await;
        let mixed = at_once([&a, &b], "client-c", distinct()).await;
        for (i, first) in mixed.iter().enumerate() {
            assert_eq!(*first, i % 2 == 1, "{url}: jti-{i} in a mixed group");
        }
    }
}

/// SQLite commits never checkpoint (that fsync would land on the token path); a task beside
/// them moves the WAL into the database file within about a second: the file alone, copied
/// without its WAL, already holds a claim made just before.
#[tokio::test]
async fn sqlite_checkpoints_beside_the_writers() {
    let (url, dir) = tessera_store::testing::sqlite_url();
    let store = tessera_store::connect(&url).await.unwrap();
    assert!(store.claim_assertion("client-a", "jti-checkpointed", 100).await.unwrap());
    let copy = tempfile::tempdir().unwrap();
    let mut found = false;
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        std::fs::copy(dir.path().join("tessera.db"), copy.path().join("tessera.db")).unwrap();
        let alone = format!("sqlite://{}", copy.path().join("tessera.db").display());
        let file_only = tessera_store::connect(&alone).await.unwrap();
        // Already there: the claim is refused as a second use.
        if !file_only.claim_assertion("client-a", "jti-checkpointed", 100).await.unwrap() {
            found = true;
            break;
        }
        std::fs::remove_file(copy.path().join("tessera.db-wal")).ok();
        std::fs::remove_file(copy.path().join("tessera.db-shm")).ok();
        std::fs::remove_file(copy.path().join("tessera.db")).ok();
    }
    assert!(found, "the claim reached the database file within 3 s");
}

/// Under steady reads and writes no writer may start the WAL over on its own; the checkpoint
/// task does, so the file stays bounded: here at small limits it stays near 12 MiB, where
/// without the restarts it passes 70 MiB.
#[tokio::test]
async fn sqlite_starts_the_wal_over_under_steady_reads_and_writes() {
    use tessera_core::ports::Storage;
    let (url, dir) = tessera_store::testing::sqlite_url();
    let limits = tessera_store::sqlite::WalLimits {
        frames: 256,
        restart_at_most_every: std::time::Duration::from_millis(100),
    };
    let store: std::sync::Arc<dyn Storage> =
        std::sync::Arc::new(tessera_store::SqliteStore::connect_with(&url, limits).await.unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (store, stop) = (store.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store.changes_since(0).await.unwrap();
                }
            })
        })
        .collect();
    let wal = dir.path().join("tessera.db-wal");
    let mut largest = 0;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..1500 {
                    assert!(store
                        .claim_assertion("client-a", &format!("jti-{w}-{n}"), 100)
                        .await
                        .unwrap());
                }
            })
        })
        .collect();
    while !writers.iter().all(|w| w.is_finished()) {
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in writers.into_iter().chain(readers) {
        task.await.unwrap();
    }
    assert!(largest < 32 << 20, "the WAL file reached {largest} bytes");
}
