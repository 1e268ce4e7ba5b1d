use axum_mcp_azure_oauth::azure_mcp_auth;

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "read")]
#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "write")]
async fn handler() {}

fn main() {}
