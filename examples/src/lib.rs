//! The weather MCP server of `cargo run -p examples --example weather_server`, as a library so
//! that the end-to-end tests and the benchmark build exactly the router the example serves.
//!
//! - [`tools::WeatherServer`]: an rmcp 3 server with seven tools (`whoami`, `graph_me`: the
//!   caller's Microsoft Graph profile through the on-behalf-of flow, `get_forecast`, `get_alerts`,
//!   `heat_index`, and two with their own requirements declared by `#[azure_mcp_auth(…)]`:
//!   `save_location` needs the delegated scope `Locations.ReadWrite`, `clear_locations` the app
//!   role `Weather.Admin`).
//! - [`app`]: the axum router: the OAuth routes of `axum-mcp-azure-oauth` (discovery,
//!   registration, the authorize/token bridge) and the MCP endpoint behind the crate's
//!   `mcp_layer()` (authentication, then the tools' requirements).
//! - [`demo::Demo`]: the zero-configuration run against the built-in Entra ID emulator.
//! - [`unprotected_app`]: the same MCP endpoint without authentication (the benchmark's baseline).

pub mod demo;
pub mod tools;
pub mod weather;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum_mcp_azure_oauth::config::AzureOAuthConfigBuilder;
use axum_mcp_azure_oauth::validate::ToolPolicyLayer;
use axum_mcp_azure_oauth::{AuthLayer, AzureClaims, AzureOAuth};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::layer::util::Stack;
use tower::{Layer, ServiceBuilder};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use tools::{ADMIN_ROLE, GraphAccess, LOCATIONS_SCOPE, Locations, WeatherServer};
pub use weather::NwsClient;

/// The API scope the weather server is built for (its tools read the caller's delegated token):
/// fixed in code, checked at compile time by `azure_oauth_routes!`.
pub const API_SCOPE: &str = "access_as_user";
/// Where the MCP endpoint is served: fixed in code, checked at compile time by
/// `azure_oauth_routes!`.
pub const RESOURCE_PATH: &str = "/mcp";

/// `builder` with what the example's tools require ([`WeatherServer::tool_policy`], from their
/// `#[azure_mcp_auth(…)]`): its protected resource metadata then lists `Locations.ReadWrite`
/// and [`app`]'s `mcp_layer()` enforces each tool's requirement. `main` gives the same policy to
/// `azure_oauth_routes!` (its `tool_policy` key).
pub fn with_tool_policy(builder: AzureOAuthConfigBuilder) -> AzureOAuthConfigBuilder {
    builder.tool_policy(WeatherServer::tool_policy())
}

/// Where the server listens unless `BIND_ADDR` says otherwise.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8000";

/// Options of the example server besides the OAuth configuration.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The National Weather Service API (`NWS_API_BASE`, default `https://api.weather.gov`).
    pub nws_api_base: String,
    /// `Host` header values the MCP endpoint answers (rmcp's DNS-rebinding guard): loopback
    /// names plus the host of the public base URL.
    pub allowed_hosts: Vec<String>,
    /// Cancelled on shutdown: ends the MCP service's open streams.
    pub shutdown: CancellationToken,
}

impl ServerOptions {
    /// Options for a server whose public base URL is `base_url` (if any), reading
    /// `NWS_API_BASE` from the environment.
    pub fn new(base_url: Option<&str>) -> Self {
        let mut allowed_hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).into();
        if let Some(host) = base_url.and_then(url_host)
            && !allowed_hosts.contains(&host)
        {
            allowed_hosts.push(host);
        }
        let nws_api_base = std::env::var("NWS_API_BASE")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| weather::DEFAULT_NWS_API_BASE.to_owned());
        Self { nws_api_base, allowed_hosts, shutdown: CancellationToken::new() }
    }

    /// The same options with another NWS API base (tests point it at an unreachable address).
    pub fn with_nws_api_base(mut self, base: impl Into<String>) -> Self {
        self.nws_api_base = base.into();
        self
    }
}

