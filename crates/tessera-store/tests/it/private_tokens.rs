//! Application private tokens on both backends: create/replace, conditional writes, listings
//! by relatedId, prefix and key in code-point order with keyset cursors, values only when
//! asked, deletes, and the store going with its integration.

use tessera_core::id::{ClientId, TenantId};
use tessera_core::model::{
    EntryFilter, EntryName, PrivateToken, PrivateTokenInfo, WriteCondition, VALUE_PART_BYTES,
};
use tessera_core::ports::{Storage, StoreError};

use crate::contract::{integration, secret, tenant};
use crate::on_both_backends;

async fn client(store: &dyn Storage, t: TenantId) -> ClientId {
    let i = integration(t);
    store.create_integration(&i, Some(&secret(i.client_id, 1, 10))).await.unwrap();
    i.client_id
}

fn entry(
    client: ClientId,
    related_id: &str,
    key: &str,
    value: &str,
    etag: &str,
    at: i64,
) -> PrivateToken {
    PrivateToken {
        info: PrivateTokenInfo {
            client_id: client,
            name: EntryName::new(related_id, key).unwrap(),
            size: value.len() as u64,
            etag: etag.into(),
            created_at: at,
            updated_at: at,
            sealed: true,
        },
        value: value.into(),
    }
}

fn names(listed: &[(PrivateTokenInfo, Option<String>)]) -> Vec<(String, String)> {
    listed.iter().map(|(i, _)| (i.name.related_id.clone(), i.name.key.clone())).collect()
}

