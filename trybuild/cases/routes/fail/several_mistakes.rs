use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn main() {
    // Every independent mistake is reported in one build.
    let _: Router = azure_oauth_routes! {
        app_id: "my-app",
        base_url: "http://mcp.example.com",
        client_secret: "s3cr3t",
        redirect_uris: ["https://vscode.dev/redirect"],
        mode: broker,
        mode: direct,
    };
}
