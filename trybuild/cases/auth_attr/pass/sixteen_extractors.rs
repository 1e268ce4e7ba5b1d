//! Sixteen extractors, the claims among them: the most axum allows.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum::http::{HeaderMap, Method, Uri, Version};
use axum::routing::get;
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
#[allow(clippy::too_many_arguments)]
async fn handler(
    _: Method, _: Uri, _: Version, _: HeaderMap,
    _: Method, _: Uri, _: Version, _: HeaderMap,
    _: Method, _: Uri, _: Version, _: HeaderMap,
    _: Method, _: Uri, _: Version, _claims: AzureClaims,
) {}

fn main() {
    let _: Router = Router::new().route("/", get(handler));
}
