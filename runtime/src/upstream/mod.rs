//! Calls to the services upstream of this server (Entra ID's metadata, keys and token endpoint,
//! Microsoft Graph): the one `reqwest::Client` an `AzureOAuth` shares, one whole-answer `send`
//! with a typed error, and retries that honour `Retry-After` ([`retry`]).

pub(crate) mod retry;

use std::time::Duration;

use crate::config::AzureOAuthConfig;

/// A whole answer: its status, its `Retry-After` and its body.
pub(crate) struct Answer {
    pub(crate) status: http::StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: bytes::Bytes,
}

/// Why no whole answer came back. The words are reqwest's, which show the URL (no secret is ever
/// in one) and nothing of a request body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No answer within the HTTP timeout.
    #[error("timed out ({0})")]
    Timeout(String),
    /// The connection failed, or the answer was cut off.
    #[error("{0}")]
    Transport(String),
}

impl From<reqwest::Error> for UpstreamError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() { Self::Timeout(e.to_string()) } else { Self::Transport(e.to_string()) }
    }
}

/// Sends `request` and reads the whole answer.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<Answer, UpstreamError> {
    let response = request.send().await?;
    let status = response.status();
    let retry_after = retry::retry_after(response.headers());
    let body = response.bytes().await?;
    Ok(Answer { status, retry_after, body })
}

/// The start of a body that is not the JSON expected (a proxy's HTML page), for an error message.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(200).collect();
    format!("unexpected body {short:?}")
}

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
