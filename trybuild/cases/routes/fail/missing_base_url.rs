use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn secret_from_vault() -> String {
    "from-the-vault".to_owned()
}

fn main() {
    // The default mode (the broker) and `enrol` are authorization servers: their issuer and
    // callback come from `base_url`, never from a request's `Host` header.
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: secret_from_vault(),
    };
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: secret_from_vault(),
        mode: enrol,
    };
}
