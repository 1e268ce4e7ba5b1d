//! The configuration model: one [`AzureOAuthConfig`], built with [`AzureOAuthConfig::builder`] or
//! read with [`AzureOAuthConfig::from_env`], and checked by the `const fn` [`rules`].

pub mod rules;

use std::fmt;
use std::time::Duration;

use rules::RuleError;

/// The public Entra ID authority host.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The public Microsoft Graph endpoint.
pub const DEFAULT_GRAPH_ENDPOINT: &str = "https://graph.microsoft.com";
/// The scope name the app exposes under `api://{app_id}/` unless configured otherwise.
pub const DEFAULT_API_SCOPE: &str = "access_as_user";
/// The path of the protected MCP endpoint unless configured otherwise.
pub const DEFAULT_RESOURCE_PATH: &str = "/mcp";
/// The path of the server's own OAuth callback (`GET /oauth/callback`).
pub const DEFAULT_CALLBACK_PATH: &str = "/oauth/callback";
/// Clock skew tolerated on `exp` and `nbf`: 5 minutes, as Microsoft.Identity.Web.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Tenants whose metadata and keys are cached at once (FIFO eviction beyond).
pub const DEFAULT_KEY_CACHE_TENANTS: usize = 50;
/// Verified tokens remembered so that repeat requests skip the RSA check (0 turns it off).
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;
/// How often signing keys are refreshed in the background (Identity.Web: 12 hours).
pub const DEFAULT_KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 3600);
/// Timeout of every outgoing HTTP request (metadata, keys, token bridge, Graph).
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The Entra app's client secret. Its `Debug` and `Display` print `[redacted]`; read it with
/// [`ClientSecret::expose`] only where it is sent to Entra.
///
/// ```
/// use axum_mcp_azure_oauth::ClientSecret;
///
/// let secret = ClientSecret::new("s3cr3t");
/// assert_eq!(format!("{secret:?} {secret}"), "ClientSecret([redacted]) [redacted]");
/// assert_eq!(secret.expose(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret read at run time (an environment variable, a vault).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one request that sends it to Entra.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for ClientSecret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for ClientSecret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Which tenants' tokens are accepted.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum TenantPolicy {
    /// Only the home tenant (`AZURE_TENANT_ID`). The default.
    #[default]
    Home,
    /// These tenants (lower-case GUIDs).
    List(Vec<String>),
    /// Any Entra tenant (`AZURE_ALLOWED_TENANT_IDS=*`): a multi-tenant app.
    Any,
}

impl TenantPolicy {
    /// Parses `*` or comma-separated GUIDs, by [`rules::tenant_list`].
    pub fn parse(list: &str) -> Result<Self, RuleError> {
        rules::tenant_list(list)?;
        if list.trim() == "*" {
            return Ok(Self::Any);
        }
        let mut tenants: Vec<String> = list.split(',').map(|t| t.trim().to_ascii_lowercase()).collect();
        tenants.dedup();
        Ok(Self::List(tenants))
    }
}

/// How MCP clients are pointed at Entra ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// This server is the authorization server clients see: it serves RFC 8414 metadata and
    /// registration, and bridges authorize and token requests to Entra (dropping `resource`,
    /// qualifying scopes, adding the secret for `web` redirect URIs). Spec MCP clients need this.
    /// The default.
    #[default]
    Bridge,
    /// The metadata points clients straight at Entra (what fastapi-mcp-azure-oauth does): for
    /// clients with their own Microsoft sign-in, such as VS Code.
    Direct,
}

impl Mode {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bridge" => Some(Self::Bridge),
            "direct" => Some(Self::Direct),
            _ => None,
        }
    }
}

/// The app registration platform that `https` redirect URIs are enrolled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpsPlatform {
    /// `web`: a confidential redirect; the bridge adds the client secret when the code is redeemed.
    /// The default.
    #[default]
    Web,
    /// `spa`: the code is redeemed by the browser with an `Origin` header and no secret.
    Spa,
}

impl HttpsPlatform {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "web" => Some(Self::Web),
            "spa" => Some(Self::Spa),
            _ => None,
        }
    }
}

