use axum_mcp_azure_oauth::azure_mcp_auth;

/// Not the crate's claims: the macro replaces the parameter by name, and the type check catches it.
struct AzureClaims;

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn handler(claims: AzureClaims) {
    let _ = claims;
}

fn main() {}
