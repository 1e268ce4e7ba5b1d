//! [`OnBehalfOf`]: the client that exchanges the caller's token, with its cache.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::cache::OboCache;
use super::error::OboError;
use super::exchange::exchange;
use super::scopes::ScopeSet;
use super::token::DownstreamToken;
use crate::config::AzureOAuthConfig;
use crate::validate::{AzureClaims, CallerToken, Clock, TokenKind};

/// How long one call keeps trying (429 honouring `Retry-After`, 5xx, timeouts) before it gives up
/// with [`OboError::Throttled`] or [`OboError::Unavailable`]: a tool call should not hang longer.
pub const OBO_RETRY_BUDGET: Duration = Duration::from_secs(15);

/// How long before its expiry a cached token is renewed (half its lifetime when that is shorter),
/// as Microsoft.Identity.Web does: a token handed out stays valid for the call that uses it.
const RENEW_BEFORE: u64 = 300;

/// Exchanges the caller's access token for one to a downstream API (Microsoft Graph, another
/// Entra-protected API) with the on-behalf-of flow, so that a tool acts as the signed-in user
/// without ever passing the caller's token on (which the MCP specification forbids).
///
/// Reached through [`AzureOAuth::on_behalf_of`](crate::AzureOAuth::on_behalf_of) (which shares its
/// HTTP client and clock) or built alone with [`OnBehalfOf::new`]. Clones share one cache.
///
/// - The exchange goes to the caller's own tenant (`tid`), authenticated with the client secret.
/// - Tokens are cached per caller (tenant, user, the token's `uti` and expiry) and normalized
///   scope set, until 5 minutes before they expire and never past the caller's token;
///   `obo_cache_capacity` bounds the cache. However many tool calls ask at once, one exchange
///   per key is in flight and all of them take its answer.
/// - Errors are typed ([`OboError`]): consent missing, a Conditional Access claims challenge,
///   the caller's token refused, throttling (retried within [`OBO_RETRY_BUDGET`]).
///
/// ```no_run
/// use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth};
///
/// async fn my_profile(auth: &AzureOAuth, caller: &AzureClaims) -> Result<String, Box<dyn std::error::Error>> {
///     let token = auth.on_behalf_of().token(caller, ["https://graph.microsoft.com/User.Read"]).await?;
///     let me = reqwest::Client::new()
///         .get("https://graph.microsoft.com/v1.0/me")
///         .bearer_auth(token.access_token())
///         .send()
///         .await?
///         .text()
///         .await?;
///     Ok(me)
/// }
/// ```
#[derive(Clone)]
pub struct OnBehalfOf {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<AzureOAuthConfig>,
    http: reqwest::Client,
    clock: Clock,
    cache: Option<OboCache>,
    exchanges: AtomicU64,
}

/// Counts of an [`OnBehalfOf`], for tests and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OboStats {
    /// Exchanges sent to Entra (each retry of one counts once).
    pub exchanges: u64,
    /// Keys held in the cache (tokens, and exchanges in flight).
    pub cached: usize,
}

impl OnBehalfOf {
    /// A client for `config`'s app, with an HTTP client of its own and the system clock.
    pub fn new(config: impl Into<Arc<AzureOAuthConfig>>) -> Self {
        let config = config.into();
        let http = crate::upstream::client(&config);
        Self::with_http(config, http, Clock::system())
    }

    pub(crate) fn with_http(config: Arc<AzureOAuthConfig>, http: reqwest::Client, clock: Clock) -> Self {
        let cache = OboCache::new(config.obo_cache_capacity());
        Self { inner: Arc::new(Inner { config, http, clock, cache, exchanges: AtomicU64::new(0) }) }
    }

    /// The configuration whose app and credential the exchanges use.
    pub fn config(&self) -> &AzureOAuthConfig {
        &self.inner.config
    }

    /// Exchange counts and cache size.
    pub fn stats(&self) -> OboStats {
        OboStats {
            exchanges: self.inner.exchanges.load(Ordering::Relaxed),
            cached: self.inner.cache.as_ref().map_or(0, OboCache::len),
        }
    }

