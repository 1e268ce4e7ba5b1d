//! [`AzureOAuthConfigBuilder`]: one method per setting, then [`build`](AzureOAuthConfigBuilder::build)
//! checks every value by its rule.

use std::time::Duration;

use super::credential::CredentialSettings;
use super::keys::{self, Key, Kind};
use super::resolver::{HostResolver, SharedResolver};
use super::rules::RuleError;
use super::tools::ToolPolicy;
use super::{
    AzureOAuthConfig, ClientSecret, ConfigError, DEFAULT_API_SCOPE, DEFAULT_AUTHORITY_HOST,
    DEFAULT_CALLBACK_PATH, DEFAULT_CLOCK_SKEW, DEFAULT_CONSENT_REMEMBER, DEFAULT_ENROL_MAX_PER_PREFIX,
    DEFAULT_ENROL_MAX_TOTAL, DEFAULT_GRAPH_ENDPOINT, DEFAULT_HTTP_TIMEOUT, DEFAULT_KEY_CACHE_TENANTS,
    DEFAULT_KEY_REFRESH_INTERVAL, DEFAULT_NEW_TENANT_BURST, DEFAULT_NEW_TENANT_REFILL_PER_SEC,
    DEFAULT_OBO_CACHE_CAPACITY, DEFAULT_REFRESH_LIFETIME, DEFAULT_RESOURCE_PATH,
    DEFAULT_TOKEN_CACHE_CAPACITY, HttpsPlatform, Mode, StateKeys, TenantPolicy, canonical_uri,
};
use crate::credential::{AppCredential, ClientCertificate};

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
    pub(super) app_id: Option<String>,
    pub(super) tenant_id: Option<String>,
    pub(super) credential: CredentialSettings,
    pub(super) authority_host: Option<String>,
    pub(super) graph_endpoint: Option<String>,
    pub(super) base_url: Option<String>,
    pub(super) allowed_redirect_uris: Vec<String>,
    pub(super) allowed_redirect_uri_prefixes: Vec<String>,
    pub(super) tenants: Option<TenantPolicy>,
    pub(super) tenants_raw: Option<String>,
    pub(super) api_scope: Option<String>,
    pub(super) resource_path: Option<String>,
    pub(super) mode: Option<Mode>,
    pub(super) https_redirect_platform: Option<HttpsPlatform>,
    pub(super) required_scopes: Vec<String>,
    pub(super) required_roles: Vec<String>,
    pub(super) app_id_uris: Vec<String>,
    pub(super) clock_skew: Option<Duration>,
    pub(super) custom_signing_keys: bool,
    pub(super) require_pkce: Option<bool>,
    pub(super) key_cache_tenants: Option<usize>,
    pub(super) new_tenant_burst: Option<u32>,
    pub(super) new_tenant_refill_per_sec: Option<u32>,
    pub(super) token_cache_capacity: Option<usize>,
    pub(super) obo_cache_capacity: Option<usize>,
    pub(super) key_refresh_interval: Option<Duration>,
    pub(super) http_timeout: Option<Duration>,
    pub(super) state_keys: Option<StateKeys>,
    pub(super) consent_remember: Option<Duration>,
    pub(super) refresh_lifetime: Option<Duration>,
    pub(super) enrol_max_per_prefix: Option<usize>,
    pub(super) enrol_max_total: Option<usize>,
    pub(super) loopback_client_metadata_for_tests: bool,
    pub(super) client_metadata_resolver: Option<SharedResolver>,
    pub(super) tool_policy: ToolPolicy,
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
    /// The client secret (`AZURE_CLIENT_SECRET`), one kind of app credential (see
    /// [`AppCredential`](crate::config::AppCredential)): the broker redeems codes with it, Graph
    /// enrolment and on-behalf-of need it or another kind. Never returned by any endpoint or logged.
    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.credential.client_secret = Some(secret.into());
        self
    }
    /// The app's certificate as the credential: a client assertion signed with its key is sent
    /// instead of a secret (`AZURE_CLIENT_CERTIFICATE_PATH` names a file instead).
    ///
    /// ```no_run
    /// use axum_mcp_azure_oauth::AzureOAuthConfig;
    /// use axum_mcp_azure_oauth::config::ClientCertificate;
    ///
    /// let certificate = ClientCertificate::from_file("/etc/mcp/app.pem", None)?;
    /// let config = AzureOAuthConfig::builder()
    ///     .app_id("11111111-2222-3333-4444-555555555555")
    ///     .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    ///     .client_certificate(certificate) // no secret anywhere
    ///     .base_url("https://mcp.example.com")
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_certificate(mut self, certificate: ClientCertificate) -> Self {
        self.credential.certificate = Some(certificate);
        self
    }
    /// A PEM (certificate and unencrypted key) or PKCS#12 file as the credential
    /// (`AZURE_CLIENT_CERTIFICATE_PATH`), read when the configuration is built.
    pub fn client_certificate_path(mut self, path: impl Into<String>) -> Self {
        self.credential.certificate_path = Some(path.into());
        self
    }
    /// The PKCS#12 file's password (`AZURE_CLIENT_CERTIFICATE_PASSWORD`).
    pub fn client_certificate_password(mut self, password: impl Into<ClientSecret>) -> Self {
        self.credential.certificate_password = Some(password.into());
        self
    }
    /// Whether assertions carry the certificate chain in `x5c`
    /// (`AZURE_CLIENT_SEND_CERTIFICATE_CHAIN`), for apps that trust certificates by subject name
    /// and issuer; default `false`.
    pub fn send_certificate_chain(mut self, on: bool) -> Self {
        self.credential.send_certificate_chain = on;
        self
    }
    /// A federated token file as the credential (`AZURE_FEDERATED_TOKEN_FILE`, set by AKS workload
    /// identity): read at every use, since it is rotated.
    pub fn federated_token_file(mut self, path: impl Into<String>) -> Self {
        self.credential.federated_token_file = Some(path.into());
        self
    }
    /// A user-assigned managed identity, trusted by a federated identity credential on the app
    /// registration, as the credential (`AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID`: the identity's
    /// client id, not the app's).
    pub fn managed_identity_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.credential.managed_identity_client_id = Some(client_id.into());
        self
    }
    /// The managed identity endpoint of App Service, Functions and Container Apps
    /// (`IDENTITY_ENDPOINT`, set by the platform); used with [`identity_header`](Self::identity_header).
    pub fn identity_endpoint(mut self, url: impl Into<String>) -> Self {
        self.credential.identity_endpoint = Some(url.into());
        self
    }
    /// The header value that endpoint requires (`IDENTITY_HEADER`, set by the platform).
    pub fn identity_header(mut self, header: impl Into<ClientSecret>) -> Self {
        self.credential.identity_header = Some(header.into());
        self
    }
    /// The instance metadata service's token endpoint (`AZURE_OAUTH_IMDS_ENDPOINT`), default
    /// `http://169.254.169.254/metadata/identity/oauth2/token`.
    pub fn imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.credential.imds_endpoint = Some(url.into());
        self
    }
    /// The audience of the managed identity's token (`AZURE_OAUTH_TOKEN_EXCHANGE_AUDIENCE`),
    /// default by cloud: `api://AzureADTokenExchange` (public), `…USGov`, `…China`.
    pub fn token_exchange_audience(mut self, audience: impl Into<String>) -> Self {
        self.credential.token_exchange_audience = Some(audience.into());
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
    /// [`Mode::Broker`] (default), [`Mode::Enrol`] or [`Mode::Direct`] (`AZURE_OAUTH_MODE`).
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
    /// [`DEFAULT_NEW_TENANT_BURST`] (20), at least 1. Beyond it a token naming a
    /// new tenant gets 401 "try again later" without a fetch: raise it for a multi-tenant app whose
    /// users arrive from many tenants at once after a restart.
    pub fn new_tenant_burst(mut self, lookups: u32) -> Self {
        self.new_tenant_burst = Some(lookups);
        self
    }
    /// How many more new tenants may be looked up per second once the burst is spent, default
    /// [`DEFAULT_NEW_TENANT_REFILL_PER_SEC`] (2), at least 1.
    pub fn new_tenant_refill_per_sec(mut self, lookups: u32) -> Self {
        self.new_tenant_refill_per_sec = Some(lookups);
        self
    }
    /// How many verified tokens are remembered, default 10,000; 0 turns the cache off.
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.token_cache_capacity = Some(capacity);
        self
    }
    /// How many on-behalf-of tokens are remembered (one per caller and scope set), default
    /// [`DEFAULT_OBO_CACHE_CAPACITY`] (10,000); 0 turns the cache off, and every call exchanges.
    pub fn obo_cache_capacity(mut self, capacity: usize) -> Self {
        self.obo_cache_capacity = Some(capacity);
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
    /// The keys that seal what the broker keeps nowhere (`AZURE_OAUTH_STATE_KEY`; see
    /// [`StateKeys`]). Unset, the sealing key is derived from the client secret (HKDF with a fixed
    /// label), so replicas sharing the secret agree with no more configuration; set it to keep
    /// registered client ids valid when the secret is rotated.
    pub fn state_keys(mut self, keys: impl Into<StateKeys>) -> Self {
        self.state_keys = Some(keys.into());
        self
    }
    /// How long the consent page's "remember" keeps a browser's approval of one client and redirect
    /// URI (`AZURE_OAUTH_CONSENT_REMEMBER_SECS`), default 30 days; zero hides the choice (the page
    /// is shown every time).
    pub fn consent_remember(mut self, lifetime: Duration) -> Self {
        self.consent_remember = Some(lifetime);
        self
    }
    /// How long a refresh token the broker hands out stays usable unused
    /// (`AZURE_OAUTH_REFRESH_LIFETIME_SECS`), default [`DEFAULT_REFRESH_LIFETIME`] (14 days); each
    /// refresh hands out a new one for as long again.
    pub fn refresh_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_lifetime = Some(lifetime);
        self
    }
    /// Enrol mode: how many redirect URIs under one allowed prefix `POST /register` may have on
    /// the app registration (`AZURE_OAUTH_ENROL_MAX_PER_PREFIX`), default
    /// [`DEFAULT_ENROL_MAX_PER_PREFIX`] (50), at least 1.
    pub fn enrol_max_per_prefix(mut self, uris: usize) -> Self {
        self.enrol_max_per_prefix = Some(uris);
        self
    }
    /// Enrol mode: how many redirect URIs the app registration may hold before `POST /register`
    /// writes no more (`AZURE_OAUTH_ENROL_MAX_TOTAL`), default [`DEFAULT_ENROL_MAX_TOTAL`] (200),
    /// at least 1.
    pub fn enrol_max_total(mut self, uris: usize) -> Self {
        self.enrol_max_total = Some(uris);
        self
    }
    /// **For tests only**: lets the broker fetch Client ID Metadata Documents over plain `http` from
    /// loopback addresses (an emulated client on `http://127.0.0.1:PORT/client.json`), which it
    /// refuses otherwise (https only, never a loopback, private, link-local or special-use address).
    /// No environment variable or macro key can turn this on.
    pub fn allow_loopback_client_metadata_documents_for_tests(mut self) -> Self {
        self.loopback_client_metadata_for_tests = true;
        self
    }
    /// How the host names of Client ID Metadata Document URLs are resolved (default: the system
    /// resolver). Whatever it answers, only globally routable addresses are connected to.
    pub fn client_metadata_resolver(mut self, resolver: impl HostResolver) -> Self {
        self.client_metadata_resolver = Some(SharedResolver(std::sync::Arc::new(resolver)));
        self
    }

    /// What each MCP tool requires beyond the route (see [`ToolPolicy`]); its scopes join
    /// `scopes_supported` in the protected resource metadata.
    pub fn tool_policy(mut self, policy: ToolPolicy) -> Self {
        self.tool_policy = policy;
        self
    }

    /// Checks every value by its rule and normalises (GUIDs lower case, no trailing `/` on URLs).
    pub fn build(self) -> Result<AzureOAuthConfig, ConfigError> {
        let app_id = self.app_id.ok_or_else(|| ConfigError::missing(&keys::APP_ID))?;
        check(&keys::APP_ID, &app_id)?;
        let tenant_id = self.tenant_id.ok_or_else(|| ConfigError::missing(&keys::TENANT_ID))?;
        check(&keys::TENANT_ID, &tenant_id)?;
        let state_keys = match &self.state_keys {
            Some(keys) => Some(keys.decode().ok_or(ConfigError::StateKeys)?),
            None => None,
        };

        let authority_host = url(self.authority_host, &keys::AUTHORITY_HOST, DEFAULT_AUTHORITY_HOST)?;
        let graph_endpoint = url(self.graph_endpoint, &keys::GRAPH_ENDPOINT, DEFAULT_GRAPH_ENDPOINT)?;
        let base_url = self.base_url.map(|b| url(Some(b), &keys::BASE_URL, "")).transpose()?;
        for (key, list) in [
            (&keys::ALLOWED_REDIRECT_URIS, &self.allowed_redirect_uris),
            (&keys::ALLOWED_REDIRECT_URI_PREFIXES, &self.allowed_redirect_uri_prefixes),
        ] {
            check_all(key, list)?;
            check_canonical(key, list)?;
        }
        let tenants = tenant_policy(self.tenants, self.tenants_raw)?;
        let api_scope = self.api_scope.unwrap_or_else(|| DEFAULT_API_SCOPE.to_owned());
        check(&keys::API_SCOPE, &api_scope)?;
        let resource_path = self.resource_path.unwrap_or_else(|| DEFAULT_RESOURCE_PATH.to_owned());
        check(&keys::RESOURCE_PATH, &resource_path)?;
        check_all(&keys::REQUIRED_SCOPES, &self.required_scopes)?;
        let required_scopes =
            if self.required_scopes.is_empty() { vec![api_scope.clone()] } else { self.required_scopes };
        check_all(&keys::REQUIRED_ROLES, &self.required_roles)?;
        check_all(&keys::APP_ID_URIS, &self.app_id_uris)?;
        self.tool_policy.check()?;
        check_credential_settings(&self.credential)?;
        let credential =
            self.credential.build(&authority_host, self.http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT))?;
        // What the mode needs, once every value is known to be valid.
        let mode = self.mode.unwrap_or_default();
        check_mode(mode, credential.as_ref(), state_keys.is_some(), base_url.is_some())?;
        Ok(AzureOAuthConfig {
            app_id: app_id.to_ascii_lowercase(),
            tenant_id: tenant_id.to_ascii_lowercase(),
            credential,
            authority_host,
            graph_endpoint,
            base_url,
            allowed_redirect_uris: self.allowed_redirect_uris,
            allowed_redirect_uri_prefixes: self.allowed_redirect_uri_prefixes,
            tenants,
            api_scope,
            resource_path,
            callback_path: DEFAULT_CALLBACK_PATH.to_owned(),
            mode,
            https_redirect_platform: self.https_redirect_platform.unwrap_or_default(),
            required_scopes,
            required_roles: self.required_roles,
            app_id_uris: self.app_id_uris.into_iter().map(|u| u.trim_end_matches('/').to_owned()).collect(),
            clock_skew: self.clock_skew.unwrap_or(DEFAULT_CLOCK_SKEW),
            custom_signing_keys: self.custom_signing_keys,
            require_pkce: self.require_pkce.unwrap_or(true),
            key_cache_tenants: at_least(
                &keys::KEY_CACHE_TENANTS,
                self.key_cache_tenants,
                DEFAULT_KEY_CACHE_TENANTS,
            ),
            new_tenant_burst: at_least(
                &keys::NEW_TENANT_BURST,
                self.new_tenant_burst,
                DEFAULT_NEW_TENANT_BURST,
            ),
            new_tenant_refill_per_sec: at_least(
                &keys::NEW_TENANT_REFILL_PER_SEC,
                self.new_tenant_refill_per_sec,
                DEFAULT_NEW_TENANT_REFILL_PER_SEC,
            ),
            token_cache_capacity: self.token_cache_capacity.unwrap_or(DEFAULT_TOKEN_CACHE_CAPACITY),
            obo_cache_capacity: self.obo_cache_capacity.unwrap_or(DEFAULT_OBO_CACHE_CAPACITY),
            key_refresh_interval: self.key_refresh_interval.unwrap_or(DEFAULT_KEY_REFRESH_INTERVAL),
            http_timeout: self.http_timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT),
            state_keys,
            consent_remember: self.consent_remember.unwrap_or(DEFAULT_CONSENT_REMEMBER),
            refresh_lifetime: self.refresh_lifetime.unwrap_or(DEFAULT_REFRESH_LIFETIME),
            enrol_max_per_prefix: at_least(
                &keys::ENROL_MAX_PER_PREFIX,
                self.enrol_max_per_prefix,
                DEFAULT_ENROL_MAX_PER_PREFIX,
            ),
            enrol_max_total: at_least(&keys::ENROL_MAX_TOTAL, self.enrol_max_total, DEFAULT_ENROL_MAX_TOTAL),
            loopback_client_metadata_for_tests: self.loopback_client_metadata_for_tests,
            client_metadata_resolver: self.client_metadata_resolver.unwrap_or_default(),
            tool_policy: self.tool_policy,
        })
    }
}