/// A configuration value that broke a rule, or one that is missing.
///
/// The message names the field and its environment variable, the bad value (never the secret) and
/// what a valid value looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required field was not set.
    #[error(
        "{field} is required: set the environment variable {env} or call .{field}(…) on the builder ({hint})"
    )]
    Missing {
        /// The builder method / field.
        field: &'static str,
        /// The environment variable.
        env: &'static str,
        /// What a valid value looks like.
        hint: &'static str,
    },
    /// A value broke its rule.
    #[error("{field} ({env}) = {value:?} is not valid: {rule}")]
    Invalid {
        /// The builder method / field.
        field: &'static str,
        /// The environment variable.
        env: &'static str,
        /// The value as given.
        value: String,
        /// The rule it broke.
        rule: RuleError,
    },
    /// A value that is not one of the listed choices.
    #[error("{field} ({env}) = {value:?} is not valid: expected {expected}")]
    Choice {
        /// The builder method / field.
        field: &'static str,
        /// The environment variable.
        env: &'static str,
        /// The value as given.
        value: String,
        /// The valid choices.
        expected: &'static str,
    },
    /// The client secret is empty or has surrounding white space (its value is never shown).
    #[error(
        "client_secret (AZURE_CLIENT_SECRET) is not valid: it is empty or has leading or trailing white space; copy the secret's Value (not its ID) from the app registration's Certificates & secrets page"
    )]
    Secret,
}

/// One field: its builder name, environment variable and rule.
macro_rules! field_names {
    ($($konst:ident = ($field:literal, $env:literal);)*) => {
        $(#[doc = concat!("The `", $field, "` field and its environment variable `", $env, "`.")]
        const $konst: (&str, &str) = ($field, $env);)*
    };
}

field_names! {
    APP_ID = ("app_id", "AZURE_CLIENT_ID");
    TENANT_ID = ("tenant_id", "AZURE_TENANT_ID");
    CLIENT_SECRET = ("client_secret", "AZURE_CLIENT_SECRET");
    AUTHORITY_HOST = ("authority_host", "AZURE_AUTHORITY_HOST");
    GRAPH_ENDPOINT = ("graph_endpoint", "MICROSOFT_GRAPH_ENDPOINT");
    BASE_URL = ("base_url", "PUBLIC_BASE_URL");
    REDIRECT_URIS = ("allowed_redirect_uris", "ALLOWED_REDIRECT_URIS");
    REDIRECT_PREFIXES = ("allowed_redirect_uri_prefixes", "ALLOWED_REDIRECT_URI_PREFIXES");
    TENANTS = ("allowed_tenant_ids", "AZURE_ALLOWED_TENANT_IDS");
    API_SCOPE = ("api_scope", "AZURE_API_SCOPE");
    RESOURCE_PATH = ("resource_path", "MCP_RESOURCE_PATH");
    MODE = ("mode", "AZURE_OAUTH_MODE");
    HTTPS_PLATFORM = ("https_redirect_platform", "AZURE_HTTPS_REDIRECT_PLATFORM");
    REQUIRED_SCOPES = ("required_scopes", "AZURE_REQUIRED_SCOPES");
    REQUIRED_ROLES = ("required_roles", "AZURE_REQUIRED_ROLES");
    APP_ID_URIS = ("app_id_uris", "AZURE_APP_ID_URIS");
    CLOCK_SKEW = ("clock_skew", "AZURE_CLOCK_SKEW_SECS");
    CUSTOM_KEYS = ("custom_signing_keys", "AZURE_CUSTOM_SIGNING_KEYS");
    REQUIRE_PKCE = ("require_pkce", "AZURE_REQUIRE_PKCE");
}

fn check(
    (field, env): (&'static str, &'static str),
    value: &str,
    rule: fn(&str) -> Result<(), RuleError>,
) -> Result<(), ConfigError> {
    rule(value).map_err(|rule| ConfigError::Invalid { field, env, value: value.to_owned(), rule })
}

/// The whole configuration of the protected resource, the authorization-server bridge, the
/// validator and the Graph client. Every value has passed its [`rules`].
///
/// ```
/// use axum_mcp_azure_oauth::{AzureOAuthConfig, TenantPolicy};
///
/// let config = AzureOAuthConfig::builder()
///     .app_id("11111111-2222-3333-4444-555555555555")
///     .tenant_id("AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee")
///     .base_url("https://mcp.example.com/")
///     .allowed_redirect_uris(["https://vscode.dev/redirect"])
///     .build()?;
/// assert_eq!(config.tenant_id(), "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
/// assert_eq!(config.base_url(), Some("https://mcp.example.com"));
/// assert_eq!(config.resource_url().as_deref(), Some("https://mcp.example.com/mcp"));
/// assert_eq!(config.qualified_scope(), "api://11111111-2222-3333-4444-555555555555/access_as_user");
/// assert_eq!(config.tenants(), &TenantPolicy::Home);
/// # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AzureOAuthConfig {
    app_id: String,
    tenant_id: String,
    client_secret: Option<ClientSecret>,
    authority_host: String,
    graph_endpoint: String,
    base_url: Option<String>,
    allowed_redirect_uris: Vec<String>,
    allowed_redirect_uri_prefixes: Vec<String>,
    tenants: TenantPolicy,
    api_scope: String,
    resource_path: String,
    callback_path: String,
    mode: Mode,
    https_redirect_platform: HttpsPlatform,
    required_scopes: Vec<String>,
    required_roles: Vec<String>,
    app_id_uris: Vec<String>,
    clock_skew: Duration,
    custom_signing_keys: bool,
    require_pkce: bool,
    key_cache_tenants: usize,
    new_tenant_burst: u32,
    new_tenant_refill_per_sec: u32,
    token_cache_capacity: usize,
    key_refresh_interval: Duration,
    http_timeout: Duration,
}

