//! [`TokenValidator`]: the verified-token cache in front of the [`Verifier`], the background key
//! refresher, and request authentication (bearer header, then the challenge on failure).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::bearer;
use super::cache::{TokenCache, TokenKey};
use super::challenge;
use super::claims::AzureClaims;
use super::clock::Clock;
use super::error::{AuthError, InvalidToken};
use super::jwks::KeyCache;
use super::jwt;
use super::requirements::Requirements;
use super::verify::{Verifier, refused};
use crate::config::AzureOAuthConfig;

/// Counters for tests and monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatorStats {
    /// OpenID metadata documents fetched (attempts, failed ones included).
    pub metadata_fetches: u64,
    /// JWKS documents fetched (attempts, failed ones included).
    pub jwks_fetches: u64,
    /// Tenants whose metadata and keys are cached.
    pub cached_tenants: usize,
    /// Verified tokens cached.
    pub cached_tokens: usize,
}

/// Validates Entra ID access tokens. Cheap to clone (an `Arc` inside); share one per application.
///
/// What a token must be to pass (each rule is checked in this order; nothing is fetched for a
/// token refused before step 4):
/// 1. At most 16 KiB; three base64url parts; header `alg` = `RS256` (the allow-list, never the
///    token's choice), a `kid`, no `crit`; `jku`, `x5u`, `jwk` and `x5c` are ignored.
/// 2. `tid` is a GUID and the tenant is allowed (the [`Requirements`]' tenants, else the
///    configuration's [`TenantPolicy`](crate::config::TenantPolicy)); `ver` is `1.0` or `2.0`.
/// 3. The verified-token cache: a token seen before and not expired skips to step 8.
/// 4. The signing key: the tenant's JWKS named by its OpenID metadata for that version, from the
///    configured authority host; an unknown `kid` refetches at most once per 5 minutes.
/// 5. The RS256 signature.
/// 6. `iss` equals the metadata's issuer with `{tenantid}` replaced by `tid`; the tenant in `iss`
///    equals `tid`; the key's own `issuer` (when present) agrees.
/// 7. `exp` is required; `exp` and `nbf` are honoured with the configured clock skew (default
///    5 minutes); `aud` is the app id, `api://{app_id}` (v1: also with a trailing `/`) or one of the
///    configured App ID URIs (never `…/.default`); ID tokens (no client claim — `azp` in v2,
///    `appid` in v1 — or a `nonce`, or neither `scp` nor `roles`) are refused.
/// 8. Permissions: a delegated token's `scp` holds one of the required scopes (whole words); an
///    app-only token (`roles` without `scp`, or `idtyp` = `app`) holds one of the required roles,
///    and is refused when no roles are required.
///
/// Keys and availability: metadata and keys are cached per tenant and version
/// (`key_cache_tenants`; tenants whose keys verified a token are never evicted for ones that
/// never did), tenants not cached are looked up at most `new_tenant_burst` at once and
/// `new_tenant_refill_per_sec` per second after that (beyond it: 401 "try again later", nothing
/// fetched), fetched once however many requests wait for them, refreshed in the
/// background every `key_refresh_interval` (±10%), and kept when a refresh fails. With no keys at
/// all (Entra unreachable), requests get 503 `temporarily_unavailable`, not 401; new fetches are
/// then tried at most every 10 seconds. Verified tokens are remembered until their `exp`
/// (`token_cache_capacity`; by the SHA-256 digest of their signature and their signed part, never
/// whole), so repeated requests skip the RSA check; the permissions of step 8 are checked on every
/// request.
///
/// ```no_run
/// use std::sync::Arc;
/// use axum_mcp_azure_oauth::{AzureOAuthConfig, Requirements, TokenValidator};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let validator = TokenValidator::new(AzureOAuthConfig::from_env()?);
/// let claims = validator.validate(token).await?;
/// println!("{:?} in {}", claims.user_id(), claims.tid());
/// const WRITE: Requirements = Requirements::new(&["Tasks.Write"]);
/// validator.validate_for(token, &WRITE).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenValidator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenValidator").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

