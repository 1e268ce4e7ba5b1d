use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    let _: Router = azure_oauth_routes! {
        from_env: |name| std::env::var(name).ok(),
    };
}
