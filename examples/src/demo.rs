//! The zero-configuration run of the example: the Entra ID emulator in the same process, a
//! configuration against it, a ready token, and the instructions the server prints.

use std::net::SocketAddr;
use std::time::Duration;

use axum_mcp_azure_oauth::AzureOAuthConfig;
use axum_mcp_azure_oauth::emulator::{Emulator, Platform};

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

/// The emulator, the server's configuration against it and a token for its user.
#[derive(Debug)]
pub struct Demo {
    /// The running emulator (stops when dropped).
    pub emulator: Emulator,
    /// The server's configuration: the emulator's app, the base URL of `local`, the loopback and
    /// MCP Inspector redirect URIs allowed, and whatever else `lookup` sets.
    pub config: AzureOAuthConfig,
    /// A delegated access token with the API scope, valid for [`TOKEN_LIFETIME`].
    pub token: String,
}

impl Demo {
    /// Starts the emulator and configures a server listening on `local` against it. `lookup`
    /// reads environment variables ([`REAL_APP_VARIABLES`] are ignored): `PUBLIC_BASE_URL`,
    /// `ALLOWED_REDIRECT_URIS`, `AZURE_OAUTH_MODE`, … still apply.
    pub async fn start(local: SocketAddr, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let emulator =
            Emulator::start().await.map_err(|e| format!("cannot start the Entra ID emulator: {e}"))?;
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
        let config = emulator
            .config()
            .base_url(format!("http://{host}"))
            .allowed_redirect_uris([LOOPBACK_REDIRECT_URI, INSPECTOR_REDIRECT_URI])
            .env(|name| if REAL_APP_VARIABLES.contains(&name) { None } else { lookup(name) })
            .and_then(|b| b.build())
            .map_err(|e| e.to_string())?;
        let token = emulator.token().scopes(config.api_scope()).expires_in(TOKEN_LIFETIME).sign();
        Ok(Self { emulator, config, token })
    }

    /// The MCP endpoint's URL.
    pub fn mcp_url(&self) -> String {
        self.config.resource_url().unwrap_or_default()
    }

    /// The `curl` line that calls `whoami` with `$TOKEN`.
    pub fn curl_line(&self) -> String {
        format!(
            "curl -s {} -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -H 'Accept: {MCP_ACCEPT}' -d '{WHOAMI_CALL}'",
            self.mcp_url()
        )
    }

    /// What the server prints at start: the URL, the token, the curl line, MCP Inspector.
    pub fn banner(&self) -> String {
        let mcp_url = self.mcp_url();
        let base = self.config.base_url().unwrap_or_default();
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

Without the token you get 401 and the challenge MCP clients start from:

  curl -si {mcp_url} -X POST

MCP Inspector (npx @modelcontextprotocol/inspector): choose transport "Streamable HTTP", URL {mcp_url}, then
either paste the token under Authentication → Bearer Token, or use "Open Auth Settings" → "Quick OAuth Flow":
Inspector discovers {base}/.well-known/oauth-protected-resource/mcp, registers at {base}/register and
signs in through this server's /authorize bridge (the emulator signs the user in and consents automatically).

For a real Entra ID app, set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (see examples/README.md).
Ctrl-C stops the server.
"#,
            authority = emu.authority_host(),
            tenant = emu.home_tenant(),
            app = emu.app_id(),
            user = emu.user().preferred_username,
            scope = self.config.qualified_scope(),
            token = self.token,
            curl = self.curl_line(),
        )
    }
}
