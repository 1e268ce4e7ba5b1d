//! [`OAuthEndpoints`]: the router of every OAuth endpoint the server offers, built from the
//! configuration.

use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, Method, StatusCode, header};
use tower_http::cors::{Any, CorsLayer};

use crate::facade::RefreshPlatforms;
use crate::{AzureOAuthConfig, GraphClient, discovery, facade, register};

/// The largest request body the registration and token endpoints read (64 KiB); larger bodies get
/// 413 with an OAuth JSON error.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How many refresh tokens of `web` and `spa` redemptions are remembered (as SHA-256 digests) so
/// that their refresh is sent as their platform needs.
const REMEMBERED_REFRESH_TOKENS: usize = 10_000;

/// What every handler shares.
pub(crate) struct Shared {
    pub(crate) config: Arc<AzureOAuthConfig>,
    pub(crate) graph: GraphClient,
    pub(crate) http: reqwest::Client,
    /// The platform of refresh tokens from `web` and `spa` redemptions, by digest.
    pub(crate) refresh_platforms: StdMutex<RefreshPlatforms>,
}

pub(crate) type AppState = Arc<Shared>;

/// The OAuth endpoints of the server, from its configuration: RFC 9728 protected resource metadata,
/// RFC 8414 and OpenID discovery, RFC 7591 registration (which enrols redirect URIs through
/// Microsoft Graph), the authorize/token bridge to Entra ID, `/oauth/callback` and `/oauth/config`.
///
/// Routes (`{rp}` is the resource path, `/mcp` by default):
///
/// | route | what |
/// | --- | --- |
/// | `GET /.well-known/oauth-protected-resource{rp}` and `…/oauth-protected-resource` | RFC 9728 |
/// | `GET /.well-known/oauth-authorization-server` and `…{rp}` | RFC 8414 |
/// | `GET /.well-known/openid-configuration`, `…{rp}` and `{rp}/.well-known/openid-configuration` | OpenID discovery |
/// | `GET`, `POST /register` | RFC 7591 |
/// | `GET /authorize`, `POST /token` | the bridge to Entra |
/// | `GET /oauth/callback`, `GET /oauth/config` | the server's own callback, MSAL configuration |
///
/// Discovery, registration, token and config answer CORS requests from any origin (no
/// credentials), for browser clients such as the MCP Inspector.
///
/// ```no_run
/// use std::sync::Arc;
/// use axum_mcp_azure_oauth::{AzureOAuthConfig, OAuthEndpoints};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Arc::new(AzureOAuthConfig::from_env()?);
/// let app: axum::Router = OAuthEndpoints::new(config).router();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OAuthEndpoints {
    shared: AppState,
}

impl fmt::Debug for OAuthEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthEndpoints")
            .field("config", &self.shared.config)
            .field("graph", &self.shared.graph)
            .finish_non_exhaustive()
    }
}

impl OAuthEndpoints {
    /// The endpoints of `config`, with their own [`GraphClient`].
    pub fn new(config: Arc<AzureOAuthConfig>) -> Self {
        let graph = GraphClient::new(Arc::clone(&config));
        Self::with_graph_client(config, graph)
    }

    /// The endpoints of `config`, enrolling through `graph` (to share one client or set its
    /// retry budget with [`GraphClient::with_retry_budget`]).
    pub fn with_graph_client(config: Arc<AzureOAuthConfig>, graph: GraphClient) -> Self {
        let http = crate::http::client(&config);
        Self::with_http(config, graph, http)
    }

    /// The endpoints of `config`, calling Entra through `http`.
    pub(crate) fn with_http(
        config: Arc<AzureOAuthConfig>,
        graph: GraphClient,
        http: reqwest::Client,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                http,
                config,
                graph,
                refresh_platforms: StdMutex::new(RefreshPlatforms::new(REMEMBERED_REFRESH_TOKENS)),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AzureOAuthConfig {
        &self.shared.config
    }

    /// The Graph client that registration enrols redirect URIs with.
    pub fn graph(&self) -> &GraphClient {
        &self.shared.graph
    }

    /// The router serving every endpoint; merge it into the application's router.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let rp = self.shared.config.resource_path().to_owned();
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(Any)
            .max_age(std::time::Duration::from_secs(3600));
        let browser = Router::new()
            .route(
                "/.well-known/oauth-protected-resource",
                get(discovery::protected_resource).fallback(not_allowed("GET")),
            )
            .route(
                &format!("/.well-known/oauth-protected-resource{rp}"),
                get(discovery::protected_resource).fallback(not_allowed("GET")),
            )
            .route(
                "/.well-known/oauth-authorization-server",
                get(discovery::authorization_server).fallback(not_allowed("GET")),
            )
            .route(
                &format!("/.well-known/oauth-authorization-server{rp}"),
                get(discovery::authorization_server).fallback(not_allowed("GET")),
            )
            .route(
                "/.well-known/openid-configuration",
                get(discovery::openid_configuration).fallback(not_allowed("GET")),
            )
            .route(
                &format!("/.well-known/openid-configuration{rp}"),
                get(discovery::openid_configuration).fallback(not_allowed("GET")),
            )
            .route(
                &format!("{rp}/.well-known/openid-configuration"),
                get(discovery::openid_configuration).fallback(not_allowed("GET")),
            )
            .route(
                "/register",
                get(register::register_get).post(register::register_post).fallback(not_allowed("GET, POST")),
            )
            .route("/token", post(facade::token).fallback(not_allowed("POST")))
            .route("/oauth/config", get(facade::oauth_config).fallback(not_allowed("GET")))
            .layer(cors);
        let navigation = Router::new()
            .route("/authorize", get(facade::authorize).fallback(not_allowed("GET")))
            .route(self.shared.config.callback_path(), get(facade::callback).fallback(not_allowed("GET")));
        browser
            .merge(navigation)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&self.shared))
    }
}

/// The answer to a method an endpoint does not serve: 405 with `Allow` and an OAuth JSON error.
fn not_allowed(
    allow: &'static str,
) -> impl Fn() -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move || {
        let mut response = oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            format!("this endpoint answers {allow} only"),
        );
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        std::future::ready(response)
    }
}

/// An OAuth error response: `{"error", "error_description"}` with `Cache-Control: no-store`.
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    json_response(status, &serde_json::json!({ "error": error, "error_description": description.into() }))
}

/// A JSON response with `Cache-Control: no-store` (OAuth answers are never cached).
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    no_store(&mut response);
    response
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn no_store(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// An OAuth error on its way to becoming a response (see [`oauth_error`]).
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    pub(crate) fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }

    /// A 400 error.
    pub(crate) fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        oauth_error(self.status, self.error, self.description)
    }
}

/// The request body, or the OAuth JSON error for one too large (413) or unreadable (400), with
/// `error` as the endpoint's RFC names it.
pub(crate) fn body_or_error(
    body: Result<Bytes, BytesRejection>,
    error: &'static str,
) -> Result<Bytes, OAuthError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                error,
                format!("the request body is larger than {} KiB", MAX_BODY_BYTES / 1024),
            )
        } else {
            OAuthError::bad_request(error, format!("the request body could not be read: {rejection}"))
        }
    })
}
