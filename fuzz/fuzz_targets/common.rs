//! What the targets share: a configuration like a real deployment's, a current-thread runtime, and
//! a helper that runs one request through a router and checks the answer's shape.
#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum_mcp_azure_oauth::AzureOAuthConfig;
use axum_mcp_azure_oauth::endpoints::OAuthEndpoints;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

pub const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const TENANT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// A client secret that must never appear in any answer.
pub const SECRET: &str = "fuzz~Secret.Value_0123456789abcdefGHIJ";
/// Nothing listens here: outgoing requests fail fast (connection refused) without leaving the host.
pub const DEAD_AUTHORITY: &str = "http://127.0.0.1:1";

pub static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a current-thread runtime")
});

/// A sealing key (enrol mode needs one for its consent page, and has no secret in `NO_SECRET`).
pub const STATE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Resolves nothing: a client id that is a metadata document URL never leaves the process.
pub struct NoDns;

impl axum_mcp_azure_oauth::config::HostResolver for NoDns {
    fn resolve(&self, _host: &str) -> axum_mcp_azure_oauth::config::Resolving {
        Box::pin(async { Err(std::io::Error::other("no DNS in the fuzz target")) })
    }
}

/// The enrol mode, with the redirect URIs of well-known MCP clients as an operator would allow them.
pub fn builder() -> axum_mcp_azure_oauth::config::AzureOAuthConfigBuilder {
    AzureOAuthConfig::builder()
        .mode(axum_mcp_azure_oauth::config::Mode::Enrol)
        .state_keys(STATE_KEY)
        .app_id(APP_ID)
        .tenant_id(TENANT_ID)
        .authority_host(DEAD_AUTHORITY)
        .graph_endpoint(DEAD_AUTHORITY)
        .base_url("https://mcp.example.com")
        .allowed_redirect_uris([
            "https://vscode.dev/redirect",
            "https://insiders.vscode.dev/redirect",
            "http://127.0.0.1:33418/",
            "https://claude.ai/api/mcp/auth_callback",
            "http://localhost/callback",
            "http://localhost:6274/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
        ])
        .allowed_redirect_uri_prefixes(["https://global.consent.azure-apim.net/redirect/"])
        .app_id_uris(["api://my-api"])
}

/// Endpoints without a client secret: registration never calls Graph.
pub static NO_SECRET: LazyLock<axum::Router> = LazyLock::new(|| {
    let config = builder().build().expect("valid fuzz configuration");
    OAuthEndpoints::new(Arc::new(config)).router()
});

/// Endpoints with a client secret (Graph and Entra unreachable).
pub static WITH_SECRET: LazyLock<axum::Router> = LazyLock::new(|| {
    let config = builder().client_secret(SECRET).build().expect("valid fuzz configuration");
    OAuthEndpoints::new(Arc::new(config)).router()
});

/// The broker (the default mode), with a secret and no DNS.
pub static BROKER: LazyLock<axum::Router> = LazyLock::new(|| {
    let config = builder()
        .mode(axum_mcp_azure_oauth::config::Mode::Broker)
        .client_secret(SECRET)
        .client_metadata_resolver(NoDns)
        .build()
        .expect("valid fuzz configuration");
    OAuthEndpoints::new(Arc::new(config)).router()
});

/// A browser page (consent or error): HTML that no frame, cache or referrer gets.
pub fn assert_page(response: &Response<()>, body: &[u8]) {
    let h = response.headers();
    assert_eq!(h.get(http::header::CONTENT_TYPE).map(|v| v.as_bytes()), Some(&b"text/html; charset=utf-8"[..]));
    assert_eq!(h.get(http::header::X_FRAME_OPTIONS).map(|v| v.as_bytes()), Some(&b"DENY"[..]));
    let csp = h.get(http::header::CONTENT_SECURITY_POLICY).expect("a CSP").to_str().expect("ASCII");
    assert!(csp.contains("frame-ancestors 'none'") && csp.starts_with("default-src 'none'"), "{csp}");
    assert_eq!(h.get(http::header::CACHE_CONTROL).map(|v| v.as_bytes()), Some(&b"no-store"[..]));
    let html = String::from_utf8(body.to_vec()).expect("UTF-8 page");
    assert_eq!(html.matches("<script").count(), 0, "markup from the request reached the page");
}

/// Sends `request` through `router`; the status, headers and body.
pub fn call(router: &axum::Router, request: Request<Body>) -> (Response<()>, Vec<u8>) {
    RUNTIME.block_on(async {
        let response = router.clone().oneshot(request).await.expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("in-memory body").to_bytes().to_vec();
        (Response::from_parts(parts, ()), bytes)
    })
}

/// Every error answer is an OAuth JSON error object, never cached, never a 500.
pub fn assert_oauth_error(response: &Response<()>, body: &[u8]) {
    let status = response.status();
    assert!(status != http::StatusCode::INTERNAL_SERVER_ERROR, "a 500 for fuzz input");
    assert!(status.is_client_error() || status.is_server_error(), "{status}");
    let json: serde_json::Value = serde_json::from_slice(body).expect("an error body is JSON");
    let error = json.get("error").and_then(serde_json::Value::as_str).expect("`error` is a string");
    assert!(!error.is_empty());
    assert_eq!(
        response.headers().get(http::header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
}

/// Whether the client itself sent the secret (raw or form-decoded): answers may then echo it (an
/// error naming the bad `redirect_uri`, for instance) without leaking anything. libFuzzer learns
/// the secret from the comparisons below and puts it into inputs.
pub fn input_has_secret(input: &[u8]) -> bool {
    let needle = SECRET.as_bytes();
    let decoded: String = url::form_urlencoded::parse(input).flat_map(|(k, v)| [k, v]).collect();
    input.windows(needle.len()).any(|w| w == needle) || decoded.contains(SECRET)
}

/// The secret never appears in an answer, header or body.
pub fn assert_no_secret(response: &Response<()>, body: &[u8]) {
    let needle = SECRET.as_bytes();
    assert!(!body.windows(needle.len()).any(|w| w == needle), "the client secret in a response body");
    for value in response.headers().values() {
        let v = value.as_bytes();
        assert!(!v.windows(needle.len()).any(|w| w == needle), "the client secret in a response header");
    }
}
