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
//! | `AZURE_OAUTH_MODE` | `bridge` (default: spec MCP clients) or `direct` (clients with their own Microsoft sign-in) |
//! | `BIND_ADDR` | listen address, default `127.0.0.1:8000` |
//! | `NWS_API_BASE` | the National Weather Service API, default `https://api.weather.gov` |
//! | `RUST_LOG` | log filter, default `info,rmcp=warn` |

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig};
use examples::demo::{Demo, REAL_APP_VARIABLES};
use examples::{DEFAULT_BIND_ADDR, ServerOptions, app, serve};
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
    let (auth, _emulator) = if env("AZURE_CLIENT_ID").is_some() {
        (AzureOAuth::from_env().map_err(|e| e.to_string())?, None)
    } else {
        let (config, emulator) = emulated(local).await?;
        (AzureOAuth::new(config), Some(emulator))
    };
    // Installed: `#[azure_mcp_auth]` handlers added to this server would share its validator.
    let auth = auth.install();
    let config = auth.config();

    let options = ServerOptions::new(config.base_url());
    tracing::info!(
        address = %local,
        resource_path = config.resource_path(),
        mode = ?config.mode(),
        authority_host = config.authority_host(),
        "weather MCP server listening"
    );
    let router = app(&auth, &options);
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
    let demo = Demo::start(local, env).await?;
    println!("{}", demo.banner());
    Ok((demo.config, demo.emulator))
}
