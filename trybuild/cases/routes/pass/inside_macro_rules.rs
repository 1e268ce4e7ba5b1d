//! Values passed through `macro_rules!` fragments (wrapped in invisible groups) are still checked
//! and accepted.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum_mcp_azure_oauth::{azure_mcp_auth, azure_oauth_routes};

macro_rules! server {
    ($app:expr, $tenant:expr, $uri:expr) => {{
        #[azure_mcp_auth(app_id = $app, scope = "access_as_user")]
        async fn handler() {}
        let _ = handler;
        let router: Router = azure_oauth_routes! {
            app_id: $app,
            tenant_id: $tenant,
            allowed_redirect_uris: [$uri],
            mode: direct,
        };
        router
    }};
}

fn main() {
    let _ = server!(
        "11111111-2222-3333-4444-555555555555",
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "https://vscode.dev/redirect"
    );
}
