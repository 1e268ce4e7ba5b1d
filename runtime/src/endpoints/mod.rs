//! The OAuth endpoints MCP clients need, one file per protocol concern: [`OAuthEndpoints`] (this
//! file) assembles the router over
//!
//! - the handlers: `discovery` (RFC 9728, RFC 8414, OpenID), `register` (RFC 7591), `authorize`
//!   (`/authorize`, `/token` and the broker's callback, in the broker and enrol modes), `callback`
//!   (`/oauth/callback` in the other modes), `oauth_config` (`/oauth/config`);
//! - which use the helpers below them, never each other: `redirect_policy`, `scope`, `params`,
//!   `refresh_platforms`, `state`.

mod authorize;
mod callback;
mod clients;
mod cookies;
mod discovery;
mod html;
mod oauth_config;
mod params;
mod redirect_policy;
mod refresh_platforms;
mod register;
mod scope;
mod seal;
mod state;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http::{HeaderValue, Method, StatusCode, header};
use tower_http::cors::{Any, CorsLayer};

use crate::config::{AzureOAuthConfig, Mode};
use crate::graph::GraphClient;
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::validate::Clock;
use state::EndpointState;

/// The largest request body the registration and token endpoints read (64 KiB); larger bodies get
/// 413 with an OAuth JSON error.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The OAuth endpoints of the server, from its configuration: RFC 9728 protected resource metadata,
/// RFC 8414 and OpenID discovery, RFC 7591 registration (sealed client ids in broker mode; in enrol
/// mode, redirect URIs written to the app registration through Microsoft Graph), the consent page
/// and the authorize/token bridge to Entra ID, `/oauth/callback` and `/oauth/config`.
///
/// Routes:
///
/// | route | what |
/// | --- | --- |
/// | `GET /.well-known/oauth-protected-resource{rp}`, `…{bp}{rp}` and `…/oauth-protected-resource` | RFC 9728 |
/// | `GET /.well-known/oauth-authorization-server`, `…{rp}` and `…{bp}` | RFC 8414 |
/// | `GET /.well-known/openid-configuration`, `…{rp}`, `…{bp}` and `{rp}/.well-known/openid-configuration` | OpenID discovery |
/// | `GET`, `POST /register` | RFC 7591 |
/// | `GET /authorize` (and `POST`, the consent page's answer), `POST /token` | the bridge to Entra (broker and enrol modes) |
/// | `GET /oauth/callback` | the broker's callback; in the other modes an echo of the code |
/// | `GET /oauth/config` | MSAL configuration |
///
/// (`{rp}` is the resource path; `{bp}` the path of a public base URL with one, such as
/// `https://host/tenant1`, for the path-inserted well-known URLs of RFC 8414 §3.1 and RFC 9728 §3.1.)
///
/// Discovery, registration, token and config answer CORS requests from any origin (no
/// credentials), for browser clients such as the MCP Inspector.
///
/// ```no_run
/// use axum_mcp_azure_oauth::AzureOAuthConfig;
/// use axum_mcp_azure_oauth::endpoints::OAuthEndpoints;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let app: axum::Router = OAuthEndpoints::new(AzureOAuthConfig::from_env()?).router();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OAuthEndpoints {
    state: Arc<EndpointState>,
}

impl fmt::Debug for OAuthEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthEndpoints")
            .field("config", &self.state.config)
            .field("graph", &self.state.graph)
            .finish_non_exhaustive()
    }
}

impl OAuthEndpoints {
    /// The endpoints of `config` (owned or shared), with their own [`GraphClient`].
    pub fn new(config: impl Into<Arc<AzureOAuthConfig>>) -> Self {
        let config = config.into();
        let graph = GraphClient::new(Arc::clone(&config));
        Self::with_graph_client(config, graph)
    }

    /// The endpoints of `config`, enrolling through `graph` (to share one client or set its
    /// retry budget with [`GraphClient::with_retry_budget`]).
    pub fn with_graph_client(config: impl Into<Arc<AzureOAuthConfig>>, graph: GraphClient) -> Self {
        let config = config.into();
        let http = crate::upstream::client(&config);
        Self::with_http(config, http, graph, Clock::system())
    }

    /// The endpoints of `config`, calling Entra through `http`, telling time by `clock`.
    pub(crate) fn with_http(
        config: Arc<AzureOAuthConfig>,
        http: reqwest::Client,
        graph: GraphClient,
        clock: Clock,
    ) -> Self {
        Self { state: Arc::new(EndpointState::new(config, http, graph, clock)) }
    }

    /// The configuration the endpoints serve (mode, base URL, allow-lists).
    pub fn config(&self) -> &AzureOAuthConfig {
        &self.state.config
    }

    /// The Graph client that registration enrols redirect URIs with.
    pub fn graph(&self) -> &GraphClient {
        &self.state.graph
    }

