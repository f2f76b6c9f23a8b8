//! [`Authorized`] wraps a tonic service: before the handler runs it finds
//! the RPC in the [`access`](super::access) table, authenticates the bearer
//! token for it, and stores the caller ([`Principal`](super::Principal) or
//! [`Operator`](super::Operator)) in the request's extensions. A refused
//! call is answered here with the precise status; the handler never runs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

use super::authenticator::{Authenticator, Caller};

use super::{access, header};
use switchyard_core::error::ApiError;

#[derive(Clone)]
pub struct Authorized<S> {
    inner: S,
    auth: Authenticator,
}

impl<S> Authorized<S> {
    pub fn new(inner: S, auth: Authenticator) -> Self {
        Self { inner, auth }
    }
}

impl<S: NamedService> NamedService for Authorized<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Authorized<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let needed = requirement(&request);
        Box::pin(async move {
            let caller = match needed {
                Ok((access, token)) => auth.authorize(access, &token).await,
                Err(error) => Err(error),
            };
            match caller {
                Ok(Caller::Workspace(principal)) => {
                    request.extensions_mut().insert(principal);
                }
                Ok(Caller::Operator(operator)) => {
                    request.extensions_mut().insert(operator);
                }
                Ok(Caller::Internal) => {}
                Err(error) => return Ok(Status::from(error).into_http()),
            }
            inner.call(request).await
        })
    }
}

/// What the call needs, and the token it brings.
fn requirement(request: &http::Request<Body>) -> Result<(access::Access, String), ApiError> {
    let path = request.uri().path();
    let Some(access) = access::access(path) else {
        return Err(ApiError::PermissionDenied(format!(
            "{} is not an RPC anyone may call",
            access::action(path)
        )));
    };
    let token = header::bearer_from_headers(request.headers())?;
    Ok((access, token.to_string()))
}
