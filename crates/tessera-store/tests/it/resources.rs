//! The storage contract for assets, events and access policies, on both backends.

use serde_json::json;
use tessera_core::id::{AccessPolicyId, AssetId, EventId, TenantId};
use tessera_core::model::{Asset, AssetEvent, Attributes};
use tessera_core::page::PageRequest;
use tessera_core::policy::{AccessPolicy, PolicyRules};
use tessera_core::ports::{Change, StoreError};

use crate::contract::tenant;
use crate::on_both_backends;

fn attrs(v: serde_json::Value) -> Attributes {
    serde_json::from_value(v).unwrap()
}

pub fn asset(tenant: TenantId, kind: &str, n: usize) -> Asset {
    Asset::new(
        AssetId::random(),
        tenant,
        attrs(json!({"arc_display_type": kind, "n": n.to_string()})),
        100,
    )
    .unwrap()
}

pub fn policy(tenant: TenantId) -> AccessPolicy {
    AccessPolicy {
        id: AccessPolicyId::random(),
        tenant_id: tenant,
        seq: 0,
        display_name: "all crates".into(),
        description: "d".into(),
        rules: serde_json::from_value::<PolicyRules>(json!({
            "filters": [{"asset_types": ["Crate"]}],
            "permissions": [{"actors": [{"email": "a@b.test"}], "attributes": ["*"], "event_visibility": "all"}]
        }))
        .unwrap(),
        created_at: 5,
        updated_at: 5,
    }
}

#[tokio::test]
async fn assets_round_trip_and_list_by_type_in_stable_pages() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let mut made = Vec::new();
        for n in 0..7 {
            let kind = if n % 2 == 0 { "Crate" } else { "Pallet" };
            made.push(store.create_asset(&asset(t, kind, n), None).await.unwrap());
        }
        assert!(made.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(store.get_asset(t, made[0].id).await.unwrap(), made[0]);
        // The types in use, in order, each once; none of another tenant's.
        assert_eq!(store.asset_types(t, 10).await.unwrap(), ["Crate", "Pallet"]);
        assert_eq!(store.asset_types(t, 1).await.unwrap(), ["Crate"]);
        let other = tenant(&*store).await;
        store.create_asset(&asset(other, "Secret", 0), None).await.unwrap();
        assert_eq!(store.asset_types(t, 10).await.unwrap(), ["Crate", "Pallet"]);

        // Only crates, three at a time; a write between pages neither skips nor repeats.
        let crates = vec!["Crate".to_owned()];
        let first =
            store.list_assets(t, Some(&crates), PageRequest { after: 0, size: 3 }).await.unwrap();
        assert_eq!(first.items.len(), 3);
        store.delete_asset(t, made[0].id, None).await.unwrap();
        let late = store.create_asset(&asset(t, "Crate", 99), None).await.unwrap();
        let second = store
            .list_assets(
                t,
                Some(&crates),
                PageRequest { after: first.next_after.unwrap(), size: 3 },
            )
            .await
            .unwrap();
        let ids: Vec<_> = first.items.iter().chain(&second.items).map(|a| a.id).collect();
        assert_eq!(ids, vec![made[0].id, made[2].id, made[4].id, made[6].id, late.id]);
        assert_eq!(second.next_after, None);

        let all = store.list_assets(t, None, PageRequest { after: 0, size: 100 }).await.unwrap();
        assert_eq!(all.items.len(), 7);
        let none = store
            .list_assets(t, Some(&["Truck".to_owned()]), PageRequest { after: 0, size: 100 })
            .await
            .unwrap();
        assert!(none.items.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_stale_update_is_refused_and_nothing_is_lost() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let a = store.create_asset(&asset(t, "Crate", 1), None).await.unwrap();
        let one = a.patched(&attrs(json!({"colour": "red"})), 200).unwrap();
        let two = a.patched(&attrs(json!({"size": "L"})), 200).unwrap();
        store.update_asset(&one, a.updated_at, None).await.unwrap();
        assert!(matches!(
            store.update_asset(&two, a.updated_at, None).await,
            Err(StoreError::Conflict(_))
        ));
        let got = store.get_asset(t, a.id).await.unwrap();
        assert_eq!(got.attributes["colour"], "red");
        assert_eq!(got.asset_type(), "Crate");
        let gone = asset(t, "Crate", 2);
        assert!(matches!(
            store.update_asset(&gone, gone.updated_at, None).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn events_append_to_an_existing_asset_and_go_with_it() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let a = store.create_asset(&asset(t, "Crate", 1), None).await.unwrap();
        let mut seqs = Vec::new();
        for n in 0..3 {
            let e = AssetEvent::new(
                EventId::random(),
                &a,
                None,
                attrs(json!({"n": n})),
                "client:x".into(),
                300,
            )
            .unwrap();
            seqs.push(store.append_event(&e, None).await.unwrap().seq);
        }
        let page = store.list_events(t, a.id, PageRequest { after: 0, size: 2 }).await.unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].operation, "Record");
        assert_eq!(page.next_after, Some(seqs[1]));

        // Another tenant's asset id cannot take an event.
        let other = tenant(&*store).await;
        let mut stray =
            AssetEvent::new(EventId::random(), &a, None, attrs(json!({})), "client:y".into(), 1)
                .unwrap();
        stray.tenant_id = other;
        assert!(matches!(store.append_event(&stray, None).await, Err(StoreError::NotFound)));

        store.delete_asset(t, a.id, None).await.unwrap();
        assert!(matches!(store.get_asset(t, a.id).await, Err(StoreError::NotFound)));
        let orphan = store.list_events(t, a.id, PageRequest { after: 0, size: 10 }).await.unwrap();
        assert!(orphan.items.is_empty());
        assert!(matches!(store.delete_asset(t, a.id, None).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn policies_round_trip_and_publish_their_change() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let mut p = store.create_policy(&policy(t)).await.unwrap();
        assert!(p.seq > 0);
        assert_eq!(store.get_policy(t, p.id).await.unwrap(), p);
        p.display_name = "renamed".into();
        p.updated_at = 9;
        store.update_policy(&p).await.unwrap();
        assert_eq!(store.tenant_policies(t).await.unwrap(), vec![p.clone()]);
        let second = store.create_policy(&policy(t)).await.unwrap();
        let page = store.list_policies(t, PageRequest { after: 0, size: 1 }).await.unwrap();
        assert_eq!(page.items, vec![p.clone()]);
        assert_eq!(page.next_after, Some(p.seq));
        store.delete_policy(t, second.id).await.unwrap();
        assert!(matches!(store.delete_policy(t, second.id).await, Err(StoreError::NotFound)));

        for change in [Change::AccessPolicies(t), Change::People(t)] {
            store.publish(50, &change).await.unwrap();
            let changes = store.changes_since(50).await.unwrap();
            assert_eq!(changes.last().unwrap().change, change);
        }
    })
    .await;
}
