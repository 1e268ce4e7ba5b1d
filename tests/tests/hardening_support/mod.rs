//! Shared setup of the hardening tests: a full application (the OAuth endpoints plus a protected
//! `/mcp` route) served on 127.0.0.1, and bounded calls.
#![allow(dead_code)] // each test binary uses a part

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth, AzureOAuthConfigBuilder};
use serde_json::{Value, json};

/// The full application on an ephemeral port: `AzureOAuth::router()` and `/mcp` behind
/// `AzureOAuth::layer()`.
pub struct App {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub auth: AzureOAuth,
}

async fn whoami(claims: AzureClaims) -> Json<Value> {
    Json(json!({ "tid": claims.tid(), "oid": claims.oid() }))
}

/// Binds a port, sets the base URL to it, builds the configuration and serves the application.
pub async fn serve(builder: AzureOAuthConfigBuilder) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let auth = AzureOAuth::new(builder.base_url(&base).build().expect("valid test configuration"));
    let app = router(&auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    App { base, auth }
}

/// The application router of `auth`.
pub fn router(auth: &AzureOAuth) -> axum::Router {
    axum::Router::new().route("/mcp", post(whoami).layer(auth.layer())).merge(auth.router())
}

/// A client that follows no redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("reqwest client")
}

/// Runs `f`, failing the test if it takes longer than `bound` (a hang is a failure, not a wait).
pub async fn bounded<T>(bound: Duration, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(bound, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {bound:?}"),
    }
}

/// Status and JSON body of a response (`Value::Null` when the body is not JSON).
pub async fn read(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
