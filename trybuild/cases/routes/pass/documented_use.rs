//! Both macros together as the README shows them: the secret read at run time, `?` in `main`.
#![deny(unused, nonstandard_style, warnings)]
use axum::Json;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::post;
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth, azure_oauth_routes};
use serde_json::Value;

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn mcp_handler(claims: AzureClaims, Json(req): Json<Value>) -> impl IntoResponse {
    Json(serde_json::json!({ "tenant": claims.tid(), "echo": req }))
}

fn app() -> Result<Router, Box<dyn std::error::Error>> {
    let app = Router::new().route("/mcp", post(mcp_handler)).merge(azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: std::env::var("AZURE_CLIENT_SECRET")?,
        api_scope: "access_as_user",
        resource_path: "/mcp",
        base_url: "https://mcp.example.com",
        allowed_redirect_uris: ["https://global.consent.azure-apim.net/redirect/my-connector"],
        allowed_tenant_ids: ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
    });
    Ok(app)
}

fn main() {
    // No secret in this environment: the `?` returns the error before anything is built.
    assert!(app().is_err() || std::env::var("AZURE_CLIENT_SECRET").is_ok());
}
