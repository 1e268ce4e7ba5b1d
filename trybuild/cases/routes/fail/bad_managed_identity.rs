use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    // The managed identity's client id is a GUID; its endpoint an http(s) URL.
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        base_url: "https://mcp.example.com",
        managed_identity_client_id: "my-identity",
        imds_endpoint: "169.254.169.254/metadata",
    };
}
