//! `seed-tms`: customer tenants that authorized an application, for the TMS batch figure. The
//! API has no tenant sign-up, so the tenants and their authorizations go straight into the
//! server's database through the store, and the change feed tells the running server, as a
//! second instance would. Prints the tenant ids as a JSON array.

use tessera_core::id::{AppAuthorizationId, TenantId};
use tessera_core::model::{AppAccess, AppAuthorization, Tenant, Tier};
use tessera_core::ports::Change;

pub async fn seed(database: &str, app: &str, tenants: usize) -> anyhow::Result<()> {
    let store = tessera_store::connect(database).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let mut ids = Vec::with_capacity(tenants);
    for n in 0..tenants {
        let tenant = Tenant::new(
            TenantId::generate(&tessera_core::ports::OsRng),
            &format!("customer {n}"),
            Tier::Team,
            now,
        )?;
        store.create_tenant(&tenant).await?;
        store
            .put_app_authorization(&AppAuthorization {
                id: AppAuthorizationId::generate(&tessera_core::ports::OsRng),
                tenant_id: tenant.id,
                app_name: app.to_owned(),
                access: AppAccess::ReadWrite,
                scopes: AppAccess::ReadWrite.scopes(None)?,
                granted_by: "bench".into(),
                created_at: now,
            })
            .await?;
        store.publish(now, &Change::Tenant(tenant.id)).await?;
        store
            .publish(now, &Change::AppAuthorizations(tenant.id))
            .await?;
        ids.push(tenant.id.to_string());
    }
    println!("{}", serde_json::to_string(&ids)?);
    Ok(())
}
