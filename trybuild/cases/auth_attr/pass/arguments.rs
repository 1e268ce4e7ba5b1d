//! Every accepted argument form: literals, constants, `concat!`, `env!`, `const { … }` blocks,
//! `scope` or `scopes`, roles and tenants, in any order.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum::routing::get;
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};

const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
mod settings {
    pub const SCOPE: &str = "Files.Read";
}

#[azure_mcp_auth(app_id = APP_ID, scope = "access_as_user")]
async fn constant(_: AzureClaims) {}

#[azure_mcp_auth(scope = settings::SCOPE, app_id = crate::APP_ID)]
async fn paths(_: AzureClaims) {}

#[azure_mcp_auth(app_id = concat!("11111111-2222-3333", "-4444-555555555555"), scopes = ["read", "write"])]
async fn concatenated(_: AzureClaims) {}

// The package name is a valid scope name: env!(…) goes through const evaluation of the rules.
#[azure_mcp_auth(app_id = const { APP_ID }, scope = env!("CARGO_PKG_NAME"))]
async fn from_env(_: AzureClaims) {}

#[azure_mcp_auth(
    app_id = "11111111-2222-3333-4444-555555555555",
    scopes = ["access_as_user", "Mcp.Read"],
    roles = ["Mcp.Invoke", "Mcp.Admin"],
    tenants = [TENANT, "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"],
)]
async fn everything(claims: AzureClaims) -> String {
    claims.tid().to_owned()
}

fn main() {
    let _: Router = Router::new()
        .route("/a", get(constant))
        .route("/b", get(paths))
        .route("/c", get(concatenated))
        .route("/d", get(from_env))
        .route("/e", get(everything));
}
