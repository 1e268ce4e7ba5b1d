//! Any pattern and any spelling of the claims type.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum::routing::get;
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn mutable(mut claims: AzureClaims) -> String {
    claims = claims.clone();
    claims.tid().to_owned()
}

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn ignored(_: AzureClaims) {}

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn underscored(_claims: AzureClaims) {}

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn qualified(claims: axum_mcp_azure_oauth::AzureClaims) -> String {
    claims.tid().to_owned()
}

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn r#async(claims: AzureClaims) -> String {
    claims.tid().to_owned()
}

fn main() {
    let _: Router = Router::new()
        .route("/a", get(mutable))
        .route("/b", get(ignored))
        .route("/c", get(underscored))
        .route("/d", get(qualified))
        .route("/e", get(r#async));
}
