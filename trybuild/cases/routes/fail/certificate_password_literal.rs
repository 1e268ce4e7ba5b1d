use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    // The path may be written; the password that opens the key may not.
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        base_url: "https://mcp.example.com",
        client_certificate_path: "/etc/mcp/app.pfx",
        client_certificate_password: "hunter2",
    };
}
