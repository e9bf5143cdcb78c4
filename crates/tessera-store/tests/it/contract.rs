use std::collections::BTreeMap;

use tessera_core::id::{ClientId, TenantId, UserId};
use tessera_core::model::{ClientSecretRecord, Integration, Role, Tenant, Tier, User};
use tessera_core::page::PageRequest;
use tessera_core::ports::{
    AuditFilter, AuditRecord, Change, RevokedToken, Storage, StoreError, StoredSigningKey,
};
use tessera_core::scope::ScopeSet;

use crate::on_both_backends;

pub async fn tenant(store: &dyn Storage) -> TenantId {
    let id = TenantId::random();
    store.create_tenant(&Tenant::new(id, "Acme", Tier::Team, 1).unwrap()).await.unwrap();
    id
}

pub fn integration(tenant: TenantId) -> Integration {
    Integration {
        client_id: ClientId::random(),
        tenant_id: tenant,
        display_name: "reader".into(),
        scopes: ScopeSet::parse("assets:read").unwrap(),
        custom_claims: BTreeMap::from([("department".into(), "ops".into())]),
        token_ttl_seconds: 600,
        jwks_uri: Some("https://keys.example.com/jwks.json".into()),
        redirect_uris: vec!["https://app.example.com/callback".into()],
        public_client: true,
        dpop_bound_access_tokens: false,
        refresh: tessera_core::model::RefreshLifetimes {
            idle_seconds: 600,
            absolute_seconds: 7200,
        },
        app: None,
        profile: Default::default(),
        origin: Default::default(),
        created_at: 10,
        updated_at: 10,
    }
}

pub fn secret(client: ClientId, byte: u8, at: i64) -> ClientSecretRecord {
    ClientSecretRecord { client_id: client, hash: [byte; 32], created_at: at, expires_at: None }
}

