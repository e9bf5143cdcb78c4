//! A value as it arrives: whole up to one part, or cut into parts written as they come.

use axum::body::Body;
use axum::http::HeaderMap;
use futures::StreamExt;
use tessera_core::id::ClientId;
use tessera_core::model::{
    new_etag, next_part_len, next_part_len_of_bytes, seal_value, ValuePiece, VALUE_PART_BYTES,
};

use super::body::*;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The parts of a value being written under the ETag of the entry to come. Unless the entry is
/// written ([`PartUpload::finish`]), its parts are removed when this is dropped: on an error, a
/// refused `If-Match`, or a client that hangs up mid-body (axum drops the handler).
pub(super) struct PartUpload {
    pub(super) state: AppState,
    pub(super) client: ClientId,
    pub(super) etag: String,
    pub(super) parts: u32,
    pub(super) finished: bool,
}

impl PartUpload {
    pub(super) fn new(state: &AppState, client: ClientId) -> Self {
        PartUpload {
            state: state.clone(),
            client,
            etag: new_etag(&*state.rng),
            parts: 0,
            finished: false,
        }
    }

    pub(super) async fn push(&mut self, text: String) -> ApiResult<()> {
        let now = self.state.clock.now_millis();
        let sealed = seal_value(
            &self.state.master_key,
            &*self.state.rng,
            self.client,
            &self.etag,
            ValuePiece::Part(self.parts),
            &text,
        );
        drop(text);
        self.state
            .storage
            .put_private_token_part(self.client, &self.etag, self.parts, sealed, now)
            .await?;
        self.parts += 1;
        Ok(())
    }

    pub(super) fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for PartUpload {
    fn drop(&mut self) {
        if self.finished || self.parts == 0 {
            return;
        }
        let (storage, client, etag) = (self.state.storage.clone(), self.client, self.etag.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = storage.discard_private_token_parts(client, &etag).await {
                    // The periodic sweep removes them later.
                    tracing::warn!(error = %e, "could not remove the parts of an unfinished write");
                }
            });
        }
    }
}

/// A value as received: whole (up to one part) or already written in parts.
pub(super) struct Received {
    pub(super) size: usize,
    pub(super) inline: String,
    pub(super) upload: PartUpload,
}

impl Received {
    /// A value held in memory (from JSON): written in parts when it is over one part.
    pub(super) async fn from_text(
        state: &AppState,
        client: ClientId,
        value: String,
    ) -> ApiResult<Self> {
        let max = state.config.max_private_token_bytes;
        if value.len() > max {
            return Err(too_large(max));
        }
        let mut upload = PartUpload::new(state, client);
        if value.len() <= VALUE_PART_BYTES {
            return Ok(Received {
                size: value.len(),
                inline: value,
                upload,
            });
        }
        let mut rest = value.as_str();
        while !rest.is_empty() {
            let (part, tail) = rest.split_at(next_part_len(rest));
            upload.push(part.to_owned()).await?;
            rest = tail;
        }
        Ok(Received {
            size: value.len(),
            inline: String::new(),
            upload,
        })
    }

    /// A raw body, cut into parts as it arrives once it is over one part: the body is never
    /// whole in memory. Refused with 413 past the configured maximum.
    pub(super) async fn from_body(
        state: &AppState,
        client: ClientId,
        headers: &HeaderMap,
        body: Body,
    ) -> ApiResult<Self> {
        let max = state.config.max_private_token_bytes;
        let declared = declared_length(headers);
        if declared.is_some_and(|n| n > max) {
            return Err(too_large(max));
        }
        let not_utf8 = || {
            ApiError::BadRequest(
                "the value must be UTF-8 text; send binary data encoded, e.g. as base64".into(),
            )
        };
        let mut upload = PartUpload::new(state, client);
        let mut pending =
            Vec::with_capacity(declared.unwrap_or(0).min(VALUE_PART_BYTES + JSON_ROOM));
        let mut size = 0;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
            size += chunk.len();
            if size > max {
                return Err(too_large(max));
            }
            pending.extend_from_slice(&chunk);
            while pending.len() > VALUE_PART_BYTES {
                let cut = next_part_len_of_bytes(&pending).ok_or_else(not_utf8)?;
                let rest = pending.split_off(cut);
                let part = std::mem::replace(&mut pending, rest);
                upload
                    .push(String::from_utf8(part).map_err(|_| not_utf8())?)
                    .await?;
            }
        }
        let last = String::from_utf8(pending).map_err(|_| not_utf8())?;
        if upload.parts == 0 {
            return Ok(Received {
                size,
                inline: last,
                upload,
            });
        }
        upload.push(last).await?;
        Ok(Received {
            size,
            inline: String::new(),
            upload,
        })
    }
}
