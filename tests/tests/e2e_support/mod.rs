//! What the end-to-end tests share: the example server on a loopback port, the unauthenticated
//! probe, the browser that walks the authorization redirects, and tool calls.
#![allow(dead_code)] // each test file uses a different part

use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig, AzureOAuthConfigBuilder};
use base64::Engine as _;
use examples::ServerOptions;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};

/// The example server on an ephemeral loopback port, configured against `emu`.
pub struct Server {
    pub emu: Emulator,
    pub base: String,
    pub mcp_url: String,
    pub options: ServerOptions,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.options.shutdown.cancel();
    }
}

/// The example server against `emu`, with the emulator's preset configuration (`base_url` set)
/// changed by `configure`.
pub async fn serve(
    emu: Emulator,
    configure: impl FnOnce(AzureOAuthConfigBuilder) -> AzureOAuthConfigBuilder,
) -> Server {
    let preset = emu.clone();
    serve_config(emu, move |base| {
        configure(preset.config().base_url(base)).build().expect("valid test configuration")
    })
    .await
}

/// The example server with the configuration `configure` makes for its base URL
/// (`http://127.0.0.1:{port}`).
pub async fn serve_config(emu: Emulator, configure: impl FnOnce(&str) -> AzureOAuthConfig) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let config = configure(&base);
    serve_on(listener, emu, config)
}

/// The example server on `listener` with `config`.
pub fn serve_on(listener: tokio::net::TcpListener, emu: Emulator, config: AzureOAuthConfig) -> Server {
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    // Nothing listens on the discard port: the NWS tools must answer with a clear tool error.
    let options = ServerOptions::new(config.base_url()).with_nws_api_base("http://127.0.0.1:9");
    let mcp_url = config.resource_url().expect("base URL configured");
    let router = examples::app(&AzureOAuth::new(config), &options);
    let shutdown = options.shutdown.clone();
    tokio::spawn(
        axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).into_future(),
    );
    Server { emu, base, mcp_url, options }
}

/// Step 1: an MCP `initialize` without a token; returns the 401's `WWW-Authenticate` challenge.
pub async fn unauthenticated_challenge(mcp_url: &str) -> String {
    let error = ().serve(StreamableHttpClientTransport::from_uri(mcp_url)).await.expect_err("no token: 401");
    assert!(error.is_authorization_required(), "expected a 401 challenge, got {error:?}");
    error.auth_challenge().expect("the 401 carries WWW-Authenticate").to_owned()
}

/// The browser: GETs `url` and each `Location` in turn, never following a redirect by itself,
/// until a `Location` leads to `redirect_uri`; returns that URL (with `code` and `state`) and the
/// hosts passed through.
pub async fn browse_to_redirect(url: &str, redirect_uri: &str) -> (String, Vec<String>) {
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let mut current = url::Url::parse(url).expect("authorization URL");
    let mut hops = vec![current.origin().ascii_serialization()];
    for _ in 0..6 {
        let response = http.get(current.clone()).send().await.expect("GET in the browser");
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let Some(location) = location.filter(|_| status.is_redirection()) else {
            let body = response.text().await.unwrap_or_default();
            panic!("{current} answered {status} instead of a redirect: {body}");
        };
        let next = current.join(&location).expect("Location is a URL");
        if next.as_str().starts_with(redirect_uri) {
            return (next.into(), hops);
        }
        hops.push(next.origin().ascii_serialization());
        current = next;
    }
    panic!("no redirect to {redirect_uri} after six hops: {hops:?}");
}

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

/// The payload of a JWT, decoded (no verification: the server did that).
pub fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url"),
    )
    .expect("JSON payload")
}