/// The host of an `http(s)://host[:port][/…]` URL, without the port.
fn url_host(base: &str) -> Option<String> {
    let rest = base.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The rmcp streamable-HTTP service of [`WeatherServer`], stateless with JSON responses: every
/// POST is answered on its own, so a single `tools/call` works without `initialize` first (and
/// any instance behind a load balancer can answer any request).
pub fn mcp_service(
    options: &ServerOptions,
    graph: Option<GraphAccess>,
) -> StreamableHttpService<WeatherServer, NeverSessionManager> {
    let nws = NwsClient::new(options.nws_api_base.clone());
    let locations = Locations::default();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(options.allowed_hosts.clone())
        .with_cancellation_token(options.shutdown.child_token());
    StreamableHttpService::new(
        move || Ok(WeatherServer::with_locations(nws.clone(), graph.clone(), locations.clone())),
        Arc::default(),
        config,
    )
}

/// The example's whole router for `auth`: its OAuth routes (protected resource metadata,
/// authorization server metadata, `/register`, the `/authorize` + `/token` bridge to Entra ID,
/// `/oauth/callback`) and the MCP endpoint at the configured resource path (`/mcp`) behind
/// `auth.mcp_layer()`, which answers 401/403 with an RFC 6750 challenge, hands the caller's
/// [`AzureClaims`] to the tools and checks each `tools/call` against the configuration's tool
/// policy ([`with_tool_policy`]). `main` builds the same router from `azure_oauth_routes!`
/// ([`app_with_routes`]); the tests and the benchmark build it from an [`AzureOAuth`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig};
/// use examples::{ServerOptions, app, serve};
///
/// let auth = AzureOAuth::new(examples::with_tool_policy(AzureOAuthConfig::builder().env(|k| std::env::var(k).ok())?).build()?).install();
/// let options = ServerOptions::new(auth.config().base_url());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// serve(listener, app(&auth, &options), options.shutdown.clone()).await?;
/// # Ok(()) }
/// ```
pub fn app(auth: &AzureOAuth, options: &ServerOptions) -> Router {
    app_with_routes(auth.router(), auth, options)
}

/// [`app`] around OAuth routes built elsewhere for `auth`: by `azure_oauth_routes!`, which
/// installs the app it builds (`AzureOAuth::installed` finds it), so that the routes and the
/// layer share one validator and one signing-key cache.
pub fn app_with_routes(oauth_routes: Router, auth: &AzureOAuth, options: &ServerOptions) -> Router {
    let graph = GraphAccess::new(auth.on_behalf_of().clone(), auth.config().graph_endpoint());
    let mcp = mcp_router(auth.config().resource_path(), options, Some((auth.mcp_layer(), graph)));
    with_tracing(oauth_routes.merge(mcp))
}

/// The same MCP endpoint at `/mcp`, with the same layers but the `AuthLayer`: the benchmark's
/// baseline. Never serve this beyond loopback.
pub fn unprotected_app(options: &ServerOptions) -> Router {
    with_tracing(mcp_router(axum_mcp_azure_oauth::config::DEFAULT_RESOURCE_PATH, options, None))
}

/// The MCP service at `path`, behind `auth` if given, with the authentication logs. The layers
/// wrap the service itself (not the router's route), so only the MCP endpoint is protected,
/// unknown paths still get 404, and a request passes through no more boxed services than
/// without authentication.
fn mcp_router(
    path: &str,
    options: &ServerOptions,
    auth: Option<(Stack<ToolPolicyLayer, AuthLayer>, GraphAccess)>,
) -> Router {
    let (auth, graph) = auth.unzip();
    let logged = ServiceBuilder::new()
        .layer(axum::middleware::from_fn(log_authenticated))
        .service(mcp_service(options, graph));
    let refusals = axum::middleware::from_fn(log_refused);
    match auth {
        Some(auth) => Router::new().nest_service(path, refusals.layer(auth.layer(logged))),
        None => Router::new().nest_service(path, refusals.layer(logged)),
    }
}

/// A span per request with the method and the path only: no headers (the `Authorization`
/// header) and no query string (an authorization `code` on `/oauth/callback`).
fn with_tracing(router: Router) -> Router {
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &Request| {
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
            })
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
    )
}

