//! Tenants and one-time user links (SPEC §4.1) on both backends.

use tessera_core::id::{ConnectionId, TenantId, UserId};
use tessera_core::model::{
    link_token_hash, Connection, ConnectionStatus, LinkPurpose, LinkRefusal, Role, Tenant, Tier,
    User, UserLink,
};
use tessera_core::page::PageRequest;
use tessera_core::ports::{AuditRecord, OsRng, StoreError};
use tessera_core::scope::ScopeSet;

use crate::contract::{integration, secret, tenant};
use crate::on_both_backends;

fn user(tenant: TenantId, email: &str) -> User {
    User {
        id: UserId::random(),
        tenant_id: tenant,
        email: email.into(),
        display_name: "Ivy".into(),
        role: Role::Admin,
        password_hash: String::new(),
        created_at: 1,
        updated_at: 1,
        sessions_not_before: 0,
    }
}

const PAGE: PageRequest = PageRequest { after: 0, size: 100 };

#[tokio::test]
async fn a_link_sets_the_password_once_before_it_expires_and_a_newer_one_replaces_it() {
    on_both_backends(|store| async move {
        let t = Tenant::new(TenantId::random(), "Acme", Tier::Team, 1).unwrap();
        let admin = user(t.id, "ivy@acme.example");
        let (token, link) = UserLink::generate(&admin, LinkPurpose::Invitation, &OsRng, 1000, 60);
        store.create_tenant_with_admin(&t, &admin, Some(&link)).await.unwrap();
        let hash = link_token_hash(token.expose());
        assert_eq!(store.user_link(&hash, 2000).await.unwrap(), Ok(admin.clone()));
        assert_eq!(store.user_link(&hash, 61_000).await.unwrap(), Err(LinkRefusal::Expired));
        let set = store.redeem_user_link(&hash, "$argon2id$new", 2000).await.unwrap().unwrap();
        assert_eq!(set.password_hash, "$argon2id$new");
        assert_eq!(set.sessions_not_before, 2000);
        assert_eq!(
            store.redeem_user_link(&hash, "$argon2id$again", 3000).await.unwrap(),
            Err(LinkRefusal::Used)
        );
        assert_eq!(store.user_link(&[7; 32], 3000).await.unwrap(), Err(LinkRefusal::Unknown));

        // A reset link replaces the unused ones and ends the sessions.
        let (first, one) = UserLink::generate(&admin, LinkPurpose::PasswordReset, &OsRng, 4000, 60);
        store.put_user_link(&one, 5).await.unwrap();
        let (second, two) =
            UserLink::generate(&admin, LinkPurpose::PasswordReset, &OsRng, 4000, 60);
        store.put_user_link(&two, 5).await.unwrap();
        assert_eq!(
            store.user_link(&link_token_hash(first.expose()), 4500).await.unwrap(),
            Err(LinkRefusal::Unknown)
        );
        let found =
            store.user_link(&link_token_hash(second.expose()), 4500).await.unwrap().unwrap();
        assert_eq!(found.sessions_not_before, 5);
        let (_, stray) = UserLink::generate(
            &user(t.id, "x@acme.example"),
            LinkPurpose::PasswordReset,
            &OsRng,
            1,
            60,
        );
        assert!(matches!(store.put_user_link(&stray, 1).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_rows_and_the_grants_to_or_from_it() {
    on_both_backends(|store| async move {
        let kept = tenant(&*store).await;
        let gone = tenant(&*store).await;
        let app = integration(gone);
        store.create_integration(&app, Some(&secret(app.client_id, 1, 1))).await.unwrap();
        let own = integration(kept);
        store.create_integration(&own, Some(&secret(own.client_id, 2, 1))).await.unwrap();
        // A connection from the kept tenant to the deleted one's integration.
        let connection = Connection {
            id: ConnectionId::random(),
            owner_tenant_id: kept,
            client_id: app.client_id,
            client_tenant_id: gone,
            scopes: ScopeSet::parse("assets:read").unwrap(),
            state: "s".into(),
            status: ConnectionStatus::Active,
            granted_by: "test".into(),
            created_at: 1,
            updated_at: 1,
        };
        store.create_connection(&connection).await.unwrap();
        store.create_user(&user(gone, "ivy@gone.example")).await.unwrap();
        let record = |tenant| AuditRecord {
            tenant_id: tenant,
            at: 1,
            actor: "system".into(),
            action: "x".into(),
            target: String::new(),
            detail: "{}".into(),
        };
        store.append_audit(&[record(gone), record(kept)]).await.unwrap();

        let deleted = store.delete_tenant(gone).await.unwrap();
        assert_eq!(deleted.clients, vec![app.client_id]);
        assert_eq!(deleted.connections, vec![connection.clone()]);
        assert!(matches!(store.get_tenant(gone).await, Err(StoreError::NotFound)));
        assert!(matches!(store.delete_tenant(gone).await, Err(StoreError::NotFound)));
        assert!(store.find_client(app.client_id).await.unwrap().is_none());
        assert!(matches!(store.get_connection(connection.id).await, Err(StoreError::NotFound)));
        assert!(store.list_users(gone, PAGE).await.unwrap().items.is_empty());
        assert!(store.list_audit(gone, &Default::default(), PAGE).await.unwrap().items.is_empty());
        // Records for a tenant that is gone are not written; the others are.
        store.append_audit(&[record(gone), record(kept)]).await.unwrap();
        assert!(store.list_audit(gone, &Default::default(), PAGE).await.unwrap().items.is_empty());
        assert_eq!(store.list_audit(kept, &Default::default(), PAGE).await.unwrap().items.len(), 2);
        // The other tenant keeps what is its own.
        assert!(store.find_client(own.client_id).await.unwrap().is_some());

        // The operator tenant cannot be deleted, and there is only one.
        let operator = Tenant {
            operator: true,
            ..Tenant::new(TenantId::random(), "Ops", Tier::Enterprise, 1).unwrap()
        };
        store.create_tenant(&operator).await.unwrap();
        assert!(matches!(store.delete_tenant(operator.id).await, Err(StoreError::Conflict(_))));
        let second = Tenant {
            operator: true,
            ..Tenant::new(TenantId::random(), "Ops 2", Tier::Enterprise, 1).unwrap()
        };
        assert!(matches!(store.create_tenant(&second).await, Err(StoreError::Conflict(_))));
    })
    .await;
}

#[tokio::test]
async fn tenants_page_in_creation_order_and_keep_their_state() {
    on_both_backends(|store| async move {
        let a = tenant(&*store).await;
        let b = tenant(&*store).await;
        let first = store.list_tenants(PageRequest { after: 0, size: 1 }).await.unwrap();
        assert_eq!(first.items[0].id, a);
        let next = store
            .list_tenants(PageRequest { after: first.next_after.unwrap(), size: 1 })
            .await
            .unwrap();
        assert_eq!(next.items[0].id, b);
        let mut changed = store.get_tenant(b).await.unwrap();
        changed.disabled = true;
        changed.tokens_not_after = 42;
        changed.tier = Tier::Free;
        store.update_tenant(&changed).await.unwrap();
        assert_eq!(store.get_tenant(b).await.unwrap(), changed);
    })
    .await;
}

/// A database as the release before tenants were managed left it: the migrations up to 0011,
/// and two tenants. Opening it with the store upgrades it in place.
macro_rules! old_database {
    ($pool:ty, $url:expr, $migrator:expr, $ids:expr) => {{
        let mut old = $migrator;
        old.migrations = std::borrow::Cow::Owned(old.migrations[..11].to_vec());
        let pool = <$pool>::connect($url).await.unwrap();
        old.run(&pool).await.unwrap();
        for (n, id) in $ids.iter().enumerate() {
            sqlx::query(
                "INSERT INTO tenants (id, display_name, tier, created_at) VALUES ($1, 'T', 'TEAM', $2)",
            )
            .bind(id.to_string())
            .bind(n as i64)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }};
}

#[tokio::test]
async fn an_existing_database_upgrades_with_its_first_tenant_as_the_operator() {
    let first = TenantId::random();
    let second = TenantId::random();
    let ids = [first, second];
    let (sqlite, _dir) = tessera_store::testing::sqlite_url();
    old_database!(
        sqlx::SqlitePool,
        &format!("{sqlite}?mode=rwc"),
        sqlx::migrate!("./migrations/sqlite"),
        ids
    );
    let mut urls = vec![sqlite];
    match tessera_store::testing::postgres_url() {
        Ok(url) => {
            old_database!(sqlx::PgPool, &url, sqlx::migrate!("./migrations/postgres"), ids);
            urls.push(url);
        }
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI must run the PostgreSQL half: {why}")
        }
    }
    for url in urls {
        let store = tessera_store::connect(&url).await.unwrap();
        let tenants = store.list_all_tenants().await.unwrap();
        assert_eq!(tenants.len(), 2);
        assert!(tenants[0].operator && tenants[0].id == first, "{tenants:?}");
        assert!(!tenants[1].operator && !tenants[1].disabled);
        assert!(matches!(store.delete_tenant(first).await, Err(StoreError::Conflict(_))));
    }
}

#[tokio::test]
async fn client_registration_rules_and_an_integrations_origin_round_trip() {
    use tessera_core::model::{ClientOrigin, ClientRegistrationPolicy, RegistrationMode};
    on_both_backends(|store| async move {
        let t = tenant(&*store).await;
        assert_eq!(store.get_tenant(t).await.unwrap().client_registration, Default::default());
        let rules = ClientRegistrationPolicy::new(
            RegistrationMode::Open,
            false,
            vec!["agents.example.com".into()],
        )
        .unwrap();
        store.set_client_registration(t, &rules).await.unwrap();
        assert_eq!(store.get_tenant(t).await.unwrap().client_registration, rules);
        // The operator's changes to the tenant leave the rules alone.
        let mut changed = store.get_tenant(t).await.unwrap();
        changed.display_name = "Renamed".into();
        store.update_tenant(&changed).await.unwrap();
        assert_eq!(store.get_tenant(t).await.unwrap().client_registration, rules);
        assert!(matches!(
            store.set_client_registration(TenantId::random(), &rules).await,
            Err(StoreError::NotFound)
        ));

        let url = "https://agents.example.com/client.json";
        for origin in [
            ClientOrigin::Registered,
            ClientOrigin::RegisteredOpenly,
            ClientOrigin::MetadataDocument(url.into()),
        ] {
            let i = tessera_core::model::Integration { origin: origin.clone(), ..integration(t) };
            store.create_integration(&i, None).await.unwrap();
            assert_eq!(store.get_integration(t, i.client_id).await.unwrap().origin, origin);
        }
    })
    .await;
}
