//! Visibility, doc comments and other attributes are kept; public handlers in modules work.
#![deny(missing_docs, missing_debug_implementations, unused, nonstandard_style, warnings)]
//! A crate with strict lints.

use axum::Router;
use axum::routing::get;

/// Handlers.
pub mod handlers {
    use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};

    /// A public handler.
    #[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
    #[allow(clippy::unused_async)]
    pub async fn public(claims: AzureClaims) -> String {
        claims.tid().to_owned()
    }

    /// A crate-visible handler.
    #[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
    pub(crate) async fn internal() {}
}

fn main() {
    let _: Router = Router::new().route("/a", get(handlers::public)).route("/b", get(handlers::internal));
}
