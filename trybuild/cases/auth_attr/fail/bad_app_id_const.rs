use axum_mcp_azure_oauth::azure_mcp_auth;

const APP_ID: &str = "11111111-2222-3333-4444-55555555555";

#[azure_mcp_auth(app_id = APP_ID, scope = "access_as_user")]
async fn handler() {}

fn main() {}
