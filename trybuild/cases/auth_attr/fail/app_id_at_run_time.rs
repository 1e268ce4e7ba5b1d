use axum_mcp_azure_oauth::azure_mcp_auth;

fn app_id() -> &'static str {
    "11111111-2222-3333-4444-555555555555"
}

#[azure_mcp_auth(app_id = app_id(), scope = "access_as_user")]
async fn handler() {}

fn main() {}
