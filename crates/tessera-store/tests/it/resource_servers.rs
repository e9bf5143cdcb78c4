//! Resource servers (SPEC §15) on both backends: created, read, listed, changed and removed
//! per tenant; one per canonical identifier and tenant; gone with their tenant.

use tessera_core::id::ResourceServerId;
use tessera_core::model::{ResourceServer, ResourceServerRequest, UrlRules};
use tessera_core::page::PageRequest;
use tessera_core::ports::{Storage, StoreError};

use crate::contract::tenant;
use crate::on_both_backends;

fn server(tenant: tessera_core::id::TenantId, identifier: &str) -> ResourceServer {
    let request = ResourceServerRequest {
        identifier: Some(identifier.into()),
        display_name: Some("Tools".into()),
        scopes: Some(vec!["events:read".into()]),
    };
    ResourceServer::new(ResourceServerId::random(), tenant, &request, UrlRules::default(), 5)
        .unwrap()
}

const ALL: PageRequest = PageRequest { after: 0, size: 100 };

#[tokio::test]
async fn resource_servers_are_kept_per_tenant_and_unique_by_canonical_identifier() {
    on_both_backends(|store: std::sync::Arc<dyn Storage>| async move {
        let (a, b) = (tenant(&*store).await, tenant(&*store).await);
        let tools = server(a, "https://Tools.example.com/mcp");
        store.create_resource_server(&tools).await.unwrap();
        assert!(matches!(
            store.create_resource_server(&server(a, "https://tools.example.com:443/mcp")).await,
            Err(StoreError::Conflict(_))
        ));
        store.create_resource_server(&server(b, "https://tools.example.com/mcp")).await.unwrap();
        assert_eq!(store.get_resource_server(a, tools.id).await.unwrap(), tools);
        assert!(matches!(store.get_resource_server(b, tools.id).await, Err(StoreError::NotFound)));
        assert_eq!(store.list_resource_servers(a, ALL).await.unwrap().items, vec![tools.clone()]);
        assert_eq!(store.resource_servers_of(None).await.unwrap().len(), 2);

        let mut renamed = tools.clone();
        renamed.display_name = "Fleet tools".into();
        renamed.updated_at = 9;
        store.update_resource_server(&renamed).await.unwrap();
        assert_eq!(store.resource_servers_of(Some(a)).await.unwrap(), vec![renamed.clone()]);
        let mut elsewhere = renamed.clone();
        elsewhere.tenant_id = b;
        assert!(matches!(
            store.update_resource_server(&elsewhere).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_resource_server(b, tools.id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(store.delete_resource_server(a, tools.id).await.unwrap(), renamed);
        assert!(store.resource_servers_of(Some(a)).await.unwrap().is_empty());

        store.delete_tenant(b).await.unwrap();
        assert!(store.resource_servers_of(None).await.unwrap().is_empty());
    })
    .await;
}
