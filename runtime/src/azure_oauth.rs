//! [`AzureOAuth`]: one app's configuration, token validator and OAuth endpoints in one handle, and
//! the process-wide registry of installed handles that `#[azure_mcp_auth]` handlers find theirs in.

use std::sync::{Arc, RwLock};

use axum::Router;
use tower::layer::util::Stack;

use crate::config::{AzureOAuthConfig, ConfigError, DEFAULT_GRAPH_RETRY_BUDGET};
use crate::endpoints::OAuthEndpoints;
use crate::graph::GraphClient;
use crate::obo::OnBehalfOf;
use crate::primitives::lock::{read, write};
use crate::validate::{AuthLayer, Clock, Requirements, TokenValidator, ToolPolicyLayer};

/// Everything one Entra app needs to protect an axum MCP server: the validated
/// [`AzureOAuthConfig`], the [`TokenValidator`] (one signing-key cache) and the
/// [`OAuthEndpoints`] (discovery, registration, the authorize/token bridge, Graph enrolment) and
/// the [`OnBehalfOf`] client (tokens for other APIs as the signed-in user). Clones share all of it.
///
/// ```no_run
/// use axum::{Router, routing::post};
/// use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth};
///
/// async fn mcp(claims: AzureClaims) -> String {
///     format!("hello {}", claims.user_id().unwrap_or("unknown"))
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = AzureOAuth::from_env()?.install();
/// let app: Router = Router::new()
///     .route("/mcp", post(mcp).layer(auth.layer()))
///     .merge(auth.router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AzureOAuth {
    config: Arc<AzureOAuthConfig>,
    validator: TokenValidator,
    endpoints: OAuthEndpoints,
    obo: OnBehalfOf,
}

impl AzureOAuth {
    /// Builds the validator and the endpoints for `config` (owned or shared), which share one HTTP
    /// client (one connection pool to Entra ID and Graph). Nothing is fetched until the first
    /// request needs it.
    pub fn new(config: impl Into<Arc<AzureOAuthConfig>>) -> Self {
        Self::with_clock(config, Clock::system())
    }

    /// [`new`](Self::new) with a clock of its own for the validator and the endpoints: tests move a
    /// [`Clock::manual`] past token, code and consent lifetimes.
    pub fn with_clock(config: impl Into<Arc<AzureOAuthConfig>>, clock: Clock) -> Self {
        let config = config.into();
        let http = crate::upstream::client(&config);
        let graph = GraphClient::with_http(Arc::clone(&config), http.clone(), DEFAULT_GRAPH_RETRY_BUDGET);
        Self {
            validator: TokenValidator::with_http(Arc::clone(&config), http.clone(), clock.clone()),
            obo: OnBehalfOf::with_http(Arc::clone(&config), http.clone(), clock.clone()),
            endpoints: OAuthEndpoints::with_http(Arc::clone(&config), http, graph, clock),
            config,
        }
    }

    /// [`AzureOAuthConfig::from_env`], then [`new`](Self::new).
    pub fn from_env() -> Result<Self, ConfigError> {
        AzureOAuthConfig::from_env().map(Self::new)
    }

    /// The configuration every part of this app (validator, endpoints, Graph, OBO) shares.
    pub fn config(&self) -> &AzureOAuthConfig {
        &self.config
    }

    /// The token validator (clone it freely: clones share the key and token caches).
    pub fn validator(&self) -> &TokenValidator {
        &self.validator
    }

    /// The OAuth endpoints and their Graph client.
    pub fn endpoints(&self) -> &OAuthEndpoints {
        &self.endpoints
    }

    /// The on-behalf-of client: tokens for Microsoft Graph and other APIs as the signed-in user,
    /// for tools that act as that user (clone it freely: clones share one cache).
    ///
    /// ```no_run
    /// # use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth};
    /// # async fn f(auth: AzureOAuth, caller: AzureClaims) -> Result<(), axum_mcp_azure_oauth::obo::OboError> {
    /// let graph = auth.on_behalf_of().token(&caller, ["https://graph.microsoft.com/User.Read"]).await?;
    /// # let _ = graph; Ok(()) }
    /// ```
    pub fn on_behalf_of(&self) -> &OnBehalfOf {
        &self.obo
    }

