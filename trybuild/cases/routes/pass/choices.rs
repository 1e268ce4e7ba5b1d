//! `mode` and `https_redirect_platform` as words, as paths, and as run-time values in braces.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum_mcp_azure_oauth::config::{HttpsPlatform, Mode};
use axum_mcp_azure_oauth::azure_oauth_routes;

fn secret_from_vault() -> String {
    "from-the-vault".to_owned()
}

fn main() {
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: secret_from_vault(),
        base_url: "https://mcp.example.com",
        mode: enrol,
        https_redirect_platform: web,
    };
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: secret_from_vault(),
        base_url: "https://mcp.example.com",
        mode: broker,
    };
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        mode: Mode::Direct,
        https_redirect_platform: axum_mcp_azure_oauth::config::HttpsPlatform::Spa,
    };
    let mode = if std::env::args().count() > 5 { Mode::Direct } else { Mode::Enrol };
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: secret_from_vault(),
        base_url: "https://mcp.example.com",
        mode: { mode },
        https_redirect_platform: HttpsPlatform::default(),
    };
}
