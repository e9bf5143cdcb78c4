//! A resource server in axum: `GET /trucks` for tokens with `assets:read`, and the RFC 9728
//! metadata document that sends OAuth clients (an MCP SDK, say) to Tessera.
//!
//! ```text
//! TESSERA=https://tessera.example RESOURCE=https://fleet.example/api cargo run --example axum
//! ```

use axum::routing::get;
use axum::{Json, Router};
use tessera_verify::{Claims, RequireBearer, Verifier};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let issuer = std::env::var("TESSERA").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let resource = std::env::var("RESOURCE").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let verifier = Verifier::builder(issuer, resource).build();
    let metadata = verifier.protected_resource_metadata(&["assets:read"]);

    let app = Router::new()
        .route("/trucks", get(trucks))
        .layer(RequireBearer::new(verifier).scopes(["assets:read"]))
        // After the layer, so the metadata is public.
        .route(
            "/.well-known/oauth-protected-resource",
            get(move || async move { Json(metadata) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}

async fn trucks(claims: Claims) -> String {
    format!(
        "42 trucks in {} for {}\n",
        claims.tenant.unwrap_or_default(),
        claims.sub
    )
}
