//! The storage ports, one aggregate per file. Each file holds a `stamp!` macro with the one
//! implementation body of its port(s); [`stamp_storage!`] stamps every aggregate onto a
//! backend's store type, each in a module of its own, so the SQL is written once for both
//! dialects. A body reaches the backend only through `crate::dialect::Backend` (its sqlx
//! database and its `Dialect`) and imports everything else by path.

pub(crate) mod access_policies;
pub(crate) mod app_authorizations;
pub(crate) mod assertions;
pub(crate) mod assets;
pub(crate) mod audit;
pub(crate) mod changes;
pub(crate) mod connections;
pub(crate) mod consents;
pub(crate) mod console_sessions;
pub(crate) mod event_streams;
pub(crate) mod federation;
pub(crate) mod integrations;
pub(crate) mod private_tokens;
pub(crate) mod refresh_tokens;
pub(crate) mod resource_servers;
pub(crate) mod revocations;
pub(crate) mod signing_keys;
pub(crate) mod tenants;
pub(crate) mod users;
pub(crate) mod webhook_outbox;
pub(crate) mod writes;

/// Makes `$store` (a type in the invoking module) a `crate::dialect::Backend` on the sqlx
/// database `$db` with the dialect `crate::dialect::$dialect`, and implements `Storage` and
/// every port it gathers on it.
macro_rules! stamp_storage {
    ($store:ident, $db:ty, $dialect:ident) => {
        impl $crate::dialect::Backend for $store {
            type Db = $db;
            const DIALECT: $crate::dialect::Dialect = $crate::dialect::$dialect;
        }

        impl $store {
            /// A transaction that writes, begun as the dialect says.
            pub(crate) async fn begin_write(
                &self,
            ) -> tessera_core::ports::StoreResult<sqlx::Transaction<'static, $db>> {
                self.pool
                    .begin_with($crate::dialect::$dialect.begin_write)
                    .await
                    .map_err($crate::backend_error)
            }
        }

        mod writes {
            $crate::aggregates::writes::stamp!(super::$store);
        }
        mod tenants {
            $crate::aggregates::tenants::stamp!(super::$store);
        }
        mod users {
            $crate::aggregates::users::stamp!(super::$store);
        }
        mod console_sessions {
            $crate::aggregates::console_sessions::stamp!(super::$store);
        }
        mod integrations {
            $crate::aggregates::integrations::stamp!(super::$store);
        }
        mod signing_keys {
            $crate::aggregates::signing_keys::stamp!(super::$store);
        }
        mod revocations {
            $crate::aggregates::revocations::stamp!(super::$store);
        }
        mod changes {
            $crate::aggregates::changes::stamp!(super::$store);
        }
        mod audit {
            $crate::aggregates::audit::stamp!(super::$store);
        }
        mod assets {
            $crate::aggregates::assets::stamp!(super::$store);
        }
        mod access_policies {
            $crate::aggregates::access_policies::stamp!(super::$store);
        }
        mod assertions {
            $crate::aggregates::assertions::stamp!(super::$store);
        }
        mod consents {
            $crate::aggregates::consents::stamp!(super::$store);
        }
        mod event_streams {
            $crate::aggregates::event_streams::stamp!(super::$store);
        }
        mod resource_servers {
            $crate::aggregates::resource_servers::stamp!(super::$store);
        }
        mod refresh_tokens {
            $crate::aggregates::refresh_tokens::stamp!(super::$store);
        }
        mod app_authorizations {
            $crate::aggregates::app_authorizations::stamp!(super::$store);
        }
        mod connections {
            $crate::aggregates::connections::stamp!(super::$store);
        }
        mod webhook_outbox {
            $crate::aggregates::webhook_outbox::stamp!(super::$store);
        }
        mod private_tokens {
            $crate::aggregates::private_tokens::stamp!(super::$store);
        }
        mod federation {
            $crate::aggregates::federation::stamp!(super::$store);
        }

        #[async_trait::async_trait]
        impl tessera_core::ports::Storage for $store {
            fn backend_name(&self) -> &'static str {
                <$store as $crate::dialect::Backend>::DIALECT.name
            }

            async fn ping(&self) -> tessera_core::ports::StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err($crate::backend_error)?;
                Ok(())
            }
        }
    };
}

pub(crate) use stamp_storage;
