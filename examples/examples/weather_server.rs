//! The weather MCP server, protected by Microsoft Entra ID through `axum-mcp-azure-oauth`.
//!
//! ```text
//! cargo run -p examples --example weather_server
//! ```
//!
//! With no `AZURE_CLIENT_ID` in the environment it starts the crate's built-in Entra ID + Graph
//! emulator in the same process, so it runs on a fresh clone with no Azure account, and prints the
//! MCP URL, a bearer token valid for an hour, a `curl` line that calls a tool, and how to connect
//! MCP Inspector.
//!
//! Against a real app registration, set (see the README for the app registration itself):
//!
//! | variable | meaning |
//! | --- | --- |
//! | `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` | the app registration (required) |
//! | `AZURE_CLIENT_SECRET` | needed to enrol redirect URIs through Graph and for `web` redirects |
//! | `PUBLIC_BASE_URL` | the URL clients reach this server at, e.g. `https://weather.example.com` |
//! | `ALLOWED_REDIRECT_URIS` | comma-separated client redirect URIs `/register` may enrol |
//! | `AZURE_ALLOWED_TENANT_IDS` | comma-separated tenant GUIDs, or `*`; default the home tenant |
//! | `AZURE_AUTHORITY_HOST`, `MICROSOFT_GRAPH_ENDPOINT` | national clouds, or another emulator |
//! | `AZURE_OAUTH_MODE` | `bridge` (default: spec MCP clients) or `direct` (clients with their own Microsoft sign-in) |
//! | `BIND_ADDR` | listen address, default `127.0.0.1:8000` |
//! | `NWS_API_BASE` | the National Weather Service API, default `https://api.weather.gov` |
//! | `RUST_LOG` | log filter, default `info,rmcp=warn` |

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum_mcp_azure_oauth::AzureOAuthConfig;
use axum_mcp_azure_oauth::emulator::{Emulator, Platform};
use examples::{DEFAULT_BIND_ADDR, ServerOptions, app, serve};
use tracing_subscriber::EnvFilter;

/// The log filter unless `RUST_LOG` says otherwise (rmcp logs every stateless request at info).
const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";
/// MCP Inspector's OAuth callback (`npx @modelcontextprotocol/inspector`).
const INSPECTOR_REDIRECT_URI: &str = "http://localhost:6274/oauth/callback";
/// A loopback redirect URI for native clients; Entra ignores the port of loopback URIs.
const LOOPBACK_REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// Variables that name a real Entra app or cloud, ignored when the emulator stands in.
const REAL_APP_VARIABLES: [&str; 4] =
    ["AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST", "MICROSOFT_GRAPH_ENDPOINT"];

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weather_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), String> {
    let bind = env("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_owned());
    let bind: SocketAddr = bind
        .parse()
        .map_err(|e| format!("BIND_ADDR={bind:?} is not an address such as 127.0.0.1:8000 ({e})"))?;
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        format!(
            "cannot listen on {bind} ({e}); set BIND_ADDR to a free address, e.g. BIND_ADDR=127.0.0.1:8001"
        )
    })?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;

    // Keeps the emulator (if any) running as long as the server.
    let (config, _emulator) = if env("AZURE_CLIENT_ID").is_some() {
        let config = AzureOAuthConfig::from_env().map_err(|e| e.to_string())?;
        (config, None)
    } else {
        let (config, emulator) = emulated(local).await?;
        (config, Some(emulator))
    };

    let options = ServerOptions::new(config.base_url());
    tracing::info!(
        address = %local,
        resource_path = config.resource_path(),
        mode = ?config.mode(),
        authority_host = config.authority_host(),
        "weather MCP server listening"
    );
    let router = app(config, &options);
    serve(listener, router, options.shutdown.clone()).await.map_err(|e| format!("server failed: {e}"))
}

/// Starts the Entra ID emulator, configures the server against it and prints how to call it.
async fn emulated(local: SocketAddr) -> Result<(AzureOAuthConfig, Emulator), String> {
    for name in REAL_APP_VARIABLES {
        if env(name).is_some() {
            tracing::warn!(
                variable = name,
                "ignored: AZURE_CLIENT_ID is not set, so the built-in emulator stands in for Entra ID"
            );
        }
    }
    let emulator = Emulator::start().await.map_err(|e| format!("cannot start the Entra ID emulator: {e}"))?;
    emulator.set_redirect_uris(
        Platform::PublicClient,
        vec![LOOPBACK_REDIRECT_URI.to_owned(), INSPECTOR_REDIRECT_URI.to_owned()],
    );
    // An unspecified bind address (0.0.0.0) is reached through loopback on this machine.
    let host =
        if local.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], local.port())) } else { local };
    let base_url = format!("http://{host}");
    let config = emulator
        .config()
        .base_url(&base_url)
        .allowed_redirect_uris([LOOPBACK_REDIRECT_URI, INSPECTOR_REDIRECT_URI])
        .env(|name| if REAL_APP_VARIABLES.contains(&name) { None } else { env(name) })
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let token = emulator.token().scopes(config.api_scope()).expires_in(Duration::from_secs(3600)).sign();
    let mcp_url = config.resource_url().unwrap_or_else(|| format!("{base_url}/mcp"));
    let base = config.base_url().unwrap_or(&base_url).to_owned();
    println!(
        r#"
Weather MCP server — running against the built-in Entra ID emulator (no AZURE_CLIENT_ID set).

  MCP endpoint:   {mcp_url}
  Entra emulator: {authority}  (tenant {tenant}, app {app})

A bearer token for user {user} with scope {scope}, valid for one hour:

  export TOKEN='{token}'

Call a tool (the server is stateless, so no initialize is needed first):

  curl -s {mcp_url} -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"whoami","arguments":{{}}}}}}'

Without the token you get 401 and the challenge MCP clients start from:

  curl -si {mcp_url} -X POST

MCP Inspector (npx @modelcontextprotocol/inspector): choose transport "Streamable HTTP", URL {mcp_url}, then
either paste the token under Authentication → Bearer Token, or use "Open Auth Settings" → "Quick OAuth Flow":
Inspector discovers {base}/.well-known/oauth-protected-resource/mcp, registers at {base}/register and
signs in through this server's /authorize bridge (the emulator consents automatically).

For a real Entra ID app, set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (see the README).
Ctrl-C stops the server.
"#,
        authority = emulator.authority_host(),
        tenant = emulator.home_tenant(),
        app = emulator.app_id(),
        user = emulator.user().preferred_username,
        scope = config.qualified_scope(),
    );
    Ok((config, emulator))
}
