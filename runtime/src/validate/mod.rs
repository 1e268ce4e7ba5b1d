//! Entra ID access token validation: [`TokenValidator`], [`Requirements`], [`AuthError`], the
//! [`AzureClaims`] extractor and the [`AuthLayer`].
//!
//! The rules are listed on [`TokenValidator`].

mod cache;
pub(crate) mod claims;
mod jwks;
mod jwt;
mod layer;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::{AzureOAuthConfig, rules};
use cache::{TokenCache, TokenKey};
pub use claims::{AzureClaims, TokenKind, TokenVersion};
use jwks::{KeyCache, KeyError};
pub use jwks::{NEW_TENANT_BURST, NEW_TENANT_REFILL_PER_SEC};
pub use layer::{AuthFuture, AuthLayer, AuthService};

/// Why a request was not authenticated. Each variant maps to one HTTP answer (see
/// [`AuthError::status`]); its message says what the caller should do, and never carries key ids,
/// upstream errors or the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header (401, no error code: the client should sign in).
    #[error("no access token: send it in an `Authorization: Bearer <token>` header")]
    MissingToken,
    /// The request is malformed (400 `invalid_request`).
    #[error("{0}")]
    InvalidRequest(InvalidRequest),
    /// The token is not valid for this resource (401 `invalid_token`).
    #[error("{0}")]
    InvalidToken(InvalidToken),
    /// The token is valid but lacks the permission the resource requires (403 `insufficient_scope`).
    #[error("{0}")]
    InsufficientScope(InsufficientScope),
    /// No signing keys can be had from Entra right now (503 `temporarily_unavailable`).
    #[error(
        "the token cannot be checked right now because Entra ID's signing keys are unavailable; retry shortly"
    )]
    KeysUnavailable,
}

impl AuthError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The OAuth error code (RFC 6750 §3.1), if any.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope(_) => Some("insufficient_scope"),
            Self::KeysUnavailable => Some("temporarily_unavailable"),
        }
    }

    /// A short reason for logs (never the token).
    fn reason(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing token",
            Self::InvalidRequest(r) => r.reason(),
            Self::InvalidToken(r) => r.reason(),
            Self::InsufficientScope(r) => r.reason(),
            Self::KeysUnavailable => "keys unavailable",
        }
    }
}

macro_rules! reasons {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => ($reason:literal, $message:literal),)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[error($message)] $variant,)*
        }
        impl $name {
            fn reason(self) -> &'static str {
                match self { $(Self::$variant => $reason,)* }
            }
        }
    };
}

reasons! {
    /// Why the request itself is malformed.
    InvalidRequest {
        /// The `Authorization` header is not `Bearer <token>`.
        NotBearer => ("not bearer", "the Authorization header must be `Bearer <access token>`"),
        /// More than one `Authorization` header.
        SeveralHeaders => ("several authorization headers", "send exactly one Authorization header"),
        /// The token was sent in the query string (RFC 6750 §2.3, which this resource refuses).
        TokenInQuery => ("token in query", "send the access token in the Authorization header, not in the URL"),
    }
}