struct Inner {
    verifier: Verifier,
    tokens: Option<TokenCache>,
    refresher_started: AtomicBool,
    shutdown: Arc<tokio::sync::Notify>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wakes the background refresher so that it ends now rather than at its next tick.
        self.shutdown.notify_one();
    }
}

impl TokenValidator {
    /// A validator for `config` (owned or shared). Nothing is fetched until the first token
    /// arrives; the background key refresher starts then (inside the Tokio runtime) and ends when
    /// the validator is dropped.
    pub fn new(config: impl Into<Arc<AzureOAuthConfig>>) -> Self {
        Self::with_clock(config, Clock::system())
    }

    /// A validator with its own clock (tests move a [`Clock::manual`] past expiry and rate limits).
    pub fn with_clock(config: impl Into<Arc<AzureOAuthConfig>>, clock: Clock) -> Self {
        let config = config.into();
        let http = crate::upstream::client(&config);
        Self::with_http(config, http, clock)
    }

    /// A validator fetching through `http` (`AzureOAuth` shares one client between the
    /// validator, the bridge and Graph).
    pub(crate) fn with_http(config: Arc<AzureOAuthConfig>, http: reqwest::Client, clock: Clock) -> Self {
        let tokens = TokenCache::new(config.token_cache_capacity());
        let keys = KeyCache::new(config.clone(), http, clock.clone());
        Self {
            inner: Arc::new(Inner {
                verifier: Verifier { config, keys, clock },
                tokens,
                refresher_started: AtomicBool::new(false),
                shutdown: Arc::new(tokio::sync::Notify::new()),
            }),
        }
    }

    /// The configuration tokens are checked against (app id, tenants, required scopes and roles).
    pub fn config(&self) -> &AzureOAuthConfig {
        &self.inner.verifier.config
    }

    /// Fetch counts and cache sizes.
    pub fn stats(&self) -> ValidatorStats {
        ValidatorStats {
            metadata_fetches: self.inner.verifier.keys.metadata_fetches.load(Ordering::Relaxed),
            jwks_fetches: self.inner.verifier.keys.jwks_fetches.load(Ordering::Relaxed),
            cached_tenants: self.inner.verifier.keys.tenant_count(),
            cached_tokens: self.inner.tokens.as_ref().map_or(0, TokenCache::len),
        }
    }

    /// Validates `token` (without the `Bearer ` prefix) against the configuration's requirements.
    pub async fn validate(&self, token: &str) -> Result<AzureClaims, AuthError> {
        self.validate_for(token, &Requirements::CONFIG).await
    }

    /// Validates `token` against `requirements` (scopes, roles and tenants of one handler).
    pub async fn validate_for(
        &self,
        token: &str,
        requirements: &Requirements,
    ) -> Result<AzureClaims, AuthError> {
        match self.lookup_token(token, requirements) {
            Lookup::Done(result) => result,
            Lookup::Miss { token, key } => self.verify_uncached(token, key, requirements).await,
        }
        .map(|claims| claims.with_token(token))
    }