/// Checks `value` by the rule of `key` (a string or list key).
fn check(key: &Key, value: &str) -> Result<(), ConfigError> {
    let (Kind::Str(rule) | Kind::List(rule)) = &key.kind else { return Ok(()) };
    (rule.check)(value).map_err(|rule| ConfigError::invalid(key, value, rule))
}

fn check_all(key: &Key, values: &[String]) -> Result<(), ConfigError> {
    values.iter().try_for_each(|v| check(key, v))
}

/// Checks that each redirect URI or prefix is what a browser reads it as ([`canonical_uri`]), so
/// that allow-list entries and the requests matched against them are compared in one form.
fn check_canonical(key: &Key, values: &[String]) -> Result<(), ConfigError> {
    values.iter().try_for_each(|v| {
        canonical_uri(v).map(drop).map_err(|_| ConfigError::invalid(key, v, RuleError::NotCanonical))
    })
}

/// A URL setting (or its default), checked by its rule, without a trailing `/`.
fn url(value: Option<String>, key: &Key, default: &str) -> Result<String, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_owned());
    check(key, &value)?;
    Ok(value.trim_end_matches('/').to_owned())
}

/// The tenant policy: a list given to the builder (checked), else `AZURE_ALLOWED_TENANT_IDS`,
/// else the home tenant.
fn tenant_policy(given: Option<TenantPolicy>, raw: Option<String>) -> Result<TenantPolicy, ConfigError> {
    let parse = |raw: &str| {
        TenantPolicy::parse(raw).map_err(|rule| ConfigError::invalid(&keys::ALLOWED_TENANT_IDS, raw, rule))
    };
    match (given, raw) {
        (Some(TenantPolicy::List(list)), _) => parse(&list.join(",")),
        (Some(policy), _) => Ok(policy),
        (None, Some(raw)) => parse(&raw),
        (None, None) => Ok(TenantPolicy::Home),
    }
}

