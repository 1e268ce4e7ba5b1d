use axum_mcp_azure_oauth::azure_mcp_auth;

struct Handlers;

// The attribute's marker type cannot live in an `impl` block: handlers are free functions.
impl Handlers {
    #[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
    async fn handler() {}
}

fn main() {
    let _ = Handlers;
}
