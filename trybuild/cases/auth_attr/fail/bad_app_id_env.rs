use axum_mcp_azure_oauth::azure_mcp_auth;

// A constant expression: checked by const evaluation of the runtime crate's rules.
#[azure_mcp_auth(app_id = env!("CARGO_PKG_NAME"), scope = "access_as_user")]
async fn handler() {}

fn main() {}
