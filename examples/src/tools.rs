//! The weather MCP server: its tools and how they read the caller's identity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum_mcp_azure_oauth::obo::{OboError, OnBehalfOf};
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};
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

/// The delegated scope `save_location` needs beyond the MCP route's `access_as_user`: the app
/// registration exposes it (Expose an API), and a client signs in again for it when the tool
/// answers 403 (step-up).
pub const LOCATIONS_SCOPE: &str = "Locations.ReadWrite";

/// The app role `clear_locations` needs: the app registration defines it (App roles, for users and
/// applications) and an administrator assigns it; signing in again cannot grant it.
pub const ADMIN_ROLE: &str = "Weather.Admin";

/// Most locations one caller may save (the store lives in memory).
const MAX_SAVED: usize = 20;

/// A location the caller saved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SavedLocation {
    /// The caller's name for it.
    pub name: String,
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
}

/// Every caller's saved locations, by the caller's object id (or subject): in memory, shared by
/// the server instances of one process.
#[derive(Debug, Clone, Default)]
pub struct Locations(Arc<Mutex<HashMap<String, Vec<SavedLocation>>>>);

impl Locations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<SavedLocation>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `save_location` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SaveLocationArgs {
    /// A short name for the location, e.g. "home" (1 to 64 characters).
    pub name: String,
    /// Latitude, from -90 to 90.
    pub latitude: f64,
    /// Longitude, from -180 to 180.
    pub longitude: f64,
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
/// `get_forecast`, `get_alerts` and `heat_index`; and, to show least privilege per tool,
/// `save_location` (needs the delegated scope [`LOCATIONS_SCOPE`]) and `clear_locations` (needs
/// the app role [`ADMIN_ROLE`]), whose requirements [`WeatherServer::tool_policy`] collects.
#[derive(Debug, Clone)]
pub struct WeatherServer {
    nws: NwsClient,
    graph: Option<GraphAccess>,
    locations: Locations,
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

#[azure_mcp_auth]
#[tool_router]
impl WeatherServer {
    /// A server that asks the NWS API through `nws`, and Microsoft Graph as the caller through
    /// `graph` (`None` without authentication: `graph_me` then says so), with its own location
    /// store.
    pub fn new(nws: NwsClient, graph: Option<GraphAccess>) -> Self {
        Self::with_locations(nws, graph, Locations::default())
    }

    /// [`new`](Self::new), saving locations in `locations` (shared by the instances a stateless
    /// service creates per request).
    pub fn with_locations(nws: NwsClient, graph: Option<GraphAccess>, locations: Locations) -> Self {
        Self { nws, graph, locations, tool_router: Self::tool_router() }
    }

    /// Saves a location for the caller: needs the delegated scope `Locations.ReadWrite`.
    #[azure_mcp_auth(scope = LOCATIONS_SCOPE)]
    #[tool(
        description = "Saves a named location (latitude, longitude) for the caller and returns the caller's saved locations. Needs the delegated permission Locations.ReadWrite: a client that signed in without it is asked to sign in again for it. Works offline."
    )]
    pub async fn save_location(
        &self,
        ctx: RequestContext<RoleServer>,
        Parameters(args): Parameters<SaveLocationArgs>,
    ) -> CallToolResult {
        let Some(owner) = caller(&ctx).and_then(|c| c.user_id().or(c.oid()).map(str::to_owned)) else {
            return tool_error("no authenticated caller: saved locations belong to a signed-in user");
        };
        let SaveLocationArgs { name, latitude, longitude } = args;
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 64 {
            return tool_error("name must be 1 to 64 characters, e.g. \"home\"");
        }
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return tool_error("latitude must be from -90 to 90 and longitude from -180 to 180");
        }
        let mut all = self.locations.lock();
        let saved = all.entry(owner).or_default();
        saved.retain(|l| l.name != name);
        if saved.len() >= MAX_SAVED {
            return tool_error(format!(
                "at most {MAX_SAVED} locations can be saved: ask an administrator to clear them"
            ));
        }
        saved.push(SavedLocation { name, latitude, longitude });
        CallToolResult::structured(json!({ "saved": saved.clone() }))
    }

    /// Clears every caller's saved locations: needs the app role `Weather.Admin`.
    #[azure_mcp_auth(roles = ADMIN_ROLE)]
    #[tool(
        description = "Clears the saved locations of every caller. Needs the app role Weather.Admin, assigned by an administrator to the user or the calling app (signing in again does not grant it)."
    )]
    pub async fn clear_locations(&self) -> CallToolResult {
        let mut all = self.locations.lock();
        let cleared: usize = all.values().map(Vec::len).sum();
        all.clear();
        CallToolResult::structured(json!({ "cleared": cleared }))
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
                 (heat_index, offline), the caller's Microsoft Entra ID identity (whoami) and saved \
                 locations (save_location, which needs the Locations.ReadWrite permission; \
                 clear_locations, for administrators).",
            )
    }
}
