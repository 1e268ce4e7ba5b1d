//! Constants, `concat!`, `env!`, `const { … }` blocks and run-time values side by side.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
mod deploy {
    pub const TENANT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
}

fn main() {
    let base_url = format!("https://{}.example.com", "mcp");
    let redirect_uris = vec!["https://vscode.dev/redirect".to_owned()];
    let tenants: Vec<String> = vec!["*".into()];
    let _: Router = azure_oauth_routes! {
        app_id: APP_ID,
        tenant_id: deploy::TENANT_ID,
        base_url: base_url.clone(),
        api_scope: env!("CARGO_PKG_NAME"),
        resource_path: concat!("/", "mcp"),
        allowed_redirect_uris: redirect_uris,
        allowed_redirect_uri_prefixes: [const { "https://global.consent.azure-apim.net/redirect/" }, base_url + "/cb/"],
        allowed_tenant_ids: tenants,
        mode: direct,
    };
}
