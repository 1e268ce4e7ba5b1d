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
//! Against a real app registration, set (`examples/README.md` describes the app registration):
//!
//! | variable | meaning |
//! | --- | --- |
//! | `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` | the app registration (required) |
//! | `AZURE_CLIENT_SECRET` | needed to enrol redirect URIs through Graph and for `web` redirects |
//! | `PUBLIC_BASE_URL` | the URL clients reach this server at, e.g. `https://weather.example.com` |
//! | `ALLOWED_REDIRECT_URIS` | comma-separated client redirect URIs `/register` may enrol |
//! | `AZURE_ALLOWED_TENANT_IDS` | comma-separated tenant GUIDs, or `*`; default the home tenant |
//! | `AZURE_AUTHORITY_HOST`, `MICROSOFT_GRAPH_ENDPOINT` | national clouds, or another emulator |
//! | `AZURE_OAUTH_MODE` | `broker` (default: any spec MCP client, through this server's consent page), `enrol` (client redirect URIs written to the app registration) or `direct` (clients with their own Microsoft sign-in) |
//! | `BIND_ADDR` | listen address, default `127.0.0.1:8000` |
//! | `NWS_API_BASE` | the National Weather Service API, default `https://api.weather.gov` |
//! | `RUST_LOG` | log filter, default `info,rmcp=warn` |

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig, azure_oauth_routes};
use examples::demo::{Demo, REAL_APP_VARIABLES};
use examples::{
    API_SCOPE, DEFAULT_BIND_ADDR, RESOURCE_PATH, ServerOptions, WeatherServer, app_with_routes, serve,
};
use tracing_subscriber::EnvFilter;

/// The log filter unless `RUST_LOG` says otherwise (rmcp logs every stateless request at info).
const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weather_server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run());
    // Requests have finished (graceful shutdown); background work is not waited for.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weather_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An environment variable; empty counts as unset.
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

    // Without AZURE_CLIENT_ID, the built-in emulator stands in for Entra ID (and runs as long as
    // the server): the configuration then names its app.
    let demo = match env("AZURE_CLIENT_ID") {
        Some(_) => None,
        None => Some(emulated(local).await?),
    };
    let lookup = |name: &str| match &demo {
        Some(demo) => demo.var(name),
        None => env(name),
    };
    // A misconfigured environment is reported here, as an error naming the variable; the macro
    // below would stop the server with a panic carrying the same message.
    let config = AzureOAuthConfig::builder()
        .env(lookup)
        .and_then(|b| b.api_scope(API_SCOPE).resource_path(RESOURCE_PATH).build())
        .map_err(|e| e.to_string())?;

    // The OAuth endpoints: what the code fixes is checked at compile time, the rest comes from
    // the environment (`AZURE_CLIENT_ID`, `PUBLIC_BASE_URL`, `ALLOWED_REDIRECT_URIS`, …). The
    // macro installs the app it builds ...
    let oauth_routes: Router = azure_oauth_routes! {
        env: lookup,
        api_scope: API_SCOPE,
        resource_path: RESOURCE_PATH,
        // What each tool requires, from its `#[azure_mcp_auth(…)]` (examples/src/tools.rs).
        tool_policy: WeatherServer::tool_policy(),
    };
    // ... whose layer protects the MCP service: routes, layer (and any `#[azure_mcp_auth]`
    // handler) share one validator and one signing-key cache.
    let auth = AzureOAuth::installed(config.app_id())
        .ok_or_else(|| format!("azure_oauth_routes! installed no app {}", config.app_id()))?;
    let config = auth.config();

    if let Some(demo) = &demo {
        println!("{}", demo.banner(config, &demo.token(config)));
    }
    let options = ServerOptions::new(config.base_url());
    tracing::info!(
        address = %local,
        resource_path = config.resource_path(),
        mode = ?config.mode(),
        authority_host = config.authority_host(),
        "weather MCP server listening"
    );
    let router = app_with_routes(oauth_routes, &auth, &options);
    serve(listener, router, options.shutdown.clone()).await.map_err(|e| format!("server failed: {e}"))
}

/// Starts the Entra ID emulator for a server on `local`, warning about the variables it ignores.
async fn emulated(local: SocketAddr) -> Result<Demo, String> {
    for name in REAL_APP_VARIABLES {
        if env(name).is_some() {
            tracing::warn!(
                variable = name,
                "ignored: AZURE_CLIENT_ID is not set, so the built-in emulator stands in for Entra ID"
            );
        }
    }
    Demo::start(local, env).await
}