#[tokio::test]
async fn tenants_round_trip() {
    on_both_backends(|store| async move {
        let id = tenant(&*store).await;
        let got = store.get_tenant(id).await.unwrap();
        assert_eq!(got.tier, Tier::Team);
        assert!(matches!(store.get_tenant(TenantId::random()).await, Err(StoreError::NotFound)));
        assert_eq!(store.list_all_tenants().await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn integrations_are_created_read_updated_and_deleted_with_their_secrets() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let mut i = integration(t);
        store.create_integration(&i, Some(&secret(i.client_id, 1, 10))).await.unwrap();
        assert_eq!(store.get_integration(t, i.client_id).await.unwrap(), i);

        i.display_name = "renamed".into();
        i.jwks_uri = None;
        i.redirect_uris.push("http://127.0.0.1/callback".into());
        i.updated_at = 20;
        store.update_integration(&i).await.unwrap();
        assert_eq!(store.get_integration(t, i.client_id).await.unwrap(), i);

        let found = store.find_client(i.client_id).await.unwrap().unwrap();
        assert_eq!(found.secrets.len(), 1);
        assert_eq!(found.secrets[0].hash, [1; 32]);

        store.delete_integration(t, i.client_id).await.unwrap();
        assert!(store.find_client(i.client_id).await.unwrap().is_none());
        assert!(matches!(
            store.delete_integration(t, i.client_id).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn replacing_a_secret_expires_the_old_one_at_the_given_time() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let i = integration(t);
        store.create_integration(&i, Some(&secret(i.client_id, 1, 10))).await.unwrap();
        store.replace_secret(t, &secret(i.client_id, 2, 100), 5_000).await.unwrap();
        let found = store.find_client(i.client_id).await.unwrap().unwrap();
        let old = found.secrets.iter().find(|s| s.hash == [1; 32]).unwrap();
        let new = found.secrets.iter().find(|s| s.hash == [2; 32]).unwrap();
        assert_eq!(old.expires_at, Some(5_000));
        assert_eq!(new.expires_at, None);
        // The snapshot load leaves expired secrets out.
        let all = store.all_clients(6_000).await.unwrap();
        assert_eq!(all[0].secrets.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn listing_pages_neither_skip_nor_repeat() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let mut made = Vec::new();
        for n in 0..7 {
            let i = integration(t);
            store.create_integration(&i, Some(&secret(i.client_id, n, 10))).await.unwrap();
            made.push(i.client_id);
        }
        let mut seen = Vec::new();
        let mut page = PageRequest { after: 0, size: 3 };
        loop {
            let got = store.list_integrations(t, page).await.unwrap();
            seen.extend(got.items.iter().map(|i| i.client_id));
            // A write between pages lands after the cursor and is seen once.
            if seen.len() == 3 {
                let late = integration(t);
                store
                    .create_integration(&late, Some(&secret(late.client_id, 9, 10)))
                    .await
                    .unwrap();
                made.push(late.client_id);
            }
            match got.next_after {
                Some(after) => page.after = after,
                None => break,
            }
        }
        assert_eq!(seen, made);
    })
    .await;
}

#[tokio::test]
async fn users_are_unique_per_tenant_by_email() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let user = User {
            id: UserId::random(),
            tenant_id: t,
            email: "jane@example.com".into(),
            display_name: "Jane".into(),
            role: Role::Admin,
            password_hash: "$argon2id$x".into(),
            created_at: 1,
            updated_at: 1,
            sessions_not_before: 0,
        };
        store.create_user(&user).await.unwrap();
        let twin = User { id: UserId::random(), ..user.clone() };
        assert!(matches!(store.create_user(&twin).await, Err(StoreError::Conflict(_))));
        assert_eq!(
            store.find_user_by_email(t, "jane@example.com").await.unwrap(),
            Some(user.clone())
        );
        let mut changed = user.clone();
        changed.role = Role::Member;
        store.update_user(&changed).await.unwrap();
        assert_eq!(store.get_user(t, user.id).await.unwrap().role, Role::Member);
        assert_eq!(
            store.list_users(t, PageRequest { after: 0, size: 10 }).await.unwrap().items.len(),
            1
        );
        store.delete_user(t, user.id).await.unwrap();
        assert!(matches!(store.get_user(t, user.id).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn rotating_keys_keeps_the_old_one_until_it_stops_verifying() {
    on_both_backends(|store| async move {
        let key = |kid: &str, at| StoredSigningKey {
            kid: kid.into(),
            alg: "ES256".into(),
            encrypted_pkcs8: vec![1, 2, 3],
            created_at: at,
            retired_at: None,
            verify_until: None,
        };
        store.rotate_signing_key(&key("a", 100), 0).await.unwrap();
        store.rotate_signing_key(&key("b", 200), 5_000).await.unwrap();
        let live = store.live_signing_keys(1_000).await.unwrap();
        assert_eq!(live.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(live[1].retired_at, Some(200));
        let later = store.live_signing_keys(6_000).await.unwrap();
        assert_eq!(later.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["b"]);
    })
    .await;
}

#[tokio::test]
async fn revocations_and_changes_are_visible_until_they_lapse() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let token = RevokedToken { jti: "j1".into(), expires_at: 500 };
        store.revoke_token(t, &token).await.unwrap();
        store.revoke_token(t, &token).await.unwrap(); // idempotent
        assert_eq!(store.live_revocations(100).await.unwrap(), vec![token.clone()]);
        assert!(store.live_revocations(600).await.unwrap().is_empty());

        let client = ClientId::random();
        store.publish(1_000, &Change::Client(client)).await.unwrap();
        store.publish(2_000, &Change::TokenRevoked(token.clone())).await.unwrap();
        store.publish(3_000, &Change::SigningKeys).await.unwrap();
        store.publish(3_000, &Change::Tenant(t)).await.unwrap();
        let changes = store.changes_since(2_000).await.unwrap();
        assert_eq!(
            changes.iter().map(|c| c.change.clone()).collect::<Vec<_>>(),
            vec![Change::TokenRevoked(token), Change::SigningKeys, Change::Tenant(t)]
        );
        assert_eq!(store.prune_changes(2_500).await.unwrap(), 2);

        // Every kind of change reads back as written: one that did not would stall the feed
        // for every instance.
        let every = vec![
            Change::Client(client),
            Change::SigningKeys,
            Change::Tenant(t),
            Change::AccessPolicies(t),
            Change::People(t),
            Change::AppAuthorizations(t),
            Change::Connection(tessera_core::id::ConnectionId::random()),
            Change::Federation(t),
            Change::ResourceServers(t),
            Change::TokenRevoked(RevokedToken { jti: "j2".into(), expires_at: 9 }),
        ];
        for change in &every {
            // A new kind of change fails to compile here until it is added to `every`.
            match change {
                Change::Client(_)
                | Change::SigningKeys
                | Change::Tenant(_)
                | Change::AccessPolicies(_)
                | Change::People(_)
                | Change::AppAuthorizations(_)
                | Change::Connection(_)
                | Change::Federation(_)
                | Change::ResourceServers(_)
                | Change::TokenRevoked(_) => {}
            }
            store.publish(10_000, change).await.unwrap();
        }
        let read: Vec<Change> =
            store.changes_since(10_000).await.unwrap().into_iter().map(|c| c.change).collect();
        assert_eq!(read, every);
    })
    .await;
}

/// The actions of one page of `t`'s audit under `filter`, and where the next page starts.
async fn audit_page(
    store: &dyn Storage,
    t: TenantId,
    filter: AuditFilter,
    after: i64,
    size: u32,
) -> (Vec<String>, Option<i64>) {
    let page = store.list_audit(t, &filter, PageRequest { after, size }).await.unwrap();
    (page.items.iter().map(|e| e.record.action.clone()).collect(), page.next_after)
}

#[tokio::test]
async fn audit_lists_newest_first_in_pages() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let record = |n: i64| AuditRecord {
            tenant_id: t,
            at: n,
            actor: "system".into(),
            action: format!("a{n}"),
            target: String::new(),
            detail: "{}".into(),
        };
        store.append_audit(&(0..5).map(record).collect::<Vec<_>>()).await.unwrap();
        let (first, after) = audit_page(&*store, t, AuditFilter::default(), 0, 3).await;
        assert_eq!(first, ["a4", "a3", "a2"]);
        let (next, end) = audit_page(&*store, t, AuditFilter::default(), after.unwrap(), 3).await;
        assert_eq!((next.len(), end), (2, None));
        // Filters: by action, by actor, by time (`since` included, `until` not), with pages.
        let by_action = AuditFilter { action: Some("a3".into()), ..Default::default() };
        assert_eq!(audit_page(&*store, t, by_action, 0, 10).await.0, ["a3"]);
        let window = AuditFilter { since: Some(1), until: Some(3), ..Default::default() };
        assert_eq!(audit_page(&*store, t, window, 0, 10).await.0, ["a2", "a1"]);
        let nobody = AuditFilter { actor: Some("user:x".into()), ..Default::default() };
        assert!(audit_page(&*store, t, nobody, 0, 10).await.0.is_empty());
        let system =
            || AuditFilter { actor: Some("system".into()), since: Some(1), ..Default::default() };
        let (paged, after) = audit_page(&*store, t, system(), 0, 2).await;
        assert_eq!(paged, ["a4", "a3"]);
        assert_eq!(audit_page(&*store, t, system(), after.unwrap(), 2).await.0, ["a2", "a1"]);
    })
    .await;
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |dir: &str| {
        let mut v: Vec<String> =
            std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
}
