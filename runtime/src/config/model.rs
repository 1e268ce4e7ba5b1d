//! [`AzureOAuthConfig`]: the validated configuration, and what follows from it (qualified scopes,
//! Entra's URLs, the public base URL of a request).

use std::time::Duration;

use http::HeaderMap;

use super::resolver::SharedResolver;
use super::secret::SealingSecrets;
use super::{
    AzureOAuthConfigBuilder, ClientSecret, ConfigError, HttpsPlatform, Mode, TenantPolicy, ToolPolicy,
};
use crate::credential::AppCredential;

/// What the sealing keys are derived from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SealingSource<'a> {
    /// `AZURE_OAUTH_STATE_KEY`, newest first.
    StateKeys(&'a [Vec<u8>]),
    /// What the app's credential offers (the client secret, the certificate's private key), with
    /// the HKDF label of its kind.
    Credential(&'a [u8], &'static [u8]),
}

/// The whole configuration of the protected resource, the authorization-server bridge, the
/// validator and the Graph client. Every value has passed its [`rules`](super::rules).
///
/// ```
/// use axum_mcp_azure_oauth::AzureOAuthConfig;
/// use axum_mcp_azure_oauth::config::TenantPolicy;
///
/// # let secret_from_your_vault = "doc-example-secret";
/// let config = AzureOAuthConfig::builder()
///     .app_id("11111111-2222-3333-4444-555555555555")
///     .tenant_id("AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee")
///     .client_secret(secret_from_your_vault) // the broker (default mode) redeems codes with it
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
    pub(super) app_id: String,
    pub(super) tenant_id: String,
    pub(super) credential: Option<AppCredential>,
    pub(super) authority_host: String,
    pub(super) graph_endpoint: String,
    pub(super) base_url: Option<String>,
    pub(super) allowed_redirect_uris: Vec<String>,
    pub(super) allowed_redirect_uri_prefixes: Vec<String>,
    pub(super) tenants: TenantPolicy,
    pub(super) api_scope: String,
    pub(super) resource_path: String,
    pub(super) callback_path: String,
    pub(super) mode: Mode,
    pub(super) https_redirect_platform: HttpsPlatform,
    pub(super) required_scopes: Vec<String>,
    pub(super) required_roles: Vec<String>,
    pub(super) app_id_uris: Vec<String>,
    pub(super) clock_skew: Duration,
    pub(super) custom_signing_keys: bool,
    pub(super) require_pkce: bool,
    pub(super) key_cache_tenants: usize,
    pub(super) new_tenant_burst: u32,
    pub(super) new_tenant_refill_per_sec: u32,
    pub(super) token_cache_capacity: usize,
    pub(super) obo_cache_capacity: usize,
    pub(super) key_refresh_interval: Duration,
    pub(super) http_timeout: Duration,
    pub(super) state_keys: Option<SealingSecrets>,
    pub(super) consent_remember: Duration,
    pub(super) refresh_lifetime: Duration,
    pub(super) enrol_max_per_prefix: usize,
    pub(super) enrol_max_total: usize,
    pub(super) loopback_client_metadata_for_tests: bool,
    pub(super) client_metadata_resolver: SharedResolver,
    pub(super) tool_policy: ToolPolicy,
}

impl AzureOAuthConfig {
    /// Starts a builder; `app_id` and `tenant_id` are required, everything else has a default.
    pub fn builder() -> AzureOAuthConfigBuilder {
        AzureOAuthConfigBuilder::default()
    }

