//! A whole application as SECURITY.md describes one: `AzureOAuth::router()` and a protected
//! `/mcp` route behind `AzureOAuth::layer()`, whose handler answers with the caller's identity.

use axum::Json;
use axum::routing::post;
use axum_mcp_azure_oauth::config::AzureOAuthConfigBuilder;
use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth};
use serde_json::{Value, json};

use crate::serve::{Port, Served};

/// The application being served.
#[derive(Debug)]
pub struct App {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub auth: AzureOAuth,
    _served: Served,
}

/// `/mcp`'s handler: the caller's tenant and object id.
async fn whoami(claims: AzureClaims) -> Json<Value> {
    Json(json!({ "tid": claims.tid(), "oid": claims.oid() }))
}

/// The application router of `auth`.
pub fn router(auth: &AzureOAuth) -> axum::Router {
    axum::Router::new().route("/mcp", post(whoami).layer(auth.layer())).merge(auth.router())
}

/// Serves the application of `builder`, with its base URL set to the port.
pub async fn serve(builder: AzureOAuthConfigBuilder) -> App {
    let port = Port::bind().await;
    let auth = AzureOAuth::new(builder.base_url(port.base()).build().expect("a valid test configuration"));
    let served = port.serve(router(&auth));
    App { base: served.base.clone(), auth, _served: served }
}
