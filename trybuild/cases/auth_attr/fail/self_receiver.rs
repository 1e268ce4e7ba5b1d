use axum_mcp_azure_oauth::azure_mcp_auth;

struct Server;

impl Server {
    #[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
    async fn handler(&self) {}
}

fn main() {
    let _ = Server;
}
