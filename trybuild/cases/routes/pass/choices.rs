//! `mode` and `https_redirect_platform` as names, as paths, and as run-time values in braces.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum_mcp_azure_oauth::{HttpsPlatform, Mode, azure_oauth_routes};

fn main() {
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        mode: bridge,
        https_redirect_platform: web,
    };
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        mode: Mode::Direct,
        https_redirect_platform: axum_mcp_azure_oauth::HttpsPlatform::Spa,
    };
    let mode = if std::env::args().count() > 5 { Mode::Direct } else { Mode::Bridge };
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        mode: { mode },
        https_redirect_platform: HttpsPlatform::default(),
    };
}