#[tokio::test]
async fn entries_are_put_read_and_replaced_conditionally() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let c = client(&*store, t).await;
        let first = entry(c, "project.1", "name", "The project number one", "e1", 100);
        let stored =
            store.put_private_token(t, first.clone(), &WriteCondition::Always).await.unwrap();
        assert_eq!((stored.created, stored.created_at), (true, 100));
        let replaced = entry(c, "project.1", "name", "Renamed", "e2", 200);
        let stored =
            store.put_private_token(t, replaced.clone(), &WriteCondition::Always).await.unwrap();
        assert_eq!((stored.created, stored.created_at), (false, 100));
        let got = store.get_private_token(c, &first.info.name).await.unwrap();
        assert_eq!(got.value, "Renamed");
        assert_eq!(got.info.etag, "e2");
        assert_eq!(got.info.size, 7);
        assert_eq!((got.info.created_at, got.info.updated_at), (100, 200));

        // If-Match: the current ETag wins, a stale one or a missing entry fails.
        let stale = entry(c, "project.1", "name", "lost update", "e3", 300);
        assert!(matches!(
            store.put_private_token(t, stale.clone(), &WriteCondition::Matches("e1".into())).await,
            Err(StoreError::PreconditionFailed)
        ));
        let fresh = entry(c, "project.1", "name", "third", "e4", 300);
        store
            .put_private_token(t, fresh.clone(), &WriteCondition::Matches("e2".into()))
            .await
            .unwrap();
        let missing = entry(c, "nobody", "name", "x", "e5", 300);
        assert!(matches!(
            store.put_private_token(t, missing.clone(), &WriteCondition::Exists).await,
            Err(StoreError::PreconditionFailed)
        ));
        assert!(matches!(
            store.get_private_token(c, &missing.info.name).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn entries_are_deleted_conditionally_by_relatedid_and_with_their_integration() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let c = client(&*store, t).await;
        let fresh = entry(c, "project.1", "name", "third", "e4", 300);
        store.put_private_token(t, fresh.clone(), &WriteCondition::Always).await.unwrap();
        // Deletes: conditional, unconditional, a whole relatedId.
        assert!(matches!(
            store
                .delete_private_token(c, &fresh.info.name, &WriteCondition::Matches("e2".into()))
                .await,
            Err(StoreError::PreconditionFailed)
        ));
        store
            .delete_private_token(c, &fresh.info.name, &WriteCondition::Matches("e4".into()))
            .await
            .unwrap();
        assert!(matches!(
            store.delete_private_token(c, &fresh.info.name, &WriteCondition::Always).await,
            Err(StoreError::NotFound)
        ));
        for key in ["a", "b", "c"] {
            store
                .put_private_token(
                    t,
                    entry(c, "employee1", key, "v", "e", 1),
                    &WriteCondition::Always,
                )
                .await
                .unwrap();
        }
        store
            .put_private_token(t, entry(c, "employee10", "a", "v", "e", 1), &WriteCondition::Always)
            .await
            .unwrap();
        assert_eq!(store.delete_related_private_tokens(c, "employee1").await.unwrap(), 3);
        let left =
            store.list_private_tokens(c, &EntryFilter::default(), None, 10, None).await.unwrap();
        assert_eq!(names(&left), vec![("employee10".into(), "a".into())]);

        // Deleting the integration deletes its store.
        store.delete_integration(t, c).await.unwrap();
        assert!(matches!(
            store.get_private_token(c, &EntryName::new("employee10", "a").unwrap()).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn listings_filter_page_and_keep_to_the_integration() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let c = client(&*store, t).await;
        let other = client(&*store, t).await;
        let related = ["proj", "proj.1", "proj.2", "proj/x", "proj.ü", "proi.9", "zeta"];
        for (n, r) in related.iter().enumerate() {
            for key in ["name", "owner"] {
                let e = entry(c, r, key, &format!("{r}:{key}:{n}"), "e", 1);
                store.put_private_token(t, e.clone(), &WriteCondition::Always).await.unwrap();
            }
        }
        store
            .put_private_token(
                t,
                entry(other, "proj.1", "name", "not yours", "e", 1),
                &WriteCondition::Always,
            )
            .await
            .unwrap();

        // Everything, in pages of 3, in code-point order; no values unless asked.
        let mut all = Vec::new();
        let mut after: Option<EntryName> = None;
        loop {
            let page = store
                .list_private_tokens(c, &EntryFilter::default(), after.as_ref(), 3, None)
                .await
                .unwrap();
            assert!(page.iter().all(|(_, v)| v.is_none()));
            after = page.last().map(|(i, _)| i.name.clone());
            all.extend(names(&page));
            if page.len() < 3 {
                break;
            }
        }
        let mut expected: Vec<(String, String)> = related
            .iter()
            .flat_map(|r| ["name", "owner"].map(|k| (r.to_string(), k.to_string())))
            .collect();
        expected.sort();
        assert_eq!(all, expected);

        let prefix = EntryFilter { related_id_prefix: Some("proj.".into()), ..Default::default() };
        let found = store.list_private_tokens(c, &prefix, None, 100, Some(u64::MAX)).await.unwrap();
        assert_eq!(
            names(&found).iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
            ["proj.1", "proj.1", "proj.2", "proj.2", "proj.ü", "proj.ü"]
        );
        assert_eq!(found[0].1.as_deref(), Some("proj.1:name:1"));

        // A value budget: values only for the entries that start within it.
        let budgeted = store.list_private_tokens(c, &prefix, None, 100, Some(20)).await.unwrap();
        let with_values = budgeted.iter().take_while(|(_, v)| v.is_some()).count();
        assert_eq!(budgeted.len(), 6);
        assert_eq!(with_values, 2, "values of 13 bytes: the second starts at 13 < 20");
        assert!(budgeted[2..].iter().all(|(_, v)| v.is_none()));

        let by_key = EntryFilter {
            key: Some("owner".into()),
            related_id_prefix: Some("proj".into()),
            ..Default::default()
        };
        let found = store.list_private_tokens(c, &by_key, None, 100, None).await.unwrap();
        assert_eq!(found.len(), 5);
        assert!(found.iter().all(|(i, _)| i.name.key == "owner"));

        let one = EntryFilter { related_id: Some("proj.1".into()), ..Default::default() };
        let found =
            store.list_private_tokens(other, &one, None, 100, Some(u64::MAX)).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.as_deref(), Some("not yours"));
        assert!(matches!(
            store.get_private_token(other, &EntryName::new("zeta", "name").unwrap()).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

/// A value of `parts` parts written under `etag` before its entry, as the server does for
/// values over one part; returns the whole value.
async fn put_in_parts(
    store: &dyn Storage,
    t: TenantId,
    c: ClientId,
    related_id: &str,
    etag: &str,
    parts: u32,
    condition: &WriteCondition,
) -> Result<String, StoreError> {
    let mut whole = String::new();
    for n in 0..parts {
        let part = char::from(b'a' + n as u8).to_string().repeat(VALUE_PART_BYTES);
        whole.push_str(&part);
        store.put_private_token_part(c, etag, n, part, 10).await.unwrap();
    }
    let mut e = entry(c, related_id, "blob", "", etag, 10);
    e.info.size = whole.len() as u64;
    store.put_private_token(t, e, condition).await?;
    Ok(whole)
}

async fn part(store: &dyn Storage, c: ClientId, etag: &str, n: u32) -> Option<String> {
    store.private_token_part(c, etag, n).await.unwrap()
}

#[tokio::test]
async fn large_values_live_in_parts_that_go_with_their_version() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let c = client(&*store, t).await;
        let whole =
            put_in_parts(&*store, t, c, "r1", "big1", 3, &WriteCondition::Always).await.unwrap();
        let name = EntryName::new("r1", "blob").unwrap();
        let got = store.get_private_token(c, &name).await.unwrap();
        assert!(got.info.in_parts());
        assert_eq!((got.info.size, got.value.as_str()), (whole.len() as u64, ""));
        assert_eq!(part(&*store, c, "big1", 2).await.unwrap().len(), VALUE_PART_BYTES);
        assert_eq!(part(&*store, c, "big1", 3).await, None);
        // Another integration cannot read the parts.
        let other = client(&*store, t).await;
        assert_eq!(part(&*store, other, "big1", 0).await, None);

        // A listing with values joins the parts in order.
        let filter = EntryFilter { related_id: Some("r1".into()), ..EntryFilter::default() };
        let listed = store.list_private_tokens(c, &filter, None, 10, Some(64 << 20)).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].1.as_deref() == Some(whole.as_str()));

        // A refused write keeps the value and its parts; a replace removes the old parts.
        let refused =
            put_in_parts(&*store, t, c, "r1", "big2", 2, &WriteCondition::Matches("stale".into()))
                .await;
        assert!(matches!(refused, Err(StoreError::PreconditionFailed)));
        assert!(part(&*store, c, "big1", 0).await.is_some());
        store.discard_private_token_parts(c, "big2").await.unwrap();
        assert_eq!(part(&*store, c, "big2", 0).await, None);
        let small = entry(c, "r1", "blob", "small now", "e9", 20);
        store.put_private_token(t, small, &WriteCondition::Matches("big1".into())).await.unwrap();
        assert_eq!(part(&*store, c, "big1", 0).await, None);

        // Deleting an entry, a relatedId or the integration removes the parts.
        put_in_parts(&*store, t, c, "r2", "big3", 2, &WriteCondition::Always).await.unwrap();
        store
            .delete_private_token(
                c,
                &EntryName::new("r2", "blob").unwrap(),
                &WriteCondition::Always,
            )
            .await
            .unwrap();
        assert_eq!(part(&*store, c, "big3", 1).await, None);
        put_in_parts(&*store, t, c, "r3", "big4", 2, &WriteCondition::Always).await.unwrap();
        assert_eq!(store.delete_related_private_tokens(c, "r3").await.unwrap(), 1);
        assert_eq!(part(&*store, c, "big4", 0).await, None);

        // Parts of a write that never finished go with the sweep once old enough; the parts of
        // stored values and of recent writes stay.
        put_in_parts(&*store, t, c, "r4", "big5", 2, &WriteCondition::Always).await.unwrap();
        store.put_private_token_part(c, "lost", 0, "x".into(), 10).await.unwrap();
        store.put_private_token_part(c, "recent", 0, "y".into(), 1_000).await.unwrap();
        assert_eq!(store.sweep_private_token_parts(500).await.unwrap(), 1);
        assert_eq!(part(&*store, c, "lost", 0).await, None);
        assert!(part(&*store, c, "recent", 0).await.is_some());
        assert!(part(&*store, c, "big5", 1).await.is_some());
        store.delete_integration(t, c).await.unwrap();
        assert_eq!(part(&*store, c, "big5", 0).await, None);
        assert_eq!(part(&*store, c, "recent", 0).await, None);
    })
    .await;
}

