//! Tenant isolation (fosite's suite, on both backends): whatever tenant A writes, tenant B's
//! reads and writes answer "not found".

use tessera_core::id::UserId;
use tessera_core::model::{Role, User};
use tessera_core::page::PageRequest;
use tessera_core::ports::StoreError;

use crate::contract::{integration, secret, tenant};
use crate::on_both_backends;
use crate::resources::{asset, policy};

#[tokio::test]
async fn another_tenant_sees_nothing_and_changes_nothing() {
    on_both_backends(|store| async move {
        let a = tenant(&*store).await;
        let b = tenant(&*store).await;
        let mut i = integration(a);
        store.create_integration(&i, Some(&secret(i.client_id, 1, 10))).await.unwrap();
        let user = User {
            id: UserId::random(),
            tenant_id: a,
            email: "a@example.com".into(),
            display_name: "A".into(),
            role: Role::Member,
            password_hash: "x".into(),
            created_at: 1,
            updated_at: 1,
            sessions_not_before: 0,
        };
        store.create_user(&user).await.unwrap();
        let first = PageRequest { after: 0, size: 100 };

        assert!(matches!(store.get_integration(b, i.client_id).await, Err(StoreError::NotFound)));
        assert!(store.list_integrations(b, first).await.unwrap().items.is_empty());
        assert!(matches!(
            store.delete_integration(b, i.client_id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.replace_secret(b, &secret(i.client_id, 2, 20), 20).await,
            Err(StoreError::NotFound)
        ));
        i.tenant_id = b;
        i.display_name = "hijacked".into();
        assert!(matches!(store.update_integration(&i).await, Err(StoreError::NotFound)));

        assert!(matches!(store.get_user(b, user.id).await, Err(StoreError::NotFound)));
        assert_eq!(store.find_user_by_email(b, "a@example.com").await.unwrap(), None);
        assert!(store.list_users(b, first).await.unwrap().items.is_empty());
        assert!(matches!(store.delete_user(b, user.id).await, Err(StoreError::NotFound)));
        let mut moved = user.clone();
        moved.tenant_id = b;
        assert!(matches!(store.update_user(&moved).await, Err(StoreError::NotFound)));
        assert!(store.list_audit(b, &Default::default(), first).await.unwrap().items.is_empty());

        // Tenant A's objects are untouched.
        let kept = store.get_integration(a, i.client_id).await.unwrap();
        assert_eq!(kept.display_name, "reader");
        assert_eq!(store.find_client(i.client_id).await.unwrap().unwrap().secrets.len(), 1);
        assert_eq!(store.get_user(a, user.id).await.unwrap(), user);
    })
    .await;
}

#[tokio::test]
async fn another_tenant_cannot_reach_assets_events_or_policies() {
    on_both_backends(|store| async move {
        let a = tenant(&*store).await;
        let b = tenant(&*store).await;
        let first = PageRequest { after: 0, size: 100 };
        let made = store.create_asset(&asset(a, "Crate", 1), None).await.unwrap();
        let p = store.create_policy(&policy(a)).await.unwrap();

        assert!(matches!(store.get_asset(b, made.id).await, Err(StoreError::NotFound)));
        assert!(store.list_assets(b, None, first).await.unwrap().items.is_empty());
        assert!(matches!(store.delete_asset(b, made.id, None).await, Err(StoreError::NotFound)));
        let mut moved = made.patched(&Default::default(), 500).unwrap();
        moved.tenant_id = b;
        assert!(matches!(
            store.update_asset(&moved, made.updated_at, None).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.list_events(b, made.id, first).await.unwrap().items.is_empty());

        assert!(matches!(store.get_policy(b, p.id).await, Err(StoreError::NotFound)));
        assert!(store.list_policies(b, first).await.unwrap().items.is_empty());
        assert!(store.tenant_policies(b).await.unwrap().is_empty());
        assert!(matches!(store.delete_policy(b, p.id).await, Err(StoreError::NotFound)));
        let mut hijacked = p.clone();
        hijacked.tenant_id = b;
        assert!(matches!(store.update_policy(&hijacked).await, Err(StoreError::NotFound)));

        assert_eq!(store.get_asset(a, made.id).await.unwrap(), made);
        assert_eq!(store.get_policy(a, p.id).await.unwrap(), p);
    })
    .await;
}
