use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    let _: Router = azure_oauth_routes! {
        env: "AZURE_CLIENT_ID",
        api_scope: "access_as_user",
    };
}