impl AzureOAuthConfig {
    /// Starts a builder; `app_id` and `tenant_id` are required, everything else has a default.
    pub fn builder() -> AzureOAuthConfigBuilder {
        AzureOAuthConfigBuilder::default()
    }

    /// Reads the configuration from the environment: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_SECRET`, `AZURE_AUTHORITY_HOST`, `MICROSOFT_GRAPH_ENDPOINT`,
    /// `PUBLIC_BASE_URL`, `ALLOWED_REDIRECT_URIS` and `ALLOWED_REDIRECT_URI_PREFIXES`
    /// (comma-separated), `AZURE_ALLOWED_TENANT_IDS` (comma-separated GUIDs or `*`; absent: the
    /// home tenant only), `AZURE_API_SCOPE`, `MCP_RESOURCE_PATH`, `AZURE_OAUTH_MODE`
    /// (`bridge`/`direct`), `AZURE_HTTPS_REDIRECT_PLATFORM` (`web`/`spa`),
    /// `AZURE_REQUIRED_SCOPES` and `AZURE_REQUIRED_ROLES` (comma-separated), `AZURE_APP_ID_URIS`
    /// (comma-separated), `AZURE_CLOCK_SKEW_SECS`, `AZURE_CUSTOM_SIGNING_KEYS` and
    /// `AZURE_REQUIRE_PKCE` (`true`/`false`).
    /// Unset and empty variables take the default.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::builder().env(|name| std::env::var(name).ok())?.build()
    }

    /// The app (client) id, lower case.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }
    /// The home tenant id, lower case: where the app is registered and Graph is called.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }
    /// The client secret, if configured (needed for Graph enrolment and `web` redirect URIs).
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        self.client_secret.as_ref()
    }
    /// The Entra authority host without a trailing `/`, e.g. `https://login.microsoftonline.com`.
    pub fn authority_host(&self) -> &str {
        &self.authority_host
    }
    /// The Microsoft Graph endpoint without a trailing `/`, e.g. `https://graph.microsoft.com`.
    pub fn graph_endpoint(&self) -> &str {
        &self.graph_endpoint
    }
    /// The public base URL without a trailing `/`, if configured.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }
    /// Exact redirect URIs `POST /register` may enrol.
    pub fn allowed_redirect_uris(&self) -> &[String] {
        &self.allowed_redirect_uris
    }
    /// Redirect URI prefixes `POST /register` may enrol (each ends in `/`).
    pub fn allowed_redirect_uri_prefixes(&self) -> &[String] {
        &self.allowed_redirect_uri_prefixes
    }
    /// Which tenants' tokens are accepted.
    pub fn tenants(&self) -> &TenantPolicy {
        &self.tenants
    }
    /// Whether tokens of `tenant` (a lower-case GUID) are accepted.
    pub fn tenant_allowed(&self, tenant: &str) -> bool {
        match &self.tenants {
            TenantPolicy::Home => tenant == self.tenant_id,
            TenantPolicy::List(list) => list.iter().any(|t| t == tenant),
            TenantPolicy::Any => true,
        }
    }
    /// The tenant segment for Entra URLs clients are sent to: the one allowed tenant, else
    /// `organizations`.
    pub fn authority_tenant(&self) -> &str {
        match &self.tenants {
            TenantPolicy::Home => &self.tenant_id,
            TenantPolicy::List(list) if list.len() == 1 => &list[0],
            _ => "organizations",
        }
    }
    /// The scope name exposed by the app, e.g. `access_as_user`.
    pub fn api_scope(&self) -> &str {
        &self.api_scope
    }
    /// The scope fully qualified: `api://{app_id}/{api_scope}`.
    pub fn qualified_scope(&self) -> String {
        format!("api://{}/{}", self.app_id, self.api_scope)
    }
    /// The path of the protected MCP endpoint, e.g. `/mcp`.
    pub fn resource_path(&self) -> &str {
        &self.resource_path
    }
    /// `{base_url}{resource_path}`, if the base URL is configured.
    pub fn resource_url(&self) -> Option<String> {
        self.base_url.as_ref().map(|b| format!("{b}{}", self.resource_path))
    }
    /// The path of the server's own OAuth callback, `/oauth/callback`.
    pub fn callback_path(&self) -> &str {
        &self.callback_path
    }
    /// How clients are pointed at Entra.
    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// The platform `https` redirect URIs are enrolled on.
    pub fn https_redirect_platform(&self) -> HttpsPlatform {
        self.https_redirect_platform
    }
    /// Delegated scopes of which a token's `scp` must hold one (default: the API scope).
    pub fn required_scopes(&self) -> &[String] {
        &self.required_scopes
    }
    /// App roles that admit app-only tokens (empty: app-only tokens are refused).
    pub fn required_roles(&self) -> &[String] {
        &self.required_roles
    }
    /// Extra App ID URIs accepted as audience, besides the app id and `api://{app_id}`.
    pub fn app_id_uris(&self) -> &[String] {
        &self.app_id_uris
    }
    /// Clock skew tolerated on `exp` and `nbf`.
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }
    /// Whether metadata and keys are fetched with `?appid={app_id}` (apps with custom signing keys).
    pub fn custom_signing_keys(&self) -> bool {
        self.custom_signing_keys
    }
    /// Whether the bridge's `/authorize` requires PKCE with `S256` (default `true`).
    pub fn require_pkce(&self) -> bool {
        self.require_pkce
    }
    /// How many tenants' metadata and keys are cached.
    pub fn key_cache_tenants(&self) -> usize {
        self.key_cache_tenants
    }
    /// How many tenants the key cache does not hold may be looked up at once (see
    /// [`NEW_TENANT_BURST`](crate::NEW_TENANT_BURST)).
    pub fn new_tenant_burst(&self) -> u32 {
        self.new_tenant_burst
    }
    /// How many more new tenants may be looked up per second once the burst is spent.
    pub fn new_tenant_refill_per_sec(&self) -> u32 {
        self.new_tenant_refill_per_sec
    }
    /// How many verified tokens are remembered (0: off).
    pub fn token_cache_capacity(&self) -> usize {
        self.token_cache_capacity
    }
    /// How often keys are refreshed in the background.
    pub fn key_refresh_interval(&self) -> Duration {
        self.key_refresh_interval
    }
    /// Timeout of every outgoing HTTP request.
    pub fn http_timeout(&self) -> Duration {
        self.http_timeout
    }
}

