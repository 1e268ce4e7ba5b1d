//! Outgoing HTTP: the one `reqwest::Client` an `AzureOAuth` shares (metadata, keys, the token
//! bridge, Graph), and retries that honour `Retry-After` ([`retry`]).

pub(crate) mod retry;

use std::time::Duration;

use crate::config::AzureOAuthConfig;

/// A whole answer: its status, its `Retry-After` and its body.
pub(crate) struct Answer {
    pub(crate) status: http::StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: bytes::Bytes,
}

/// Sends `request` and reads the whole answer; the error (transport, timeout, body cut off) as
/// [`describe`] words it.
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Result<Answer, String> {
    let response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status();
    let retry_after = retry::retry_after(response.headers());
    let body = response.bytes().await.map_err(|e| describe(&e))?;
    Ok(Answer { status, retry_after, body })
}

/// A reqwest error without anything from a request body (reqwest shows the URL, which holds no
/// secret).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() { format!("timed out ({e})") } else { e.to_string() }
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