    /// A token for `scopes` (one downstream resource: `https://graph.microsoft.com/User.Read`,
    /// `api://other-app/.default`, …; a bare name such as `User.Read` is Graph's) on behalf of
    /// `caller`, from the cache or a fresh exchange.
    ///
    /// `caller` must come from a [`TokenValidator`](crate::TokenValidator) (the
    /// [`AuthLayer`](crate::AuthLayer), the `AzureClaims` extractor or `#[azure_mcp_auth]`):
    /// those claims hold the verified token that is exchanged.
    pub async fn token<I, S>(&self, caller: &AzureClaims, scopes: I) -> Result<DownstreamToken, OboError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if caller.kind() == TokenKind::AppOnly {
            return Err(OboError::NotDelegated);
        }
        let assertion = caller.token().ok_or(OboError::NoCaller)?;
        let scopes = ScopeSet::new(scopes)?;
        let inner = &self.inner;
        let Some(cache) = &inner.cache else {
            return self.fetch(caller, assertion, &scopes).await.map(|(token, _)| token);
        };
        let key = cache_key(caller, &scopes);
        let now = inner.clock.unix();
        if let Some(token) = cache.get(&key, now) {
            return Ok(token);
        }
        cache.get_or_exchange(&key, || inner.clock.unix(), self.fetch(caller, assertion, &scopes)).await
    }

    /// [`token`](Self::token) for the caller of a request: the [`AzureClaims`] in its
    /// extensions, as an MCP tool finds them in the `http::request::Parts` rmcp hands it.
    ///
    /// ```no_run
    /// # use axum_mcp_azure_oauth::obo::{OnBehalfOf, OboError, DownstreamToken};
    /// // In an rmcp tool: `ctx: RequestContext<RoleServer>`.
    /// # async fn tool(obo: &OnBehalfOf, parts: &http::request::Parts) -> Result<DownstreamToken, OboError> {
    /// // let parts = ctx.extensions.get::<http::request::Parts>().expect("served over HTTP");
    /// obo.token_for_request(parts, ["https://graph.microsoft.com/User.Read"]).await
    /// # }
    /// ```
    pub async fn token_for_request<I, S>(
        &self,
        parts: &http::request::Parts,
        scopes: I,
    ) -> Result<DownstreamToken, OboError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let caller = AzureClaims::from_parts(parts).ok_or(OboError::NoCaller)?;
        self.token(caller, scopes).await
    }

    /// One exchange; the token and until when it may be handed out.
    async fn fetch(
        &self,
        caller: &AzureClaims,
        assertion: &CallerToken,
        scopes: &ScopeSet,
    ) -> Result<(DownstreamToken, u64), OboError> {
        let inner = &self.inner;
        inner.exchanges.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(tenant = caller.tid(), oid = caller.oid(), scope = %scopes.sent, "on-behalf-of exchange");
        let sent_at = inner.clock.unix();
        let result =
            exchange(&inner.http, &inner.config, caller.tid(), assertion.expose(), scopes, OBO_RETRY_BUDGET)
                .await;
        let exchanged = result.inspect_err(|e| {
            tracing::debug!(tenant = caller.tid(), oid = caller.oid(), error = %e, "on-behalf-of exchange failed");
        })?;
        let lifetime = exchanged.expires_in.as_secs();
        let expires_at = sent_at.saturating_add(lifetime);
        let until = expires_at.saturating_sub(RENEW_BEFORE.min(lifetime / 2)).min(caller.exp());
        let scope = if exchanged.scope.is_empty() { scopes.sent.clone() } else { exchanged.scope };
        Ok((DownstreamToken::new(exchanged.access_token, scope, expires_at), until))
    }
}

/// The cache key: the caller's token (tenant, user, `uti` and expiry; never the token itself) and
/// the normalized scopes.
fn cache_key(caller: &AzureClaims, scopes: &ScopeSet) -> String {
    let uti = caller.raw().get("uti").and_then(serde_json::Value::as_str).unwrap_or("");
    format!("{} {} {} {uti} {}", caller.tid(), caller.user_id().unwrap_or(""), caller.exp(), scopes.key)
}

impl fmt::Debug for OnBehalfOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnBehalfOf")
            .field("app_id", &self.inner.config.app_id())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
