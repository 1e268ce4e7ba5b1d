use axum::http::{HeaderMap, Method, Uri, Version};
use axum_mcp_azure_oauth::azure_mcp_auth;

// Sixteen extractors, and the auth extractor would make seventeen.
#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn handler(
    _: Method, _: Uri, _: Version, _: HeaderMap,
    _: Method, _: Uri, _: Version, _: HeaderMap,
    _: Method, _: Uri, _: Version, _: HeaderMap,
    _: Method, _: Uri, _: Version, _: HeaderMap,
) {}

fn main() {}
