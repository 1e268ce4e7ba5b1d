//! The zero-configuration run of the example: the Entra ID emulator in the same process, a
//! configuration against it, a ready token, and the instructions the server prints.

use std::net::SocketAddr;
use std::time::Duration;

use axum_mcp_azure_oauth::config::Mode;
use axum_mcp_azure_oauth::emulator::{Emulator, EmulatorBuilder, Platform};
use axum_mcp_azure_oauth::{AzureOAuthConfig, ConfigError};

/// MCP Inspector's OAuth callback (`npx @modelcontextprotocol/inspector`).
pub const INSPECTOR_REDIRECT_URI: &str = "http://localhost:6274/oauth/callback";
/// A loopback redirect URI for native clients (Entra ignores the port of loopback URIs, and so
/// does `/register`'s allow-list).
pub const LOOPBACK_REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// Variables that name a real Entra app or cloud; ignored when the emulator stands in.
pub const REAL_APP_VARIABLES: [&str; 4] =
    ["AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST", "MICROSOFT_GRAPH_ENDPOINT"];
/// The JSON-RPC body of the printed `curl` line: `tools/call` of `whoami`.
pub const WHOAMI_CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;
/// The `Accept` header streamable HTTP requires on a POST.
pub const MCP_ACCEPT: &str = "application/json, text/event-stream";
/// How long the printed token is valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The emulator's app as the example needs it: it exposes the API scope and `Locations.ReadWrite`
/// (Expose an API) and grants itself the app role `Weather.Admin` (App roles; client-credentials
/// tokens carry it). The signed-in user has no app role, so `clear_locations` refuses them.
pub fn emulator() -> EmulatorBuilder {
    Emulator::builder()
        .exposed_scopes([crate::API_SCOPE, crate::LOCATIONS_SCOPE])
        .app_roles([crate::ADMIN_ROLE])
}

/// Reads one environment variable.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The emulator standing in for Entra ID, and the environment a server reads against it.
pub struct Demo {
    /// The running emulator (stops when dropped).
    pub emulator: Emulator,
    /// The emulator's app variables ([`Emulator::env_vars`]) and this run's defaults.
    vars: Vec<(&'static str, String)>,
    /// The environment, for every other variable.
    lookup: Lookup,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo").field("emulator", &self.emulator).finish_non_exhaustive()
    }
}

