//! The storage contract: every test runs on SQLite and on PostgreSQL, and the tenant-isolation
//! suite proves that tenant B sees nothing of tenant A on both.

#![allow(clippy::unwrap_used)]

mod contract;
mod federation;
mod isolation;
mod keys;
mod private_tokens;
mod refresh_tokens;
mod resource_servers;
mod resources;
mod tenants;
mod webhooks;

use std::future::Future;
use std::sync::Arc;

use tessera_core::ports::Storage;

/// Runs `test` on a fresh SQLite database and on a fresh PostgreSQL database.
pub async fn on_both_backends<F, Fut>(test: F)
where
    F: Fn(Arc<dyn Storage>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (url, _dir) = tessera_store::testing::sqlite_url();
    test(tessera_store::connect(&url).await.expect("sqlite opens")).await;
    match tessera_store::testing::postgres_url() {
        Ok(url) => test(tessera_store::connect(&url).await.expect("postgres opens")).await,
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI must run the PostgreSQL half: {why}");
            eprintln!("PostgreSQL half skipped: {why}");
        }
    }
}