reasons! {
    /// Why a token is not valid for this resource.
    InvalidToken {
        /// Longer than 16 KiB.
        Oversized => ("oversized", "the access token is too large; request a new one from Entra ID"),
        /// Not a JWS in compact form, or not JSON inside.
        Malformed => ("malformed", "the access token is not a well-formed JWT; send the access token Entra ID issued, unchanged"),
        /// Signed with another algorithm than RS256 (or none).
        Algorithm => ("algorithm", "the access token is not signed the way Entra ID signs access tokens (RS256)"),
        /// `tid` is missing or not a GUID, or `ver` is not 1.0 / 2.0.
        NotEntra => ("not entra", "the access token was not issued by Microsoft Entra ID; sign in with Entra ID"),
        /// The tenant is not allowed here.
        TenantNotAllowed => ("tenant not allowed", "accounts of this organization are not allowed; sign in with an account of an allowed organization"),
        /// Entra does not know the tenant.
        UnknownTenant => ("unknown tenant", "the token's tenant is not known to Entra ID; sign in again"),
        /// The tenant is not known here yet and too many new tenants were looked up lately
        /// (nothing was fetched; see [`NEW_TENANT_BURST`]).
        NewTenantThrottled => ("unknown tenant throttled", "unknown tenant, try again later: too many new tenants are being looked up right now"),
        /// The signing key is not among the tenant's published keys.
        UnknownKey => ("unknown key", "the access token is not signed by a current Entra ID key; sign in again to get a new token"),
        /// The signature does not verify.
        Signature => ("signature", "the access token's signature is not valid; sign in again to get a new token"),
        /// `iss` is not the tenant's issuer.
        Issuer => ("issuer", "the access token was not issued by the token's tenant; sign in again"),
        /// `exp` is missing or not a number.
        NoExpiry => ("no expiry", "the access token has no valid expiry; request a new one from Entra ID"),
        /// Expired (beyond the clock skew).
        Expired => ("expired", "the access token expired; refresh it or sign in again"),
        /// `nbf` is in the future (beyond the clock skew).
        NotYetValid => ("not yet valid", "the access token is not valid yet; check the client's clock and retry"),
        /// `aud` is not this resource.
        Audience => ("audience", "the access token was issued for another resource; request a token for this server's scope"),
        /// An ID token, not an access token.
        IdToken => ("id token", "an ID token is not an access token; request an access token for this server's scope"),
    }
}

reasons! {
    /// Why a valid token lacks permission.
    InsufficientScope {
        /// A delegated token without any of the required scopes.
        Scope => ("scope", "the access token lacks the required scope; sign in again asking for it"),
        /// An app-only token, which this resource does not accept.
        AppOnly => ("app only", "app-only tokens are not accepted here; call with a signed-in user's token"),
        /// An app-only token without any of the required roles.
        Role => ("role", "the app has not been granted the required app role; ask an administrator to assign it"),
    }
}

/// What a protected handler requires of a token, beyond validity. Each empty list means "the
/// configuration's": `required_scopes`, `required_roles` and the tenant policy. Built in `const`
/// items (the macros do):
///
/// ```
/// use axum_mcp_azure_oauth::Requirements;
///
/// const ADMIN: Requirements = Requirements::new(&["admin"])
///     .roles(&["Tasks.Admin"])
///     .tenants(&["11111111-2222-3333-4444-555555555555"]);
/// assert_eq!(ADMIN.required_scopes(), ["admin"]);
/// assert_eq!(Requirements::default().required_scopes(), [] as [&str; 0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Requirements {
    scopes: &'static [&'static str],
    roles: &'static [&'static str],
    tenants: &'static [&'static str],
}

impl Requirements {
    /// The configuration's scopes, roles and tenants.
    pub const CONFIG: Self = Self { scopes: &[], roles: &[], tenants: &[] };

    /// Delegated tokens must hold one of `scopes` (bare names such as `access_as_user`).
    pub const fn new(scopes: &'static [&'static str]) -> Self {
        Self { scopes, roles: &[], tenants: &[] }
    }
    /// App-only tokens are accepted when they hold one of `roles`.
    pub const fn roles(self, roles: &'static [&'static str]) -> Self {
        Self { roles, ..self }
    }
    /// Only tokens of these tenants (GUIDs) are accepted, instead of the configured policy.
    pub const fn tenants(self, tenants: &'static [&'static str]) -> Self {
        Self { tenants, ..self }
    }
    /// The scopes set here (empty: the configuration's).
    pub const fn required_scopes(&self) -> &'static [&'static str] {
        self.scopes
    }
    /// The roles set here (empty: the configuration's).
    pub const fn required_roles(&self) -> &'static [&'static str] {
        self.roles
    }
    /// The tenants set here (empty: the configuration's policy).
    pub const fn allowed_tenants(&self) -> &'static [&'static str] {
        self.tenants
    }

    /// The scopes in force under `config`.
    pub(crate) fn scopes_in<'a>(&'a self, config: &'a AzureOAuthConfig) -> Vec<&'a str> {
        if self.scopes.is_empty() {
            config.required_scopes().iter().map(String::as_str).collect()
        } else {
            self.scopes.to_vec()
        }
    }

    fn tenant_allowed(&self, config: &AzureOAuthConfig, tenant: &str) -> bool {
        if self.tenants.is_empty() {
            config.tenant_allowed(tenant)
        } else {
            self.tenants.iter().any(|t| t.eq_ignore_ascii_case(tenant))
        }
    }
}

