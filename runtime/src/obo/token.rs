//! [`DownstreamToken`]: an access token for another API, obtained on behalf of the caller.

use std::fmt;
use std::sync::Arc;

/// An access token for a downstream API (Microsoft Graph, another Entra-protected API), issued
/// to this app on behalf of the signed-in user. Cheap to clone; `Debug` never shows the token.
///
/// ```no_run
/// # async fn f(token: axum_mcp_azure_oauth::obo::DownstreamToken) -> Result<(), reqwest::Error> {
/// let me = reqwest::Client::new()
///     .get("https://graph.microsoft.com/v1.0/me")
///     .bearer_auth(token.access_token())
///     .send()
///     .await?;
/// # let _ = me; Ok(()) }
/// ```
#[derive(Clone)]
pub struct DownstreamToken(Arc<Inner>);

struct Inner {
    access_token: Box<str>,
    scope: Box<str>,
    expires_at: u64,
}

impl DownstreamToken {
    pub(crate) fn new(access_token: String, scope: String, expires_at: u64) -> Self {
        Self(Arc::new(Inner { access_token: access_token.into(), scope: scope.into(), expires_at }))
    }

    /// The access token, to send as `Authorization: Bearer …` to the downstream API (and to no
    /// one else: never log it, never return it to the MCP client).
    pub fn access_token(&self) -> &str {
        &self.0.access_token
    }

    /// The permissions granted, space-separated, as Entra listed them (`scope` of its answer).
    pub fn scope(&self) -> &str {
        &self.0.scope
    }

    /// When the token expires, in seconds since the Unix epoch (`expires_in` from the exchange).
    pub fn expires_at(&self) -> u64 {
        self.0.expires_at
    }
}

impl fmt::Debug for DownstreamToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownstreamToken")
            .field("access_token", &"[redacted]")
            .field("scope", &self.scope())
            .field("expires_at", &self.expires_at())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let t = DownstreamToken::new("eyJ0eXAiOiJKV1Qi.secret.sig".into(), "User.Read".into(), 42);
        let debug = format!("{t:?}");
        assert!(!debug.contains("eyJ") && debug.contains("User.Read") && debug.contains("42"), "{debug}");
        assert_eq!(t.clone().access_token(), "eyJ0eXAiOiJKV1Qi.secret.sig");
    }
}