/// Logs each authenticated request (inside the `AuthLayer`): who, never the token.
async fn log_authenticated(request: Request, next: Next) -> Response {
    if let Some(claims) = request.extensions().get::<AzureClaims>() {
        tracing::info!(
            oid = claims.oid().unwrap_or("-"),
            tid = claims.tid(),
            app_id = claims.app_id().unwrap_or("-"),
            "authenticated"
        );
    }
    next.run(request).await
}

/// Logs each request the `AuthLayer` refused (outside it): the status and the challenge's
/// `error`/`error_description` — which name the reason, never the token.
async fn log_refused(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN {
        let challenge = response
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let error = challenge_param(challenge, "error").unwrap_or("missing_token");
        let description = challenge_param(challenge, "error_description").unwrap_or("no bearer token sent");
        tracing::warn!(status = status.as_u16(), error, description, "authentication refused");
    }
    response
}

/// The value of `name="…"` in a `WWW-Authenticate` challenge.
fn challenge_param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = challenge;
    while let Some(i) = rest.find(name) {
        let before_ok = i == 0 || matches!(rest.as_bytes()[i - 1], b' ' | b',');
        let after = &rest[i + name.len()..];
        if before_ok && let Some(value) = after.strip_prefix("=\"") {
            return value.split('"').next();
        }
        rest = after;
    }
    None
}

/// How long a client may take to send a request's headers before its connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take (the NWS look-ups time out after 10 s) before it gets 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until Ctrl-C (or SIGTERM on Unix), then lets open requests
/// finish. Unlike `axum::serve`, each connection gets a header read timeout
/// ([`HEADER_READ_TIMEOUT`]) and each request a time limit ([`REQUEST_TIMEOUT`]), so a client
/// that sends its request a byte at a time cannot hold a connection forever (see SECURITY.md).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_until(listener, router, shutdown, shutdown_signal()).await
}

