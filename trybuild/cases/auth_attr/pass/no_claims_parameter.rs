//! A handler without an `AzureClaims` parameter is protected all the same.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum::routing::get;
use axum_mcp_azure_oauth::azure_mcp_auth;

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn health() -> &'static str {
    "ok"
}

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn body_only(body: String) -> String {
    body
}

fn main() {
    let _: Router = Router::new().route("/health", get(health)).route("/body", get(body_only));
}
