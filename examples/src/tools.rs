//! The weather MCP server: its tools and how they read the caller's identity.

use axum_mcp_azure_oauth::AzureClaims;
use axum_mcp_azure_oauth::obo::{OboError, OnBehalfOf};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;

use crate::weather::{NwsClient, WeatherError, heat_index_category, heat_index_f};

/// The validated caller of this request: the [`AzureClaims`] that the crate's `AuthLayer` put
/// into the HTTP request's extensions. rmcp's `StreamableHttpService` hands the request's
/// [`http::request::Parts`] to every tool through [`RequestContext::extensions`].
pub fn caller(ctx: &RequestContext<RoleServer>) -> Option<&AzureClaims> {
    AzureClaims::from_parts(ctx.extensions.get::<http::request::Parts>()?)
}

/// The permission `graph_me` asks for on behalf of the caller: Graph's delegated `User.Read`.
pub const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// What `graph_me` calls Microsoft Graph with: the on-behalf-of client and Graph's base URL
/// (`https://graph.microsoft.com`, or the emulator's).
#[derive(Debug, Clone)]
pub struct GraphAccess {
    obo: OnBehalfOf,
    graph_endpoint: String,
    http: reqwest::Client,
}

impl GraphAccess {
    /// Graph at `graph_endpoint`, reached as the caller through `obo`.
    pub fn new(obo: OnBehalfOf, graph_endpoint: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_else(|e| panic!("cannot build the Graph HTTP client: {e}"));
        Self { obo, graph_endpoint: graph_endpoint.into(), http }
    }

    /// `GET /v1.0/me` as the caller: `displayName`, `userPrincipalName` and `id`, or a message
    /// that says what to do (consent, sign in again) as a tool error.
    async fn me(&self, caller: &AzureClaims) -> Result<serde_json::Value, String> {
        let token = self.obo.token(caller, [GRAPH_USER_READ]).await.map_err(|e| match e {
            OboError::ConsentRequired { .. } => format!(
                "Microsoft Graph needs consent first: the user, or an administrator for the whole tenant, must consent to the delegated permission User.Read for this app ({e})"
            ),
            OboError::InteractionRequired { ref claims, .. } => format!(
                "sign in again: a Conditional Access policy asks for more (claims challenge {claims}); {e}"
            ),
            other => other.to_string(),
        })?;
        let url = format!("{}/v1.0/me?$select=displayName,userPrincipalName,id", self.graph_endpoint);
        let response = self
            .http
            .get(url)
            .bearer_auth(token.access_token())
            .send()
            .await
            .map_err(|e| format!("Microsoft Graph could not be reached: {}", e.without_url()))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("Microsoft Graph answered HTTP {status} without JSON: {e}"))?;
        if !status.is_success() {
            let message = body.pointer("/error/message").and_then(serde_json::Value::as_str).unwrap_or("");
            return Err(format!("Microsoft Graph answered HTTP {status}: {message}"));
        }
        let field = |name: &str| body.get(name).cloned().unwrap_or(serde_json::Value::Null);
        Ok(json!({
            "displayName": field("displayName"),
            "userPrincipalName": field("userPrincipalName"),
            "id": field("id"),
        }))
    }
}

/// `get_forecast` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ForecastArgs {
    /// Latitude of a US location, e.g. 38.8894 (Washington, DC).
    pub latitude: f64,
    /// Longitude of a US location, e.g. -77.0352 (Washington, DC).
    pub longitude: f64,
}

/// `get_alerts` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AlertsArgs {
    /// Two-letter US state or territory code, e.g. CA, TX, NY.
    pub state: String,
}

/// `heat_index` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct HeatIndexArgs {
    /// Air temperature in degrees Fahrenheit, from -100 to 200.
    pub temperature_f: f64,
    /// Relative humidity in percent, from 0 to 100.
    pub relative_humidity: f64,
}

