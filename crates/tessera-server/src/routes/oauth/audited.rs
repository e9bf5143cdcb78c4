//! What the audit log says of each token the endpoint issues (never the token itself).

use tessera_core::grant;
use tessera_core::ports::{AuditAction, AuditRecord};
use tessera_core::token::TokenSubject;

use crate::state::AppState;

/// What the audit log says of an issued token (never the token itself).
#[derive(serde::Serialize)]
struct IssuedDetail<'a> {
    grant_type: &'static str,
    scope: String,
    sub: &'a TokenSubject,
    exp: i64,
    /// The federated credential whose platform token authenticated the client (SPEC §14).
    #[serde(skip_serializing_if = "Option::is_none")]
    federated_credential: Option<&'a tessera_core::id::FederatedCredentialId>,
}

/// Records `issued` (by `grant`) in the tenant whose data the token reaches.
pub(super) fn token_issued(state: &AppState, issued: &grant::IssuedToken, grant: &'static str) {
    state.audit(AuditRecord {
        tenant_id: issued.claims.tenant_id,
        at: state.clock.now_millis(),
        actor: format!("client:{}", issued.claims.client_id),
        action: AuditAction::TokenIssued.into(),
        target: issued.claims.jti.clone(),
        detail: serde_json::to_string(&IssuedDetail {
            grant_type: grant,
            scope: issued.claims.scope.to_string(),
            sub: &issued.claims.sub,
            exp: issued.claims.exp,
            federated_credential: issued.claims.federated.as_ref(),
        })
        .unwrap_or_default(),
    });
}
