use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    // Each bound of the key table, one past it.
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        consent_remember: 34560001,
        http_timeout: 0,
        key_refresh_interval: 59,
        clock_skew: 3601,
    };
}
