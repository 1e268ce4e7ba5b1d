use axum_mcp_azure_oauth::azure_mcp_auth;

// Every independent mistake is reported in one build.
#[azure_mcp_auth(app_id = "my-app", scope = "a b", roles = ["x y"], tenant = [])]
fn handler() {}

fn main() {}
