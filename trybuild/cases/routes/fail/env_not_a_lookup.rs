use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    // `std::env::var` returns a `Result`: the lookup must return an `Option`.
    let _: Router = azure_oauth_routes! {
        env: std::env::var,
    };
}
