//! Trusted issuers and federated credentials (SPEC §14) on both backends: created, listed,
//! unique, isolated per tenant, and removed with their issuer, their integration or their tenant.

use std::collections::BTreeMap;

use tessera_core::id::{FederatedCredentialId, TrustedIssuerId};
use tessera_core::model::{FederatedCredential, TrustedIssuer};
use tessera_core::page::PageRequest;
use tessera_core::ports::{Storage, StoreError};

use crate::contract::{integration, secret, tenant};
use crate::on_both_backends;

const K8S: &str = "https://kubernetes.default.svc.cluster.local";

fn trusted(tenant: tessera_core::id::TenantId, issuer: &str) -> TrustedIssuer {
    TrustedIssuer {
        id: TrustedIssuerId::random(),
        tenant_id: tenant,
        issuer: issuer.into(),
        jwks_uri: None,
        audiences: vec!["tessera".into(), "other".into()],
        max_token_lifetime_seconds: 3600,
        created_at: 5,
    }
}

fn credential(
    tenant: tessera_core::id::TenantId,
    client: tessera_core::id::ClientId,
    issuer: &str,
    subject: &str,
) -> FederatedCredential {
    FederatedCredential {
        id: FederatedCredentialId::random(),
        tenant_id: tenant,
        client_id: client,
        issuer: issuer.into(),
        subject: subject.into(),
        claims: BTreeMap::from([("/kubernetes.io/namespace".into(), "prod".into())]),
        created_at: 6,
    }
}

const ALL: PageRequest = PageRequest { after: 0, size: 100 };

#[tokio::test]
async fn trusted_issuers_and_credentials_are_kept_per_tenant_and_go_with_what_they_rely_on() {
    on_both_backends(|store: std::sync::Arc<dyn Storage>| async move {
        let (a, b) = (tenant(&*store).await, tenant(&*store).await);
        let app = integration(a);
        store.create_integration(&app, Some(&secret(app.client_id, 1, 10))).await.unwrap();
        let k8s = trusted(a, K8S);
        store.create_trusted_issuer(&k8s).await.unwrap();
        // One trust per issuer and tenant; another tenant may trust the same issuer.
        assert!(matches!(
            store.create_trusted_issuer(&trusted(a, K8S)).await,
            Err(StoreError::Conflict(_))
        ));
        store.create_trusted_issuer(&trusted(b, K8S)).await.unwrap();
        assert_eq!(store.list_trusted_issuers(a, ALL).await.unwrap().items, vec![k8s.clone()]);

        let billing = credential(a, app.client_id, K8S, "system:serviceaccount:prod:billing");
        store.create_federated_credential(&billing).await.unwrap();
        assert!(matches!(
            store
                .create_federated_credential(&credential(a, app.client_id, K8S, &billing.subject))
                .await,
            Err(StoreError::Conflict(_))
        ));
        // An issuer the tenant does not trust, or another tenant's integration: not found.
        for refused in [
            credential(a, app.client_id, "https://gitlab.example", "x"),
            credential(b, app.client_id, K8S, "y"),
        ] {
            assert!(matches!(
                store.create_federated_credential(&refused).await,
                Err(StoreError::NotFound)
            ));
        }
        assert_eq!(
            store.list_federated_credentials(a, app.client_id, ALL).await.unwrap().items,
            vec![billing.clone()]
        );
        assert!(store
            .list_federated_credentials(b, app.client_id, ALL)
            .await
            .unwrap()
            .items
            .is_empty());
        let (issuers, credentials) = store.federation_of(Some(a)).await.unwrap();
        assert_eq!((issuers, credentials), (vec![k8s.clone()], vec![billing.clone()]));
        let (issuers, _) = store.federation_of(None).await.unwrap();
        assert_eq!(issuers.len(), 2);
        // Tenant B can remove neither.
        assert!(matches!(store.delete_trusted_issuer(b, k8s.id).await, Err(StoreError::NotFound)));
        assert!(matches!(
            store.delete_federated_credential(b, app.client_id, billing.id).await,
            Err(StoreError::NotFound)
        ));

        // A credential deleted; then the issuer with the credentials that name it.
        let deploy = credential(a, app.client_id, K8S, "system:serviceaccount:prod:deploy");
        store.create_federated_credential(&deploy).await.unwrap();
        assert_eq!(
            store.delete_federated_credential(a, app.client_id, deploy.id).await.unwrap(),
            deploy
        );
        let (gone, with) = store.delete_trusted_issuer(a, k8s.id).await.unwrap();
        assert_eq!((gone, with), (k8s, 1));
        assert_eq!(store.federation_of(Some(a)).await.unwrap(), (vec![], vec![]));

        // Deleting the integration takes its credentials; deleting the tenant, everything.
        store.create_trusted_issuer(&trusted(a, K8S)).await.unwrap();
        store.create_federated_credential(&credential(a, app.client_id, K8S, "s")).await.unwrap();
        store.delete_integration(a, app.client_id).await.unwrap();
        assert!(store.federation_of(Some(a)).await.unwrap().1.is_empty());
        store.delete_tenant(a).await.unwrap();
        assert!(store.federation_of(Some(a)).await.unwrap().0.is_empty());
    })
    .await;
}
