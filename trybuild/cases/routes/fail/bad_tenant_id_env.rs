use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    // env!(…) values are checked by const evaluation of the same rules.
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: env!("CARGO_PKG_NAME"),
        mode: direct,
    };
}