/// Builds an [`AzureOAuthConfig`]; [`build`](Self::build) checks every value by its rule.
///
/// ```
/// use axum_mcp_azure_oauth::AzureOAuthConfig;
///
/// let err = AzureOAuthConfig::builder()
///     .app_id("my-app")
///     .tenant_id("11111111-2222-3333-4444-555555555555")
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().starts_with("app_id (AZURE_CLIENT_ID) = \"my-app\" is not valid: expected a GUID"));
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "call .build() to get the configuration"]
pub struct AzureOAuthConfigBuilder {
    app_id: Option<String>,
    tenant_id: Option<String>,
    client_secret: Option<ClientSecret>,
    authority_host: Option<String>,
    graph_endpoint: Option<String>,
    base_url: Option<String>,
    allowed_redirect_uris: Vec<String>,
    allowed_redirect_uri_prefixes: Vec<String>,
    tenants: Option<TenantPolicy>,
    tenants_raw: Option<String>,
    api_scope: Option<String>,
    resource_path: Option<String>,
    mode: Option<Mode>,
    https_redirect_platform: Option<HttpsPlatform>,
    required_scopes: Vec<String>,
    required_roles: Vec<String>,
    app_id_uris: Vec<String>,
    clock_skew: Option<Duration>,
    custom_signing_keys: bool,
    require_pkce: Option<bool>,
    key_cache_tenants: Option<usize>,
    new_tenant_burst: Option<u32>,
    new_tenant_refill_per_sec: Option<u32>,
    token_cache_capacity: Option<usize>,
    key_refresh_interval: Option<Duration>,
    http_timeout: Option<Duration>,
}

