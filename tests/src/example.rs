//! The weather example (`examples::app`) served on 127.0.0.1 against the emulator, and what the
//! end-to-end tests do with it as rmcp's client: the unauthenticated probe and tool calls (the
//! browser that walks the authorization redirects and consent page is
//! [`HttpBrowser`](crate::browser::HttpBrowser)).

use axum_mcp_azure_oauth::config::{AzureOAuthConfigBuilder, Mode};
use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig};
use examples::ServerOptions;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};

use crate::offline::CLOSED;
use crate::serve::{Port, Served};

/// The example server on an ephemeral loopback port, configured against `emu`; stopped (its MCP
/// streams ended) when dropped.
#[derive(Debug)]
pub struct Server {
    pub emu: Emulator,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The protected MCP endpoint.
    pub mcp_url: String,
    /// The mode it runs in.
    pub mode: Mode,
    _served: Served,
}

/// The example server against `emu`, with the emulator's preset configuration (`base_url` set,
/// the example's tool policy) changed by `configure`.
pub async fn serve(
    emu: Emulator,
    configure: impl FnOnce(AzureOAuthConfigBuilder) -> AzureOAuthConfigBuilder,
) -> Server {
    let preset = emu.clone();
    serve_config(emu, move |base| {
        configure(examples::with_tool_policy(preset.config().base_url(base)))
            .build()
            .expect("a valid test configuration")
    })
    .await
}

/// The example server with the configuration `configure` makes for its base URL
/// (`http://127.0.0.1:{port}`).
pub async fn serve_config(emu: Emulator, configure: impl FnOnce(&str) -> AzureOAuthConfig) -> Server {
    let port = Port::bind().await;
    let config = configure(port.base());
    serve_on(port, emu, config)
}

/// The example server on `port` with `config`.
pub fn serve_on(port: Port, emu: Emulator, config: AzureOAuthConfig) -> Server {
    // Nothing listens on the discard port: the NWS tools must answer with a clear tool error.
    let mut options = ServerOptions::new(config.base_url()).with_nws_api_base(CLOSED);
    options.shutdown = port.shutdown();
    let mcp_url = config.resource_url().expect("base URL configured");
    let mode = config.mode();
    let served = port.serve(examples::app(&AzureOAuth::new(config), &options));
    Server { emu, base: served.base.clone(), mcp_url, mode, _served: served }
}

/// Step 1: an MCP `initialize` without a token; returns the 401's `WWW-Authenticate` challenge.
pub async fn unauthenticated_challenge(mcp_url: &str) -> String {
    let error = ().serve(StreamableHttpClientTransport::from_uri(mcp_url)).await.expect_err("no token: 401");
    assert!(error.is_authorization_required(), "expected a 401 challenge, got {error:?}");
    error.auth_challenge().expect("the 401 carries WWW-Authenticate").to_owned()
}

/// `tools/call` of `tool` with `args` (a JSON object).
pub async fn call(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else { panic!("arguments are an object") };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
    client.call_tool(params).await.expect("tools/call")
}

/// The caller's identity as `whoami` reports it.
pub async fn whoami(client: &RunningService<RoleClient, ()>) -> Value {
    let result = call(client, "whoami", json!({})).await;
    assert_eq!(result.is_error, Some(false), "{result:?}");
    result.structured_content.expect("whoami returns structured content")
}