/// The credential settings' strings, each by its key's rule.
fn check_credential_settings(c: &CredentialSettings) -> Result<(), ConfigError> {
    for (key, value) in [
        (&keys::CLIENT_CERTIFICATE_PATH, &c.certificate_path),
        (&keys::FEDERATED_TOKEN_FILE, &c.federated_token_file),
        (&keys::MANAGED_IDENTITY_CLIENT_ID, &c.managed_identity_client_id),
        (&keys::IDENTITY_ENDPOINT, &c.identity_endpoint),
        (&keys::IMDS_ENDPOINT, &c.imds_endpoint),
        (&keys::TOKEN_EXCHANGE_AUDIENCE, &c.token_exchange_audience),
    ] {
        if let Some(value) = value {
            check(key, value)?;
        }
    }
    Ok(())
}

/// What `mode` needs besides valid values: the broker redeems with the app's credential; both
/// authorization-server modes need a sealing key and a configured public base URL.
fn check_mode(
    mode: Mode,
    credential: Option<&AppCredential>,
    state_keys: bool,
    base_url: bool,
) -> Result<(), ConfigError> {
    let derivable = credential.is_some_and(|c| c.sealing_material().is_some());
    let needs = match mode {
        Mode::Broker if credential.is_none() => {
            "an app credential: the broker redeems Entra's codes at its own `web` redirect URI as the app; set one \
             of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE or \
             AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID, or choose AZURE_OAUTH_MODE=direct for a server that only \
             validates tokens"
        }
        Mode::Broker | Mode::Enrol if !state_keys && credential.is_some() && !derivable => {
            "AZURE_OAUTH_STATE_KEY (base64 of 32 random bytes, the same on every replica): with a federated token \
             file or a managed identity as the credential there is nothing replicas share to derive the sealing key \
             of its codes, client ids and consent page from"
        }
        Mode::Enrol if !derivable && !state_keys => {
            "a sealing key for its consent page: set AZURE_OAUTH_STATE_KEY (base64 of 32 random bytes), or a client \
             secret or certificate (the key is then derived from it)"
        }
        // An authorization server's issuer, its callback (enrolled on the app registration) and
        // what it sends to Entra must never come from a request's `Host` or `X-Forwarded-*` headers.
        Mode::Broker | Mode::Enrol if !base_url => {
            "base_url (PUBLIC_BASE_URL): the public URL clients reach this server at, such as \
             https://mcp.example.com; as an authorization server this server takes its issuer and its callback \
             (which goes on the app registration) from it, never from a request's Host or X-Forwarded-* headers"
        }
        _ => return Ok(()),
    };
    Err(ConfigError::ModeNeeds { mode: mode.as_str(), needs })
}

/// `value` (or `default`), raised to the key's minimum.
fn at_least<T: TryFrom<u64> + Ord + Copy>(key: &Key, value: Option<T>, default: T) -> T {
    let value = value.unwrap_or(default);
    let Kind::Count { min, .. } = key.kind else { return value };
    T::try_from(min).map_or(value, |min| value.max(min))
}
