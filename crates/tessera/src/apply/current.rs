//! One read of the tenant: everything the plan compares against.

use std::collections::HashMap;

use anyhow::Context;

use crate::api_cli::{
    Resource, APP_AUTHORIZATION, INTEGRATION, POLICY, RESOURCE_SERVER, TRUSTED_ISSUER, USER,
};
use crate::remote::Session;

use super::*;

/// One read of everything the plan compares against.
pub(super) async fn read_tenant(session: &Session, desired: &Desired) -> anyhow::Result<Current> {
    let me = session
        .call(
            reqwest::Method::GET,
            &format!("/v1/integrations/{}", session.client_id()),
            None,
        )
        .await
        .context("cannot read the integration apply runs as (it needs the `admin` scope)")?;
    let list = |r: &'static Resource| session.list_all(r.path, r.list_key, 200);
    let mut current = Current {
        tenant_id: me["tenant_id"].as_str().unwrap_or_default().to_owned(),
        caller: session.client_id().to_owned(),
        integrations: list(&INTEGRATION).await?,
        policies: list(&POLICY).await?,
        users: list(&USER).await?,
        app_authorizations: list(&APP_AUTHORIZATION).await?,
        trusted_issuers: list(&TRUSTED_ISSUER).await?,
        resource_servers: list(&RESOURCE_SERVER).await?,
        keys: HashMap::new(),
        credentials: HashMap::new(),
    };
    for name in desired.credentials.keys() {
        if let Some(id) = current
            .integrations
            .iter()
            .find(|i| i["display_name"] == name.as_str())
            .and_then(|i| i["client_id"].as_str())
        {
            let path = format!("/v1/integrations/{id}/federated_credentials");
            let found = session
                .list_all(&path, "federated_credentials", 100)
                .await?;
            current.credentials.insert(id.to_owned(), found);
        }
    }
    for name in desired.keys.keys() {
        if let Some(found) = current
            .integrations
            .iter()
            .find(|i| i["display_name"] == name.as_str())
        {
            let id = found["client_id"].as_str().unwrap_or_default().to_owned();
            let keys = session
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/integrations/{id}/keys"),
                    None,
                )
                .await?;
            let kids = keys["keys"]
                .as_array()
                .map(|ks| {
                    ks.iter()
                        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            current.keys.insert(id, kids);
        }
    }
    Ok(current)
}
