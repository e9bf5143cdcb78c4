//! The Platform identities section of an integration's page (SPEC §14): add and remove the
//! federated credentials that let a workload in without a secret, through
//! `/v1/integrations/{client_id}/federated_credentials`' handlers.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;

use super::after;
use crate::console::shell::AdminPosted;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::federation;
use crate::state::AppState;
use crate::wire::CreateFederatedCredentialRequest;

/// `claim=value` lines, as a credential's required claims.
fn claims_of(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            line.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("`{line}`: write each required claim as claim=value."))
        })
        .collect()
}

/// `POST /console/integrations/{client_id}/federated-credentials`.
pub async fn add_credential(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let claims = match claims_of(posted.fields.one("claims")) {
        Ok(claims) => claims,
        Err(text) => {
            let e = ApiError::Domain(tessera_core::error::DomainError::invalid("claims", text));
            return after(&state, &posted, &api, &client_id, Err::<(), _>(e), "").await;
        }
    };
    let body = CreateFederatedCredentialRequest {
        issuer: posted.fields.one("issuer").to_owned(),
        subject: posted.fields.one("subject").to_owned(),
        claims,
    };
    let added = federation::create_federated_credential(
        State(state.clone()),
        api.clone(),
        Path(client_id.clone()),
        ApiJson(body),
    )
    .await;
    after(&state, &posted, &api, &client_id, added, "identity_added").await
}

/// `POST /console/integrations/{client_id}/federated-credentials/delete`: removes `id`.
pub async fn remove_credential(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    AdminPosted { api, form: posted }: AdminPosted,
) -> Response {
    let id = posted.fields.one("id").to_owned();
    let gone = federation::delete_federated_credential(
        State(state.clone()),
        api.clone(),
        Path((client_id.clone(), id)),
    )
    .await;
    after(&state, &posted, &api, &client_id, gone, "identity_removed").await
}

#[cfg(test)]
mod tests {
    use super::claims_of;

    #[test]
    fn required_claims_are_read_a_line_each() {
        let claims = claims_of("repository_id = 42\n\n/kubernetes.io/namespace=prod\n").unwrap();
        assert_eq!(claims["repository_id"], "42");
        assert_eq!(claims["/kubernetes.io/namespace"], "prod");
        assert!(claims_of("no equals sign")
            .unwrap_err()
            .contains("claim=value"));
    }
}
