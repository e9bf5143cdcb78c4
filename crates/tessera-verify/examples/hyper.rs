//! A resource server on plain hyper: the same layer around a `tower::service_fn`.
//!
//! ```text
//! TESSERA=https://tessera.example RESOURCE=https://fleet.example/api cargo run --example hyper
//! ```

use std::convert::Infallible;

use http::{Request, Response};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tessera_verify::{Claims, RequireBearer, Verifier};
use tower::{Layer, ServiceBuilder};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let issuer = std::env::var("TESSERA").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let resource = std::env::var("RESOURCE").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let guard =
        RequireBearer::new(Verifier::builder(issuer, resource).build()).scopes(["assets:read"]);
    let service = ServiceBuilder::new().service(guard.layer(tower::service_fn(trucks)));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = http.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                eprintln!("connection ended: {e}");
            }
        });
    }
}

async fn trucks(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // The layer put the verified claims here; it answered every request without them.
    let claims = request.extensions().get::<Claims>().cloned();
    let who = claims.map(|c| c.sub).unwrap_or_default();
    Ok(Response::new(Full::from(format!("42 trucks for {who}\n"))))
}
