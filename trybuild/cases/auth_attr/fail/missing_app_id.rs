use axum_mcp_azure_oauth::azure_mcp_auth;

#[azure_mcp_auth(scope = "access_as_user")]
async fn handler() {}

fn main() {}
