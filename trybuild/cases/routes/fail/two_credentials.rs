use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn secret_from_vault() -> String {
    "from-the-vault".to_owned()
}

fn main() {
    // A secret and a certificate: the app proves itself with one credential.
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        base_url: "https://mcp.example.com",
        client_secret: secret_from_vault(),
        client_certificate_path: "/etc/mcp/app.pem",
    };
}
