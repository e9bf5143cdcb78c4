//! The HTTP edge: a tower layer that lets only requests with a good token through, and the
//! axum extractor that hands its claims to the handler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{header, HeaderMap, Request, Response};
use tower::{Layer, Service};

use crate::{Claims, Verifier, VerifyError};

/// The bearer token of a request's `Authorization` header (RFC 6750 §2.1).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, VerifyError> {
    match authorization(headers)? {
        (false, token) => Ok(token),
        (true, _) => Err(VerifyError::Missing),
    }
}

/// The token of a request's `Authorization` header and whether it came as `DPoP` (RFC 9449
/// §7.1) rather than `Bearer`.
pub(crate) fn authorization(headers: &HeaderMap) -> Result<(bool, &str), VerifyError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(VerifyError::Missing);
    };
    if values.next().is_some() {
        return Err(VerifyError::BadRequest(
            "the request has more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| VerifyError::BadRequest("the Authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    // Another scheme is no token of ours: answered as one missing (RFC 6750 §3.1).
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(VerifyError::Missing);
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(VerifyError::BadRequest(
            "the Authorization header holds no single bearer token",
        ));
    }
    Ok((dpop, token))
}

/// The tower layer: each request must carry a token [`Verifier`] accepts, with the scopes
/// given; its [`Claims`] go into the request's extensions. Anything else is answered here, as
/// RFC 6750 says, and never reaches the inner service.
#[derive(Clone)]
pub struct RequireBearer {
    verifier: Verifier,
    scopes: Arc<[String]>,
}

impl RequireBearer {
    /// Tokens `verifier` accepts, with no scope required.
    pub fn new(verifier: Verifier) -> RequireBearer {
        RequireBearer {
            verifier,
            scopes: Arc::new([]),
        }
    }

    /// Requires each of `scopes` too.
    pub fn scopes<I, S>(mut self, scopes: I) -> RequireBearer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl<S> Layer<S> for RequireBearer {
    type Service = RequireBearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireBearerService {
            inner,
            rule: self.clone(),
        }
    }
}

/// The service [`RequireBearer`] wraps around the inner one.
#[derive(Clone)]
pub struct RequireBearerService<S> {
    inner: S,
    rule: RequireBearer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireBearerService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The service that was made ready answers this request; a fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rule = self.rule.clone();
        Box::pin(async move {
            let (method, path) = (request.method().as_str(), request.uri().path());
            let checked = rule
                .verifier
                .verify_request(method, path, request.headers())
                .await
                .and_then(|claims| {
                    if rule.scopes.iter().all(|s| claims.has_scope(s)) {
                        Ok(claims)
                    } else {
                        Err(VerifyError::InsufficientScope(rule.scopes.to_vec()))
                    }
                });
            match checked {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(error) => Ok(rule.verifier.reject(error).into_response()),
            }
        })
    }
}

/// In a handler behind [`RequireBearer`]: the verified token's claims. Without the layer in
/// front there are none, and the request is refused as one without a token.
#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Claims {
    type Rejection = crate::Rejection;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .ok_or(crate::Rejection {
                error: VerifyError::Missing,
                resource_metadata: None,
            })
    }
}
