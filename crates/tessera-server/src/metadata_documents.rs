//! Client ID Metadata Documents (SPEC §15): a `client_id` that is an https URL names the JSON
//! document at that URL, which Tessera fetches under the outgoing-call rules of SPEC §11
//! (public addresses only, no redirects, bounded in time and to 5 KiB) and keeps as long as
//! its `Cache-Control` allows, within 30 s and a day. Anyone can send a person a link naming
//! any URL, so fetches are limited per second over all documents, and a failure is kept for
//! 30 s like a success. What went wrong on the network is told in the log, not to the caller.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::model::{ClientMetadata, UnixMillis, UrlRules, MAX_CLIENT_METADATA_BYTES};

/// What a document that could not be had says, whatever the network did (SPEC §11).
pub const DOCUMENT_UNREACHABLE: &str =
    "it could not be fetched (the server's log says why): it must answer 200 with JSON, at a public address, without redirects";

/// Without caching headers a document is kept this long.
const DEFAULT_KEEP_SECONDS: u64 = 300;
/// However its server asks, a document (or a failure) is kept at least this long…
const MIN_KEEP_SECONDS: u64 = 30;
/// …and at most this long.
const MAX_KEEP_SECONDS: u64 = 86_400;

struct Entry {
    fresh_until: UnixMillis,
    found: Result<Arc<ClientMetadata>, String>,
}

/// The documents fetched lately, by URL.
pub struct MetadataDocuments {
    http: reqwest::Client,
    allow_private: bool,
    cache: quick_cache::sync::Cache<String, Arc<Entry>>,
    fetches: crate::outbound::FetchAllowance,
}

impl MetadataDocuments {
    pub fn new(
        timeout: Duration,
        allow_private: bool,
        max_fetches_per_second: u32,
    ) -> Result<Self, reqwest::Error> {
        Ok(MetadataDocuments {
            http: crate::outbound::client(timeout, allow_private)?,
            allow_private,
            cache: quick_cache::sync::Cache::new(10_000),
            fetches: crate::outbound::FetchAllowance::new(max_fetches_per_second),
        })
    }

    /// The client metadata at `url` (a checked metadata document URL), or why there is none.
    pub async fn metadata(
        &self,
        url: &str,
        rules: UrlRules,
        now: UnixMillis,
    ) -> Result<Arc<ClientMetadata>, String> {
        if let Some(entry) = self.cache.get(url).filter(|e| now < e.fresh_until) {
            return entry.found.clone();
        }
        if !self.fetches.take(now) {
            tracing::debug!(
                url,
                "metadata document fetch deferred: too many this second"
            );
            return Err(DOCUMENT_UNREACHABLE.to_owned());
        }
        let (found, keep) = self.fetch(url, rules).await;
        let keep = keep.clamp(MIN_KEEP_SECONDS, MAX_KEEP_SECONDS);
        let fresh_until = now.saturating_add(i64::try_from(keep * 1000).unwrap_or(i64::MAX));
        self.cache.insert(
            url.to_owned(),
            Arc::new(Entry {
                fresh_until,
                found: found.clone(),
            }),
        );
        found
    }

    /// The document read and checked, and how many seconds it may be kept.
    async fn fetch(
        &self,
        url: &str,
        rules: UrlRules,
    ) -> (Result<Arc<ClientMetadata>, String>, u64) {
        if !crate::outbound::url_allowed(url, self.allow_private) {
            tracing::warn!(url, "metadata document not fetched: not a public address");
            return (Err(DOCUMENT_UNREACHABLE.to_owned()), MIN_KEEP_SECONDS);
        }
        let accept = "application/json";
        // One byte over the limit tells a document that is too large from one that fits.
        let fetched =
            crate::outbound::fetch_bounded(&self.http, url, accept, MAX_CLIENT_METADATA_BYTES)
                .await;
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(reason) if reason.starts_with("answered more than") => {
                let text = format!("it is larger than {} KiB", MAX_CLIENT_METADATA_BYTES / 1024);
                return (Err(text), MIN_KEEP_SECONDS);
            }
            Err(reason) => {
                tracing::warn!(url, reason, "metadata document fetch failed");
                return (Err(DOCUMENT_UNREACHABLE.to_owned()), MIN_KEEP_SECONDS);
            }
        };
        let keep = fetched.max_age.unwrap_or(DEFAULT_KEEP_SECONDS);
        let read = ClientMetadata::from_document(&fetched.body, url, rules)
            .map(Arc::new)
            .map_err(|e| e.description);
        (read, keep)
    }
}