impl Demo {
    /// Starts the emulator, with the loopback and MCP Inspector redirect URIs registered (for the
    /// enrol mode), for a server listening on `local`. `lookup` reads the environment
    /// ([`REAL_APP_VARIABLES`] are ignored): `PUBLIC_BASE_URL`, `ALLOWED_REDIRECT_URIS`,
    /// `AZURE_OAUTH_MODE`, … still apply.
    pub async fn start(
        local: SocketAddr,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let emulator =
            emulator().start().await.map_err(|e| format!("cannot start the Entra ID emulator: {e}"))?;
        emulator.set_redirect_uris(
            Platform::PublicClient,
            vec![LOOPBACK_REDIRECT_URI.to_owned(), INSPECTOR_REDIRECT_URI.to_owned()],
        );
        // An unspecified bind address (0.0.0.0) is reached through loopback on this machine.
        let host = if local.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], local.port()))
        } else {
            local
        };
        let mut vars = emulator.env_vars();
        vars.push(("PUBLIC_BASE_URL", format!("http://{host}")));
        // The broker (the default) takes any client's redirect URI; the enrol mode writes them to
        // the app registration, so it needs the operator's list.
        if lookup("AZURE_OAUTH_MODE").and_then(|m| m.parse::<Mode>().ok()) == Some(Mode::Enrol) {
            vars.push(("ALLOWED_REDIRECT_URIS", format!("{LOOPBACK_REDIRECT_URI},{INSPECTOR_REDIRECT_URI}")));
        }
        Ok(Self { emulator, vars, lookup: Box::new(lookup) })
    }

    /// The server's environment variable `name`: the emulator's app for `AZURE_CLIENT_ID` and
    /// [`REAL_APP_VARIABLES`]; otherwise the environment, else this run's default (the base URL of
    /// `local`; in enrol mode the loopback and MCP Inspector redirect URIs). What `azure_oauth_routes!` reads
    /// through its `env` key in `cargo run --example weather_server`.
    pub fn var(&self, name: &str) -> Option<String> {
        var(&self.vars, &self.lookup, name)
    }

    /// The configuration [`var`](Self::var) gives, with nothing else set.
    pub fn config(&self) -> Result<AzureOAuthConfig, ConfigError> {
        crate::with_tool_policy(AzureOAuthConfig::builder().env(|name| self.var(name))?).build()
    }

    /// A delegated access token of the emulator's user with `config`'s API scope, valid for
    /// [`TOKEN_LIFETIME`].
    pub fn token(&self, config: &AzureOAuthConfig) -> String {
        self.emulator.token().scopes(config.api_scope()).expires_in(TOKEN_LIFETIME).sign()
    }

    /// The `curl` line that calls `whoami` with `$TOKEN` at `config`'s MCP endpoint.
    pub fn curl_line(config: &AzureOAuthConfig) -> String {
        format!(
            "curl -s {} -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -H 'Accept: {MCP_ACCEPT}' -d '{WHOAMI_CALL}'",
            mcp_url(config)
        )
    }

    /// What the server prints at start: the URL, the `token`, the curl line, MCP Inspector.
    pub fn banner(&self, config: &AzureOAuthConfig, token: &str) -> String {
        let mcp_url = mcp_url(config);
        let base = config.base_url().unwrap_or_default();
        let path = config.resource_path();
        let emu = &self.emulator;
        format!(
            r#"
Weather MCP server — running against the built-in Entra ID emulator (no AZURE_CLIENT_ID set).

  MCP endpoint:   {mcp_url}
  Entra emulator: {authority}  (tenant {tenant}, app {app})

A bearer token for user {user} with scope {scope}, valid for one hour:

  export TOKEN='{token}'

Call a tool (the server is stateless, so no initialize is needed first):

  {curl}

Tools: whoami, graph_me (your Microsoft Graph profile, fetched on your behalf through the on-behalf-of
flow), heat_index, get_forecast and get_alerts (these two need api.weather.gov). Call graph_me the
same way with "name":"graph_me". Least privilege per tool: save_location needs the scope
Locations.ReadWrite, which this token lacks (403 insufficient_scope; an MCP client signs in again for
it), and clear_locations the app role Weather.Admin, which this user lacks (403 naming the role).

Without the token you get 401 and the challenge MCP clients start from:

  curl -si {mcp_url} -X POST

MCP Inspector (npx @modelcontextprotocol/inspector): choose transport "Streamable HTTP", URL {mcp_url}, then
either paste the token under Authentication → Bearer Token, or use "Open Auth Settings" → "Quick OAuth Flow":
Inspector discovers {base}/.well-known/oauth-protected-resource{path}, registers at {base}/register, and
this server's consent page ({base}/authorize) asks you to allow it; the emulator then signs the user in.

For a real Entra ID app, set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (see examples/README.md).
Ctrl-C stops the server.
"#,
            authority = emu.authority_host(),
            tenant = emu.home_tenant(),
            app = emu.app_id(),
            user = emu.user().preferred_username,
            scope = config.qualified_scope(),
            curl = Self::curl_line(config),
        )
    }
}

/// `config`'s MCP endpoint URL.
pub fn mcp_url(config: &AzureOAuthConfig) -> String {
    config.resource_url().unwrap_or_default()
}

/// [`Demo::var`].
fn var(
    vars: &[(&'static str, String)],
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Option<String> {
    let ours = vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    if name == "AZURE_CLIENT_ID" || REAL_APP_VARIABLES.contains(&name) {
        return ours;
    }
    lookup(name).filter(|v| !v.trim().is_empty()).or(ours)
}