/// The validator's time: the system clock, or one that tests move forward by hand.
///
/// ```
/// use std::time::Duration;
/// use axum_mcp_azure_oauth::Clock;
///
/// let clock = Clock::manual();
/// clock.advance(Duration::from_secs(301)); // past the 5-minute refetch limit
/// ```
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Seconds added to the system time (manual clocks only).
    offset: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { offset: None }
    }
    /// A clock that starts at the system time and moves forward by [`Clock::advance`] as well.
    pub fn manual() -> Self {
        Self { offset: Some(Arc::new(AtomicI64::new(0))) }
    }
    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(offset) = &self.offset {
            offset.fetch_add(i64::try_from(by.as_secs()).unwrap_or(i64::MAX), Ordering::SeqCst);
        }
    }
    fn offset(&self) -> u64 {
        self.offset.as_ref().map_or(0, |o| o.load(Ordering::SeqCst).max(0).unsigned_abs())
    }
    /// Seconds since the Unix epoch.
    pub(crate) fn unix(&self) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        now.saturating_add(self.offset())
    }
    /// A monotonic instant.
    pub(crate) fn instant(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(Duration::from_secs(self.offset())).unwrap_or(now)
    }
}

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
///    configuration's [`TenantPolicy`](crate::TenantPolicy)); `ver` is `1.0` or `2.0`.
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
/// never did), tenants not cached are looked up at most [`NEW_TENANT_BURST`] at once and
/// [`NEW_TENANT_REFILL_PER_SEC`] per second after that (beyond it: 401 "try again later", nothing
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
/// let config = Arc::new(AzureOAuthConfig::from_env()?);
/// let validator = TokenValidator::new(config);
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
    config: Arc<AzureOAuthConfig>,
    keys: KeyCache,
    tokens: Option<TokenCache>,
    clock: Clock,
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
    /// A validator for `config`. Nothing is fetched until the first token arrives; the background
    /// key refresher starts then (inside the Tokio runtime) and ends when the validator is dropped.
    pub fn new(config: Arc<AzureOAuthConfig>) -> Self {
        Self::with_clock(config, Clock::system())
    }

    /// A validator with its own clock (tests move a [`Clock::manual`] past expiry and rate limits).
    pub fn with_clock(config: Arc<AzureOAuthConfig>, clock: Clock) -> Self {
        let http = crate::http::client(&config);
        Self::with_http(config, clock, http)
    }

    /// A validator fetching through `http` (`AzureOAuth` shares one client between the
    /// validator, the bridge and Graph).
    pub(crate) fn with_http(config: Arc<AzureOAuthConfig>, clock: Clock, http: reqwest::Client) -> Self {
        let tokens = TokenCache::new(config.token_cache_capacity());
        let keys = KeyCache::new(config.clone(), clock.clone(), http);
        Self {
            inner: Arc::new(Inner {
                config,
                keys,
                tokens,
                clock,
                refresher_started: AtomicBool::new(false),
                shutdown: Arc::new(tokio::sync::Notify::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<AzureOAuthConfig> {
        &self.inner.config
    }

    /// Fetch counts and cache sizes.
    pub fn stats(&self) -> ValidatorStats {
        ValidatorStats {
            metadata_fetches: self.inner.keys.metadata_fetches.load(Ordering::Relaxed),
            jwks_fetches: self.inner.keys.jwks_fetches.load(Ordering::Relaxed),
            cached_tenants: self.inner.keys.tenant_count(),
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
    }

    /// Authenticates a request: reads its bearer token strictly (exactly one
    /// `Authorization: Bearer <token>` header, none in the query) and validates it against
    /// `requirements`. On failure, the answer to send: the challenge of [`TokenValidator::challenge`].
    /// [`AuthLayer`] and the [`AzureClaims`] extractor call this; so can a handler or a macro.
    pub async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        uri: &http::Uri,
        requirements: &Requirements,
    ) -> Result<AzureClaims, axum::response::Response> {
        let result = match self.lookup(headers, uri, requirements) {
            Lookup::Done(result) => result,
            Lookup::Miss { token, key } => match crate::challenge::check_b64token(token) {
                Ok(()) => self.verify_uncached(token, key, requirements).await,
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

    /// The request's token, answered from the verified-token cache when it is there.
    fn lookup<'h>(&self, headers: &'h http::HeaderMap, uri: &http::Uri, req: &Requirements) -> Lookup<'h> {
        match crate::challenge::bearer_credentials(headers, uri) {
            Ok(token) => self.lookup_token(token, req),
            Err(e) => Lookup::Done(Err(unusable(e))),
        }
    }

    /// `token`, answered from the verified-token cache when it is there.
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
        crate::challenge::response(&self.inner.config, headers, error, requirements)
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
        let interval = self.inner.config.key_refresh_interval();
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
        inner.keys.refresh_all().await;
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

/// Logs a refusal at debug level (never the token) and passes the error on.
fn refused(error: AuthError, tenant: Option<&str>, oid: Option<&str>) -> AuthError {
    tracing::debug!(tenant, oid, reason = error.reason(), "access token refused");
    error
}

/// `jwt::parse`, for the fuzz targets (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_parse(token: &str) -> Result<jwt::Parsed<'_>, InvalidToken> {
    jwt::parse(token)
}

/// `tenant_of` and `version_of`, for the fuzz targets (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_tenant_and_version(claims: &Map<String, Value>) -> (Option<String>, Option<TokenVersion>) {
    (tenant_of(claims), version_of(claims))
}

/// The lower-case `tid` of unverified claims, if it is a GUID.
fn tenant_of(claims: &Map<String, Value>) -> Option<String> {
    let tid = claims.get("tid")?.as_str()?;
    rules::guid(tid).ok()?;
    Some(tid.to_ascii_lowercase())
}

fn version_of(claims: &Map<String, Value>) -> Option<TokenVersion> {
    match claims.get("ver")?.as_str()? {
        "1.0" => Some(TokenVersion::V1),
        "2.0" => Some(TokenVersion::V2),
        _ => None,
    }
}

/// A JSON number claim as whole seconds.
fn seconds(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

/// The path segment of `iss` that is a GUID (the tenant Entra put in it), lower case.
fn issuer_tenant(iss: &str) -> Option<String> {
    let rest = iss.split_once("://")?.1;
    rest.split('/').find(|seg| rules::guid(seg).is_ok()).map(str::to_ascii_lowercase)
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
        let claims = self.tokens.as_ref()?.get(key, self.clock.unix())?;
        let checked = if req.tenant_allowed(&self.config, claims.tid()) {
            self.authorize(&claims, req)
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
        let claims = Box::pin(self.verify(token, req)).await?;
        if let (Some(cache), Some(key)) = (&self.tokens, key) {
            cache.insert(&key, claims.exp(), claims.clone(), self.clock.unix());
        }
        match self.authorize(&claims, req) {
            Ok(()) => Ok(claims),
            Err(e) => Err(refused(e, Some(claims.tid()), claims.oid())),
        }
    }

    /// Everything but the permissions; refusals are logged with the token's (claimed) tenant and
    /// `oid` once they are known.
    async fn verify(&self, token: &str, req: &Requirements) -> Result<AzureClaims, AuthError> {
        let invalid = AuthError::InvalidToken;
        let parsed = jwt::parse(token).map_err(|e| refused(invalid(e), None, None))?;
        let Some(tenant) = tenant_of(&parsed.claims) else {
            return Err(refused(invalid(InvalidToken::NotEntra), None, None));
        };
        let oid = parsed.claims.get("oid").and_then(Value::as_str).map(str::to_owned);
        self.verify_parsed(parsed, &tenant, req).await.map_err(|e| refused(e, Some(&tenant), oid.as_deref()))
    }

    async fn verify_parsed(
        &self,
        parsed: jwt::Parsed<'_>,
        tenant: &str,
        req: &Requirements,
    ) -> Result<AzureClaims, AuthError> {
        use InvalidToken as E;
        let invalid = AuthError::InvalidToken;
        let version = version_of(&parsed.claims).ok_or(invalid(E::NotEntra))?;
        if !req.tenant_allowed(&self.config, tenant) {
            return Err(invalid(E::TenantNotAllowed));
        }

        let (set, key, entry) = self.keys.key(tenant, version, &parsed.kid).await.map_err(|e| match e {
            KeyError::UnknownKey => invalid(E::UnknownKey),
            KeyError::UnknownTenant => invalid(E::UnknownTenant),
            KeyError::NewTenantThrottled => invalid(E::NewTenantThrottled),
            KeyError::Unavailable => AuthError::KeysUnavailable,
        })?;
        key.key.verify_sig(parsed.signed, parsed.signature()).map_err(|_| invalid(E::Signature))?;
        let claims = parsed.claims;

        // The issuer: the metadata's, for this tenant; the tenant inside it is `tid`.
        let iss = claims.get("iss").and_then(Value::as_str).ok_or(invalid(E::Issuer))?;
        if iss != set.issuer.replace("{tenantid}", tenant) || issuer_tenant(iss).as_deref() != Some(tenant) {
            tracing::debug!(tenant, "issuer does not match the tenant's metadata");
            return Err(invalid(E::Issuer));
        }
        if let Some(key_issuer) = &key.issuer
            && key_issuer.replace("{tenantid}", tenant) != iss
        {
            tracing::debug!(tenant, "issuer does not match the signing key's issuer");
            return Err(invalid(E::Issuer));
        }
        // Entra signed a token of this tenant with these keys: the tenant is real.
        self.keys.promote(&entry);

        // Time.
        let now = self.clock.unix();
        let skew = self.config.clock_skew().as_secs();
        let exp = claims.get("exp").and_then(seconds).ok_or(invalid(E::NoExpiry))?;
        if now > exp.saturating_add(skew) {
            return Err(invalid(E::Expired));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = seconds(nbf).ok_or(invalid(E::Malformed))?;
            if nbf > now.saturating_add(skew) {
                return Err(invalid(E::NotYetValid));
            }
        }

        // Audience.
        let audience_ok = |aud: &str| self.audience_accepted(aud, version);
        let aud_ok = match claims.get("aud") {
            Some(Value::String(aud)) => audience_ok(aud),
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(audience_ok),
            _ => false,
        };
        if !aud_ok {
            return Err(invalid(E::Audience));
        }

        // Token type.
        let has_scp = claims.get("scp").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
        let has_roles = claims.get("roles").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
        let app_idtyp = claims.get("idtyp").and_then(Value::as_str) == Some("app");
        // Access tokens always name the client they were issued to (`azp` in v2, `appid` in v1);
        // ID tokens never do. An ID token may lack `nonce` (the authorize request had none) and
        // carry `roles` (the user's app roles), so the client claim is what tells them apart.
        let client_claim = match version {
            TokenVersion::V1 => "appid",
            TokenVersion::V2 => "azp",
        };
        let has_client =
            claims.get(client_claim).and_then(Value::as_str).is_some_and(|c| !c.trim().is_empty());
        if !has_client || claims.contains_key("nonce") || (!has_scp && !has_roles) {
            return Err(invalid(E::IdToken));
        }
        let kind = if app_idtyp || !has_scp { TokenKind::AppOnly } else { TokenKind::Delegated };
        // The cache entry never outlives `exp` (the skew is only tolerance for clock drift).
        Ok(AzureClaims::new(claims, version, kind, tenant.to_owned(), exp))
    }

    fn audience_accepted(&self, aud: &str, version: TokenVersion) -> bool {
        let app_id = self.config.app_id();
        // v1 tokens may carry the App ID URI with a trailing slash.
        let aud = match version {
            TokenVersion::V1 => aud.strip_suffix('/').unwrap_or(aud),
            TokenVersion::V2 => aud,
        };
        aud.eq_ignore_ascii_case(app_id)
            || aud.strip_prefix("api://").is_some_and(|rest| rest.eq_ignore_ascii_case(app_id))
            || self.config.app_id_uris().iter().any(|u| u == aud)
    }

    fn authorize(&self, claims: &AzureClaims, req: &Requirements) -> Result<(), AuthError> {
        match claims.kind() {
            TokenKind::Delegated => {
                let ok = if req.scopes.is_empty() {
                    self.config.required_scopes().iter().any(|s| claims.has_scope(s))
                } else {
                    req.scopes.iter().any(|s| claims.has_scope(s))
                };
                if ok { Ok(()) } else { Err(AuthError::InsufficientScope(InsufficientScope::Scope)) }
            }
            TokenKind::AppOnly => {
                let ok = if req.roles.is_empty() {
                    if self.config.required_roles().is_empty() {
                        return Err(AuthError::InsufficientScope(InsufficientScope::AppOnly));
                    }
                    self.config.required_roles().iter().any(|r| claims.has_role(r))
                } else {
                    req.roles.iter().any(|r| claims.has_role(r))
                };
                if ok { Ok(()) } else { Err(AuthError::InsufficientScope(InsufficientScope::Role)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Arc<AzureOAuthConfig> {
        Arc::new(
            AzureOAuthConfig::builder()
                .app_id("11111111-2222-3333-4444-555555555555")
                .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
                .authority_host("http://127.0.0.1:9")
                .build()
                .expect("valid"),
        )
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

    #[test]
    fn audiences() {
        let v = TokenValidator::new(config());
        let i = &v.inner;
        let app = "11111111-2222-3333-4444-555555555555";
        for (aud, version, ok) in [
            (app, TokenVersion::V2, true),
            ("api://11111111-2222-3333-4444-555555555555", TokenVersion::V2, true),
            ("api://11111111-2222-3333-4444-555555555555/", TokenVersion::V1, true),
            ("api://11111111-2222-3333-4444-555555555555/", TokenVersion::V2, false),
            ("api://11111111-2222-3333-4444-555555555555/.default", TokenVersion::V1, false),
            ("api://11111111-2222-3333-4444-555555555555//", TokenVersion::V1, false),
            ("https://graph.microsoft.com", TokenVersion::V1, false),
            ("", TokenVersion::V2, false),
        ] {
            assert_eq!(i.audience_accepted(aud, version), ok, "{aud} {version:?}");
        }
    }

    #[test]
    fn issuer_tenant_is_the_guid_segment() {
        let t = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        assert_eq!(issuer_tenant(&format!("https://sts.windows.net/{t}/")).as_deref(), Some(t));
        assert_eq!(issuer_tenant(&format!("https://login.microsoftonline.com/{t}/v2.0")).as_deref(), Some(t));
        assert_eq!(issuer_tenant("https://login.microsoftonline.com/{tenantid}/v2.0"), None);
    }
}