/// [`serve`] until `signal` resolves instead of Ctrl-C.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let router =
        router.layer(TimeoutLayer::with_status_code(http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(signal);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tracing::info!("shutting down");
    drop(listener);
    shutdown.cancel();
    graceful.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_params_are_read_without_confusing_names() {
        let c = r#"Bearer resource_metadata="http://h/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="the token expired""#;
        assert_eq!(challenge_param(c, "error"), Some("invalid_token"));
        assert_eq!(challenge_param(c, "error_description"), Some("the token expired"));
        assert_eq!(challenge_param("Bearer scope=\"a\"", "error"), None);
    }

    #[test]
    fn hosts_of_base_urls() {
        assert_eq!(url_host("https://MCP.example.com:8443/x").as_deref(), Some("mcp.example.com"));
        assert_eq!(url_host("http://[::1]:8000").as_deref(), Some("::1"));
        assert_eq!(url_host("nonsense"), None);
    }
}

#[cfg(test)]
mod http_tests {
    use super::*;

    /// One `tools/call` POST, without `initialize` first, is answered with JSON (what the example
    /// prints as its curl line).
    #[tokio::test]
    async fn a_single_tools_call_is_answered_without_initialize() {
        let options = ServerOptions::new(None).with_nws_api_base("http://127.0.0.1:9");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = options.shutdown.clone();
        tokio::spawn(
            axum::serve(listener, unprotected_app(&options))
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .into_future(),
        );
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"heat_index","arguments":{"temperature_f":90,"relative_humidity":60}}}"#;
        let response = reqwest::Client::new()
            .post(format!("http://{addr}/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), 200);
        let json: serde_json::Value = response.json().await.expect("json");
        assert_eq!(json["result"]["structuredContent"]["heat_index_f"], 99.7, "{json}");
        assert_eq!(json["result"]["structuredContent"]["category"], "extreme caution", "{json}");
        options.shutdown.cancel();
    }
}

#[cfg(test)]
mod demo_tests {
    use super::*;
    use demo::{Demo, MCP_ACCEPT, WHOAMI_CALL, mcp_url};

    /// What the zero-configuration run prints works: the token, with the curl line's headers and
    /// body, calls `whoami` on the served router; without it, 401 with the challenge.
    #[tokio::test]
    async fn the_printed_token_and_curl_request_call_whoami() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let local = listener.local_addr().expect("addr");
        let demo = Demo::start(local, |_| None).await.expect("demo configuration");
        // Built as `main` builds it: `azure_oauth_routes!` reading the demo's environment, and
        // the installed app's layer around the MCP service.
        let routes: Router = axum_mcp_azure_oauth::azure_oauth_routes! {
            env: |name| demo.var(name),
            api_scope: API_SCOPE,
            resource_path: RESOURCE_PATH,
        };
        let auth = AzureOAuth::installed(&demo.emulator.app_id()).expect("installed by the macro");
        let config = auth.config();
        let token = demo.token(config);
        let banner = demo.banner(config, &token);
        assert!(banner.contains(&format!("export TOKEN='{token}'")), "{banner}");
        let curl = Demo::curl_line(config);
        assert!(banner.contains(&curl), "{banner}");
        assert!(curl.contains(WHOAMI_CALL) && curl.contains(MCP_ACCEPT) && curl.contains(&mcp_url(config)));
        assert_eq!(mcp_url(config), format!("http://{local}/mcp"));

        let options = ServerOptions::new(config.base_url());
        let shutdown = options.shutdown.clone();
        let router = app_with_routes(routes, &auth, &options);
        tokio::spawn(
            axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).into_future(),
        );
        let post = || {
            reqwest::Client::new()
                .post(mcp_url(config))
                .header("content-type", "application/json")
                .header("accept", MCP_ACCEPT)
                .body(WHOAMI_CALL)
        };
        let response = post().bearer_auth(&token).send().await.expect("send");
        assert_eq!(response.status(), 200);
        let json: serde_json::Value = response.json().await.expect("json");
        let me = &json["result"]["structuredContent"];
        assert_eq!(me["oid"], demo.emulator.user().oid.as_str(), "{json}");
        assert_eq!(me["upn"], demo.emulator.user().preferred_username.as_str(), "{json}");

        let unknown = reqwest::get(format!("http://{local}/nonexistent")).await.expect("send");
        assert_eq!(unknown.status(), 404, "only the MCP endpoint is protected");

        let response = post().send().await.expect("send");
        assert_eq!(response.status(), 401);
        let challenge = response.headers()[http::header::WWW_AUTHENTICATE].to_str().expect("ascii");
        assert!(
            challenge.contains(&format!("http://{local}/.well-known/oauth-protected-resource/mcp")),
            "{challenge}"
        );
        options.shutdown.cancel();
    }
}

#[cfg(test)]
mod serve_tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A client that never finishes its headers is cut off after [`HEADER_READ_TIMEOUT`] (in
    /// paused tokio time), a normal request is answered, and the signal stops the server
    /// gracefully and cancels the MCP service's token.
    #[tokio::test(start_paused = true)]
    async fn slow_headers_are_cut_off_and_the_signal_stops_the_server() {
        let options = ServerOptions::new(None).with_nws_api_base("http://127.0.0.1:9");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_until(
            listener,
            unprotected_app(&options),
            options.shutdown.clone(),
            async move {
                let _ = stopped.await;
            },
        ));

        let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
        slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.expect("write");
        let started = tokio::time::Instant::now();
        let mut buf = Vec::new();
        tokio::time::timeout(HEADER_READ_TIMEOUT * 2, slow.read_to_end(&mut buf))
            .await
            .expect("the server closes the connection")
            .expect("read");
        assert!(started.elapsed() >= HEADER_READ_TIMEOUT, "cut off after the header read timeout");
        assert!(!String::from_utf8_lossy(&buf).contains("200 OK"), "{buf:?}");

        let mut ok = tokio::net::TcpStream::connect(addr).await.expect("connect");
        ok.write_all(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        ok.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");

        assert!(!options.shutdown.is_cancelled());
        stop.send(()).expect("server running");
        server.await.expect("join").expect("served");
        assert!(options.shutdown.is_cancelled(), "the MCP service is told to stop");
    }
}
