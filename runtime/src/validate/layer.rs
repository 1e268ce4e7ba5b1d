//! [`AuthLayer`]: a tower layer that admits only requests with a valid bearer token.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use http::{Method, Request};
use tower::{Layer, Service};

use super::requirements::Requirements;
use super::validator::TokenValidator;

/// Protects a router or a nested service (such as rmcp's `StreamableHttpService`): each request
/// needs a valid `Authorization: Bearer` token meeting the [`Requirements`], or gets the
/// RFC 6750 challenge. The verified [`AzureClaims`](super::AzureClaims) go into the request extensions. CORS preflights
/// (`OPTIONS` with both `Origin` and `Access-Control-Request-Method`, which browsers send without
/// credentials) pass unauthenticated; any other `OPTIONS` request is authenticated like the rest.
///
/// ```
/// use axum::{Router, routing::post};
/// use axum_mcp_azure_oauth::{AuthLayer, AzureClaims, AzureOAuthConfig, Requirements, TokenValidator};
/// use axum_mcp_azure_oauth::config::Mode;
///
/// # fn main() -> Result<(), axum_mcp_azure_oauth::ConfigError> {
/// let config = AzureOAuthConfig::builder()
///     .app_id("11111111-2222-3333-4444-555555555555")
///     .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
///     .mode(Mode::Direct) // only validate tokens: no OAuth endpoints, no client secret
///     .build()?;
/// let validator = TokenValidator::new(config);
/// async fn mcp(claims: AzureClaims) -> String { claims.tid().to_owned() }
/// let app: Router = Router::new()
///     .route("/mcp", post(mcp))
///     .route_layer(AuthLayer::new(validator).requirements(Requirements::new(&["access_as_user"])));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AuthLayer {
    validator: TokenValidator,
    requirements: Requirements,
}

impl AuthLayer {
    /// Requires what the validator's configuration requires.
    pub fn new(validator: TokenValidator) -> Self {
        Self { validator, requirements: Requirements::CONFIG }
    }
    /// Requires `requirements` instead (empty lists still fall back to the configuration).
    pub fn requirements(mut self, requirements: Requirements) -> Self {
        self.requirements = requirements;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, validator: self.validator.clone(), requirements: self.requirements }
    }
}

/// The service [`AuthLayer`] wraps around `S`.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    validator: TokenValidator,
    requirements: Requirements,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AuthFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Answered now when it can be (a preflight, no usable token, a cached token): the request
        // goes straight to the service that was polled ready, nothing is boxed or cloned.
        if is_cors_preflight(&req) {
            return AuthFuture::inner(self.inner.call(req));
        }
        match self.validator.authenticate_cached(req.headers(), req.uri(), &self.requirements) {
            Some(Ok(claims)) => {
                req.extensions_mut().insert(claims);
                return AuthFuture::inner(self.inner.call(req));
            }
            Some(Err(challenge)) => return AuthFuture::ready(challenge),
            None => {}
        }
        // The token must be verified (keys may be fetched): the service that was polled ready
        // serves this request later, a fresh clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let validator = self.validator.clone();
        let requirements = self.requirements;
        AuthFuture::verifying(Box::pin(async move {
            match validator.authenticate(req.headers(), req.uri(), &requirements).await {
                Ok(claims) => {
                    req.extensions_mut().insert(claims);
                    inner.call(req).await.map(|r| r.map(Body::new))
                }
                Err(challenge) => Ok(challenge),
            }
        }))
    }
}

pin_project_lite::pin_project! {
    /// The future of [`AuthService`]: the wrapped service's response, a challenge, or (for a token
    /// not in the verified-token cache) the verification and then the response.
    pub struct AuthFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, E> {
        Inner { #[pin] future: F },
        Ready { response: Option<Response> },
        Verifying { future: Pin<Box<dyn Future<Output = Result<Response, E>> + Send>> },
    }
}

impl<F, E> AuthFuture<F, E> {
    fn inner(future: F) -> Self {
        Self { state: State::Inner { future } }
    }
    fn ready(response: Response) -> Self {
        Self { state: State::Ready { response: Some(response) } }
    }
    fn verifying(future: Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>) -> Self {
        Self { state: State::Verifying { future } }
    }
}

impl<F, E> std::fmt::Debug for AuthFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Inner { .. } => "inner",
            State::Ready { .. } => "ready",
            State::Verifying { .. } => "verifying",
        };
        f.debug_struct("AuthFuture").field("state", &state).finish()
    }
}

impl<F, E, B> Future for AuthFuture<F, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            // `Body::new` does not box a body that already is one (the axum router's).
            StateProj::Inner { future } => future.poll(cx).map_ok(|r| r.map(Body::new)),
            StateProj::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => panic!("AuthFuture polled after it completed"),
            },
            StateProj::Verifying { future } => future.as_mut().poll(cx),
        }
    }
}

/// A CORS preflight (Fetch standard): `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
fn is_cors_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(http::header::ORIGIN)
        && req.headers().contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}