    /// The router serving every endpoint; merge it into the application's router.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let config = &self.state.config;
        let cors = CorsLayer::new()
            .allow_origin(Any)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(Any)
            .max_age(std::time::Duration::from_secs(3600));
        let mut browser = Router::new();
        for path in discovery_paths(config, Document::ProtectedResource) {
            browser = browser.route(&path, get_only(discovery::protected_resource));
        }
        for path in discovery_paths(config, Document::AuthorizationServer) {
            browser = browser.route(&path, get_only(discovery::authorization_server));
        }
        for path in discovery_paths(config, Document::OpenId) {
            browser = browser.route(&path, get_only(discovery::openid_configuration));
        }
        browser = browser
            .route(
                "/register",
                get(register::register_get).post(register::register_post).fallback(not_allowed("GET, POST")),
            )
            .route("/oauth/config", get_only(oauth_config::oauth_config));
        let mut navigation = Router::new();
        if config.mode().is_authorization_server() {
            browser = browser.route("/token", post(authorize::token).fallback(not_allowed("POST")));
            navigation = navigation.route(
                "/authorize",
                get(authorize::authorize).post(authorize::decide).fallback(not_allowed("GET, POST")),
            );
        }
        navigation = match config.mode() {
            Mode::Broker => navigation.route(config.callback_path(), get_only(authorize::broker::callback)),
            _ => navigation.route(config.callback_path(), get_only(callback::callback)),
        };
        browser
            .layer(cors)
            .merge(navigation)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&self.state))
    }
}

/// `GET` only: any other method gets 405.
fn get_only<H: Handler<T, Arc<EndpointState>>, T: 'static>(handler: H) -> MethodRouter<Arc<EndpointState>> {
    get(handler).fallback(not_allowed("GET"))
}

/// The discovery documents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Document {
    ProtectedResource,
    AuthorizationServer,
    OpenId,
}

/// Where a document is served: the paths clients try (RFC 9728 §3.1, RFC 8414 §3.1, OpenID
/// Connect Discovery §4), with `{rp}` the resource path and `{bp}` the path of a public base URL
/// that has one (`https://host/tenant1` → `/tenant1`), each once.
fn discovery_paths(config: &AzureOAuthConfig, document: Document) -> Vec<String> {
    let rp = config.resource_path();
    let bp = config
        .base_url()
        .and_then(|b| url::Url::parse(b).ok())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let mut paths = match document {
        Document::ProtectedResource => vec![
            "/.well-known/oauth-protected-resource".to_owned(),
            format!("/.well-known/oauth-protected-resource{rp}"),
            format!("/.well-known/oauth-protected-resource{bp}{rp}"),
        ],
        Document::AuthorizationServer => vec![
            "/.well-known/oauth-authorization-server".to_owned(),
            format!("/.well-known/oauth-authorization-server{rp}"),
        ],
        Document::OpenId => vec![
            "/.well-known/openid-configuration".to_owned(),
            format!("/.well-known/openid-configuration{rp}"),
            format!("{rp}/.well-known/openid-configuration"),
        ],
    };
    if !bp.is_empty() {
        match document {
            Document::AuthorizationServer => {
                paths.push(format!("/.well-known/oauth-authorization-server{bp}"))
            }
            Document::OpenId => paths.push(format!("/.well-known/openid-configuration{bp}")),
            Document::ProtectedResource => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths
}

/// The answer to a method an endpoint does not serve: 405 with `Allow` and an OAuth JSON error.
fn not_allowed(
    allow: &'static str,
) -> impl Fn() -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move || {
        let mut response = OAuthError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidRequest,
            format!("this endpoint answers {allow} only"),
        )
        .into_response();
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        std::future::ready(response)
    }
}

/// Not public API: the sealing entry points of the cargo-fuzz target and the benchmark
/// (`cfg(fuzzing)`, which cargo-fuzz sets).
#[cfg(fuzzing)]
pub(crate) mod fuzzing {
    use std::time::Duration;

    pub(crate) use super::seal::Sealer;
    use super::seal::{Purpose, Unsealed};
    use crate::config::SealingSource;

    pub(crate) fn sealer(secret: &str) -> Sealer {
        Sealer::new(
            SealingSource::Credential(secret.as_bytes(), b"client secret"),
            "11111111-2222-3333-4444-555555555555",
        )
        .unwrap_or_else(|| panic!("a key"))
    }

    pub(crate) fn seal<T: serde::Serialize>(sealer: &Sealer, payload: &T, now: u64) -> String {
        sealer.seal(Purpose::State, payload, now, Some(Duration::from_secs(600)))
    }

    pub(crate) fn open<T: serde::de::DeserializeOwned>(sealer: &Sealer, sealed: &str, now: u64) -> Option<T> {
        sealer.open(Purpose::State, sealed, now).ok()
    }

    pub(crate) fn open_any(sealer: &Sealer, sealed: &str, now: u64) -> bool {
        [
            Purpose::State,
            Purpose::Code,
            Purpose::Refresh,
            Purpose::Client,
            Purpose::Consent,
            Purpose::Approval,
        ]
        .into_iter()
        .any(|p| !matches!(sealer.open::<serde_json::Value>(p, sealed, now), Err(Unsealed::Invalid)))
    }
}