    /// Authenticates a request: reads its bearer token strictly (exactly one
    /// `Authorization: Bearer <token>` header, none in the query) and validates it against
    /// `requirements`. On failure, the answer to send: the challenge of [`TokenValidator::challenge`].
    /// [`AuthLayer`](super::AuthLayer) and the [`AzureClaims`] extractor call this; so can a handler
    /// or a macro.
    pub async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        uri: &http::Uri,
        requirements: &Requirements,
    ) -> Result<AzureClaims, axum::response::Response> {
        let result = match self.lookup(headers, uri, requirements) {
            Lookup::Done(result) => result,
            Lookup::Miss { token, key } => match bearer::check_b64token(token) {
                Ok(()) => self
                    .verify_uncached(token, key, requirements)
                    .await
                    .map(|c| with_header_token(c, headers)),
                Err(e) => Err(unusable(e)),
            },
        };
        result.map_err(|e| self.challenge(&e, headers, requirements))
    }

    /// [`authenticate`](Self::authenticate) when the answer needs no waiting: the request has no
    /// usable token, or its token is in the verified-token cache. `None` when the token must be
    /// verified (it is not cached, or the cache is off). [`AuthLayer`] answers from this without
    /// moving the request into a boxed future.
    pub(crate) fn authenticate_cached(
        &self,
        headers: &http::HeaderMap,
        uri: &http::Uri,
        requirements: &Requirements,
    ) -> Option<Result<AzureClaims, axum::response::Response>> {
        match self.lookup(headers, uri, requirements) {
            Lookup::Done(result) => Some(result.map_err(|e| self.challenge(&e, headers, requirements))),
            Lookup::Miss { .. } => None,
        }
    }

    /// The request's token, answered from the verified-token cache when it is there (the claims
    /// then hold the token, shared with the request's header).
    fn lookup<'h>(&self, headers: &'h http::HeaderMap, uri: &http::Uri, req: &Requirements) -> Lookup<'h> {
        match bearer::credentials(headers, uri) {
            Ok(token) => match self.lookup_token(token, req) {
                Lookup::Done(result) => Lookup::Done(result.map(|c| with_header_token(c, headers))),
                miss @ Lookup::Miss { .. } => miss,
            },
            Err(e) => Lookup::Done(Err(unusable(e))),
        }
    }

    /// `token`, answered from the verified-token cache when it is there (claims without the token,
    /// which the cache does not hold: the caller attaches it).
    fn lookup_token<'t>(&self, token: &'t str, req: &Requirements) -> Lookup<'t> {
        let key = self.inner.key(token);
        match key.as_ref().and_then(|k| self.inner.cached(k, req)) {
            Some(result) => {
                accepted(&result);
                Lookup::Done(result)
            }
            None => Lookup::Miss { token, key },
        }
    }

    /// Verifies a token the cache does not hold (and remembers it under `key`).
    async fn verify_uncached(
        &self,
        token: &str,
        key: Option<TokenKey<'_>>,
        req: &Requirements,
    ) -> Result<AzureClaims, AuthError> {
        self.ensure_refresher();
        let result = self.inner.verify_and_remember(token, key, req).await;
        accepted(&result);
        result
    }

    /// The answer for a failed authentication: the status, `WWW-Authenticate` challenge and JSON
    /// body `{error, error_description}` (RFC 6750), with the protected resource metadata URL
    /// derived from the configuration (or the request's `Host`).
    pub fn challenge(
        &self,
        error: &AuthError,
        headers: &http::HeaderMap,
        requirements: &Requirements,
    ) -> axum::response::Response {
        challenge::response(self.config(), headers, error, requirements)
    }

    fn ensure_refresher(&self) {
        if self.inner.refresher_started.load(Ordering::Relaxed) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        if self.inner.refresher_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let shutdown = self.inner.shutdown.clone();
        let interval = self.config().key_refresh_interval();
        handle.spawn(refresh_loop(weak, shutdown, interval));
    }
}

/// Refreshes the cached keys every `interval` (±10% jitter) until the validator is dropped.
async fn refresh_loop(weak: Weak<Inner>, shutdown: Arc<tokio::sync::Notify>, interval: Duration) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(jitter(interval)) => {}
            () = shutdown.notified() => return,
        }
        let Some(inner) = weak.upgrade() else { return };
        inner.verifier.keys.refresh_all().await;
    }
}

fn jitter(interval: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let r = aws_lc_rs::rand::fill(&mut byte).map_or(128, |()| byte[0]);
    // 90% .. 110% of the interval.
    interval.mul_f64(0.9 + f64::from(r) / 255.0 * 0.2).max(Duration::from_secs(1))
}

/// What [`TokenValidator::lookup`] and [`TokenValidator::lookup_token`] found.
enum Lookup<'h> {
    /// The answer: no usable token, or a cached one (permissions checked).
    Done(Result<AzureClaims, AuthError>),
    /// A token to verify (its characters not yet checked), and its cache key when the cache is on.
    Miss { token: &'h str, key: Option<TokenKey<'h>> },
}