#[tokio::test]
async fn plain_values_from_before_sealing_are_found_and_sealed_once() {
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        let c = client(&*store, t).await;
        let mut plain = entry(c, "r1", "small", "plain text", "p1", 10);
        plain.info.sealed = false;
        store.put_private_token(t, plain.clone(), &WriteCondition::Always).await.unwrap();
        put_in_parts(&*store, t, c, "r2", "big1", 2, &WriteCondition::Always).await.unwrap();
        let sealed = entry(c, "r3", "sealed", "ciphertext", "s1", 10);
        store.put_private_token(t, sealed, &WriteCondition::Always).await.unwrap();

        // Listings and reads say which form each value is in.
        let listed = store
            .list_private_tokens(c, &EntryFilter::default(), None, 10, Some(64 << 20))
            .await
            .unwrap();
        let forms: Vec<(bool, Option<usize>)> =
            listed.iter().map(|(i, v)| (i.sealed, v.as_ref().map(String::len))).collect();
        assert_eq!(
            forms,
            vec![(false, Some(10)), (true, Some(2 * VALUE_PART_BYTES)), (true, Some(10))]
        );
        let got = store.get_private_token(c, &plain.info.name).await.unwrap();
        assert_eq!((got.info.sealed, got.value.as_str()), (false, "plain text"));

        // Only the plain one is found; sealing it needs its version and happens once.
        let found = store.unsealed_private_tokens(10).await.unwrap();
        assert_eq!(found, vec![got.clone()]);
        let mut stale = got.info.clone();
        stale.etag = "other".into();
        assert!(!store.seal_private_token(&stale, "x".into(), vec![]).await.unwrap());
        assert!(store.seal_private_token(&got.info, "sealed form".into(), vec![]).await.unwrap());
        assert!(!store.seal_private_token(&got.info, "again".into(), vec![]).await.unwrap());
        let got = store.get_private_token(c, &plain.info.name).await.unwrap();
        assert_eq!((got.info.sealed, got.value.as_str()), (true, "sealed form"));
        assert!(store.unsealed_private_tokens(10).await.unwrap().is_empty());

        // A value in parts has each part replaced in the same step.
        let mut big = entry(c, "r4", "blob", "", "big2", 10);
        big.info.sealed = false;
        big.info.size = 2 * VALUE_PART_BYTES as u64;
        for n in 0..2 {
            store
                .put_private_token_part(c, "big2", n, "z".repeat(VALUE_PART_BYTES), 10)
                .await
                .unwrap();
        }
        store.put_private_token(t, big.clone(), &WriteCondition::Always).await.unwrap();
        let found = store.unsealed_private_tokens(10).await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(store
            .seal_private_token(&found[0].info, String::new(), vec!["p0.".into(), "p1.".into()])
            .await
            .unwrap());
        assert_eq!(part(&*store, c, "big2", 0).await.as_deref(), Some("p0."));
        assert_eq!(part(&*store, c, "big2", 1).await.as_deref(), Some("p1."));
        let got = store.get_private_token(c, &big.info.name).await.unwrap();
        assert!(got.info.sealed);
    })
    .await;
}