/// The weather MCP server (the Python original's demo, in Rust): `whoami`, `graph_me`,
/// `get_forecast`, `get_alerts` and `heat_index`.
#[derive(Debug, Clone)]
pub struct WeatherServer {
    nws: NwsClient,
    graph: Option<GraphAccess>,
    tool_router: ToolRouter<Self>,
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

fn weather_result(r: Result<String, WeatherError>) -> CallToolResult {
    match r {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(e) => {
            tracing::warn!(error = %e, "weather look-up failed");
            tool_error(e.to_string())
        }
    }
}

#[tool_router]
impl WeatherServer {
    /// A server that asks the NWS API through `nws`, and Microsoft Graph as the caller through
    /// `graph` (`None` without authentication: `graph_me` then says so).
    pub fn new(nws: NwsClient, graph: Option<GraphAccess>) -> Self {
        Self { nws, graph, tool_router: Self::tool_router() }
    }

    /// Who is calling, from the validated token.
    #[tool(
        description = "Who is calling: the identity in the caller's validated Microsoft Entra ID access token (object id, tenant id, user principal name, delegated scopes, app roles, and the client app's id). Works offline."
    )]
    pub async fn whoami(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let Some(claims) = caller(&ctx) else {
            return tool_error(
                "no authenticated caller: this server runs without authentication (benchmark baseline)",
            );
        };
        CallToolResult::structured(json!({
            "oid": claims.oid(),
            "tid": claims.tid(),
            "user_id": claims.user_id(),
            "upn": claims.user_principal_name(),
            "scopes": claims.scopes().collect::<Vec<_>>(),
            "roles": claims.roles().collect::<Vec<_>>(),
            "app_id": claims.app_id(),
        }))
    }

    /// The caller's Microsoft Graph profile, fetched on behalf of the caller.
    #[tool(
        description = "The caller's Microsoft Graph profile (display name, user principal name, object id), fetched from Microsoft Graph as the signed-in user with the on-behalf-of flow. Needs the delegated Graph permission User.Read, consented."
    )]
    pub async fn graph_me(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let (Some(graph), Some(claims)) = (&self.graph, caller(&ctx)) else {
            return tool_error(
                "no authenticated caller: this server runs without authentication (benchmark baseline)",
            );
        };
        match graph.me(claims).await {
            Ok(profile) => CallToolResult::structured(profile),
            Err(message) => {
                tracing::warn!(error = %message, "graph_me failed");
                tool_error(message)
            }
        }
    }

    /// NWS forecast.
    #[tool(
        description = "Weather forecast for a US location by latitude and longitude (National Weather Service, next five 12-hour periods). Needs internet access to api.weather.gov."
    )]
    pub async fn get_forecast(&self, Parameters(args): Parameters<ForecastArgs>) -> CallToolResult {
        weather_result(self.nws.forecast(args.latitude, args.longitude).await)
    }

    /// NWS alerts.
    #[tool(
        description = "Active weather alerts for a US state (National Weather Service). Needs internet access to api.weather.gov."
    )]
    pub async fn get_alerts(&self, Parameters(args): Parameters<AlertsArgs>) -> CallToolResult {
        weather_result(self.nws.alerts(&args.state).await)
    }

    /// Heat index, offline.
    #[tool(
        description = "Heat index (how hot it feels) in °F for an air temperature in °F and a relative humidity in %, by the National Weather Service's formula, with its risk category. Works offline."
    )]
    pub async fn heat_index(&self, Parameters(args): Parameters<HeatIndexArgs>) -> CallToolResult {
        let HeatIndexArgs { temperature_f: t, relative_humidity: rh } = args;
        if !(-100.0..=200.0).contains(&t) {
            return tool_error(format!(
                "temperature_f {t} is out of range: give degrees Fahrenheit from -100 to 200"
            ));
        }
        if !(0.0..=100.0).contains(&rh) {
            return tool_error(format!(
                "relative_humidity {rh} is out of range: give a percentage from 0 to 100"
            ));
        }
        let hi = (heat_index_f(t, rh) * 10.0).round() / 10.0;
        CallToolResult::structured(json!({
            "temperature_f": t,
            "relative_humidity": rh,
            "heat_index_f": hi,
            "category": heat_index_category(hi),
        }))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WeatherServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("weather-server", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "US weather from the National Weather Service (get_forecast, get_alerts), the heat index \
                 (heat_index, offline) and the caller's Microsoft Entra ID identity (whoami).",
            )
    }
}
