//! The attribute's documented use: the claims extractor first, a body extractor last.
#![deny(unused, nonstandard_style, warnings)]
use axum::Json;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::post;
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};
use serde_json::Value;

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn mcp_handler(claims: AzureClaims, Json(req): Json<Value>) -> impl IntoResponse {
    Json(serde_json::json!({ "tenant": claims.tid(), "echo": req }))
}

fn main() {
    let _: Router = Router::new().route("/mcp", post(mcp_handler));
}