    /// The router of the OAuth endpoints, to [`merge`](Router::merge) into the app.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        self.endpoints.router()
    }

    /// A layer that protects what it wraps with the configuration's requirements (the API scope,
    /// or the configured scopes and roles), putting [`AzureClaims`](crate::AzureClaims) in the
    /// request extensions. Use [`AuthLayer::requirements`] for stricter ones.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.validator.clone()).requirements(Requirements::CONFIG)
    }

    /// The layer for the MCP route: [`layer`](Self::layer) (authentication, the configuration's
    /// requirements), then the configuration's [`ToolPolicy`](crate::config::ToolPolicy) on each
    /// `tools/call` ([`ToolPolicyLayer`]): the scopes and roles the tools declare are the ones the
    /// protected resource metadata lists and the ones enforced. With no tool policy it is the
    /// plain [`layer`](Self::layer) (the policy layer reads no body).
    ///
    /// ```
    /// use axum::Router;
    /// use axum_mcp_azure_oauth::AzureOAuth;
    /// use axum_mcp_azure_oauth::config::{AzureOAuthConfig, Mode, ToolPolicy, ToolRequirement};
    ///
    /// # fn main() -> Result<(), axum_mcp_azure_oauth::ConfigError> {
    /// let auth = AzureOAuth::new(
    ///     AzureOAuthConfig::builder()
    ///         .app_id("11111111-2222-3333-4444-555555555555")
    ///         .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    ///         .mode(Mode::Direct)
    ///         .tool_policy(ToolPolicy::new().tool("purge", ToolRequirement::new().any_role(["Files.Admin"])))
    ///         .build()?,
    /// );
    /// # let mcp_service = tower::service_fn(|_req: axum::extract::Request| async {
    /// #     Ok::<_, std::convert::Infallible>(axum::response::Response::new(axum::body::Body::empty()))
    /// # });
    /// let app: Router = Router::new().route_service("/mcp", mcp_service).layer(auth.mcp_layer()).merge(auth.router());
    /// # Ok(()) }
    /// ```
    pub fn mcp_layer(&self) -> Stack<ToolPolicyLayer, AuthLayer> {
        Stack::new(ToolPolicyLayer::new(self.validator.clone()), self.layer())
    }

    /// Makes this the app `#[azure_mcp_auth]` handlers of this app id use (replacing one
    /// installed before), so handlers and layers share one key cache. Returns `self` for chaining.
    /// `azure_oauth_routes!` installs the app it builds.
    #[must_use = "install() returns the handle; keep it to build the router and the layer"]
    pub fn install(self) -> Self {
        let app_id = self.config.app_id().to_ascii_lowercase();
        let mut installed = write(&INSTALLED);
        match installed.iter_mut().find(|(id, _)| *id == app_id) {
            Some(entry) => {
                tracing::debug!(app_id = %app_id, "replacing the installed AzureOAuth");
                entry.1 = self.clone();
            }
            None => {
                tracing::debug!(app_id = %app_id, "AzureOAuth installed");
                installed.push((app_id, self.clone()));
            }
        }
        drop(installed);
        self
    }

    /// The app installed for `app_id` (by [`install`](Self::install) or `azure_oauth_routes!`),
    /// compared case-insensitively: how code that did not build it — such as the MCP service
    /// next to an `azure_oauth_routes!` router — gets its [`layer`](Self::layer).
    ///
    /// ```
    /// use axum::Router;
    /// use axum_mcp_azure_oauth::{AzureOAuth, azure_oauth_routes};
    ///
    /// let routes: Router = azure_oauth_routes! {
    ///     app_id: "11111111-2222-3333-4444-555555555555",
    ///     tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    ///     mode: direct,
    /// };
    /// let auth = AzureOAuth::installed("11111111-2222-3333-4444-555555555555").expect("installed above");
    /// let mcp = tower::service_fn(|_req: axum::extract::Request| async {
    ///     Ok::<_, std::convert::Infallible>(axum::response::Response::new(axum::body::Body::empty()))
    /// });
    /// let app = routes.nest_service("/mcp", tower::Layer::layer(&auth.layer(), mcp));
    /// # let _: Router = app;
    /// ```
    pub fn installed(app_id: &str) -> Option<Self> {
        let installed = read(&INSTALLED);
        installed.iter().find(|(id, _)| id.eq_ignore_ascii_case(app_id)).map(|(_, v)| v.clone())
    }
}

/// The installed apps, by lower-case app id (a handful at most: a linear scan).
static INSTALLED: RwLock<Vec<(String, AzureOAuth)>> = RwLock::new(Vec::new());

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(app_id: &str) -> AzureOAuth {
        AzureOAuth::new(crate::fixtures::build(crate::fixtures::builder().app_id(app_id)))
    }

    #[test]
    fn installed_validators_are_found_by_app_id_in_any_case_and_replaced() {
        let app = "c0ffee00-0000-4000-8000-00000000000a";
        assert!(AzureOAuth::installed(app).is_none());
        let _ = oauth(&app.to_ascii_uppercase()).install();
        let first = AzureOAuth::installed(app).expect("installed");
        assert_eq!(first.config().app_id(), app);
        assert!(AzureOAuth::installed(&app.to_ascii_uppercase()).is_some());
        let _ = oauth(app).install();
        let count = INSTALLED.read().expect("lock").iter().filter(|(id, _)| id == app).count();
        assert_eq!(count, 1, "installing again replaces");
        assert!(AzureOAuth::installed("c0ffee00-0000-4000-8000-00000000000b").is_none());
    }
}
