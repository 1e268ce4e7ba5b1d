use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn handler(first: AzureClaims, second: AzureClaims) {
    let _ = (first, second);
}

fn main() {}