/// `true`/`1`/`yes` or `false`/`0`/`no`, any case.
fn parse_bool((field, env): (&'static str, &'static str), v: String) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::Choice { field, env, value: v, expected: "`true` or `false`" }),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl AzureOAuthConfigBuilder {
    /// The app (client) id GUID (`AZURE_CLIENT_ID`). Required.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }
    /// The home tenant GUID (`AZURE_TENANT_ID`). Required.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }
    /// The client secret (`AZURE_CLIENT_SECRET`): needed to enrol redirect URIs through Graph and
    /// to redeem codes for `web` redirect URIs. Never returned by any endpoint or logged.
    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }
    /// The Entra authority host (`AZURE_AUTHORITY_HOST`), default
    /// `https://login.microsoftonline.com`; sovereign clouds and the emulator set their own.
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = Some(host.into());
        self
    }
    /// The Microsoft Graph endpoint (`MICROSOFT_GRAPH_ENDPOINT`), default `https://graph.microsoft.com`.
    pub fn graph_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.graph_endpoint = Some(endpoint.into());
        self
    }
    /// The server's public base URL (`PUBLIC_BASE_URL`). Strongly recommended: without it URLs in
    /// documents are derived from the request, and the server's own callback is never enrolled.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    /// Exact redirect URIs `POST /register` may enrol (`ALLOWED_REDIRECT_URIS`). Loopback URIs
    /// match any port, as in Entra.
    pub fn allowed_redirect_uris<I: IntoIterator<Item = S>, S: Into<String>>(mut self, uris: I) -> Self {
        self.allowed_redirect_uris.extend(uris.into_iter().map(Into::into));
        self
    }
    /// Redirect URI prefixes `POST /register` may enrol (`ALLOWED_REDIRECT_URI_PREFIXES`), such as
    /// Copilot Studio's `https://global.consent.azure-apim.net/redirect/`.
    pub fn allowed_redirect_uri_prefixes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        prefixes: I,
    ) -> Self {
        self.allowed_redirect_uri_prefixes.extend(prefixes.into_iter().map(Into::into));
        self
    }
    /// Which tenants' tokens are accepted (default: the home tenant only).
    pub fn tenants(mut self, tenants: TenantPolicy) -> Self {
        self.tenants = Some(tenants);
        self.tenants_raw = None;
        self
    }
    /// Accept tokens of these tenants (`AZURE_ALLOWED_TENANT_IDS`); `["*"]` accepts any tenant.
    pub fn allowed_tenant_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        let ids: Vec<String> = ids.into_iter().map(Into::into).collect();
        self.tenants_raw = Some(ids.join(","));
        self.tenants = None;
        self
    }
    /// The scope name the app exposes (`AZURE_API_SCOPE`), default `access_as_user`.
    pub fn api_scope(mut self, scope: impl Into<String>) -> Self {
        self.api_scope = Some(scope.into());
        self
    }
    /// The path of the protected MCP endpoint (`MCP_RESOURCE_PATH`), default `/mcp`.
    pub fn resource_path(mut self, path: impl Into<String>) -> Self {
        self.resource_path = Some(path.into());
        self
    }
    /// [`Mode::Bridge`] (default) or [`Mode::Direct`] (`AZURE_OAUTH_MODE`).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }
    /// The platform `https` redirect URIs are enrolled on (`AZURE_HTTPS_REDIRECT_PLATFORM`), default `web`.
    pub fn https_redirect_platform(mut self, platform: HttpsPlatform) -> Self {
        self.https_redirect_platform = Some(platform);
        self
    }
    /// Delegated scopes of which a token must hold one (`AZURE_REQUIRED_SCOPES`); default: the API scope.
    pub fn required_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.required_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }
    /// App roles that admit app-only tokens (`AZURE_REQUIRED_ROLES`); default none (refused).
    pub fn required_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.required_roles.extend(roles.into_iter().map(Into::into));
        self
    }
    /// Extra App ID URIs accepted as audience (`AZURE_APP_ID_URIS`).
    pub fn app_id_uris<I: IntoIterator<Item = S>, S: Into<String>>(mut self, uris: I) -> Self {
        self.app_id_uris.extend(uris.into_iter().map(Into::into));
        self
    }
    /// Clock skew tolerated on `exp` and `nbf` (`AZURE_CLOCK_SKEW_SECS`), default 5 minutes.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = Some(skew);
        self
    }
    /// Fetch metadata and keys with `?appid={app_id}` (`AZURE_CUSTOM_SIGNING_KEYS`), for apps
    /// whose tokens are signed with custom keys (claims mapping).
    pub fn custom_signing_keys(mut self, on: bool) -> Self {
        self.custom_signing_keys = on;
        self
    }
    /// Whether the bridge's `/authorize` requires PKCE (`AZURE_REQUIRE_PKCE`), default `true`: a
    /// request without `code_challenge` and `code_challenge_method=S256` is sent back to the client
    /// with `invalid_request`, since the bridge adds the client secret when a `web` code is
    /// redeemed and a code without PKCE could then be redeemed by whoever saw it. `false` lets
    /// clients without PKCE through (Copilot Studio's PKCE support is unverified); a
    /// `code_challenge_method` other than `S256` is refused either way.
    pub fn require_pkce(mut self, on: bool) -> Self {
        self.require_pkce = Some(on);
        self
    }
    /// How many tenants' metadata and keys are cached, default 50.
    pub fn key_cache_tenants(mut self, tenants: usize) -> Self {
        self.key_cache_tenants = Some(tenants);
        self
    }
    /// How many tenants the key cache does not hold may be looked up at once, default
    /// [`NEW_TENANT_BURST`](crate::NEW_TENANT_BURST) (20), at least 1. Beyond it a token naming a
    /// new tenant gets 401 "try again later" without a fetch: raise it for a multi-tenant app whose
    /// users arrive from many tenants at once after a restart.
    pub fn new_tenant_burst(mut self, lookups: u32) -> Self {
        self.new_tenant_burst = Some(lookups);
        self
    }
    /// How many more new tenants may be looked up per second once the burst is spent, default
    /// [`NEW_TENANT_REFILL_PER_SEC`](crate::NEW_TENANT_REFILL_PER_SEC) (2), at least 1.
    pub fn new_tenant_refill_per_sec(mut self, lookups: u32) -> Self {
        self.new_tenant_refill_per_sec = Some(lookups);
        self
    }
    /// How many verified tokens are remembered, default 10,000; 0 turns the cache off.
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.token_cache_capacity = Some(capacity);
        self
    }
    /// How often keys are refreshed in the background, default 12 hours.
    pub fn key_refresh_interval(mut self, interval: Duration) -> Self {
        self.key_refresh_interval = Some(interval);
        self
    }
    /// Timeout of every outgoing HTTP request, default 10 seconds.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = Some(timeout);
        self
    }

    /// Takes every variable [`AzureOAuthConfig::from_env`] reads from `lookup` (unset or empty:
    /// untouched); values set on the builder before are overridden.
    ///
    /// ```
    /// use axum_mcp_azure_oauth::AzureOAuthConfig;
    ///
    /// let vars = [
    ///     ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
    ///     ("AZURE_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
    ///     ("AZURE_ALLOWED_TENANT_IDS", "*"),
    /// ];
    /// let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// let config = AzureOAuthConfig::builder().env(lookup)?.build()?;
    /// assert!(config.tenant_allowed("99999999-0000-0000-0000-000000000000"));
    /// # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
    /// ```
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |(_, env): (&str, &str)| lookup(env).filter(|v| !v.trim().is_empty());
        if let Some(v) = get(APP_ID) {
            self.app_id = Some(v.trim().to_owned());
        }
        if let Some(v) = get(TENANT_ID) {
            self.tenant_id = Some(v.trim().to_owned());
        }
        // The secret is taken as is: surrounding white space is an error, not silently trimmed.
        if let Some(v) = lookup(CLIENT_SECRET.1).filter(|v| !v.is_empty()) {
            self.client_secret = Some(ClientSecret(v));
        }
        if let Some(v) = get(AUTHORITY_HOST) {
            self.authority_host = Some(v.trim().to_owned());
        }
        if let Some(v) = get(GRAPH_ENDPOINT) {
            self.graph_endpoint = Some(v.trim().to_owned());
        }
        if let Some(v) = get(BASE_URL) {
            self.base_url = Some(v.trim().to_owned());
        }
        if let Some(v) = get(REDIRECT_URIS) {
            self.allowed_redirect_uris = split_list(&v);
        }
        if let Some(v) = get(REDIRECT_PREFIXES) {
            self.allowed_redirect_uri_prefixes = split_list(&v);
        }
        if let Some(v) = get(TENANTS) {
            self.tenants_raw = Some(v);
            self.tenants = None;
        }
        if let Some(v) = get(API_SCOPE) {
            self.api_scope = Some(v.trim().to_owned());
        }
        if let Some(v) = get(RESOURCE_PATH) {
            self.resource_path = Some(v.trim().to_owned());
        }
        if let Some(v) = get(MODE) {
            let (field, env) = MODE;
            self.mode = Some(Mode::parse(&v).ok_or(ConfigError::Choice {
                field,
                env,
                value: v,
                expected: "`bridge` (this server bridges to Entra; default) or `direct` (clients talk to Entra)",
            })?);
        }
        if let Some(v) = get(HTTPS_PLATFORM) {
            let (field, env) = HTTPS_PLATFORM;
            self.https_redirect_platform = Some(HttpsPlatform::parse(&v).ok_or(ConfigError::Choice {
                field,
                env,
                value: v,
                expected: "`web` (default) or `spa`",
            })?);
        }
        if let Some(v) = get(REQUIRED_SCOPES) {
            self.required_scopes = split_list(&v);
        }
        if let Some(v) = get(REQUIRED_ROLES) {
            self.required_roles = split_list(&v);
        }
        if let Some(v) = get(APP_ID_URIS) {
            self.app_id_uris = split_list(&v);
        }
        if let Some(v) = get(CLOCK_SKEW) {
            let (field, env) = CLOCK_SKEW;
            let secs: u64 = v.trim().parse().map_err(|_| ConfigError::Choice {
                field,
                env,
                value: v.clone(),
                expected: "a whole number of seconds from 0 to 3600, such as 300",
            })?;
            if secs > 3600 {
                return Err(ConfigError::Choice {
                    field,
                    env,
                    value: v,
                    expected: "a whole number of seconds from 0 to 3600, such as 300",
                });
            }
            self.clock_skew = Some(Duration::from_secs(secs));
        }
        if let Some(v) = get(CUSTOM_KEYS) {
            self.custom_signing_keys = parse_bool(CUSTOM_KEYS, v)?;
        }
        if let Some(v) = get(REQUIRE_PKCE) {
            self.require_pkce = Some(parse_bool(REQUIRE_PKCE, v)?);
        }
        Ok(self)
    }

    /// Checks every value by its rule and normalises (GUIDs lower case, no trailing `/` on URLs).
    pub fn build(self) -> Result<AzureOAuthConfig, ConfigError> {
        let required = |value: Option<String>, (field, env): (&'static str, &'static str), hint| {
            value.ok_or(ConfigError::Missing { field, env, hint })
        };
        let app_id =
            required(self.app_id, APP_ID, "the Application (client) ID GUID of the app registration")?;
        check(APP_ID, &app_id, rules::guid)?;
        let tenant_id =
            required(self.tenant_id, TENANT_ID, "the Directory (tenant) ID GUID of the app registration")?;
        check(TENANT_ID, &tenant_id, rules::guid)?;
        if let Some(secret) = &self.client_secret
            && (secret.0.is_empty() || secret.0.trim() != secret.0)
        {
            return Err(ConfigError::Secret);
        }
        let url = |value: Option<String>, which, default: &str| -> Result<String, ConfigError> {
            let value = value.unwrap_or_else(|| default.to_owned());
            check(which, &value, rules::base_url)?;
            Ok(value.trim_end_matches('/').to_owned())
        };
        let authority_host = url(self.authority_host, AUTHORITY_HOST, DEFAULT_AUTHORITY_HOST)?;
        let graph_endpoint = url(self.graph_endpoint, GRAPH_ENDPOINT, DEFAULT_GRAPH_ENDPOINT)?;
        let base_url = match self.base_url {
            Some(b) => Some(url(Some(b), BASE_URL, "")?),
            None => None,
        };
        for uri in &self.allowed_redirect_uris {
            check(REDIRECT_URIS, uri, rules::redirect_uri)?;
        }
        for prefix in &self.allowed_redirect_uri_prefixes {
            check(REDIRECT_PREFIXES, prefix, rules::redirect_prefix)?;
        }
        let tenants = match (self.tenants, self.tenants_raw) {
            (Some(TenantPolicy::List(list)), _) => {
                let joined = list.join(",");
                TenantPolicy::parse(&joined).map_err(|rule| {
                    let (field, env) = TENANTS;
                    ConfigError::Invalid { field, env, value: joined.clone(), rule }
                })?
            }
            (Some(policy), _) => policy,
            (None, Some(raw)) => TenantPolicy::parse(&raw).map_err(|rule| {
                let (field, env) = TENANTS;
                ConfigError::Invalid { field, env, value: raw.clone(), rule }
            })?,
            (None, None) => TenantPolicy::Home,
        };
        let api_scope = self.api_scope.unwrap_or_else(|| DEFAULT_API_SCOPE.to_owned());
        check(API_SCOPE, &api_scope, rules::scope_name)?;
        let resource_path = self.resource_path.unwrap_or_else(|| DEFAULT_RESOURCE_PATH.to_owned());
        check(RESOURCE_PATH, &resource_path, rules::resource_path)?;
        let mut required_scopes = self.required_scopes;
        for scope in &required_scopes {
            check(REQUIRED_SCOPES, scope, rules::scope_name)?;
        }
        if required_scopes.is_empty() {
            required_scopes.push(api_scope.clone());
        }
        for role in &self.required_roles {
            check(REQUIRED_ROLES, role, rules::scope_token)?;
        }
        for uri in &self.app_id_uris {
            check(APP_ID_URIS, uri, rules::app_id_uri)?;
        }
        let clock_skew = self.clock_skew.unwrap_or(DEFAULT_CLOCK_SKEW);
        Ok(AzureOAuthConfig {
            app_id: app_id.to_ascii_lowercase(),
            tenant_id: tenant_id.to_ascii_lowercase(),
            client_secret: self.client_secret,
            authority_host,
            graph_endpoint,
            base_url,
            allowed_redirect_uris: self.allowed_redirect_uris,
            allowed_redirect_uri_prefixes: self.allowed_redirect_uri_prefixes,
            tenants,
            api_scope,
            resource_path,
            callback_path: DEFAULT_CALLBACK_PATH.to_owned(),
            mode: self.mode.unwrap_or_default(),
            https_redirect_platform: self.https_redirect_platform.unwrap_or_default(),
            required_scopes,
            required_roles: self.required_roles,
            app_id_uris: self.app_id_uris.into_iter().map(|u| u.trim_end_matches('/').to_owned()).collect(),
            clock_skew,
            custom_signing_keys: self.custom_signing_keys,
            require_pkce: self.require_pkce.unwrap_or(true),
            key_cache_tenants: self.key_cache_tenants.unwrap_or(DEFAULT_KEY_CACHE_TENANTS).max(1),
            new_tenant_burst: self.new_tenant_burst.unwrap_or(crate::NEW_TENANT_BURST).max(1),
            new_tenant_refill_per_sec: self
                .new_tenant_refill_per_sec
                .unwrap_or(crate::NEW_TENANT_REFILL_PER_SEC)
                .max(1),
            token_cache_capacity: self.token_cache_capacity.unwrap_or(DEFAULT_TOKEN_CACHE_CAPACITY),
            key_refresh_interval: self.key_refresh_interval.unwrap_or(DEFAULT_KEY_REFRESH_INTERVAL),
            http_timeout: self.http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<AzureOAuthConfig, ConfigError> {
        let mut all = vec![
            ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
            ("AZURE_TENANT_ID", "11111111-2222-3333-4444-555555555555"),
        ];
        all.extend_from_slice(vars);
        let lookup = |name: &str| all.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        AzureOAuthConfig::builder().env(lookup)?.build()
    }

    #[test]
    fn pkce_is_required_unless_turned_off() {
        assert!(with(&[]).expect("valid").require_pkce());
        assert!(with(&[("AZURE_REQUIRE_PKCE", "TRUE")]).expect("valid").require_pkce());
        assert!(!with(&[("AZURE_REQUIRE_PKCE", "false")]).expect("valid").require_pkce());
        let err = with(&[("AZURE_REQUIRE_PKCE", "maybe")]).expect_err("not a bool").to_string();
        assert!(err.contains("AZURE_REQUIRE_PKCE") && err.contains("`true` or `false`"), "{err}");
        let builder = AzureOAuthConfig::builder()
            .app_id("11111111-2222-3333-4444-555555555555")
            .tenant_id("11111111-2222-3333-4444-555555555555");
        assert!(!builder.clone().require_pkce(false).build().expect("valid").require_pkce());
        assert!(builder.build().expect("valid").require_pkce());
    }

    #[test]
    fn an_app_id_uri_that_is_a_scope_once_trimmed_is_refused() {
        for bad in ["api://my-api/.default/", "api://my-api/.Default//", "api:///"] {
            let err = with(&[("AZURE_APP_ID_URIS", bad)]).expect_err(bad).to_string();
            assert!(err.contains("AZURE_APP_ID_URIS"), "{err}");
        }
        let ok = with(&[("AZURE_APP_ID_URIS", "api://my-api/")]).expect("valid");
        assert_eq!(ok.app_id_uris(), ["api://my-api"]);
    }
}