    /// Reads the configuration from the environment: one variable per setting, named in the
    /// table of [`crate::config`] (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET`,
    /// `PUBLIC_BASE_URL`, `ALLOWED_REDIRECT_URIS`, …; lists comma-separated, durations in whole
    /// seconds, booleans `true`/`false`). Unset and empty variables take the default.
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
    /// The client secret, when it is the app's credential.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        self.credential.as_ref().and_then(AppCredential::client_secret)
    }
    /// The app's credential (a secret, a certificate, a federated token file or a managed
    /// identity), if one is configured: the broker, enrol mode, Graph and on-behalf-of need one.
    pub fn credential(&self) -> Option<&AppCredential> {
        self.credential.as_ref()
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
    /// Entra's URL for the tenant clients sign in to: `{authority_host}/{authority_tenant}`, under
    /// which `/oauth2/v2.0/authorize`, `/oauth2/v2.0/token` and `/v2.0` (the issuer) live.
    pub fn authority_url(&self) -> String {
        format!("{}/{}", self.authority_host, self.authority_tenant())
    }
    /// The scope name exposed by the app, e.g. `access_as_user`.
    pub fn api_scope(&self) -> &str {
        &self.api_scope
    }
    /// The scope fully qualified: `api://{app_id}/{api_scope}`.
    pub fn qualified_scope(&self) -> String {
        self.qualify_scope(&self.api_scope)
    }
    /// A scope of this app as Entra and clients need it: a bare name (`read`) becomes
    /// `api://{app_id}/read`; a scope that is already a URI (`api://…/x`, `https://…/x`) is kept.
    ///
    /// ```
    /// # let config = axum_mcp_azure_oauth::AzureOAuthConfig::builder()
    /// #     .app_id("11111111-2222-3333-4444-555555555555")
    /// #     .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    /// #     .mode(axum_mcp_azure_oauth::config::Mode::Direct)
    /// #     .build()?;
    /// assert_eq!(config.qualify_scope("read"), "api://11111111-2222-3333-4444-555555555555/read");
    /// assert_eq!(config.qualify_scope("api://my-api/read"), "api://my-api/read");
    /// # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
    /// ```
    pub fn qualify_scope(&self, scope: &str) -> String {
        if scope.contains("://") { scope.to_owned() } else { format!("api://{}/{scope}", self.app_id) }
    }
    /// The app's delegated scopes, fully qualified and without duplicates: the API scope, then the
    /// required scopes (what protected resource metadata lists in `scopes_supported`).
    pub fn app_scopes(&self) -> Vec<String> {
        let mut scopes = vec![self.qualified_scope()];
        for s in &self.required_scopes {
            let q = self.qualify_scope(s);
            if !scopes.contains(&q) {
                scopes.push(q);
            }
        }
        scopes
    }
    /// What protected resource metadata lists in `scopes_supported` (RFC 9728 §2): the
    /// [`app_scopes`](Self::app_scopes), then every scope the [`ToolPolicy`] names, fully
    /// qualified and without duplicates (never `offline_access`).
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut scopes = self.app_scopes();
        for (_, requirement) in self.tool_policy.tools() {
            for s in requirement.required_scopes() {
                let q = self.qualify_scope(s);
                if !scopes.contains(&q) {
                    scopes.push(q);
                }
            }
        }
        scopes
    }
    /// What each MCP tool requires beyond the route (empty unless
    /// [`tool_policy`](super::AzureOAuthConfigBuilder::tool_policy) set it).
    pub fn tool_policy(&self) -> &ToolPolicy {
        &self.tool_policy
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
    /// The server's own callback `{base_url}{callback_path}`, only from the configured base URL
    /// (never from a `Host` header, since it gets enrolled on the app registration).
    pub fn callback_url(&self) -> Option<String> {
        self.base_url.as_ref().map(|base| format!("{base}{}", self.callback_path))
    }
    /// The public base URL for a request: the configured one, or (for documents and challenges
    /// only, never for anything enrolled in Entra) one derived from the request's `Host` and
    /// `X-Forwarded-Proto` headers. A missing or malformed `Host` gives `http://localhost`.
    pub fn public_base_url(&self, headers: &HeaderMap) -> String {
        if let Some(base) = &self.base_url {
            return base.clone();
        }
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| is_host(h))
            .unwrap_or("localhost");
        let scheme = match headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) {
            Some(p) if p.trim().eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        format!("{scheme}://{}", host.to_ascii_lowercase())
    }
    /// The issuer MCP clients are told about for the base URL `base`: `base` itself when this
    /// server is their authorization server ([`Mode::Broker`], [`Mode::Enrol`]), else Entra's
    /// `{authority_url}/v2.0` ([`Mode::Direct`]).
    pub fn issuer(&self, base: &str) -> String {
        match self.mode {
            Mode::Broker | Mode::Enrol => base.to_owned(),
            Mode::Direct => format!("{}/v2.0", self.authority_url()),
        }
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
    /// [`DEFAULT_NEW_TENANT_BURST`](super::DEFAULT_NEW_TENANT_BURST)).
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
    /// How many on-behalf-of tokens are remembered, per caller and scope set (0: off).
    pub fn obo_cache_capacity(&self) -> usize {
        self.obo_cache_capacity
    }
    /// How often keys are refreshed in the background.
    pub fn key_refresh_interval(&self) -> Duration {
        self.key_refresh_interval
    }
    /// Timeout of every outgoing HTTP request.
    pub fn http_timeout(&self) -> Duration {
        self.http_timeout
    }
    /// How long the consent page's "remember" lasts (zero: never remembered).
    pub fn consent_remember(&self) -> Duration {
        self.consent_remember
    }
    /// How long a refresh token the broker hands out stays usable unused.
    pub fn refresh_lifetime(&self) -> Duration {
        self.refresh_lifetime
    }
    /// Enrol mode: how many redirect URIs under one allowed prefix `POST /register` may have on the
    /// app registration.
    pub fn enrol_max_per_prefix(&self) -> usize {
        self.enrol_max_per_prefix
    }
    /// Enrol mode: how many redirect URIs the app registration may hold before `POST /register`
    /// writes no more.
    pub fn enrol_max_total(&self) -> usize {
        self.enrol_max_total
    }
    /// Whether the sealing keys are configured ([`StateKeys`](super::StateKeys)), rather than
    /// derived from the client secret.
    pub fn has_state_keys(&self) -> bool {
        self.state_keys.is_some()
    }
    /// What the sealing keys are derived from: the configured state keys (newest first), else the
    /// client secret; `None` without either.
    pub(crate) fn sealing_source(&self) -> Option<SealingSource<'_>> {
        match (&self.state_keys, self.credential.as_ref().and_then(AppCredential::sealing_material)) {
            (Some(keys), _) => Some(SealingSource::StateKeys(keys.keys())),
            (None, Some((material, label))) => Some(SealingSource::Credential(material, label)),
            (None, None) => None,
        }
    }
    /// Whether Client ID Metadata Documents may be fetched over `http` from loopback (tests only).
    pub(crate) fn loopback_client_metadata_for_tests(&self) -> bool {
        self.loopback_client_metadata_for_tests
    }
    /// How host names of Client ID Metadata Document URLs are resolved.
    pub(crate) fn client_metadata_resolver(&self) -> std::sync::Arc<dyn super::HostResolver> {
        std::sync::Arc::clone(&self.client_metadata_resolver.0)
    }
}

