//! The README's shape: no type annotation on the router; `axum::serve` fixes the state to `()`.
#![deny(unused, nonstandard_style, warnings)]
use axum::routing::post;
use axum::{Json, Router};
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth, azure_oauth_routes};
use serde_json::Value;

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn mcp_handler(claims: AzureClaims, Json(req): Json<Value>) -> Json<Value> {
    Json(serde_json::json!({ "user": claims.oid(), "method": req["method"] }))
}

#[allow(dead_code)] // compiled, not run: it would serve forever
async fn run<L>(listener: L) -> Result<(), Box<dyn std::error::Error>>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let app = Router::new().route("/mcp", post(mcp_handler)).merge(azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: std::env::var("AZURE_CLIENT_SECRET")?,
        api_scope: "access_as_user",
        resource_path: "/mcp",
        base_url: "https://mcp.example.com",
        allowed_redirect_uris: ["https://vscode.dev/redirect"],
        allowed_redirect_uri_prefixes: ["https://global.consent.azure-apim.net/redirect/"],
    });
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() {}
