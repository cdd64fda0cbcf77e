//! The verifier in an axum or tower service: a layer that refuses requests without a valid
//! token (and puts the claims of valid ones into the request's extensions), and an extractor
//! for handlers, which uses the layer's claims or verifies on its own.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mana_proto::AccessTokenClaims;
use tower::{Layer, Service};

use crate::error::VerifyError;
use crate::verifier::Verifier;

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

fn request_id(headers: &HeaderMap) -> &str {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Refuses every request without a valid access token (401 in the server's error shape, 503
/// when the server's keys cannot be had) and hands the claims on as an extension.
#[derive(Clone, Debug)]
pub struct RequireToken {
    verifier: Verifier,
}

impl RequireToken {
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for RequireToken {
    type Service = RequireTokenService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireTokenService { inner, verifier: self.verifier.clone() }
    }
}

#[derive(Clone, Debug)]
pub struct RequireTokenService<S> {
    inner: S,
    verifier: Verifier,
}

impl<S, B> Service<Request<B>> for RequireTokenService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone is ready only if polled; keep the polled one for this call (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let outcome = match bearer(request.headers()) {
                None => Err(VerifyError::Missing),
                Some(token) => verifier.verify(token).await,
            };
            match outcome {
                Ok(claims) => {
                    request.extensions_mut().insert(Authenticated(claims));
                    inner.call(request).await
                }
                Err(error) => Ok(error.response(request_id(request.headers()))),
            }
        })
    }
}

/// The verified claims of the request's access token. Behind [`RequireToken`] it takes the
/// layer's; otherwise it verifies the token itself with the [`Verifier`] the router provides as
/// an extension (`.layer(Extension(verifier))`), so that a route can take a token where others
/// need none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated(pub AccessTokenClaims);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(found) = parts.extensions.get::<Authenticated>() {
            return Ok(found.clone());
        }
        let id = request_id(&parts.headers).to_owned();
        let Some(verifier) = parts.extensions.get::<Verifier>().cloned() else {
            tracing::error!("Authenticated needs RequireToken or an Extension(Verifier) on the router");
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        let Some(token) = bearer(&parts.headers) else {
            return Err(VerifyError::Missing.response(&id));
        };
        verifier.verify(token).await.map(Authenticated).map_err(|error| error.response(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_credential_is_a_token() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            bearer(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc"), Some("abc".into()));
        assert_eq!(with("bearer  abc "), Some("abc".into()));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
