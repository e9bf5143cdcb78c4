//! Refresh token families (SPEC §15) on both backends: stored, found, rotated only from the
//! token they hold (so of two racing uses one wins), ended one by one, per person and
//! application, with their user, integration or tenant, and swept once expired.

use tessera_core::id::{ClientId, TenantId, UserId};
use tessera_core::model::{RefreshFamily, Role, User};
use tessera_core::ports::Storage;
use tessera_core::scope::ScopeSet;

use crate::contract::{integration, tenant};
use crate::on_both_backends;

fn family(id: &str, tenant: TenantId, client: ClientId, user: UserId) -> RefreshFamily {
    RefreshFamily {
        id: id.into(),
        tenant_id: tenant,
        client_id: client,
        user_id: user,
        scope: ScopeSet::parse("assets:read events:read").unwrap(),
        resource: "https://tools.example.com/mcp".into(),
        token_hash: [1; 32],
        generation: 0,
        created_at: 100,
        last_used_at: 100,
        idle_expires_at: 1_000,
        absolute_expires_at: 5_000,
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
    }
}

async fn person(store: &dyn Storage, tenant: TenantId, email: &str) -> UserId {
    let user = User {
        id: UserId::random(),
        tenant_id: tenant,
        email: email.into(),
        display_name: "Jane".into(),
        role: Role::Member,
        password_hash: "$argon2id$x".into(),
        created_at: 1,
        updated_at: 1,
        sessions_not_before: 0,
    };
    store.create_user(&user).await.unwrap();
    user.id
}

#[tokio::test]
async fn a_family_rotates_only_from_the_token_it_holds() {
    on_both_backends(|store: std::sync::Arc<dyn Storage>| async move {
        let t = tenant(&*store).await;
        let app = integration(t);
        store.create_integration(&app, None).await.unwrap();
        let jane = person(&*store, t, "jane@example.com").await;
        let first = family("fam-a", t, app.client_id, jane);
        store.create_refresh_family(&first).await.unwrap();
        assert_eq!(store.refresh_family("fam-a").await.unwrap(), Some(first.clone()));
        assert_eq!(store.refresh_family("fam-x").await.unwrap(), None);

        let next = RefreshFamily {
            token_hash: [2; 32],
            generation: 1,
            last_used_at: 200,
            idle_expires_at: 1_200,
            ..first.clone()
        };
        assert!(store.rotate_refresh_family(&next, &[1; 32]).await.unwrap());
        // The second of two uses with the same token finds it replaced.
        assert!(!store.rotate_refresh_family(&next, &[1; 32]).await.unwrap());
        assert_eq!(store.refresh_family("fam-a").await.unwrap(), Some(next.clone()));
        assert_eq!(store.refresh_families_of(t, jane).await.unwrap(), vec![next.clone()]);

        assert_eq!(store.delete_refresh_family("fam-a").await.unwrap(), Some(next));
        assert_eq!(store.delete_refresh_family("fam-a").await.unwrap(), None);
        assert!(!store.rotate_refresh_family(&first, &[2; 32]).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn families_end_per_person_and_application_and_with_what_they_belong_to() {
    on_both_backends(|store: std::sync::Arc<dyn Storage>| async move {
        let t = tenant(&*store).await;
        let (app, other_app) = (integration(t), integration(t));
        store.create_integration(&app, None).await.unwrap();
        store.create_integration(&other_app, None).await.unwrap();
        let jane = person(&*store, t, "jane@example.com").await;
        let john = person(&*store, t, "john@example.com").await;
        for (id, client, user) in [
            ("j1", app.client_id, jane),
            ("j2", other_app.client_id, jane),
            ("o1", app.client_id, john),
        ] {
            store.create_refresh_family(&family(id, t, client, user)).await.unwrap();
        }
        assert_eq!(store.delete_refresh_families(t, app.client_id, Some(jane)).await.unwrap(), 1);
        assert!(store.refresh_family("j1").await.unwrap().is_none());
        assert!(store.refresh_family("o1").await.unwrap().is_some());
        // An organization-wide consent withdrawn: every person's families of that application.
        store.create_refresh_family(&family("j3", t, app.client_id, jane)).await.unwrap();
        assert_eq!(store.delete_refresh_families(t, app.client_id, None).await.unwrap(), 2);
        assert_eq!(store.refresh_families_of(t, jane).await.unwrap().len(), 1);

        store.delete_user(t, jane).await.unwrap();
        assert!(store.refresh_family("j2").await.unwrap().is_none());

        store.create_refresh_family(&family("o2", t, other_app.client_id, john)).await.unwrap();
        store.delete_integration(t, other_app.client_id).await.unwrap();
        assert!(store.refresh_family("o2").await.unwrap().is_none());

        store.create_refresh_family(&family("o3", t, app.client_id, john)).await.unwrap();
        store.delete_tenant(t).await.unwrap();
        assert!(store.refresh_family("o3").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn ended_families_are_swept() {
    on_both_backends(|store: std::sync::Arc<dyn Storage>| async move {
        let t = tenant(&*store).await;
        let app = integration(t);
        store.create_integration(&app, None).await.unwrap();
        let jane = person(&*store, t, "jane@example.com").await;
        let idle = family("idle", t, app.client_id, jane);
        let old = RefreshFamily {
            idle_expires_at: 9_000,
            absolute_expires_at: 2_000,
            ..family("old", t, app.client_id, jane)
        };
        let live = RefreshFamily {
            idle_expires_at: 9_000,
            absolute_expires_at: 9_000,
            ..family("live", t, app.client_id, jane)
        };
        for f in [&idle, &old, &live] {
            store.create_refresh_family(f).await.unwrap();
        }
        assert_eq!(store.sweep_refresh_families(3_000).await.unwrap(), 2);
        assert_eq!(store.refresh_families_of(t, jane).await.unwrap(), vec![live]);
    })
    .await;
}

#[tokio::test]
async fn a_code_redeemed_at_once_ten_times_starts_one_family() {
    on_both_backends(|store: std::sync::Arc<dyn Storage>| async move {
        let t = tenant(&*store).await;
        let app = integration(t);
        store.create_integration(&app, None).await.unwrap();
        let jane = person(&*store, t, "jane@example.com").await;
        let started = family("code-1", t, app.client_id, jane);
        let uses: Vec<_> = (0..10)
            .map(|_| {
                let (store, f) = (store.clone(), started.clone());
                tokio::spawn(async move { store.redeem_code("code:app", 100, &f).await })
            })
            .collect();
        let mut firsts = 0;
        for u in uses {
            firsts += usize::from(u.await.unwrap().unwrap());
        }
        assert_eq!(firsts, 1);
        assert_eq!(store.refresh_family("code-1").await.unwrap(), Some(started.clone()));
        // The use is the same record an assertion's is: claimed, and refused again.
        assert!(!store.claim_assertion("code:app", "code-1", 100).await.unwrap());
        assert!(!store.redeem_code("code:app", 100, &started).await.unwrap());
        // A refused use leaves no family behind: a code whose claim is taken starts nothing.
        let other = family("code-2", t, app.client_id, jane);
        assert!(store.claim_assertion("code:app", "code-2", 100).await.unwrap());
        assert!(!store.redeem_code("code:app", 100, &other).await.unwrap());
        assert_eq!(store.refresh_family("code-2").await.unwrap(), None);
    })
    .await;
}