/// `host[:port]` made only of the characters a host header may hold, so that nothing injected
/// through it reaches a document.
fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a base URL: the default (broker) mode; without one: direct mode, the only mode that
    /// may derive a base URL from a request.
    fn config(base: Option<&str>) -> AzureOAuthConfig {
        crate::fixtures::build(match base {
            Some(base) => crate::fixtures::builder().base_url(base),
            None => AzureOAuthConfig::builder()
                .app_id(crate::fixtures::APP)
                .tenant_id(crate::fixtures::TENANT)
                .mode(Mode::Direct),
        })
    }

    #[test]
    fn authorization_server_modes_need_a_configured_base_url() {
        for mode in [Mode::Broker, Mode::Enrol] {
            let builder = AzureOAuthConfig::builder()
                .app_id(crate::fixtures::APP)
                .tenant_id(crate::fixtures::TENANT)
                .client_secret(crate::fixtures::SECRET)
                .mode(mode);
            let err = builder.build().expect_err("no base URL").to_string();
            assert!(err.contains("PUBLIC_BASE_URL") && err.contains("Host"), "{err}");
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("valid header value"));
        }
        h
    }

    #[test]
    fn configured_base_wins_over_headers() {
        let h = headers(&[("host", "evil.example"), ("x-forwarded-proto", "https")]);
        assert_eq!(config(Some("https://mcp.example.com/")).public_base_url(&h), "https://mcp.example.com");
    }

    #[test]
    fn derived_from_host_and_forwarded_proto() {
        let c = config(None);
        assert_eq!(c.public_base_url(&headers(&[("host", "127.0.0.1:8000")])), "http://127.0.0.1:8000");
        let h = headers(&[("host", "MCP.example.com"), ("x-forwarded-proto", "https")]);
        assert_eq!(c.public_base_url(&h), "https://mcp.example.com");
    }

    #[test]
    fn malformed_host_is_not_reflected() {
        let c = config(None);
        let h = headers(&[("host", "a.com/\"><script>")]);
        assert_eq!(c.public_base_url(&h), "http://localhost");
        assert_eq!(c.public_base_url(&HeaderMap::new()), "http://localhost");
    }
}
