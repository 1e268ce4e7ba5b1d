//! Outgoing HTTP: the one `reqwest::Client` an `AzureOAuth` shares (metadata, keys, the token
//! bridge, Graph), and retries that honour `Retry-After` ([`retry`]).

pub(crate) mod retry;

use crate::config::AzureOAuthConfig;

/// A client with the configured timeout on every request, that follows no redirects (an Entra
/// answer is taken as it is) and sends a recognisable user agent.
pub(crate) fn client(config: &AzureOAuthConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(config.http_timeout())
        .connect_timeout(config.http_timeout())
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("axum-mcp-azure-oauth/", env!("CARGO_PKG_VERSION")))
        .build()
        // Building fails only when the TLS backend cannot initialise, which no request could survive.
        .unwrap_or_else(|e| panic!("axum-mcp-azure-oauth: cannot build the HTTP client: {e}"))
}