/// `claims` holding the bearer token of `headers`' one `Authorization` header, which
/// [`bearer::credentials`] accepted: shared with the header's bytes, not copied.
fn with_header_token(claims: AzureClaims, headers: &http::HeaderMap) -> AzureClaims {
    match headers.get(http::header::AUTHORIZATION) {
        Some(value) => claims.with_header_token(value),
        None => claims,
    }
}

/// Logs a request without a usable bearer token.
fn unusable(error: AuthError) -> AuthError {
    tracing::debug!(reason = error.reason(), "request without a usable bearer token");
    error
}

/// Logs an accepted token (its tenant and user, never the token).
fn accepted(result: &Result<AzureClaims, AuthError>) {
    if let Ok(c) = result {
        tracing::debug!(tenant = c.tid(), oid = c.oid(), "access token accepted");
    }
}

impl Inner {
    /// The cache key of `token`: `None` when the cache is off or the token is too long to be one
    /// Entra issued (it is refused by `verify` without being hashed).
    fn key<'t>(&self, token: &'t str) -> Option<TokenKey<'t>> {
        (self.tokens.is_some() && token.len() <= jwt::MAX_TOKEN_LEN).then(|| TokenKey::of(token))
    }

    /// The answer for a token in the verified-token cache (its tenant and permissions checked
    /// against `req`), or `None` when it is not there.
    fn cached(&self, key: &TokenKey<'_>, req: &Requirements) -> Option<Result<AzureClaims, AuthError>> {
        let claims = self.tokens.as_ref()?.get(key, self.verifier.clock.unix())?;
        let checked = if req.tenant_allowed(&self.verifier.config, claims.tid()) {
            self.verifier.authorize(&claims, req)
        } else {
            Err(AuthError::InvalidToken(InvalidToken::TenantNotAllowed))
        };
        Some(match checked {
            Ok(()) => Ok(claims),
            Err(e) => Err(refused(e, Some(claims.tid()), claims.oid())),
        })
    }

    /// Verifies a token not in the cache, remembers it (under `key`) and checks `req`.
    async fn verify_and_remember(
        &self,
        token: &str,
        key: Option<TokenKey<'_>>,
        req: &Requirements,
    ) -> Result<AzureClaims, AuthError> {
        if token.len() > jwt::MAX_TOKEN_LEN {
            return Err(refused(AuthError::InvalidToken(InvalidToken::Oversized), None, None));
        }
        // Verification's future (key fetches, HTTP) is large: boxed, so that the futures of
        // `authenticate` and `validate_for` stay small for their cached path.
        let claims = Box::pin(self.verifier.verify(token, req)).await?;
        if let (Some(cache), Some(key)) = (&self.tokens, key) {
            cache.insert(&key, claims.exp(), claims.clone(), self.verifier.clock.unix());
        }
        match self.verifier.authorize(&claims, req) {
            Ok(()) => Ok(claims),
            Err(e) => Err(refused(e, Some(claims.tid()), claims.oid())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Arc<AzureOAuthConfig> {
        Arc::new(crate::fixtures::build(crate::fixtures::offline()))
    }

    #[tokio::test]
    async fn the_refresher_starts_on_first_use_and_ends_with_the_validator() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let validator = TokenValidator::new(config());
        assert_eq!(metrics.num_alive_tasks(), 0, "nothing is spawned by new()");
        let clone = validator.clone();
        assert!(validator.validate("not.a.token").await.is_err());
        assert!(clone.validate("not.a.token").await.is_err());
        assert_eq!(metrics.num_alive_tasks(), 1, "one refresher");
        drop(validator);
        assert_eq!(metrics.num_alive_tasks(), 1, "a clone still holds the validator");
        drop(clone);
        for _ in 0..100 {
            if metrics.num_alive_tasks() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(metrics.num_alive_tasks(), 0, "the refresher ended");
    }
}
