//! Shared setup of the endpoint and Graph tests: the router served on 127.0.0.1, a client that
//! follows no redirects, PKCE, and checks that the client secret never leaks.
#![allow(dead_code)] // each test binary uses a part

pub mod flow;

use std::sync::Arc;

use axum_mcp_azure_oauth::{AzureOAuthConfig, AzureOAuthConfigBuilder, GraphClient, OAuthEndpoints};
use base64::Engine as _;
use serde_json::Value;

/// The endpoints served on an ephemeral port.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub endpoints: OAuthEndpoints,
}

/// Binds a port, sets the base URL to it (when `with_base`), builds the configuration and serves
/// [`OAuthEndpoints::router`].
pub async fn serve_with(
    builder: AzureOAuthConfigBuilder,
    with_base: bool,
    graph: Option<GraphClient>,
) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let base = format!("http://127.0.0.1:{}", listener.local_addr().expect("local address").port());
    let builder = if with_base { builder.base_url(&base) } else { builder };
    let config = Arc::new(builder.build().expect("valid test configuration"));
    let endpoints = match graph {
        Some(g) => OAuthEndpoints::with_graph_client(config, g),
        None => OAuthEndpoints::new(config),
    };
    let app: axum::Router = endpoints.router();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    Served { base, endpoints }
}

/// [`serve_with`] with the base URL configured and the default Graph client.
pub async fn serve(builder: AzureOAuthConfigBuilder) -> Served {
    serve_with(builder, true, None).await
}

/// A client that follows no redirects (they are followed by hand).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("reqwest client")
}

/// A response read whole: status, headers and body, checked never to contain `secret`.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub async fn read(response: reqwest::Response, secret: &str) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        assert_no_secret(&headers, &text, secret);
        Self { status, headers, text }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> url::Url {
        url::Url::parse(self.header("location").expect("a Location header")).expect("Location is a URL")
    }
}

/// Neither a header nor the body holds the secret (plain or URL-encoded).
pub fn assert_no_secret(headers: &reqwest::header::HeaderMap, body: &str, secret: &str) {
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    for needle in [secret, encoded.as_str()] {
        assert!(!body.contains(needle), "the client secret leaked in a body: {body}");
        for (name, value) in headers {
            assert!(
                !value.as_bytes().windows(needle.len()).any(|w| w == needle.as_bytes()),
                "the secret leaked in {name}"
            );
        }
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

/// The query parameters of a URL as pairs.
pub fn query(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The first query parameter `name`.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A configuration without an emulator (documents and input checks need no Entra).
pub fn offline_config() -> AzureOAuthConfigBuilder {
    AzureOAuthConfig::builder()
        .app_id("11111111-2222-3333-4444-555555555555")
        .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        .client_secret(OFFLINE_SECRET)
        // Nothing listens here: a test that reached Entra or Graph would fail.
        .authority_host("http://127.0.0.1:9")
        .graph_endpoint("http://127.0.0.1:9")
}

pub const OFFLINE_SECRET: &str = "offline~secret.value_123";
pub const APP: &str = "11111111-2222-3333-4444-555555555555";
pub const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
